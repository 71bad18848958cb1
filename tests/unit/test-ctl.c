/* SPDX-License-Identifier: GPL-2.0-or-later */
/* skfastpathctl without a bus: the verb table, the command line, the argument checks and what
 * status prints for the daemon's properties. */
#include <getopt.h>

#include "bus-error.h"
#include "ctl.h"
#include "status.h"
#include "tests.h"
#include "util.h"

/* Parses a command line given as a NULL-terminated list; getopt starts over each time. */
static int parse(CtlOptions *o, const Verb **verb, char ***args, size_t *n, ...)
{
        static char *argv[16];
        va_list ap;
        int argc = 0;

        argv[argc++] = (char *) "skfastpathctl";
        va_start(ap, n);
        for (char *a; (a = va_arg(ap, char *)) && argc < (int) ELEMENTSOF(argv) - 1;)
                argv[argc++] = a;
        va_end(ap);
        argv[argc] = NULL;
        optind = 0;
        *o = CTL_OPTIONS_DEFAULT;
        *verb = NULL;
        return ctl_parse_argv(argc, argv, o, verb, args, n);
}

static void test_verb_table(void)
{
        /* the names --help and the man page list, each once, and which ones change something */
        static const char *const reading[] = { "status", "stats" };
        static const char *const changing[] = { "add-interface", "remove-interface", "add-port", "remove-port",
                                                "port-mode", "fastpath", "add-trusted-cgroup",
                                                "remove-trusted-cgroup", "set-upstream", "revert", "add-cgroup",
                                                "remove-cgroup", "add-unit", "run" };

        ASSERT_EQ(ctl_n_verbs, ELEMENTSOF(reading) + ELEMENTSOF(changing));
        for (size_t i = 0; i < ELEMENTSOF(reading); i++) {
                ASSERT(verb_find(reading[i]));
                ASSERT(!verb_find(reading[i])->needs_polkit);
        }
        for (size_t i = 0; i < ELEMENTSOF(changing); i++) {
                ASSERT(verb_find(changing[i]));
                ASSERT(verb_find(changing[i])->needs_polkit);
        }
        for (size_t i = 0; i < ctl_n_verbs; i++) {
                ASSERT(ctl_verbs[i].run);
                ASSERT(ctl_verbs[i].min_args <= ctl_verbs[i].max_args);
                ASSERT(verb_find(ctl_verbs[i].name) == &ctl_verbs[i]);
        }
        ASSERT(!verb_find("Status"));
        ASSERT(!verb_find(""));
}

static void test_verb_arguments(void)
{
        CtlOptions o;
        const Verb *v;
        char **args;
        size_t n;

        ASSERT_EQ(parse(&o, &v, &args, &n, NULL), 1);
        ASSERT_STREQ(v->name, "status");    /* the default */
        ASSERT_EQ(n, 0u);
        ASSERT_EQ(parse(&o, &v, &args, &n, "status", "x", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "frobnicate", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "add-port", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "add-port", "80", "443", "8080", NULL), 1);
        ASSERT_STREQ(v->name, "add-port");
        ASSERT_EQ(n, 3u);
        ASSERT_STREQ(args[0], "80");
        ASSERT_STREQ(args[2], "8080");
        ASSERT_EQ(parse(&o, &v, &args, &n, "port-mode", "80", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "port-mode", "80", "trusted", "x", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "port-mode", "80", "trusted", NULL), 1);
        ASSERT_EQ(v->run, verb_port_mode);
        ASSERT_STREQ(args[1], "trusted");
        ASSERT_EQ(parse(&o, &v, &args, &n, "revert", NULL), 1);
        ASSERT_EQ(v->run, verb_revert);
        ASSERT_EQ(parse(&o, &v, &args, &n, "revert", "now", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "fastpath", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "fastpath", "on", "off", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "add-trusted-cgroup", "/a.slice", "/b.slice", NULL), 1);
        ASSERT_EQ(v->run, verb_add_trusted_cgroup);
        ASSERT_EQ(n, 2u);
        ASSERT_EQ(parse(&o, &v, &args, &n, "remove-trusted-cgroup", NULL), -EINVAL);
}

static void test_options(void)
{
        CtlOptions o;
        const Verb *v;
        char **args;
        size_t n;

        ASSERT_EQ(parse(&o, &v, &args, &n, "--no-ask-password", "add-interface", "wg0", NULL), 1);
        ASSERT(!o.ask_password);
        ASSERT_STREQ(args[0], "wg0");
        ASSERT_EQ(parse(&o, &v, &args, &n, "--json", "stats", NULL), 1);
        ASSERT(o.json && !o.watch);
        ASSERT_EQ(parse(&o, &v, &args, &n, "stats", "--watch", "--interval=0.5", "--count=3", NULL), 1);
        ASSERT(o.watch);
        ASSERT_EQ(o.interval_usec, 500000u);
        ASSERT_EQ(o.count, 3u);
        ASSERT_EQ(parse(&o, &v, &args, &n, "--watch", "status", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "--interval=2", "stats", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "--count=2", "stats", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "--watch", "--json", "stats", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "--watch", "--interval=0.05", "stats", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "--watch", "--count=0", "stats", NULL), -EINVAL);
        ASSERT_EQ(parse(&o, &v, &args, &n, "--bogus", NULL), -EINVAL);
}

static void test_intervals(void)
{
        uint64_t u;

        ASSERT(parse_interval("0.2", &u) == 0 && u == 200000);
        ASSERT(parse_interval("1.5s", &u) == 0 && u == 1500000);
        ASSERT(parse_interval("2", &u) == 0 && u == 2000000);
        ASSERT(parse_interval("500ms", &u) == 0 && u == 500000);
        ASSERT(parse_interval("1min", &u) == 0 && u == 60000000);
        ASSERT(parse_interval("0.1234567", &u) == 0 && u == 123456);
        ASSERT(parse_interval(".5", &u) < 0);
        ASSERT(parse_interval("1.", &u) < 0);
        ASSERT(parse_interval("1.5x", &u) < 0);
        ASSERT(parse_interval("abc", &u) < 0);
}

static void test_argument_checks(void)
{
        uint16_t port;

        ASSERT(ctl_parse_port("80", &port) == 0 && port == 80);
        ASSERT(ctl_parse_port("0", &port) == 0 && port == 0);    /* the daemon names that error */
        ASSERT_EQ(ctl_parse_port("65536", &port), SKFP_EXIT_INVALID_PORT);
        ASSERT_EQ(ctl_parse_port("http", &port), SKFP_EXIT_INVALID_PORT);
        ASSERT_EQ(ctl_parse_port("", &port), SKFP_EXIT_INVALID_PORT);
        ASSERT_EQ(ctl_check_port_mode("fastpath"), 0);
        ASSERT_EQ(ctl_check_port_mode("intercept-only"), 0);
        ASSERT_EQ(ctl_check_port_mode("trusted"), 0);
        ASSERT_EQ(ctl_check_port_mode("Trusted"), SKFP_EXIT_USAGE);
        ASSERT_EQ(ctl_check_port_mode(""), SKFP_EXIT_USAGE);
        ASSERT_EQ(ctl_check_cgroup_path("/system.slice/nginx.service"), 0);
        ASSERT_EQ(ctl_check_cgroup_path(""), SKFP_EXIT_INVALID_CGROUP);
}

/* What status_print_text() or _json() write for s, in a string to free. */
static char *render(const Status *s, bool json)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        if (json)
                status_print_json(f, s);
        else
                status_print_text(f, s);
        fclose(f);
        return buf;
}

static void test_status_as_before(void)
{
        /* an older daemon, or one without runtime changes: the lines README shows, nothing more */
        StatusInterface ifs[] = { { "eth0", 2, true }, { "wg0", 0, false } };
        uint16_t ports[] = { 80, 443 };
        Status s = {
                .version = "0.1.0", .listen_address = "127.0.0.1:15001", .fastpath = true,
                .interfaces = ifs, .n_interfaces = 2, .ports = ports, .n_ports = 2,
        };
        _cleanup_free_ char *text = render(&s, false), *json = render(&s, true);

        ASSERT_STREQ(text, "       Version: 0.1.0\n"
                           " ListenAddress: 127.0.0.1:15001\n"
                           "      Fastpath: on\n"
                           "    Interfaces: eth0 (ifindex 2, attached)\n"
                           "                wg0 (absent)\n"
                           "         Ports: 80 443\n");
        ASSERT_STREQ(json, "{\"version\":\"0.1.0\",\"listen_address\":\"127.0.0.1:15001\",\"fastpath\":true,"
                           "\"interfaces\":[{\"name\":\"eth0\",\"ifindex\":2,\"attached\":true},"
                           "{\"name\":\"wg0\",\"ifindex\":0,\"attached\":false}],\"ports\":[80,443]}\n");
}

static void test_status_origins_modes_cgroups(void)
{
        StatusInterface ifs[] = { { "eth0", 2, true } };
        uint16_t ports[] = { 80, 443, 5201, 8080 };
        StatusPortMode modes[] = { { 80, "fastpath" }, { 5201, "intercept-only" }, { 8080, "trusted" } };
        StatusChange changes[] = {
                { "Ports", "8080", "added" }, { "Ports", "22", "removed" },
                { "InterceptOnlyPorts", "5201", "added" }, { "Interfaces", "eth1", "removed" },
                { "Fastpath", "off", "set" },
        };
        StatusCgroup cgroups[] = { { "/system.slice/nginx.service", 4242, true }, { "/gone.slice", 0, false } };
        Status s = {
                .version = "0.1.0", .listen_address = "127.0.0.1:15001", .fastpath = false,
                .interfaces = ifs, .n_interfaces = 1, .ports = ports, .n_ports = 4,
                .has_port_modes = true, .port_modes = modes, .n_port_modes = 3,
                .has_runtime_changes = true, .changes = changes, .n_changes = 5,
                .has_trusted_cgroups = true, .cgroups = cgroups, .n_cgroups = 2,
        };
        _cleanup_free_ char *text = render(&s, false), *json = render(&s, true);

        ASSERT_STREQ(text, "       Version: 0.1.0\n"
                           " ListenAddress: 127.0.0.1:15001\n"
                           "      Fastpath: off (runtime: set off)\n"
                           "    Interfaces: eth0 (ifindex 2, attached)\n"
                           "                (runtime: -eth1)\n"
                           "         Ports: 80 443 5201 [intercept-only] 8080 [trusted]"
                           " (runtime: +8080 -22, intercept-only +5201)\n"
                           "TrustedCgroups: /system.slice/nginx.service (id 4242)\n"
                           "                /gone.slice (absent)\n");
        ASSERT(strstr(json, ",\"port_modes\":[{\"port\":80,\"mode\":\"fastpath\"},"
                            "{\"port\":5201,\"mode\":\"intercept-only\"},{\"port\":8080,\"mode\":\"trusted\"}]"));
        ASSERT(strstr(json, ",\"runtime_changes\":[{\"setting\":\"Ports\",\"value\":\"8080\",\"change\":\"added\"},"));
        ASSERT(strstr(json, ",\"trusted_cgroups\":[{\"path\":\"/system.slice/nginx.service\",\"id\":4242,"
                            "\"present\":true},{\"path\":\"/gone.slice\",\"id\":0,\"present\":false}]}\n"));

        /* only intercept-only changes: no comma before the label */
        s.n_changes = 0;
        s.changes = &changes[2];
        s.n_changes = 1;
        free(text);
        text = render(&s, false);
        ASSERT(strstr(text, "         Ports: 80 443 5201 [intercept-only] 8080 [trusted]"
                            " (runtime: intercept-only +5201)\n"));
        ASSERT(!strstr(text, "Fastpath: off ("));
}

int main(void)
{
        RUN(test_verb_table);
        RUN(test_verb_arguments);
        RUN(test_options);
        RUN(test_intervals);
        RUN(test_argument_checks);
        RUN(test_status_as_before);
        RUN(test_status_origins_modes_cgroups);
        TESTS_DONE();
}
