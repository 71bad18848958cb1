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

/* A datagram from the kernel in buf: the header of type, flags and seq, and the extra header. */
static struct nlmsghdr *message(char *buf, uint16_t type, uint16_t flags, unsigned seq, void **ret_extra,
                                size_t extra_size)
{
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = flags;
        nlh->nlmsg_seq = seq;
        *ret_extra = mnl_nlmsg_put_extra_header(nlh, extra_size);
        return nlh;
}

static void feed_done(Rtnl *r, unsigned seq)
{
        char buf[64] __attribute__((aligned(4))) = {};
        void *extra;
        struct nlmsghdr *nlh = message(buf, NLMSG_DONE, NLM_F_MULTI, seq, &extra, sizeof(int));

        ASSERT_EQ(rtnl_receive(r, buf, nlh->nlmsg_len), 1);
}

static void feed_error(Rtnl *r, unsigned seq, int error)
{
        char buf[128] __attribute__((aligned(4))) = {};
        struct nlmsgerr *e;
        struct nlmsghdr *nlh = message(buf, NLMSG_ERROR, 0, seq, (void **) &e, sizeof(*e));

        e->error = error;
        e->msg.nlmsg_seq = seq;
        ASSERT_EQ(rtnl_receive(r, buf, nlh->nlmsg_len), 1);
}

static void feed_link(Rtnl *r, unsigned seq, int ifindex, const char *name)
{
        char buf[256] __attribute__((aligned(4))) = {};
        struct ifinfomsg *ifi;
        struct nlmsghdr *nlh = message(buf, RTM_NEWLINK, seq ? NLM_F_MULTI : 0, seq, (void **) &ifi,
                                       sizeof(*ifi));

        ifi->ifi_index = ifindex;
        ifi->ifi_type = ARPHRD_ETHER;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        ASSERT_EQ(rtnl_receive(r, buf, nlh->nlmsg_len), 1);
}

/* Each test: a new Rtnl on an event loop of its own that has asked for its first dump (seq). */
typedef struct Fixture {
        sd_event *event;
        Events e;
        Rtnl *r;         /* NULL when the start failed (said) */
        unsigned seq;
} Fixture;

static void start(Fixture *f)
{
        ASSERT_EQ(sd_event_new(&f->event), 0);
        ASSERT_EQ(rtnl_new(&f->r, f->event, on_event, &f->e), 0);
        ASSERT_STREQ(f->e.log, "S");
        f->seq = rtnl_dump_seq(f->r);
        ASSERT(f->seq != 0);
}

static void fixture_done(Fixture *f)
{
        rtnl_free(f->r);
        sd_event_unref(f->event);
}

static void test_first_dump(void)
{
        _cleanup_(fixture_done) Fixture f = {};

        start(&f);
        if (!f.seq)
                return;
        feed_link(f.r, f.seq, 1, "lo");
        feed_link(f.r, 0, 5, "eth0");   /* an event in between */
        feed_done(f.r, f.seq);
        ASSERT_STREQ(f.e.log, "SNND");
        ASSERT_EQ(rtnl_dump_seq(f.r), 0u);
        /* a second end of the same dump closes nothing */
        feed_done(f.r, f.seq);
        ASSERT_STREQ(f.e.log, "SNND");
}

/* Events lost while the first dump still runs: the new request is refused with EBUSY; the end of
 * the first dump must not close the new generation, it must start the new dump. */
static void test_lost_events_during_a_dump(void)
{
        _cleanup_(fixture_done) Fixture f = {};
        unsigned seq2, seq3;

        start(&f);
        if (!f.seq)
                return;
        feed_link(f.r, f.seq, 1, "lo");
        rtnl_overflowed(f.r);
        ASSERT_STREQ(f.e.log, "SNS");
        seq2 = rtnl_dump_seq(f.r);
        ASSERT(seq2 != 0 && seq2 != f.seq);
        feed_error(f.r, seq2, -EBUSY);
        ASSERT_EQ(rtnl_dump_seq(f.r), 0u);
        ASSERT_STREQ(f.e.log, "SNS");           /* nothing passed on for the refusal */
        feed_link(f.r, f.seq, 5, "eth0");       /* the rest of the first dump */
        feed_done(f.r, f.seq);
        ASSERT_STREQ(f.e.log, "SNSNS");         /* its end asked again, and closed nothing */
        seq3 = rtnl_dump_seq(f.r);
        ASSERT(seq3 != 0 && seq3 != seq2);
        feed_link(f.r, seq3, 5, "eth0");
        feed_done(f.r, seq3);
        ASSERT_STREQ(f.e.log, "SNSNSND");
}

/* ENOBUFS in answer to the request: the dump started, its first part did not fit; it goes on. */
static void test_enobufs_answer_keeps_the_dump(void)
{
        _cleanup_(fixture_done) Fixture f = {};

        start(&f);
        if (!f.seq)
                return;
        feed_error(f.r, f.seq, -ENOBUFS);
        ASSERT_EQ(rtnl_dump_seq(f.r), f.seq);
        feed_done(f.r, f.seq);
        ASSERT_STREQ(f.e.log, "SD");
}

/* Errors for requests we gave up on, and other failures, close no generation. */
static void test_stale_and_failed(void)
{
        _cleanup_(fixture_done) Fixture f = {};
        unsigned seq2;

        start(&f);
        if (!f.seq)
                return;
        rtnl_overflowed(f.r);
        seq2 = rtnl_dump_seq(f.r);
        feed_error(f.r, f.seq, -EBUSY);         /* about the abandoned request: ignored */
        ASSERT_EQ(rtnl_dump_seq(f.r), seq2);
        feed_done(f.r, f.seq);                  /* the abandoned dump's end */
        ASSERT_STREQ(f.e.log, "SS");
        ASSERT_EQ(rtnl_dump_seq(f.r), seq2);
        feed_error(f.r, seq2, -ENOMEM);         /* the dump asked for failed: nothing to close */
        ASSERT_EQ(rtnl_dump_seq(f.r), 0u);
        feed_done(f.r, seq2);
        ASSERT_STREQ(f.e.log, "SS");
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
