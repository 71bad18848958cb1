/* SPDX-License-Identifier: GPL-2.0-or-later */
/* stats --watch: GetStatistics every --interval, each counter with its change per second. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "bus-call.h"
#include "bus-error.h"
#include "bus-names.h"
#include "ctl.h"
#include "output.h"
#include "stats.h"
#include "util.h"

#define WATCH_CALL_TIMEOUT_USEC (25 * 1000000ULL)
/* sd-event would otherwise coalesce wake-ups up to 250 ms late: more than a short interval */
#define WATCH_TIMER_ACCURACY_USEC 1000ULL

typedef struct Watch {
        sd_event *event;
        sd_bus *bus;
        sd_event_source *timer;
        sd_bus_slot *call;
        Counters previous;
        const CtlOptions *options;
        uint64_t started_usec;  /* when the last call was sent */
        uint32_t n_refreshes;
        bool tty;
} Watch;

static uint64_t now_usec(clockid_t clock)
{
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

/* The change per second of counter name since the previous refresh; false when there is none
 * (first refresh, a counter the previous reply lacked, or a restarted daemon's lower count). */
static bool watch_rate(const Watch *w, const Counters *c, const char *name, uint64_t value, double *ret)
{
        if (w->previous.n == 0 || c->usec <= w->previous.usec || counter_is_gauge(name))
                return false;
        for (size_t i = 0; i < w->previous.n; i++)
                if (streq(w->previous.counters[i].name, name)) {
                        if (value < w->previous.counters[i].value)
                                return false;
                        *ret = (double) (value - w->previous.counters[i].value) * 1e6 /
                               (double) (c->usec - w->previous.usec);
                        return true;
                }
        return false;
}

static void watch_summary_rate(const Watch *w, const Counters *c, const char *name, const char *noun,
                               char *buf, size_t size)
{
        double rate;

        for (size_t i = 0; i < c->n; i++)
                if (streq(c->counters[i].name, name) && watch_rate(w, c, name, c->counters[i].value, &rate)) {
                        format_rate(buf, size, rate, counter_is_bytes(name), noun);
                        return;
                }
        snprintf(buf, size, "-");
}

static void watch_print(const Watch *w, const Counters *c)
{
        char clock[16] = "", fb[32], fr[32], rb[32], ic[32];
        time_t t = time(NULL);
        struct tm tm;

        if (localtime_r(&t, &tm))
                strftime(clock, sizeof(clock), "%H:%M:%S", &tm);

        /* A terminal gets one screen redrawn in place; a pipe or file gets one block per refresh. */
        if (w->tty)
                fputs("\033[H\033[2J", stdout);
        else if (w->n_refreshes > 1)
                putchar('\n');

        printf("Every %gs: skfastpathd statistics at %s", (double) w->options->interval_usec / 1e6, clock);
        if (w->options->count > 0)
                printf(" (refresh %" PRIu32 " of %" PRIu32 ")\n", w->n_refreshes, w->options->count);
        else
                printf("%s\n", w->tty ? " (Ctrl-C to stop)" : "");

        watch_summary_rate(w, c, "fastpath-bytes", NULL, fb, sizeof(fb));
        watch_summary_rate(w, c, "fastpath-redirects", "redirects", fr, sizeof(fr));
        watch_summary_rate(w, c, "relayed-bytes", NULL, rb, sizeof(rb));
        watch_summary_rate(w, c, "intercepted-connections", "connections", ic, sizeof(ic));
        if (w->previous.n == 0)
                printf("Rates from the next refresh on.\n");
        else
                printf("Fastpath: %s, %s. Relay: %s. Intercepted: %s.\n",
                       fb, fr, rb, ic);

        printf("\n%-26s %20s %14s\n", "COUNTER", "VALUE", "RATE");
        for (size_t i = 0; i < c->n; i++) {
                char rate[32] = "";
                double v;

                if (watch_rate(w, c, c->counters[i].name, c->counters[i].value, &v))
                        format_rate(rate, sizeof(rate), v, counter_is_bytes(c->counters[i].name), NULL);
                else if (!counter_is_gauge(c->counters[i].name))
                        snprintf(rate, sizeof(rate), "-");
                printf("%-26s %20" PRIu64, c->counters[i].name, c->counters[i].value);
                printf(*rate ? " %14s\n" : "\n", rate);
        }
        fflush(stdout);
}

static int watch_on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error);

static int watch_send(Watch *w)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(w->bus, &m, SKFP_BUS_SERVICE, SKFP_BUS_PATH, SKFP_BUS_INTERFACE, "GetStatistics");
        if (r >= 0)
                r = sd_bus_call_async(w->bus, &w->call, m, watch_on_reply, w, WATCH_CALL_TIMEOUT_USEC);
        if (r < 0) {
                int code = bus_error_exit_code(NULL, r);

                /* no call could be sent: the connection itself is gone (the bus stopped) */
                if (w->n_refreshes > 0 && code == SKFP_EXIT_UNREACHABLE)
                        log_error_errno(r, "The system bus went away, stopped watching: %m");
                else
                        code = ctl_fail("get the statistics", NULL, r);
                return sd_event_exit(w->event, code);
        }
        w->started_usec = now_usec(CLOCK_MONOTONIC);
        return 0;
}

static int watch_on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        return watch_send(userdata);
}

static int watch_on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        Watch *w = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        Counters c = {};
        int r;

        w->call = sd_bus_slot_unref(w->call);
        if (e) {
                r = bus_error_exit_code(e, 0);
                if (w->n_refreshes > 0 && r == SKFP_EXIT_UNREACHABLE)
                        log_error("skfastpathd went away (%s); stopped watching.", ctl_unreachable_reason(e));
                else
                        r = ctl_fail("get the statistics", e, -EIO);
                return sd_event_exit(w->event, r);
        }
        r = counters_read(reply, &c);
        if (r < 0) {
                log_error_errno(r, "Failed to parse the statistics: %m");
                return sd_event_exit(w->event, SKFP_EXIT_FAILURE);
        }
        c.usec = now_usec(CLOCK_MONOTONIC);
        w->n_refreshes++;
        watch_print(w, &c);
        counters_done(&w->previous);
        w->previous = c;

        if (w->options->count > 0 && w->n_refreshes >= w->options->count)
                return sd_event_exit(w->event, SKFP_EXIT_SUCCESS);

        /* Refreshes keep their pace even when a reply is slow; a reply slower than the interval
         * is followed by the next call at once. */
        r = sd_event_source_set_time(w->timer, w->started_usec + w->options->interval_usec);
        if (r >= 0)
                r = sd_event_source_set_enabled(w->timer, SD_EVENT_ONESHOT);
        if (r < 0) {
                log_error_errno(r, "Failed to arm the refresh timer: %m");
                return sd_event_exit(w->event, SKFP_EXIT_FAILURE);
        }
        return 0;
}

static int watch_on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Watch *w = userdata;

        /* Ctrl-C is how a watch ends: a success. Leave the prompt on a line of its own. */
        if (w->tty)
                putchar('\n');
        return sd_event_exit(w->event, SKFP_EXIT_SUCCESS);
}

int verb_stats_watch(sd_bus *bus, const CtlOptions *o)
{
        Watch w = { .bus = bus, .options = o, .tty = isatty(STDOUT_FILENO) };
        sigset_t ss;
        int r;

        sigemptyset(&ss);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0) {
                log_error_errno(errno, "Failed to block signals: %m");
                return SKFP_EXIT_FAILURE;
        }

        r = sd_event_new(&w.event);
        if (r >= 0)
                r = sd_event_add_signal(w.event, NULL, SIGINT, watch_on_signal, &w);
        if (r >= 0)
                r = sd_event_add_signal(w.event, NULL, SIGTERM, watch_on_signal, &w);
        if (r >= 0)
                r = sd_event_add_time(w.event, &w.timer, CLOCK_MONOTONIC, 0, WATCH_TIMER_ACCURACY_USEC,
                                      watch_on_timer, &w);
        if (r >= 0)
                r = sd_event_source_set_enabled(w.timer, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_bus_attach_event(bus, w.event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the event loop: %m");
                r = SKFP_EXIT_FAILURE;
                goto finish;
        }

        r = watch_send(&w);
        if (r >= 0)
                r = sd_event_loop(w.event);
        if (r < 0) {
                log_error_errno(r, "Event loop failed: %m");
                r = SKFP_EXIT_FAILURE;
        }

finish:
        w.call = sd_bus_slot_unref(w.call);
        counters_done(&w.previous);
        (void) sd_bus_detach_event(bus);
        sd_event_source_unref(w.timer);
        sd_event_unref(w.event);
        return r;
}
