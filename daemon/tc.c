/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <bpf/bpf.h>

#include "netlink-util.h"
#include "tc.h"
#include "util.h"

static uint32_t hook_parent(bool egress)
{
        return TC_H_MAKE(TC_H_CLSACT, egress ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
}

static struct tcmsg *put_tcmsg(struct nlmsghdr *nlh, int ifindex, uint32_t parent, uint32_t handle,
                               uint32_t info)
{
        struct tcmsg *t = mnl_nlmsg_put_extra_header(nlh, sizeof(struct tcmsg));

        t->tcm_family = AF_UNSPEC;
        t->tcm_ifindex = ifindex;
        t->tcm_parent = parent;
        t->tcm_handle = handle;
        t->tcm_info = info;
        return t;
}

int tc_clsact_add(struct mnl_socket *nl, int ifindex)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        int r;

        nlh = netlink_put_request(buf, RTM_NEWQDISC, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 1);
        put_tcmsg(nlh, ifindex, TC_H_CLSACT, TC_H_MAKE(TC_H_CLSACT, 0), 0);
        mnl_attr_put_strz(nlh, TCA_KIND, "clsact");
        r = netlink_transact(nl, nlh);
        if (r == -EEXIST)
                return 0;
        return r < 0 ? r : 1;
}

int tc_clsact_del(struct mnl_socket *nl, int ifindex)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;

        nlh = netlink_put_request(buf, RTM_DELQDISC, NLM_F_ACK, 1);
        put_tcmsg(nlh, ifindex, TC_H_CLSACT, TC_H_MAKE(TC_H_CLSACT, 0), 0);
        mnl_attr_put_strz(nlh, TCA_KIND, "clsact");
        return netlink_transact(nl, nlh);
}

/* tcm_info of a filter: the priority in the upper half, the protocol (network order) below */
static uint32_t filter_info(void)
{
        return TC_H_MAKE((uint32_t) TC_PRIORITY << 16, htons(ETH_P_ALL));
}

int tc_filter_replace(struct mnl_socket *nl, int ifindex, bool egress, int prog_fd, const char *name)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;
        struct nlattr *opts;

        nlh = netlink_put_request(buf, RTM_NEWTFILTER, NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, 1);
        put_tcmsg(nlh, ifindex, hook_parent(egress), TC_HANDLE, filter_info());
        mnl_attr_put_strz(nlh, TCA_KIND, "bpf");
        opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
        mnl_attr_put_u32(nlh, TCA_BPF_FD, (uint32_t) prog_fd);
        mnl_attr_put_strz(nlh, TCA_BPF_NAME, name);
        mnl_attr_put_u32(nlh, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
        mnl_attr_nest_end(nlh, opts);
        return netlink_transact(nl, nlh);
}

int tc_filter_del(struct mnl_socket *nl, int ifindex, bool egress)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh;

        nlh = netlink_put_request(buf, RTM_DELTFILTER, NLM_F_ACK, 1);
        put_tcmsg(nlh, ifindex, hook_parent(egress), TC_HANDLE, filter_info());
        mnl_attr_put_strz(nlh, TCA_KIND, "bpf");
        return netlink_transact(nl, nlh);
}

typedef struct ListContext {
        TcFilterInfo *filters;
        size_t n;
        int error;
} ListContext;

static int parse_bpf_options(const struct nlattr *opts, TcFilterInfo *f)
{
        struct nlattr *a;

        mnl_attr_for_each_nested(a, opts) {
                switch (mnl_attr_get_type(a)) {
                case TCA_BPF_NAME:
                        if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                                snprintf(f->name, sizeof(f->name), "%s", mnl_attr_get_str(a));
                        break;
                case TCA_BPF_ID:
                        if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                                f->prog_id = mnl_attr_get_u32(a);
                        break;
                }
        }
        return 0;
}

static int list_cb(const struct nlmsghdr *nlh, void *data)
{
        ListContext *ctx = data;
        const struct tcmsg *t = mnl_nlmsg_get_payload(nlh);
        const struct nlattr *a, *opts = NULL;
        TcFilterInfo f = {}, *p;

        if (nlh->nlmsg_type != RTM_NEWTFILTER || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*t)))
                return MNL_CB_OK;
        if (t->tcm_handle == 0)   /* the head of a priority's chain, not a filter */
                return MNL_CB_OK;
        f.handle = t->tcm_handle;
        f.priority = (uint16_t) (TC_H_MAJ(t->tcm_info) >> 16);
        mnl_attr_for_each(a, nlh, sizeof(*t)) {
                switch (mnl_attr_get_type(a)) {
                case TCA_KIND:
                        if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                                f.bpf = streq(mnl_attr_get_str(a), "bpf");
                        break;
                case TCA_OPTIONS:
                        opts = a;
                        break;
                }
        }
        if (f.bpf && opts)
                parse_bpf_options(opts, &f);

        p = reallocarray(ctx->filters, ctx->n + 1, sizeof(TcFilterInfo));
        if (!p) {
                ctx->error = -ENOMEM;
                return MNL_CB_ERROR;
        }
        ctx->filters = p;
        ctx->filters[ctx->n++] = f;
        return MNL_CB_OK;
}

int tc_filter_list(struct mnl_socket *nl, int ifindex, bool egress, TcFilterInfo **ret, size_t *ret_n)
{
        char buf[MNL_SOCKET_BUFFER_SIZE];
        ListContext ctx = {};
        uint32_t portid = mnl_socket_get_portid(nl), seq = 2;
        struct nlmsghdr *nlh;
        ssize_t n;
        int r;

        nlh = netlink_put_request(buf, RTM_GETTFILTER, NLM_F_DUMP, seq);
        put_tcmsg(nlh, ifindex, hook_parent(egress), 0, 0);
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        for (;;) {
                n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
                if (n < 0) {
                        r = -errno;
                        break;
                }
                r = mnl_cb_run(buf, (size_t) n, seq, portid, list_cb, &ctx);
                if (r < 0) {
                        r = ctx.error < 0 ? ctx.error : errno > 0 ? -errno : -EIO;
                        break;
                }
                if (r == MNL_CB_STOP) {
                        r = 0;
                        break;
                }
        }
        /* no clsact qdisc (or no such hook): nothing of anyone's */
        if (r == -EINVAL || r == -ENOENT)
                r = 0;
        if (r < 0) {
                free(ctx.filters);
                return r;
        }
        *ret = ctx.filters;
        *ret_n = ctx.n;
        return 0;
}

bool tc_filter_is_ours(const TcFilterInfo *f)
{
        struct bpf_prog_info info = {};
        uint32_t len = sizeof(info);
        int fd;
        bool ours;

        if (f->priority != TC_PRIORITY || f->handle != TC_HANDLE || !f->bpf || f->prog_id == 0 ||
            strncmp(f->name, TC_NAME_PREFIX, strlen(TC_NAME_PREFIX)) != 0)
                return false;
        fd = bpf_prog_get_fd_by_id(f->prog_id);
        if (fd < 0)
                return false;
        ours = bpf_obj_get_info_by_fd(fd, &info, &len) >= 0 && strncmp(info.name, TC_NAME_PREFIX, strlen(TC_NAME_PREFIX)) == 0;
        safe_close(fd);
        return ours;
}
