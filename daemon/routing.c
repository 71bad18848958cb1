/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>

#include "fs-util.h"
#include "missing.h"
#include "netlink-util.h"
#include "routing.h"

#define ACCEPT_LOCAL_PATH "/proc/sys/net/ipv4/conf/lo/accept_local"
#define ACCEPT_LOCAL_RECORD "accept_local.netns-"
/* Removing a rule removes one copy; a bound on the copies a crashed run can have left. */
#define MAX_STALE_RULES 64

struct Routing {
        struct mnl_socket *nl;
        uint32_t seq;

        uint32_t mark;
        uint32_t table;
        uint32_t priority;
        int lo_ifindex;

        bool installed[2];          /* [0] IPv4, [1] IPv6 */
        char *accept_local_old;     /* what we overwrote; NULL: untouched */
        char *record_path;          /* where accept_local_old is saved; NULL: nowhere */
        char *record_id;            /* "BootID=...\nNetnsCookie=...\n", the record's first lines */
        bool keep;                  /* leave everything for the next run (routing_keep()) */
};

void routing_keep(Routing *rt)
{
        if (rt)
                rt->keep = true;
}

static const int families[2] = { AF_INET, AF_INET6 };

static const char *family_name(int family)
{
        return family == AF_INET ? "IPv4" : "IPv6";
}

static struct nlmsghdr *put_header(Routing *rt, char *buf, uint16_t type, uint16_t flags)
{
        return netlink_put_request(buf, type, NLM_F_ACK | flags, ++rt->seq);
}

/* "fwmark MARK/0xffffffff lookup TABLE" at PRIORITY */
static int rule_request(Routing *rt, int family, bool add)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct fib_rule_hdr *frh;
        struct nlmsghdr *nlh;

        nlh = put_header(rt, buf, add ? RTM_NEWRULE : RTM_DELRULE, add ? NLM_F_CREATE | NLM_F_EXCL : 0);
        frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
        frh->family = (uint8_t) family;
        frh->action = FR_ACT_TO_TBL;
        frh->table = rt->table < 256 ? (uint8_t) rt->table : RT_TABLE_UNSPEC;
        mnl_attr_put_u32(nlh, FRA_PRIORITY, rt->priority);
        mnl_attr_put_u32(nlh, FRA_FWMARK, rt->mark);
        mnl_attr_put_u32(nlh, FRA_FWMASK, UINT32_MAX);
        mnl_attr_put_u32(nlh, FRA_TABLE, rt->table);
        return netlink_transact(rt->nl, nlh);
}

/* "local default dev lo table TABLE" */
static int route_request(Routing *rt, int family, bool add)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        struct rtmsg *rtm;

        nlh = put_header(rt, buf, add ? RTM_NEWROUTE : RTM_DELROUTE,
                         add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
        rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        rtm->rtm_family = (uint8_t) family;
        rtm->rtm_dst_len = 0;
        rtm->rtm_table = rt->table < 256 ? (uint8_t) rt->table : RT_TABLE_UNSPEC;
        rtm->rtm_type = RTN_LOCAL;
        if (add) {
                rtm->rtm_protocol = RTPROT_STATIC;
                rtm->rtm_scope = RT_SCOPE_HOST;
        } else
                rtm->rtm_scope = RT_SCOPE_NOWHERE;  /* any scope */
        mnl_attr_put_u32(nlh, RTA_TABLE, rt->table);
        mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t) rt->lo_ifindex);
        return netlink_transact(rt->nl, nlh);
}

static bool is_gone(int r)
{
        /* IPv4 says ENOENT, IPv6 routes ESRCH; EAFNOSUPPORT: no IPv6 in this namespace */
        return r == -ENOENT || r == -ESRCH || r == -EAFNOSUPPORT;
}

static int remove_family(Routing *rt, int family, bool quiet)
{
        int r, ret = 0;

        for (int i = 0; i < MAX_STALE_RULES; i++) {
                r = rule_request(rt, family, false);
                if (is_gone(r))
                        break;
                if (r < 0) {
                        if (!quiet)
                                log_warning_errno(r, "Failed to remove the %s fwmark rule, ignoring: %m",
                                                  family_name(family));
                        ret = r;
                        break;
                }
        }
        r = route_request(rt, family, false);
        if (r < 0 && !is_gone(r)) {
                if (!quiet)
                        log_warning_errno(r, "Failed to remove the %s local route from table %u, ignoring: %m",
                                          family_name(family), rt->table);
                ret = r;
        }
        return ret;
}

/* A previous run (crashed, or restarted with its connections handed over) may have left its rule
 * and route: the route is replaced and an identical rule is kept (NLM_F_EXCL never stacks a
 * second copy), so intercepted packets are never without a route while we start. */
static int install_family(Routing *rt, int family)
{
        int r;

        r = route_request(rt, family, true);
        if (r < 0)
                return r;
        r = rule_request(rt, family, true);
        if (r == -EEXIST) {
                log_debug("The %s fwmark rule of a previous run is there, keeping it.", family_name(family));
                return 0;
        }
        if (r < 0) {
                (void) route_request(rt, family, false);
                return r;
        }
        return 0;
}

/* The value we overwrite is saved in the state directory before it is overwritten, so that a run
 * that ends without a clean stop (a crash, a restart that hands its connections over) does not
 * make the next one take our 1 for the original. The record is per network namespace (inode in
 * the name, cookie inside: an inode can be reused, a cookie never within a boot) and per boot. */
static int netns_identity(uint64_t *ret_inode, uint64_t *ret_cookie)
{
        uint64_t cookie = 0;
        socklen_t len = sizeof(cookie);
        struct stat st;
        int fd;

        if (stat("/proc/self/ns/net", &st) < 0)
                return -errno;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
                /* Linux 5.14 and later; 0 (inode and boot alone) on older kernels */
                if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0)
                        cookie = 0;
                safe_close(fd);
        }
        *ret_inode = (uint64_t) st.st_ino;
        *ret_cookie = cookie;
        return 0;
}

static int accept_local_record_init(Routing *rt, const char *state_directory)
{
        _cleanup_free_ char *boot = NULL;
        uint64_t inode = 0, cookie = 0;
        int r;

        if (!state_directory)
                return 0;
        r = netns_identity(&inode, &cookie);
        if (r >= 0)
                r = read_one_line_file("/proc/sys/kernel/random/boot_id", &boot);
        if (r < 0)
                return log_warning_errno(r, "Cannot identify this network namespace and boot, the value of "
                                         "accept_local is not saved: %m");
        if (asprintf(&rt->record_path, "%s/" ACCEPT_LOCAL_RECORD "%" PRIu64, state_directory, inode) < 0 ||
            asprintf(&rt->record_id, "BootID=%s\nNetnsCookie=%" PRIu64 "\n", boot, cookie) < 0)
                return log_oom();
        return 0;
}

/* The saved value when the record is ours (this boot, this namespace), else NULL. */
static char *accept_local_record_read(Routing *rt)
{
        _cleanup_fclose_ FILE *f = NULL;
        char buf[512], *value;
        size_t n, idlen;

        if (!rt->record_path)
                return NULL;
        f = fopen(rt->record_path, "re");
        if (!f)
                return NULL;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = 0;
        idlen = strlen(rt->record_id);
        if (strncmp(buf, rt->record_id, idlen) != 0 || strncmp(buf + idlen, "Value=", 6) != 0) {
                log_debug("%s is from another boot or namespace, ignoring it.", rt->record_path);
                return NULL;
        }
        value = strstrip(buf + idlen + 6);
        if (!*value || strlen(value) > 11 || strspn(value, "-0123456789") != strlen(value)) {
                log_warning("%s holds no valid value, ignoring it.", rt->record_path);
                return NULL;
        }
        return strdup(value);
}

static int accept_local_record_write(Routing *rt, const char *value)
{
        _cleanup_free_ char *tmp = NULL;
        _cleanup_fclose_ FILE *f = NULL;

        if (!rt->record_path)
                return 0;
        if (asprintf(&tmp, "%s.tmp", rt->record_path) < 0)
                return -ENOMEM;
        f = fopen(tmp, "we");
        if (!f)
                return -errno;
        fprintf(f, "%sValue=%s\n", rt->record_id, value);
        if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0 || rename(tmp, rt->record_path) < 0) {
                int r = -errno;

                (void) unlink(tmp);
                return r;
        }
        return 0;
}

static int set_accept_local(Routing *rt)
{
        _cleanup_free_ char *now = NULL, *original = NULL;
        int r;

        r = read_one_line_file(ACCEPT_LOCAL_PATH, &now);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", ACCEPT_LOCAL_PATH);

        original = accept_local_record_read(rt);
        if (original)
                log_debug("net.ipv4.conf.lo.accept_local=%s was saved by a previous run (now %s).", original, now);
        else if (streq(now, "1"))
                return 0;   /* set by someone else: not ours to restore */
        else {
                r = accept_local_record_write(rt, now);
                if (r < 0)
                        log_warning_errno(r, "Failed to save the value of accept_local in %s, after a crash it "
                                          "would stay 1: %m", rt->record_path);
                original = strdup(now);
                if (!original)
                        return log_oom();
        }

        if (!streq(now, "1")) {
                r = write_string_file(ACCEPT_LOCAL_PATH, "1");
                if (r < 0)
                        return log_error_errno(r, "Failed to set %s: %m", ACCEPT_LOCAL_PATH);
        }
        log_debug("Set net.ipv4.conf.lo.accept_local=1 (restored to %s at stop).", original);
        rt->accept_local_old = TAKE_PTR(original);
        return 0;
}

int routing_new(Routing **ret, const Config *c, const char *state_directory)
{
        _cleanup_(routing_freep) Routing *rt = NULL;
        int r;

        rt = calloc(1, sizeof(Routing));
        if (!rt)
                return log_oom();
        rt->mark = c->mark;
        rt->table = c->routing_table;
        rt->priority = c->rule_priority;
        rt->seq = (uint32_t) time(NULL);

        rt->lo_ifindex = (int) if_nametoindex("lo");
        if (rt->lo_ifindex <= 0)
                return log_error_errno(errno, "Failed to find the loopback interface: %m");

        r = netlink_open(&rt->nl, SOCK_CLOEXEC, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to open an rtnetlink socket: %m");

        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                r = install_family(rt, families[i]);
                if (r == -EAFNOSUPPORT && families[i] == AF_INET6) {
                        log_warning("IPv6 is not available: IPv6 connections are not intercepted.");
                        continue;
                }
                if (r == -ENETDOWN)
                        return log_error_errno(r, "Failed to install the %s local route: lo is down in this "
                                               "network namespace, and intercepted connections are delivered "
                                               "there (ip link set lo up): %m", family_name(families[i]));
                if (r < 0)
                        return log_error_errno(r, "Failed to install the %s rule \"fwmark 0x%x lookup %u\" "
                                               "(priority %u) and its local route: %m",
                                               family_name(families[i]), rt->mark, rt->table, rt->priority);
                rt->installed[i] = true;
        }

        (void) accept_local_record_init(rt, state_directory);
        r = set_accept_local(rt);
        if (r < 0)
                return r;

        log_debug("Policy routing installed: fwmark 0x%x lookup %u, priority %u.", rt->mark, rt->table,
                  rt->priority);
        *ret = TAKE_PTR(rt);
        return 0;
}

Routing *routing_free(Routing *rt)
{
        int r;

        if (!rt)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(families) && !rt->keep; i++)
                if (rt->installed[i])
                        (void) remove_family(rt, families[i], false);
        if (rt->accept_local_old && !rt->keep) {
                r = write_string_file(ACCEPT_LOCAL_PATH, rt->accept_local_old);
                if (r < 0)
                        log_warning_errno(r, "Failed to restore %s to %s, ignoring: %m", ACCEPT_LOCAL_PATH,
                                          rt->accept_local_old);
                else if (rt->record_path && unlink(rt->record_path) < 0 && errno != ENOENT)
                        log_warning_errno(errno, "Failed to remove %s, ignoring: %m", rt->record_path);
        }
        free(rt->accept_local_old);
        free(rt->record_path);
        free(rt->record_id);
        if (rt->nl)
                mnl_socket_close(rt->nl);
        free(rt);
        return NULL;
}
