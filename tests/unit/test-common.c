/* SPDX-License-Identifier: GPL-2.0-or-later */
/* common/: word lists, path and file helpers, the cgroup2 root lookup, synchronous rtnetlink. */
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/stat.h>

#include "bpf-util.h"
#include "cgroup-util.h"
#include "fs-util.h"
#include "netlink-util.h"
#include "strv.h"
#include "tests.h"
#include "util.h"

static char tmpdir[] = "/tmp/skfp-test-common.XXXXXX";

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path) < 0 ? -errno : 0;
}

static void test_strv_free_n(void)
{
        char **l = calloc(2, sizeof(char *));

        ASSERT(l);
        l[0] = strdup("a");
        l[1] = strdup("b");
        strv_free_n(l, 2);          /* no NULL at the end: LeakSanitizer sees a leak if it stops short */
        strv_free_n(NULL, 0);
}

static void test_strv_split_words(void)
{
        _cleanup_strv_free_ char **l = NULL, **empty = NULL, **blank = NULL;

        ASSERT_EQ(strv_split_words("  eth0\tlo   wlan0 \t", &l), 0);
        ASSERT_EQ(strv_length(l), 3u);
        ASSERT_STREQ(l[0], "eth0");
        ASSERT_STREQ(l[1], "lo");
        ASSERT_STREQ(l[2], "wlan0");
        ASSERT(!l[3]);
        ASSERT_EQ(strv_split_words("", &empty), 0);
        ASSERT(empty && !empty[0]);
        ASSERT_EQ(strv_split_words(" \t ", &blank), 0);
        ASSERT_EQ(strv_length(blank), 0u);
}

static void test_mkdir_p_and_files(void)
{
        _cleanup_free_ char *deep = NULL, *file = NULL, *line = NULL, *missing = NULL;
        struct stat st;
        int fd;

        ASSERT_EQ(path_join(tmpdir, "a/b/c", &deep), 0);
        ASSERT_EQ(mkdir_p(deep, 0700), 0);
        ASSERT(stat(deep, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
        ASSERT_EQ(mkdir_p(deep, 0700), 0);                     /* all there already */

        ASSERT_EQ(path_join(deep, "value", &file), 0);
        fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ASSERT(fd >= 0);
        safe_close(fd);
        ASSERT_EQ(write_string_file(file, "  1 \n"), 0);
        ASSERT_EQ(read_one_line_file(file, &line), 0);
        ASSERT_STREQ(line, "1");

        ASSERT_EQ(path_join(deep, "absent", &missing), 0);
        ASSERT_EQ(write_string_file(missing, "1"), -ENOENT);   /* never creates */
        ASSERT_EQ(read_one_line_file(missing, &line), -ENOENT);
        ASSERT_EQ(mkdir_p("/proc/skfp-no/such", 0700), -ENOENT);

        ASSERT(path_is_fs_type("/proc", PROC_SUPER_MAGIC));
        ASSERT(!path_is_fs_type(tmpdir, PROC_SUPER_MAGIC));
        ASSERT(!path_is_fs_type("/nonexistent-skfp", PROC_SUPER_MAGIC));
}

static int root_of(const char *mountinfo, char **ret)
{
        _cleanup_fclose_ FILE *f = fmemopen((void *) mountinfo, strlen(mountinfo), "r");

        return f ? cgroup2_root_parse(f, ret) : -errno;
}

static void test_cgroup2_root_parse(void)
{
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        /* optional fields before the separator; the first cgroup2 mount wins */
        ASSERT_EQ(root_of("22 1 0:21 / /proc rw,nosuid shared:5 - proc proc rw\n"
                          "30 22 0:26 / /sys/fs/cgroup rw shared:9 master:1 - cgroup2 cgroup2 rw\n"
                          "31 22 0:27 / /other rw - cgroup2 cgroup2 rw\n", &a), 0);
        ASSERT_STREQ(a, "/sys/fs/cgroup");
        /* mount points escape blanks and backslashes as octal */
        ASSERT_EQ(root_of("30 22 0:26 / /mnt/my\\040cgroup\\134x rw - cgroup2 none rw\n", &b), 0);
        ASSERT_STREQ(b, "/mnt/my cgroup\\x");
        /* cgroup v1 only, or a "cgroup2" that is a source, not the type */
        ASSERT_EQ(root_of("30 22 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup2 rw,cpu\n", &c), -ENOENT);
        ASSERT_EQ(root_of("", &c), -ENOENT);
}

static void test_netlink_transact_reports_the_kernels_error(void)
{
        struct mnl_socket *nl = NULL;
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        ssize_t n;

        ASSERT_EQ(netlink_open(&nl, SOCK_CLOEXEC, 0), 0);

        /* a link that does not exist: the ack carries -ENODEV */
        nlh = netlink_put_request(buf, RTM_GETLINK, NLM_F_ACK, 7);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, "skfp-no-such0");
        ASSERT_EQ(netlink_transact(nl, nlh), -ENODEV);

        /* lo exists: one datagram with its RTM_NEWLINK */
        nlh = netlink_put_request(buf, RTM_GETLINK, 0, 8);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = (int) if_nametoindex("lo");
        n = netlink_request(nl, nlh, buf, sizeof(buf));
        mnl_socket_close(nl);
        ASSERT(n >= (ssize_t) sizeof(struct nlmsghdr));
        ASSERT_EQ(((struct nlmsghdr *) buf)->nlmsg_type, RTM_NEWLINK);
        ASSERT_EQ(((struct nlmsghdr *) buf)->nlmsg_seq, 8u);
}

static _printf_(2, 3) int print_libbpf(enum libbpf_print_level level, const char *format, ...)
{
        va_list ap;
        int r;

        va_start(ap, format);
        r = bpf_libbpf_print(level, format, ap);
        va_end(ap);
        return r;
}

/* What libbpf says as the daemon logs it (README.md quotes "<5>libbpf: ..."): warnings at notice
 * level, the rest at debug level, one line per line, libbpf's own "libbpf: " prefix not doubled. */
static void test_libbpf_print_policy(void)
{
        char out[512] = "";
        FILE *saved = stderr, *f = tmpfile();
        size_t n;

        ASSERT(f);
        stderr = f;
        log_set_max_level(LOG_LEVEL_INFO);
        print_libbpf(LIBBPF_WARN, "libbpf: failed to find valid kernel BTF\n");
        print_libbpf(LIBBPF_WARN, "prog '%s': verifier log:\n0: R1=ctx\nunknown func %d\n", "sockops", 122);
        print_libbpf(LIBBPF_INFO, "hidden below debug level\n");
        print_libbpf(LIBBPF_DEBUG, "hidden too\n");
        log_set_max_level(LOG_LEVEL_DEBUG);
        print_libbpf(LIBBPF_DEBUG, "libbpf: shown at debug level\n");
        stderr = saved;
        rewind(f);
        n = fread(out, 1, sizeof(out) - 1, f);
        out[n] = 0;
        fclose(f);
        log_set_max_level(LOG_LEVEL_INFO);
        ASSERT_STREQ(out, "<5>libbpf: failed to find valid kernel BTF\n"
                          "<5>libbpf: prog 'sockops': verifier log:\n"
                          "<5>libbpf: 0: R1=ctx\n"
                          "<5>libbpf: unknown func 122\n"
                          "<7>libbpf: shown at debug level\n");
}

int main(void)
{
        if (!mkdtemp(tmpdir)) {
                perror("mkdtemp");
                return EXIT_FAILURE;
        }
        RUN(test_strv_split_words);
        RUN(test_strv_free_n);
        RUN(test_mkdir_p_and_files);
        RUN(test_cgroup2_root_parse);
        RUN(test_netlink_transact_reports_the_kernels_error);
        RUN(test_libbpf_print_policy);
        (void) nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        TESTS_DONE();
}
