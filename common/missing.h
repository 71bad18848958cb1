/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Kernel constants newer than the oldest headers we build with (libbpf 1.1, Debian 12's UAPI).
 * The values are the kernel's ABI numbers; each is defined only when the headers lack it. */
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

/* tcx (Linux 6.6), enum bpf_attach_type: no #ifdef can tell whether the headers have it, so these
 * carry our prefix and are always defined */
#define SKFP_BPF_TCX_INGRESS 46
#define SKFP_BPF_TCX_EGRESS 47

/* Linux 5.14 */
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* glibc's netinet/in.h has them, not every libc's does */
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif
