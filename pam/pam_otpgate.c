/*
 * pam_otpgate: asks otpgated whether a one-time code is good for a user.
 *
 * The module holds no secret and keeps no state. It prompts for a code (or takes it
 * from the previous module's token), sends one request over the daemon's Unix
 * socket and maps the reply to a PAM return code. It fails closed: nothing but a
 * well-formed "ok":true reply from a trusted peer gives PAM_SUCCESS.
 *
 * With nullok or grace_period= it first asks the daemon (verify.precheck) whether
 * this login needs a code at all, so that users who need none are not prompted.
 * With forward_pass, the password and the code are typed as one string; every tail
 * of it that is shaped like a code goes to the daemon in one verify.candidates
 * request, which counts as one attempt, and only the password is handed on.
 *
 * Options: socket=PATH timeout=SECONDS nullok prompt=TEXT debug use_first_pass
 *          try_first_pass forward_pass grace_period=SECONDS echo_verification_code
 *          (digits=N is accepted and ignored: forward_pass tries 6, 7 and 8 digits)
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
#define MAX_GRACE_PERIOD 86400   /* one day, as the daemon's VerifyPrecheckRequest */
#define FAIL_DELAY_USEC 2000000  /* pam_unix's default */
#define FEW_RECOVERY_CODES 3
#define DAEMON_USER "otpgate"
#define MAX_USER 256
#define MAX_CODE 64
#define MAX_FIELD 256
#define MAX_REQUEST 8192
#define MAX_REPLY 4096
#define MAX_CANDIDATES 4
#define RECOVERY_SYMBOLS 15

struct options {
    const char *socket_path;
    const char *prompt;
    int timeout_ms;
    int grace_period;
    bool nullok;
    bool debug;
    bool use_first_pass;
    bool try_first_pass;
    bool forward_pass;
    bool echo_code;
};

/* What the daemon said, as far as the module needs it. */
struct reply {
    int ok;                   /* 1 true, 0 false, -1 absent */
    long version;             /* the "v" member, -1 absent */
    char error[32];           /* failure code, "" when absent */
    int required;             /* 1 true, 0 false, -1 absent */
    long retry_after;         /* -1 absent */
    char factor[16];          /* "" absent */
    long recovery_remaining;  /* -1 absent */
    long candidate;           /* -1 absent */
    int needs_code;           /* 1 true, 0 false, -1 absent */
    char reason[32];          /* "" absent */
    char enroll_by[32];       /* "" absent */
};

/* The tails of a typed "password and code" string that may be the code. */
struct candidates {
    int count;
    const char *code[MAX_CANDIDATES]; /* tails of the typed string, so NUL-terminated */
    size_t length[MAX_CANDIDATES];
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
    opt->grace_period = 0;
    opt->nullok = false;
    opt->debug = false;
    opt->use_first_pass = false;
    opt->try_first_pass = false;
    opt->forward_pass = false;
    opt->echo_code = false;

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        int number = 0;
        if (strncmp(arg, "socket=", 7) == 0 && arg[7] == '/') {
            opt->socket_path = arg + 7;
        } else if (strncmp(arg, "timeout=", 8) == 0 && parse_int(arg + 8, 1, 60, &number) == 0) {
            opt->timeout_ms = number * 1000;
        } else if (strncmp(arg, "grace_period=", 13) == 0 &&
                   parse_int(arg + 13, 0, MAX_GRACE_PERIOD, &number) == 0) {
            opt->grace_period = number;
        } else if (strncmp(arg, "digits=", 7) == 0 && parse_int(arg + 7, 6, 8, &number) == 0) {
            /* accepted for old stacks; forward_pass tries every length */
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
        } else if (strcmp(arg, "echo_verification_code") == 0) {
            opt->echo_code = true;
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

/* ------------------------------------------------------------ code shapes --- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A symbol a recovery code may be typed with: Crockford base32 in either case,
   plus O, I and L, which the daemon reads as 0, 1 and 1. Not U. */
static bool is_recovery_symbol(char c)
{
    if (is_digit(c))
        return true;
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 32);
    return c >= 'A' && c <= 'Z' && c != 'U';
}

/* 6 to 8 digits, in groups separated by spaces, none leading or trailing: what the
   daemon takes as a one-time code. */
static bool otp_shaped(const char *s)
{
    size_t n = strlen(s), digits = 0;
    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (is_digit(s[i]))
            digits++;
        else if (s[i] != ' ')
            return false;
    }
    return digits >= 6 && digits <= 8;
}

/* 15 recovery symbols, with any spaces and hyphens: what the daemon takes as a
   recovery code. */
static bool recovery_shaped(const char *s)
{
    size_t symbols = 0;
    for (const char *p = s; *p; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (!is_recovery_symbol(*p))
            return false;
        symbols++;
    }
    return symbols == RECOVERY_SYMBOLS;
}

static bool code_shaped(const char *s)
{
    return strlen(s) <= MAX_CODE && (otp_shaped(s) || recovery_shaped(s));
}

static void add_candidate(struct candidates *c, const char *typed, size_t n, size_t length)
{
    if (c->count < MAX_CANDIDATES) {
        c->code[c->count] = typed + n - length;
        c->length[c->count] = length;
        c->count++;
    }
}

/* The tails of `typed` that may be its code: the last 6, 7 and 8 characters when
   they are digits, and the last 17 (XXXXX-XXXXX-XXXXX) or 15 characters when they
   are a recovery code. The rest before a tail is the password. */
static void find_candidates(const char *typed, struct candidates *c)
{
    size_t n = strlen(typed);
    c->count = 0;
    for (size_t d = 6; d <= 8 && d <= n; d++) {
        bool digits = true;
        for (size_t i = n - d; i < n; i++)
            digits = digits && is_digit(typed[i]);
        if (digits)
            add_candidate(c, typed, n, d);
    }
    if (n >= 17) {
        const char *t = typed + n - 17;
        bool dashed = true;
        for (size_t i = 0; i < 17; i++)
            dashed = dashed && ((i == 5 || i == 11) ? t[i] == '-' : is_recovery_symbol(t[i]));
        if (dashed) {
            add_candidate(c, typed, n, 17);
            return;
        }
    }
    if (n >= RECOVERY_SYMBOLS) {
        bool plain = true;
        for (size_t i = n - RECOVERY_SYMBOLS; i < n; i++)
            plain = plain && is_recovery_symbol(typed[i]);
        if (plain)
            add_candidate(c, typed, n, RECOVERY_SYMBOLS);
    }
}

/* ------------------------------------------------------------ conversation --- */

static int ask(pam_handle_t *pamh, int style, const char *prompt, char **answer)
{
    *answer = NULL;
    char *response = NULL;
    int rc = pam_prompt(pamh, style, &response, "%s", prompt);
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

/* The monotonic time `ms` from now. -1 when the clock cannot be read: without a
   deadline the module could block past its timeout, so the caller gives up. */
static int deadline_in(pam_handle_t *pamh, int ms, struct timespec *deadline)
{
    if (clock_gettime(CLOCK_MONOTONIC, deadline) != 0) {
        pam_syslog(pamh, LOG_ERR, "cannot read the monotonic clock: %m");
        return -1;
    }
    deadline->tv_sec += ms / 1000;
    deadline->tv_nsec += (long)(ms % 1000) * 1000000;
    if (deadline->tv_nsec >= 1000000000) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000;
    }
    return 0;
}

/* Milliseconds left until the deadline; 0 when it has passed or the clock fails. */
static long remaining_ms(const struct timespec *deadline)
{
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return 0;
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

static uid_t lookup_daemon_uid(void)
{
    struct passwd pwd, *result = NULL;
    char buffer[4096];
    if (getpwnam_r(DAEMON_USER, &pwd, buffer, sizeof buffer, &result) != 0 || result == NULL)
        return (uid_t)-1;
    return pwd.pw_uid;
}

/* Root, or the otpgate user. The name is looked up only for a uid that is not 0,
   so a daemon running as root costs no NSS lookup per login. */
struct trust {
    bool looked_up;
    uid_t daemon_uid;
};

static bool trusted_uid(struct trust *t, uid_t uid)
{
    if (uid == 0)
        return true;
    if (!t->looked_up) {
        t->daemon_uid = lookup_daemon_uid();
        t->looked_up = true;
    }
    return t->daemon_uid != (uid_t)-1 && uid == t->daemon_uid;
}

/* A new socket at descriptor 3 or above: an application that closed 0, 1 or 2
   must not find its stdin or stdout talking to the daemon. */
static int new_socket(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || fd >= 3)
        return fd;
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return high;
}

/* Connects to the daemon, checking the socket file and then the peer: both must
   belong to root or to the otpgate user. A full listen backlog (EAGAIN on a Unix
   socket) is retried with a short backoff until the deadline. Returns the
   descriptor or -1. */
static int connect_daemon(pam_handle_t *pamh, const struct options *opt, const struct timespec *deadline)
{
    struct trust trust = { false, (uid_t)-1 };
    struct stat st;
    if (lstat(opt->socket_path, &st) != 0) {
        pam_syslog(pamh, LOG_ERR, "cannot reach otpgated at %s: %m", opt->socket_path);
        return -1;
    }
    if (!S_ISSOCK(st.st_mode) || !trusted_uid(&trust, st.st_uid)) {
        pam_syslog(pamh, LOG_ERR, "%s is not a socket owned by root or %s; refusing it", opt->socket_path, DAEMON_USER);
        return -1;
    }

    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(opt->socket_path) >= sizeof addr.sun_path) {
        pam_syslog(pamh, LOG_ERR, "socket path too long: %s", opt->socket_path);
        return -1;
    }
    strcpy(addr.sun_path, opt->socket_path);

    int fd = -1;
    long backoff_ms = 5;
    bool busy_logged = false;
    for (;;) {
        fd = new_socket();
        if (fd < 0) {
            pam_syslog(pamh, LOG_ERR, "cannot create a socket: %m");
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
            break;
        int err = errno;
        if (err == EAGAIN || err == EINTR) {
            close(fd);
            fd = -1;
            if (!busy_logged) {
                pam_syslog(pamh, LOG_WARNING, "otpgated at %s is busy (its listen queue is full); retrying",
                           opt->socket_path);
                busy_logged = true;
            }
            long left = remaining_ms(deadline);
            if (left <= 0) {
                pam_syslog(pamh, LOG_ERR, "daemon busy: otpgated at %s accepted no connection before the timeout",
                           opt->socket_path);
                return -1;
            }
            poll(NULL, 0, (int)(backoff_ms < left ? backoff_ms : left));
            if (backoff_ms < 100)
                backoff_ms *= 2;
            continue;
        }
        if (err != EINPROGRESS) {
            errno = err;
            pam_syslog(pamh, LOG_ERR, "cannot connect to otpgated at %s: %m", opt->socket_path);
            close(fd);
            return -1;
        }
        int soerr = 0;
        socklen_t len = sizeof soerr;
        if (wait_for(fd, POLLOUT, deadline) != 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 ||
            soerr != 0) {
            pam_syslog(pamh, LOG_ERR, "connecting to otpgated at %s timed out or failed", opt->socket_path);
            close(fd);
            return -1;
        }
        break;
    }

    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred ||
        !trusted_uid(&trust, cred.uid)) {
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

/* What one request carries besides its op and user. */
struct request {
    const char *op;
    const char *code;                 /* verify */
    const struct candidates *codes;   /* verify.candidates */
    int grace_period;                 /* verify.precheck, 0 for none */
};

/* Builds one request line. Only valid UTF-8 is passed on by the daemon; anything
   else it answers with bad_request, which the module maps to failure. */
static int build_request(pam_handle_t *pamh, char *buf, size_t size, const char *user, const struct request *rq)
{
    size_t used = 0;
    if (json_append_raw(buf, size, &used, "{\"v\":1,\"op\":") || json_append_string(buf, size, &used, rq->op) ||
        json_append_raw(buf, size, &used, ",\"user\":") || json_append_string(buf, size, &used, user))
        return -1;
    if (rq->code != NULL &&
        (json_append_raw(buf, size, &used, ",\"code\":") || json_append_string(buf, size, &used, rq->code)))
        return -1;
    if (rq->codes != NULL) {
        if (json_append_raw(buf, size, &used, ",\"codes\":["))
            return -1;
        for (int i = 0; i < rq->codes->count; i++)
            if ((i > 0 && json_append_raw(buf, size, &used, ",")) ||
                json_append_string(buf, size, &used, rq->codes->code[i]))
                return -1;
        if (json_append_raw(buf, size, &used, "]"))
            return -1;
    }
    if (rq->grace_period > 0) {
        char number[32];
        snprintf(number, sizeof number, ",\"grace_period\":%d", rq->grace_period);
        if (json_append_raw(buf, size, &used, number))
            return -1;
    }
    static const int items[] = { PAM_SERVICE, PAM_RHOST, PAM_TTY };
    static const char *names[] = { ",\"service\":", ",\"rhost\":", ",\"tty\":" };
    for (int i = 0; i < 3; i++) {
        const void *item = NULL;
        if (pam_get_item(pamh, items[i], &item) != PAM_SUCCESS || item == NULL)
            continue;
        const char *value = item;
        if (value[0] == '\0' || strnlen(value, MAX_FIELD + 1) > MAX_FIELD)
            continue;
        if (json_append_raw(buf, size, &used, names[i]) || json_append_string(buf, size, &used, value))
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

/* Reads one line (without "\n") of at most size - 1 bytes; its length goes to
   *length (it may contain NUL bytes, which the caller refuses). */
static int read_line(int fd, char *buf, size_t size, size_t *length, const struct timespec *deadline)
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
            *length = used - 1;
            return 0;
        }
        if (used >= size - 1)
            return -1; /* oversized */
    }
}

/* ----------------------------------------------------------- reply parsing --- */

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
   U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t extra;
        unsigned int min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            extra = 1, min = 0x80, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2, min = 0x800, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

/* A strict reader for the flat JSON object a reply to the module is: string keys;
   values that are strings, integers, true, false or null. Nested values, duplicate
   keys of interest, trailing bytes: malformed. */

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
                    if ((*p)[i] == '\0' || !strchr("0123456789abcdefABCDEF", (*p)[i]))
                        return -1;
                *p += 4;
                c = '?'; /* only in messages and names, which the module does not act on */
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

/* A JSON integer exactly: an optional minus, then 0 or a digit 1-9 followed by at
   most 17 more digits; no fraction, no exponent, no leading zero. */
static int read_integer(const char **p, long *out)
{
    const char *s = *p;
    bool negative = *s == '-';
    if (negative)
        s++;
    long value = 0;
    if (*s == '0') {
        s++;
        if (is_digit(*s))
            return -1;
    } else if (*s >= '1' && *s <= '9') {
        int count = 0;
        while (is_digit(*s)) {
            if (++count > 18)
                return -1;
            value = value * 10 + (*s - '0');
            s++;
        }
    } else {
        return -1;
    }
    if (*s == '.' || *s == 'e' || *s == 'E')
        return -1;
    *out = negative ? -value : value;
    *p = s;
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
    if (**p == '-' || is_digit(**p)) {
        *kind = V_INT;
        return read_integer(p, number);
    }
    return -1; /* arrays, objects and anything else */
}

static int set_bool(int *field, enum value_kind kind)
{
    if (*field != -1 || (kind != V_TRUE && kind != V_FALSE))
        return -1;
    *field = kind == V_TRUE;
    return 0;
}

static int set_count(long *field, enum value_kind kind, long number)
{
    if (*field != -1 || kind != V_INT || number < 0)
        return -1;
    *field = number;
    return 0;
}

static int set_string(char *field, size_t size, enum value_kind kind, const char *str)
{
    if (field[0] != '\0' || kind != V_STRING || str[0] == '\0' || strlen(str) >= size)
        return -1;
    strcpy(field, str);
    return 0;
}

static int parse_reply(const char *line, size_t length, struct reply *r)
{
    memset(r, 0, sizeof *r);
    r->ok = r->required = r->needs_code = -1;
    r->version = r->retry_after = r->recovery_remaining = r->candidate = -1;

    /* Exactly the bytes received: no NUL inside, valid UTF-8 throughout. */
    if (memchr(line, '\0', length) != NULL || !utf8_valid((const unsigned char *)line, length))
        return -1;

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
            int bad = 0;
            skip_ws(&p);
            if (read_string(&p, key, sizeof key) != 0)
                return -1;
            skip_ws(&p);
            if (*p++ != ':')
                return -1;
            skip_ws(&p);
            if (read_value(&p, &kind, str, sizeof str, &number) != 0)
                return -1;
            if (strcmp(key, "ok") == 0)
                bad = set_bool(&r->ok, kind);
            else if (strcmp(key, "v") == 0)
                bad = (r->version != -1 || kind != V_INT) ? -1 : (r->version = number, 0);
            else if (strcmp(key, "error") == 0)
                bad = set_string(r->error, sizeof r->error, kind, str);
            else if (strcmp(key, "required") == 0)
                bad = set_bool(&r->required, kind);
            else if (strcmp(key, "retry_after") == 0)
                bad = set_count(&r->retry_after, kind, number);
            else if (strcmp(key, "factor") == 0)
                bad = set_string(r->factor, sizeof r->factor, kind, str);
            else if (strcmp(key, "recovery_remaining") == 0)
                bad = set_count(&r->recovery_remaining, kind, number);
            else if (strcmp(key, "candidate") == 0)
                bad = set_count(&r->candidate, kind, number);
            else if (strcmp(key, "needs_code") == 0)
                bad = set_bool(&r->needs_code, kind);
            else if (strcmp(key, "reason") == 0)
                bad = set_string(r->reason, sizeof r->reason, kind, str);
            else if (strcmp(key, "enroll_by") == 0)
                bad = set_string(r->enroll_by, sizeof r->enroll_by, kind, str);
            if (bad)
                return -1;
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
    bool failed = r->error[0] != '\0';
    if (r->version != 1 || r->ok == -1 || (r->ok == 0 && !failed) || (r->ok == 1 && failed))
        return -1;
    return 0;
}

/* Sends one request and reads its reply, each within the timeout. 0 with *reply
   filled in, or -1 (logged) for every way of not getting a well-formed reply from
   a trusted daemon. */
static int exchange(pam_handle_t *pamh, const struct options *opt, const char *user, const struct request *rq,
                    struct reply *reply)
{
    char request[MAX_REQUEST];
    char line[MAX_REPLY];
    size_t length = 0;
    int rc = -1, fd = -1;
    struct timespec deadline;

    int len = build_request(pamh, request, sizeof request, user, rq);
    if (len < 0) {
        pam_syslog(pamh, LOG_ERR, "%s request for %s does not fit", rq->op, user);
        goto out;
    }
    if (deadline_in(pamh, opt->timeout_ms, &deadline) != 0)
        goto out;
    fd = connect_daemon(pamh, opt, &deadline);
    if (fd < 0)
        goto out;
    if (send_all(fd, request, (size_t)len, &deadline) != 0) {
        pam_syslog(pamh, LOG_ERR, "sending to otpgated failed or timed out");
        goto out;
    }
    if (read_line(fd, line, sizeof line, &length, &deadline) != 0) {
        pam_syslog(pamh, LOG_ERR, "no complete reply from otpgated (closed, timed out or oversized)");
        goto out;
    }
    if (parse_reply(line, length, reply) != 0) {
        pam_syslog(pamh, LOG_ERR, "malformed reply from otpgated");
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    explicit_bzero(request, sizeof request);
    return rc;
}

/* -------------------------------------------------------------- the module --- */

/* What verify.precheck said this login needs. */
enum need { NEED_CODE, NEED_NOTHING, NEED_ENROLMENT, NEED_NOTHING_GRACE, NEED_UNKNOWN };

static enum need precheck(pam_handle_t *pamh, int flags, const struct options *opt, const char *user)
{
    struct request rq = { .op = "verify.precheck", .grace_period = opt->grace_period };
    struct reply reply;
    if (exchange(pamh, opt, user, &rq, &reply) != 0)
        return NEED_UNKNOWN;
    if (reply.ok == 0) {
        if (strcmp(reply.error, "unknown_op") == 0) {
            /* An older daemon: prompt, as the module always did. */
            pam_syslog(pamh, LOG_NOTICE, "otpgated does not know verify.precheck; prompting");
            return NEED_CODE;
        }
        pam_syslog(pamh, LOG_ERR, "otpgated answered %s to verify.precheck", reply.error);
        return NEED_UNKNOWN;
    }
    if (reply.needs_code == -1) {
        pam_syslog(pamh, LOG_ERR, "malformed reply from otpgated (verify.precheck without needs_code)");
        return NEED_UNKNOWN;
    }
    if (reply.needs_code == 1)
        return NEED_CODE;
    if (strcmp(reply.reason, "grace") == 0)
        return NEED_NOTHING_GRACE;
    if (strcmp(reply.reason, "not_enrolled") == 0)
        return NEED_NOTHING;
    if (strcmp(reply.reason, "enrollment_pending") == 0) {
        if (opt->nullok)
            tell(pamh, flags, PAM_TEXT_INFO,
                 "This account will need a second factor from %s. Run 'otpgate enroll' before then.",
                 reply.enroll_by[0] ? reply.enroll_by : "a date your administrator set");
        return NEED_ENROLMENT;
    }
    return NEED_CODE; /* a reason this module does not know: ask for a code */
}

/* Maps a verify or verify.candidates reply, with the messages that go with it.
   Never PAM_SUCCESS without "ok":true. */
static int map_reply(pam_handle_t *pamh, int flags, const struct options *opt, const struct reply *reply)
{
    if (reply->ok == 1) {
        if (strcmp(reply->factor, "recovery") == 0 && reply->recovery_remaining >= 0) {
            long left = reply->recovery_remaining;
            if (left == 0)
                tell(pamh, flags, PAM_ERROR_MSG,
                     "Recovery code accepted. That was your last one: run 'otpgate recovery-codes regenerate' now.");
            else if (left <= FEW_RECOVERY_CODES)
                tell(pamh, flags, PAM_ERROR_MSG,
                     "Recovery code accepted. Only %ld left: run 'otpgate recovery-codes regenerate' soon.", left);
            else
                tell(pamh, flags, PAM_TEXT_INFO, "Recovery code accepted; %ld left.", left);
        }
        return PAM_SUCCESS;
    }
    if (strcmp(reply->error, "invalid_code") == 0)
        return PAM_AUTH_ERR;
    if (strcmp(reply->error, "replayed_code") == 0) {
        tell(pamh, flags, PAM_ERROR_MSG, "That code was already used. Wait for the next one.");
        return PAM_AUTH_ERR;
    }
    if (strcmp(reply->error, "rate_limited") == 0) {
        if (reply->retry_after > 0)
            tell(pamh, flags, PAM_ERROR_MSG, "Too many failed attempts. Try again in %ld seconds.", reply->retry_after);
        else
            tell(pamh, flags, PAM_ERROR_MSG, "Too many failed attempts. Ask an administrator to unlock the account.");
        return PAM_MAXTRIES;
    }
    if (strcmp(reply->error, "not_enrolled") == 0)
        return (reply->required == 0 && opt->nullok) ? PAM_IGNORE : PAM_AUTH_ERR;
    /* unavailable, internal, bad_request, forbidden, anything unknown */
    pam_syslog(pamh, LOG_ERR, "otpgated answered %s", reply->error);
    return PAM_AUTHINFO_UNAVAIL;
}

/* One code, typed at the prompt or handed in by a previous module. What cannot be
   a code (empty, or not shaped like one) is not sent and not counted. */
static int try_code(pam_handle_t *pamh, int flags, const struct options *opt, const char *user, const char *code)
{
    if (!code_shaped(code)) {
        if (opt->debug)
            pam_syslog(pamh, LOG_DEBUG, "user %s: the answer is not shaped like a code; not sent", user);
        return PAM_AUTH_ERR;
    }
    struct request rq = { .op = "verify", .code = code };
    struct reply reply;
    if (exchange(pamh, opt, user, &rq, &reply) != 0)
        return PAM_AUTHINFO_UNAVAIL;
    return map_reply(pamh, flags, opt, &reply);
}

/* A password and a code as one string: every tail that may be the code goes in one
   verify.candidates (one attempt); on success the rest, the password, becomes
   PAM_AUTHTOK for the next module. A string with no code-shaped tail is not sent. */
static int try_combined(pam_handle_t *pamh, int flags, const struct options *opt, const char *user, const char *typed)
{
    struct candidates candidates;
    find_candidates(typed, &candidates);
    if (candidates.count == 0) {
        if (opt->debug)
            pam_syslog(pamh, LOG_DEBUG, "user %s: no code at the end of the password; not sent", user);
        return PAM_AUTH_ERR;
    }
    struct request rq = { .op = "verify.candidates", .codes = &candidates };
    struct reply reply;
    if (exchange(pamh, opt, user, &rq, &reply) != 0)
        return PAM_AUTHINFO_UNAVAIL;
    if (reply.ok == 1 && (reply.candidate < 0 || reply.candidate >= candidates.count)) {
        pam_syslog(pamh, LOG_ERR, "malformed reply from otpgated (no valid candidate index)");
        return PAM_AUTHINFO_UNAVAIL;
    }
    int rc = map_reply(pamh, flags, opt, &reply);
    if (rc != PAM_SUCCESS)
        return rc;
    size_t password_length = strlen(typed) - candidates.length[reply.candidate];
    char *password = strndup(typed, password_length);
    if (password == NULL)
        return PAM_BUF_ERR;
    rc = pam_set_item(pamh, PAM_AUTHTOK, password) == PAM_SUCCESS ? PAM_SUCCESS : PAM_AUTH_ERR;
    wipe_free(password);
    return rc;
}

static int try_input(pam_handle_t *pamh, int flags, const struct options *opt, const char *user, const char *text)
{
    if (text[0] == '\0' || strnlen(text, MAX_REQUEST) >= MAX_REQUEST / 2)
        return PAM_AUTH_ERR; /* nothing typed (or absurdly much): not sent, not counted */
    return opt->forward_pass ? try_combined(pamh, flags, opt, user, text) : try_code(pamh, flags, opt, user, text);
}

static int authenticate(pam_handle_t *pamh, int flags, const struct options *opt, const char *user)
{
    if (opt->nullok || opt->grace_period > 0) {
        switch (precheck(pamh, flags, opt, user)) {
        case NEED_NOTHING_GRACE:
            return PAM_SUCCESS;
        case NEED_NOTHING:
        case NEED_ENROLMENT:
            if (opt->nullok)
                return PAM_IGNORE; /* not prompted; PAM_AUTHTOK untouched */
            break;                 /* grace_period alone: prompt, so nothing shows */
        case NEED_CODE:
            break;
        case NEED_UNKNOWN:
            return PAM_AUTHINFO_UNAVAIL;
        }
    }

    /* The previous module's token, copied: setting PAM_AUTHTOK frees the original. */
    char *first = NULL;
    const void *item = NULL;
    if ((opt->use_first_pass || opt->try_first_pass) && pam_get_item(pamh, PAM_AUTHTOK, &item) == PAM_SUCCESS &&
        item != NULL) {
        first = strdup(item);
        if (first == NULL)
            return PAM_BUF_ERR;
    }
    int rc;
    if (opt->use_first_pass) {
        rc = first != NULL ? try_input(pamh, flags, opt, user, first) : PAM_AUTH_ERR;
        wipe_free(first);
        return rc;
    }
    if (first != NULL) {
        rc = try_input(pamh, flags, opt, user, first);
        wipe_free(first);
        if (rc != PAM_AUTH_ERR)
            return rc;
        /* try_first_pass: that token was not a good code; ask */
    }

    char *typed = NULL;
    int style = (opt->echo_code && !opt->forward_pass) ? PAM_PROMPT_ECHO_ON : PAM_PROMPT_ECHO_OFF;
    rc = ask(pamh, style, opt->prompt, &typed);
    if (rc == PAM_SUCCESS)
        rc = try_input(pamh, flags, opt, user, typed);
    wipe_free(typed);
    return rc;
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
    int rc = authenticate(pamh, flags, &opt, user);
    /* A refused code (or a refused guesser) waits before the application may ask
       again; a daemon that is down costs no more than its timeout. */
    if (rc == PAM_AUTH_ERR || rc == PAM_MAXTRIES)
        pam_fail_delay(pamh, FAIL_DELAY_USEC);
    if (opt.debug)
        pam_syslog(pamh, LOG_DEBUG, "user %s: %s", user, pam_strerror(pamh, rc));
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
