/* SPDX-License-Identifier: GPL-2.0-or-later */
/* skfastpathctl: the command line client of org.skfastpath1 on the system bus. The verbs are in
 * options.c's table; each file here does one job (bus calls, status, stats, the watch loop, the
 * password agent). */
#include <stdio.h>

#include "agent.h"
#include "bus-error.h"
#include "ctl.h"
#include "util.h"

/* An administrator typing a password takes longer than the default 25 s. */
#define INTERACTIVE_TIMEOUT_USEC (300 * 1000000ULL)

static int run(int argc, char *argv[])
{
        CtlOptions o = CTL_OPTIONS_DEFAULT;
        sd_bus *bus = NULL;
        pid_t agent = 0;
        const Verb *verb = NULL;
        size_t n_args = 0;
        char **args = NULL;
        int r;

        log_set_prefix(false);
        r = ctl_parse_argv(argc, argv, &o, &verb, &args, &n_args);
        if (r <= 0)
                return r < 0 ? SKFP_EXIT_USAGE : SKFP_EXIT_SUCCESS;

        (void) sd_bus_error_add_map(skfastpath_error_map);
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_error_errno(r, "Failed to connect to the system bus at %s (is dbus-daemon running?): %m",
                                bus_system_address());
                return SKFP_EXIT_UNREACHABLE;
        }
        (void) sd_bus_set_allow_interactive_authorization(bus, o.ask_password);
        if (o.ask_password)
                (void) sd_bus_set_method_call_timeout(bus, INTERACTIVE_TIMEOUT_USEC);

        if (o.ask_password && verb->needs_polkit)
                agent = agent_open();

        r = verb->run(bus, args, n_args, &o);

        agent_close(agent);
        sd_bus_flush_close_unref(bus);
        return r;
}

int main(int argc, char *argv[])
{
        return run(argc, argv);
}
