/* SPDX-License-Identifier: GPL-2.0-or-later */
/* skfastpathctl's command line: the options, the verb table, and which verb runs with what. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>

#include "ctl.h"
#include "util.h"

const Verb ctl_verbs[] = {
        { "status",                0, 0,        verb_status,                false },
        { "add-interface",         1, SIZE_MAX, verb_add_interface,         true  },
        { "remove-interface",      1, SIZE_MAX, verb_remove_interface,      true  },
        { "add-port",              1, SIZE_MAX, verb_add_port,              true  },
        { "remove-port",           1, SIZE_MAX, verb_remove_port,           true  },
        { "port-mode",             2, 2,        verb_port_mode,             true  },
        { "fastpath",              1, 1,        verb_fastpath,              true  },
        { "add-cgroup",            1, SIZE_MAX, verb_add_cgroup,            true  },
        { "remove-cgroup",         1, SIZE_MAX, verb_remove_cgroup,         true  },
        { "add-unit",              1, SIZE_MAX, verb_add_unit,              true  },
        { "run",                   1, SIZE_MAX, verb_run,                   true  },
        { "add-trusted-cgroup",    1, SIZE_MAX, verb_add_trusted_cgroup,    true  },
        { "remove-trusted-cgroup", 1, SIZE_MAX, verb_remove_trusted_cgroup, true  },
        { "set-upstream",          1, 1,        verb_set_upstream,          true  },
        { "revert",                0, 0,        verb_revert,                true  },
        { "stats",                 0, 0,        verb_stats,                 false },
};
const size_t ctl_n_verbs = ELEMENTSOF(ctl_verbs);

const Verb *verb_find(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(ctl_verbs); i++)
                if (streq(ctl_verbs[i].name, name))
                        return &ctl_verbs[i];
        return NULL;
}

static void help(void)
{
        printf("%s [OPTIONS...] COMMAND [ARGS...]\n\n"
               "Controls skfastpathd over D-Bus (org.skfastpath1 on the system bus).\n\n"
               "Commands:\n"
               "  status                         Show interfaces, ports, the fastpath switch and the listener\n"
               "  add-interface NAME...          Intercept egress TCP on these interfaces (may not exist yet)\n"
               "  remove-interface NAME...       Stop intercepting on these interfaces\n"
               "  add-port PORT...               Intercept and fastpath these TCP destination ports\n"
               "  remove-port PORT...            Stop managing these ports\n"
               "  port-mode PORT MODE            Set a port's mode: fastpath, intercept-only or trusted\n"
               "  fastpath on|off                Switch the sockmap fastpath for new connections\n"
               "  add-cgroup PATH...             Intercept only (all TCP of) these cgroups' processes\n"
               "  remove-cgroup PATH...          Unselect these cgroups\n"
               "  add-unit UNIT... [--user]      Select these systemd units' cgroups\n"
               "  run [--user] -- COMMAND...     Run COMMAND in a cgroup of its own, selected while it runs\n"
               "  add-trusted-cgroup PATH...     Trust receivers in these cgroups (trusted ports)\n"
               "  remove-trusted-cgroup PATH...  Stop trusting these cgroups\n"
               "  set-upstream URL               Relay through a proxy: direct, socks5://... or http://...\n"
               "  revert                         Drop the runtime changes: back to the configuration file\n"
               "  stats                          Show the counters\n"
               "  stats --watch                  Refresh the counters and their rates per second until Ctrl-C\n\n"
               "Options:\n"
               "  -h --help                 Show this help\n"
               "     --version              Show package version\n"
               "     --json                 Print status and stats as JSON\n"
               "     --no-ask-password      Do not ask for a password (polkit) when one is needed\n"
               "     --watch                With stats: a live view, refreshed every --interval\n"
               "     --interval=SEC         Time between refreshes (default 1; 0.5, 500ms; at least 0.1)\n"
               "     --count=N              With --watch: stop after N refreshes\n"
               "     --user                 With add-unit and run: the user's systemd, not the system's\n\n"
               "Exit status:\n"
               "  0 success                 6 over a limit (LimitExceeded)\n"
               "  1 failure (Failed, other) 7 access denied (AccessDenied)\n"
               "  2 bad command line        8 authentication required (InteractiveAuthorizationRequired)\n"
               "  3 InvalidInterfaceName    9 skfastpathd or the system bus not reachable\n"
               "  4 InvalidPort            10 InvalidCgroup\n"
               "  5 not managed (NotManaged) 11 InvalidUpstream\n"
               "\nSee the skfastpathctl(1) man page for details.\n",
               program_invocation_short_name);
}

/* What parse_sec_usec() takes, and decimal seconds. */
int parse_interval(const char *s, uint64_t *ret_usec)
{
        uint64_t sec = 0, frac = 0, scale = 1000000;
        const char *p = s;

        if (parse_sec_usec(s, ret_usec) >= 0)
                return 0;
        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++) {
                if (sec > 1000000)
                        return -ERANGE;
                sec = sec * 10 + (uint64_t) (*p - '0');
        }
        if (*p++ != '.' || !isdigit((unsigned char) *p))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++)
                if (scale > 1) {
                        scale /= 10;
                        frac += (uint64_t) (*p - '0') * scale;
                }
        if (*p && !streq(p, "s"))
                return -EINVAL;
        *ret_usec = sec * 1000000 + frac;
        return 0;
}

static int parse_options(int argc, char *argv[], CtlOptions *o)
{
        enum { ARG_VERSION = 0x100, ARG_JSON, ARG_NO_ASK_PASSWORD, ARG_WATCH, ARG_INTERVAL, ARG_COUNT, ARG_USER };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD },
                { "watch", no_argument, NULL, ARG_WATCH },
                { "interval", required_argument, NULL, ARG_INTERVAL },
                { "count", required_argument, NULL, ARG_COUNT },
                { "user", no_argument, NULL, ARG_USER },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("skfastpathctl %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_JSON:
                        o->json = true;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        o->ask_password = false;
                        break;
                case ARG_USER:
                        o->user = true;
                        break;
                case ARG_WATCH:
                        o->watch = true;
                        break;
                case ARG_INTERVAL:
                        if (parse_interval(optarg, &o->interval_usec) < 0 ||
                            o->interval_usec < WATCH_INTERVAL_MIN_USEC) {
                                log_error("Invalid --interval=%s: expected seconds, at least 0.1 (0.5, 2, 500ms).",
                                          optarg);
                                return -EINVAL;
                        }
                        o->interval_given = true;
                        break;
                case ARG_COUNT:
                        if (parse_uint32(optarg, &o->count) < 0 || o->count == 0) {
                                log_error("Invalid --count=%s: expected a number of refreshes, at least 1.", optarg);
                                return -EINVAL;
                        }
                        o->count_given = true;
                        break;
                default:
                        return -EINVAL;
                }
        return 1;
}

int ctl_parse_argv(int argc, char *argv[], CtlOptions *o, const Verb **ret_verb, char ***ret_args,
                   size_t *ret_n_args)
{
        const Verb *verb;
        const char *name;
        size_t n_args;
        int r;

        r = parse_options(argc, argv, o);
        if (r <= 0)
                return r;

        name = optind < argc ? argv[optind] : "status";
        n_args = optind < argc ? (size_t) (argc - optind - 1) : 0;
        verb = verb_find(name);
        if (!verb) {
                log_error("Unknown command '%s'; see %s --help.", name, program_invocation_short_name);
                return -EINVAL;
        }
        if (n_args < verb->min_args || n_args > verb->max_args) {
                log_error("Wrong number of arguments for '%s'; see %s --help.", name,
                          program_invocation_short_name);
                return -EINVAL;
        }
        if (o->user && !streq(name, "add-unit") && !streq(name, "run")) {
                log_error("--user is for the add-unit and run commands only.");
                return -EINVAL;
        }
        if (o->watch && !streq(name, "stats")) {
                log_error("--watch is for the stats command only.");
                return -EINVAL;
        }
        if (!o->watch && (o->interval_given || o->count_given)) {
                log_error("--interval= and --count= need --watch.");
                return -EINVAL;
        }
        if (o->watch && o->json) {
                log_error("--json cannot be combined with --watch; run stats --json in a loop instead.");
                return -EINVAL;
        }

        *ret_verb = verb;
        *ret_args = argv + optind + (optind < argc);
        *ret_n_args = n_args;
        return 1;
}
