// SPDX-License-Identifier: GPL-2.0-or-later
/* Placeholder until interception lands (TC egress redirect, lo ingress sk_assign). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "skfastpath.h"

SEC("tc")
int skfp_egress(struct __sk_buff *skb)
{
        return 0; /* TC_ACT_OK */
}

char LICENSE[] SEC("license") = "GPL";
