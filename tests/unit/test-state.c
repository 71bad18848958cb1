/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The state file: round trips, every kind of corruption with its line, atomic save, and a
 * corrupt or unusable file kept aside while the config stays as it was. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "config.h"
#include "state.h"
#include "tests.h"
#include "util.h"

static char log_buf[4096];

/* Runs state_parse() on text as "t"; what it logged lands in log_buf. */
static int parse_text(Config *c, const char *text)
{
        FILE *f = fmemopen((void *) text, strlen(text), "r");
        int saved = dup(STDERR_FILENO), mfd = memfd_create("log", 0), r;
        ssize_t n;

        fflush(stderr);
        dup2(mfd, STDERR_FILENO);
        r = state_parse(f, "t", c);
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        fclose(f);
        n = pread(mfd, log_buf, sizeof(log_buf) - 1, 0);
        log_buf[n > 0 ? n : 0] = 0;
        close(mfd);
        return r;
}

static char *serialize(const Config *c)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (state_serialize(f, c) < 0) {
                fclose(f);
                free(buf);
                return NULL;
        }
        fclose(f);
        return buf;
}

#define GOOD "Version=1\nInterfaces=eth0\nPorts=80\nInterceptOnlyPorts=\nFastpath=yes\n"

/* text must fail with exactly message, and leave the config alone */
#define ASSERT_CORRUPT(text, message)                                                       \
        do {                                                                                \
                Config _c;                                                                  \
                config_init(&_c);                                                           \
                config_add_port(&_c, 9, PORT_MODE_FASTPATH);                                \
                int _r = parse_text(&_c, (text));                                           \
                bool _same = _c.n_ports == 1 && _c.ports[0].port == 9 && _c.n_interfaces == 0; \
                config_done(&_c);                                                           \
                ASSERT_EQ(_r, -EBADMSG);                                                    \
                ASSERT_STREQ(log_buf, "<3>" message "\n");                                  \
                ASSERT(_same);                                                              \
        } while (0)

static void test_state_round_trip(void)
{
        Config c, d;
        _cleanup_free_ char *text = NULL, *again = NULL;

        config_init(&c);
        config_add_interface(&c, "wg0");
        config_add_interface(&c, "eth0");
        config_add_port(&c, 443, PORT_MODE_FASTPATH);
        config_add_port(&c, 80, PORT_MODE_FASTPATH);
        config_add_port(&c, 5201, PORT_MODE_INTERCEPT_ONLY);
        c.fastpath = false;
        text = serialize(&c);
        ASSERT(text);
        ASSERT(strstr(text, "\nVersion=1\nInterfaces=wg0 eth0\nPorts=80 443\nInterceptOnlyPorts=5201\nFastpath=no\n"));

        config_init(&d);
        ASSERT_EQ(parse_text(&d, text), 0);
        ASSERT_STREQ(log_buf, "");
        ASSERT_EQ(d.n_interfaces, 2u);
        ASSERT_STREQ(d.interfaces[0], "wg0");
        ASSERT_STREQ(d.interfaces[1], "eth0");
        ASSERT_EQ(d.n_ports, 3u);
        ASSERT(config_find_port(&d, 5201)->mode == PORT_MODE_INTERCEPT_ONLY);
        ASSERT(config_find_port(&d, 80)->mode == PORT_MODE_FASTPATH);
        ASSERT(!d.fastpath);
        again = serialize(&d);
        ASSERT_STREQ(again, text);
        config_done(&c);
        config_done(&d);
}

static void test_state_empty_sets(void)
{
        Config c;

        config_init(&c);
        config_add_port(&c, 9, PORT_MODE_FASTPATH);
        config_add_interface(&c, "eth9");
        ASSERT_EQ(parse_text(&c, "# x\n\nVersion=1\nInterfaces=\nPorts=\nInterceptOnlyPorts=\nFastpath=on\n"), 0);
        ASSERT_EQ(c.n_ports, 0u);
        ASSERT_EQ(c.n_interfaces, 0u);
        ASSERT(c.fastpath);
        config_done(&c);
}

static void test_state_only_touches_its_keys(void)
{
        Config c;

        config_init(&c);
        c.listen_port = 4242;
        c.max_ports = 7;
        ASSERT_EQ(parse_text(&c, GOOD), 0);
        ASSERT_EQ(c.listen_port, 4242);
        ASSERT_EQ(c.max_ports, 7u);
        ASSERT_STREQ(c.interfaces[0], "eth0");
        config_done(&c);
}

static void test_state_corrupt_lines(void)
{
        ASSERT_CORRUPT("", "t:0: Version= is missing (truncated file?)");
        ASSERT_CORRUPT("Version=1\nInterfaces=eth0\nPorts=80\n",
                "t:3: InterceptOnlyPorts= is missing (truncated file?)");
        ASSERT_CORRUPT("Interfaces=eth0\n", "t:1: expected Version= before Interfaces=");
        ASSERT_CORRUPT("Version=2\n", "t:1: unsupported state version '2' (expected 1)");
        ASSERT_CORRUPT("Version=one\n", "t:1: unsupported state version 'one' (expected 1)");
        ASSERT_CORRUPT("Version=1\nPorts=80\nColour=blue\n", "t:3: unknown key 'Colour'");
        ASSERT_CORRUPT("Version=1\nPorts=80\nPorts=81\n", "t:3: Ports= given twice (first on line 2)");
        ASSERT_CORRUPT("Version=1\njunk\n", "t:2: expected Key=Value, got 'junk'");
        ASSERT_CORRUPT("Version=1\nInterfaces=eth0 a/b\n", "t:2: interface name 'a/b' contains '/'");
        ASSERT_CORRUPT("Version=1\nInterfaces=abcdefghijklmnop\n",
                "t:2: interface name 'abcdefghijklmnop' is longer than 15 bytes");
        ASSERT_CORRUPT("Version=1\nInterfaces=..\n", "t:2: interface name '..' is '.' or '..'");
        ASSERT_CORRUPT("Version=1\nInterfaces=a\x01z\n",
                "t:2: interface name 'a\\x01z' contains a non-printable or non-ASCII byte");
        ASSERT_CORRUPT("Version=1\nInterfaces=eth0 eth0\n", "t:2: interface eth0 listed twice");
        ASSERT_CORRUPT("Version=1\nPorts=0\n", "t:2: '0' is not a port from 1 to 65535");
        ASSERT_CORRUPT("Version=1\nPorts=65536\n", "t:2: '65536' is not a port from 1 to 65535");
        ASSERT_CORRUPT("Version=1\nPorts=http\n", "t:2: 'http' is not a port from 1 to 65535");
        ASSERT_CORRUPT("Version=1\nPorts=80\nInterceptOnlyPorts=80\n", "t:3: port 80 listed twice");
        ASSERT_CORRUPT("Version=1\nFastpath=maybe\n", "t:2: Fastpath= expects yes or no, got 'maybe'");
}

static void test_state_nul_byte(void)
{
        static const char text[] = "Version=1\nPorts=8\0" "0\n";
        Config c;
        FILE *f;
        int saved, mfd, r;

        config_init(&c);
        f = fmemopen((void *) text, sizeof(text) - 1, "r");
        saved = dup(STDERR_FILENO);
        mfd = memfd_create("log", 0);
        fflush(stderr);
        dup2(mfd, STDERR_FILENO);
        r = state_parse(f, "t", &c);
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        close(mfd);
        fclose(f);
        config_done(&c);
        ASSERT_EQ(r, -EBADMSG);
}

static char *make_tmpdir(void)
{
        char *d = strdup("/tmp/skfp-test-state.XXXXXX");

        if (!d || !mkdtemp(d)) {
                free(d);
                return NULL;
        }
        return d;
}

static void rm_rf(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        char p[512];

                        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                        if (de->d_type == DT_DIR)
                                rm_rf(p);
                        else
                                unlink(p);
                }
        closedir(d);
        rmdir(dir);
}

/* how many names in dir start with prefix */
static int count_entries(const char *dir, const char *prefix)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        if (!d)
                return -1;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
                        n++;
        closedir(d);
        return n;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

static void test_state_save_and_load(void)
{
        _cleanup_free_ char *dir = make_tmpdir(), *sub = NULL, *path = NULL;
        struct stat st;
        Config c, d;

        ASSERT(dir);
        ASSERT(asprintf(&sub, "%s/a/b", dir) > 0);
        ASSERT(asprintf(&path, "%s/state", sub) > 0);
        config_init(&c);
        config_add_interface(&c, "wg0");
        config_add_port(&c, 8080, PORT_MODE_FASTPATH);
        c.fastpath = false;
        ASSERT_EQ(state_save(sub, &c), 0);         /* creates the missing directories */
        ASSERT_EQ(stat(path, &st), 0);
        ASSERT_EQ(st.st_mode & 07777, 0644u);
        ASSERT_EQ(count_entries(sub, "."), 2);     /* . and ..: no temporary file left */

        config_init(&d);
        config_add_port(&d, 22, PORT_MODE_FASTPATH);
        d.listen_port = 1234;
        ASSERT_EQ(state_load(sub, &d), 1);
        ASSERT_EQ(d.n_ports, 1u);
        ASSERT_EQ(d.ports[0].port, 8080);
        ASSERT_EQ(d.n_interfaces, 1u);
        ASSERT(!d.fastpath);
        ASSERT_EQ(d.listen_port, 1234);

        /* a second save replaces the first */
        config_add_port(&c, 8081, PORT_MODE_FASTPATH);
        ASSERT_EQ(state_save(sub, &c), 0);
        config_done(&d);
        config_init(&d);
        ASSERT_EQ(state_load(sub, &d), 1);
        ASSERT_EQ(d.n_ports, 2u);
        config_done(&c);
        config_done(&d);
        rm_rf(dir);
}

/* TrustedPorts= and TrustedCgroups= round trip; a file without them (older versions) keeps the
 * config file's trusted ports and cgroups. */
static void test_state_trusted(void)
{
        _cleanup_free_ char *dir = make_tmpdir(), *path = NULL;
        Config c, d;

        ASSERT(dir);
        config_init(&c);
        config_add_port(&c, 80, PORT_MODE_FASTPATH);
        config_add_port(&c, 8080, PORT_MODE_TRUSTED);
        config_add_trusted_cgroup(&c, "/system.slice/a.service");
        ASSERT_EQ(state_save(dir, &c), 0);
        config_init(&d);
        ASSERT_EQ(state_load(dir, &d), 1);
        ASSERT_EQ(d.n_ports, 2u);
        ASSERT_EQ(config_find_port(&d, 8080)->mode, PORT_MODE_TRUSTED);
        ASSERT_EQ(d.n_trusted_cgroups, 1u);
        ASSERT_STREQ(d.trusted_cgroups[0], "/system.slice/a.service");
        config_done(&d);

        ASSERT(asprintf(&path, "%s/state", dir) > 0);
        write_file(path, "Version=1\nInterfaces=\nPorts=80\nInterceptOnlyPorts=\nFastpath=yes\n");
        config_init(&d);
        config_add_port(&d, 9090, PORT_MODE_TRUSTED);
        config_add_trusted_cgroup(&d, "/b");
        ASSERT_EQ(state_load(dir, &d), 1);
        ASSERT_EQ(d.n_ports, 2u);
        ASSERT_EQ(config_find_port(&d, 9090)->mode, PORT_MODE_TRUSTED);
        ASSERT_EQ(d.n_trusted_cgroups, 1u);
        ASSERT_STREQ(d.trusted_cgroups[0], "/b");
        config_done(&d);
        config_done(&c);
        rm_rf(dir);
}

static void test_state_missing_is_fine(void)
{
        _cleanup_free_ char *dir = make_tmpdir();
        Config c;

        ASSERT(dir);
        config_init(&c);
        config_add_port(&c, 22, PORT_MODE_FASTPATH);
        ASSERT_EQ(state_load(dir, &c), 0);
        ASSERT_EQ(state_load("/nonexistent/skfp", &c), 0);
        ASSERT_EQ(c.n_ports, 1u);
        config_done(&c);
        rm_rf(dir);
}

static void load_quietly(const char *dir, Config *c, int *ret)
{
        int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);

        fflush(stderr);
        dup2(null, STDERR_FILENO);
        *ret = state_load(dir, c);
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        close(null);
}

/* dir's state file, or NULL */
static char *state_path(const char *dir)
{
        char *path = NULL;

        return dir && asprintf(&path, "%s/state", dir) > 0 ? path : NULL;
}

/* Writes text as dir's state file (path) and loads it into c: the load succeeds and the file is
 * kept aside; *ret_kept is how many are kept aside now (-1 when a check failed). */
static void load_kept_aside(const char *dir, const char *path, const char *text, Config *c, int *ret_kept)
{
        int r;

        *ret_kept = -1;
        write_file(path, text);
        load_quietly(dir, c, &r);
        ASSERT_EQ(r, 0);
        ASSERT(access(path, F_OK) < 0);
        *ret_kept = count_entries(dir, "state.corrupt-");
}

static void test_state_corrupt_kept_aside(void)
{
        _cleanup_free_ char *dir = make_tmpdir(), *path = state_path(dir);
        Config c;
        int kept;

        ASSERT(path);
        config_init(&c);
        config_add_port(&c, 22, PORT_MODE_FASTPATH);

        load_kept_aside(dir, path, "Version=1\nPorts=80 80\n", &c, &kept);
        ASSERT_EQ(kept, 1);
        ASSERT_EQ(c.n_ports, 1u);
        ASSERT_EQ(c.ports[0].port, 22);
        /* a second one in the same second gets its own name */
        load_kept_aside(dir, path, "garbage\n", &c, &kept);
        ASSERT_EQ(kept, 2);
        config_done(&c);
        rm_rf(dir);
}

static void test_state_over_limit_kept_aside(void)
{
        static const char *const state =
                "Version=1\nInterfaces=a b c\nPorts=1 2\nInterceptOnlyPorts=\nFastpath=no\n";
        _cleanup_free_ char *dir = make_tmpdir(), *path = state_path(dir);
        Config c;
        int kept;

        ASSERT(path);
        config_init(&c);
        c.max_interfaces = 2;
        load_kept_aside(dir, path, state, &c, &kept);
        ASSERT_EQ(kept, 1);
        ASSERT_EQ(c.n_interfaces, 0u);
        ASSERT(c.fastpath);

        c.max_interfaces = 3;
        c.max_ports = 1;
        load_kept_aside(dir, path, state, &c, &kept);
        ASSERT_EQ(kept, 2);
        ASSERT_EQ(c.n_ports, 0u);
        config_done(&c);
        rm_rf(dir);
}

static void test_state_save_failure_is_reported(void)
{
        _cleanup_free_ char *dir = make_tmpdir(), *file = NULL;
        Config c;
        int saved, null, r;

        ASSERT(dir);
        ASSERT(asprintf(&file, "%s/not-a-dir", dir) > 0);
        write_file(file, "x");
        config_init(&c);
        saved = dup(STDERR_FILENO);
        null = open("/dev/null", O_WRONLY);
        fflush(stderr);
        dup2(null, STDERR_FILENO);
        r = state_save(file, &c);
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        close(null);
        ASSERT(r < 0);
        config_done(&c);
        rm_rf(dir);
}

static void test_state_directory_resolution(void)
{
        _cleanup_free_ char *a = NULL, *b = NULL, *d = NULL;
        Config c;

        config_init(&c);
        unsetenv("STATE_DIRECTORY");
        ASSERT_EQ(state_directory_resolve(&c, &d), 0);
        ASSERT_STREQ(d, DEFAULT_STATE_DIRECTORY);
        setenv("STATE_DIRECTORY", "/var/lib/one:/var/lib/two", 1);
        ASSERT_EQ(state_directory_resolve(&c, &b), 0);
        ASSERT_STREQ(b, "/var/lib/one");
        c.state_directory = strdup("/srv/state");
        ASSERT_EQ(state_directory_resolve(&c, &a), 0);
        ASSERT_STREQ(a, "/srv/state");
        unsetenv("STATE_DIRECTORY");
        config_done(&c);
}

static void test_state_lo_is_corrupt(void)
{
        ASSERT_CORRUPT("Version=1\nInterfaces=eth0 lo\nPorts=\nInterceptOnlyPorts=\nFastpath=yes\n",
                "t:2: interface name 'lo' is lo, where intercepted connections are delivered");
}

/* "Interfaces wg0 added|Ports 80 removed|..." */
static void diff_string(const Config *file, const Config *now, char *buf, size_t size)
{
        _cleanup_free_ StateChange *changes = NULL;
        size_t n = 0, k = 0;

        buf[0] = 0;
        if (state_diff(file, now, &changes, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                k += (size_t) snprintf(buf + k, size - k, "%s%s %s %s", i ? "|" : "", changes[i].setting,
                                       changes[i].value, changes[i].change);
}

static void test_state_diff(void)
{
        Config file, now;
        char buf[512];

        config_init(&file);
        config_init(&now);
        diff_string(&file, &now, buf, sizeof(buf));
        ASSERT_STREQ(buf, "");

        config_add_interface(&file, "eth0");
        config_add_interface(&file, "wg0");
        config_add_port(&file, 80, PORT_MODE_FASTPATH);
        config_add_port(&file, 443, PORT_MODE_FASTPATH);
        config_add_port(&file, 5201, PORT_MODE_INTERCEPT_ONLY);
        ASSERT_EQ(state_copy(&now, &file), 0);
        diff_string(&file, &now, buf, sizeof(buf));
        ASSERT_STREQ(buf, "");

        /* the case: a port moved to InterceptOnlyPorts=, one removed, one added, the
         * switch off, an interface swapped */
        config_remove_interface(&now, "wg0");
        config_add_interface(&now, "br0");
        config_remove_port(&now, 443);
        config_add_port(&now, 8080, PORT_MODE_FASTPATH);
        config_find_port(&now, 80)->mode = PORT_MODE_INTERCEPT_ONLY;
        config_remove_port(&now, 5201);
        now.fastpath = false;
        diff_string(&file, &now, buf, sizeof(buf));
        ASSERT_STREQ(buf, "Interfaces br0 added|Interfaces wg0 removed|Ports 8080 added|Ports 80 removed|"
                "Ports 443 removed|InterceptOnlyPorts 80 added|InterceptOnlyPorts 5201 removed|"
                "Fastpath off set");

        /* copying back makes them equal, and keeps what the state does not own */
        now.listen_port = 4321;
        ASSERT_EQ(state_copy(&now, &file), 0);
        diff_string(&file, &now, buf, sizeof(buf));
        ASSERT_STREQ(buf, "");
        ASSERT_EQ(now.listen_port, 4321);
        ASSERT_EQ(now.n_interfaces, 2u);
        ASSERT_EQ(now.n_ports, 3u);
        config_done(&file);
        config_done(&now);
}

static void test_state_load_says_what_it_overrides(void)
{
        _cleanup_free_ char *dir = make_tmpdir(), *path = NULL;
        int saved, mfd, r;
        char log[2048];
        ssize_t n;
        Config c;

        ASSERT(dir);
        ASSERT(asprintf(&path, "%s/state", dir) > 0);
        write_file(path, "Version=1\nInterfaces=eth0\nPorts=80 8080\nInterceptOnlyPorts=\nFastpath=no\n");
        config_init(&c);
        config_add_interface(&c, "eth0");
        config_add_port(&c, 80, PORT_MODE_FASTPATH);
        config_add_port(&c, 443, PORT_MODE_FASTPATH);

        saved = dup(STDERR_FILENO);
        mfd = memfd_create("log", 0);
        fflush(stderr);
        dup2(mfd, STDERR_FILENO);
        r = state_load(dir, &c);
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
        n = pread(mfd, log, sizeof(log) - 1, 0);
        log[n > 0 ? n : 0] = 0;
        close(mfd);

        ASSERT_EQ(r, 1);
        ASSERT(strstr(log, "overrides the config file's Ports=: 8080 added, 443 removed (skfastpathctl "
                           "revert drops the runtime changes).\n"));
        ASSERT(strstr(log, "overrides the config file's Fastpath=: off set"));
        ASSERT(!strstr(log, "Interfaces="));
        ASSERT(strstr(log, path));

        /* and removing it: once, then there is none */
        ASSERT_EQ(state_remove(dir), 1);
        ASSERT_EQ(state_remove(dir), 0);
        ASSERT_EQ(count_entries(dir, "."), 2);
        config_done(&c);
        rm_rf(dir);
}

int main(void)
{
        RUN(test_state_round_trip);
        RUN(test_state_empty_sets);
        RUN(test_state_only_touches_its_keys);
        RUN(test_state_corrupt_lines);
        RUN(test_state_nul_byte);
        RUN(test_state_save_and_load);
        RUN(test_state_trusted);
        RUN(test_state_missing_is_fine);
        RUN(test_state_corrupt_kept_aside);
        RUN(test_state_over_limit_kept_aside);
        RUN(test_state_save_failure_is_reported);
        RUN(test_state_directory_resolution);
        RUN(test_state_lo_is_corrupt);
        RUN(test_state_diff);
        RUN(test_state_load_says_what_it_overrides);
        TESTS_DONE();
}
