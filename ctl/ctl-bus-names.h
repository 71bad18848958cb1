/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The names of org.skfastpath1 on the bus, as the client uses them (the same names as the daemon's). */
#pragma once

#define SKFP_BUS_SERVICE "org.skfastpath1"
#define SKFP_BUS_PATH "/org/skfastpath1"
#define SKFP_BUS_INTERFACE "org.skfastpath1.Manager"
#define SKFP_BUS_ERROR_PREFIX "org.skfastpath1.Error."
#define SKFP_POLKIT_ACTION_MANAGE "org.skfastpath1.manage"
