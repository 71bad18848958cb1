/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <systemd/sd-event.h>

#include "polkit.h"
#include "util.h"

#define POLKIT_INTERACTIVE_TIMEOUT_USEC (300 * 1000000ULL)

typedef struct PolkitQuery PolkitQuery;
struct PolkitQuery {
        Manager *manager;
        sd_bus_message *request;    /* the call being authorised, dispatched again with the answer */
        char *action;
        sd_bus_slot *slot;          /* the CheckAuthorization call in flight */
        sd_event_source *defer;     /* frees the query after the request ran again */
        bool done;
        int result;                 /* when done: 1 authorised, or -errno with error set */
        sd_bus_error error;
        PolkitQuery *next;
};

static PolkitQuery *polkit_query_free(PolkitQuery *q)
{
        if (!q)
                return NULL;
        sd_bus_slot_unref(q->slot);
        sd_event_source_disable_unref(q->defer);
        sd_bus_message_unref(q->request);
        sd_bus_error_free(&q->error);
        free(q->action);
        free(q);
        return NULL;
}

static void registry_remove(Manager *m, PolkitQuery *q)
{
        for (PolkitQuery **p = (PolkitQuery **) &m->polkit_registry; *p; p = &(*p)->next)
                if (*p == q) {
                        *p = q->next;
                        return;
                }
}

static PolkitQuery *registry_find(Manager *m, sd_bus_message *call)
{
        for (PolkitQuery *q = m->polkit_registry; q; q = q->next)
                if (q->request == call)
                        return q;
        return NULL;
}

void polkit_registry_free(Manager *m)
{
        PolkitQuery *q = m->polkit_registry;

        while (q) {
                PolkitQuery *next = q->next;

                polkit_query_free(q);
                q = next;
        }
        m->polkit_registry = NULL;
}

static int on_query_idle(sd_event_source *s, void *userdata)
{
        PolkitQuery *q = userdata;

        /* Idle priority: the re-enqueued request has been dispatched by now. */
        registry_remove(q->manager, q);
        polkit_query_free(q);
        return 0;
}

static bool error_is_no_polkit(const sd_bus_error *e)
{
        return sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                        "org.freedesktop.DBus.Error.Spawn.ServiceNotFound",
                        "org.freedesktop.DBus.Error.Spawn.ChildExited");
}

/* Reads polkit's answer into q->result and q->error; < 0 only when the answer is unreadable. */
static int query_read_answer(PolkitQuery *q, sd_bus_message *reply)
{
        int authorized, challenge, r;

        if (sd_bus_message_is_method_error(reply, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(reply);

                q->result = -EACCES;
                if (error_is_no_polkit(e)) {
                        log_debug("polkit is not available (%s), denying %s.", e->name, q->action);
                        (void) sd_bus_error_setf(&q->error, SD_BUS_ERROR_ACCESS_DENIED,
                                "Access denied: polkit is not available to authorize %s.", q->action);
                        return 0;
                }
                log_warning("polkit failed to check %s: %s: %s", q->action, e->name, e->message);
                (void) sd_bus_error_setf(&q->error, SD_BUS_ERROR_ACCESS_DENIED,
                        "Access denied: polkit could not check %s: %s", q->action, e->message ?: e->name);
                return 0;
        }

        r = sd_bus_message_enter_container(reply, 'r', "bba{ss}");
        if (r >= 0)
                r = sd_bus_message_read(reply, "bb", &authorized, &challenge);
        if (r < 0)
                return r;

        if (authorized) {
                q->result = 1;
                return 0;
        }
        q->result = -EACCES;
        if (challenge)
                (void) sd_bus_error_setf(&q->error, SD_BUS_ERROR_INTERACTIVE_AUTHORIZATION_REQUIRED,
                        sd_bus_message_get_allow_interactive_authorization(q->request) > 0 ?
                                "Authentication is required for %s, but no polkit agent could ask for it." :
                                "Interactive authentication is required for %s.",
                        q->action);
        else
                (void) sd_bus_error_setf(&q->error, SD_BUS_ERROR_ACCESS_DENIED,
                        "Access denied: not authorized for %s.", q->action);
        return 0;
}

static int on_check_authorization(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
        PolkitQuery *q = userdata;
        sd_bus *bus = sd_bus_message_get_bus(q->request);
        int r;

        q->slot = sd_bus_slot_unref(q->slot);

        r = query_read_answer(q, reply);
        if (r < 0)
                goto fail;
        q->done = true;

        /* Run the request once more from the top; the handler finds the answer here. The query is
         * freed at idle priority, after that second dispatch. */
        r = sd_event_add_defer(sd_bus_get_event(bus), &q->defer, on_query_idle, q);
        if (r >= 0)
                r = sd_event_source_set_priority(q->defer, SD_EVENT_PRIORITY_IDLE);
        if (r >= 0)
                r = sd_bus_message_rewind(q->request, true);
        if (r >= 0)
                r = sd_bus_enqueue_for_read(bus, q->request);
        if (r < 0)
                goto fail;
        return 1;

fail:
        log_warning_errno(r, "Failed to process the polkit answer: %m");
        (void) sd_bus_reply_method_errorf(q->request, SD_BUS_ERROR_ACCESS_DENIED,
                "Access denied: the polkit answer could not be processed: %s", strerror(-r));
        registry_remove(q->manager, q);
        polkit_query_free(q);
        return 0;
}

int polkit_sender_euid(sd_bus_message *call, uid_t *ret)
{
        sd_bus_creds *creds = NULL;
        int r;

        r = sd_bus_query_sender_creds(call, SD_BUS_CREDS_EUID, &creds);
        if (r < 0)
                return r;
        /* Augmented credentials come from /proc after the fact: never trust them for this. */
        if (sd_bus_creds_get_augmented_mask(creds) & SD_BUS_CREDS_EUID)
                r = -EPERM;
        else
                r = sd_bus_creds_get_euid(creds, ret);
        sd_bus_creds_unref(creds);
        return r;
}

static int sender_is_root(sd_bus_message *call)
{
        uid_t uid;
        int r;

        r = polkit_sender_euid(call, &uid);
        if (r < 0)
                return r;
        return uid == 0;
}

int polkit_verify(Manager *m, sd_bus_message *call, const char *action, sd_bus_error *error)
{
        sd_bus_message *pk = NULL;
        PolkitQuery *q;
        const char *sender;
        int interactive, r;

        q = registry_find(m, call);
        if (q) {
                if (!q->done)
                        return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                "Access denied: authorization still in progress.");
                /* The answer is for this action only. */
                if (!streq(q->action, action))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                "Access denied: authorization was for %s, not %s.", q->action, action);
                if (q->result > 0)
                        return 1;
                sd_bus_error_copy(error, &q->error);
                return q->result;
        }

        r = sender_is_root(call);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to get the caller's credentials: %m");
        if (r > 0)
                return 1;

        sender = sd_bus_message_get_sender(call);
        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "Access denied: no sender.");
        interactive = sd_bus_message_get_allow_interactive_authorization(call);
        if (interactive < 0)
                interactive = 0;

        q = calloc(1, sizeof(PolkitQuery));
        if (!q)
                return -ENOMEM;
        q->manager = m;
        q->request = sd_bus_message_ref(call);
        q->action = strdup(action);
        if (!q->action) {
                r = -ENOMEM;
                goto fail;
        }

        r = sd_bus_message_new_method_call(sd_bus_message_get_bus(call), &pk, "org.freedesktop.PolicyKit1",
                        "/org/freedesktop/PolicyKit1/Authority", "org.freedesktop.PolicyKit1.Authority",
                        "CheckAuthorization");
        /* subject, action, details, flags (1: AllowUserInteraction), cancellation id */
        if (r >= 0)
                r = sd_bus_message_append(pk, "(sa{sv})sa{ss}us", "system-bus-name", 1, "name", "s", sender,
                        action, 0, (uint32_t) (interactive ? 1 : 0), NULL);
        if (r >= 0)
                r = sd_bus_call_async(sd_bus_message_get_bus(call), &q->slot, pk, on_check_authorization, q,
                        interactive ? POLKIT_INTERACTIVE_TIMEOUT_USEC : 0);
        sd_bus_message_unref(pk);
        if (r < 0)
                goto fail;

        q->next = m->polkit_registry;
        m->polkit_registry = q;
        log_debug("Asked polkit whether %s may %s%s.", sender, action, interactive ? " (interactive)" : "");
        return 0;

fail:
        polkit_query_free(q);
        return sd_bus_error_set_errnof(error, r, "Failed to ask polkit: %m");
}
