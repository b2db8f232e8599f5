/*
 * pam_otpgate: asks otpgated whether a one-time code is good for a user.
 *
 * The module holds no secret and keeps no state. It prompts for a code, sends one
 * `verify` request over the daemon's Unix socket and maps the reply to a PAM return
 * code. It fails closed: nothing but a well-formed "ok":true reply from a trusted
 * peer gives PAM_SUCCESS.
 *
 * Options: socket=PATH timeout=SECONDS nullok prompt=TEXT debug use_first_pass
 *          try_first_pass forward_pass digits=N
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#define DEFAULT_SOCKET "/run/otpgate/otpgated.sock"
#define DEFAULT_PROMPT "Verification code: "
#define DEFAULT_FORWARD_PROMPT "Password & verification code: "
#define DEFAULT_TIMEOUT_MS 5000
#define DAEMON_USER "otpgate"
#define MAX_USER 256
#define MAX_CODE 64
#define MAX_FIELD 256
#define MAX_REQUEST 8192
#define MAX_REPLY 4096

struct options {
    const char *socket_path;
    const char *prompt;
    int timeout_ms;
    int digits;
    bool nullok;
    bool debug;
    bool use_first_pass;
    bool try_first_pass;
    bool forward_pass;
};

/* What the daemon said, as far as the module needs it. */
struct reply {
    int ok;              /* 1 true, 0 false, -1 absent */
    int version;         /* the "v" member, -1 absent */
    char error[32];      /* failure code, "" when absent */
    int required;        /* 1 true, 0 false, -1 absent */
    long retry_after;    /* -1 absent */
};

/* ---------------------------------------------------------------- options --- */

static int parse_int(const char *text, int min, int max, int *out)
{
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
        return -1;
    *out = (int)value;
    return 0;
}

static void parse_options(pam_handle_t *pamh, int argc, const char **argv, struct options *opt)
{
    opt->socket_path = DEFAULT_SOCKET;
    opt->prompt = NULL;
    opt->timeout_ms = DEFAULT_TIMEOUT_MS;
    opt->digits = 6;
    opt->nullok = false;
    opt->debug = false;
    opt->use_first_pass = false;
    opt->try_first_pass = false;
    opt->forward_pass = false;

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        int seconds = 0;
        if (strncmp(arg, "socket=", 7) == 0 && arg[7] == '/') {
            opt->socket_path = arg + 7;
        } else if (strncmp(arg, "timeout=", 8) == 0 && parse_int(arg + 8, 1, 60, &seconds) == 0) {
            opt->timeout_ms = seconds * 1000;
        } else if (strncmp(arg, "digits=", 7) == 0 && parse_int(arg + 7, 6, 8, &opt->digits) == 0) {
            /* parsed */
        } else if (strncmp(arg, "prompt=", 7) == 0) {
            opt->prompt = arg + 7;
        } else if (strcmp(arg, "nullok") == 0) {
            opt->nullok = true;
        } else if (strcmp(arg, "debug") == 0) {
            opt->debug = true;
        } else if (strcmp(arg, "use_first_pass") == 0) {
            opt->use_first_pass = true;
        } else if (strcmp(arg, "try_first_pass") == 0) {
            opt->try_first_pass = true;
        } else if (strcmp(arg, "forward_pass") == 0) {
            opt->forward_pass = true;
        } else {
            pam_syslog(pamh, LOG_WARNING, "ignoring unknown or malformed option: %s", arg);
        }
    }
    if (opt->prompt == NULL)
        opt->prompt = opt->forward_pass ? DEFAULT_FORWARD_PROMPT : DEFAULT_PROMPT;
}

/* ------------------------------------------------------------- user names --- */

/* Refused before any I/O: empty, too long, an option-like or NIS-style first
   character, or a control character. */
static bool user_name_ok(const char *user)
{
    if (user == NULL || user[0] == '\0' || user[0] == '-' || user[0] == '+')
        return false;
    size_t n = strnlen(user, MAX_USER + 1);
    if (n > MAX_USER)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
            return false;
    return true;
}

/* ------------------------------------------------------------ conversation --- */

static int ask(pam_handle_t *pamh, const char *prompt, char **answer)
{
    *answer = NULL;
    char *response = NULL;
    int rc = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &response, "%s", prompt);
    if (rc != PAM_SUCCESS || response == NULL) {
        free(response);
        return PAM_CONV_ERR;
    }
    *answer = response;
    return PAM_SUCCESS;
}

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void tell(pam_handle_t *pamh, int flags, int style, const char *fmt, ...)
{
    if (flags & PAM_SILENT)
        return;
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    pam_prompt(pamh, style, NULL, "%s", text);
}

/* --------------------------------------------------------------- the wire --- */

static long remaining_ms(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? ms : 0;
}

static int wait_for(int fd, short events, const struct timespec *deadline)
{
    for (;;) {
        long ms = remaining_ms(deadline);
        if (ms <= 0)
            return -1;
        struct pollfd p = { .fd = fd, .events = events };
        int n = poll(&p, 1, (int)ms);
        if (n > 0)
            return (p.revents & (events | POLLHUP)) ? 0 : -1;
        if (n == 0)
            return -1;
        if (errno != EINTR)
            return -1;
    }
}

static bool trusted_uid(uid_t uid, uid_t daemon_uid)
{
    return uid == 0 || (daemon_uid != (uid_t)-1 && uid == daemon_uid);
}

static uid_t lookup_daemon_uid(void)
{
    struct passwd pwd, *result = NULL;
    char buffer[4096];
    if (getpwnam_r(DAEMON_USER, &pwd, buffer, sizeof buffer, &result) != 0 || result == NULL)
        return (uid_t)-1;
    return pwd.pw_uid;
}

/* Connects to the daemon, checking the socket file and then the peer: both must
   belong to root or to the otpgate user. Returns the descriptor or -1. */
static int connect_daemon(pam_handle_t *pamh, const struct options *opt, const struct timespec *deadline)
{
    uid_t daemon_uid = lookup_daemon_uid();
    struct stat st;
    if (lstat(opt->socket_path, &st) != 0) {
        pam_syslog(pamh, LOG_ERR, "cannot reach otpgated at %s: %m", opt->socket_path);
        return -1;
    }
    if (!S_ISSOCK(st.st_mode) || !trusted_uid(st.st_uid, daemon_uid)) {
        pam_syslog(pamh, LOG_ERR, "%s is not a socket owned by root or %s; refusing it", opt->socket_path, DAEMON_USER);
        return -1;
    }

    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(opt->socket_path) >= sizeof addr.sun_path) {
        pam_syslog(pamh, LOG_ERR, "socket path too long: %s", opt->socket_path);
        return -1;
    }
    strcpy(addr.sun_path, opt->socket_path);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            pam_syslog(pamh, LOG_ERR, "cannot connect to otpgated at %s: %m", opt->socket_path);
            close(fd);
            return -1;
        }
        int err = 0;
        socklen_t len = sizeof err;
        if (wait_for(fd, POLLOUT, deadline) != 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            pam_syslog(pamh, LOG_ERR, "connecting to otpgated at %s timed out or failed", opt->socket_path);
            close(fd);
            return -1;
        }
    }

    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred ||
        !trusted_uid(cred.uid, daemon_uid)) {
        pam_syslog(pamh, LOG_ERR, "the peer on %s is not root or %s; refusing it", opt->socket_path, DAEMON_USER);
        close(fd);
        return -1;
    }
    return fd;
}

/* Appends a JSON string (quoted, escaped) to buf. Returns -1 when it does not fit. */
static int json_append_string(char *buf, size_t size, size_t *used, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (*used + 1 >= size)
        return -1;
    buf[(*used)++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[7];
        size_t n = 0;
        if (*p == '"' || *p == '\\') {
            esc[n++] = '\\';
            esc[n++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            esc[n++] = '\\';
            esc[n++] = 'u';
            esc[n++] = '0';
            esc[n++] = '0';
            esc[n++] = hex[*p >> 4];
            esc[n++] = hex[*p & 0xf];
        } else {
            esc[n++] = (char)*p;
        }
        if (*used + n + 1 >= size)
            return -1;
        memcpy(buf + *used, esc, n);
        *used += n;
    }
    buf[(*used)++] = '"';
    return 0;
}

static int json_append_raw(char *buf, size_t size, size_t *used, const char *s)
{
    size_t n = strlen(s);
    if (*used + n + 1 >= size)
        return -1;
    memcpy(buf + *used, s, n);
    *used += n;
    return 0;
}

/* Builds the one-line verify request. Only valid UTF-8 is passed on by the daemon;
   anything else it answers with bad_request, which the module maps to failure. */
static int build_request(char *buf, size_t size, const char *user, const char *code, const char *service,
                         const char *rhost, const char *tty)
{
    size_t used = 0;
    if (json_append_raw(buf, size, &used, "{\"v\":1,\"op\":\"verify\",\"user\":") ||
        json_append_string(buf, size, &used, user) || json_append_raw(buf, size, &used, ",\"code\":") ||
        json_append_string(buf, size, &used, code))
        return -1;
    const char *names[] = { ",\"service\":", ",\"rhost\":", ",\"tty\":" };
    const char *values[] = { service, rhost, tty };
    for (int i = 0; i < 3; i++) {
        if (values[i] == NULL || values[i][0] == '\0' || strnlen(values[i], MAX_FIELD + 1) > MAX_FIELD)
            continue;
        if (json_append_raw(buf, size, &used, names[i]) || json_append_string(buf, size, &used, values[i]))
            return -1;
    }
    if (json_append_raw(buf, size, &used, "}\n"))
        return -1;
    buf[used] = '\0';
    return (int)used;
}

static int send_all(int fd, const char *buf, size_t len, const struct timespec *deadline)
{
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_for(fd, POLLOUT, deadline) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads one line (without "\n") of at most MAX_REPLY - 1 bytes. */
static int read_line(int fd, char *buf, size_t size, const struct timespec *deadline)
{
    size_t used = 0;
    for (;;) {
        if (wait_for(fd, POLLIN, deadline) != 0)
            return -1;
        ssize_t n = recv(fd, buf + used, size - 1 - used, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
            continue;
        if (n <= 0)
            return -1; /* error, or closed before a whole line */
        char *newline = memchr(buf + used, '\n', (size_t)n);
        used += (size_t)n;
        if (newline != NULL) {
            if (newline != buf + used - 1)
                return -1; /* more than one line: not a reply to one request */
            *newline = '\0';
            return 0;
        }
        if (used >= size - 1)
            return -1; /* oversized */
    }
}

/* ----------------------------------------------------------- reply parsing --- */

/* A strict reader for the flat JSON object a verify reply is: string keys; values
   that are strings, integers, true, false or null. Nested values, duplicate keys
   of interest, trailing bytes: malformed. */

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\r')
        (*p)++;
}

/* Reads a JSON string into out (truncating silently is not allowed: too long fails). */
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
            char e = **p;
            if (e == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", (*p)[i]) || (*p)[i] == '\0')
                        return -1;
                *p += 4;
                c = '?'; /* only needed for messages, which the module never parses */
            } else if (e && strchr("\"\\/bfnrt", e)) {
                c = (unsigned char)e;
            } else {
                return -1;
            }
        }
        if (n + 1 >= size)
            return -1;
        out[n++] = (char)c;
        (*p)++;
    }
    out[n] = '\0';
    (*p)++;
    return 0;
}

enum value_kind { V_STRING, V_INT, V_TRUE, V_FALSE, V_NULL };

static int read_value(const char **p, enum value_kind *kind, char *str, size_t size, long *number)
{
    if (**p == '"') {
        *kind = V_STRING;
        return read_string(p, str, size);
    }
    if (strncmp(*p, "true", 4) == 0) {
        *kind = V_TRUE;
        *p += 4;
        return 0;
    }
    if (strncmp(*p, "false", 5) == 0) {
        *kind = V_FALSE;
        *p += 5;
        return 0;
    }
    if (strncmp(*p, "null", 4) == 0) {
        *kind = V_NULL;
        *p += 4;
        return 0;
    }
    if (**p == '-' || (**p >= '0' && **p <= '9')) {
        char *end = NULL;
        errno = 0;
        long v = strtol(*p, &end, 10);
        if (errno != 0 || end == *p || *end == '.' || *end == 'e' || *end == 'E')
            return -1;
        *kind = V_INT;
        *number = v;
        *p = end;
        return 0;
    }
    return -1; /* arrays, objects and anything else */
}

static int parse_reply(const char *line, struct reply *r)
{
    r->ok = -1;
    r->version = -1;
    r->error[0] = '\0';
    r->required = -1;
    r->retry_after = -1;
    bool seen_error = false;

    const char *p = line;
    skip_ws(&p);
    if (*p++ != '{')
        return -1;
    skip_ws(&p);
    if (*p == '}') {
        p++;
    } else {
        for (;;) {
            char key[64];
            char str[MAX_REPLY];
            long number = 0;
            enum value_kind kind;
            skip_ws(&p);
            if (read_string(&p, key, sizeof key) != 0)
                return -1;
            skip_ws(&p);
            if (*p++ != ':')
                return -1;
            skip_ws(&p);
            if (read_value(&p, &kind, str, sizeof str, &number) != 0)
                return -1;
            if (strcmp(key, "ok") == 0) {
                if (r->ok != -1 || (kind != V_TRUE && kind != V_FALSE))
                    return -1;
                r->ok = kind == V_TRUE;
            } else if (strcmp(key, "v") == 0) {
                if (r->version != -1 || kind != V_INT)
                    return -1;
                r->version = (int)number;
            } else if (strcmp(key, "error") == 0) {
                if (seen_error || kind != V_STRING || strlen(str) >= sizeof r->error)
                    return -1;
                strcpy(r->error, str);
                seen_error = true;
            } else if (strcmp(key, "required") == 0) {
                if (r->required != -1 || (kind != V_TRUE && kind != V_FALSE))
                    return -1;
                r->required = kind == V_TRUE;
            } else if (strcmp(key, "retry_after") == 0) {
                if (r->retry_after != -1 || kind != V_INT || number < 0)
                    return -1;
                r->retry_after = number;
            }
            skip_ws(&p);
            if (*p == ',') {
                p++;
                continue;
            }
            if (*p++ != '}')
                return -1;
            break;
        }
    }
    skip_ws(&p);
    if (*p != '\0')
        return -1;
    /* A reply must say v=1 and ok; a failure must say why. */
    if (r->version != 1 || r->ok == -1 || (r->ok == 0 && !seen_error) || (r->ok == 1 && seen_error))
        return -1;
    return 0;
}

/* -------------------------------------------------------------- the module --- */

/* Sends one verify and maps the reply. Never PAM_SUCCESS without "ok":true. */
static int verify(pam_handle_t *pamh, int flags, const struct options *opt, const char *user, const char *code)
{
    const void *item = NULL;
    const char *service = NULL, *rhost = NULL, *tty = NULL;
    if (pam_get_item(pamh, PAM_SERVICE, &item) == PAM_SUCCESS)
        service = item;
    if (pam_get_item(pamh, PAM_RHOST, &item) == PAM_SUCCESS)
        rhost = item;
    if (pam_get_item(pamh, PAM_TTY, &item) == PAM_SUCCESS)
        tty = item;

    char request[MAX_REQUEST];
    char line[MAX_REPLY];
    struct reply reply;
    int rc = PAM_AUTHINFO_UNAVAIL;
    int fd = -1;

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += opt->timeout_ms / 1000;
    deadline.tv_nsec += (long)(opt->timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }

    int len = build_request(request, sizeof request, user, code, service, rhost, tty);
    if (len < 0) {
        pam_syslog(pamh, LOG_ERR, "request for %s does not fit", user);
        goto out;
    }
    fd = connect_daemon(pamh, opt, &deadline);
    if (fd < 0)
        goto out;
    if (send_all(fd, request, (size_t)len, &deadline) != 0) {
        pam_syslog(pamh, LOG_ERR, "sending to otpgated failed or timed out");
        goto out;
    }
    if (read_line(fd, line, sizeof line, &deadline) != 0) {
        pam_syslog(pamh, LOG_ERR, "no complete reply from otpgated (closed, timed out or oversized)");
        goto out;
    }
    if (parse_reply(line, &reply) != 0) {
        pam_syslog(pamh, LOG_ERR, "malformed reply from otpgated");
        goto out;
    }

    if (reply.ok == 1) {
        rc = PAM_SUCCESS;
    } else if (strcmp(reply.error, "invalid_code") == 0 || strcmp(reply.error, "replayed_code") == 0) {
        rc = PAM_AUTH_ERR;
    } else if (strcmp(reply.error, "rate_limited") == 0) {
        if (reply.retry_after > 0)
            tell(pamh, flags, PAM_ERROR_MSG, "Too many failed attempts. Try again in %ld seconds.", reply.retry_after);
        else
            tell(pamh, flags, PAM_ERROR_MSG, "Too many failed attempts. Ask an administrator to unlock the account.");
        rc = PAM_MAXTRIES;
    } else if (strcmp(reply.error, "not_enrolled") == 0) {
        rc = (reply.required == 0 && opt->nullok) ? PAM_IGNORE : PAM_AUTH_ERR;
    } else {
        /* unavailable, internal, bad_request, forbidden, anything unknown */
        pam_syslog(pamh, LOG_ERR, "otpgated answered %s", reply.error);
        rc = PAM_AUTHINFO_UNAVAIL;
    }

out:
    if (fd >= 0)
        close(fd);
    explicit_bzero(request, sizeof request);
    if (opt->debug)
        pam_syslog(pamh, LOG_DEBUG, "user %s: %s", user, pam_strerror(pamh, rc));
    return rc;
}

/* For forward_pass: the last `digits` characters of what was typed are the code,
   the rest is the password handed on to the next module. */
static int split_forward(pam_handle_t *pamh, const struct options *opt, char *typed, char **code)
{
    size_t n = strlen(typed);
    *code = NULL;
    if (n < (size_t)opt->digits)
        return PAM_AUTH_ERR;
    *code = strdup(typed + n - opt->digits);
    if (*code == NULL)
        return PAM_BUF_ERR;
    explicit_bzero(typed + n - opt->digits, (size_t)opt->digits);
    typed[n - opt->digits] = '\0';
    return pam_set_item(pamh, PAM_AUTHTOK, typed) == PAM_SUCCESS ? PAM_SUCCESS : PAM_AUTH_ERR;
}

__attribute__((visibility("default")))
int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    struct options opt;
    parse_options(pamh, argc, argv, &opt);

    const char *user = NULL;
    if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || !user_name_ok(user)) {
        pam_syslog(pamh, LOG_NOTICE, "refusing an empty, overlong or malformed user name");
        return PAM_USER_UNKNOWN;
    }

    char *code = NULL;
    char *typed = NULL;
    int rc;
    const void *item = NULL;
    const char *authtok = NULL;
    if (pam_get_item(pamh, PAM_AUTHTOK, &item) == PAM_SUCCESS)
        authtok = item;

    if (opt.use_first_pass || (opt.try_first_pass && authtok != NULL)) {
        if (authtok == NULL) {
            rc = PAM_AUTH_ERR;
            goto out;
        }
        code = strdup(authtok);
        rc = code ? PAM_SUCCESS : PAM_BUF_ERR;
    } else if (opt.forward_pass) {
        rc = ask(pamh, opt.prompt, &typed);
        if (rc == PAM_SUCCESS)
            rc = split_forward(pamh, &opt, typed, &code);
    } else {
        rc = ask(pamh, opt.prompt, &code);
    }
    if (rc != PAM_SUCCESS)
        goto out;
    if (strnlen(code, MAX_CODE + 1) > MAX_CODE) {
        rc = PAM_AUTH_ERR;
        goto out;
    }
    rc = verify(pamh, flags, &opt, user, code);

out:
    wipe_free(code);
    wipe_free(typed);
    return rc;
}

__attribute__((visibility("default")))
int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void)pamh;
    (void)flags;
    (void)argc;
    (void)argv;
    return PAM_SUCCESS;
}
