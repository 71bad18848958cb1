/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Dump bookkeeping of daemon/rtnl.c after lost events: only the end of the dump asked for last
 * closes a generation, an EBUSY answer defers the request until the older dump ends, an ENOBUFS
 * answer does not cancel the dump. A real rtnetlink socket is opened (no privileges needed) but
 * never read: the kernel's answers are replaced by the datagrams the tests feed in. */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if_arp.h>

#include "rtnl.h"
#include "tests.h"
#include "util.h"

typedef struct Events {
        char log[256];     /* S: DUMP_START, D: DUMP_DONE, N: RTM_NEWLINK, F: REQUEST_FAILED */
        size_t n;
} Events;

static void on_event(void *userdata, const RtnlLink *link)
{
        Events *e = userdata;
        char c = link->type == RTNL_DUMP_START ? 'S' :
                 link->type == RTNL_DUMP_DONE ? 'D' :
                 link->type == RTNL_LINK_NEW ? 'N' :
                 link->type == RTNL_LINK_DEL ? 'X' : 'F';

        if (e->n + 1 < sizeof(e->log))
                e->log[e->n++] = c;
}

static void feed_done(Rtnl *r, unsigned seq)
{
        char buf[64] __attribute__((aligned(4))) = {};
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

        nlh->nlmsg_type = NLMSG_DONE;
        nlh->nlmsg_flags = NLM_F_MULTI;
        nlh->nlmsg_seq = seq;
        mnl_nlmsg_put_extra_header(nlh, sizeof(int));
        ASSERT_EQ(rtnl_receive(r, buf, nlh->nlmsg_len), 1);
}

static void feed_error(Rtnl *r, unsigned seq, int error)
{
        char buf[128] __attribute__((aligned(4))) = {};
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct nlmsgerr *e;

        nlh->nlmsg_type = NLMSG_ERROR;
        nlh->nlmsg_seq = seq;
        e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
        e->error = error;
        e->msg.nlmsg_seq = seq;
        ASSERT_EQ(rtnl_receive(r, buf, nlh->nlmsg_len), 1);
}

static void feed_link(Rtnl *r, unsigned seq, int ifindex, const char *name)
{
        char buf[256] __attribute__((aligned(4))) = {};
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct ifinfomsg *ifi;

        nlh->nlmsg_type = RTM_NEWLINK;
        nlh->nlmsg_flags = seq ? NLM_F_MULTI : 0;
        nlh->nlmsg_seq = seq;
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_index = ifindex;
        ifi->ifi_type = ARPHRD_ETHER;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        ASSERT_EQ(rtnl_receive(r, buf, nlh->nlmsg_len), 1);
}

/* a new Rtnl has asked for its first dump: *ret is NULL when that failed */
static void start(sd_event *event, Events *e, Rtnl **ret, unsigned *ret_seq)
{
        *ret = NULL;
        ASSERT_EQ(rtnl_new(ret, event, on_event, e), 0);
        ASSERT_STREQ(e->log, "S");
        *ret_seq = rtnl_dump_seq(*ret);
        ASSERT(*ret_seq != 0);
}

static void test_first_dump(void)
{
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Events e = {};
        unsigned seq;
        Rtnl *r;

        ASSERT_EQ(sd_event_new(&event), 0);
        start(event, &e, &r, &seq);
        if (!r)
                return;
        feed_link(r, seq, 1, "lo");
        feed_link(r, 0, 5, "eth0");   /* an event in between */
        feed_done(r, seq);
        ASSERT_STREQ(e.log, "SNND");
        ASSERT_EQ(rtnl_dump_seq(r), 0u);
        /* a second end of the same dump closes nothing */
        feed_done(r, seq);
        ASSERT_STREQ(e.log, "SNND");
        rtnl_free(r);
}

/* Events lost while the first dump still runs: the new request is refused with EBUSY; the end of
 * the first dump must not close the new generation, it must start the new dump. */
static void test_lost_events_during_a_dump(void)
{
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Events e = {};
        unsigned seq1, seq2, seq3;
        Rtnl *r;

        ASSERT_EQ(sd_event_new(&event), 0);
        start(event, &e, &r, &seq1);
        if (!r)
                return;
        feed_link(r, seq1, 1, "lo");
        rtnl_overflowed(r);
        ASSERT_STREQ(e.log, "SNS");
        seq2 = rtnl_dump_seq(r);
        ASSERT(seq2 != 0 && seq2 != seq1);
        feed_error(r, seq2, -EBUSY);
        ASSERT_EQ(rtnl_dump_seq(r), 0u);
        ASSERT_STREQ(e.log, "SNS");          /* nothing passed on for the refusal */
        feed_link(r, seq1, 5, "eth0");       /* the rest of the first dump */
        feed_done(r, seq1);
        ASSERT_STREQ(e.log, "SNSNS");        /* its end asked again, and closed nothing */
        seq3 = rtnl_dump_seq(r);
        ASSERT(seq3 != 0 && seq3 != seq2);
        feed_link(r, seq3, 5, "eth0");
        feed_done(r, seq3);
        ASSERT_STREQ(e.log, "SNSNSND");
        rtnl_free(r);
}

/* ENOBUFS in answer to the request: the dump started, its first part did not fit; it goes on. */
static void test_enobufs_answer_keeps_the_dump(void)
{
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Events e = {};
        unsigned seq;
        Rtnl *r;

        ASSERT_EQ(sd_event_new(&event), 0);
        start(event, &e, &r, &seq);
        if (!r)
                return;
        feed_error(r, seq, -ENOBUFS);
        ASSERT_EQ(rtnl_dump_seq(r), seq);
        feed_done(r, seq);
        ASSERT_STREQ(e.log, "SD");
        rtnl_free(r);
}

/* Errors for requests we gave up on, and other failures, close no generation. */
static void test_stale_and_failed(void)
{
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        Events e = {};
        unsigned seq1, seq2;
        Rtnl *r;

        ASSERT_EQ(sd_event_new(&event), 0);
        start(event, &e, &r, &seq1);
        if (!r)
                return;
        rtnl_overflowed(r);
        seq2 = rtnl_dump_seq(r);
        feed_error(r, seq1, -EBUSY);         /* about the abandoned request: ignored */
        ASSERT_EQ(rtnl_dump_seq(r), seq2);
        feed_done(r, seq1);                  /* the abandoned dump's end */
        ASSERT_STREQ(e.log, "SS");
        ASSERT_EQ(rtnl_dump_seq(r), seq2);
        feed_error(r, seq2, -ENOMEM);        /* the dump asked for failed: nothing to close */
        ASSERT_EQ(rtnl_dump_seq(r), 0u);
        feed_done(r, seq2);
        ASSERT_STREQ(e.log, "SS");
        rtnl_free(r);
}

int main(void)
{
        log_set_max_level(LOG_LEVEL_ERR);
        RUN(test_first_dump);
        RUN(test_lost_events_during_a_dump);
        RUN(test_enobufs_answer_keeps_the_dump);
        RUN(test_stale_and_failed);
        TESTS_DONE();
}
