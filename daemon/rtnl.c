/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/epoll.h>
#include <time.h>

#include "netlink-util.h"
#include "rtnl.h"
#include "util.h"

struct Rtnl {
        struct mnl_socket *nl;
        sd_event_source *io;
        rtnl_handler_t handler;
        void *userdata;
        unsigned seq;
        /* Dumps: the kernel runs one at a time per socket and refuses another with EBUSY. After lost
         * events we ask for a new one at once; if an older one is still running, its end (with the
         * old sequence number) releases the pending request, and only the end of the dump asked for
         * last is passed on, so that the generation it closes is the one its start opened. */
        unsigned dump_seq;        /* the dump whose end we wait for, 0: none */
        bool dump_running;        /* a dump of ours may still run in the kernel */
        bool dump_pending;        /* ask again when it ends */
};

static int parse_link_attr(const struct nlattr *attr, void *data)
{
        const struct nlattr **tb = data;
        int type = mnl_attr_get_type(attr);

        if (mnl_attr_type_valid(attr, IFLA_MAX) < 0)
                return MNL_CB_OK;   /* newer kernel: ignore what we do not know */
        if (type == IFLA_IFNAME && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
                return MNL_CB_ERROR;
        tb[type] = attr;
        return MNL_CB_OK;
}

static int parse_link(const struct nlmsghdr *nlh, RtnlLink *ret)
{
        const struct nlattr *tb[IFLA_MAX + 1] = {};
        const struct ifinfomsg *ifi;
        const char *name;

        if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct ifinfomsg))
                return -EBADMSG;
        ifi = mnl_nlmsg_get_payload(nlh);
        if (ifi->ifi_index <= 0)
                return -EBADMSG;
        if (mnl_attr_parse(nlh, sizeof(*ifi), parse_link_attr, tb) != MNL_CB_OK)
                return -EBADMSG;
        if (!tb[IFLA_IFNAME])
                return -EBADMSG;
        name = mnl_attr_get_str(tb[IFLA_IFNAME]);
        if (strlen(name) >= IF_NAMESIZE || !*name)
                return -EBADMSG;

        *ret = (RtnlLink) {
                .type = nlh->nlmsg_type == RTM_DELLINK ? RTNL_LINK_DEL : RTNL_LINK_NEW,
                .ifindex = ifi->ifi_index,
                .arphrd = ifi->ifi_type,
                .flags = ifi->ifi_flags,
        };
        strcpy(ret->name, name);
        return 0;
}

int rtnl_parse(const void *buf, size_t len, rtnl_handler_t handler, void *userdata)
{
        size_t off = 0;
        int n = 0;

        if (len < sizeof(struct nlmsghdr))
                return -EBADMSG;
        /* Our own walk with unsigned sizes: libmnl's mnl_nlmsg_ok() casts nlmsg_len to int, so a
         * hostile length above 2 GiB passes it and the next step jumps out of the buffer. */
        while (len - off >= sizeof(struct nlmsghdr)) {
                const struct nlmsghdr *nlh = (const struct nlmsghdr *) ((const char *) buf + off);
                RtnlLink link;
                int r;

                /* libmnl's attribute walk reads up to the aligned end: the whole of it must be here.
                 * Aligned in size_t: NLMSG_ALIGN() of a 32-bit length near 4 GiB wraps to 0, and a
                 * step of 0 would never end (found by fuzz-rtnl). */
                size_t mlen = nlh->nlmsg_len, step = (mlen + NLMSG_ALIGNTO - 1) & ~(size_t) (NLMSG_ALIGNTO - 1);

                if (mlen < sizeof(struct nlmsghdr) || step > len - off)
                        break;
                off += step;

                switch (nlh->nlmsg_type) {
                case RTM_NEWLINK:
                case RTM_DELLINK:
                        r = parse_link(nlh, &link);
                        if (r < 0) {
                                log_warning("Ignoring malformed rtnetlink link message (%u bytes).",
                                        nlh->nlmsg_len);
                                continue;
                        }
                        handler(userdata, &link);
                        n++;
                        break;
                case NLMSG_DONE:
                        handler(userdata, &(RtnlLink) { .type = RTNL_DUMP_DONE, .seq = nlh->nlmsg_seq });
                        n++;
                        break;
                case NLMSG_ERROR:
                        if (nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(struct nlmsgerr)) {
                                const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

                                if (e->error != 0) {
                                        handler(userdata, &(RtnlLink) { .type = RTNL_REQUEST_FAILED,
                                                                        .error = e->error,
                                                                        .seq = nlh->nlmsg_seq });
                                        n++;
                                }
                        }
                        break;
                default:
                        break;
                }
        }
        return n;
}

static int rtnl_request_dump(Rtnl *r)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;

        if (r->dump_running) {
                r->dump_pending = true;
                return 0;
        }
        if (++r->seq == 0)
                r->seq = 1;   /* 0 is what events carry */
        nlh = netlink_put_request(buf, RTM_GETLINK, NLM_F_DUMP, r->seq);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
                return log_error_errno(errno, "Failed to request the link dump: %m");
        r->dump_seq = r->seq;
        r->dump_running = true;
        r->handler(r->userdata, &(RtnlLink) { .type = RTNL_DUMP_START });
        return 0;
}

int rtnl_resync(Rtnl *r)
{
        log_info("Resynchronising links with the kernel.");
        return rtnl_request_dump(r);
}

static void on_link(void *userdata, const RtnlLink *link)
{
        Rtnl *r = userdata;

        switch (link->type) {
        case RTNL_REQUEST_FAILED:
                if (link->seq != r->dump_seq || r->dump_seq == 0)
                        return;   /* a request we gave up on already */
                if (link->error == -EBUSY) {
                        /* an older dump is still running: ask again when it ends */
                        r->dump_seq = 0;
                        r->dump_running = r->dump_pending = true;
                        return;
                }
                if (link->error == -ENOBUFS)
                        return;   /* the dump started, its first part did not fit: it goes on as we read */
                log_warning_errno(link->error, "rtnetlink link dump failed: %m");
                r->dump_seq = 0;
                r->dump_running = false;
                return;
        case RTNL_DUMP_DONE:
                r->dump_running = false;
                if (link->seq == r->dump_seq && r->dump_seq != 0) {
                        r->dump_seq = 0;
                        r->handler(r->userdata, link);
                }
                if (r->dump_pending) {
                        r->dump_pending = false;
                        (void) rtnl_request_dump(r);
                }
                return;
        default:
                r->handler(r->userdata, link);
                return;
        }
}

void rtnl_overflowed(Rtnl *r)
{
        /* events were lost: the only safe answer is a full dump */
        log_warning("rtnetlink receive queue overflowed, events lost.");
        /* A dump that began before the loss may report links the lost events removed: only one that
         * begins now can be trusted. An EBUSY answer says the old one still runs; we ask again when
         * it ends. */
        r->dump_seq = 0;
        r->dump_running = r->dump_pending = false;
        (void) rtnl_resync(r);
}

int rtnl_receive(Rtnl *r, const void *buf, size_t len)
{
        return rtnl_parse(buf, len, on_link, r);
}

unsigned rtnl_dump_seq(const Rtnl *r)
{
        return r->dump_seq;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Rtnl *r = userdata;
        /* 32 KiB: a dump datagram of many links fits; the kernel never sends more per recv */
        static char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));

        for (unsigned i = 0; i < 64; i++) {
                struct sockaddr_nl sender = {};
                socklen_t sl = sizeof(sender);
                ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *) &sender, &sl);

                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        if (errno == ENOBUFS) {
                                rtnl_overflowed(r);
                                continue;
                        }
                        return log_error_errno(errno, "Failed to receive from rtnetlink: %m");
                }
                if (sender.nl_pid != 0) {
                        /* only the kernel speaks for the links (a process needs CAP_NET_ADMIN to
                         * send to us at all, but it must not be able to fake a link either) */
                        log_debug("Ignoring an rtnetlink datagram from port %u, not the kernel.", sender.nl_pid);
                        continue;
                }
                (void) rtnl_receive(r, buf, (size_t) n);
        }
        return 0;
}

int rtnl_new(Rtnl **ret, sd_event *event, rtnl_handler_t handler, void *userdata)
{
        Rtnl *r;
        int rcvbuf = 4 * 1024 * 1024, one = 1, e;

        r = calloc(1, sizeof(Rtnl));
        if (!r)
                return -ENOMEM;
        r->handler = handler;
        r->userdata = userdata;
        r->seq = (unsigned) time(NULL);

        r->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (!r->nl) {
                e = log_error_errno(errno, "Failed to open rtnetlink socket: %m");
                goto fail;
        }
        /* a burst of link changes must not overflow the queue (ENOBUFS triggers a resync anyway) */
        if (setsockopt(mnl_socket_get_fd(r->nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
                (void) setsockopt(mnl_socket_get_fd(r->nl), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
        (void) mnl_socket_setsockopt(r->nl, NETLINK_EXT_ACK, &one, sizeof(one));
        /* subscribe first, then dump: a change between the two is seen at least once */
        if (mnl_socket_bind(r->nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
                e = log_error_errno(errno, "Failed to subscribe to link events: %m");
                goto fail;
        }
        e = sd_event_add_io(event, &r->io, mnl_socket_get_fd(r->nl), EPOLLIN, on_io, r);
        if (e < 0) {
                log_error_errno(e, "Failed to watch rtnetlink: %m");
                goto fail;
        }
        e = rtnl_request_dump(r);
        if (e < 0)
                goto fail;
        *ret = r;
        return 0;
fail:
        rtnl_free(r);
        return e;
}

Rtnl *rtnl_free(Rtnl *r)
{
        if (!r)
                return NULL;
        sd_event_source_disable_unref(r->io);
        if (r->nl)
                mnl_socket_close(r->nl);
        free(r);
        return NULL;
}

static void store_link(void *userdata, const RtnlLink *link)
{
        RtnlLink *out = userdata;

        if (link->type == RTNL_LINK_NEW)
                *out = *link;
        else if (link->type == RTNL_REQUEST_FAILED && out->type != RTNL_LINK_NEW)
                out->error = link->error;
}

int rtnl_get_link(const char *name, RtnlLink *ret)
{
        /* not MNL_SOCKET_BUFFER_SIZE (a page): a link with many attributes answers with more, and
         * a truncated answer would make a present link look absent */
        _cleanup_free_ char *buf = NULL;
        const size_t size = 32768;
        RtnlLink found = { .type = RTNL_REQUEST_FAILED };
        struct mnl_socket *nl;
        struct nlmsghdr *nlh;
        struct ifinfomsg *ifi;
        ssize_t n;
        int r = 0;

        if (!name || strlen(name) >= IF_NAMESIZE)
                return -EINVAL;
        buf = malloc(size);
        if (!buf)
                return -ENOMEM;
        r = netlink_open(&nl, SOCK_CLOEXEC, 0);
        if (r < 0)
                return r;
        nlh = netlink_put_request(buf, RTM_GETLINK, 0, 1);
        ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        n = netlink_request(nl, nlh, buf, size);
        if (n < 0) {
                r = (int) n;
                goto finish;
        }
        (void) rtnl_parse(buf, (size_t) n, store_link, &found);
        if (found.type != RTNL_LINK_NEW)
                r = found.error < 0 ? found.error : -ENODEV;
        else
                *ret = found;
finish:
        mnl_socket_close(nl);
        return r;
}
