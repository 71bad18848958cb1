/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The daemon's counters as GetStatistics() returns them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct Counter {
        const char *name;   /* points into the reply it was read from */
        uint64_t value;
} Counter;

typedef struct Counters {
        sd_bus_message *reply;
        Counter *counters;
        size_t n;
        uint64_t usec;      /* CLOCK_MONOTONIC when the reply arrived */
} Counters;

int counters_read(sd_bus_message *reply, Counters *ret);
void counters_done(Counters *c);

/* Counters that are levels, not running totals: a rate of change means nothing for them. */
bool counter_is_gauge(const char *name);
bool counter_is_bytes(const char *name);
