/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stats: GetStatistics() once, as "name value" lines or a JSON object. */
#include <inttypes.h>
#include <stdio.h>

#include "bus-call.h"
#include "bus-error.h"
#include "bus-names.h"
#include "ctl.h"
#include "output.h"
#include "stats.h"
#include "util.h"

void counters_done(Counters *c)
{
        c->reply = sd_bus_message_unref(c->reply);
        free(c->counters);
        c->counters = NULL;
        c->n = 0;
}

int counters_read(sd_bus_message *reply, Counters *ret)
{
        _cleanup_free_ Counter *t = NULL;
        const char *name;
        uint64_t value;
        size_t n = 0;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{st}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "{st}", &name, &value)) > 0) {
                Counter *nt = reallocarray(t, n + 1, sizeof(Counter));

                if (!nt)
                        return -ENOMEM;
                t = nt;
                t[n++] = (Counter) { name, value };
        }
        if (r < 0)
                return r;
        r = sd_bus_message_exit_container(reply);
        if (r < 0)
                return r;
        *ret = (Counters) {
                .reply = sd_bus_message_ref(reply),
                .counters = TAKE_PTR(t),
                .n = n,
        };
        return 0;
}

bool counter_is_gauge(const char *name)
{
        return streq(name, "tracked-sockets") || streq(name, "managed-interfaces") ||
               streq(name, "managed-ports");
}

bool counter_is_bytes(const char *name)
{
        size_t n = strlen(name);

        return n >= 6 && streq(name + n - 6, "-bytes");
}

static void counters_print(const Counters *c, bool json)
{
        if (json) {
                putchar('{');
                for (size_t i = 0; i < c->n; i++) {
                        printf("%s", i ? "," : "");
                        json_string(stdout, c->counters[i].name);
                        printf(":%" PRIu64, c->counters[i].value);
                }
                printf("}\n");
        } else
                for (size_t i = 0; i < c->n; i++)
                        printf("%-26s %" PRIu64 "\n", c->counters[i].name, c->counters[i].value);
}

int verb_stats(sd_bus *bus, char **args, size_t n_args, const CtlOptions *o)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        Counters c = {};
        int r;

        if (o->watch)
                return verb_stats_watch(bus, o);

        r = sd_bus_call_method(bus, SKFP_BUS_SERVICE, SKFP_BUS_PATH, SKFP_BUS_INTERFACE, "GetStatistics", &error,
                               &reply, NULL);
        if (r < 0) {
                r = ctl_fail("get the statistics", &error, r);
                sd_bus_error_free(&error);
                return r;
        }
        r = counters_read(reply, &c);
        if (r < 0) {
                log_error_errno(r, "Failed to parse the statistics: %m");
                return SKFP_EXIT_FAILURE;
        }
        counters_print(&c, o->json);
        counters_done(&c);
        return SKFP_EXIT_SUCCESS;
}
