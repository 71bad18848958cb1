// SPDX-License-Identifier: GPL-2.0-or-later
/* The sockmap fastpath. sockops on a cgroup v2 puts established TCP sockets of managed ports into
 * a SOCKHASH; sk_msg on that SOCKHASH hands each sendmsg() straight to the peer socket's receive
 * queue (BPF_F_INGRESS), skipping the loopback TCP stack. Everything here must fail open: when in
 * doubt, SK_PASS sends the data the ordinary way. */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "skfastpath.h"

#define SOL_SOCKET 1
#define SO_MARK 36

/* SO_MARK of the relay's upstream sockets: never put into the sockhash (0: none). */
const volatile __u32 bypass_mark = 0;

/* Every map below is pinned by the daemon, so that a restarted daemon (and the programs still
 * attached to sockets of the previous one) share them. */
struct {
        __uint(type, BPF_MAP_TYPE_SOCKHASH);
        __uint(max_entries, 65536); /* MaxSockets=, set before load */
        __type(key, struct skfp_sock_key);
        __type(value, __u64);
} sockhash SEC(".maps");

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

static __always_inline bool port_has_fastpath(__u16 port)
{
        struct skfp_port_value *v = bpf_map_lookup_elem(&ports, &port);

        return v && (v->flags & SKFP_PORT_FASTPATH);
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
        __u32 op = skops->op;
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
        if (!port_has_fastpath(key.local_port) && !port_has_fastpath(key.remote_port))
                return 1;

        /* Switched off: new connections stay plain TCP (and cost nothing in sendmsg). */
        s = get_settings();
        if (!s || !s->enabled)
                return 1;

        if (bypass_mark != 0 &&
            bpf_getsockopt(skops, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == 0 &&
            (__u32) mark == bypass_mark) {
                count(SKFP_FP_SKIPPED_MARK, 1);
                return 1;
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
        r = bpf_sock_hash_update(skops, &sockhash, &key, BPF_NOEXIST);
        count(r == 0 ? SKFP_FP_INSERTED : SKFP_FP_INSERT_FAILED, 1);
        return 1;
}

static __always_inline int pass(__u32 state, __u32 size)
{
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
        __u32 size = msg->size;

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
        if (bpf_msg_redirect_hash(msg, &sockhash, &key, BPF_F_INGRESS) != SK_PASS) {
                conn->state = SKFP_CONN_PASS_MISS;
                return pass(conn->state, size);
        }
        count(SKFP_FP_REDIRECTED, 1);
        count(SKFP_FP_REDIRECTED_BYTES, size);
        return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
