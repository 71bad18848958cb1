/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Layouts shared by the BPF programs and the daemon. Included from BPF C (after vmlinux.h) and
 * from user space (after <linux/types.h>): only __u8/__u16/__u32/__u64 here. */
#pragma once

#define SKFP_AF_INET 2
#define SKFP_AF_INET6 10

/* Sockhash key: one layout for IPv4 and IPv6, no implicit padding, always zeroed first.
 * Addresses in network order, ports in host order. v4-mapped IPv6 is folded to AF_INET. */
struct skfp_sock_key {
        __u32 local_ip[4];
        __u32 remote_ip[4];
        __u32 local_port;
        __u32 remote_port;
        __u32 family;
        __u32 pad;
        __u64 netns;
};

/* Value of the managed port map (key: __u16 port, host order). */
enum {
        SKFP_PORT_FASTPATH = 1 << 0,   /* local connections to/from it get the sockhash */
        SKFP_PORT_INTERCEPT = 1 << 1,  /* egress to it on managed interfaces is intercepted */
        SKFP_PORT_TRUSTED = 1 << 2,    /* its local servers are declared receivers */
};
struct skfp_port_value {
        __u32 flags;
};

/* The one entry of the interception settings array, written by the daemon at run time. */
#define SKFP_CGROUP_LEVELS 32
struct skfp_intercept_settings {
        __u32 selected;           /* Cgroups= has entries: only their sockets' SYNs are intercepted */
        __u32 levels;             /* bit n: a present selected cgroup is at level n */
        __u32 all_ports;          /* selected and no Ports=: every destination port */
        __u32 pad;
};

/* The one entry of the fastpath's settings array, written by the daemon at run time. */
struct skfp_settings {
        __u32 enabled;            /* 0: sk_msg passes, sockops inserts no new socket */
        __u32 pad;
        __u64 pass_large_writes;  /* 0: off; a message of this size or more passes its connection */
        __u64 receive_bound;      /* a receiver with this much queued (or its rcvbuf, if more): pass */
        __u32 n_trusted_cgroups;  /* 0: sockops does not look at cgroups */
        __u32 pad2;
};

/* Per-socket state (SK_STORAGE) of a sending socket in the sockhash. Passing is one-way: a
 * connection that passed once never redirects again, or bytes queued on the TCP path would be
 * overtaken by later redirected ones. */
enum {
        SKFP_CONN_REDIRECT = 0,
        SKFP_CONN_PASS_MISS,      /* the peer was not in the sockhash */
        SKFP_CONN_PASS_OFF,       /* the fastpath was switched off */
        SKFP_CONN_PASS_LARGE,     /* a write reached PassLargeWrites= */
        SKFP_CONN_PASS_BOUND,     /* the peer had the bound queued (receive_bound) */
        SKFP_CONN_PASS_SPLICED,   /* the peer is a receiver that was read with splice() */
        SKFP_CONN_PASS_UNBOUNDED, /* the receiver's queue could not be read: no bound, no redirect */
};
enum {
        SKFP_CONN_F_RECEIVER = 1 << 0,  /* in the receivers map (set by sockops) */
};
struct skfp_conn {
        __u32 state;
        __u32 flags;
};

/* One receiver (LRU hash `queues` by its key, written by sockops when it enters `receivers`):
 * where sk_msg reads its queued bytes, and whether it was read with splice(). */
enum {
        SKFP_QUEUE_F_SPLICED = 1 << 0,  /* read with splice(): never redirect into it again */
};
struct skfp_queue {
        __u64 sk;                 /* the receiver's struct sock, only ever read with probe_read */
        __u32 flags;
        __u32 pad;
};

/* One record of the splice ring buffer: a receiver was read with splice() (first time). */
struct skfp_splice_event {
        __u32 pid;
        __u16 local_port;
        __u16 remote_port;
        char comm[16];
};

/* Per-CPU counters of the fastpath programs (PERCPU_ARRAY index). */
enum {
        SKFP_FP_REDIRECTED,       /* sk_msg: messages redirected to the peer */
        SKFP_FP_REDIRECTED_BYTES,
        SKFP_FP_MISSES,           /* sk_msg: peer not in the sockhash (now or before), passed */
        SKFP_FP_PASSED,           /* sk_msg: switched off or pass-large-writes, now or before */
        SKFP_FP_PASSED_BYTES,
        SKFP_FP_INSERTED,         /* sockops: sockets added to the sockhash */
        SKFP_FP_INSERT_FAILED,    /* sockops: sockhash full or refused */
        SKFP_FP_SKIPPED_MARK,     /* sockops: relay upstream sockets (bypass mark) */
        SKFP_FP_RECEIVERS,        /* sockops: sockets added to the receivers map */
        SKFP_FP_PASSED_BOUND,     /* sk_msg: connections passed for good at the bound */
        SKFP_FP_PASSED_SPLICED,   /* sk_msg: connections passed for good, peer spliced */
        SKFP_FP_SPLICED,          /* tracing: receivers read with splice() */
        SKFP_FP_PASSED_UNBOUNDED, /* sk_msg: connections passed, receiver's queue unreadable */
        _SKFP_FP_MAX,
};

/* Per-CPU counters of the interception programs. */
enum {
        SKFP_IC_REDIRECTED,       /* egress: packets sent to lo ingress */
        SKFP_IC_NEW_FLOWS,        /* egress: SYNs intercepted */
        SKFP_IC_FAIL_OPEN,        /* egress: SYN to a managed port with no listener: passed */
        SKFP_IC_ASSIGNED,         /* lo ingress: bpf_sk_assign succeeded */
        SKFP_IC_ASSIGN_FAILED,
        SKFP_IC_ERRORS,           /* egress: header push / redirect failed */
        SKFP_IC_BYPASSED,         /* egress: managed port, bypass mark (the relay's upstream) */
        SKFP_IC_PASSED_DIRECT,    /* egress: managed port, flow not intercepted (began direct) */
        SKFP_IC_NO_SOCKET,        /* lo ingress: marked packet, no flow socket and no listener */
        SKFP_IC_CGROUP_UNSELECTED, /* egress: SYN of a local socket outside the selected cgroups */
        _SKFP_IC_MAX,
};
