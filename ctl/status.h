/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The manager's properties as status shows them. Strings point into the reply they were read from. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

typedef struct StatusInterface {
        const char *name;
        int32_t ifindex;
        bool attached;
} StatusInterface;

typedef struct StatusPortMode {
        uint16_t port;
        const char *mode;
} StatusPortMode;

typedef struct StatusChange {
        const char *setting;   /* Interfaces, Ports, InterceptOnlyPorts, Fastpath */
        const char *value;
        const char *change;    /* added, removed, set */
} StatusChange;

typedef struct StatusCgroup {
        const char *path;
        uint64_t id;           /* 0 while the cgroup does not exist */
        bool present;
} StatusCgroup;

typedef struct Status {
        sd_bus_message *reply;
        const char *version, *listen_address, *attach_mode, *upstream;  /* attach_mode: NULL from older daemons */
        bool fastpath;
        StatusInterface *interfaces;
        size_t n_interfaces;
        uint16_t *ports;
        size_t n_ports;
        /* Properties an older daemon lacks: has_* says whether the reply had them. */
        bool has_port_modes, has_runtime_changes, has_trusted_cgroups;
        StatusPortMode *port_modes;
        size_t n_port_modes;
        StatusChange *changes;
        size_t n_changes;
        StatusCgroup *cgroups;      /* TrustedCgroups */
        size_t n_cgroups;
        bool has_selected;          /* Cgroups (per-application steering) */
        StatusCgroup *selected;
        size_t n_selected;
} Status;

/* Reads a Properties.GetAll reply of the manager; unknown properties are skipped. */
int status_read(sd_bus_message *reply, Status *ret);
void status_done(Status *s);

void status_print_text(FILE *f, const Status *s);
void status_print_json(FILE *f, const Status *s);
