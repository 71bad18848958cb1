/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The rtnetlink parser: valid link messages parse; truncated, garbage and hostile ones never crash
 * and never produce a link. */
#include <libmnl/libmnl.h>
#include <net/if_arp.h>
#include <linux/rtnetlink.h>

#include "rtnl.h"
#include "tests.h"
#include "util.h"

typedef struct Seen {
        unsigned n_links, n_done, n_failed;
        RtnlLink last;
} Seen;

static void on_link(void *userdata, const RtnlLink *link)
{
        Seen *s = userdata;

        if (link->type == RTNL_LINK_NEW || link->type == RTNL_LINK_DEL) {
                /* every link handed out must be sane, whatever the input was */
                if (link->ifindex <= 0 || !link->name[0] || strlen(link->name) >= IF_NAMESIZE)
                        abort();
                s->n_links++;
                s->last = *link;
        } else if (link->type == RTNL_DUMP_DONE)
                s->n_done++;
        else if (link->type == RTNL_REQUEST_FAILED)
                s->n_failed++;
}

static size_t build_link(char *buf, uint16_t type, int ifindex, unsigned short arphrd, const char *name)
{
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifi;

        nlh->nlmsg_type = type;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_index = ifindex;
        ifi->ifi_type = arphrd;
        ifi->ifi_flags = 1;
        mnl_attr_put_u32(nlh, IFLA_MTU, 1500);
        if (name)
                mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        return nlh->nlmsg_len;
}

static void test_valid_newlink(void)
{
        char buf[512] __attribute__((aligned(4))) = {};
        Seen s = {};
        size_t n = build_link(buf, RTM_NEWLINK, 7, ARPHRD_ETHER, "veth-a");

        ASSERT_EQ(rtnl_parse(buf, n, on_link, &s), 1);
        ASSERT_EQ(s.n_links, 1u);
        ASSERT_EQ(s.last.type, RTNL_LINK_NEW);
        ASSERT_EQ(s.last.ifindex, 7);
        ASSERT_EQ(s.last.arphrd, ARPHRD_ETHER);
        ASSERT_STREQ(s.last.name, "veth-a");
}

static void test_dellink_and_two_messages(void)
{
        char buf[1024] __attribute__((aligned(4))) = {};
        Seen s = {};
        size_t n = build_link(buf, RTM_DELLINK, 3, ARPHRD_NONE, "wg0");

        n += build_link(buf + n, RTM_NEWLINK, 4, ARPHRD_ETHER, "eth1");
        ASSERT_EQ(rtnl_parse(buf, n, on_link, &s), 2);
        ASSERT_EQ(s.n_links, 2u);
        ASSERT_STREQ(s.last.name, "eth1");
}

static void test_done_and_error(void)
{
        char buf[256] __attribute__((aligned(4))) = {};
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct nlmsgerr *e;
        size_t n;
        Seen s = {};

        nlh->nlmsg_type = NLMSG_DONE;
        mnl_nlmsg_put_extra_header(nlh, sizeof(int));
        n = nlh->nlmsg_len;
        nlh = mnl_nlmsg_put_header(buf + n);
        nlh->nlmsg_type = NLMSG_ERROR;
        e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
        e->error = -EBUSY;
        n += nlh->nlmsg_len;
        ASSERT_EQ(rtnl_parse(buf, n, on_link, &s), 2);
        ASSERT_EQ(s.n_done, 1u);
        ASSERT_EQ(s.n_failed, 1u);
}

static void test_hostile_links_rejected(void)
{
        char buf[512] __attribute__((aligned(4)));
        struct nlmsghdr *nlh;
        Seen s = {};
        size_t n;

        /* no name */
        memset(buf, 0, sizeof(buf));
        n = build_link(buf, RTM_NEWLINK, 7, ARPHRD_ETHER, NULL);
        ASSERT_EQ(rtnl_parse(buf, n, on_link, &s), 0);
        /* name too long */
        memset(buf, 0, sizeof(buf));
        n = build_link(buf, RTM_NEWLINK, 7, ARPHRD_ETHER, "abcdefghijklmnopqrstuvwxyz");
        ASSERT_EQ(rtnl_parse(buf, n, on_link, &s), 0);
        /* empty name */
        memset(buf, 0, sizeof(buf));
        n = build_link(buf, RTM_NEWLINK, 7, ARPHRD_ETHER, "");
        ASSERT_EQ(rtnl_parse(buf, n, on_link, &s), 0);
        /* ifindex 0 and negative */
        memset(buf, 0, sizeof(buf));
        n = build_link(buf, RTM_NEWLINK, 0, ARPHRD_ETHER, "x");
        ASSERT_EQ(rtnl_parse(buf, n, on_link, &s), 0);
        memset(buf, 0, sizeof(buf));
        n = build_link(buf, RTM_NEWLINK, -5, ARPHRD_ETHER, "x");
        ASSERT_EQ(rtnl_parse(buf, n, on_link, &s), 0);
        /* name not NUL-terminated: overwrite the terminator and the padding */
        memset(buf, 0, sizeof(buf));
        n = build_link(buf, RTM_NEWLINK, 7, ARPHRD_ETHER, "abc");
        memset(buf + n - 4, 'x', 4);
        ASSERT_EQ(rtnl_parse(buf, n, on_link, &s), 0);
        /* attribute length pointing past the message */
        memset(buf, 0, sizeof(buf));
        n = build_link(buf, RTM_NEWLINK, 7, ARPHRD_ETHER, "abc");
        nlh = (struct nlmsghdr *) buf;
        ((struct nlattr *) ((char *) mnl_nlmsg_get_payload(nlh) + sizeof(struct ifinfomsg)))->nla_len = 400;
        ASSERT_EQ(rtnl_parse(buf, n, on_link, &s), 0);
        ASSERT_EQ(s.n_links, 0u);
}

/* A length near 4 GiB: NLMSG_ALIGN() in 32 bits wraps it to 0, a walk that steps by that never ends
 * (found by tests/fuzz/fuzz-rtnl; regressions/rtnl/length-align-wraps-to-zero). */
static void test_length_that_aligns_to_zero(void)
{
        char buf[64] __attribute__((aligned(4))) = {};
        struct nlmsghdr *nlh = (struct nlmsghdr *) buf;
        Seen s = {};

        for (uint32_t len = UINT32_MAX - 3; len != 0; len++) {
                nlh->nlmsg_len = len;
                nlh->nlmsg_type = NLMSG_DONE;
                ASSERT_EQ(rtnl_parse(buf, sizeof(buf), on_link, &s), 0);
                nlh->nlmsg_type = RTM_NEWLINK;
                ASSERT_EQ(rtnl_parse(buf, sizeof(buf), on_link, &s), 0);
        }
        ASSERT_EQ(s.n_done, 0u);
}

static void test_every_truncation(void)
{
        char buf[512] __attribute__((aligned(4))) = {};
        size_t n = build_link(buf, RTM_NEWLINK, 9, ARPHRD_ETHER, "trunc0");

        for (size_t len = 0; len < n; len++) {
                /* a copy of exactly len bytes, so a read past it is caught by ASan */
                char *copy = malloc(len ? len : 1);
                struct nlmsghdr *nlh;
                Seen s = {};

                memcpy(copy, buf, len);
                (void) rtnl_parse(copy, len, on_link, &s);
                ASSERT_EQ(s.n_links, 0u);   /* nlmsg_len says more than there is */
                if (len >= sizeof(struct nlmsghdr)) {
                        /* also a header that claims exactly the truncated length */
                        nlh = (struct nlmsghdr *) copy;
                        nlh->nlmsg_len = (uint32_t) len;
                        (void) rtnl_parse(copy, len, on_link, &s);
                }
                free(copy);
        }
}

static void test_garbage(void)
{
        uint32_t x = 0x12345678;

        for (unsigned i = 0; i < 20000; i++) {
                size_t len = 16 + (i % 300);
                uint8_t *b = malloc(len);
                Seen s = {};

                for (size_t j = 0; j < len; j++) {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        b[j] = (uint8_t) x;
                }
                /* half of the inputs get a plausible header so the inner parser is reached */
                if (i % 2) {
                        struct nlmsghdr *nlh = (struct nlmsghdr *) b;

                        nlh->nlmsg_len = (uint32_t) (len - (x % 8));
                        nlh->nlmsg_type = (i % 4) == 1 ? RTM_NEWLINK : RTM_DELLINK;
                }
                (void) rtnl_parse(b, len, on_link, &s);
                free(b);
        }
}

int main(void)
{
        log_set_max_level(LOG_LEVEL_ERR);
        RUN(test_valid_newlink);
        RUN(test_dellink_and_two_messages);
        RUN(test_done_and_error);
        RUN(test_hostile_links_rejected);
        RUN(test_length_that_aligns_to_zero);
        RUN(test_every_truncation);
        RUN(test_garbage);
        TESTS_DONE();
}
