// SPDX-License-Identifier: GPL-2.0-or-later
/* Interception: TC egress on each managed interface sends TCP to a managed destination port to lo
 * ingress with the intercept mark; TC ingress on lo hands those packets to their own socket (an
 * intercepted flow) or to the transparent listener (a new one) with bpf_sk_assign(). The kernel's
 * policy routing (fwmark rule + local default route, daemon/routing.c) then delivers them locally.
 *
 * Fail open: egress redirects a SYN only while the listener exists, and any other packet only when
 * its flow is one we intercepted; everything else leaves the interface as if we were not here. */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "skfastpath.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define ETH_HLEN 14
#define ETH_ALEN 6
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

/* Set by the daemon before load. */
const volatile __u32 lo_ifindex = 1;
const volatile __u32 intercept_mark = 0;
const volatile __u32 bypass_mark = 0;
const volatile __u16 listen_port = 15001;   /* host order; listener on 127.0.0.1 and ::1 */

/* Managed destination ports (host order); the value's flags are informational here. */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 1024);
        __type(key, __u16);
        __type(value, struct skfp_port_value);
} intercept_ports SEC(".maps");

/* Selected cgroups (Cgroups=): key the cgroup v2 id, value its level (depth below the root). */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 1024);
        __type(key, __u64);
        __type(value, __u32);
} intercept_cgroups SEC(".maps");

/* The one entry: whether a selection is in force, the levels it has, whether ports limit it. */
struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct skfp_intercept_settings);
} intercept_settings SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, _SKFP_IC_MAX);
        __type(key, __u32);
        __type(value, __u64);
} intercept_counters SEC(".maps");

static __always_inline void count(__u32 i)
{
        __u64 *v = bpf_map_lookup_elem(&intercept_counters, &i);

        if (v)
                (*v)++;
}

struct flow {
        struct bpf_sock_tuple tuple;  /* as the receiving side sees it: saddr = the client */
        bool v6;
        bool syn;                     /* SYN without ACK: a new connection */
};

/* Parses IPv4/IPv6 TCP at l3off. Returns the destination port (host order), or 0 when the packet
 * is not plain TCP (IPv6 extension headers and IPv4 fragments are left alone). */
static __always_inline __u16 parse(struct __sk_buff *skb, __u32 l3off, struct flow *f)
{
        void *data = (void *) (long) skb->data;
        void *end = (void *) (long) skb->data_end;
        struct tcphdr *tcp;

        if (l3off) {
                struct ethhdr *eth = data;

                if ((void *) (eth + 1) > end || eth->h_proto != skb->protocol)
                        return 0;
        }

        if (skb->protocol == bpf_htons(ETH_P_IP)) {
                struct iphdr *ip = data + l3off;

                if ((void *) (ip + 1) > end || ip->version != 4 || ip->ihl < 5 ||
                    ip->protocol != IPPROTO_TCP || (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)))
                        return 0;
                tcp = (void *) ip + ip->ihl * 4;
                if ((void *) (tcp + 1) > end)
                        return 0;
                f->tuple.ipv4.saddr = ip->saddr;
                f->tuple.ipv4.daddr = ip->daddr;
                f->tuple.ipv4.sport = tcp->source;
                f->tuple.ipv4.dport = tcp->dest;
                f->v6 = false;
        } else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
                struct ipv6hdr *ip6 = data + l3off;

                if ((void *) (ip6 + 1) > end || ip6->version != 6 || ip6->nexthdr != IPPROTO_TCP)
                        return 0;
                tcp = (void *) (ip6 + 1);
                if ((void *) (tcp + 1) > end)
                        return 0;
                __builtin_memcpy(f->tuple.ipv6.saddr, &ip6->saddr, 16);
                __builtin_memcpy(f->tuple.ipv6.daddr, &ip6->daddr, 16);
                f->tuple.ipv6.sport = tcp->source;
                f->tuple.ipv6.dport = tcp->dest;
                f->v6 = true;
        } else
                return 0;

        f->syn = tcp->syn && !tcp->ack;
        return bpf_ntohs(tcp->dest);
}

/* The verifier wants a constant tuple size in each call, hence one call per family. */
static __always_inline struct bpf_sock *skc_lookup(struct __sk_buff *skb, struct bpf_sock_tuple *t, bool v6)
{
        if (v6)
                return bpf_skc_lookup_tcp(skb, t, sizeof(t->ipv6), BPF_F_CURRENT_NETNS, 0);
        return bpf_skc_lookup_tcp(skb, t, sizeof(t->ipv4), BPF_F_CURRENT_NETNS, 0);
}

/* The flow's own socket, if it is one we intercepted (request, established or time-wait socket
 * whose local address is the original destination). A listener is not the flow's socket. */
static __always_inline struct bpf_sock *lookup_flow(struct __sk_buff *skb, struct flow *f)
{
        struct bpf_sock *sk = skc_lookup(skb, &f->tuple, f->v6);

        if (sk && sk->state == BPF_TCP_LISTEN) {
                bpf_sk_release(sk);
                return NULL;
        }
        return sk;
}

/* Our listener, found by its bound address: 127.0.0.1 or ::1, ListenPort. */
static __always_inline struct bpf_sock *lookup_listener(struct __sk_buff *skb, struct flow *f)
{
        struct bpf_sock_tuple t = f->tuple;
        struct bpf_sock *sk;

        if (f->v6) {
                t.ipv6.daddr[0] = 0;
                t.ipv6.daddr[1] = 0;
                t.ipv6.daddr[2] = 0;
                t.ipv6.daddr[3] = bpf_htonl(1);
                t.ipv6.dport = bpf_htons(listen_port);
        } else {
                t.ipv4.daddr = bpf_htonl(0x7f000001);
                t.ipv4.dport = bpf_htons(listen_port);
        }
        sk = skc_lookup(skb, &t, f->v6);
        if (sk && sk->state != BPF_TCP_LISTEN) {
                bpf_sk_release(sk);
                return NULL;
        }
        return sk;
}

/* Whether the socket that sent skb is in a selected cgroup or below: one ancestor lookup per level
 * that has a selected cgroup (at most SKFP_CGROUP_LEVELS). */
static __always_inline bool cgroup_selected(struct __sk_buff *skb, __u32 levels)
{
        for (__u32 i = 0; i < SKFP_CGROUP_LEVELS; i++) {
                __u64 id;

                if (!(levels & (1u << i)))
                        continue;
                id = bpf_skb_ancestor_cgroup_id(skb, (int) i);
                if (id == 0)
                        return false;    /* the socket sits above this level (and every deeper one) */
                if (bpf_map_lookup_elem(&intercept_cgroups, &id))
                        return true;
        }
        return false;
}

static __always_inline int egress(struct __sk_buff *skb, bool l3)
{
        struct skfp_intercept_settings *set;
        struct bpf_sock *sk;
        struct flow f = {};
        bool managed_port;
        __u32 zero = 0;
        __u16 port;

        port = parse(skb, l3 ? 0 : ETH_HLEN, &f);
        if (port == 0)
                return TC_ACT_OK;
        managed_port = bpf_map_lookup_elem(&intercept_ports, &port);
        set = bpf_map_lookup_elem(&intercept_settings, &zero);
        if (!managed_port && !(set && set->all_ports))
                return TC_ACT_OK;

        if (skb->mark == bypass_mark) {
                count(SKFP_IC_BYPASSED);
                return TC_ACT_OK;
        }

        if (f.syn) {
                /* With a selection, a local socket's new connection is intercepted only when its
                 * cgroup is selected; forwarded packets (no socket) go by port as without. */
                if (set && set->selected) {
                        if (bpf_skb_cgroup_id(skb) != 0) {
                                if (!cgroup_selected(skb, set->levels)) {
                                        count(SKFP_IC_CGROUP_UNSELECTED);
                                        return TC_ACT_OK;
                                }
                        } else if (!managed_port)
                                return TC_ACT_OK;
                }
                sk = lookup_listener(skb, &f);
                if (!sk) {
                        count(SKFP_IC_FAIL_OPEN);
                        return TC_ACT_OK;
                }
        } else {
                sk = lookup_flow(skb, &f);
                if (!sk) {
                        count(SKFP_IC_PASSED_DIRECT);
                        return TC_ACT_OK;
                }
        }
        bpf_sk_release(sk);

        if (l3) {
                /* A layer-3 skb has no link-layer header; lo's ingress path expects one. */
                __be16 proto = skb->protocol;

                if (bpf_skb_change_head(skb, ETH_HLEN, 0) ||
                    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_proto), &proto, sizeof(proto), 0)) {
                        count(SKFP_IC_ERRORS);
                        return TC_ACT_SHOT;
                }
        } else {
                /* lo's address is all zeros: any other destination MAC is PACKET_OTHERHOST there. */
                __u8 zero[ETH_ALEN] = {};

                if (bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), zero, sizeof(zero), 0)) {
                        count(SKFP_IC_ERRORS);
                        return TC_ACT_SHOT;
                }
        }

        skb->mark = intercept_mark;
        if (f.syn)
                count(SKFP_IC_NEW_FLOWS);
        count(SKFP_IC_REDIRECTED);
        return bpf_redirect(lo_ifindex, BPF_F_INGRESS);
}

SEC("tc")
int skfp_egress_eth(struct __sk_buff *skb)
{
        return egress(skb, false);
}

SEC("tc")
int skfp_egress_l3(struct __sk_buff *skb)
{
        return egress(skb, true);
}

SEC("tc")
int skfp_lo_ingress(struct __sk_buff *skb)
{
        struct bpf_sock *sk;
        struct flow f = {};
        bool listener = false;
        long r;

        if (skb->mark != intercept_mark)
                return TC_ACT_OK;
        if (parse(skb, ETH_HLEN, &f) == 0)
                return TC_ACT_OK;

        sk = lookup_flow(skb, &f);
        if (!sk) {
                sk = lookup_listener(skb, &f);
                if (!sk) {
                        /* The listener went away after egress looked: drop, the client's SYN
                         * retransmission then finds no listener and goes direct. */
                        count(SKFP_IC_NO_SOCKET);
                        return TC_ACT_SHOT;
                }
                listener = true;
        }

        r = bpf_sk_assign(skb, sk, 0);
        bpf_sk_release(sk);
        if (r) {
                count(SKFP_IC_ASSIGN_FAILED);
                /* The flow's own socket is found by the normal lookup too; the listener is not. */
                return listener ? TC_ACT_SHOT : TC_ACT_OK;
        }
        count(SKFP_IC_ASSIGNED);
        return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
