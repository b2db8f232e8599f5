/*
 * Test driver for pam_otpgate.
 *
 *   pam_driver exports MODULE.so
 *       dlopens the module: the pam_sm_* entry points must resolve and no internal
 *       function may. Exit 0 when that holds.
 *   pam_driver auth CONFDIR SERVICE USER [options]
 *       pam_start_confdir(SERVICE, USER, conv, CONFDIR), then pam_authenticate.
 *       Prints "stack=<PAM_NAME>", every conversation message as "msg=<text>",
 *       and, with --raw MODULE.so ARGS..., also calls the module's
 *       pam_sm_authenticate directly on the same handle: "raw=<PAM_NAME>".
 *   options: --answer TEXT   what the conversation answers; repeat it for several
 *                            prompts in turn, the last one answers every later
 *                            prompt (default: the conversation fails)
 *            --rhost TEXT    set PAM_RHOST;  --silent  pass PAM_SILENT
 *            --close-stdin   close descriptor 0 first (the module's socket must
 *                            still land at 3 or above)
 *            --clock-fails   clock_gettime(CLOCK_MONOTONIC) fails with EINVAL
 *   Besides, it prints what the module does through libc and libpam, by defining
 *   symbols that the module and libpam then bind to (the driver is linked with
 *   -rdynamic):
 *       "prompt=<text>" / "prompt_echo=<text>"  an echo-off / echo-on prompt
 *       "log=<text>"                            every pam_syslog line
 *       "connect=<fd> <errno name>"             every connect() call
 *       "delay=<usec> status=<PAM_NAME>"        the fail delay libpam would apply
 *       "getpwnam=<name>"                       every getpwnam_r() call
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <security/pam_appl.h>
#include <security/pam_modules.h>

#define MAX_ANSWERS 8
static const char *answers[MAX_ANSWERS];
static int answer_count = 0, answers_used = 0;
static bool clock_fails = false;

static const char *rc_name(int rc)
{
    switch (rc) {
    case PAM_SUCCESS: return "PAM_SUCCESS";
    case PAM_AUTH_ERR: return "PAM_AUTH_ERR";
    case PAM_MAXTRIES: return "PAM_MAXTRIES";
    case PAM_IGNORE: return "PAM_IGNORE";
    case PAM_AUTHINFO_UNAVAIL: return "PAM_AUTHINFO_UNAVAIL";
    case PAM_USER_UNKNOWN: return "PAM_USER_UNKNOWN";
    case PAM_CONV_ERR: return "PAM_CONV_ERR";
    case PAM_PERM_DENIED: return "PAM_PERM_DENIED";
    case PAM_BUF_ERR: return "PAM_BUF_ERR";
    case PAM_SYSTEM_ERR: return "PAM_SYSTEM_ERR";
    default: return "PAM_OTHER";
    }
}

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
    (void)data;
    struct pam_response *r = calloc((size_t)n, sizeof *r);
    if (r == NULL)
        return PAM_BUF_ERR;
    for (int i = 0; i < n; i++) {
        switch (msg[i]->msg_style) {
        case PAM_PROMPT_ECHO_OFF:
        case PAM_PROMPT_ECHO_ON:
            printf("%s=%s\n", msg[i]->msg_style == PAM_PROMPT_ECHO_ON ? "prompt_echo" : "prompt", msg[i]->msg);
            fflush(stdout);
            if (answer_count == 0) {
                free(r);
                return PAM_CONV_ERR;
            }
            r[i].resp = strdup(answers[answers_used < answer_count ? answers_used : answer_count - 1]);
            answers_used++;
            break;
        default:
            printf("msg=%s\n", msg[i]->msg);
        }
    }
    *resp = r;
    return PAM_SUCCESS;
}

/* libpam's pam_syslog ends in this (glibc's syslog with _FORTIFY_SOURCE). */
void __syslog_chk(int priority, int flag, const char *format, ...);
void __syslog_chk(int priority, int flag, const char *format, ...)
{
    (void)priority;
    (void)flag;
    va_list ap;
    va_start(ap, format);
    printf("log=");
    vprintf(format, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    static int (*real)(int, const struct sockaddr *, socklen_t) = NULL;
    if (real == NULL)
        real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    int rc = real(fd, addr, len);
    int saved = errno;
    printf("connect=%d %s\n", fd, rc == 0 ? "ok" : strerrorname_np(saved));
    fflush(stdout);
    errno = saved;
    return rc;
}

int clock_gettime(clockid_t clock, struct timespec *ts)
{
    static int (*real)(clockid_t, struct timespec *) = NULL;
    if (clock_fails && clock == CLOCK_MONOTONIC) {
        errno = EINVAL;
        return -1;
    }
    if (real == NULL)
        real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    return real(clock, ts);
}

int getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t size, struct passwd **result)
{
    static int (*real)(const char *, struct passwd *, char *, size_t, struct passwd **) = NULL;
    if (real == NULL)
        real = (int (*)(const char *, struct passwd *, char *, size_t, struct passwd **))dlsym(RTLD_NEXT, "getpwnam_r");
    printf("getpwnam=%s\n", name);
    fflush(stdout);
    return real(name, pwd, buf, size, result);
}

static void fail_delay(int status, unsigned int usec, void *data)
{
    (void)data;
    printf("delay=%u status=%s\n", usec, rc_name(status));
}

static int check_exports(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    int bad = 0;
    const char *wanted[] = { "pam_sm_authenticate", "pam_sm_setcred" };
    const char *hidden[] = { "verify", "parse_reply", "build_request", "connect_daemon", "user_name_ok",
                             "parse_options", "read_line", "send_all", "find_candidates", "try_combined",
                             "precheck", "exchange", "ask" };
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++)
        if (dlsym(h, wanted[i]) == NULL) {
            printf("missing export %s\n", wanted[i]);
            bad = 1;
        }
    for (size_t i = 0; i < sizeof hidden / sizeof *hidden; i++)
        if (dlsym(h, hidden[i]) != NULL) {
            printf("internal symbol exported: %s\n", hidden[i]);
            bad = 1;
        }
    dlclose(h);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "exports") == 0)
        return check_exports(argv[2]);
    if (argc < 5 || strcmp(argv[1], "auth") != 0) {
        fprintf(stderr, "usage: see the comment at the top of pam_driver.c\n");
        return 2;
    }
    const char *confdir = argv[2], *service = argv[3], *user = argv[4];
    const char *rhost = NULL, *raw = NULL;
    int flags = 0, raw_argc = 0;
    const char **raw_argv = NULL;
    for (int i = 5; i < argc; i++) {
        if (strcmp(argv[i], "--answer") == 0 && i + 1 < argc && answer_count < MAX_ANSWERS) answers[answer_count++] = argv[++i];
        else if (strcmp(argv[i], "--close-stdin") == 0) {
            close(0);
            int probe = dup(1); /* where a new descriptor would land */
            printf("lowest_free_fd=%d\n", probe);
            close(probe);
        }
        else if (strcmp(argv[i], "--clock-fails") == 0) clock_fails = true;
        else if (strcmp(argv[i], "--rhost") == 0 && i + 1 < argc) rhost = argv[++i];
        else if (strcmp(argv[i], "--silent") == 0) flags |= PAM_SILENT;
        else if (strcmp(argv[i], "--raw") == 0 && i + 1 < argc) {
            raw = argv[++i];
            raw_argv = (const char **)&argv[i + 1];
            raw_argc = argc - i - 1;
            break;
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }

    struct pam_conv c = { conv, NULL };
    pam_handle_t *pamh = NULL;
    int rc = pam_start_confdir(service, user, &c, confdir, &pamh);
    if (rc != PAM_SUCCESS) {
        fprintf(stderr, "pam_start_confdir: %s\n", rc_name(rc));
        return 2;
    }
    if (rhost) pam_set_item(pamh, PAM_RHOST, rhost);
    pam_set_item(pamh, PAM_FAIL_DELAY, (const void *)fail_delay);
    pam_set_item(pamh, PAM_TTY, "pts/9");

    if (raw != NULL) {
        void *h = dlopen(raw, RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 2;
        }
        int (*authenticate)(pam_handle_t *, int, int, const char **) =
            (int (*)(pam_handle_t *, int, int, const char **))dlsym(h, "pam_sm_authenticate");
        int r = authenticate(pamh, flags, raw_argc, raw_argv);
        printf("raw=%s\n", rc_name(r));
    } else {
        rc = pam_authenticate(pamh, flags);
        printf("stack=%s\n", rc_name(rc));
    }
    pam_end(pamh, rc);
    return 0;
}
