/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <linux/netlink.h>

#include "netlink-util.h"

int netlink_open(struct mnl_socket **ret, int flags, unsigned groups)
{
        struct mnl_socket *nl;
        int r;

        nl = mnl_socket_open2(NETLINK_ROUTE, flags);
        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, groups, MNL_SOCKET_AUTOPID) < 0) {
                r = -errno;
                mnl_socket_close(nl);
                return r;
        }
        *ret = nl;
        return 0;
}

struct nlmsghdr *netlink_put_request(void *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | flags;
        nlh->nlmsg_seq = seq;
        return nlh;
}

int netlink_transact(struct mnl_socket *nl, const struct nlmsghdr *nlh)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        uint32_t seq = nlh->nlmsg_seq, portid = mnl_socket_get_portid(nl);
        ssize_t n;
        int r;

        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        for (;;) {
                n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
                if (n < 0)
                        return -errno;
                r = mnl_cb_run(buf, (size_t) n, seq, portid, NULL, NULL);
                if (r < 0)
                        return errno > 0 ? -errno : -EIO;
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

ssize_t netlink_request(struct mnl_socket *nl, const struct nlmsghdr *nlh, void *buf, size_t size)
{
        ssize_t n;

        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        n = mnl_socket_recvfrom(nl, buf, size);
        return n < 0 ? -errno : n;
}
