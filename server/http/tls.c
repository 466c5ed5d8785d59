/* tls.c — TLS termination for the HTTP server: OpenSSL over memory BIOs.
 *
 * The SSL object never sees the socket.  Each connection's SSL reads from
 * one memory BIO and writes into another: conn.c pushes the ciphertext that
 * uv_read delivered into the first, pulls plaintext out with SSL_read, and
 * hands whatever OpenSSL wrote into the second (handshake messages, records,
 * alerts, session tickets) to uv_write like any response.  So the handshake
 * rides the same non-blocking read/write flow as requests, the loop never
 * blocks, and the timers of conn.c cover a client that stalls in the
 * handshake as they cover one that stalls in its headers.
 *
 * Order on the wire.  Every write conn.c makes takes *all* the bytes
 * waiting in the write BIO, so records leave in the order OpenSSL made them
 * even when a response is encrypted right after a handshake message.
 *
 * Configuration.  A struct http_tls is an SSL_CTX plus what the certificate
 * check needs (whether to verify the chain, the allowed SANs).  It is
 * reference-counted: the server holds one reference and each connection
 * another, so a reload can swap in new certificates for new connections
 * while older ones finish with theirs.  Client-auth modes follow Go's
 * crypto/tls: the SSL_VERIFY_* flags decide whether a certificate is asked
 * for or required, and our certificate callback decides whether the chain
 * is verified (VerifyClientCertIfGiven, RequireAndVerifyClientCert) or taken
 * as it is (RequestClientCert, RequireAnyClientCert).
 *
 * Plain HTTP sent to the TLS port.  As Go's net/http does, the first five
 * bytes of a connection are looked at before OpenSSL sees them; a request
 * line there gets Go's plain-text 400 instead of a TLS alert. */
#include "server/http/http_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    TLS_WRITE_CHUNK = 256 * 1024, /* plaintext encrypted before the write BIO is emptied */
    TLS_SNIFF_LEN = 5,            /* a TLS record header */
};

struct http_tls {
    SSL_CTX *ctx;
    int refs;          /* the server's and one per connection; loop thread only */
    bool verify_chain; /* client certificates are checked against the CAs */
    char **sans;       /* owned: client_allowed_sans; none = any certificate */
    size_t nsans;
};

struct http_tls_conn {
    struct http_tls *cfg; /* a reference */
    SSL *ssl;             /* owns both BIOs */
    BIO *rbio, *wbio;
    char sniff[TLS_SNIFF_LEN]; /* the connection's first bytes */
    size_t nsniff;
    bool failed;   /* a fatal TLS error: OpenSSL must not be called again but to free */
    bool notified; /* our close_notify is out */
};

/* ---- errors ---- */

/* Writes "prefix: <OpenSSL's reason>" into err and clears OpenSSL's queue. */
static void tls_error(char *err, size_t errlen, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    if (reason)
        snprintf(err, errlen, "%s: %s", msg, reason);
    else
        snprintf(err, errlen, "%s", msg);
    ERR_clear_error();
}

/* Go's os error text: "open <path>: no such file or directory". */
static void tls_open_error(char *err, size_t errlen, const char *what, const char *path, int errnum)
{
    char reason[128];
    snprintf(reason, sizeof reason, "%s", strerror(errnum));
    reason[0] = (char)tolower((unsigned char)reason[0]);
    snprintf(err, errlen, "%sopen %s: %s", what, path, reason);
}

/* A BIO over a PEM file, or over inline PEM text when file is NULL. */
static BIO *tls_pem_open(const char *file, const char *pem, const char *what, char *err,
                         size_t errlen)
{
    if (!file)
        return BIO_new_mem_buf(pem ? pem : "", -1);
    FILE *f = fopen(file, "r");
    if (!f) {
        tls_open_error(err, errlen, what, file, errno);
        return NULL;
    }
    return BIO_new_fp(f, BIO_CLOSE);
}

/* ---- configuration ---- */

/* The certificate, then any intermediates after it in the same PEM. */
static int tls_cert_load(SSL_CTX *ctx, BIO *b, char *err, size_t errlen)
{
    X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, (void *)"");
    if (!leaf) {
        ERR_clear_error();
        snprintf(err, errlen,
                 "failed to load X509KeyPair: failed to find any PEM data in "
                 "certificate input");
        return -1;
    }
    int ok = SSL_CTX_use_certificate(ctx, leaf);
    X509_free(leaf);
    if (ok != 1) {
        tls_error(err, errlen, "failed to load X509KeyPair: certificate");
        return -1;
    }
    X509 *ca;
    while ((ca = PEM_read_bio_X509(b, NULL, NULL, (void *)"")) != NULL) {
        if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
            X509_free(ca);
            tls_error(err, errlen, "failed to load X509KeyPair: certificate chain");
            return -1;
        }
    }
    ERR_clear_error(); /* the read past the last certificate */
    return 0;
}

static int tls_key_load(SSL_CTX *ctx, BIO *b, char *err, size_t errlen)
{
    /* "" as the passphrase: an encrypted key fails instead of prompting. */
    EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
    if (!key) {
        ERR_clear_error();
        snprintf(err, errlen,
                 "failed to load X509KeyPair: failed to find any PEM data in key "
                 "input");
        return -1;
    }
    int ok = SSL_CTX_use_PrivateKey(ctx, key);
    EVP_PKEY_free(key);
    if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(err, errlen, "failed to load X509KeyPair: private key does not match public key");
        return -1;
    }
    return 0;
}

static int tls_keypair_load(SSL_CTX *ctx, const struct http_tls_options *o, char *err,
                            size_t errlen)
{
    BIO *b = tls_pem_open(o->cert_file, o->cert_pem, "failed to load X509KeyPair: ", err, errlen);
    if (!b)
        return -1;
    int rc = tls_cert_load(ctx, b, err, errlen);
    BIO_free(b);
    if (rc < 0)
        return -1;
    b = tls_pem_open(o->key_file, o->key_pem, "failed to load X509KeyPair: ", err, errlen);
    if (!b)
        return -1;
    rc = tls_key_load(ctx, b, err, errlen);
    BIO_free(b);
    return rc;
}

/* Trusts every certificate in the client CA PEM and names their subjects in
 * the CertificateRequest, as Go does with ClientCAs. */
static int tls_client_cas_load(SSL_CTX *ctx, const struct http_tls_options *o, char *err,
                               size_t errlen)
{
    if (!o->client_ca_file && !o->client_ca_pem)
        return 0;
    BIO *b = tls_pem_open(o->client_ca_file, o->client_ca_pem, "", err, errlen);
    if (!b)
        return -1;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, (void *)"")) != NULL) {
        X509_STORE_add_cert(store, x);
        sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(x)));
        X509_free(x);
    }
    ERR_clear_error();
    BIO_free(b);
    SSL_CTX_set_client_CA_list(ctx, names);
    return 0;
}

/* Whether one of the leaf certificate's SANs (DNS, e-mail, IP, URI) is in
 * the allowed list. */
static bool tls_san_allowed(const struct http_tls *t, X509 *leaf)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
    bool ok = false;
    for (int i = 0; names && !ok && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char buf[INET6_ADDRSTRLEN + 1] = "";
        const char *v = NULL;
        if (g->type == GEN_DNS || g->type == GEN_EMAIL || g->type == GEN_URI) {
            v = (const char *)ASN1_STRING_get0_data(g->d.ia5);
        } else if (g->type == GEN_IPADD) {
            int len = ASN1_STRING_length(g->d.ip);
            const unsigned char *ip = ASN1_STRING_get0_data(g->d.ip);
            if ((len == 4 && inet_ntop(AF_INET, ip, buf, sizeof buf)) ||
                (len == 16 && inet_ntop(AF_INET6, ip, buf, sizeof buf)))
                v = buf;
        }
        for (size_t k = 0; v && !ok && k < t->nsans; k++)
            ok = strcmp(v, t->sans[k]) == 0;
    }
    GENERAL_NAMES_free(names);
    return ok;
}

/* OpenSSL's certificate check, replaced: verify the chain only in the
 * modes that ask for it, then match the allowed SANs. */
static int tls_cert_verify(X509_STORE_CTX *x, void *arg)
{
    const struct http_tls *t = arg;
    if (t->verify_chain && X509_verify_cert(x) != 1)
        return 0;
    if (t->nsans > 0 && !tls_san_allowed(t, X509_STORE_CTX_get0_cert(x))) {
        X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    return 1;
}

static int tls_client_auth_set(struct http_tls *t, const struct http_tls_options *o)
{
    int mode = SSL_VERIFY_NONE;
    switch (o->client_auth) {
    case HTTP_TLS_NO_CLIENT_CERT:
        break;
    case HTTP_TLS_REQUEST_CLIENT_CERT:
        mode = SSL_VERIFY_PEER;
        break;
    case HTTP_TLS_REQUIRE_ANY_CLIENT_CERT:
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        break;
    case HTTP_TLS_VERIFY_CLIENT_CERT_IF_GIVEN:
        mode = SSL_VERIFY_PEER;
        t->verify_chain = true;
        break;
    case HTTP_TLS_REQUIRE_AND_VERIFY_CLIENT_CERT:
        mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        t->verify_chain = true;
        break;
    }
    SSL_CTX_set_verify(t->ctx, mode, NULL);
    if (mode != SSL_VERIFY_NONE)
        SSL_CTX_set_cert_verify_callback(t->ctx, tls_cert_verify, t);
    return 0;
}

static int tls_protocol_set(SSL_CTX *ctx, const struct http_tls_options *o, char *err,
                            size_t errlen)
{
    int min = o->min_version ? o->min_version : TLS1_2_VERSION;
    int max = o->max_version ? o->max_version : TLS1_3_VERSION;
    if (min < TLS1_2_VERSION) /* OpenSSL 3 refuses TLS 1.0/1.1 above level 0 */
        SSL_CTX_set_security_level(ctx, 0);
    if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, max) != 1) {
        tls_error(err, errlen, "TLS versions");
        return -1;
    }
    if (o->ciphers && SSL_CTX_set_cipher_list(ctx, o->ciphers) != 1) {
        tls_error(err, errlen, "cipher_suites \"%s\"", o->ciphers);
        return -1;
    }
    if (o->groups && SSL_CTX_set1_groups_list(ctx, o->groups) != 1) {
        tls_error(err, errlen, "curve_preferences \"%s\"", o->groups);
        return -1;
    }
    long opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION;
    if (o->prefer_server_ciphers)
        opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    SSL_CTX_set_options(ctx, opts);
    /* Idle keep-alive connections give their record buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* Needed for session resumption once client certificates are asked for. */
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"vigil", 5);
    return 0;
}

struct http_tls *http_tls_new(const struct http_tls_options *o, char *err, size_t errlen)
{
    ERR_clear_error();
    struct http_tls *t = xcalloc(1, sizeof *t);
    t->refs = 1;
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ctx) {
        tls_error(err, errlen, "TLS");
        free(t);
        return NULL;
    }
    if (tls_keypair_load(t->ctx, o, err, errlen) < 0 ||
        tls_protocol_set(t->ctx, o, err, errlen) < 0 ||
        tls_client_cas_load(t->ctx, o, err, errlen) < 0 || tls_client_auth_set(t, o) < 0) {
        http_tls_free(t);
        return NULL;
    }
    if (t->verify_chain && !o->client_ca_file && !o->client_ca_pem)
        SSL_CTX_set_default_verify_paths(t->ctx); /* Go: the system roots */
    if (o->nallowed_sans) {
        t->sans = xcalloc(o->nallowed_sans, sizeof *t->sans);
        for (size_t i = 0; i < o->nallowed_sans; i++)
            t->sans[i] = xstrdup(o->allowed_sans[i]);
        t->nsans = o->nallowed_sans;
    }
    return t;
}

void http_tls_free(struct http_tls *t)
{
    if (!t || --t->refs > 0)
        return;
    SSL_CTX_free(t->ctx);
    for (size_t i = 0; i < t->nsans; i++)
        free(t->sans[i]);
    free(t->sans);
    free(t);
}

/* ---- one connection ---- */

struct http_tls_conn *http_tls_conn_new(struct http_tls *t)
{
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl) {
        ERR_clear_error();
        return NULL;
    }
    struct http_tls_conn *tc = xcalloc(1, sizeof *tc);
    tc->ssl = ssl;
    tc->rbio = BIO_new(BIO_s_mem());
    tc->wbio = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(tc->rbio, -1); /* empty means "more to come", not EOF */
    SSL_set_bio(ssl, tc->rbio, tc->wbio);
    SSL_set_accept_state(ssl);
    tc->cfg = t;
    t->refs++;
    return tc;
}

void http_tls_conn_free(struct http_tls_conn *tc)
{
    if (!tc)
        return;
    SSL_free(tc->ssl);
    ERR_clear_error();
    http_tls_free(tc->cfg);
    free(tc);
}

/* Go's tlsRecordHeaderLooksLikeHTTP. */
static bool tls_looks_like_http(const char *h)
{
    static const char *const starts[] = {"GET /", "HEAD ", "POST ", "PUT /", "OPTIO"};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
        if (memcmp(h, starts[i], TLS_SNIFF_LEN) == 0)
            return true;
    return false;
}

int http_tls_conn_feed(struct http_tls_conn *tc, const char *data, size_t len)
{
    if (tc->nsniff < TLS_SNIFF_LEN) {
        size_t k = TLS_SNIFF_LEN - tc->nsniff;
        if (k > len)
            k = len;
        memcpy(tc->sniff + tc->nsniff, data, k);
        tc->nsniff += k;
        data += k;
        len -= k;
        if (tc->nsniff < TLS_SNIFF_LEN)
            return 0;
        if (tls_looks_like_http(tc->sniff))
            return HTTP_TLS_PLAIN_HTTP;
        BIO_write(tc->rbio, tc->sniff, TLS_SNIFF_LEN);
    }
    if (len > 0)
        BIO_write(tc->rbio, data, (int)len);
    return 0;
}

ssize_t http_tls_conn_read(struct http_tls_conn *tc, char *buf, size_t cap)
{
    if (tc->failed)
        return HTTP_TLS_FAILED;
    if (cap == 0)
        return HTTP_TLS_WANT_READ;
    ERR_clear_error();
    int n = SSL_read(tc->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (n > 0)
        return n;
    int e = SSL_get_error(tc->ssl, n);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return HTTP_TLS_WANT_READ;
    if (e == SSL_ERROR_ZERO_RETURN)
        return HTTP_TLS_CLOSED;
    tc->failed = true;
    return HTTP_TLS_FAILED;
}

bool http_tls_conn_established(const struct http_tls_conn *tc)
{
    return SSL_is_init_finished(tc->ssl);
}

void http_tls_conn_pending(struct http_tls_conn *tc, struct sbuf *out)
{
    size_t n = BIO_ctrl_pending(tc->wbio);
    if (n == 0)
        return;
    sbuf_reserve(out, n);
    int got = BIO_read(tc->wbio, out->data + out->len, (int)n);
    if (got > 0)
        out->len += (size_t)got;
    out->data[out->len] = '\0';
}

int http_tls_conn_write(struct http_tls_conn *tc, const char *data, size_t len, struct sbuf *out)
{
    if (tc->failed)
        return -1;
    while (len > 0) {
        int k = len > TLS_WRITE_CHUNK ? TLS_WRITE_CHUNK : (int)len;
        ERR_clear_error();
        int n = SSL_write(tc->ssl, data, k);
        if (n <= 0) {
            ERR_clear_error();
            tc->failed = true;
            return -1;
        }
        data += n;
        len -= (size_t)n;
        http_tls_conn_pending(tc, out);
    }
    http_tls_conn_pending(tc, out);
    return 0;
}

void http_tls_conn_close_notify(struct http_tls_conn *tc, struct sbuf *out)
{
    if (tc->failed || tc->notified || !SSL_is_init_finished(tc->ssl))
        return;
    tc->notified = true;
    ERR_clear_error();
    SSL_shutdown(tc->ssl); /* 0: ours is sent, the peer's not yet seen; that is enough */
    ERR_clear_error();
    http_tls_conn_pending(tc, out);
}
