/*
 * redis_conn.h - one asynchronous Redis connection (hiredis on the
 * bridge's libevent loop), knowing nothing of what the commands mean.
 *
 * It connects to [redis] host:port, or to the master the sentinels name,
 * checks that it is the master (ROLE, with sentinels), authenticates
 * (AUTH [user] password), selects the database, and reconnects with
 * backoff whenever the connection is lost.
 *
 * Every command completes exactly once: with Redis's reply, or with NULL
 * when Redis is down, the connection drops, or no reply came within its
 * deadline (then the connection is dropped and re-made, because a reply
 * that comes late would shift every later one onto the wrong command).
 *
 * Lua scripts are registered once by id, loaded (SCRIPT LOAD) on every
 * new connection before the owner's first command, and always called by
 * their SHA1 (EVALSHA): sending and hashing a few hundred bytes of Lua
 * per call was half of Redis's time per message. A NOSCRIPT answer (a
 * Redis that was flushed, or still loading its data when we connected)
 * loads them again; that one command fails.
 */
#ifndef SMPPBRIDGE_REDIS_CONN_H
#define SMPPBRIDGE_REDIS_CONN_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct conf_redis;
struct redis_conn;
struct redisReply;

/* Counters, possibly shared by several connections. */
struct redis_conn_stats {
    uint64_t commands, errors, timeouts, reconnects;
};

/* A command's completion: <r> is the reply, NULL when the command failed
 * (error reply, timeout, connection lost); <ctx> the context given back
 * by redis_conn_send, freed after this returns. Not called once the
 * connection is being freed. */
typedef void (*redis_reply_fn)(struct redisReply *r, void *ctx);
/* The connection's life, for its owner: up (AUTH, SELECT and the scripts
 * are sent: the owner's first commands go next), or down (every pending
 * command has failed). */
typedef void (*redis_state_fn)(struct redis_conn *c, int up, void *owner);
/* An error reply <err> of <len> bytes; 1 when the owner expects it (it
 * is not logged), 0 otherwise. */
typedef int (*redis_error_fn)(const char *err, size_t len, void *owner);
/* How long a command took, sent to reply. */
typedef void (*redis_latency_fn)(uint64_t us, void *owner);
/* One message published on a subscribed channel (valid in the call). */
typedef void (*redis_message_fn)(const char *msg, size_t len, void *arg);

struct redis_conn_opts {
    const char *name;              /* in logs: "commands", "consumer"... */
    const struct conf_redis *cfg;  /* outlives the connection */
    struct redis_conn_stats *stats;
    void *owner;                   /* given to the hooks below */
    redis_state_fn on_state;       /* may be NULL */
    redis_error_fn on_error;       /* may be NULL: every error is logged */
    redis_latency_fn on_latency;   /* may be NULL */
    int announce;                  /* log each connect at info level */
    int group_commit;              /* what is sent between two writes to
                                      the socket in one MULTI/EXEC
                                      (redis_conn.c) */
    unsigned n_scripts;            /* ids 0 .. n_scripts - 1 */
};

/* A new connection, connecting at once; NULL when out of memory. */
struct redis_conn *redis_conn_new(struct event_base *base,
                                  const struct redis_conn_opts *opts);
/* Drop the connection; pending commands are not called back. */
void redis_conn_free(struct redis_conn *c);
/* 1 once connected, authenticated and (with sentinels) the master. */
int redis_conn_up(const struct redis_conn *c);

/* Script <id> is <lua> (a static string, never freed); before the first
 * connection. */
void redis_conn_script(struct redis_conn *c, unsigned id, const char *lua);

/* Send one command of <argc> arguments (<lens> NULL: each is a C
 * string) due within <timeout_ms>. <fn> (NULL: the reply is not needed)
 * gets the reply and a zeroed context of <ctx_size> bytes, owned by the
 * connection; returns that context (an opaque pointer when <ctx_size> is
 * 0), or NULL when the command could not be sent: then <fn> is never
 * called. */
void *redis_conn_send(struct redis_conn *c, unsigned timeout_ms,
                      redis_reply_fn fn, size_t ctx_size, int argc,
                      const char **argv, const size_t *lens);
/* The same for script <id>: EVALSHA sha <nkeys> <argv...>. */
void *redis_conn_eval(struct redis_conn *c, unsigned id, unsigned timeout_ms,
                      redis_reply_fn fn, size_t ctx_size, unsigned nkeys,
                      int argc, const char **argv, const size_t *lens);

/* One command of a transaction. */
struct redis_cmd {
    int argc;
    const char **argv;
    const size_t *lens;
};
/* Several commands as one transaction (MULTI ... EXEC): one round trip,
 * applied whole, and cheaper for Redis than a Lua script. <fn> gets
 * EXEC's reply; pass it through redis_conn_exec_reply. A transaction
 * that cannot be sent whole drops the connection (a MULTI left open
 * would swallow every later command). */
void *redis_conn_multi(struct redis_conn *c, unsigned timeout_ms,
                       redis_reply_fn fn, size_t ctx_size,
                       const struct redis_cmd *cmds, int n);
/* EXEC's reply <r>, or NULL when the transaction or one of its commands
 * failed (a failed command inside is not an error reply of EXEC). */
struct redisReply *redis_conn_exec_reply(struct redis_conn *c,
                                         struct redisReply *r);

/* SUBSCRIBE <channel> on this connection (used for nothing else): <fn>
 * for every message, until the connection drops. */
int redis_conn_subscribe(struct redis_conn *c, const char *channel,
                         redis_message_fn fn, void *arg);

#endif /* SMPPBRIDGE_REDIS_CONN_H */
