/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The D-Bus and polkit names of skfastpath (man/org.skfastpath1.5), for the daemon, skfastpathctl,
 * the tests and the benches. dbus/ and units/ spell them in their own files. */
#pragma once

#define SKFP_BUS_SERVICE "org.skfastpath1"
#define SKFP_BUS_PATH "/org/skfastpath1"
#define SKFP_BUS_INTERFACE "org.skfastpath1.Manager"
#define SKFP_BUS_ERROR_PREFIX "org.skfastpath1.Error."
#define SKFP_POLKIT_ACTION_MANAGE "org.skfastpath1.manage"
#define SKFP_POLKIT_ACTION_STEER_OWN "org.skfastpath1.steer-own-applications"
