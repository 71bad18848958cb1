/* SPDX-License-Identifier: GPL-2.0-or-later */
/* skfastpathctl: the options of one run, and the table of its verbs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct CtlOptions {
        bool json;
        bool ask_password;
        bool watch;
        uint64_t interval_usec;    /* --watch: time between refreshes */
        uint32_t count;            /* --watch: refreshes before it stops, 0: until Ctrl-C */
        bool interval_given, count_given;
        bool user;                 /* add-unit, run: the user's systemd (the user bus) */
} CtlOptions;

#define CTL_OPTIONS_DEFAULT ((CtlOptions) { .ask_password = true, .interval_usec = 1000000 })
#define WATCH_INTERVAL_MIN_USEC 100000ULL

/* A verb runs with the bus, its arguments and the options; it returns an exit code (SKFP_EXIT_*). */
typedef int (*VerbRun)(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);

typedef struct Verb {
        const char *name;
        size_t min_args, max_args;
        VerbRun run;
        bool needs_polkit;     /* a change: start a password agent for it */
} Verb;

extern const Verb ctl_verbs[];
extern const size_t ctl_n_verbs;

const Verb *verb_find(const char *name);

/* The command line: 1 and the verb with its arguments (pointers into argv) to run, 0 when there
 * is nothing to run (--help, --version), -EINVAL for a bad command line (said on stderr). */
int ctl_parse_argv(int argc, char *argv[], CtlOptions *o, const Verb **ret_verb, char ***ret_args,
                   size_t *ret_n_args);

/* "0.2", "1.5s", "2", "500ms", "1min". */
int parse_interval(const char *s, uint64_t *ret_usec);

/* The verbs (status.c, stats.c, watch.c, change.c). */
int verb_status(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_stats(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_stats_watch(sd_bus *bus, const CtlOptions *o);
int verb_add_interface(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_remove_interface(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_add_port(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_remove_port(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_port_mode(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_fastpath(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_set_upstream(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_revert(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_add_cgroup(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_remove_cgroup(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_add_unit(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_run(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_add_trusted_cgroup(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);
int verb_remove_trusted_cgroup(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o);

/* Argument checks shared by the verbs and the unit tests: 0, or the exit code (said on stderr). */
int ctl_parse_port(const char *s, uint16_t *ret);
int ctl_check_port_mode(const char *s);
int ctl_check_cgroup_path(const char *s);
