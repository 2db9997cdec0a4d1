/*
 * net.h - addresses, listeners and outgoing connections on libevent.
 *
 * Every connection is a bufferevent created with BEV_OPT_CLOSE_ON_FREE,
 * plain or TLS (OpenSSL), ready to hand to sess_new().
 */
#ifndef SMPPBRIDGE_NET_H
#define SMPPBRIDGE_NET_H

#include <stddef.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

struct event_base;
struct bufferevent;
struct evconnlistener;

#define NET_ERR_LEN 256

/* Split "HOST:PORT", "[V6]:PORT" or ":PORT"/"*:PORT" (all addresses) into
 * <host> (cap <host_cap>, "" for all) and <port>. 0 or -1 with <err>. */
int net_split_hostport(const char *s, char *host, size_t host_cap, int *port,
                       char *err);

/* Resolve numerically or by name (blocking: use at start-up only). */
int net_resolve(const char *host, int port, struct sockaddr_storage *ss,
                socklen_t *len, char *err);

/* libevent's evconnlistener_cb: (listener, fd, peer, peer_len, arg). */
typedef void (*net_accept_cb)(struct evconnlistener *l, int fd,
                              struct sockaddr *peer, int peer_len, void *arg);

/* Listen on "HOST:PORT" with SO_REUSEADDR and a backlog of 1024; free it
 * with evconnlistener_free(). The bound port (useful with port 0) is
 * stored in *<bound_port>. */
struct evconnlistener *net_listen(struct event_base *base, const char *hostport,
                                  net_accept_cb cb, void *arg, int *bound_port,
                                  char *err);

/* A bufferevent for an accepted socket (TCP_NODELAY set): plain when
 * <tls> is NULL. It owns <fd>: on failure (NULL) <fd> is closed. */
struct bufferevent *net_accepted_bev(struct event_base *base, int fd,
                                     SSL_CTX *tls);

/* Start connecting to <ss>; plain when <tls> is NULL, otherwise TLS with
 * SNI <server_name>. BEV_EVENT_CONNECTED follows (after the handshake). */
struct bufferevent *net_connect_bev(struct event_base *base,
                                    const struct sockaddr_storage *ss,
                                    socklen_t len, SSL_CTX *tls,
                                    const char *server_name);

/* TLS contexts: TLS 1.2 minimum, renegotiation refused. Server: certificate chain and key; with
 * <ca>, client certificates are required and checked against it. Client:
 * with <ca> (or the system store when <ca> is NULL and <verify> is set)
 * the server's certificate is checked. NULL with <err> on failure. */
SSL_CTX *net_tls_server_ctx(const char *cert, const char *key, const char *ca,
                            char *err);
SSL_CTX *net_tls_client_ctx(const char *ca, int verify, char *err);

/* "1.2.3.4:5678" or "[::1]:5678" into <out>. */
void net_format_peer(const struct sockaddr *sa, char *out, size_t cap);

#endif /* SMPPBRIDGE_NET_H */
