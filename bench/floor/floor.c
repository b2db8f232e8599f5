/*
 * floor: the least a server can do for one otpgate `verify`, as a yardstick for the
 * benchmark (docs/PERFORMANCE.md, "The floor"). Not a product: it has no config, no
 * authorization, no admin socket, and speaks only `verify` and `health`.
 *
 * It does the same durable work per request as otpgated, on the same files:
 *   otpgate-floor --state-dir DIR   reads DIR/master.key and DIR/store/otpgate.db (the
 *                                   real store otpgated uses, written by otpgate-bench)
 *                                   and listens on DIR/otpgated.sock
 * Per verify: SO_PEERCRED at accept; one read snapshot on a per-thread connection
 * (user id, tokens, limiter rows, unused recovery codes: the statements otpgated's
 * verificationContext runs); AES-256-GCM open of each token's secret with the same
 * associated data; the HMACs of the window (TOTP +-1 step: 3; HOTP look-ahead 10: 22)
 * under one prepared EVP_MAC context, as OTPCore does;
 * a constant-time compare; then one write through a group committer (the first waiter
 * leads, takes every queued write, runs each in its own savepoint inside one
 * BEGIN IMMEDIATE ... COMMIT, journal_mode=WAL, synchronous=FULL) that moves the
 * watermark by compare-and-set, clears or bumps the limiter and inserts the audit
 * event; the reply only after that commit returned; one log line on stderr.
 *
 * Blocking and simple: one thread per connection, as a C programmer would write it
 * without an event loop. On SIGTERM it prints the commit statistics the benchmark
 * reads from otpgated's log (store.transactions=N store.writes=M) and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 8192
#define MAX_FIELD 512
#define MAX_TOKENS 16
#define WINDOW 1
#define LOOK_AHEAD 10
#define FREE_PER_USER 10
#define BASE_DELAY 2
#define MAX_DELAY 900

static unsigned char master_key[32];
static unsigned char key_id[4];
static char db_path[PATH_MAX];
static sqlite3 *writer;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "otpgate-floor: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static sqlite3 *open_db(void)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        die("cannot open %s: %s", db_path, db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_busy_timeout(db, 10000);
    char *err = NULL;
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL, NULL, &err) != SQLITE_OK)
        die("cannot configure %s: %s", db_path, err);
    return db;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK)
        die("cannot prepare %s: %s", sql, sqlite3_errmsg(db));
    return s;
}

/* ------------------------------------------------------------- the request --- */

struct request {
    long v;
    char op[32], id[MAX_FIELD], user[257], code[64], rhost[MAX_FIELD], service[MAX_FIELD];
    bool has_id;
};

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n')
        (*p)++;
}

/* A JSON string into out (NUL-terminated, ASCII escapes only; \u00XX too). */
static int read_string(const char **p, char *out, size_t size)
{
    if (**p != '"')
        return -1;
    (*p)++;
    size_t n = 0;
    while (**p != '"') {
        unsigned char c = (unsigned char)**p;
        if (c == '\0' || c < 0x20)
            return -1;
        if (c == '\\') {
            (*p)++;
            switch (**p) {
            case '"': case '\\': case '/': c = (unsigned char)**p; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned v = 0;
                for (int i = 1; i <= 4; i++) {
                    char h = (*p)[i];
                    v <<= 4;
                    if (h >= '0' && h <= '9') v |= (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f') v |= (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F') v |= (unsigned)(h - 'A' + 10);
                    else return -1;
                }
                if (v > 0x7f)
                    return -1; /* enough for a yardstick */
                c = (unsigned char)v;
                *p += 4;
                break;
            }
            default: return -1;
            }
        }
        if (n + 1 >= size)
            return -1;
        out[n++] = (char)c;
        (*p)++;
    }
    (*p)++;
    out[n] = '\0';
    return 0;
}

/* A flat JSON object; the members it knows are kept, other scalars skipped. */
static int parse_request(const char *line, struct request *r)
{
    memset(r, 0, sizeof *r);
    r->v = -1;
    const char *p = line;
    skip_ws(&p);
    if (*p++ != '{')
        return -1;
    skip_ws(&p);
    if (*p == '}')
        return 0;
    for (;;) {
        char key[64], value[MAX_FIELD];
        skip_ws(&p);
        if (read_string(&p, key, sizeof key) != 0)
            return -1;
        skip_ws(&p);
        if (*p++ != ':')
            return -1;
        skip_ws(&p);
        if (*p == '"') {
            if (read_string(&p, value, sizeof value) != 0)
                return -1;
            char *dest = NULL;
            size_t size = 0;
            if (strcmp(key, "op") == 0) { dest = r->op; size = sizeof r->op; }
            else if (strcmp(key, "id") == 0) { dest = r->id; size = sizeof r->id; r->has_id = true; }
            else if (strcmp(key, "user") == 0) { dest = r->user; size = sizeof r->user; }
            else if (strcmp(key, "code") == 0) { dest = r->code; size = sizeof r->code; }
            else if (strcmp(key, "rhost") == 0) { dest = r->rhost; size = sizeof r->rhost; }
            else if (strcmp(key, "service") == 0) { dest = r->service; size = sizeof r->service; }
            if (dest) {
                if (strlen(value) >= size)
                    return -1;
                strcpy(dest, value);
            }
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            char *end = NULL;
            long n = strtol(p, &end, 10);
            if (end == p)
                return -1;
            if (strcmp(key, "v") == 0)
                r->v = n;
            p = end;
        } else if (strncmp(p, "true", 4) == 0) p += 4;
        else if (strncmp(p, "false", 5) == 0) p += 5;
        else if (strncmp(p, "null", 4) == 0) p += 4;
        else return -1;
        skip_ws(&p);
        if (*p == ',') { p++; continue; }
        if (*p++ != '}')
            return -1;
        skip_ws(&p);
        return *p == '\0' ? 0 : -1;
    }
}

/* Appends s as a JSON string body (the bench and PAM send printable ASCII). */
static size_t put_escaped(char *out, size_t at, size_t size, const char *s)
{
    for (; *s && at + 7 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { out[at++] = '\\'; out[at++] = (char)c; }
        else if (c < 0x20) at += (size_t)snprintf(out + at, size - at, "\\u%04x", c);
        else out[at++] = (char)c;
    }
    return at;
}

/* ------------------------------------------------------------ the crypto --- */

static int aes_gcm_open(const unsigned char *sealed, int sealed_len, const char *token_id, const char *user,
                        unsigned char *plain, int *plain_len)
{
    const int header = 1 + 4 + 12, tag = 16;
    if (sealed_len < header + tag || sealed[0] != 1 || memcmp(sealed + 1, key_id, 4) != 0)
        return -1;
    unsigned char aad[1024];
    int n = snprintf((char *)aad, sizeof aad, "otpgate.secret.v1%ctokens%c%s%c%s%csecret%c", 0, 0, token_id, 0, user, 0, 0);
    if (n < 0 || (size_t)n + (size_t)header > sizeof aad)
        return -1;
    memcpy(aad + n, sealed, (size_t)header);
    int aad_len = n + header;
    int body = sealed_len - header - tag;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int out = 0, ok = ctx != NULL
        && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1
        && EVP_DecryptInit_ex(ctx, NULL, NULL, master_key, sealed + 5) == 1
        && EVP_DecryptUpdate(ctx, NULL, &out, aad, aad_len) == 1
        && EVP_DecryptUpdate(ctx, plain, &out, sealed + header, body) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, tag, (void *)(sealed + sealed_len - tag)) == 1;
    unsigned char final[16];
    int fin = 0;
    ok = ok && EVP_DecryptFinal_ex(ctx, final, &fin) == 1;
    EVP_CIPHER_CTX_free(ctx);
    *plain_len = body;
    return ok ? 0 : -1;
}

static EVP_MAC *hmac_algorithm;

/* An HMAC context with the token's key set up once; every code restarts from it. */
static EVP_MAC_CTX *hmac_prepare(const char *digest, const unsigned char *secret, int secret_len)
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_algorithm);
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string("digest", (char *)digest, 0), OSSL_PARAM_construct_end() };
    if (ctx && EVP_MAC_init(ctx, secret, (size_t)secret_len, params) == 1)
        return ctx;
    EVP_MAC_CTX_free(ctx);
    return NULL;
}

static int hotp(EVP_MAC_CTX *ctx, uint64_t counter, int digits, char *out)
{
    unsigned char msg[8], mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    for (int i = 0; i < 8; i++)
        msg[i] = (unsigned char)(counter >> (56 - 8 * i));
    if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1 || EVP_MAC_update(ctx, msg, 8) != 1 ||
        EVP_MAC_final(ctx, mac, &mac_len, sizeof mac) != 1 || mac_len < 20) {
        char err[256];
        ERR_error_string_n(ERR_get_error(), err, sizeof err);
        fprintf(stderr, "otpgate-floor: HMAC failed: %s\n", err);
        return -1;
    }
    int off = mac[mac_len - 1] & 0x0f;
    uint32_t bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 | (uint32_t)mac[off + 2] << 8 | mac[off + 3];
    uint32_t mod = 1;
    for (int i = 0; i < digits; i++)
        mod *= 10;
    bin %= mod;
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = (char)('0' + bin % 10);
        bin /= 10;
    }
    out[digits] = '\0';
    return 0;
}

/* ------------------------------------------------------------ the writes --- */

enum write_kind { W_ACCEPT, W_FAILURE, W_AUDIT };
enum outcome { O_ACCEPTED, O_INVALID, O_REPLAYED, O_LIMITED, O_NOT_ENROLLED, O_UNAVAILABLE };

struct pending {
    enum write_kind kind;
    int64_t user_id, counter, drift, now;
    const char *token_id, *user, *event, *service, *rhost, *detail;
    uid_t peer_uid;
    int result; /* W_ACCEPT: 1 accepted, 0 replayed, 2 limited; -1 error */
    bool done;
    struct pending *next;
};

static pthread_mutex_t commit_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t commit_done = PTHREAD_COND_INITIALIZER;
static struct pending *queue_head, *queue_tail;
static bool committing;
static long stat_transactions, stat_writes;
static sqlite3_stmt *w_limit, *w_accept, *w_clear, *w_fail_read, *w_fail_upsert, *w_audit;

static bool limited(sqlite3_stmt *s, int64_t user_id, const char *rhost, int64_t now)
{
    bool out = false;
    sqlite3_bind_int64(s, 1, user_id);
    sqlite3_bind_text(s, 2, rhost, -1, SQLITE_STATIC);
    while (sqlite3_step(s) == SQLITE_ROW) {
        if (sqlite3_column_int64(s, 1) >= 100 && sqlite3_column_bytes(s, 0) == 0)
            out = true;
        if (sqlite3_column_type(s, 2) != SQLITE_NULL && sqlite3_column_int64(s, 2) > now)
            out = true;
    }
    sqlite3_reset(s);
    return out;
}

static int run_step(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int insert_audit(struct pending *p)
{
    sqlite3_bind_int64(w_audit, 1, p->now);
    sqlite3_bind_text(w_audit, 2, p->event, -1, SQLITE_STATIC);
    sqlite3_bind_text(w_audit, 3, p->user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(w_audit, 4, p->peer_uid);
    if (p->service && *p->service) sqlite3_bind_text(w_audit, 5, p->service, -1, SQLITE_STATIC);
    if (p->rhost && *p->rhost) sqlite3_bind_text(w_audit, 6, p->rhost, -1, SQLITE_STATIC);
    if (p->detail) sqlite3_bind_text(w_audit, 7, p->detail, -1, SQLITE_STATIC);
    return run_step(w_audit);
}

static int apply(struct pending *p)
{
    switch (p->kind) {
    case W_ACCEPT:
        if (limited(w_limit, p->user_id, p->rhost ? p->rhost : "", p->now))
            return 2;
        sqlite3_bind_int64(w_accept, 1, p->counter);
        sqlite3_bind_int64(w_accept, 2, p->drift);
        sqlite3_bind_int64(w_accept, 3, p->now);
        sqlite3_bind_text(w_accept, 4, p->token_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(w_accept, 5, p->user_id);
        sqlite3_bind_int64(w_accept, 6, p->counter);
        if (run_step(w_accept) != 0)
            return -1;
        if (sqlite3_changes(writer) != 1)
            return 0;
        sqlite3_bind_int64(w_clear, 1, p->user_id);
        if (run_step(w_clear) != 0 || insert_audit(p) != 0)
            return -1;
        return 1;
    case W_FAILURE: {
        sqlite3_bind_int64(w_fail_read, 1, p->user_id);
        int64_t failures = sqlite3_step(w_fail_read) == SQLITE_ROW ? sqlite3_column_int64(w_fail_read, 0) : 0;
        sqlite3_reset(w_fail_read);
        failures++;
        int64_t delay = 0;
        if (failures >= FREE_PER_USER) {
            int64_t d = failures - FREE_PER_USER > 30 ? 30 : failures - FREE_PER_USER;
            delay = (int64_t)BASE_DELAY << d;
            if (delay > MAX_DELAY) delay = MAX_DELAY;
        }
        sqlite3_bind_int64(w_fail_upsert, 1, p->user_id);
        sqlite3_bind_int64(w_fail_upsert, 2, failures);
        sqlite3_bind_int64(w_fail_upsert, 3, p->now);
        if (delay > 0) sqlite3_bind_int64(w_fail_upsert, 4, p->now + delay);
        if (run_step(w_fail_upsert) != 0 || insert_audit(p) != 0)
            return -1;
        return 1;
    }
    case W_AUDIT:
        return insert_audit(p) == 0 ? 1 : -1;
    }
    return -1;
}

/* Runs `batch` in one transaction, each write in its own savepoint. */
static void commit_batch(struct pending *batch)
{
    long writes = 0;
    bool ok = sqlite3_exec(writer, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
    for (struct pending *p = batch; p; p = p->next) {
        writes++;
        if (!ok) { p->result = -1; continue; }
        sqlite3_exec(writer, "SAVEPOINT w", NULL, NULL, NULL);
        p->result = apply(p);
        if (p->result < 0)
            sqlite3_exec(writer, "ROLLBACK TO w", NULL, NULL, NULL);
        sqlite3_exec(writer, "RELEASE w", NULL, NULL, NULL);
    }
    if (ok && sqlite3_exec(writer, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(writer, "ROLLBACK", NULL, NULL, NULL);
        ok = false;
    }
    for (struct pending *p = batch; p; p = p->next)
        if (!ok) p->result = -1;
    stat_transactions++;
    stat_writes += writes;
}

/* Queues `p` and returns when the commit that holds it has returned. */
static int submit(struct pending *p)
{
    p->done = false;
    p->next = NULL;
    pthread_mutex_lock(&commit_lock);
    if (queue_tail) queue_tail->next = p; else queue_head = p;
    queue_tail = p;
    while (!p->done) {
        if (!committing) {
            committing = true;
            struct pending *batch = queue_head;
            queue_head = queue_tail = NULL;
            pthread_mutex_unlock(&commit_lock);
            commit_batch(batch);
            pthread_mutex_lock(&commit_lock);
            for (struct pending *q = batch, *next; q; q = next) {
                next = q->next;
                q->done = true;
            }
            committing = false;
            pthread_cond_broadcast(&commit_done);
        } else {
            pthread_cond_wait(&commit_done, &commit_lock);
        }
    }
    pthread_mutex_unlock(&commit_lock);
    return p->result;
}

/* ----------------------------------------------------------- the verify --- */

struct reader {
    sqlite3 *db;
    sqlite3_stmt *begin, *end, *user, *tokens, *limit, *recovery;
};

static void reader_open(struct reader *r)
{
    r->db = open_db();
    r->begin = prepare(r->db, "BEGIN");
    r->end = prepare(r->db, "COMMIT");
    r->user = prepare(r->db, "SELECT id FROM users WHERE name = ?");
    r->tokens = prepare(r->db,
        "SELECT id, user_id, name, kind, algorithm, digits, period, initial_counter, secret, watermark, drift,"
        " created_at, last_used_at FROM tokens WHERE user_id = ? ORDER BY created_at, rowid");
    r->limit = prepare(r->db, "SELECT rhost, failures, locked_until FROM limiter WHERE user_id = ? AND rhost IN ('', ?)");
    r->recovery = prepare(r->db, "SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL");
}

/* Readers are kept for the next request (as otpgated keeps its read connections):
   opening one and preparing its statements costs more than a verify. */
static pthread_mutex_t readers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reader *idle_readers[128];
static int idle_count;

static struct reader *reader_take(void)
{
    pthread_mutex_lock(&readers_lock);
    struct reader *r = idle_count > 0 ? idle_readers[--idle_count] : NULL;
    pthread_mutex_unlock(&readers_lock);
    if (r)
        return r;
    r = calloc(1, sizeof *r);
    if (!r)
        die("out of memory");
    reader_open(r);
    return r;
}

static void reader_give_back(struct reader *r)
{
    pthread_mutex_lock(&readers_lock);
    bool kept = idle_count < (int)(sizeof idle_readers / sizeof *idle_readers);
    if (kept)
        idle_readers[idle_count++] = r;
    pthread_mutex_unlock(&readers_lock);
    if (kept)
        return;
    sqlite3_stmt *all[] = { r->begin, r->end, r->user, r->tokens, r->limit, r->recovery };
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        sqlite3_finalize(all[i]);
    sqlite3_close(r->db);
    free(r);
}

struct token {
    char id[17], name[65], kind[5];
    const char *digest;
    int digits;
    int64_t period, initial, watermark;
    bool has_watermark;
    unsigned char secret[128];
    int secret_len;
};

static int64_t distance(uint64_t a, uint64_t b) { return a > b ? (int64_t)(a - b) : (int64_t)(b - a); }

static enum outcome verify(struct reader *rd, const struct request *rq, uid_t peer_uid, char *token_name, char *factor, int *remaining)
{
    /* Not time(): glibc reads a coarse clock for it, up to a tick behind, and near a
       second boundary that is a whole TOTP step behind what the client computed. */
    struct timespec clock_now;
    clock_gettime(CLOCK_REALTIME, &clock_now);
    int64_t now = clock_now.tv_sec;
    struct token tokens[MAX_TOKENS];
    int count = 0;
    int64_t user_id = -1;
    bool is_limited = false;
    *remaining = 0;

    sqlite3_step(rd->begin);
    sqlite3_reset(rd->begin);
    sqlite3_bind_text(rd->user, 1, rq->user, -1, SQLITE_STATIC);
    if (sqlite3_step(rd->user) == SQLITE_ROW)
        user_id = sqlite3_column_int64(rd->user, 0);
    sqlite3_reset(rd->user);
    if (user_id >= 0) {
        sqlite3_bind_int64(rd->tokens, 1, user_id);
        while (count < MAX_TOKENS && sqlite3_step(rd->tokens) == SQLITE_ROW) {
            struct token *t = &tokens[count];
            snprintf(t->id, sizeof t->id, "%s", (const char *)sqlite3_column_text(rd->tokens, 0));
            snprintf(t->name, sizeof t->name, "%s", (const char *)sqlite3_column_text(rd->tokens, 2));
            snprintf(t->kind, sizeof t->kind, "%s", (const char *)sqlite3_column_text(rd->tokens, 3));
            const char *alg = (const char *)sqlite3_column_text(rd->tokens, 4);
            t->digest = strcmp(alg, "SHA256") == 0 ? "SHA256" : strcmp(alg, "SHA512") == 0 ? "SHA512" : "SHA1";
            t->digits = sqlite3_column_int(rd->tokens, 5);
            t->period = sqlite3_column_int64(rd->tokens, 6);
            t->initial = sqlite3_column_int64(rd->tokens, 7);
            t->has_watermark = sqlite3_column_type(rd->tokens, 9) != SQLITE_NULL;
            t->watermark = sqlite3_column_int64(rd->tokens, 9);
            const unsigned char *sealed = sqlite3_column_blob(rd->tokens, 8);
            int sealed_len = sqlite3_column_bytes(rd->tokens, 8);
            if (sealed_len > (int)sizeof t->secret + 33 ||
                aes_gcm_open(sealed, sealed_len, t->id, rq->user, t->secret, &t->secret_len) != 0) {
                sqlite3_reset(rd->tokens);
                sqlite3_step(rd->end);
                sqlite3_reset(rd->end);
                return O_UNAVAILABLE;
            }
            count++;
        }
        sqlite3_reset(rd->tokens);
        is_limited = limited(rd->limit, user_id, rq->rhost, now);
        sqlite3_bind_int64(rd->recovery, 1, user_id);
        if (sqlite3_step(rd->recovery) == SQLITE_ROW)
            *remaining = sqlite3_column_int(rd->recovery, 0);
        sqlite3_reset(rd->recovery);
    }
    sqlite3_step(rd->end);
    sqlite3_reset(rd->end);

    struct pending w = { .user_id = user_id, .now = now, .user = rq->user, .service = rq->service,
                         .rhost = rq->rhost, .peer_uid = peer_uid };
    enum outcome outcome;
    if (count == 0) {
        w.kind = W_AUDIT;
        w.event = "verify.not_enrolled";
        outcome = O_NOT_ENROLLED;
    } else if (is_limited) {
        w.kind = W_AUDIT;
        w.event = "verify.limited";
        outcome = O_LIMITED;
    } else {
        bool replayed = false;
        for (int i = 0; i < count; i++) {
            struct token *t = &tokens[i];
            uint64_t candidates[2 * LOOK_AHEAD + 2], expected;
            int n = 0;
            if (strcmp(t->kind, "totp") == 0) {
                expected = (uint64_t)(now / t->period);
                for (int64_t d = -WINDOW; d <= WINDOW; d++)
                    candidates[n++] = expected + (uint64_t)d;
            } else {
                uint64_t next = (uint64_t)t->initial;
                if (t->has_watermark) {
                    uint64_t wm = (uint64_t)t->watermark;
                    for (uint64_t c = wm >= LOOK_AHEAD ? wm - LOOK_AHEAD : 0; c <= wm; c++)
                        candidates[n++] = c;
                    next = wm + 1;
                }
                for (uint64_t c = next; c <= next + LOOK_AHEAD; c++)
                    candidates[n++] = c;
                expected = next;
            }
            bool has_fresh = false;
            uint64_t fresh = 0;
            size_t code_len = strlen(rq->code);
            EVP_MAC_CTX *mac = hmac_prepare(t->digest, t->secret, t->secret_len);
            OPENSSL_cleanse(t->secret, sizeof t->secret);
            if (!mac)
                return O_UNAVAILABLE;
            for (int k = 0; k < n; k++) {
                char code[16];
                if (hotp(mac, candidates[k], t->digits, code) != 0) {
                    EVP_MAC_CTX_free(mac);
                    return O_UNAVAILABLE;
                }
                bool match = code_len == (size_t)t->digits && CRYPTO_memcmp(code, rq->code, code_len) == 0;
                bool is_fresh = !t->has_watermark || candidates[k] > (uint64_t)t->watermark;
                if (match && is_fresh) {
                    if (!has_fresh || distance(candidates[k], expected) < distance(fresh, expected))
                        fresh = candidates[k];
                    has_fresh = true;
                } else if (match) {
                    replayed = true;
                }
            }
            EVP_MAC_CTX_free(mac);
            if (has_fresh) {
                char detail[128];
                int64_t drift = fresh >= expected ? (int64_t)(fresh - expected) : -(int64_t)(expected - fresh);
                snprintf(detail, sizeof detail, "%s token %s, drift %lld", t->kind, t->name, (long long)drift);
                struct pending a = w;
                a.kind = W_ACCEPT;
                a.event = "verify.ok";
                a.detail = detail;
                a.token_id = t->id;
                a.counter = (int64_t)fresh;
                a.drift = drift;
                int r = submit(&a);
                if (r == 1) {
                    snprintf(token_name, 65, "%s", t->name);
                    snprintf(factor, 5, "%s", t->kind);
                    return O_ACCEPTED;
                }
                if (r == 2)
                    return O_LIMITED;
                if (r < 0)
                    return O_UNAVAILABLE;
                replayed = true;
            }
        }
        w.kind = W_FAILURE;
        w.event = replayed ? "verify.replayed" : "verify.invalid";
        outcome = replayed ? O_REPLAYED : O_INVALID;
    }
    return submit(&w) < 0 ? O_UNAVAILABLE : outcome;
}

/* ------------------------------------------------------- the connection --- */

static const char *outcome_names[] = { "accepted", "invalid_code", "replayed_code", "rate_limited", "not_enrolled", "unavailable" };
static const char *outcome_messages[] = { "", "the code is not valid", "that code was already used; wait for the next one",
                                          "too many failed attempts", "no second factor is enrolled for this user",
                                          "the store is unavailable" };

struct connection {
    int fd;
    struct ucred peer;
};

static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Keys sorted, as otpgated writes them. */
static size_t reply(char *out, size_t size, const struct request *rq, enum outcome o, const char *factor, const char *token, int remaining)
{
    size_t at = 0;
    if (o == O_ACCEPTED) {
        at += (size_t)snprintf(out, size, "{\"factor\":\"%s\",", factor);
    } else {
        at += (size_t)snprintf(out, size, "{\"error\":\"%s\",", outcome_names[o]);
    }
    if (rq->has_id) {
        at += (size_t)snprintf(out + at, size - at, "\"id\":\"");
        at = put_escaped(out, at, size, rq->id);
        at += (size_t)snprintf(out + at, size - at, "\",");
    }
    if (o == O_ACCEPTED) {
        at += (size_t)snprintf(out + at, size - at, "\"ok\":true,\"recovery_remaining\":%d,\"token\":\"", remaining);
        at = put_escaped(out, at, size, token);
        at += (size_t)snprintf(out + at, size - at, "\",\"v\":1}\n");
    } else {
        at += (size_t)snprintf(out + at, size - at, "\"message\":\"%s\",\"ok\":false,%s\"v\":1}\n", outcome_messages[o],
                               o == O_NOT_ENROLLED ? "\"required\":true," : "");
    }
    return at;
}

static void log_outcome(const struct request *rq, uid_t uid, pid_t pid, enum outcome o)
{
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02dZ notice otpgate-floor: authentication auth.outcome=%s peer.pid=%d"
                     " peer.uid=%u request.rhost=%s request.service=%s user.name=%s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, outcome_names[o],
                     (int)pid, (unsigned)uid, *rq->rhost ? rq->rhost : "-", *rq->service ? rq->service : "-", rq->user);
    if (n > 0)
        (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void *serve(void *arg)
{
    struct connection c = *(struct connection *)arg;
    free(arg);
    char buf[MAX_LINE + 1], out[2048];
    size_t used = 0;
    for (;;) {
        char *nl = memchr(buf, '\n', used);
        if (!nl) {
            if (used >= MAX_LINE) break;
            ssize_t n = recv(c.fd, buf + used, MAX_LINE - used, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            used += (size_t)n;
            continue;
        }
        *nl = '\0';
        struct request rq;
        size_t len;
        if (parse_request(buf, &rq) != 0 || rq.v != 1) {
            len = (size_t)snprintf(out, sizeof out,
                                   "{\"error\":\"bad_request\",\"message\":\"request line is not valid JSON\",\"ok\":false,\"v\":1}\n");
            send_all(c.fd, out, len);
            break;
        }
        if (strcmp(rq.op, "health") == 0) {
            len = (size_t)snprintf(out, sizeof out, "{\"ok\":true,\"store\":\"ok\",\"v\":1,\"version\":\"floor\"}\n");
        } else if (strcmp(rq.op, "verify") == 0 && *rq.user && *rq.code) {
            char token[65] = "", factor[5] = "";
            int remaining = 0;
            struct reader *rd = reader_take();
            enum outcome o = verify(rd, &rq, c.peer.uid, token, factor, &remaining);
            reader_give_back(rd);
            log_outcome(&rq, c.peer.uid, c.peer.pid, o);
            len = reply(out, sizeof out, &rq, o, factor, token, remaining);
        } else {
            len = (size_t)snprintf(out, sizeof out, "{\"error\":\"unknown_op\",\"message\":\"the floor knows verify and health\",\"ok\":false,\"v\":1}\n");
        }
        explicit_bzero(rq.code, sizeof rq.code);
        if (send_all(c.fd, out, len) != 0) break;
        size_t rest = used - (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, rest);
        used = rest;
    }
    explicit_bzero(buf, sizeof buf);
    close(c.fd);
    return NULL;
}

/* ------------------------------------------------------------------ main --- */

static void *wait_for_signal(void *arg)
{
    sigset_t *set = arg;
    int sig = 0;
    sigwait(set, &sig);
    pthread_mutex_lock(&commit_lock);
    while (committing) pthread_cond_wait(&commit_done, &commit_lock);
    fprintf(stderr, "otpgate-floor: stopping on signal %d store.transactions=%ld store.writes=%ld\n", sig, stat_transactions, stat_writes);
    _exit(0);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) i++; /* otpgated's flag; nothing to configure */
        else die("usage: otpgate-floor --state-dir DIR");
    }
    if (!dir) die("usage: otpgate-floor --state-dir DIR");

    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/master.key", dir);
    int kfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (kfd < 0 || read(kfd, master_key, sizeof master_key) != (ssize_t)sizeof master_key)
        die("cannot read a 32-byte key from %s", path);
    close(kfd);
    unsigned char input[22 + 32], digest[32];
    memcpy(input, "otpgate master key id", 22); /* with its NUL, as MasterKey derives it */
    memcpy(input + 22, master_key, 32);
    SHA256(input, sizeof input, digest);
    memcpy(key_id, digest, 4);
    OPENSSL_cleanse(input, sizeof input);

    hmac_algorithm = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!hmac_algorithm)
        die("OpenSSL has no HMAC");
    snprintf(db_path, sizeof db_path, "%s/store/otpgate.db", dir);
    writer = open_db();
    w_limit = prepare(writer, "SELECT rhost, failures, locked_until FROM limiter WHERE user_id = ? AND rhost IN ('', ?)");
    w_accept = prepare(writer, "UPDATE tokens SET watermark = ?, drift = ?, last_used_at = ?"
                               " WHERE id = ? AND user_id = ? AND (watermark IS NULL OR watermark < ?)");
    w_clear = prepare(writer, "DELETE FROM limiter WHERE user_id = ?");
    w_fail_read = prepare(writer, "SELECT failures FROM limiter WHERE user_id = ? AND rhost = ''");
    w_fail_upsert = prepare(writer,
        "INSERT INTO limiter (user_id, rhost, failures, last_failure_at, locked_until) VALUES (?, '', ?, ?, ?)"
        " ON CONFLICT (user_id, rhost) DO UPDATE SET failures = excluded.failures,"
        " last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until");
    w_audit = prepare(writer, "INSERT INTO audit_events (time, event, user, peer_uid, service, rhost, detail)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?)");

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    pthread_t signal_thread;
    pthread_create(&signal_thread, NULL, wait_for_signal, &set);

    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if ((size_t)snprintf(addr.sun_path, sizeof addr.sun_path, "%s/otpgated.sock", dir) >= sizeof addr.sun_path)
        die("socket path too long under %s", dir);
    unlink(addr.sun_path);
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || chmod(addr.sun_path, 0666) != 0 ||
        listen(lfd, 512) != 0)
        die("cannot listen on %s: %s", addr.sun_path, strerror(errno));
    fprintf(stderr, "otpgate-floor: listening on %s, store %s\n", addr.sun_path, db_path);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            die("accept: %s", strerror(errno));
        }
        struct connection *c = malloc(sizeof *c);
        socklen_t len = sizeof c->peer;
        if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->peer, &len) != 0) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        pthread_t t;
        if (pthread_create(&t, &attr, serve, c) != 0) {
            close(fd);
            free(c);
        }
    }
}
