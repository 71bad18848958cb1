/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Asynchronous polkit authorisation of D-Bus method calls (the model is systemd's bus-polkit.c).
 *
 * A handler calls polkit_verify() after validating its arguments and before changing anything:
 *   1  authorised: go on;
 *   0  a CheckAuthorization call is under way: return 1 from the handler without replying.
 *      When polkit answers, the original message is dispatched again, the handler runs again
 *      from the top, and this time polkit_verify() returns the answer;
 *   <0 refused or failed: *error is set (AccessDenied, InteractiveAuthorizationRequired).
 * The sender's effective uid 0 passes without asking. No polkit means denied. */
#pragma once

#include <systemd/sd-bus.h>

#include "bus-names.h"
#include "manager.h"

#define POLKIT_ACTION_MANAGE SKFP_POLKIT_ACTION_MANAGE
#define POLKIT_ACTION_STEER_OWN SKFP_POLKIT_ACTION_STEER_OWN

/* The caller's effective uid from the bus (never augmented from /proc): 0 or -errno. */
int polkit_sender_euid(sd_bus_message *call, uid_t *ret);

int polkit_verify(Manager *m, sd_bus_message *call, const char *action, sd_bus_error *error);

/* Cancels queries in flight and frees the registry (m->polkit_registry). */
void polkit_registry_free(Manager *m);
