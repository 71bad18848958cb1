/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "bus-names.h"
#include "manager.h"

#define BUS_MANAGER_PATH SKFP_BUS_PATH
#define BUS_MANAGER_INTERFACE SKFP_BUS_INTERFACE

int bus_manager_add_objects(Manager *m);

/* Emits PropertiesChanged for one property ("Interfaces", "Ports", "Fastpath"); for the rooms
 * that change what a property shows (link tracking: Interfaces). No bus yet: nothing to do. */
int bus_manager_emit_changed(Manager *m, const char *property);
