/*
 * homehub's mosquitto plugin (plugin API version 5, mosquitto 2.0).
 *
 * Why our own, not mosquitto's acl_file or its dynamic-security plugin: the hub needs three
 * things the broker alone does not give it.
 *   1. Roles over topics as the hub's access model has them: a `write` application may publish
 *      to every topic but the update and delete topics of the shadows a device type marks
 *      sensitive and the shadow service's answer topics (accepted, rejected, delta, documents);
 *      a device only to its own thing's topics; the hub to everything. acl_file
 *      cannot say "all but these" for a role, and its patterns would apply to every user.
 *   2. Who sent each message, in a form a client cannot forge: every accepted PUBLISH gets the
 *      MQTT 5 user property `homehub-identity` (hub, application:NAME, device:THING, anonymous).
 *      A client that sends that property itself is refused.
 *   3. Refusals the hub can log, count and audit: each refused PUBLISH is reported on
 *      `$homehub/broker/denied`, which only the hub may read (at most 50/s, bursts of 200;
 *      beyond that they are counted and the count rides on the next report).
 *
 * The hub writes the rules (option `rules_file`) and sends SIGHUP when they change; mosquitto
 * then raises MOSQ_EVT_RELOAD and the rules are read again. Lines:
 *     hub USERNAME                 the hub's own login (password file), never a certificate
 *     anonymous none|read|write    clients without a user name
 *     application NAME ROLE        role: read | write | sensitive
 *     sensitive THING SHADOW       a named shadow whose desired state needs `sensitive`
 *     reserved FILTER              topics only the hub publishes (Home Assistant's discovery
 *                                  configs and the states the hub shows it)
 *     open FILTER                  within those, topics clients may publish by their role
 *                                  (Home Assistant's commands)
 * An application logs in with its name and password, or with a certificate whose CN is
 * `app.NAME`; any other certificate CN is a device's thing name.
 */
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mqtt_protocol.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "homehub_broker_plugin.h"

enum role { ROLE_NONE = -1, ROLE_READ = 0, ROLE_WRITE = 1, ROLE_SENSITIVE = 2 };

struct application {
    char *name;
    enum role role;
};

struct rules {
    char *hub_user;
    enum role anonymous;
    struct application *applications;
    size_t application_count;
    char **sensitive_prefixes; /* "$aws/things/T/shadow/name/S/" */
    size_t sensitive_count;
    char **reserved; /* topic filters */
    size_t reserved_count;
    char **open; /* topic filters */
    size_t open_count;
};

struct plugin {
    mosquitto_plugin_id_t *identifier;
    char *rules_file;
    struct rules rules;
    /* refusal reports: a token bucket, and those not reported */
    double tokens;
    struct timespec last_refill;
    unsigned long suppressed;
};

static void rules_free(struct rules *rules) {
    free(rules->hub_user);
    for (size_t i = 0; i < rules->application_count; i++) free(rules->applications[i].name);
    free(rules->applications);
    for (size_t i = 0; i < rules->sensitive_count; i++) free(rules->sensitive_prefixes[i]);
    free(rules->sensitive_prefixes);
    for (size_t i = 0; i < rules->reserved_count; i++) free(rules->reserved[i]);
    free(rules->reserved);
    for (size_t i = 0; i < rules->open_count; i++) free(rules->open[i]);
    free(rules->open);
    memset(rules, 0, sizeof(*rules));
    rules->anonymous = ROLE_NONE;
}

static enum role parse_role(const char *text) {
    if (!strcmp(text, "read")) return ROLE_READ;
    if (!strcmp(text, "write")) return ROLE_WRITE;
    if (!strcmp(text, "sensitive")) return ROLE_SENSITIVE;
    return ROLE_NONE;
}

/* Appends a copy of `text` to a list; 0 on success. */
static int append(char ***list, size_t *count, const char *text) {
    char **grown = realloc(*list, (*count + 1) * sizeof(char *));
    if (!grown) return -1;
    *list = grown;
    if (!(grown[*count] = strdup(text))) return -1;
    (*count)++;
    return 0;
}

static bool matches_any(char **filters, size_t count, const char *topic) {
    for (size_t i = 0; i < count; i++) {
        bool result = false;
        if (mosquitto_topic_matches_sub(filters[i], topic, &result) == MOSQ_ERR_SUCCESS && result) return true;
    }
    return false;
}

/* Reads the rules file into `out`; 0 on success. A line it cannot read fails the whole file. */
static int rules_load(const char *path, struct rules *out) {
    FILE *file = fopen(path, "r");
    if (!file) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "homehub plugin: cannot read rules file %s", path);
        return -1;
    }
    struct rules rules = {.anonymous = ROLE_NONE};
    char line[1024];
    int failed = 0, number = 0;
    while (!failed && fgets(line, sizeof(line), file)) {
        number++;
        char word[64], first[512], second[512];
        line[strcspn(line, "\r\n")] = 0;
        if (line[0] == 0 || line[0] == '#') continue;
        int fields = sscanf(line, "%63s %511s %511s", word, first, second);
        if (fields == 2 && !strcmp(word, "hub")) {
            free(rules.hub_user);
            rules.hub_user = strdup(first);
        } else if (fields == 2 && !strcmp(word, "anonymous")) {
            rules.anonymous = parse_role(first);
        } else if (fields == 3 && !strcmp(word, "application")) {
            struct application *grown =
                realloc(rules.applications, (rules.application_count + 1) * sizeof(struct application));
            if (!grown) { failed = 1; break; }
            rules.applications = grown;
            grown[rules.application_count].name = strdup(first);
            grown[rules.application_count].role = parse_role(second);
            rules.application_count++;
        } else if (fields == 3 && !strcmp(word, "sensitive")) {
            char **grown = realloc(rules.sensitive_prefixes, (rules.sensitive_count + 1) * sizeof(char *));
            if (!grown) { failed = 1; break; }
            rules.sensitive_prefixes = grown;
            size_t length = strlen(first) + strlen(second) + 32;
            char *prefix = malloc(length);
            if (!prefix) { failed = 1; break; }
            snprintf(prefix, length, "$aws/things/%s/shadow/name/%s/", first, second);
            grown[rules.sensitive_count++] = prefix;
        } else if (fields == 2 && !strcmp(word, "reserved")) {
            if (append(&rules.reserved, &rules.reserved_count, first) != 0) { failed = 1; break; }
        } else if (fields == 2 && !strcmp(word, "open")) {
            if (append(&rules.open, &rules.open_count, first) != 0) { failed = 1; break; }
        } else {
            mosquitto_log_printf(MOSQ_LOG_ERR, "homehub plugin: %s line %d is not a rule: %s", path, number, line);
            failed = 1;
        }
    }
    fclose(file);
    if (failed || !rules.hub_user) {
        if (!rules.hub_user) mosquitto_log_printf(MOSQ_LOG_ERR, "homehub plugin: %s names no hub user", path);
        rules_free(&rules);
        return -1;
    }
    *out = rules;
    return 0;
}

/* Who a client is. `name` receives the thing or application name. */
enum kind { KIND_NOBODY, KIND_HUB, KIND_APPLICATION, KIND_DEVICE, KIND_ANONYMOUS };

static enum kind identify(struct plugin *plugin, struct mosquitto *client, const char **name) {
    const char *user = mosquitto_client_username(client);
    *name = NULL;
    if (!user) return KIND_ANONYMOUS;
    X509 *certificate = mosquitto_client_certificate(client);
    bool has_certificate = certificate != NULL;
    if (certificate) X509_free(certificate);
    if (has_certificate) {
        /* The CN is the user name (use_identity_as_username). */
        if (!strncmp(user, "app.", 4) && user[4]) {
            *name = user + 4;
            return KIND_APPLICATION;
        }
        *name = user;
        return KIND_DEVICE;
    }
    if (plugin->rules.hub_user && !strcmp(user, plugin->rules.hub_user)) return KIND_HUB;
    *name = user;
    return KIND_APPLICATION;
}

static enum role application_role(struct plugin *plugin, const char *name) {
    for (size_t i = 0; i < plugin->rules.application_count; i++) {
        if (!strcmp(plugin->rules.applications[i].name, name)) return plugin->rules.applications[i].role;
    }
    return ROLE_NONE;
}

static bool has_prefix(const char *text, const char *prefix) { return !strncmp(text, prefix, strlen(prefix)); }

static bool within_thing(const char *topic, const char *thing) {
    char prefix[512];
    snprintf(prefix, sizeof(prefix), "$aws/things/%s/shadow/", thing);
    if (has_prefix(topic, prefix)) return true;
    snprintf(prefix, sizeof(prefix), "cmd/%s/", thing);
    return has_prefix(topic, prefix);
}

/* An update or delete of a shadow the hub marked sensitive. */
static bool is_sensitive_change(struct plugin *plugin, const char *topic) {
    for (size_t i = 0; i < plugin->rules.sensitive_count; i++) {
        const char *prefix = plugin->rules.sensitive_prefixes[i];
        if (has_prefix(topic, prefix)) {
            const char *rest = topic + strlen(prefix);
            if (!strcmp(rest, "update") || !strcmp(rest, "delete")) return true;
        }
    }
    return false;
}

/* `…/accepted`, `…/rejected`, `…/delta`, `…/documents` under $aws/things/: the hub's answers. A
   client that published there could hand a device a delta nobody asked for. */
static bool is_shadow_answer(const char *topic) {
    if (!has_prefix(topic, "$aws/things/")) return false;
    const char *last = strrchr(topic, '/');
    return last && (!strcmp(last, "/accepted") || !strcmp(last, "/rejected") || !strcmp(last, "/delta") ||
                    !strcmp(last, "/documents"));
}

static bool is_get(const char *topic) {
    size_t length = strlen(topic);
    return has_prefix(topic, "$aws/things/") && length > 4 && !strcmp(topic + length - 4, "/get");
}

static void json_string(char *out, size_t size, const char *text) {
    size_t used = 0;
    if (size < 3) return;
    out[used++] = '"';
    for (const char *c = text ? text : ""; *c && used + 8 < size; c++) {
        unsigned char byte = (unsigned char)*c;
        if (byte == '"' || byte == '\\') {
            out[used++] = '\\';
            out[used++] = (char)byte;
        } else if (byte < 0x20) {
            used += (size_t)snprintf(out + used, size - used, "\\u%04x", byte);
        } else {
            out[used++] = (char)byte;
        }
    }
    out[used++] = '"';
    out[used] = 0;
}

static void identity_text(enum kind kind, const char *name, char *out, size_t size) {
    if (!name) name = "";
    switch (kind) {
    case KIND_HUB: snprintf(out, size, "hub"); break;
    case KIND_APPLICATION: snprintf(out, size, "application:%s", name); break;
    case KIND_DEVICE: snprintf(out, size, "device:%s", name); break;
    case KIND_ANONYMOUS: snprintf(out, size, "anonymous"); break;
    default: snprintf(out, size, "nobody"); break;
    }
}

/* Tells the hub about a refused publish, within the report budget. */
static void report(struct plugin *plugin, struct mosquitto *client, const char *topic, const char *reason) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double elapsed = (double)(now.tv_sec - plugin->last_refill.tv_sec) +
                     (double)(now.tv_nsec - plugin->last_refill.tv_nsec) / 1e9;
    plugin->last_refill = now;
    plugin->tokens += elapsed * 50.0;
    if (plugin->tokens > 200.0) plugin->tokens = 200.0;
    if (plugin->tokens < 1.0) {
        plugin->suppressed++;
        return;
    }
    plugin->tokens -= 1.0;
    const char *name = NULL;
    char identity[600], identity_json[1300], topic_json[2100], client_json[1100], reason_json[300];
    identity_text(identify(plugin, client, &name), name, identity, sizeof(identity));
    json_string(identity_json, sizeof(identity_json), identity);
    json_string(topic_json, sizeof(topic_json), topic);
    json_string(client_json, sizeof(client_json), mosquitto_client_id(client));
    json_string(reason_json, sizeof(reason_json), reason);
    char payload[5000];
    int length = snprintf(payload, sizeof(payload),
                          "{\"identity\":%s,\"clientId\":%s,\"topic\":%s,\"reason\":%s,\"suppressed\":%lu}",
                          identity_json, client_json, topic_json, reason_json, plugin->suppressed);
    plugin->suppressed = 0;
    if (length > 0 && (size_t)length < sizeof(payload)) {
        mosquitto_broker_publish_copy(NULL, HOMEHUB_DENIED_TOPIC, length, payload, 1, false, NULL);
    }
}

static int on_acl_check(int event, void *event_data, void *userdata) {
    (void)event;
    struct plugin *plugin = userdata;
    struct mosquitto_evt_acl_check *check = event_data;
    const char *topic = check->topic;
    const char *name = NULL;
    enum kind kind = identify(plugin, check->client, &name);
    if (kind == KIND_HUB) return MOSQ_ERR_SUCCESS;
    if (check->access == MOSQ_ACL_UNSUBSCRIBE) return MOSQ_ERR_SUCCESS;
    bool writing = check->access == MOSQ_ACL_WRITE;
    const char *reason = NULL;
    if (has_prefix(topic, "$homehub/") || has_prefix(topic, "$CONTROL/")) {
        reason = "the hub's own topics";
    } else if (kind == KIND_DEVICE) {
        if (!within_thing(topic, name)) reason = "a device uses its own thing's topics only";
    } else {
        enum role role = kind == KIND_ANONYMOUS ? plugin->rules.anonymous : application_role(plugin, name);
        if (role == ROLE_NONE) {
            reason = kind == KIND_ANONYMOUS ? "anonymous access is off" : "no such application";
        } else if (writing && is_shadow_answer(topic)) {
            reason = "the shadow service's answer topics are the hub's";
        } else if (writing && matches_any(plugin->rules.reserved, plugin->rules.reserved_count, topic) &&
                   !matches_any(plugin->rules.open, plugin->rules.open_count, topic)) {
            reason = "the hub's Home Assistant discovery and state topics are the hub's";
        } else if (writing && role == ROLE_READ && !is_get(topic)) {
            reason = "role 'read' may only publish shadow get requests";
        } else if (writing && role == ROLE_WRITE && is_sensitive_change(plugin, topic)) {
            reason = "a sensitive shadow needs role 'sensitive'";
        }
    }
    if (!reason) return MOSQ_ERR_SUCCESS;
    if (writing) report(plugin, check->client, topic, reason);
    return MOSQ_ERR_ACL_DENIED;
}

/* Stamps who sent the message; refuses a message that carries a stamp of its own. */
static int on_message(int event, void *event_data, void *userdata) {
    (void)event;
    struct plugin *plugin = userdata;
    struct mosquitto_evt_message *message = event_data;
    char *key = NULL, *value = NULL;
    const mosquitto_property *property =
        mosquitto_property_read_string_pair(message->properties, MQTT_PROP_USER_PROPERTY, &key, &value, false);
    while (property) {
        bool forged = key && !strcmp(key, HOMEHUB_IDENTITY_PROPERTY);
        mosquitto_free(key);
        mosquitto_free(value);
        key = value = NULL;
        if (forged) {
            report(plugin, message->client, message->topic, "the message carries its own homehub-identity");
            return MOSQ_ERR_ACL_DENIED;
        }
        property = mosquitto_property_read_string_pair(property, MQTT_PROP_USER_PROPERTY, &key, &value, true);
    }
    const char *name = NULL;
    char identity[600];
    identity_text(identify(plugin, message->client, &name), name, identity, sizeof(identity));
    if (mosquitto_property_add_string_pair(&message->properties, MQTT_PROP_USER_PROPERTY,
                                           HOMEHUB_IDENTITY_PROPERTY, identity) != MOSQ_ERR_SUCCESS) {
        return MOSQ_ERR_NOMEM;
    }
    return MOSQ_ERR_SUCCESS;
}

static int on_reload(int event, void *event_data, void *userdata) {
    (void)event;
    (void)event_data;
    struct plugin *plugin = userdata;
    struct rules rules;
    if (rules_load(plugin->rules_file, &rules) != 0) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "homehub plugin: keeping the previous rules");
        return MOSQ_ERR_SUCCESS;
    }
    rules_free(&plugin->rules);
    plugin->rules = rules;
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions) {
    for (int i = 0; i < supported_version_count; i++) {
        if (supported_versions[i] == 5) return 5;
    }
    return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *options,
                          int option_count) {
    struct plugin *plugin = calloc(1, sizeof(struct plugin));
    if (!plugin) return MOSQ_ERR_NOMEM;
    plugin->identifier = identifier;
    plugin->tokens = 200.0;
    clock_gettime(CLOCK_MONOTONIC, &plugin->last_refill);
    for (int i = 0; i < option_count; i++) {
        if (!strcmp(options[i].key, "rules_file")) plugin->rules_file = strdup(options[i].value);
    }
    if (!plugin->rules_file) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "homehub plugin: plugin_opt_rules_file is required");
        free(plugin);
        return MOSQ_ERR_INVAL;
    }
    if (rules_load(plugin->rules_file, &plugin->rules) != 0) {
        free(plugin->rules_file);
        free(plugin);
        return MOSQ_ERR_INVAL;
    }
    *userdata = plugin;
    mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, plugin);
    mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, on_message, NULL, plugin);
    mosquitto_callback_register(identifier, MOSQ_EVT_RELOAD, on_reload, NULL, plugin);
    return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count) {
    (void)options;
    (void)option_count;
    struct plugin *plugin = userdata;
    if (!plugin) return MOSQ_ERR_SUCCESS;
    mosquitto_callback_unregister(plugin->identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
    mosquitto_callback_unregister(plugin->identifier, MOSQ_EVT_MESSAGE, on_message, NULL);
    mosquitto_callback_unregister(plugin->identifier, MOSQ_EVT_RELOAD, on_reload, NULL);
    rules_free(&plugin->rules);
    free(plugin->rules_file);
    free(plugin);
    return MOSQ_ERR_SUCCESS;
}
