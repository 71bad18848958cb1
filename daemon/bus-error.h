/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The error names of org.skfastpath1, in one table shared by the daemon, skfastpathctl and the
 * tests: each name maps to an errno (sd_bus_error_add_map()) and to an exit code of the client. */
#pragma once

#include <systemd/sd-bus.h>

#include "bus-names.h"

#define SKFP_ERROR_INVALID_INTERFACE_NAME SKFP_BUS_ERROR_PREFIX "InvalidInterfaceName"
#define SKFP_ERROR_INVALID_PORT SKFP_BUS_ERROR_PREFIX "InvalidPort"
#define SKFP_ERROR_NOT_MANAGED SKFP_BUS_ERROR_PREFIX "NotManaged"
#define SKFP_ERROR_LIMIT_EXCEEDED SKFP_BUS_ERROR_PREFIX "LimitExceeded"
#define SKFP_ERROR_FAILED SKFP_BUS_ERROR_PREFIX "Failed"
#define SKFP_ERROR_INVALID_CGROUP SKFP_BUS_ERROR_PREFIX "InvalidCgroup"

extern const sd_bus_error_map skfastpath_error_map[];

/* skfastpathctl's exit codes (documented in skfastpathctl --help and skfastpathctl(1)). */
enum {
        SKFP_EXIT_SUCCESS = 0,
        SKFP_EXIT_FAILURE = 1,                /* org.skfastpath1.Error.Failed, anything else */
        SKFP_EXIT_USAGE = 2,                  /* bad command line */
        SKFP_EXIT_INVALID_INTERFACE_NAME = 3, /* org.skfastpath1.Error.InvalidInterfaceName */
        SKFP_EXIT_INVALID_PORT = 4,           /* org.skfastpath1.Error.InvalidPort */
        SKFP_EXIT_NOT_MANAGED = 5,            /* org.skfastpath1.Error.NotManaged */
        SKFP_EXIT_LIMIT_EXCEEDED = 6,         /* org.skfastpath1.Error.LimitExceeded */
        SKFP_EXIT_ACCESS_DENIED = 7,          /* org.freedesktop.DBus.Error.AccessDenied */
        SKFP_EXIT_AUTH_REQUIRED = 8,          /* ...InteractiveAuthorizationRequired */
        SKFP_EXIT_UNREACHABLE = 9,            /* no bus, or the daemon is not running */
        SKFP_EXIT_INVALID_CGROUP = 10,        /* org.skfastpath1.Error.InvalidCgroup */
};

/* The exit code for a failed call: by error name, else by errno (-r, for failures before any
 * reply such as a missing bus). */
int bus_error_exit_code(const sd_bus_error *e, int r);

/* The system bus address sd_bus_open_system() uses, for messages when it cannot connect. */
const char *bus_system_address(void);
