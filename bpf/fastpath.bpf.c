// SPDX-License-Identifier: GPL-2.0-or-later
/* The sockmap fastpath. sockops on a cgroup v2 puts established TCP sockets of managed ports into
 * two SOCKHASHes: `sockhash` (carries sk_msg) holds the sockets that may send on the fastpath,
 * `receivers` (no program) the sockets that may receive: the relay's own accepted sockets and
 * declared (trusted) receivers. sk_msg hands each sendmsg() straight to the peer's ingress queue
 * (BPF_F_INGRESS) only when the peer is a receiver and has less than the bound queued; anything
 * else passes through TCP, for good. Everything here must fail open: when in doubt, SK_PASS sends
 * the data the ordinary way. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "skfastpath.h"

#define SOL_SOCKET 1
#define SO_MARK 36

/* SO_MARK of the relay's sockets: its upstream sockets are never put into a map, the sockets its
 * listeners accept (the mark is inherited) are receivers (0: none). */
const volatile __u32 bypass_mark = 0;

/* Every map below is pinned by the daemon, so that a restarted daemon (and the programs still
 * attached to sockets of the previous one) share them. */
struct {
        __uint(type, BPF_MAP_TYPE_SOCKHASH);
        __uint(max_entries, 65536); /* MaxSockets=, set before load */
        __type(key, struct skfp_sock_key);
        __type(value, __u64);
} sockhash SEC(".maps");

/* The sockets sk_msg may redirect into. No program is attached to it. */
struct {
        __uint(type, BPF_MAP_TYPE_SOCKHASH);
        __uint(max_entries, 65536); /* MaxSockets=, set before load */
        __type(key, struct skfp_sock_key);
        __type(value, __u64);
} receivers SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, 65536); /* MaxSockets=, set before load */
        __type(key, struct skfp_sock_key);
        __type(value, struct skfp_queue);
} queues SEC(".maps");

/* Cgroup ids (cgroup2 inode numbers) whose sockets, and those of their descendants, are
 * declared receivers. */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __uint(max_entries, 1024);
        __type(key, __u64);
        __type(value, __u8);
} trusted_cgroups SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __uint(max_entries, 65536);
        __type(key, __u16);
        __type(value, struct skfp_port_value);
} ports SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct skfp_settings);
} settings SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_SK_STORAGE);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, int);
        __type(value, struct skfp_conn);
} conns SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, _SKFP_FP_MAX);
        __type(key, __u32);
        __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx, __u64 n)
{
        __u64 *v = bpf_map_lookup_elem(&counters, &idx);

        if (v)
                *v += n;
}

static __always_inline struct skfp_settings *get_settings(void)
{
        __u32 zero = 0;

        return bpf_map_lookup_elem(&settings, &zero);
}

static __always_inline __u32 port_flags(__u16 port)
{
        struct skfp_port_value *v = bpf_map_lookup_elem(&ports, &port);

        return v ? v->flags : 0;
}

#define CGROUP_MAX_DEPTH 32

/* Whether the socket's cgroup (inherited from the listener by accepted sockets) or one of its
 * ancestors is a trusted cgroup. Read through BTF; any read that fails answers no. */
static __always_inline bool sock_in_trusted_cgroup(struct bpf_sock_ops *skops)
{
        struct bpf_sock *bsk = skops->sk;
        struct cgroup_subsys_state *parent;
        struct tcp_sock *tp;
        struct cgroup *cg;

        if (!bsk)
                return false;
        tp = bpf_skc_to_tcp_sock(bsk);
        if (!tp)
                return false;
        cg = tp->inet_conn.icsk_inet.sk.sk_cgrp_data.cgroup;
        for (int i = 0; i < CGROUP_MAX_DEPTH && cg; i++) {
                struct kernfs_node *kn = cg->kn;
                __u64 id;

                if (!kn)
                        return false;
                id = kn->id;
                if (bpf_map_lookup_elem(&trusted_cgroups, &id))
                        return true;
                /* the parent's state knows its cgroup (a cast would lose the BTF type) */
                parent = cg->self.parent;
                cg = parent ? parent->cgroup : NULL;
        }
        return false;
}

/* A dual-stack listener's sockets carry ::ffff:a.b.c.d while their IPv4 peers carry a.b.c.d:
 * fold the former into the latter so both ends build the same key. */
static __always_inline void key_fold_v4mapped(struct skfp_sock_key *k)
{
        if (k->family != SKFP_AF_INET6)
                return;
        if (k->local_ip[0] | k->local_ip[1] | k->remote_ip[0] | k->remote_ip[1])
                return;
        if (k->local_ip[2] != bpf_htonl(0xffff) || k->remote_ip[2] != bpf_htonl(0xffff))
                return;
        k->family = SKFP_AF_INET;
        k->local_ip[0] = k->local_ip[3];
        k->remote_ip[0] = k->remote_ip[3];
        k->local_ip[2] = k->local_ip[3] = 0;
        k->remote_ip[2] = k->remote_ip[3] = 0;
}

SEC("sockops")
int skfp_sockops(struct bpf_sock_ops *skops)
{
        struct skfp_sock_key key = {};
        struct skfp_settings *s;
        struct skfp_conn *conn;
        __u32 op = skops->op, local_flags;
        bool sender = true, receiver = false, failed = false;
        int mark = 0;
        long r;

        /* Both callbacks run without any sockops callback flag set, so the program stays off
         * the per-packet path. */
        if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
                return 1;

        key.family = skops->family;
        if (key.family != SKFP_AF_INET && key.family != SKFP_AF_INET6)
                return 1;
        key.local_port = skops->local_port;
        key.remote_port = bpf_ntohl(skops->remote_port);
        local_flags = port_flags(key.local_port);
        if (!(local_flags & SKFP_PORT_FASTPATH) && !(port_flags(key.remote_port) & SKFP_PORT_FASTPATH))
                return 1;

        /* Switched off: new connections stay plain TCP (and cost nothing in sendmsg). */
        s = get_settings();
        if (!s || !s->enabled)
                return 1;

        if (bypass_mark != 0 &&
            bpf_getsockopt(skops, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == 0 &&
            (__u32) mark == bypass_mark) {
                if (op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) {
                        count(SKFP_FP_SKIPPED_MARK, 1);
                        return 1;
                }
                /* Accepted by the relay's listener: a receiver whose reader we wrote. It also
                 * sends, but sk_msg redirects only into receivers: its answers reach a declared
                 * (trusted) application directly, any other one through TCP. */
                receiver = true;
        } else if (local_flags & SKFP_PORT_TRUSTED) {
                receiver = true;
        } else if (s->n_trusted_cgroups != 0 && sock_in_trusted_cgroup(skops)) {
                receiver = true;
        }

        if (key.family == SKFP_AF_INET) {
                key.local_ip[0] = skops->local_ip4;
                key.remote_ip[0] = skops->remote_ip4;
        } else {
                key.local_ip[0] = skops->local_ip6[0];
                key.local_ip[1] = skops->local_ip6[1];
                key.local_ip[2] = skops->local_ip6[2];
                key.local_ip[3] = skops->local_ip6[3];
                key.remote_ip[0] = skops->remote_ip6[0];
                key.remote_ip[1] = skops->remote_ip6[1];
                key.remote_ip[2] = skops->remote_ip6[2];
                key.remote_ip[3] = skops->remote_ip6[3];
                key_fold_v4mapped(&key);
        }
        /* Two namespaces may use the same addresses: without this a socket in one could be
         * matched with a peer in another. */
        key.netns = bpf_get_netns_cookie(skops);

        /* BPF_NOEXIST: a live entry with this key is never replaced (that would evict a
         * connection whose data is still queued); a full map fails here and is counted. */
        if (receiver) {
                /* the flag first: the tracing program knows a receiver by it */
                struct bpf_sock *sk = skops->sk;

                conn = sk ? bpf_sk_storage_get(&conns, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE) : NULL;
                /* the address only: sk_msg reads the receiver's queue through it with
                 * probe_read (it holds no reference); an entry of a closed socket is never
                 * used, as the redirect misses, and a new socket with its key replaces it */
                struct skfp_queue q = { .sk = (__u64) sk };

                if (conn && bpf_map_update_elem(&queues, &key, &q, BPF_ANY) == 0) {
                        conn->flags |= SKFP_CONN_F_RECEIVER;
                        r = bpf_sock_hash_update(skops, &receivers, &key, BPF_NOEXIST);
                        if (r == 0)
                                count(SKFP_FP_RECEIVERS, 1);
                        else
                                failed = true;
                } else
                        failed = true;
        }
        if (sender) {
                r = bpf_sock_hash_update(skops, &sockhash, &key, BPF_NOEXIST);
                if (r == 0)
                        count(SKFP_FP_INSERTED, 1);
                else
                        failed = true;
        }
        /* once per socket, whichever map refused it */
        if (failed)
                count(SKFP_FP_INSERT_FAILED, 1);
        return 1;
}

/* The peer's verdict: 0 redirect, else the pass state. A receiver may have at most the bound
 * queued (its sk_rcvbuf if that is more): past it the connection passes for good and TCP's own
 * flow control holds the sender. Since the "charge receive socket buffer" fixes (6.13, and the
 * 6.1/6.6/6.12 stable series) redirected bytes are counted in the receiver's sk_rmem_alloc, which
 * its sk_rcvbuf does not limit. sk_msg cannot release a socket from a map lookup, so the address
 * sockops stored is read with probe_read (CO-RE); where that fails nothing is redirected. */
static __always_inline __u32 peer_verdict(struct skfp_sock_key *key, struct skfp_settings *s, __u32 size)
{
        struct skfp_queue *q;
        struct sock *sk;
        int rmem = 0, rcvbuf = 0;
        __u64 bound;

        q = bpf_map_lookup_elem(&queues, key);
        if (!q)
                return SKFP_CONN_PASS_MISS;
        if (q->flags & SKFP_QUEUE_F_SPLICED)
                return SKFP_CONN_PASS_SPLICED;
        sk = (struct sock *) q->sk;
        if (!bpf_core_field_exists(sk->sk_backlog.rmem_alloc) ||
            bpf_core_read(&rmem, sizeof(rmem), &sk->sk_backlog.rmem_alloc.counter) < 0 ||
            bpf_core_read(&rcvbuf, sizeof(rcvbuf), &sk->sk_rcvbuf) < 0 || rmem < 0)
                return SKFP_CONN_PASS_UNBOUNDED;
        bound = s->receive_bound;
        if (rcvbuf > 0 && (__u64) rcvbuf > bound)
                bound = (__u64) rcvbuf;
        if ((__u64) rmem + size > bound)
                return SKFP_CONN_PASS_BOUND;
        return SKFP_CONN_REDIRECT;
}

static __always_inline int pass(__u32 state, __u32 size)
{
        /* the bound, splice and unbounded passes are also counted once per connection, when it
         * takes that state (sk_msg below) */
        if (state == SKFP_CONN_PASS_MISS) {
                count(SKFP_FP_MISSES, 1);
        } else {
                count(SKFP_FP_PASSED, 1);
                count(SKFP_FP_PASSED_BYTES, size);
        }
        return SK_PASS;
}

SEC("sk_msg")
int skfp_sk_msg(struct sk_msg_md *msg)
{
        struct skfp_sock_key key = {};
        struct skfp_settings *s;
        struct skfp_conn *conn;
        __u32 size = msg->size, verdict;

        /* Keep this load here: clang otherwise merges context offsets the verifier refuses. */
        asm volatile("" : "+r"(size));

        conn = bpf_sk_storage_get(&conns, msg->sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
        if (!conn)
                return pass(SKFP_CONN_PASS_MISS, size);
        if (conn->state != SKFP_CONN_REDIRECT)
                return pass(conn->state, size);

        s = get_settings();
        if (!s || !s->enabled) {
                conn->state = SKFP_CONN_PASS_OFF;
                return pass(conn->state, size);
        }
        if (s->pass_large_writes != 0 && size >= s->pass_large_writes) {
                conn->state = SKFP_CONN_PASS_LARGE;
                return pass(conn->state, size);
        }

        /* The peer's key: its local end is our remote end. */
        key.family = msg->family;
        key.local_port = bpf_ntohl(msg->remote_port);
        key.remote_port = msg->local_port;
        if (key.family == SKFP_AF_INET) {
                key.local_ip[0] = msg->remote_ip4;
                key.remote_ip[0] = msg->local_ip4;
        } else {
                key.local_ip[0] = msg->remote_ip6[0];
                key.local_ip[1] = msg->remote_ip6[1];
                key.local_ip[2] = msg->remote_ip6[2];
                key.local_ip[3] = msg->remote_ip6[3];
                key.remote_ip[0] = msg->local_ip6[0];
                key.remote_ip[1] = msg->local_ip6[1];
                key.remote_ip[2] = msg->local_ip6[2];
                key.remote_ip[3] = msg->local_ip6[3];
                key_fold_v4mapped(&key);
        }
        key.netns = bpf_get_netns_cookie(msg);

        /* A miss must pass, never drop, and stays a pass: the bytes now on their way through
         * TCP must not be overtaken by a later redirect. */
        verdict = peer_verdict(&key, s, size);
        if (verdict != SKFP_CONN_REDIRECT) {
                conn->state = verdict;
                if (verdict == SKFP_CONN_PASS_BOUND)
                        count(SKFP_FP_PASSED_BOUND, 1);
                else if (verdict == SKFP_CONN_PASS_SPLICED)
                        count(SKFP_FP_PASSED_SPLICED, 1);
                else if (verdict == SKFP_CONN_PASS_UNBOUNDED)
                        count(SKFP_FP_PASSED_UNBOUNDED, 1);
                return pass(conn->state, size);
        }
        if (bpf_msg_redirect_hash(msg, &receivers, &key, BPF_F_INGRESS) != SK_PASS) {
                conn->state = SKFP_CONN_PASS_MISS;
                return pass(conn->state, size);
        }
        count(SKFP_FP_REDIRECTED, 1);
        count(SKFP_FP_REDIRECTED_BYTES, size);
        return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
