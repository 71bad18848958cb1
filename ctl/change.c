/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The verbs that change the daemon's sets: one call per argument, in order, stopping at the first
 * failure (the calls made before it stay done). */
#include <stdio.h>

#include "bus-call.h"
#include "bus-error.h"
#include "ctl.h"
#include "util.h"

int ctl_parse_port(const char *s, uint16_t *ret)
{
        uint32_t v;

        /* 0 goes to the daemon, which names the error; what is no port at all stops here. */
        if (parse_uint32(s, &v) < 0 || v > 65535) {
                _cleanup_free_ char *e = cescape(s);
                log_error("Invalid port '%s': expected a number from 1 to 65535.", e ?: "?");
                return SKFP_EXIT_INVALID_PORT;
        }
        *ret = (uint16_t) v;
        return 0;
}

int ctl_check_port_mode(const char *s)
{
        if (streq(s, "fastpath") || streq(s, "intercept-only") || streq(s, "trusted"))
                return 0;
        _cleanup_free_ char *e = cescape(s);
        log_error("Invalid port mode '%s': expected fastpath, intercept-only or trusted.", e ?: "?");
        return SKFP_EXIT_USAGE;
}

int ctl_check_cgroup_path(const char *s)
{
        /* The daemon decides what a valid cgroup is; a path that cannot be one stops here. */
        if (*s == '\0') {
                log_error("Invalid cgroup path '': expected a path in the cgroup2 hierarchy.");
                return SKFP_EXIT_INVALID_CGROUP;
        }
        return 0;
}

static int call_each_string(sd_bus *bus, char **args, size_t n, const char *verb, const char *noun,
                            const char *method)
{
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *what = NULL;
                int r;

                if (asprintf(&what, "%s %s %s", verb, noun, args[i]) < 0)
                        return log_oom(), SKFP_EXIT_FAILURE;
                r = ctl_call(bus, what, method, "s", args[i]);
                if (r != 0)
                        return r;
        }
        return 0;
}

int verb_add_interface(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        return call_each_string(bus, args, n_args, "add", "interface", "AddInterface");
}

int verb_remove_interface(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        return call_each_string(bus, args, n_args, "remove", "interface", "RemoveInterface");
}

static int call_each_port(sd_bus *bus, char **args, size_t n, bool add)
{
        uint16_t port;
        int r;

        /* all or nothing as far as the command line goes */
        for (size_t i = 0; i < n; i++) {
                r = ctl_parse_port(args[i], &port);
                if (r != 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                char what[32];

                (void) ctl_parse_port(args[i], &port);
                snprintf(what, sizeof(what), "%s port %u", add ? "add" : "remove", port);
                r = ctl_call(bus, what, add ? "AddPort" : "RemovePort", "q", port);
                if (r != 0)
                        return r;
        }
        return 0;
}

int verb_add_port(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        return call_each_port(bus, args, n_args, true);
}

int verb_remove_port(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        return call_each_port(bus, args, n_args, false);
}

int verb_port_mode(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        char what[64];
        uint16_t port;
        int r;

        r = ctl_parse_port(args[0], &port);
        if (r == 0)
                r = ctl_check_port_mode(args[1]);
        if (r != 0)
                return r;
        snprintf(what, sizeof(what), "set the mode of port %u to %s", port, args[1]);
        return ctl_call(bus, what, "SetPortMode", "qs", port, args[1]);
}

int verb_fastpath(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        int b = parse_boolean(args[0]);

        if (b < 0) {
                log_error("Expected 'on' or 'off', got '%s'.", args[0]);
                return SKFP_EXIT_USAGE;
        }
        return ctl_call(bus, b ? "switch the fastpath on" : "switch the fastpath off", "SetFastpath", "b", b);
}

int verb_revert(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        return ctl_call(bus, "revert the runtime changes", "Revert", NULL);
}

static int call_each_cgroup(sd_bus *bus, char **args, size_t n, bool add)
{
        int r;

        for (size_t i = 0; i < n; i++) {
                r = ctl_check_cgroup_path(args[i]);
                if (r != 0)
                        return r;
        }
        return call_each_string(bus, args, n, add ? "add" : "remove", "trusted cgroup",
                                add ? "AddTrustedCgroup" : "RemoveTrustedCgroup");
}

int verb_add_trusted_cgroup(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        return call_each_cgroup(bus, args, n_args, true);
}

int verb_remove_trusted_cgroup(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        return call_each_cgroup(bus, args, n_args, false);
}
