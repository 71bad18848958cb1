/* SPDX-License-Identifier: GPL-2.0-or-later */
/* skfastpathctl: the command line client of org.skfastpath1 on the system bus. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>

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
               "  stats                     Show the counters\n\n"
               "Options:\n"
               "  -h --help                 Show this help\n"
               "     --version              Show package version\n"
               "     --json                 Print status and stats as JSON\n"
               "     --no-ask-password      Do not ask for a password (polkit) when one is needed\n\n"
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

static int fail(const char *what, const sd_bus_error *e, int r)
{
        /* Our own errors say what failed and why already. */
        if (e && sd_bus_error_is_set(e) && e->message && strncmp(e->name, "org.skfastpath1.Error.", 22) == 0)
                log_error("%s", e->message);
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

static int verb_stats(sd_bus *bus)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *name;
        uint64_t value;
        bool first = true;
        int r;

        r = sd_bus_call_method(bus, DESTINATION, PATH, INTERFACE, "GetStatistics", &error, &reply, NULL);
        if (r < 0) {
                r = fail("get the statistics", &error, r);
                sd_bus_error_free(&error);
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "{st}");
        if (r < 0)
                goto bad;
        if (arg_json)
                putchar('{');
        while ((r = sd_bus_message_read(reply, "{st}", &name, &value)) > 0) {
                if (arg_json) {
                        printf("%s", first ? "" : ",");
                        json_string(name);
                        printf(":%" PRIu64, value);
                } else
                        printf("%-26s %" PRIu64 "\n", name, value);
                first = false;
        }
        if (r < 0)
                goto bad;
        if (arg_json)
                printf("}\n");
        return SKFP_EXIT_SUCCESS;
bad:
        log_error_errno(r, "Failed to parse the statistics: %m");
        return SKFP_EXIT_FAILURE;
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

static int parse_argv(int argc, char *argv[])
{
        enum { ARG_VERSION = 0x100, ARG_JSON, ARG_NO_ASK_PASSWORD };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD },
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

        (void) sd_bus_error_add_map(skfastpath_error_map);
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                log_error_errno(r, "Failed to connect to the system bus: %m");
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
                r = verb_stats(bus);
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
