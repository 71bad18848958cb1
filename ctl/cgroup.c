/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Per-application steering: add-cgroup and remove-cgroup (the daemon's Cgroups), add-unit (a
 * systemd unit's cgroup, resolved through org.freedesktop.systemd1 on the system or user bus), and
 * run (a command in a cgroup of its own, selected while it runs). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bus-call.h"
#include "bus-error.h"
#include "cgroup-util.h"
#include "ctl.h"
#include "util.h"

#define SYSTEMD_SERVICE "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"

static int call_each_selected(sd_bus *bus, char **args, size_t n, bool add)
{
        for (size_t i = 0; i < n; i++) {
                int r = ctl_check_cgroup_path(args[i]);

                if (r != 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *what = NULL;
                int r;

                if (asprintf(&what, "%s cgroup %s", add ? "select" : "unselect", args[i]) < 0)
                        return log_oom(), SKFP_EXIT_FAILURE;
                r = ctl_call(bus, what, add ? "AddCgroup" : "RemoveCgroup", "s", args[i]);
                if (r != 0)
                        return r;
        }
        return 0;
}

int verb_add_cgroup(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        return call_each_selected(bus, args, n_args, true);
}

int verb_remove_cgroup(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        return call_each_selected(bus, args, n_args, false);
}

static int open_systemd_bus(const CtlOptions *o, sd_bus **ret)
{
        int r;

        r = o->user ? sd_bus_open_user(ret) : sd_bus_open_system(ret);
        if (r < 0) {
                log_error_errno(r, "Failed to connect to the %s bus to ask systemd: %m", o->user ? "user" : "system");
                return SKFP_EXIT_FAILURE;
        }
        return 0;
}

/* "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" (the root slice) -> "". */
static int slice_path(const char *slice, char **ret)
{
        size_t len = strlen(slice), stem;
        char *p, *q;

        if (streq(slice, "-.slice") || !*slice) {
                *ret = strdup("");
                return *ret ? 0 : -ENOMEM;
        }
        if (len < 7 || !streq(slice + len - 6, ".slice"))
                return -EINVAL;
        stem = len - 6;
        p = malloc(2 * len * (stem + 1) + 1);
        if (!p)
                return -ENOMEM;
        q = p;
        for (size_t i = 0; i <= stem; i++)
                if (i == stem || (slice[i] == '-' && i > 0)) {
                        q += sprintf(q, "/%.*s.slice", (int) i, slice);
                }
        *ret = p;
        return 0;
}

/* The unit's interface for its ControlGroup and Slice properties, by its suffix. */
static const char *unit_interface(const char *unit)
{
        static const struct { const char *suffix, *iface; } types[] = {
                { ".service", "org.freedesktop.systemd1.Service" },
                { ".scope", "org.freedesktop.systemd1.Scope" },
                { ".slice", "org.freedesktop.systemd1.Slice" },
                { ".socket", "org.freedesktop.systemd1.Socket" },
                { ".mount", "org.freedesktop.systemd1.Mount" },
                { ".swap", "org.freedesktop.systemd1.Swap" },
        };
        size_t len = strlen(unit);

        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                size_t n = strlen(types[i].suffix);

                if (len > n && streq(unit + len - n, types[i].suffix))
                        return types[i].iface;
        }
        return NULL;
}

/* The unit's cgroup below the cgroup2 root: ControlGroup while it runs, else where it will run
 * (the manager's own cgroup + its slice + the unit), so a unit not started yet can be selected. */
static int resolve_unit(sd_bus *sb, const char *unit, bool user, char **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *cg = NULL, *slice = NULL, *spath = NULL, *root = NULL;
        const char *iface = unit_interface(unit), *path;
        int r;

        if (!iface) {
                log_error("Unit '%s' has no cgroup: expected a .service, .scope, .slice, .socket, .mount or "
                          ".swap unit.", unit);
                return SKFP_EXIT_USAGE;
        }
        r = sd_bus_call_method(sb, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "LoadUnit", &e, &reply, "s",
                               unit);
        if (r < 0) {
                if (sd_bus_error_has_names(&e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                        log_error("systemd is not running on the %s bus (%s is not there): add-unit and run "
                                  "--user need it; select a cgroup by its path with add-cgroup instead.",
                                  user ? "user" : "system", SYSTEMD_SERVICE);
                else
                        log_error("Failed to load unit %s: %s", unit, e.message ?: strerror(-r));
                return SKFP_EXIT_FAILURE;
        }
        r = sd_bus_message_read(reply, "o", &path);
        if (r >= 0)
                r = sd_bus_get_property_string(sb, SYSTEMD_SERVICE, path, iface, "ControlGroup", &e, &cg);
        if (r >= 0 && cg && *cg) {
                *ret = TAKE_PTR(cg);
                return 0;
        }
        if (r >= 0)
                r = sd_bus_get_property_string(sb, SYSTEMD_SERVICE, path, iface, "Slice", &e, &slice);
        if (r >= 0)
                r = sd_bus_get_property_string(sb, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER, "ControlGroup",
                                               &e, &root);
        if (r < 0) {
                log_error("Failed to find the cgroup of %s: %s", unit, e.message ?: strerror(-r));
                return SKFP_EXIT_FAILURE;
        }
        if (streq(unit + strlen(unit) - 6, ".slice")) {
                free(slice);
                slice = strdup(unit);
                if (!slice)
                        return log_oom(), SKFP_EXIT_FAILURE;
        }
        r = slice_path(slice, &spath);
        if (r < 0) {
                log_error("Unit %s has an unexpected slice '%s'.", unit, slice);
                return SKFP_EXIT_FAILURE;
        }
        if (streq(unit + strlen(unit) - 6, ".slice"))
                r = asprintf(ret, "%s%s", streq(root, "/") ? "" : root, spath);
        else
                r = asprintf(ret, "%s%s/%s", streq(root, "/") ? "" : root, spath, unit);
        if (r < 0)
                return log_oom(), SKFP_EXIT_FAILURE;
        return 0;
}

int verb_add_unit(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        for (size_t i = 0; i < n_args; i++) {
                _cleanup_(sd_bus_flush_close_unrefp) sd_bus *sb = NULL;
                _cleanup_free_ char *cg = NULL, *what = NULL;
                int r;

                r = open_systemd_bus(o, &sb);
                if (r != 0)
                        return r;
                r = resolve_unit(sb, args[i], o->user, &cg);
                if (r != 0)
                        return r;
                if (asprintf(&what, "select unit %s (cgroup %s)", args[i], cg) < 0)
                        return log_oom(), SKFP_EXIT_FAILURE;
                r = ctl_call(bus, what, "AddCgroup", "s", cg);
                if (r != 0)
                        return r;
                printf("%s\n", cg);
        }
        return 0;
}

/* run without systemd: a cgroup of our own right under the cgroup2 root, this process moved into
 * it (the command inherits it), moved back out and removed after. */
typedef struct RunCgroup {
        char *root;        /* the cgroup2 mount */
        char *dir;         /* root + path */
        char *path;        /* below the root, for the daemon */
        char *previous;    /* the cgroup we came from (its directory) */
} RunCgroup;

static void run_cgroup_done(RunCgroup *c)
{
        if (c->dir) {
                if (c->previous)
                        (void) cgroup_enter(c->previous);
                if (rmdir(c->dir) < 0 && errno != ENOENT)
                        log_warning("Failed to remove cgroup %s: %m", c->dir);
        }
        free(c->root);
        free(c->dir);
        free(c->path);
        free(c->previous);
        *c = (RunCgroup) {};
}

static int run_cgroup_make(RunCgroup *c)
{
        int r;

        r = cgroup2_root_find(&c->root);
        if (r < 0) {
                log_error_errno(r, "No cgroup2 mount found to run the command in a cgroup of its own: %m");
                return SKFP_EXIT_FAILURE;
        }
        r = cgroup_self_path(c->root, &c->previous);
        if (r < 0) {
                log_error_errno(r, "Failed to find this process's cgroup: %m");
                return SKFP_EXIT_FAILURE;
        }
        if (asprintf(&c->path, "/skfastpathctl-run-%d", getpid()) < 0 ||
            asprintf(&c->dir, "%s%s", c->root, c->path) < 0)
                return log_oom(), SKFP_EXIT_FAILURE;
        if (mkdir(c->dir, 0755) < 0) {
                log_error("Failed to make cgroup %s (without systemd, run needs root): %m", c->dir);
                free(c->dir);
                c->dir = NULL;
                return SKFP_EXIT_FAILURE;
        }
        r = cgroup_enter(c->dir);
        if (r < 0) {
                log_error_errno(r, "Failed to enter cgroup %s: %m", c->dir);
                return SKFP_EXIT_FAILURE;
        }
        return 0;
}

/* run with systemd: a transient scope holding this process (the command inherits it); it ends
 * when its last process does. Returns 0 with *ret the scope's cgroup, 1 without systemd. */
static int run_scope_make(const CtlOptions *o, char **ret)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *sb = NULL;
        char unit[64];
        int r;

        r = o->user ? sd_bus_open_user(&sb) : sd_bus_open_system(&sb);
        if (r < 0)
                return o->user ? (log_error_errno(r, "Failed to connect to the user bus: %m"), -1) : 1;
        snprintf(unit, sizeof(unit), "skfastpathctl-run-%d.scope", getpid());
        r = sd_bus_message_new_method_call(sb, &m, SYSTEMD_SERVICE, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sv)", 2, "PIDs", "au", 1, (uint32_t) getpid(),
                                          "Description", "s", "skfastpathctl run");
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r < 0)
                return log_error_errno(r, "Failed to build the scope request: %m"), -1;
        r = sd_bus_call(sb, m, 0, &e, &reply);
        if (r < 0) {
                if (sd_bus_error_has_names(&e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER) &&
                    !o->user)
                        return 1;
                log_error("Failed to start scope %s: %s", unit, e.message ?: strerror(-r));
                return -1;
        }
        /* the scope exists once the job ran; its cgroup is where systemd says */
        for (int i = 0; i < 100; i++) {
                r = resolve_unit(sb, unit, o->user, ret);
                if (r != 0)
                        return -1;
                if (strstr(*ret, unit))
                        return 0;
                free(*ret);
                *ret = NULL;
                usleep(10000);
        }
        log_error("Scope %s has no cgroup.", unit);
        return -1;
}

int verb_run(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        _cleanup_free_ char *scope_cg = NULL, *what = NULL;
        RunCgroup own = {};
        const char *cg;
        int r, status, ret;
        pid_t pid;

        r = run_scope_make(o, &scope_cg);
        if (r < 0)
                return SKFP_EXIT_FAILURE;
        if (r > 0) {
                r = run_cgroup_make(&own);
                if (r != 0) {
                        run_cgroup_done(&own);
                        return r;
                }
                cg = own.path;
        } else
                cg = scope_cg;

        if (asprintf(&what, "select cgroup %s", cg) < 0) {
                run_cgroup_done(&own);
                return log_oom(), SKFP_EXIT_FAILURE;
        }
        r = ctl_call(bus, what, "AddCgroup", "s", cg);
        if (r != 0) {
                run_cgroup_done(&own);
                return r;
        }

        pid = fork();
        if (pid < 0) {
                ret = SKFP_EXIT_FAILURE;
                log_error("Failed to fork: %m");
        } else if (pid == 0) {
                (void) signal(SIGINT, SIG_DFL);
                execvp(args[0], args);
                log_error("Failed to run %s: %m", args[0]);
                _exit(127);
        } else {
                /* Ctrl-C goes to the command; we wait for it and clean up */
                (void) signal(SIGINT, SIG_IGN);
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
                ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }

        free(what);
        what = NULL;
        if (asprintf(&what, "unselect cgroup %s", cg) >= 0)
                (void) ctl_call(bus, what, "RemoveCgroup", "s", cg);
        run_cgroup_done(&own);
        return ret;
}
