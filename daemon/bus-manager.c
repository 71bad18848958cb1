/* SPDX-License-Identifier: GPL-2.0-or-later */
/* org.skfastpath1.Manager at /org/skfastpath1: the whole D-Bus API in one vtable. */
#include "bus-manager.h"
#include "util.h"

static int property_get_version(sd_bus *bus, const char *path, const char *interface,
                const char *property, sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END
};

int bus_manager_add_objects(Manager *m)
{
        int r;

        r = sd_bus_add_object_vtable(m->bus, NULL, "/org/skfastpath1", "org.skfastpath1.Manager",
                manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to register the D-Bus object: %m");
        return 0;
}
