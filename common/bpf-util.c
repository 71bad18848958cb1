/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <bpf/bpf.h>

#include "bpf-util.h"
#include "util.h"

int bpf_percpu_counters_sum(int map_fd, uint32_t n, uint64_t *ret_sums)
{
        _cleanup_free_ uint64_t *values = NULL, *sums = NULL;
        int n_cpus = libbpf_num_possible_cpus();

        if (n_cpus <= 0)
                return n_cpus < 0 ? n_cpus : -EIO;
        values = calloc((size_t) n_cpus, sizeof(uint64_t));
        sums = calloc(n ?: 1, sizeof(uint64_t));
        if (!values || !sums)
                return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
                if (bpf_map_lookup_elem(map_fd, &i, values) < 0)
                        return -errno;
                for (int cpu = 0; cpu < n_cpus; cpu++)
                        sums[i] += values[cpu];
        }
        memcpy(ret_sums, sums, n * sizeof(uint64_t));
        return 0;
}

int bpf_libbpf_print(enum libbpf_print_level level, const char *format, va_list ap)
{
        _cleanup_free_ char *buf = NULL;
        char *line, *save = NULL;

        if (vasprintf(&buf, format, ap) < 0)
                return 0;
        for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                log_internal(level == LIBBPF_WARN ? LOG_LEVEL_NOTICE : LOG_LEVEL_DEBUG, 0, "libbpf: %s",
                             line + (strncmp(line, "libbpf: ", 8) == 0 ? 8 : 0));
        return 0;
}
