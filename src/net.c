/*
 * net.c - address parsing, listeners, connects, TLS contexts.
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

static void set_err(char *err, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void set_err(char *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, NET_ERR_LEN, fmt, ap);
    va_end(ap);
}

int net_split_hostport(const char *s, char *host, size_t host_cap, int *port,
                       char *err)
{
    const char *colon;
    const char *h = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            set_err(err, "bad address '%s': want [V6]:PORT", s);
            return -1;
        }
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            set_err(err, "bad address '%s': want HOST:PORT", s);
            return -1;
        }
        hlen = (size_t)(colon - s);
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535) {
        set_err(err, "bad port in '%s'", s);
        return -1;
    }
    if (hlen == 1 && h[0] == '*')
        hlen = 0;
    if (hlen >= host_cap) {
        set_err(err, "host too long in '%s'", s);
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = 0;
    *port = (int)p;
    return 0;
}

int net_resolve(const char *host, int port, struct sockaddr_storage *ss,
                socklen_t *len, char *err)
{
    struct addrinfo hints, *res = NULL;
    char portstr[16];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = host[0] ? 0 : AI_PASSIVE;
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host[0] ? host : NULL, portstr, &hints, &res);
    if (rc != 0 || !res) {
        set_err(err, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

struct evconnlistener *net_listen(struct event_base *base, const char *hostport,
                                  net_accept_cb cb, void *arg, int *bound_port,
                                  char *err)
{
    char host[256];
    int port;
    struct sockaddr_storage ss;
    socklen_t len;
    if (net_split_hostport(hostport, host, sizeof host, &port, err) != 0 ||
        net_resolve(host, port, &ss, &len, err) != 0)
        return NULL;
    struct evconnlistener *l = evconnlistener_new_bind(
        base, cb, arg,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 1024,
        (struct sockaddr *)&ss, (int)len);
    if (!l) {
        set_err(err, "cannot listen on %s: %s", hostport, strerror(errno));
        return NULL;
    }
    if (bound_port) {
        struct sockaddr_storage b;
        socklen_t blen = sizeof b;
        getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&b, &blen);
        *bound_port = ntohs(b.ss_family == AF_INET6
                                ? ((struct sockaddr_in6 *)&b)->sin6_port
                                : ((struct sockaddr_in *)&b)->sin_port);
    }
    return l;
}

struct bufferevent *net_accepted_bev(struct event_base *base, int fd,
                                     SSL_CTX *tls)
{
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!tls) {
        struct bufferevent *bev = bufferevent_socket_new(base, fd, opts);
        if (!bev)
            evutil_closesocket(fd);
        return bev;
    }
    SSL *ssl = SSL_new(tls);
    if (!ssl) {
        evutil_closesocket(fd);
        return NULL;
    }
    /* on failure libevent frees <ssl>, whose socket BIO closes <fd> */
    return bufferevent_openssl_socket_new(base, fd, ssl,
                                          BUFFEREVENT_SSL_ACCEPTING, opts);
}

struct bufferevent *net_connect_bev(struct event_base *base,
                                    const struct sockaddr_storage *ss,
                                    socklen_t len, SSL_CTX *tls,
                                    const char *server_name)
{
    int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    struct bufferevent *bev;
    if (!tls) {
        bev = bufferevent_socket_new(base, -1, opts);
    } else {
        SSL *ssl = SSL_new(tls);
        if (!ssl)
            return NULL;
        struct in6_addr ip;
        if (server_name && (inet_pton(AF_INET, server_name, &ip) == 1 ||
                            inet_pton(AF_INET6, server_name, &ip) == 1)) {
            /* an address: no SNI (RFC 6066 §3), check the IP SAN */
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name);
        } else if (server_name && server_name[0]) {
            SSL_set_tlsext_host_name(ssl, server_name);
            SSL_set1_host(ssl, server_name);
        }
        bev = bufferevent_openssl_socket_new(base, -1, ssl,
                                             BUFFEREVENT_SSL_CONNECTING, opts);
    }
    if (!bev)
        return NULL;
    if (bufferevent_socket_connect(bev, (const struct sockaddr *)ss,
                                   (int)len) != 0) {
        bufferevent_free(bev);
        return NULL;
    }
    int one = 1;
    setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one,
               sizeof one);
    return bev;
}

static void tls_err(char *err, const char *what, const char *file)
{
    char ossl[160];
    ERR_error_string_n(ERR_get_error(), ossl, sizeof ossl);
    if (err)
        snprintf(err, NET_ERR_LEN, "%s %s: %s", what, file ? file : "",
                 ossl);
}

SSL_CTX *net_tls_server_ctx(const char *cert, const char *key, const char *ca,
                            char *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        tls_err(err, "TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* a client-initiated renegotiation costs us a handshake each time, at
     * the client's pace: refused (TLS 1.3 has none anyway) */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        tls_err(err, "certificate", cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        tls_err(err, "private key", key);
        goto fail;
    }
    if (ca && ca[0]) {
        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
            tls_err(err, "CA file", ca);
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
                                    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *net_tls_client_ctx(const char *ca, int verify, char *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        tls_err(err, "TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION); /* nor upstream's */
    if (ca && ca[0]) {
        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
            tls_err(err, "CA file", ca);
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else if (verify) {
        SSL_CTX_set_default_verify_paths(ctx);
    }
    SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    return ctx;
}

void net_format_peer(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
        snprintf(out, cap, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
        snprintf(out, cap, "[%s]:%d", ip, port);
    } else {
        snprintf(out, cap, "unknown");
    }
}
