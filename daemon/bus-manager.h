/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "manager.h"

#define BUS_MANAGER_PATH "/org/skfastpath1"
#define BUS_MANAGER_INTERFACE "org.skfastpath1.Manager"

int bus_manager_add_objects(Manager *m);

/* Emits PropertiesChanged for one property ("Interfaces", "Ports", "Fastpath"); for the rooms
 * that change what a property shows (link tracking: Interfaces). No bus yet: nothing to do. */
int bus_manager_emit_changed(Manager *m, const char *property);
