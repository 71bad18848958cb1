/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <getopt.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <bpf/libbpf.h>

#include "bpf-util.h"
#include "config.h"
#include "manager.h"
#include "util.h"

static const char *arg_config = DEFAULT_CONFIG_FILE;
static bool arg_config_given;

static void help(void)
{
        printf("%s [OPTIONS...]\n\n"
               "Steers chosen TCP traffic into a transparent proxy and short-cuts local hops.\n\n"
               "  -h --help            Show this help\n"
               "     --version         Show package version\n"
               "  -c --config=PATH     Configuration file (default: %s)\n"
               "\nSee the skfastpathd(8) man page for details.\n",
               program_invocation_short_name, DEFAULT_CONFIG_FILE);
}

static int parse_argv(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100 };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, 'c' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "hc:", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("skfastpathd %s\n", PACKAGE_VERSION);
                        return 0;
                case 'c':
                        arg_config = optarg;
                        arg_config_given = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "%s takes no arguments.", program_invocation_short_name);
        return 1;
}

static int run(int argc, char *argv[])
{
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(config_done) Config config;
        int r;

        config_init(&config);
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        /* The default file may be absent (built-in defaults); a file named on the command line may not. */
        r = config_load(&config, arg_config, !arg_config_given);
        if (r < 0)
                return r;
        log_set_max_level(config.log_level);
        /* one print policy for every room that loads BPF objects (bpf-util.h) */
        libbpf_set_print(bpf_libbpf_print);

        r = manager_new(&m, &config, arg_config);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate manager: %m");

        r = manager_start(m);
        if (r < 0)
                return r;

        (void) sd_notify(false, "READY=1\nSTATUS=Running.");
        log_info("skfastpathd %s running.", PACKAGE_VERSION);

        r = sd_event_loop(m->event);
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down...");
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");

        manager_stop(m);
        return 0;
}

int main(int argc, char *argv[])
{
        int r = run(argc, argv);

        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
