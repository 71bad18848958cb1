// SPDX-License-Identifier: GPL-2.0-or-later
/* The splice safety net for declared receivers, a kprobe on tcp_splice_read: splice() reads
 * only the TCP receive queue, never the ingress queue sk_msg redirects to, so a receiver read
 * with splice() would not see redirected bytes. The first splice on a receiver flags it (sk_msg
 * then passes every connection that sends to it, for good), counts it and reports the program
 * once through a ring buffer. A receiver is found by its key (as sockops built it), read from
 * the socket with CO-RE. Where kprobes are missing, a raw tracepoint on system call entry does
 * the same for splice(2) (below). Loaded apart from fastpath.bpf.c (whose `queues` and
 * `counters` maps it reuses by fd): a kernel that can do neither keeps the fastpath, without
 * this net. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "skfastpath.h"

struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, 65536);
        __type(key, struct skfp_sock_key);
        __type(value, struct skfp_queue);
} queues SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, _SKFP_FP_MAX);
        __type(key, __u32);
        __type(value, __u64);
} counters SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 64 * 1024);
} splice_events SEC(".maps");

/* The key sockops built for this socket (fastpath.bpf.c), from the socket's common part. */
static __always_inline int sock_key(struct sock *sk, struct skfp_sock_key *k)
{
        __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

        k->family = family;
        k->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
        k->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
        if (family == SKFP_AF_INET) {
                k->local_ip[0] = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
                k->remote_ip[0] = BPF_CORE_READ(sk, __sk_common.skc_daddr);
        } else if (family == SKFP_AF_INET6) {
                BPF_CORE_READ_INTO(&k->local_ip, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
                BPF_CORE_READ_INTO(&k->remote_ip, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
                if (!(k->local_ip[0] | k->local_ip[1] | k->remote_ip[0] | k->remote_ip[1]) &&
                    k->local_ip[2] == bpf_htonl(0xffff) && k->remote_ip[2] == bpf_htonl(0xffff)) {
                        k->family = SKFP_AF_INET;
                        k->local_ip[0] = k->local_ip[3];
                        k->remote_ip[0] = k->remote_ip[3];
                        k->local_ip[1] = k->local_ip[2] = k->local_ip[3] = 0;
                        k->remote_ip[1] = k->remote_ip[2] = k->remote_ip[3] = 0;
                }
        } else
                return -1;
        k->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie);
        return 0;
}

static __always_inline struct skfp_queue *receiver_queue(struct sock *sk)
{
        struct skfp_sock_key k = {};

        if (!sk || sock_key(sk, &k) < 0)
                return NULL;
        return bpf_map_lookup_elem(&queues, &k);
}

/* The first splice() on a receiver: flag, count, report. */
static __always_inline void splice_seen(struct sock *sk)
{
        struct skfp_splice_event *e;
        struct skfp_queue *q;
        __u32 idx = SKFP_FP_SPLICED;
        __u64 *v;

        q = receiver_queue(sk);
        if (!q || (q->flags & SKFP_QUEUE_F_SPLICED))
                return;
        q->flags |= SKFP_QUEUE_F_SPLICED; /* two splicers at once may both report: harmless */

        v = bpf_map_lookup_elem(&counters, &idx);
        if (v)
                *v += 1;
        e = bpf_ringbuf_reserve(&splice_events, sizeof(*e), 0);
        if (!e)
                return;
        e->pid = bpf_get_current_pid_tgid() >> 32;
        e->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
        e->remote_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        bpf_ringbuf_submit(e, 0);
}

SEC("kprobe/tcp_splice_read")
int BPF_KPROBE(skfp_splice_read, struct socket *sock)
{
        splice_seen(BPF_CORE_READ(sock, sk));
        return 0;
}

/* The fallback where kprobes are missing: the splice(2) system call, its input fd resolved to a
 * socket through the calling task's file table. It runs at every system call entry of the host
 * (one comparison unless it is splice), so it is only loaded when the kprobe cannot attach. */
const volatile long splice_nr = -1;

#define S_IFMT 0170000
#define S_IFSOCK 0140000

SEC("raw_tracepoint/sys_enter")
int skfp_splice_syscall(struct bpf_raw_tracepoint_args *ctx)
{
        struct task_struct *task;
        struct pt_regs *regs;
        struct file **fds, *file = NULL;
        struct socket *sock;
        unsigned int max_fds;
        int fd;

        if ((long) ctx->args[1] != splice_nr)
                return 0;
        regs = (struct pt_regs *) ctx->args[0];
        fd = (int) PT_REGS_PARM1_CORE_SYSCALL(regs);
        task = (struct task_struct *) bpf_get_current_task();
        max_fds = BPF_CORE_READ(task, files, fdt, max_fds);
        if (fd < 0 || (unsigned int) fd >= max_fds)
                return 0;
        fds = BPF_CORE_READ(task, files, fdt, fd);
        if (!fds || bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) < 0 || !file)
                return 0;
        if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
                return 0;
        sock = BPF_CORE_READ(file, private_data);
        if (sock)
                splice_seen(BPF_CORE_READ(sock, sk));
        return 0;
}

char LICENSE[] SEC("license") = "GPL";
