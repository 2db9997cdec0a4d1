/*
 * admin.h - the admin HTTP server ([admin] listen): Prometheus metrics,
 * health and readiness, live customer sessions, account changes.
 *
 * libevent's evhttp on the bridge's event loop. Every request is answered:
 * 401 with WWW-Authenticate: Bearer when [admin] token is set and the
 * request does not carry it, 404 for unknown paths, 405 (with Allow) for
 * a method a path does not take, 400 for a body that is not what the
 * route takes, 503 when Redis is needed and unavailable; errors are JSON
 * {"error": "..."}. Bodies are bounded (ADMIN_MAX_BODY), and so are
 * headers and the time a client may take.
 *
 * Routes (docs/operations.md, "Admin API and metrics"):
 *   GET /metrics, GET /healthz, GET /readyz, GET /sessions,
 *   DELETE /sessions/ID, DELETE /sessions?account=ID,
 *   GET /accounts/ID, PUT /accounts/ID,
 *   GET /auth/blocks, DELETE /auth/blocks?key=ADDRESS|SYSTEM_ID.
 *
 * The server reads the modules through their getters and changes
 * nothing of theirs but through their functions (down_kick, store's
 * account update); it is freed before them.
 */
#ifndef SMPPBRIDGE_ADMIN_H
#define SMPPBRIDGE_ADMIN_H

#include <stddef.h>

#define ADMIN_MAX_BODY 16384
#define ADMIN_JSON_MAX_KEYS 16
#define ADMIN_JSON_VALUE_MAX 2048

struct event_base;
struct conf;
struct store;
struct down;
struct up;
struct relay;
struct admin;

struct admin_sources {
    struct store *st;
    struct down *down;
    struct up *up;
    struct relay *relay;
};

/*
 * Start the server on cfg->admin.listen with the modules in <src> (held,
 * not owned). NULL with <err> empty when [admin] listen is "" (disabled);
 * NULL with a message in <err> when it cannot listen.
 */
struct admin *admin_new(struct event_base *base, const struct conf *cfg,
                        const struct admin_sources *src, char *err, size_t cap);
/* Close the listener and every connection; requests waiting for Redis or
 * for a password hash are dropped unanswered. NULL is a no-op. */
void admin_free(struct admin *a);

/* ---- the request bodies' JSON (exposed for tests and fuzzing) -------- */

enum admin_json_type {
    ADMIN_JSON_STRING = 0,
    ADMIN_JSON_NUMBER,
    ADMIN_JSON_TRUE,
    ADMIN_JSON_FALSE,
    ADMIN_JSON_NULL,
};

struct admin_json_member {
    char key[64];
    enum admin_json_type type;
    char value[ADMIN_JSON_VALUE_MAX]; /* strings unescaped (UTF-8, no NUL);
                                         numbers as written */
};

/*
 * Parse <text> (<len> bytes, not NUL-terminated) as one flat JSON object
 * whose values are strings, numbers, true, false or null (no nesting),
 * into <out> (at most <max> members). Surrounding white space is allowed;
 * anything after the object, a duplicate key, a key or string too long,
 * an escape producing NUL or an invalid surrogate is an error. The member
 * count, or -1 with a message in <err>.
 */
int admin_json_object(const char *text, size_t len,
                      struct admin_json_member *out, size_t max, char *err,
                      size_t cap);

#endif /* SMPPBRIDGE_ADMIN_H */
