/* SPDX-License-Identifier: GPL-2.0-or-later */
/* skfastpathctl: the command line client of org.skfastpath1 on the system bus. */
#include <ctype.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "bus-error.h"
#include "util.h"

#define DESTINATION "org.skfastpath1"
#define PATH "/org/skfastpath1"
#define INTERFACE "org.skfastpath1.Manager"
/* An administrator typing a password takes longer than the default 25 s. */
#define INTERACTIVE_TIMEOUT_USEC (300 * 1000000ULL)
#define PKTTYAGENT "/usr/bin/pkttyagent"

static bool arg_json;
static bool arg_ask_password = true;
static bool arg_watch;
static uint64_t arg_interval_usec = 1000000;
static uint32_t arg_count;   /* 0: until Ctrl-C */
static bool arg_interval_given, arg_count_given;

static void help(void)
{
        printf("%s [OPTIONS...] COMMAND [ARGS...]\n\n"
               "Controls skfastpathd over D-Bus (org.skfastpath1 on the system bus).\n\n"
               "Commands:\n"
               "  status                    Show interfaces, ports, the fastpath switch and the listener\n"
               "  add-interface NAME...     Intercept egress TCP on these interfaces (may not exist yet)\n"
               "  remove-interface NAME...  Stop intercepting on these interfaces\n"
               "  add-port PORT...          Intercept and fastpath these TCP destination ports\n"
               "  remove-port PORT...       Stop managing these ports\n"
               "  fastpath on|off           Switch the sockmap fastpath for new connections\n"
               "  stats                     Show the counters\n"
               "  stats --watch             Refresh the counters and their rates per second until Ctrl-C\n\n"
               "Options:\n"
               "  -h --help                 Show this help\n"
               "     --version              Show package version\n"
               "     --json                 Print status and stats as JSON\n"
               "     --no-ask-password      Do not ask for a password (polkit) when one is needed\n"
               "     --watch                With stats: a live view, refreshed every --interval\n"
               "     --interval=SEC         Time between refreshes (default 1; 0.5, 500ms; at least 0.1)\n"
               "     --count=N              With --watch: stop after N refreshes\n\n"
               "Exit status:\n"
               "  0 success                 5 not managed (NotManaged)\n"
               "  1 failure (Failed, other) 6 over a limit (LimitExceeded)\n"
               "  2 bad command line        7 access denied (AccessDenied)\n"
               "  3 InvalidInterfaceName    8 authentication required (InteractiveAuthorizationRequired)\n"
               "  4 InvalidPort             9 skfastpathd or the system bus not reachable\n"
               "\nSee the skfastpathctl(1) man page for details.\n",
               program_invocation_short_name);
}

static void json_string(const char *s)
{
        putchar('"');
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (c == '"' || c == '\\')
                        printf("\\%c", c);
                else if (c < 0x20)
                        printf("\\u%04x", c);
                else
                        putchar(c);
        }
        putchar('"');
}

/* Why the daemon cannot be reached, in words: the bus's own text for "nobody owns the name" talks
 * about .service files. */
static const char *unreachable_reason(const sd_bus_error *e)
{
        if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                return "nobody owns " DESTINATION " on the system bus";
        return e->message ?: e->name;
}

static int fail(const char *what, const sd_bus_error *e, int r)
{
        /* Our own errors say what failed and why already. */
        if (e && sd_bus_error_is_set(e) && e->message && strncmp(e->name, "org.skfastpath1.Error.", 22) == 0)
                log_error("%s", e->message);
        else if (e && sd_bus_error_is_set(e) && sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN,
                                                                        SD_BUS_ERROR_NAME_HAS_NO_OWNER))
                log_error("Failed to %s: skfastpathd is not running (%s).", what, unreachable_reason(e));
        else if (e && sd_bus_error_is_set(e) && bus_error_exit_code(e, r) == SKFP_EXIT_UNREACHABLE)
                log_error("Failed to %s: skfastpathd is not reachable: %s", what, e->message ?: e->name);
        else if (e && sd_bus_error_is_set(e))
                log_error("Failed to %s: %s", what, e->message ?: e->name);
        else
                log_error_errno(r, "Failed to %s: %m", what);
        return bus_error_exit_code(e, r);
}

static int call(sd_bus *bus, const char *what, const char *method, const char *types, ...)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, DESTINATION, PATH, INTERFACE, method);
        if (r >= 0) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                r = fail(what, &error, r);
                sd_bus_error_free(&error);
                return r;
        }
        return SKFP_EXIT_SUCCESS;
}

static int parse_port_arg(const char *s, uint16_t *ret)
{
        uint32_t v;

        /* 0 goes to the daemon, which names the error; what is no port at all stops here. */
        if (parse_uint32(s, &v) < 0 || v > 65535) {
                _cleanup_free_ char *e = cescape(s);
                log_error("Invalid port '%s': expected a number from 1 to 65535.", e ?: "?");
                return SKFP_EXIT_INVALID_PORT;
        }
        *ret = (uint16_t) v;
        return 0;
}

static int verb_interfaces(sd_bus *bus, char **args, size_t n, bool add)
{
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *what = NULL;
                int r;

                if (asprintf(&what, "%s interface %s", add ? "add" : "remove", args[i]) < 0)
                        return log_oom(), SKFP_EXIT_FAILURE;
                r = call(bus, what, add ? "AddInterface" : "RemoveInterface", "s", args[i]);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int verb_ports(sd_bus *bus, char **args, size_t n, bool add)
{
        uint16_t port;
        int r;

        /* all or nothing as far as the command line goes */
        for (size_t i = 0; i < n; i++) {
                r = parse_port_arg(args[i], &port);
                if (r != 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                char what[32];

                (void) parse_port_arg(args[i], &port);
                snprintf(what, sizeof(what), "%s port %u", add ? "add" : "remove", port);
                r = call(bus, what, add ? "AddPort" : "RemovePort", "q", port);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int verb_fastpath(sd_bus *bus, const char *arg)
{
        int b = parse_boolean(arg);

        if (b < 0) {
                log_error("Expected 'on' or 'off', got '%s'.", arg);
                return SKFP_EXIT_USAGE;
        }
        return call(bus, b ? "switch the fastpath on" : "switch the fastpath off", "SetFastpath", "b", b);
}

typedef struct Status {
        char *version;
        char *listen_address;
        int fastpath;
        struct {
                char *name;
                int32_t ifindex;
                int attached;
        } interfaces[256];
        size_t n_interfaces;
        uint16_t ports[65536];
        size_t n_ports;
} Status;

static int read_status(sd_bus_message *reply, Status *s)
{
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *name, *str;

                r = sd_bus_message_read(reply, "s", &name);
                if (r < 0)
                        return r;
                if (streq(name, "Version") || streq(name, "ListenAddress")) {
                        r = sd_bus_message_read(reply, "v", "s", &str);
                        if (r < 0)
                                return r;
                        char **p = streq(name, "Version") ? &s->version : &s->listen_address;
                        free(*p);
                        *p = strdup(str);
                        if (!*p)
                                return -ENOMEM;
                } else if (streq(name, "Fastpath")) {
                        r = sd_bus_message_read(reply, "v", "b", &s->fastpath);
                } else if (streq(name, "Interfaces")) {
                        const char *n;
                        int32_t ifindex;
                        int attached;

                        r = sd_bus_message_enter_container(reply, 'v', "a(sib)");
                        if (r >= 0)
                                r = sd_bus_message_enter_container(reply, 'a', "(sib)");
                        while (r >= 0 && (r = sd_bus_message_read(reply, "(sib)", &n, &ifindex, &attached)) > 0)
                                if (s->n_interfaces < ELEMENTSOF(s->interfaces)) {
                                        s->interfaces[s->n_interfaces].name = strdup(n);
                                        if (!s->interfaces[s->n_interfaces].name)
                                                return -ENOMEM;
                                        s->interfaces[s->n_interfaces].ifindex = ifindex;
                                        s->interfaces[s->n_interfaces++].attached = attached;
                                }
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                        if (r >= 0)
                                r = sd_bus_message_exit_container(reply);
                } else if (streq(name, "Ports")) {
                        const uint16_t *a;
                        size_t size;

                        r = sd_bus_message_enter_container(reply, 'v', "aq");
                        if (r >= 0)
                                r = sd_bus_message_read_array(reply, 'q', (const void **) &a, &size);
                        if (r >= 0) {
                                s->n_ports = size / sizeof(uint16_t);
                                memcpy(s->ports, a, s->n_ports * sizeof(uint16_t));
                                r = sd_bus_message_exit_container(reply);
                        }
                } else
                        r = sd_bus_message_skip(reply, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(reply);
}

static void status_done(Status *s)
{
        free(s->version);
        free(s->listen_address);
        for (size_t i = 0; i < s->n_interfaces; i++)
                free(s->interfaces[i].name);
}

static int verb_status(sd_bus *bus)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ Status *s = calloc(1, sizeof(Status));
        int r;

        if (!s)
                return log_oom(), SKFP_EXIT_FAILURE;
        r = sd_bus_call_method(bus, DESTINATION, PATH, "org.freedesktop.DBus.Properties", "GetAll", &error, &reply,
                "s", INTERFACE);
        if (r < 0) {
                r = fail("get the status", &error, r);
                sd_bus_error_free(&error);
                return r;
        }
        r = read_status(reply, s);
        if (r < 0) {
                status_done(s);
                log_error_errno(r, "Failed to parse the status: %m");
                return SKFP_EXIT_FAILURE;
        }

        if (arg_json) {
                printf("{\"version\":");
                json_string(s->version ?: "");
                printf(",\"listen_address\":");
                json_string(s->listen_address ?: "");
                printf(",\"fastpath\":%s,\"interfaces\":[", s->fastpath ? "true" : "false");
                for (size_t i = 0; i < s->n_interfaces; i++) {
                        printf("%s{\"name\":", i ? "," : "");
                        json_string(s->interfaces[i].name);
                        printf(",\"ifindex\":%" PRIi32 ",\"attached\":%s}", s->interfaces[i].ifindex,
                                s->interfaces[i].attached ? "true" : "false");
                }
                printf("],\"ports\":[");
                for (size_t i = 0; i < s->n_ports; i++)
                        printf("%s%u", i ? "," : "", s->ports[i]);
                printf("]}\n");
        } else {
                printf("       Version: %s\n", s->version ?: "?");
                printf(" ListenAddress: %s\n", s->listen_address ?: "?");
                printf("      Fastpath: %s\n", s->fastpath ? "on" : "off");
                printf("    Interfaces:");
                if (s->n_interfaces == 0)
                        printf(" (none)\n");
                for (size_t i = 0; i < s->n_interfaces; i++) {
                        printf("%s%s ", i ? "               " : " ", s->interfaces[i].name);
                        if (s->interfaces[i].ifindex <= 0)
                                printf("(absent)\n");
                        else
                                printf("(ifindex %" PRIi32 ", %s)\n", s->interfaces[i].ifindex,
                                        s->interfaces[i].attached ? "attached" : "not attached");
                }
                printf("         Ports:");
                if (s->n_ports == 0)
                        printf(" (none)");
                for (size_t i = 0; i < s->n_ports; i++)
                        printf(" %u", s->ports[i]);
                printf("\n");
        }
        status_done(s);
        return SKFP_EXIT_SUCCESS;
}

typedef struct Counter {
        const char *name;   /* points into the reply it was read from */
        uint64_t value;
} Counter;

typedef struct Counters {
        sd_bus_message *reply;
        Counter *counters;
        size_t n;
        uint64_t usec;      /* CLOCK_MONOTONIC when the reply arrived */
} Counters;

static void counters_done(Counters *c)
{
        c->reply = sd_bus_message_unref(c->reply);
        free(c->counters);
        c->counters = NULL;
        c->n = 0;
}

static int counters_read(sd_bus_message *reply, Counters *ret)
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

static void counters_print(const Counters *c)
{
        if (arg_json) {
                putchar('{');
                for (size_t i = 0; i < c->n; i++) {
                        printf("%s", i ? "," : "");
                        json_string(c->counters[i].name);
                        printf(":%" PRIu64, c->counters[i].value);
                }
                printf("}\n");
        } else
                for (size_t i = 0; i < c->n; i++)
                        printf("%-26s %" PRIu64 "\n", c->counters[i].name, c->counters[i].value);
}

static int verb_stats(sd_bus *bus)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        Counters c = {};
        int r;

        r = sd_bus_call_method(bus, DESTINATION, PATH, INTERFACE, "GetStatistics", &error, &reply, NULL);
        if (r < 0) {
                r = fail("get the statistics", &error, r);
                sd_bus_error_free(&error);
                return r;
        }
        r = counters_read(reply, &c);
        if (r < 0) {
                log_error_errno(r, "Failed to parse the statistics: %m");
                return SKFP_EXIT_FAILURE;
        }
        counters_print(&c);
        counters_done(&c);
        return SKFP_EXIT_SUCCESS;
}

/* stats --watch: GetStatistics every --interval, each counter with its change per second. */

#define WATCH_INTERVAL_MIN_USEC 100000ULL
#define WATCH_CALL_TIMEOUT_USEC (25 * 1000000ULL)
/* sd-event would otherwise coalesce wake-ups up to 250 ms late: more than a short interval */
#define WATCH_TIMER_ACCURACY_USEC 1000ULL

typedef struct Watch {
        sd_event *event;
        sd_bus *bus;
        sd_event_source *timer;
        sd_bus_slot *call;
        Counters previous;
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

/* Counters that are levels, not running totals: a rate of change means nothing for them. */
static bool counter_is_gauge(const char *name)
{
        return streq(name, "tracked-sockets") || streq(name, "managed-interfaces") ||
               streq(name, "managed-ports");
}

static bool counter_is_bytes(const char *name)
{
        size_t n = strlen(name);

        return n >= 6 && streq(name + n - 6, "-bytes");
}

/* "1.5 MiB/s" for bytes, else "12/s" or, with a noun, "12 redirects/s". */
static void format_rate(char *buf, size_t size, double rate, bool bytes, const char *noun)
{
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        size_t u = 0;

        if (!bytes) {
                /* a fraction only where it says something */
                snprintf(buf, size, rate > 0 && rate < 10 ? "%.1f%s%s/s" : "%.0f%s%s/s", rate, noun ? " " : "",
                         noun ?: "");
                return;
        }
        while (rate >= 1024 && u + 1 < ELEMENTSOF(units)) {
                rate /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, size, "%.0f B/s", rate);
        else
                snprintf(buf, size, "%.1f %s/s", rate, units[u]);
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

        printf("Every %gs: skfastpathd statistics at %s", (double) arg_interval_usec / 1e6, clock);
        if (arg_count > 0)
                printf(" (refresh %" PRIu32 " of %" PRIu32 ")\n", w->n_refreshes, arg_count);
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

        r = sd_bus_message_new_method_call(w->bus, &m, DESTINATION, PATH, INTERFACE, "GetStatistics");
        if (r >= 0)
                r = sd_bus_call_async(w->bus, &w->call, m, watch_on_reply, w, WATCH_CALL_TIMEOUT_USEC);
        if (r < 0) {
                int code = bus_error_exit_code(NULL, r);

                /* no call could be sent: the connection itself is gone (the bus stopped) */
                if (w->n_refreshes > 0 && code == SKFP_EXIT_UNREACHABLE)
                        log_error_errno(r, "The system bus went away, stopped watching: %m");
                else
                        code = fail("get the statistics", NULL, r);
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
                        log_error("skfastpathd went away (%s); stopped watching.", unreachable_reason(e));
                else
                        r = fail("get the statistics", e, -EIO);
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

        if (arg_count > 0 && w->n_refreshes >= arg_count)
                return sd_event_exit(w->event, SKFP_EXIT_SUCCESS);

        /* Refreshes keep their pace even when a reply is slow; a reply slower than the interval
         * is followed by the next call at once. */
        r = sd_event_source_set_time(w->timer, w->started_usec + arg_interval_usec);
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

static int verb_stats_watch(sd_bus *bus)
{
        Watch w = { .bus = bus, .tty = isatty(STDOUT_FILENO) };
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

/* polkit asks for the password through an agent of the caller's session. On a terminal, start
 * polkit's text agent for the time of the call (it steps back when the session has one), as
 * systemctl does. Root needs none. */
static pid_t agent_open(void)
{
        int fds[2];
        pid_t pid;

        if (geteuid() == 0 || !isatty(STDIN_FILENO) || !isatty(STDERR_FILENO) || access(PKTTYAGENT, X_OK) < 0)
                return 0;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return 0;
        pid = fork();
        if (pid == 0) {
                char fd[16];
                int w = dup(fds[1]);  /* without O_CLOEXEC: the agent closes it once registered */

                snprintf(fd, sizeof(fd), "%d", w);
                execl(PKTTYAGENT, PKTTYAGENT, "--notify-fd", fd, "--fallback", (char *) NULL);
                _exit(EXIT_FAILURE);
        }
        safe_close(fds[1]);
        if (pid > 0) {
                struct pollfd p = { .fd = fds[0], .events = POLLIN };
                char c;

                /* wait until it is registered (it closes the pipe), but not for ever */
                if (poll(&p, 1, 5000) > 0 && read(fds[0], &c, 1) < 0)
                        log_debug_errno(errno, "Failed to wait for pkttyagent: %m");
        }
        safe_close(fds[0]);
        return pid > 0 ? pid : 0;
}

static void agent_close(pid_t pid)
{
        if (pid <= 0)
                return;
        (void) kill(pid, SIGTERM);
        (void) waitpid(pid, NULL, 0);
}

/* "0.2", "1.5s", "2", "500ms", "1min": what parse_sec_usec() takes, and decimal seconds. */
static int parse_interval(const char *s, uint64_t *ret_usec)
{
        uint64_t sec = 0, frac = 0, scale = 1000000;
        const char *p = s;

        if (parse_sec_usec(s, ret_usec) >= 0)
                return 0;
        if (!isdigit((unsigned char) *p))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++) {
                if (sec > 1000000)
                        return -ERANGE;
                sec = sec * 10 + (uint64_t) (*p - '0');
        }
        if (*p++ != '.' || !isdigit((unsigned char) *p))
                return -EINVAL;
        for (; isdigit((unsigned char) *p); p++)
                if (scale > 1) {
                        scale /= 10;
                        frac += (uint64_t) (*p - '0') * scale;
                }
        if (*p && !streq(p, "s"))
                return -EINVAL;
        *ret_usec = sec * 1000000 + frac;
        return 0;
}

static int parse_argv(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100, ARG_JSON, ARG_NO_ASK_PASSWORD, ARG_WATCH, ARG_INTERVAL, ARG_COUNT };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD },
                { "watch", no_argument, NULL, ARG_WATCH },
                { "interval", required_argument, NULL, ARG_INTERVAL },
                { "count", required_argument, NULL, ARG_COUNT },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("skfastpathctl %s\n", PACKAGE_VERSION);
                        return 0;
                case ARG_JSON:
                        arg_json = true;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        arg_ask_password = false;
                        break;
                case ARG_WATCH:
                        arg_watch = true;
                        break;
                case ARG_INTERVAL:
                        if (parse_interval(optarg, &arg_interval_usec) < 0 ||
                            arg_interval_usec < WATCH_INTERVAL_MIN_USEC) {
                                log_error("Invalid --interval=%s: expected seconds, at least 0.1 (0.5, 2, 500ms).",
                                          optarg);
                                return -EINVAL;
                        }
                        arg_interval_given = true;
                        break;
                case ARG_COUNT:
                        if (parse_uint32(optarg, &arg_count) < 0 || arg_count == 0) {
                                log_error("Invalid --count=%s: expected a number of refreshes, at least 1.", optarg);
                                return -EINVAL;
                        }
                        arg_count_given = true;
                        break;
                default:
                        return -EINVAL;
                }
        return 1;
}

typedef struct Verb {
        const char *name;
        size_t min_args, max_args;
} Verb;

static const Verb verbs[] = {
        { "status", 0, 0 },
        { "add-interface", 1, SIZE_MAX },
        { "remove-interface", 1, SIZE_MAX },
        { "add-port", 1, SIZE_MAX },
        { "remove-port", 1, SIZE_MAX },
        { "fastpath", 1, 1 },
        { "stats", 0, 0 },
};

static int run(int argc, char *argv[])
{
        sd_bus *bus = NULL;
        pid_t agent = 0;
        const Verb *verb = NULL;
        const char *name;
        size_t n_args;
        char **args;
        int r;

        log_set_prefix(false);
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? SKFP_EXIT_USAGE : SKFP_EXIT_SUCCESS;

        name = optind < argc ? argv[optind] : "status";
        args = argv + optind + (optind < argc);
        n_args = optind < argc ? (size_t) (argc - optind - 1) : 0;
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, name))
                        verb = &verbs[i];
        if (!verb) {
                log_error("Unknown command '%s'; see %s --help.", name, program_invocation_short_name);
                return SKFP_EXIT_USAGE;
        }
        if (n_args < verb->min_args || n_args > verb->max_args) {
                log_error("Wrong number of arguments for '%s'; see %s --help.", name,
                        program_invocation_short_name);
                return SKFP_EXIT_USAGE;
        }

        if (arg_watch && !streq(name, "stats")) {
                log_error("--watch is for the stats command only.");
                return SKFP_EXIT_USAGE;
        }
        if (!arg_watch && (arg_interval_given || arg_count_given)) {
                log_error("--interval= and --count= need --watch.");
                return SKFP_EXIT_USAGE;
        }
        if (arg_watch && arg_json) {
                log_error("--json cannot be combined with --watch; run stats --json in a loop instead.");
                return SKFP_EXIT_USAGE;
        }

        (void) sd_bus_error_add_map(skfastpath_error_map);
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_error_errno(r, "Failed to connect to the system bus at %s (is dbus-daemon running?): %m",
                                bus_system_address());
                return SKFP_EXIT_UNREACHABLE;
        }
        (void) sd_bus_set_allow_interactive_authorization(bus, arg_ask_password);
        if (arg_ask_password)
                (void) sd_bus_set_method_call_timeout(bus, INTERACTIVE_TIMEOUT_USEC);

        if (arg_ask_password && !streq(name, "status") && !streq(name, "stats"))
                agent = agent_open();

        if (streq(name, "status"))
                r = verb_status(bus);
        else if (streq(name, "stats"))
                r = arg_watch ? verb_stats_watch(bus) : verb_stats(bus);
        else if (streq(name, "add-interface") || streq(name, "remove-interface"))
                r = verb_interfaces(bus, args, n_args, streq(name, "add-interface"));
        else if (streq(name, "add-port") || streq(name, "remove-port"))
                r = verb_ports(bus, args, n_args, streq(name, "add-port"));
        else
                r = verb_fastpath(bus, args[0]);

        agent_close(agent);
        sd_bus_flush_close_unref(bus);
        return r;
}

int main(int argc, char *argv[])
{
        return run(argc, argv);
}
