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

/* Appends one zeroed element to *array of *n elements of size bytes; NULL when out of memory. */
static void *grow(void *array, size_t *n, size_t size)
{
        void **p = array;
        char *a = reallocarray(*p, *n + 1, size);

        if (!a)
                return NULL;
        *p = a;
        memset(a + *n * size, 0, size);
        return a + (*n)++ * size;
}

static int read_string(sd_bus_message *m, const char **ret)
{
        return sd_bus_message_read(m, "v", "s", ret);
}

static int read_interfaces(sd_bus_message *m, Status *s)
{
        const char *name;
        int32_t ifindex;
        int attached, r;

        r = sd_bus_message_enter_container(m, 'v', "a(sib)");
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "(sib)");
        while (r >= 0 && (r = sd_bus_message_read(m, "(sib)", &name, &ifindex, &attached)) > 0) {
                StatusInterface *i = grow(&s->interfaces, &s->n_interfaces, sizeof(*i));

                if (!i)
                        return -ENOMEM;
                *i = (StatusInterface) { name, ifindex, attached };
        }
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

static int read_port_modes(sd_bus_message *m, Status *s)
{
        const char *mode;
        uint16_t port;
        int r;

        s->has_port_modes = true;
        r = sd_bus_message_enter_container(m, 'v', "a(qs)");
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "(qs)");
        while (r >= 0 && (r = sd_bus_message_read(m, "(qs)", &port, &mode)) > 0) {
                StatusPortMode *p = grow(&s->port_modes, &s->n_port_modes, sizeof(*p));

                if (!p)
                        return -ENOMEM;
                *p = (StatusPortMode) { port, mode };
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

static int read_runtime_changes(sd_bus_message *m, Status *s)
{
        const char *setting, *value, *change;
        int r;

        s->has_runtime_changes = true;
        r = sd_bus_message_enter_container(m, 'v', "a(sss)");
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "(sss)");
        while (r >= 0 && (r = sd_bus_message_read(m, "(sss)", &setting, &value, &change)) > 0) {
                StatusChange *c = grow(&s->changes, &s->n_changes, sizeof(*c));

                if (!c)
                        return -ENOMEM;
                *c = (StatusChange) { setting, value, change };
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

static int read_trusted_cgroups(sd_bus_message *m, Status *s)
{
        const char *path;
        uint64_t id;
        int present, r;

        s->has_trusted_cgroups = true;
        r = sd_bus_message_enter_container(m, 'v', "a(stb)");
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "(stb)");
        while (r >= 0 && (r = sd_bus_message_read(m, "(stb)", &path, &id, &present)) > 0) {
                StatusCgroup *c = grow(&s->cgroups, &s->n_cgroups, sizeof(*c));

                if (!c)
                        return -ENOMEM;
                *c = (StatusCgroup) { path, id, present };
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

void status_done(Status *s)
{
        sd_bus_message_unref(s->reply);
        free(s->interfaces);
        free(s->ports);
        free(s->port_modes);
        free(s->changes);
        free(s->cgroups);
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
                        r = read_string(reply, &s->version);
                else if (streq(name, "ListenAddress"))
                        r = read_string(reply, &s->listen_address);
                else if (streq(name, "Fastpath")) {
                        r = sd_bus_message_read(reply, "v", "b", &b);
                        s->fastpath = b;
                } else if (streq(name, "Interfaces"))
                        r = read_interfaces(reply, s);
                else if (streq(name, "Ports"))
                        r = read_ports(reply, s);
                else if (streq(name, "PortModes"))
                        r = read_port_modes(reply, s);
                else if (streq(name, "RuntimeChanges"))
                        r = read_runtime_changes(reply, s);
                else if (streq(name, "TrustedCgroups"))
                        r = read_trusted_cgroups(reply, s);
                else
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

        for (size_t i = 0; i < s->n_cgroups; i++) {
                fprintf(f, "%s%s ", i ? INDENT : "TrustedCgroups: ", s->cgroups[i].path);
                if (s->cgroups[i].present)
                        fprintf(f, "(id %" PRIu64 ")\n", s->cgroups[i].id);
                else
                        fprintf(f, "(absent)\n");
        }
}

void status_print_json(FILE *f, const Status *s)
{
        fprintf(f, "{\"version\":");
        json_string(f, s->version ?: "");
        fprintf(f, ",\"listen_address\":");
        json_string(f, s->listen_address ?: "");
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
        if (s->has_port_modes) {
                fprintf(f, ",\"port_modes\":[");
                for (size_t i = 0; i < s->n_port_modes; i++) {
                        fprintf(f, "%s{\"port\":%u,\"mode\":", i ? "," : "", s->port_modes[i].port);
                        json_string(f, s->port_modes[i].mode);
                        fputc('}', f);
                }
                fputc(']', f);
        }
        if (s->has_runtime_changes) {
                fprintf(f, ",\"runtime_changes\":[");
                for (size_t i = 0; i < s->n_changes; i++) {
                        fprintf(f, "%s{\"setting\":", i ? "," : "");
                        json_string(f, s->changes[i].setting);
                        fprintf(f, ",\"value\":");
                        json_string(f, s->changes[i].value);
                        fprintf(f, ",\"change\":");
                        json_string(f, s->changes[i].change);
                        fputc('}', f);
                }
                fputc(']', f);
        }
        if (s->has_trusted_cgroups) {
                fprintf(f, ",\"trusted_cgroups\":[");
                for (size_t i = 0; i < s->n_cgroups; i++) {
                        fprintf(f, "%s{\"path\":", i ? "," : "");
                        json_string(f, s->cgroups[i].path);
                        fprintf(f, ",\"id\":%" PRIu64 ",\"present\":%s}", s->cgroups[i].id,
                                s->cgroups[i].present ? "true" : "false");
                }
                fputc(']', f);
        }
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
