/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>

#include "bus-call.h"
#include "bus-error.h"
#include "bus-names.h"
#include "util.h"

/* The bus's own text for "nobody owns the name" talks about .service files. */
const char *ctl_unreachable_reason(const sd_bus_error *e)
{
        if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                return "nobody owns " SKFP_BUS_SERVICE " on the system bus";
        return e->message ?: e->name;
}

bool ctl_error_is_unknown_member(const sd_bus_error *e)
{
        return sd_bus_error_has_names(e, SD_BUS_ERROR_UNKNOWN_METHOD, SD_BUS_ERROR_UNKNOWN_PROPERTY,
                                      SD_BUS_ERROR_UNKNOWN_INTERFACE);
}

int ctl_fail(const char *what, const sd_bus_error *e, int r)
{
        bool set = e && sd_bus_error_is_set(e);

        /* Our own errors say what failed and why already. */
        if (set && e->message && strncmp(e->name, SKFP_BUS_ERROR_PREFIX, strlen(SKFP_BUS_ERROR_PREFIX)) == 0)
                log_error("%s", e->message);
        else if (set && sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                log_error("Failed to %s: skfastpathd is not running (%s).", what, ctl_unreachable_reason(e));
        else if (set && bus_error_exit_code(e, r) == SKFP_EXIT_UNREACHABLE)
                log_error("Failed to %s: skfastpathd is not reachable: %s", what, e->message ?: e->name);
        else if (set && ctl_error_is_unknown_member(e))
                log_error("Failed to %s: this skfastpathd does not have it (an older version?): %s", what,
                          e->message ?: e->name);
        else if (set)
                log_error("Failed to %s: %s", what, e->message ?: e->name);
        else
                log_error_errno(r, "Failed to %s: %m", what);
        return bus_error_exit_code(e, r);
}

int ctl_call(sd_bus *bus, const char *what, const char *method, const char *types, ...)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SKFP_BUS_SERVICE, SKFP_BUS_PATH, SKFP_BUS_INTERFACE, method);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                r = ctl_fail(what, &error, r);
                sd_bus_error_free(&error);
                return r;
        }
        return SKFP_EXIT_SUCCESS;
}

int ctl_get_all(sd_bus *bus, sd_bus_message **ret_reply)
{
        sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        r = sd_bus_call_method(bus, SKFP_BUS_SERVICE, SKFP_BUS_PATH, "org.freedesktop.DBus.Properties", "GetAll",
                               &error, ret_reply, "s", SKFP_BUS_INTERFACE);
        if (r < 0) {
                r = ctl_fail("get the status", &error, r);
                sd_bus_error_free(&error);
                return r;
        }
        return SKFP_EXIT_SUCCESS;
}
