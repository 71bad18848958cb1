/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Calls to org.skfastpath1, and what a failed one says and exits with. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

/* Why the daemon cannot be reached, in words. */
const char *ctl_unreachable_reason(const sd_bus_error *e);

/* Says why "what" failed (e: the error reply, if any; r: the errno) and returns the exit code. */
int ctl_fail(const char *what, const sd_bus_error *e, int r);

/* Calls method of the manager with arguments of types; returns an exit code (SKFP_EXIT_*). */
int ctl_call(sd_bus *bus, const char *what, const char *method, const char *types, ...);

/* Properties.GetAll of the manager into *ret_reply; returns an exit code. */
int ctl_get_all(sd_bus *bus, sd_bus_message **ret_reply);

/* Whether an error says the daemon lacks the method or property (an older skfastpathd). */
bool ctl_error_is_unknown_member(const sd_bus_error *e);
