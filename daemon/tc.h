/* SPDX-License-Identifier: GPL-2.0-or-later */
/* TC filters on a clsact qdisc over rtnetlink: the attachment of the interception programs on
 * kernels without tcx links (before Linux 6.6). Our filters are cls_bpf in direct-action mode with
 * a fixed priority and handle (TC_PRIORITY, TC_HANDLE: `tc filter show dev IF egress` lists them
 * as "pref 21318 ... handle 0x5346"), named after the program ("skfp_..."). Unlike a tcx link a
 * filter outlives its loader: whoever attaches one must remove it. All return -errno; none logs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <libmnl/libmnl.h>

#define TC_PRIORITY 0x5346U   /* "SF", 21318 */
#define TC_HANDLE 0x5346U
#define TC_NAME_PREFIX "skfp_"

/* Adds a clsact qdisc to ifindex: 1 when we created it, 0 when one was there. */
int tc_clsact_add(struct mnl_socket *nl, int ifindex);
/* Deletes the clsact qdisc of ifindex (and every filter on it: callers check first). */
int tc_clsact_del(struct mnl_socket *nl, int ifindex);

/* Creates our filter on the ingress or egress hook of ifindex, or gives the one there the program
 * prog_fd in place (the kernel swaps it atomically: no packet sees neither). */
int tc_filter_replace(struct mnl_socket *nl, int ifindex, bool egress, int prog_fd, const char *name);
/* Deletes our filter. -ENOENT when there is none (or the link is gone: -ENODEV, -EINVAL). */
int tc_filter_del(struct mnl_socket *nl, int ifindex, bool egress);

typedef struct TcFilterInfo {
        uint32_t handle;
        uint16_t priority;
        bool bpf;
        char name[64];       /* TCA_BPF_NAME, "" when none */
        uint32_t prog_id;    /* TCA_BPF_ID, 0 when none */
} TcFilterInfo;

/* Lists the filters (not the chain heads) on a hook of ifindex into *ret (malloc'ed, n in *ret_n).
 * No clsact qdisc: none, 0. */
int tc_filter_list(struct mnl_socket *nl, int ifindex, bool egress, TcFilterInfo **ret, size_t *ret_n);

/* Whether f is ours: our priority and handle, cls_bpf, our name on the filter and a program of
 * ours (by its name in the kernel) behind it. Another program's filter is never ours. */
bool tc_filter_is_ours(const TcFilterInfo *f);
