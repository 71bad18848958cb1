/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "upstream.h"

typedef enum PortMode {
        PORT_MODE_FASTPATH,        /* intercepted, and local connections get the sockhash */
        PORT_MODE_INTERCEPT_ONLY,  /* intercepted, never in the sockhash (bulk workloads) */
        PORT_MODE_TRUSTED,         /* fastpath, and its local servers are declared receivers */
        _PORT_MODE_MAX,
} PortMode;

/* "fastpath", "intercept-only", "trusted" (the D-Bus and state file names) */
const char *port_mode_to_string(PortMode m);
int port_mode_from_string(const char *s);

/* How the TC programs are attached: auto tries a tcx link and falls back to TC filters on a
 * clsact qdisc where the kernel refuses it (Linux before 6.6). */
typedef enum AttachMode {
        ATTACH_MODE_AUTO,
        ATTACH_MODE_TCX,
        ATTACH_MODE_CLSACT,
        _ATTACH_MODE_MAX,
} AttachMode;

const char *attach_mode_to_string(AttachMode m);

typedef struct ConfigPort {
        uint16_t port;
        PortMode mode;
} ConfigPort;

typedef struct Config {
        /* [Intercept] */
        char **interfaces;
        size_t n_interfaces;
        ConfigPort *ports;          /* sorted by port, unique */
        size_t n_ports;
        uint32_t mark;              /* set on intercepted packets, matched by the fwmark rule */
        uint32_t bypass_mark;       /* SO_MARK of the relay's upstream sockets: never intercepted */
        uint32_t routing_table;
        uint32_t rule_priority;
        AttachMode attach_mode;
        char **cgroups;             /* Cgroups=: selected cgroup v2 paths below the root ("/a/b") */
        size_t n_cgroups;

        /* [Listener] */
        uint16_t listen_port;
        bool relay;                 /* false: the listener belongs to another program */
        uint64_t connect_timeout_usec;
        uint64_t buffer_size;       /* per direction, per relayed connection */
        uint32_t max_connections;
        uint64_t stop_timeout_usec; /* how long a stop waits for relayed connections to close */
        Upstream upstream;          /* where the relay connects: direct, or a proxy (upstream.h) */
        UpstreamFallback upstream_fallback;
        bool upstream_restored;     /* the state file had Upstream= (older ones do not) */

        /* [Fastpath] */
        bool fastpath;
        char *cgroup_path;          /* NULL: root of the cgroup2 mount */
        uint32_t max_sockets;
        uint64_t pass_large_writes; /* 0: off */
        char **trusted_cgroups;     /* paths below the cgroup2 root, "/a/b" */
        size_t n_trusted_cgroups;
        bool state_has_trusted_ports;   /* state.c: the state file had TrustedPorts= */
        bool state_has_trusted_cgroups; /* and TrustedCgroups= (files of older versions lack them) */

        /* [Manager] */
        uint32_t max_ports;
        uint32_t max_interfaces;
        uint32_t max_cgroups;       /* CONFIG_MAX_CGROUPS, not a key */
        char *state_directory;      /* NULL: $STATE_DIRECTORY, else DEFAULT_STATE_DIRECTORY */
        char *pin_directory;
        int log_level;
} Config;

void config_init(Config *c);
void config_done(Config *c);

/* Parses an INI file into c (which holds the defaults). A missing file is not an error when
 * missing_ok. Errors are logged as "PATH:LINE: what" and returned as -errno. */
int config_load(Config *c, const char *path, bool missing_ok);
int config_parse(Config *c, FILE *f, const char *name);

/* Why name cannot be a managed interface, NULL when it can: not a valid interface name, or lo
 * (where intercepted connections are delivered). One rule for the config file, the state file
 * and D-Bus. */
const char *config_interface_invalid_reason(const char *name);

/* Why path cannot be a selected cgroup, NULL when it can: cgroup_path_valid() (below), and at
 * most CONFIG_MAX_CGROUP_LEVEL components. One rule for the config file, the state file and
 * D-Bus. */
#define CONFIG_MAX_CGROUPS 1024
#define CONFIG_MAX_CGROUP_LEVEL 31
const char *config_cgroup_invalid_reason(const char *path);
/* The number of components of a valid path: its cgroup level ("/" is 0). */
unsigned config_cgroup_level(const char *path);
int config_add_cgroup(Config *c, const char *path);
int config_remove_cgroup(Config *c, const char *path);
bool config_has_cgroup(const Config *c, const char *path);

/* Helpers shared with the state file and the bus. */
int config_add_interface(Config *c, const char *name);
int config_remove_interface(Config *c, const char *name);
int config_add_port(Config *c, uint16_t port, PortMode mode);
int config_remove_port(Config *c, uint16_t port);
ConfigPort *config_find_port(const Config *c, uint16_t port);
bool config_has_interface(const Config *c, const char *name);
/* A trusted cgroup path: absolute, normalised ("/" alone, no "//", ".", "..", no trailing "/"),
 * at most CGROUP_PATH_MAX bytes. */
#define CGROUP_PATH_MAX 1024
#define TRUSTED_CGROUPS_MAX 256
bool cgroup_path_valid(const char *path);
int config_add_trusted_cgroup(Config *c, const char *path);
int config_remove_trusted_cgroup(Config *c, const char *path);
bool config_has_trusted_cgroup(const Config *c, const char *path);

/* Every section and key the parser knows, NULL-terminated "Section.Key" strings (for tests). */
extern const char *const config_known_keys[];
