// SPDX-License-Identifier: GPL-2.0-or-later
/* Placeholder until the fastpath lands (sockops + sk_msg on a SOCKHASH). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "skfastpath.h"

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 1024);
        __type(key, __u16);
        __type(value, struct skfp_port_value);
} ports SEC(".maps");

SEC("sockops")
int skfp_sockops(struct bpf_sock_ops *skops)
{
        return 1;
}

char LICENSE[] SEC("license") = "GPL";
