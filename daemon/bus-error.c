/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "bus-error.h"
#include "util.h"

/* Clients that map names to errno get: bad arguments EINVAL, not managed ENOENT, over a limit
 * E2BIG, the kernel refused EIO (the message carries the kernel's reason). */
const sd_bus_error_map skfastpath_error_map[] = {
        SD_BUS_ERROR_MAP(SKFP_ERROR_INVALID_INTERFACE_NAME, EINVAL),
        SD_BUS_ERROR_MAP(SKFP_ERROR_INVALID_PORT, EINVAL),
        SD_BUS_ERROR_MAP(SKFP_ERROR_NOT_MANAGED, ENOENT),
        SD_BUS_ERROR_MAP(SKFP_ERROR_LIMIT_EXCEEDED, E2BIG),
        SD_BUS_ERROR_MAP(SKFP_ERROR_FAILED, EIO),
        SD_BUS_ERROR_MAP(SKFP_ERROR_INVALID_CGROUP, EINVAL),
        SD_BUS_ERROR_MAP_END
};

static const struct {
        const char *name;
        int code;
} exit_codes[] = {
        { SKFP_ERROR_INVALID_INTERFACE_NAME, SKFP_EXIT_INVALID_INTERFACE_NAME },
        { SKFP_ERROR_INVALID_PORT, SKFP_EXIT_INVALID_PORT },
        { SKFP_ERROR_NOT_MANAGED, SKFP_EXIT_NOT_MANAGED },
        { SKFP_ERROR_LIMIT_EXCEEDED, SKFP_EXIT_LIMIT_EXCEEDED },
        { SKFP_ERROR_FAILED, SKFP_EXIT_FAILURE },
        { SKFP_ERROR_INVALID_CGROUP, SKFP_EXIT_INVALID_CGROUP },
        { SD_BUS_ERROR_ACCESS_DENIED, SKFP_EXIT_ACCESS_DENIED },
        { SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED, SKFP_EXIT_AUTH_REQUIRED },
        { SD_BUS_ERROR_SERVICE_UNKNOWN, SKFP_EXIT_UNREACHABLE },
        { SD_BUS_ERROR_NAME_HAS_NO_OWNER, SKFP_EXIT_UNREACHABLE },
        { SD_BUS_ERROR_NO_SERVER, SKFP_EXIT_UNREACHABLE },
        { SD_BUS_ERROR_DISCONNECTED, SKFP_EXIT_UNREACHABLE },
        { SD_BUS_ERROR_NO_REPLY, SKFP_EXIT_UNREACHABLE },
        { SD_BUS_ERROR_TIMEOUT, SKFP_EXIT_UNREACHABLE },
        { SD_BUS_ERROR_UNKNOWN_OBJECT, SKFP_EXIT_UNREACHABLE },
};

int bus_error_exit_code(const sd_bus_error *e, int r)
{
        if (e && sd_bus_error_is_set(e)) {
                for (size_t i = 0; i < ELEMENTSOF(exit_codes); i++)
                        if (sd_bus_error_has_name(e, exit_codes[i].name))
                                return exit_codes[i].code;
                return SKFP_EXIT_FAILURE;
        }
        /* no reply at all: connecting to the bus failed, or the call could not be sent */
        switch (r < 0 ? -r : r) {
        case 0:
                return SKFP_EXIT_SUCCESS;
        case ENOENT:
        case ECONNREFUSED:
        case ENOTCONN:
        case ECONNRESET:
        case ETIMEDOUT:
        case EHOSTDOWN:
                return SKFP_EXIT_UNREACHABLE;
        case EACCES:
        case EPERM:
                return SKFP_EXIT_ACCESS_DENIED;
        default:
                return SKFP_EXIT_FAILURE;
        }
}

const char *bus_system_address(void)
{
        const char *e = getenv("DBUS_SYSTEM_BUS_ADDRESS");

        if (!e)
                return "unix:path=/run/dbus/system_bus_socket";
        return *e ? e : "'' (DBUS_SYSTEM_BUS_ADDRESS is empty)";
}
