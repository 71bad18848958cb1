/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The config parser: defaults, every key, and every kind of bad input with its line number. */
#include <sys/mman.h>

#include "config.h"
#include "tests.h"
#include "util.h"

/* Parses text as "t.conf"; returns the parser's result and what it logged. */
static int parse_text(Config *c, const char *text, char *log, size_t log_size)
{
        FILE *f = fmemopen((void *) text, strlen(text), "r");
        int saved = dup(STDERR_FILENO), mfd = memfd_create("log", 0), r;
        ssize_t n;

        fflush(stderr);
        dup2(mfd, STDERR_FILENO);
        r = config_parse(c, f, "t.conf");
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        fclose(f);
        n = pread(mfd, log, log_size - 1, 0);
        log[n > 0 ? n : 0] = 0;
        close(mfd);
        return r;
}

/* Asserts that text fails with exactly this message (after the "<3>" priority prefix). */
#define ASSERT_PARSE_ERROR(text, message)                                                   \
        do {                                                                                \
                Config _c;                                                                  \
                char _log[1024];                                                            \
                config_init(&_c);                                                           \
                int _r = parse_text(&_c, (text), _log, sizeof(_log));                       \
                config_done(&_c);                                                           \
                ASSERT(_r < 0);                                                             \
                ASSERT_STREQ(_log, "<3>" message "\n");                                     \
        } while (0)

static void test_defaults(void)
{
        Config c;

        config_init(&c);
        ASSERT_EQ(c.listen_port, 15001);
        ASSERT(c.relay);
        ASSERT(c.fastpath);
        ASSERT_EQ(c.max_sockets, 65536u);
        /* well below the unit's TimeoutStopSec=30s */
        ASSERT_EQ(c.stop_timeout_usec, 5000000u);
        ASSERT_EQ(c.n_ports, 0u);
        ASSERT_EQ(c.n_interfaces, 0u);
        ASSERT(c.mark != c.bypass_mark);
        config_done(&c);
}

static void test_missing_file_means_defaults(void)
{
        Config c;

        config_init(&c);
        ASSERT_EQ(config_load(&c, "/nonexistent/skfastpathd.conf", true), 0);
        ASSERT_EQ(c.listen_port, 15001);
        ASSERT(config_load(&c, "/nonexistent/skfastpathd.conf", false) < 0);
        config_done(&c);
}

static void test_every_key(void)
{
        static const char text[] =
                "# a comment\n"
                "; another\n"
                "\n"
                "[Intercept]\n"
                "Interfaces = eth0 wg0\n"
                "Interfaces=wlan0\n"
                "Ports=80 443\n"
                "InterceptOnlyPorts=5201\n"
                "Mark=0x100\n"
                "BypassMark=512\n"
                "RoutingTable=100\n"
                "RulePriority=90\n"
                "[Listener]\n"
                "ListenPort=12345\n"
                "Relay=no\n"
                "ConnectTimeoutSec=500ms\n"
                "BufferSize=128K\n"
                "MaxConnections=10\n"
                "StopTimeoutSec=2\n"
                "[Fastpath]\n"
                "Fastpath=off\n"
                "CgroupPath=/sys/fs/cgroup/unified/test\n"
                "MaxSockets=100\n"
                "PassLargeWrites=64K\n"
                "[Manager]\n"
                "MaxPorts=10\n"
                "MaxInterfaces=4\n"
                "StateDirectory=/tmp/state\n"
                "PinDirectory=/sys/fs/bpf/skfastpath/t\n"
                "LogLevel=debug\n";
        Config c;
        char log[1024];

        config_init(&c);
        ASSERT_EQ(parse_text(&c, text, log, sizeof(log)), 0);
        ASSERT_STREQ(log, "");
        ASSERT_EQ(c.n_interfaces, 3u);
        ASSERT_STREQ(c.interfaces[0], "eth0");
        ASSERT_STREQ(c.interfaces[2], "wlan0");
        ASSERT_EQ(c.n_ports, 3u);
        ASSERT_EQ(c.ports[0].port, 80);
        ASSERT_EQ(c.ports[0].mode, PORT_MODE_FASTPATH);
        ASSERT_EQ(c.ports[2].port, 5201);
        ASSERT_EQ(c.ports[2].mode, PORT_MODE_INTERCEPT_ONLY);
        ASSERT_EQ(c.mark, 0x100u);
        ASSERT_EQ(c.bypass_mark, 512u);
        ASSERT_EQ(c.routing_table, 100u);
        ASSERT_EQ(c.rule_priority, 90u);
        ASSERT_EQ(c.listen_port, 12345);
        ASSERT(!c.relay);
        ASSERT_EQ(c.connect_timeout_usec, 500000u);
        ASSERT_EQ(c.stop_timeout_usec, 2000000u);
        ASSERT_EQ(c.buffer_size, 131072u);
        ASSERT_EQ(c.max_connections, 10u);
        ASSERT(!c.fastpath);
        ASSERT_STREQ(c.cgroup_path, "/sys/fs/cgroup/unified/test");
        ASSERT_EQ(c.max_sockets, 100u);
        ASSERT_EQ(c.pass_large_writes, 65536u);
        ASSERT_EQ(c.max_ports, 10u);
        ASSERT_EQ(c.max_interfaces, 4u);
        ASSERT_STREQ(c.state_directory, "/tmp/state");
        ASSERT_STREQ(c.pin_directory, "/sys/fs/bpf/skfastpath/t");
        ASSERT_EQ(c.log_level, LOG_LEVEL_DEBUG);
        config_done(&c);
}

static void test_empty_assignment_resets_list(void)
{
        Config c;
        char log[256];

        config_init(&c);
        ASSERT_EQ(parse_text(&c, "[Intercept]\nPorts=1 2 3\nInterceptOnlyPorts=9\nPorts=\nPorts=7\n", log,
                          sizeof(log)), 0);
        ASSERT_EQ(c.n_ports, 2u);
        ASSERT_EQ(c.ports[0].port, 7);
        ASSERT_EQ(c.ports[1].port, 9);
        config_done(&c);
}

static void test_trusted_ports_and_cgroups(void)
{
        Config c;
        char log[256];

        config_init(&c);
        ASSERT_EQ(parse_text(&c, "[Intercept]\nPorts=80 443\nTrustedPorts=8080 443\n"
                                 "[Fastpath]\nTrustedCgroups=/system.slice/a.service /b\nTrustedCgroups=/c\n",
                             log, sizeof(log)), 0);
        ASSERT_EQ(c.n_ports, 3u);
        ASSERT_EQ(config_find_port(&c, 80)->mode, PORT_MODE_FASTPATH);
        ASSERT_EQ(config_find_port(&c, 443)->mode, PORT_MODE_TRUSTED);  /* the later assignment */
        ASSERT_EQ(config_find_port(&c, 8080)->mode, PORT_MODE_TRUSTED);
        ASSERT_EQ(c.n_trusted_cgroups, 3u);
        ASSERT_STREQ(c.trusted_cgroups[2], "/c");
        ASSERT_EQ(parse_text(&c, "[Intercept]\nTrustedPorts=\n[Fastpath]\nTrustedCgroups=\n", log, sizeof(log)), 0);
        ASSERT_EQ(c.n_ports, 1u);
        ASSERT_EQ(c.n_trusted_cgroups, 0u);
        config_done(&c);

        ASSERT_STREQ(port_mode_to_string(PORT_MODE_INTERCEPT_ONLY), "intercept-only");
        ASSERT_EQ(port_mode_from_string("trusted"), PORT_MODE_TRUSTED);
        ASSERT_EQ(port_mode_from_string("Trusted"), -EINVAL);
        ASSERT(cgroup_path_valid("/"));
        ASSERT(cgroup_path_valid("/system.slice/nginx.service"));
        ASSERT(!cgroup_path_valid(""));
        ASSERT(!cgroup_path_valid("system.slice"));
        ASSERT(!cgroup_path_valid("/a/"));
        ASSERT(!cgroup_path_valid("/a//b"));
        ASSERT(!cgroup_path_valid("/a/./b"));
        ASSERT(!cgroup_path_valid("/a/../b"));
        ASSERT(!cgroup_path_valid("/a b"));
        ASSERT(!cgroup_path_valid("/a\nb"));
        ASSERT_PARSE_ERROR("[Fastpath]\nTrustedCgroups=/a ../b\n",
                "t.conf:2: invalid value '/a ../b' for TrustedCgroups=: expected absolute, normalised cgroup "
                "paths below the cgroup2 root");
}

static void test_unknown_key(void)
{
        ASSERT_PARSE_ERROR("[Intercept]\nPorts=80\n\n\n\n\n\n\n\n\n\nProts=443\n",
                "t.conf:12: unknown key 'Prots' in [Intercept]");
}

static void test_unknown_section(void)
{
        ASSERT_PARSE_ERROR("[Intercept]\nPorts=80\n[Interception]\n", "t.conf:3: unknown section [Interception]");
}

static void test_bad_section_header(void)
{
        ASSERT_PARSE_ERROR("\n[Intercept\n", "t.conf:2: invalid section header '[Intercept'");
        ASSERT_PARSE_ERROR("[]\n", "t.conf:1: invalid section header '[]'");
}

static void test_key_outside_section(void)
{
        ASSERT_PARSE_ERROR("# x\nPorts=80\n", "t.conf:2: key 'Ports' outside of a section");
}

static void test_line_without_equals(void)
{
        ASSERT_PARSE_ERROR("[Listener]\nRelay\n", "t.conf:2: expected Key=Value, got 'Relay'");
}

static void test_bad_values(void)
{
        ASSERT_PARSE_ERROR("[Intercept]\nPorts=80 0\n",
                "t.conf:2: invalid value '80 0' for Ports=: expected ports from 1 to 65535");
        ASSERT_PARSE_ERROR("[Intercept]\nPorts=65536\n",
                "t.conf:2: invalid value '65536' for Ports=: expected ports from 1 to 65535");
        ASSERT_PARSE_ERROR("[Intercept]\nInterfaces=eth0 a/b\n",
                "t.conf:2: invalid value 'eth0 a/b' for Interfaces=: expected interface names (1-15 "
                "printable bytes, no '/', ':' or spaces)");
        ASSERT_PARSE_ERROR("[Intercept]\nInterfaces=abcdefghijklmnop\n",
                "t.conf:2: invalid value 'abcdefghijklmnop' for Interfaces=: expected interface names "
                "(1-15 printable bytes, no '/', ':' or spaces)");
        /* the rule of AddInterface(): lo is where intercepted connections are delivered */
        ASSERT_PARSE_ERROR("[Intercept]\nInterfaces=eth0\nInterfaces=wg0 lo\n",
                "t.conf:3: invalid value 'wg0 lo' for Interfaces=: expected interface names other than lo "
                "(where intercepted connections are delivered)");
        ASSERT_PARSE_ERROR("[Intercept]\nMark=0\n",
                "t.conf:2: invalid value '0' for Mark=: expected a non-zero 32-bit mark");
        ASSERT_PARSE_ERROR("[Intercept]\nRoutingTable=254\n",
                "t.conf:2: invalid value '254' for RoutingTable=: expected a routing table number other "
                "than 0, 253, 254 and 255");
        ASSERT_PARSE_ERROR("[Listener]\n\nRelay=maybe\n",
                "t.conf:3: invalid value 'maybe' for Relay=: expected a boolean (yes/no)");
        ASSERT_PARSE_ERROR("[Listener]\nListenPort=-1\n",
                "t.conf:2: invalid value '-1' for ListenPort=: expected a port from 1 to 65535");
        ASSERT_PARSE_ERROR("[Listener]\nBufferSize=1K\n",
                "t.conf:2: invalid value '1K' for BufferSize=: expected a size from 4K to 64M");
        ASSERT_PARSE_ERROR("[Listener]\nConnectTimeoutSec=soon\n",
                "t.conf:2: invalid value 'soon' for ConnectTimeoutSec=: expected a time span such as 10, "
                "10s or 500ms");
        ASSERT_PARSE_ERROR("[Listener]\nStopTimeoutSec=0\n",
                "t.conf:2: invalid value '0' for StopTimeoutSec=: expected a time span such as 10, "
                "10s or 500ms");
        ASSERT_PARSE_ERROR("[Fastpath]\nMaxSockets=0\n",
                "t.conf:2: invalid value '0' for MaxSockets=: expected a number from 1 to 4294967295");
        ASSERT_PARSE_ERROR("[Fastpath]\nMaxSockets=4294967296\n",
                "t.conf:2: invalid value '4294967296' for MaxSockets=: expected a number from 1 to "
                "4294967295");
        ASSERT_PARSE_ERROR("[Fastpath]\nCgroupPath=relative/path\n",
                "t.conf:2: invalid value 'relative/path' for CgroupPath=: expected an absolute path");
        ASSERT_PARSE_ERROR("[Fastpath]\nCgroupPath=/sys/fs/cgroup/../x\n",
                "t.conf:2: invalid value '/sys/fs/cgroup/../x' for CgroupPath=: expected an absolute path");
        ASSERT_PARSE_ERROR("[Manager]\nPinDirectory=/sys/fs/bpf/..\n",
                "t.conf:2: invalid value '/sys/fs/bpf/..' for PinDirectory=: expected an absolute path");
        ASSERT_PARSE_ERROR("[Manager]\nLogLevel=loud\n",
                "t.conf:2: invalid value 'loud' for LogLevel=: expected err, warning, notice, info or debug");
}

static void test_interface_rule(void)
{
        Config c;

        ASSERT(config_interface_invalid_reason("lo"));
        ASSERT(config_interface_invalid_reason("a/b"));
        ASSERT(config_interface_invalid_reason(""));
        ASSERT(!config_interface_invalid_reason("lo0"));
        ASSERT(!config_interface_invalid_reason("eth0"));
        config_init(&c);
        ASSERT_EQ(config_add_interface(&c, "lo"), -EINVAL);
        ASSERT_EQ(c.n_interfaces, 0u);
        config_done(&c);
}

static void test_bad_value_changes_nothing(void)
{
        Config c;
        char log[512];

        config_init(&c);
        ASSERT(parse_text(&c, "[Intercept]\nPorts=80\nPorts=81 0 82\n", log, sizeof(log)) < 0);
        ASSERT_EQ(c.n_ports, 1u);
        ASSERT_EQ(c.ports[0].port, 80);
        config_done(&c);
}

static void test_inconsistent(void)
{
        ASSERT_PARSE_ERROR("[Intercept]\nMark=5\nBypassMark=5\n",
                "t.conf: Mark= and BypassMark= must differ (both 0x5)");
        ASSERT_PARSE_ERROR("[Manager]\nMaxPorts=1\n[Intercept]\nPorts=1 2\n",
                "t.conf: 2 ports configured, more than MaxPorts=1");
}

static void test_known_keys_match_parser(void)
{
        /* every listed key parses (an empty value is valid or a clear value error, never "unknown") */
        for (const char *const *k = config_known_keys; *k; k++) {
                char text[256], log[512], section[64];
                const char *dot = strchr(*k, '.');
                Config c;

                ASSERT(dot);
                snprintf(section, sizeof(section), "%.*s", (int) (dot - *k), *k);
                snprintf(text, sizeof(text), "[%s]\n%s=x\n", section, dot + 1);
                config_init(&c);
                (void) parse_text(&c, text, log, sizeof(log));
                config_done(&c);
                ASSERT(!strstr(log, "unknown"));
        }
}

int main(void)
{
        log_set_prefix(true);
        RUN(test_defaults);
        RUN(test_missing_file_means_defaults);
        RUN(test_every_key);
        RUN(test_empty_assignment_resets_list);
        RUN(test_trusted_ports_and_cgroups);
        RUN(test_unknown_key);
        RUN(test_unknown_section);
        RUN(test_bad_section_header);
        RUN(test_key_outside_section);
        RUN(test_line_without_equals);
        RUN(test_bad_values);
        RUN(test_interface_rule);
        RUN(test_bad_value_changes_nothing);
        RUN(test_inconsistent);
        RUN(test_known_keys_match_parser);
        TESTS_DONE();
}
