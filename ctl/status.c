/* SPDX-License-Identifier: GPL-2.0-or-later */
/* status: the manager's properties (Properties.GetAll), as text or JSON. */
#include <inttypes.h>

#include "bus-call.h"
#include "bus-error.h"
#include "ctl.h"
#include "output.h"
#include "status.h"
#include "util.h"

#define INDENT "                "       /* under the values of the labels below */
#define INDENT_CHANGES "               " /* the same, before " (runtime: ...)" */

/* Appends the element at item of size bytes to *array of *n elements: 1, or -ENOMEM. */
static int push(void *array, size_t *n, const void *item, size_t size)
{
        void **p = array;
        char *a = reallocarray(*p, *n + 1, size);

        if (!a)
                return -ENOMEM;
        *p = a;
        memcpy(a + (*n)++ * size, item, size);
        return 1;
}

/* Each reads one element of an array property into s: 1, 0 at the end of the array, or -errno. */
typedef int (*ReadElement)(sd_bus_message *m, Status *s);

static int read_interface(sd_bus_message *m, Status *s)
{
        StatusInterface i;
        int attached, r = sd_bus_message_read(m, "(sib)", &i.name, &i.ifindex, &attached);

        i.attached = attached;
        return r <= 0 ? r : push(&s->interfaces, &s->n_interfaces, &i, sizeof(i));
}

static int read_port_mode(sd_bus_message *m, Status *s)
{
        StatusPortMode p;
        int r = sd_bus_message_read(m, "(qs)", &p.port, &p.mode);

        return r <= 0 ? r : push(&s->port_modes, &s->n_port_modes, &p, sizeof(p));
}

static int read_change(sd_bus_message *m, Status *s)
{
        StatusChange c;
        int r = sd_bus_message_read(m, "(sss)", &c.setting, &c.value, &c.change);

        return r <= 0 ? r : push(&s->changes, &s->n_changes, &c, sizeof(c));
}

static int read_cgroup(sd_bus_message *m, Status *s)
{
        StatusCgroup c;
        int present, r = sd_bus_message_read(m, "(stb)", &c.path, &c.id, &present);

        c.present = present;
        return r <= 0 ? r : push(&s->cgroups, &s->n_cgroups, &c, sizeof(c));
}

static int read_selected(sd_bus_message *m, Status *s)
{
        StatusCgroup c;
        int present, r = sd_bus_message_read(m, "(stb)", &c.path, &c.id, &present);

        c.present = present;
        return r <= 0 ? r : push(&s->selected, &s->n_selected, &c, sizeof(c));
}

/* A property of type "a" + element: every element through read. */
static int read_array(sd_bus_message *m, const char *element, ReadElement read, Status *s)
{
        char type[16];
        int r;

        snprintf(type, sizeof(type), "a%s", element);
        r = sd_bus_message_enter_container(m, 'v', type);
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', element);
        while (r >= 0 && (r = read(m, s)) > 0)
                ;
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

static int read_ports(sd_bus_message *m, Status *s)
{
        const uint16_t *a;
        size_t size;
        int r;

        r = sd_bus_message_enter_container(m, 'v', "aq");
        if (r >= 0)
                r = sd_bus_message_read_array(m, 'q', (const void **) &a, &size);
        if (r < 0)
                return r;
        free(s->ports);
        s->n_ports = size / sizeof(uint16_t);
        s->ports = malloc(size ?: 1);
        if (!s->ports)
                return -ENOMEM;
        memcpy(s->ports, a, size);
        return sd_bus_message_exit_container(m);
}

void status_done(Status *s)
{
        sd_bus_message_unref(s->reply);
        free(s->interfaces);
        free(s->ports);
        free(s->port_modes);
        free(s->changes);
        free(s->cgroups);
        free(s->selected);
        *s = (Status) {};
}

int status_read(sd_bus_message *reply, Status *s)
{
        int r;

        *s = (Status) { .reply = sd_bus_message_ref(reply) };
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *name;
                int b;

                r = sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        break;
                if (streq(name, "Version"))
                        r = sd_bus_message_read(reply, "v", "s", &s->version);
                else if (streq(name, "ListenAddress"))
                        r = sd_bus_message_read(reply, "v", "s", &s->listen_address);
                else if (streq(name, "Upstream"))
                        r = sd_bus_message_read(reply, "v", "s", &s->upstream);
                else if (streq(name, "AttachMode"))
                        r = sd_bus_message_read(reply, "v", "s", &s->attach_mode);
                else if (streq(name, "Fastpath")) {
                        r = sd_bus_message_read(reply, "v", "b", &b);
                        s->fastpath = b;
                } else if (streq(name, "Interfaces"))
                        r = read_array(reply, "(sib)", read_interface, s);
                else if (streq(name, "Ports"))
                        r = read_ports(reply, s);
                else if (streq(name, "PortModes")) {
                        s->has_port_modes = true;
                        r = read_array(reply, "(qs)", read_port_mode, s);
                } else if (streq(name, "RuntimeChanges")) {
                        s->has_runtime_changes = true;
                        r = read_array(reply, "(sss)", read_change, s);
                } else if (streq(name, "Cgroups")) {
                        s->has_selected = true;
                        r = read_array(reply, "(stb)", read_selected, s);
                } else if (streq(name, "TrustedCgroups")) {
                        s->has_trusted_cgroups = true;
                        r = read_array(reply, "(stb)", read_cgroup, s);
                } else
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(reply);
        if (r < 0) {
                status_done(s);
                return r;
        }
        return 0;
}

static const char *port_mode(const Status *s, uint16_t port)
{
        for (size_t i = 0; i < s->n_port_modes; i++)
                if (s->port_modes[i].port == port)
                        return s->port_modes[i].mode;
        return "fastpath";
}

static bool has_changes(const Status *s, const char *setting)
{
        for (size_t i = 0; i < s->n_changes; i++)
                if (streq(s->changes[i].setting, setting))
                        return true;
        return false;
}

/* " (runtime: +8080 -22)": the runtime changes of setting, each "+value" (added), "-value"
 * (removed) or "set value"; with a label before each, for a second setting on the same line. */
static size_t print_changes(FILE *f, const Status *s, const char *setting, const char *label, size_t n_printed)
{
        for (size_t i = 0; i < s->n_changes; i++) {
                const StatusChange *c = &s->changes[i];

                if (!streq(c->setting, setting))
                        continue;
                fputs(n_printed == 0 ? " (runtime: " : label ? ", " : " ", f);
                if (label)
                        fprintf(f, "%s ", label);
                if (streq(c->change, "added"))
                        fprintf(f, "+%s", c->value);
                else if (streq(c->change, "removed"))
                        fprintf(f, "-%s", c->value);
                else
                        fprintf(f, "%s %s", c->change, c->value);
                label = NULL;
                n_printed++;
        }
        return n_printed;
}

void status_print_text(FILE *f, const Status *s)
{
        size_t n;

        fprintf(f, "       Version: %s\n", s->version ?: "?");
        fprintf(f, " ListenAddress: %s\n", s->listen_address ?: "?");
        if (s->attach_mode)
                fprintf(f, "    AttachMode: %s\n", s->attach_mode);
        if (s->upstream)
                fprintf(f, "      Upstream: %s\n", s->upstream);
        fprintf(f, "      Fastpath: %s", s->fastpath ? "on" : "off");
        if (print_changes(f, s, "Fastpath", NULL, 0) > 0)
                fputc(')', f);
        fputc('\n', f);

        fprintf(f, "    Interfaces:");
        if (s->n_interfaces == 0)
                fprintf(f, " (none)\n");
        for (size_t i = 0; i < s->n_interfaces; i++) {
                fprintf(f, "%s%s ", i ? INDENT : " ", s->interfaces[i].name);
                if (s->interfaces[i].ifindex <= 0)
                        fprintf(f, "(absent)\n");
                else
                        fprintf(f, "(ifindex %" PRIi32 ", %s)\n", s->interfaces[i].ifindex,
                                s->interfaces[i].attached ? "attached" : "not attached");
        }
        if (has_changes(s, "Interfaces")) {
                fputs(INDENT_CHANGES, f);
                (void) print_changes(f, s, "Interfaces", NULL, 0);
                fputs(")\n", f);
        }

        fprintf(f, "         Ports:");
        if (s->n_ports == 0)
                fprintf(f, " (none)");
        for (size_t i = 0; i < s->n_ports; i++) {
                const char *mode = port_mode(s, s->ports[i]);

                fprintf(f, " %u", s->ports[i]);
                /* only what is not the default needs a mark */
                if (!streq(mode, "fastpath"))
                        fprintf(f, " [%s]", mode);
        }
        n = print_changes(f, s, "Ports", NULL, 0);
        n = print_changes(f, s, "InterceptOnlyPorts", "intercept-only", n);
        fprintf(f, "%s\n", n > 0 ? ")" : "");

        if (s->has_selected && s->n_selected == 0)
                fprintf(f, "       Cgroups: (none: every process)\n");
        for (size_t i = 0; i < s->n_selected; i++) {
                fprintf(f, "%s%s ", i ? INDENT : "       Cgroups: ", s->selected[i].path);
                if (s->selected[i].present)
                        fprintf(f, "(id %" PRIu64 ")\n", s->selected[i].id);
                else
                        fprintf(f, "(absent)\n");
        }
        for (size_t i = 0; i < s->n_cgroups; i++) {
                fprintf(f, "%s%s ", i ? INDENT : "TrustedCgroups: ", s->cgroups[i].path);
                if (s->cgroups[i].present)
                        fprintf(f, "(id %" PRIu64 ")\n", s->cgroups[i].id);
                else
                        fprintf(f, "(absent)\n");
        }
}

/* "key":"value", after a comma unless it is the first field of its object */
static void json_field(FILE *f, bool first, const char *key, const char *value)
{
        fprintf(f, "%s\"%s\":", first ? "" : ",", key);
        json_string(f, value);
}

static void json_port_mode(FILE *f, const Status *s, size_t i)
{
        fprintf(f, "\"port\":%u", s->port_modes[i].port);
        json_field(f, false, "mode", s->port_modes[i].mode);
}

static void json_change(FILE *f, const Status *s, size_t i)
{
        json_field(f, true, "setting", s->changes[i].setting);
        json_field(f, false, "value", s->changes[i].value);
        json_field(f, false, "change", s->changes[i].change);
}

static void json_cgroup(FILE *f, const Status *s, size_t i)
{
        json_field(f, true, "path", s->cgroups[i].path);
        fprintf(f, ",\"id\":%" PRIu64 ",\"present\":%s", s->cgroups[i].id,
                s->cgroups[i].present ? "true" : "false");
}

static void json_selected(FILE *f, const Status *s, size_t i)
{
        json_field(f, true, "path", s->selected[i].path);
        fprintf(f, ",\"id\":%" PRIu64 ",\"present\":%s", s->selected[i].id,
                s->selected[i].present ? "true" : "false");
}

/* ,"key":[{...},...]: n objects, each written by element */
static void json_objects(FILE *f, const char *key, const Status *s, size_t n,
                         void (*element)(FILE *f, const Status *s, size_t i))
{
        fprintf(f, ",\"%s\":[", key);
        for (size_t i = 0; i < n; i++) {
                fputs(i ? ",{" : "{", f);
                element(f, s, i);
                fputc('}', f);
        }
        fputc(']', f);
}

void status_print_json(FILE *f, const Status *s)
{
        fprintf(f, "{\"version\":");
        json_string(f, s->version ?: "");
        fprintf(f, ",\"listen_address\":");
        json_string(f, s->listen_address ?: "");
        if (s->attach_mode) {
                fprintf(f, ",\"attach_mode\":");
                json_string(f, s->attach_mode);
        }
        if (s->upstream) {
                fprintf(f, ",\"upstream\":");
                json_string(f, s->upstream);
        }
        fprintf(f, ",\"fastpath\":%s,\"interfaces\":[", s->fastpath ? "true" : "false");
        for (size_t i = 0; i < s->n_interfaces; i++) {
                fprintf(f, "%s{\"name\":", i ? "," : "");
                json_string(f, s->interfaces[i].name);
                fprintf(f, ",\"ifindex\":%" PRIi32 ",\"attached\":%s}", s->interfaces[i].ifindex,
                        s->interfaces[i].attached ? "true" : "false");
        }
        fprintf(f, "],\"ports\":[");
        for (size_t i = 0; i < s->n_ports; i++)
                fprintf(f, "%s%u", i ? "," : "", s->ports[i]);
        fprintf(f, "]");
        if (s->has_port_modes)
                json_objects(f, "port_modes", s, s->n_port_modes, json_port_mode);
        if (s->has_runtime_changes)
                json_objects(f, "runtime_changes", s, s->n_changes, json_change);
        if (s->has_selected)
                json_objects(f, "cgroups", s, s->n_selected, json_selected);
        if (s->has_trusted_cgroups)
                json_objects(f, "trusted_cgroups", s, s->n_cgroups, json_cgroup);
        fprintf(f, "}\n");
}

int verb_status(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Status s;
        int r;

        r = ctl_get_all(bus, &reply);
        if (r != 0)
                return r;
        r = status_read(reply, &s);
        if (r < 0) {
                log_error_errno(r, "Failed to parse the status: %m");
                return SKFP_EXIT_FAILURE;
        }
        if (o->json)
                status_print_json(stdout, &s);
        else
                status_print_text(stdout, &s);
        status_done(&s);
        return SKFP_EXIT_SUCCESS;
}
