/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The selected cgroups (Cgroups=), followed like links: a selected path may not exist yet, and may
 * be removed and created again with a new id. inotify on the cgroup2 tree (the parent of each
 * present one, the deepest existing ancestor of each absent one) makes every mkdir and rmdir that
 * matters re-resolve the set; the ops hand each id that appears or goes to interception. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "util.h"

typedef struct CgroupEntry {
        char *path;                 /* below the root, "/a/b" */
        unsigned level;
        uint64_t id;                /* the directory's inode number: the cgroup id; 0 while absent */
} CgroupEntry;

typedef struct CgroupOps {
        /* a present entry's id is selected (true) or not any more (false) */
        int (*select)(void *userdata, uint64_t id, unsigned level, bool selected);
        /* after an inotify event changed any entry (not after cgroup_set_add/remove) */
        void (*changed)(void *userdata);
} CgroupOps;

typedef struct CgroupSet CgroupSet;

/* root: the cgroup2 mount point (copied). The set watches nothing until cgroup_set_attach_event(). */
int cgroup_set_new(CgroupSet **ret, const char *root, const CgroupOps *ops, void *userdata);
CgroupSet *cgroup_set_free(CgroupSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(CgroupSet *, cgroup_set_free);
int cgroup_set_attach_event(CgroupSet *s, sd_event *e);

/* Returns 1 added (and resolved), 0 there already, -EINVAL an invalid path, -errno. */
int cgroup_set_add(CgroupSet *s, const char *path);
/* Returns 1 removed, 0 not in the set. */
int cgroup_set_remove(CgroupSet *s, const char *path);
/* Re-resolves every entry and re-arms the watches. Returns the number of entries that changed. */
int cgroup_set_refresh(CgroupSet *s);

size_t cgroup_set_size(CgroupSet *s);
const CgroupEntry *cgroup_set_get(CgroupSet *s, size_t i);
const CgroupEntry *cgroup_set_find(CgroupSet *s, const char *path);
/* Bit n: a present entry is at level n. */
uint32_t cgroup_set_levels(CgroupSet *s);
/* The number of directories watched now (for the tests: bounded by the entries). */
size_t cgroup_set_n_watches(CgroupSet *s);
