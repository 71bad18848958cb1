/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The runtime state: what was changed over D-Bus, kept across restarts in STATE_DIRECTORY/state.
 *
 * The file holds the complete runtime sets, and at start replaces the config file's values of
 * exactly these keys (every other key comes from the config file):
 *
 *   # comment
 *   Version=1
 *   Interfaces=eth0 wg0              (may be empty)
 *   Ports=80 443                     (may be empty)
 *   InterceptOnlyPorts=5201          (may be empty)
 *   Fastpath=yes
 *   TrustedPorts=8080                (may be empty; optional, as files before it lack it)
 *   TrustedCgroups=/system.slice/x.service   (may be empty; optional)
 *
 * Every key must appear exactly once (the optional ones at most once), Version= first; anything
 * else is corrupt. */
#pragma once

#include <net/if.h>
#include <stdio.h>

#include "config.h"

#define STATE_FILE_NAME "state"
#define STATE_VERSION 1

/* Copies what the state holds (interfaces, ports with their modes, the switch) from src into
 * dst, replacing dst's; dst keeps everything else. */
int state_copy(Config *dst, const Config *src);

/* One difference the runtime changes make to the config file (the RuntimeChanges property):
 * setting "Interfaces", "Ports", "InterceptOnlyPorts", "TrustedPorts", "TrustedCgroups", "Cgroups"
 * or "Fastpath"; value an interface name, a port, a cgroup path or "on"/"off"; change "added", "removed" (from that setting's list) or "set". A port
 * moved from Ports= to InterceptOnlyPorts= is removed from one and added to the other. */
typedef struct StateChange {
        const char *setting;
        char value[CGROUP_PATH_MAX + 1];
        const char *change;
} StateChange;
/* What now differs from file, in the order: interfaces, ports, intercept-only ports, cgroups,
 * switch. */
int state_diff(const Config *file, const Config *now, StateChange **ret, size_t *ret_n);

/* Parses a state file into ret's interfaces, ports and fastpath (ret is a config_init()ed Config;
 * nothing else is touched). Errors are logged as "NAME:LINE: what" and returned as -EBADMSG
 * (or -ENOMEM). */
int state_parse(FILE *f, const char *name, Config *ret);
/* Writes the state of c in the format state_parse() reads. */
int state_serialize(FILE *f, const Config *c);

/* The state directory: c->state_directory, else the first entry of $STATE_DIRECTORY, else
 * DEFAULT_STATE_DIRECTORY. */
int state_directory_resolve(const Config *c, char **ret);

/* Restores DIR/state on top of c. Returns 1 restored, 0 no state file, or 0 after a corrupt or
 * unusable file (over MaxPorts=/MaxInterfaces=) was logged and renamed aside to
 * state.corrupt-<UTC time>; c is then unchanged. Other failures (unreadable) are -errno. */
int state_load(const char *dir, Config *c);

/* Removes DIR/state: 1 removed, 0 there was none, -errno. */
int state_remove(const char *dir);

/* Writes c's state to DIR/state atomically: temp file, fsync, rename, fsync of the directory.
 * Creates DIR when missing. On failure the old file is intact. */
int state_save(const char *dir, const Config *c);
