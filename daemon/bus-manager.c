/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.skfastpath1.Manager at /org/skfastpath1: the whole D-Bus API in one vtable.
 *
 * Every changing method runs the same steps, and a refusal at any step changes nothing:
 * validate the arguments -> polkit (org.skfastpath1.manage) -> manager_*() (which changes the
 * datapath) -> persist the state file -> PropertiesChanged (with RuntimeChanges) -> reply.
 * Revert() removes the state file instead of writing it. */
#include "bus-error.h"
#include "bus-manager.h"
#include "intercept.h"
#include "polkit.h"
#include "state.h"
#include "util.h"

int bus_manager_emit_changed(Manager *m, const char *property)
{
        int r;

        if (!m->bus)
                return 0;
        r = sd_bus_emit_properties_changed(m->bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, property, NULL);
        if (r < 0)
                return log_warning_errno(r, "Failed to emit PropertiesChanged for %s, ignoring: %m", property);
        return 0;
}

/* A runtime change: the property and RuntimeChanges, in one signal. */
static int bus_manager_emit_runtime_changed(Manager *m, const char *property)
{
        int r;

        if (!m->bus)
                return 0;
        r = sd_bus_emit_properties_changed(m->bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, property,
                "RuntimeChanges", NULL);
        if (r < 0)
                return log_warning_errno(r, "Failed to emit PropertiesChanged for %s, ignoring: %m", property);
        return 0;
}

/* add: the rule of the config file (config_interface_invalid_reason()), which refuses lo too */
static int check_interface_name(const char *name, bool add, sd_bus_error *error)
{
        const char *reason = add ? config_interface_invalid_reason(name) : ifname_invalid_reason(name);
        _cleanup_free_ char *e = NULL;

        if (!reason)
                return 0;
        e = cescape(name);
        return sd_bus_error_setf(error, SKFP_ERROR_INVALID_INTERFACE_NAME, "Invalid interface name '%s': %s.",
                e ?: "?", reason);
}

static int check_port(uint16_t port, sd_bus_error *error)
{
        if (port == 0)
                return sd_bus_error_set(error, SKFP_ERROR_INVALID_PORT,
                        "Invalid port 0: a TCP port is from 1 to 65535.");
        return 0;
}

static int check_cgroup(const char *path, sd_bus_error *error)
{
        const char *reason = config_cgroup_invalid_reason(path);
        _cleanup_free_ char *e = NULL;

        if (!reason)
                return 0;
        e = cescape(path);
        return sd_bus_error_setf(error, SKFP_ERROR_INVALID_CGROUP, "Invalid cgroup '%s': %s.", e ?: "?", reason);
}

typedef enum Subject {
        SUBJECT_INTERFACE,
        SUBJECT_PORT,
        SUBJECT_SELECTED,  /* a selected cgroup (Cgroups) */
        SUBJECT_SWITCH,  /* no argument that could be invalid, missing or over a limit */
        SUBJECT_CGROUP,
} Subject;

/* Turns a manager_*() failure into its named error; what: "add interface wg0". */
static int manager_error(Manager *m, int r, Subject s, const char *what, sd_bus_error *error)
{
        if (s == SUBJECT_CGROUP)
                switch (r) {
                case -EINVAL:
                        return sd_bus_error_setf(error, SKFP_ERROR_INVALID_CGROUP, "Cannot %s: invalid cgroup path.",
                                what);
                case -ENOENT:
                        return sd_bus_error_setf(error, SKFP_ERROR_NOT_MANAGED, "Cannot %s: it is not trusted.",
                                what);
                case -E2BIG:
                        return sd_bus_error_setf(error, SKFP_ERROR_LIMIT_EXCEEDED,
                                "Cannot %s: %zu cgroups are trusted, the limit is %d.", what,
                                m->config.n_trusted_cgroups, TRUSTED_CGROUPS_MAX);
                }
        else if (s != SUBJECT_SWITCH)
                switch (r) {
                case -EINVAL:
                        if (s == SUBJECT_SELECTED)
                                return sd_bus_error_setf(error, SKFP_ERROR_INVALID_CGROUP,
                                        "Cannot %s: invalid cgroup path.", what);
                        return sd_bus_error_setf(error,
                                s == SUBJECT_PORT ? SKFP_ERROR_INVALID_PORT : SKFP_ERROR_INVALID_INTERFACE_NAME,
                                "Cannot %s: invalid %s.", what, s == SUBJECT_PORT ? "port" : "interface name");
                case -ENOENT:
                        return sd_bus_error_setf(error, SKFP_ERROR_NOT_MANAGED, "Cannot %s: it is not managed.",
                                what);
                case -E2BIG:
                        if (s == SUBJECT_SELECTED)
                                return sd_bus_error_setf(error, SKFP_ERROR_LIMIT_EXCEEDED,
                                        "Cannot %s: %zu cgroups are selected, the limit is %u.", what,
                                        m->config.n_cgroups, m->config.max_cgroups);
                        if (s == SUBJECT_PORT)
                                return sd_bus_error_setf(error, SKFP_ERROR_LIMIT_EXCEEDED,
                                        "Cannot %s: %zu ports are managed, the limit is MaxPorts=%u.", what,
                                        m->config.n_ports, m->config.max_ports);
                        return sd_bus_error_setf(error, SKFP_ERROR_LIMIT_EXCEEDED,
                                "Cannot %s: %zu interfaces are managed, the limit is MaxInterfaces=%u.", what,
                                m->config.n_interfaces, m->config.max_interfaces);
                }
        log_warning_errno(r, "Failed to %s: %m", what);
        return sd_bus_error_setf(error, SKFP_ERROR_FAILED, "Failed to %s: %s.", what, strerror(-r));
}

/* A change made by a method, and how to take it back when it cannot be saved. */
typedef struct Change {
        Subject subject;
        const char *what;          /* "add port 80": for errors and the log */
        const char *property;      /* emitted when something changed */
        const char *also;          /* and this one too, if set */
        int (*undo)(Manager *m, const struct Change *c);
        const char *name;          /* the argument: an interface name, */
        uint16_t port;             /* a port, */
        bool enabled;              /* or the switch */
        PortMode mode;             /* SetPortMode: the mode before */
} Change;

static int undo_add_interface(Manager *m, const Change *c)
{
        return manager_remove_interface(m, c->name);
}

static int undo_remove_interface(Manager *m, const Change *c)
{
        return manager_add_interface(m, c->name);
}

static int undo_add_port(Manager *m, const Change *c)
{
        return manager_remove_port(m, c->port);
}

static int undo_remove_port(Manager *m, const Change *c)
{
        /* An InterceptOnlyPorts= port comes back as a fastpath port until the next start
         * restores it from the unchanged state file. */
        return manager_add_port(m, c->port);
}

static int undo_set_fastpath(Manager *m, const Change *c)
{
        return manager_set_fastpath(m, !c->enabled);
}

static int undo_add_cgroup(Manager *m, const Change *c)
{
        return manager_remove_cgroup(m, c->name);
}

static int undo_remove_cgroup(Manager *m, const Change *c)
{
        return manager_add_cgroup(m, c->name);
}

/* After the manager operation returned r: persist -> PropertiesChanged -> reply, or the error. */
static int change_commit(Manager *m, sd_bus_message *message, const Change *c, int r, sd_bus_error *error)
{
        if (r < 0)
                return manager_error(m, r, c->subject, c->what, error);
        if (r > 0) {
                r = state_save(m->state_directory, &m->config);
                if (r < 0) {
                        (void) c->undo(m, c);
                        return sd_bus_error_setf(error, SKFP_ERROR_FAILED,
                                "Failed to %s: the state could not be saved in %s: %s; nothing was changed.",
                                c->what, m->state_directory, strerror(-r));
                }
                log_info("Done: %s.", c->what);
                (void) bus_manager_emit_runtime_changed(m, c->property);
                if (c->also)
                        (void) bus_manager_emit_changed(m, c->also);
        }
        return sd_bus_reply_method_return(message, NULL);
}

/* AddInterface and RemoveInterface: validate, authorise, change, commit. */
static int method_interface(sd_bus_message *message, Manager *m, bool add, sd_bus_error *error)
{
        _cleanup_free_ char *what = NULL;
        const char *name;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        r = check_interface_name(name, add, error);
        if (r < 0)
                return r;
        r = polkit_verify(m, message, POLKIT_ACTION_MANAGE, error);
        if (r <= 0)
                return r < 0 ? r : 1; /* 0: polkit answers later, and this runs again */

        if (asprintf(&what, "%s interface %s", add ? "add" : "remove", name) < 0)
                return -ENOMEM;
        return change_commit(m, message,
                &(Change) { .subject = SUBJECT_INTERFACE, .what = what, .property = "Interfaces",
                            .undo = add ? undo_add_interface : undo_remove_interface, .name = name },
                add ? manager_add_interface(m, name) : manager_remove_interface(m, name), error);
}

static int method_add_interface(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        return method_interface(message, userdata, true, error);
}

static int method_remove_interface(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        return method_interface(message, userdata, false, error);
}

/* AddPort and RemovePort: validate, authorise, change, commit. */
static int method_port(sd_bus_message *message, Manager *m, bool add, sd_bus_error *error)
{
        char what[32];
        uint16_t port;
        int r;

        r = sd_bus_message_read(message, "q", &port);
        if (r < 0)
                return r;
        r = check_port(port, error);
        if (r < 0)
                return r;
        r = polkit_verify(m, message, POLKIT_ACTION_MANAGE, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        snprintf(what, sizeof(what), "%s port %u", add ? "add" : "remove", port);
        return change_commit(m, message,
                &(Change) { .subject = SUBJECT_PORT, .what = what, .property = "Ports", .also = "PortModes",
                            .undo = add ? undo_add_port : undo_remove_port, .port = port },
                add ? manager_add_port(m, port) : manager_remove_port(m, port), error);
}

static int method_add_port(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        return method_port(message, userdata, true, error);
}

static int method_remove_port(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        return method_port(message, userdata, false, error);
}

/* The action a cgroup change needs: a user's own user manager's subtree
 * (/user.slice/user-UID.slice/user@UID.service and below, UID the caller's effective uid from the
 * bus credentials) is org.skfastpath1.steer-own-applications, anything else
 * org.skfastpath1.manage. */
static const char *cgroup_action(sd_bus_message *message, const char *path)
{
        char own[128];
        size_t n;
        uid_t uid;

        if (polkit_sender_euid(message, &uid) < 0 || uid == 0)
                return POLKIT_ACTION_MANAGE;
        snprintf(own, sizeof(own), "/user.slice/user-%u.slice/user@%u.service", (unsigned) uid, (unsigned) uid);
        n = strlen(own);
        if (strncmp(path, own, n) == 0 && (path[n] == 0 || path[n] == '/'))
                return POLKIT_ACTION_STEER_OWN;
        return POLKIT_ACTION_MANAGE;
}

/* AddCgroup and RemoveCgroup: validate, authorise, change, commit. */
static int method_cgroup(sd_bus_message *message, Manager *m, bool add, sd_bus_error *error)
{
        _cleanup_free_ char *what = NULL;
        const char *path;
        int r;

        r = sd_bus_message_read(message, "s", &path);
        if (r < 0)
                return r;
        r = check_cgroup(path, error);
        if (r < 0)
                return r;
        r = polkit_verify(m, message, cgroup_action(message, path), error);
        if (r <= 0)
                return r < 0 ? r : 1;

        if (asprintf(&what, "%s cgroup %s", add ? "select" : "unselect", path) < 0)
                return -ENOMEM;
        return change_commit(m, message,
                &(Change) { .subject = SUBJECT_SELECTED, .what = what, .property = "Cgroups",
                            .undo = add ? undo_add_cgroup : undo_remove_cgroup, .name = path },
                add ? manager_add_cgroup(m, path) : manager_remove_cgroup(m, path), error);
}

static int method_add_cgroup(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        return method_cgroup(message, userdata, true, error);
}

static int method_remove_cgroup(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        return method_cgroup(message, userdata, false, error);
}

static int method_set_fastpath(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        const char *what;
        int enabled, r;

        r = sd_bus_message_read(message, "b", &enabled);
        if (r < 0)
                return r;
        r = polkit_verify(m, message, POLKIT_ACTION_MANAGE, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        what = enabled ? "switch the fastpath on" : "switch the fastpath off";
        return change_commit(m, message, &(Change) { .subject = SUBJECT_SWITCH, .what = what, .property = "Fastpath",
                        .undo = undo_set_fastpath, .enabled = enabled },
                manager_set_fastpath(m, enabled), error);
}

static int method_revert(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        const char *changed[8];  /* every property Revert() may change, RuntimeChanges, NULL */
        unsigned mask = 0;
        size_t n = 0;
        int r;

        r = polkit_verify(m, message, POLKIT_ACTION_MANAGE, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        r = manager_revert(m, &mask);
        if (r < 0) {
                log_warning_errno(r, "Failed to revert to the config file: %m");
                return sd_bus_error_setf(error, SKFP_ERROR_FAILED,
                        "Failed to revert to the config file: %s; nothing was changed.", strerror(-r));
        }
        if (r == 0)
                return sd_bus_reply_method_return(message, NULL);

        log_info("Done: revert to the config file (the runtime changes are dropped, the state file is removed).");
        if (mask & MANAGER_CHANGED_INTERFACES)
                changed[n++] = "Interfaces";
        if (mask & MANAGER_CHANGED_PORTS) {
                changed[n++] = "Ports";
                changed[n++] = "PortModes";
        }
        if (mask & MANAGER_CHANGED_TRUSTED_CGROUPS)
                changed[n++] = "TrustedCgroups";
        if (mask & MANAGER_CHANGED_FASTPATH)
                changed[n++] = "Fastpath";
        if (mask & MANAGER_CHANGED_CGROUPS)
                changed[n++] = "Cgroups";
        changed[n++] = "RuntimeChanges";
        changed[n] = NULL;
        if (m->bus) {
                r = sd_bus_emit_properties_changed_strv(m->bus, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE,
                        (char **) changed);
                if (r < 0)
                        log_warning_errno(r, "Failed to emit PropertiesChanged, ignoring: %m");
        }
        return sd_bus_reply_method_return(message, NULL);
}

static int undo_set_upstream(Manager *m, const Change *c)
{
        const char *reason;

        return manager_set_upstream(m, c->name, &reason);
}

static int method_set_upstream(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        _cleanup_(upstream_done) Upstream u = {};
        _cleanup_free_ char *old = NULL, *shown = NULL, *what = NULL;
        Manager *m = userdata;
        const char *url, *reason = NULL;
        int r;

        r = sd_bus_message_read(message, "s", &url);
        if (r < 0)
                return r;
        /* the URL may hold a password: the error never repeats it */
        r = upstream_parse(url, &u, &reason);
        if (r == -EINVAL)
                return sd_bus_error_setf(error, SKFP_ERROR_INVALID_UPSTREAM, "Invalid upstream: %s.", reason);
        if (r < 0)
                return r;
        r = polkit_verify(m, message, POLKIT_ACTION_MANAGE, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        old = upstream_to_string(&m->config.upstream, false);
        shown = upstream_to_string(&u, true);
        if (!old || !shown || asprintf(&what, "set the upstream to %s", shown) < 0)
                return -ENOMEM;
        return change_commit(m, message, &(Change) { .subject = SUBJECT_SWITCH, .what = what, .property = "Upstream",
                        .undo = undo_set_upstream, .name = old },
                manager_set_upstream(m, url, &reason), error);
}

static int property_get_upstream(sd_bus *bus, const char *path, const char *interface, const char *property,
                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        _cleanup_free_ char *s = NULL;
        Manager *m = userdata;

        s = upstream_to_string(&m->config.upstream, true);
        if (!s)
                return -ENOMEM;
        return sd_bus_message_append(reply, "s", s);
}

static int method_get_statistics(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        ManagerStatistic table[MANAGER_N_STATISTICS];
        Manager *m = userdata;
        int n, r;

        n = manager_get_statistics(m, table);
        if (n < 0)
                return sd_bus_error_setf(error, SKFP_ERROR_FAILED, "Failed to read the counters: %s.", strerror(-n));

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{st}");
        if (r < 0)
                return r;
        for (int i = 0; i < n; i++) {
                r = sd_bus_message_append(reply, "{st}", table[i].name, table[i].value);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int property_get_interfaces(sd_bus *bus, const char *path, const char *interface, const char *property,
                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(sib)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->config.n_interfaces; i++) {
                const char *name = m->config.interfaces[i];
                bool attached;
                int ifindex;

                manager_interface_status(m, name, &ifindex, &attached);
                r = sd_bus_message_append(reply, "(sib)", name, ifindex, attached);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_ports(sd_bus *bus, const char *path, const char *interface, const char *property,
                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "q");
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->config.n_ports; i++) {
                r = sd_bus_message_append(reply, "q", m->config.ports[i].port);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_cgroups(sd_bus *bus, const char *path, const char *interface, const char *property,
                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(stb)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->config.n_cgroups; i++) {
                uint64_t id = manager_cgroup_id(m, m->config.cgroups[i]);

                r = sd_bus_message_append(reply, "(stb)", m->config.cgroups[i], id, id != 0);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_fastpath(sd_bus *bus, const char *path, const char *interface, const char *property,
                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;

        return sd_bus_message_append(reply, "b", m->config.fastpath);
}

static int property_get_listen_address(sd_bus *bus, const char *path, const char *interface,
                const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;

        return sd_bus_message_append(reply, "s", m->listen_address ?: "");
}

static int property_get_runtime_changes(sd_bus *bus, const char *path, const char *interface,
                const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        _cleanup_free_ StateChange *changes = NULL;
        Manager *m = userdata;
        size_t n;
        int r;

        r = state_diff(&m->config_file, &m->config, &changes, &n);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = sd_bus_message_append(reply, "(sss)", changes[i].setting, changes[i].value, changes[i].change);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface,
                const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

/* ---- fastpath receivers: port modes and trusted cgroups ---- */

static int undo_set_port_mode(Manager *m, const Change *c)
{
        return manager_set_port_mode(m, c->port, c->mode);
}

static int method_set_port_mode(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        const char *mode_name;
        ConfigPort *p;
        char what[64];
        uint16_t port;
        int mode, r;

        r = sd_bus_message_read(message, "qs", &port, &mode_name);
        if (r < 0)
                return r;
        r = check_port(port, error);
        if (r < 0)
                return r;
        mode = port_mode_from_string(mode_name);
        if (mode < 0) {
                _cleanup_free_ char *e = cescape(mode_name);
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                        "Unknown port mode '%s': expected fastpath, intercept-only or trusted.", e ?: "?");
        }
        r = polkit_verify(m, message, POLKIT_ACTION_MANAGE, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        p = config_find_port(&m->config, port);
        snprintf(what, sizeof(what), "set port %u to %s", port, port_mode_to_string(mode));
        return change_commit(m, message,
                &(Change) { .subject = SUBJECT_PORT, .what = what, .property = "PortModes",
                            .undo = undo_set_port_mode, .port = port, .mode = p ? p->mode : PORT_MODE_FASTPATH },
                manager_set_port_mode(m, port, mode), error);
}

static int undo_add_trusted_cgroup(Manager *m, const Change *c)
{
        return manager_remove_trusted_cgroup(m, c->name);
}

static int undo_remove_trusted_cgroup(Manager *m, const Change *c)
{
        return manager_add_trusted_cgroup(m, c->name);
}

static int method_trusted_cgroup(sd_bus_message *message, Manager *m, bool add, sd_bus_error *error)
{
        _cleanup_free_ char *what = NULL;
        const char *path;
        int r;

        r = sd_bus_message_read(message, "s", &path);
        if (r < 0)
                return r;
        if (!cgroup_path_valid(path)) {
                _cleanup_free_ char *e = cescape(path);
                return sd_bus_error_setf(error, SKFP_ERROR_INVALID_CGROUP,
                        "Invalid cgroup path '%s': expected an absolute, normalised path below the cgroup2 "
                        "root (\"/system.slice/nginx.service\"), at most %d bytes.", e ?: "?", CGROUP_PATH_MAX);
        }
        r = polkit_verify(m, message, POLKIT_ACTION_MANAGE, error);
        if (r <= 0)
                return r < 0 ? r : 1;

        if (asprintf(&what, "%s trusted cgroup %s", add ? "add" : "remove", path) < 0)
                return -ENOMEM;
        return change_commit(m, message,
                &(Change) { .subject = SUBJECT_CGROUP, .what = what, .property = "TrustedCgroups",
                            .undo = add ? undo_add_trusted_cgroup : undo_remove_trusted_cgroup, .name = path },
                add ? manager_add_trusted_cgroup(m, path) : manager_remove_trusted_cgroup(m, path), error);
}

static int method_add_trusted_cgroup(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        return method_trusted_cgroup(message, userdata, true, error);
}

static int method_remove_trusted_cgroup(sd_bus_message *message, void *userdata, sd_bus_error *error)
{
        return method_trusted_cgroup(message, userdata, false, error);
}

static int property_get_port_modes(sd_bus *bus, const char *path, const char *interface, const char *property,
                sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(qs)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->config.n_ports; i++) {
                r = sd_bus_message_append(reply, "(qs)", m->config.ports[i].port,
                                          port_mode_to_string(m->config.ports[i].mode));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_trusted_cgroups(sd_bus *bus, const char *path, const char *interface,
                const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(stb)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->config.n_trusted_cgroups; i++) {
                uint64_t id;
                bool present;

                manager_trusted_cgroup_status(m, m->config.trusted_cgroups[i], &id, &present);
                r = sd_bus_message_append(reply, "(stb)", m->config.trusted_cgroups[i], id, present);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_attach_mode(sd_bus *bus, const char *path, const char *interface,
                const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        Manager *m = userdata;

        return sd_bus_message_append(reply, "s", intercept_attach_mode(m->intercept));
}

/* Keep dbus/org.skfastpath1.xml equal to this (test-introspection checks it). */
static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Interfaces", "a(sib)", property_get_interfaces, 0,
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Ports", "aq", property_get_ports, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Cgroups", "a(stb)", property_get_cgroups, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Fastpath", "b", property_get_fastpath, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Upstream", "s", property_get_upstream, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ListenAddress", "s", property_get_listen_address, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("RuntimeChanges", "a(sss)", property_get_runtime_changes, 0,
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("AttachMode", "s", property_get_attach_mode, 0, SD_BUS_VTABLE_PROPERTY_CONST),

        SD_BUS_METHOD_WITH_ARGS("AddInterface", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                method_add_interface, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveInterface", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                method_remove_interface, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddPort", SD_BUS_ARGS("q", port), SD_BUS_NO_RESULT,
                method_add_port, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemovePort", SD_BUS_ARGS("q", port), SD_BUS_NO_RESULT,
                method_remove_port, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddCgroup", SD_BUS_ARGS("s", path), SD_BUS_NO_RESULT,
                method_add_cgroup, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveCgroup", SD_BUS_ARGS("s", path), SD_BUS_NO_RESULT,
                method_remove_cgroup, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetFastpath", SD_BUS_ARGS("b", enabled), SD_BUS_NO_RESULT,
                method_set_fastpath, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Revert", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
                method_revert, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetUpstream", SD_BUS_ARGS("s", url), SD_BUS_NO_RESULT,
                method_set_upstream, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetStatistics", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{st}", statistics),
                method_get_statistics, SD_BUS_VTABLE_UNPRIVILEGED),

        /* fastpath receivers */
        SD_BUS_PROPERTY("PortModes", "a(qs)", property_get_port_modes, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("TrustedCgroups", "a(stb)", property_get_trusted_cgroups, 0,
                SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("SetPortMode", SD_BUS_ARGS("q", port, "s", mode), SD_BUS_NO_RESULT,
                method_set_port_mode, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AddTrustedCgroup", SD_BUS_ARGS("s", path), SD_BUS_NO_RESULT,
                method_add_trusted_cgroup, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveTrustedCgroup", SD_BUS_ARGS("s", path), SD_BUS_NO_RESULT,
                method_remove_trusted_cgroup, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int bus_manager_add_objects(Manager *m)
{
        int r;

        r = sd_bus_error_add_map(skfastpath_error_map);
        if (r < 0)
                return log_error_errno(r, "Failed to register the D-Bus error names: %m");
        r = sd_bus_add_object_vtable(m->bus, NULL, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the D-Bus object: %m");
        return 0;
}
