/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libbpf helpers shared by the BPF rooms (fastpath, interception), the bpf tests and the benches. */
#pragma once

#include <stdarg.h>
#include <stdint.h>
#include <bpf/libbpf.h>

/* Sums keys 0..n-1 of a BPF_MAP_TYPE_PERCPU_ARRAY of u64 over every possible CPU into
 * ret_sums[0..n-1]. Returns 0, or -errno and leaves ret_sums untouched. */
int bpf_percpu_counters_sum(int map_fd, uint32_t n, uint64_t *ret_sums);

/* The process's one libbpf print policy, for libbpf_set_print(): main() of skfastpathd installs it
 * once (and the test and bench programs that load the real objects). libbpf's warnings go to our log
 * at notice level (it warns about things it then handles, such as feature probes; a real failure is
 * reported by the caller with its errno), everything else at debug level; a multi-line message (a
 * refused program's verifier log) becomes one log line per line, so the reason at its end is kept. */
int bpf_libbpf_print(enum libbpf_print_level level, const char *format, va_list ap);
