/* xtask's file-access observer: an LD_PRELOAD library that records every file-system access
 * of a tool's whole process tree into one trace file.
 *
 * Each record is one line, written with one write() to a file opened with O_APPEND, so the
 * lines of processes and threads never interleave:
 *
 *   <kind>\t<answer>\t<absolute path>\n
 *
 * kinds: i process start (answer: pid), r opened for reading (answer: the file's stamp
 * "mtime_ns:size:ino" when opened, "d" for a folder), w opened for writing or changed
 * (unlink, rename, mkdir, ...), c created (did not exist before the open), s probed (stat,
 * access, an open that failed; answer: "-" absent, "d" folder, "f:<stamp>" file, "e" exists,
 * "o" other), l listed (answer: "d:<mtime_ns>" of the folder, or "-"), k link read (answer:
 * its target or "-"), p path resolved by realpath (answer: the result or "-"),
 * x executed (answer: "ok", or why it cannot be followed), ! something the observer cannot
 * follow (answer: why).
 *
 * Rules kept here, learnt from BuildXL's sandbox and fsatrace: no malloc (a vfork child shares
 * its parent's heap), a reentrancy guard per thread (never a shared flag), the trace's own
 * writes are raw and not recorded, LD_PRELOAD and the trace variable are put back into any
 * environment a process passes on, and a static or setuid program (which the preload cannot
 * reach) is reported rather than silently missed. */

#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define TRACE_VAR "XTASK_TRACE_FILE"
#define LINE_MAX_BYTES 4000 /* below PIPE_BUF: one write() is one record */
#define TRACE_FD_MIN 767

extern char **environ;

static char trace_path[PATH_MAX];
static char preload_entry[PATH_MAX]; /* the LD_PRELOAD value we were started with */
static char self_path[PATH_MAX];     /* this library */
static int trace_fd = -1;
static dev_t trace_dev;
static ino_t trace_ino;
static __thread int busy __attribute__((tls_model("initial-exec")));

static long (*real_syscall)(long, ...);

static long raw(long n, long a, long b, long c, long d, long e, long f) {
    if (!real_syscall)
        real_syscall = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    return real_syscall(n, a, b, c, d, e, f);
}

#define REAL(ret, name, ...)                                                                   \
    static ret (*real_##name)(__VA_ARGS__);                                                    \
    static ret (*get_##name(void))(__VA_ARGS__) {                                              \
        if (!real_##name)                                                                      \
            real_##name = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name);                        \
        return real_##name;                                                                    \
    }

/* ---- the trace file ---------------------------------------------------------------------- */

static int open_trace(void) {
    if (!trace_path[0])
        return -1;
    int saved = errno;
    int fd = (int)raw(SYS_openat, AT_FDCWD, (long)trace_path,
                      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600, 0, 0);
    if (fd >= 0) {
        /* A high number: a tool that opens files gets low ones, so ours is rarely reused. */
        int high = (int)raw(SYS_fcntl, fd, F_DUPFD_CLOEXEC, TRACE_FD_MIN, 0, 0, 0);
        if (high >= 0) {
            raw(SYS_close, fd, 0, 0, 0, 0, 0);
            fd = high;
        }
        struct stat st;
        if (raw(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) == 0) {
            trace_dev = st.st_dev;
            trace_ino = st.st_ino;
        }
    }
    errno = saved;
    return fd;
}

/* Whether trace_fd is still our file: a tool may close every descriptor (subprocess does in
 * the child) and a later open may reuse the number. */
static int trace_fd_ok(void) {
    struct stat st;
    if (trace_fd < 0)
        return 0;
    if (raw(SYS_fstat, trace_fd, (long)&st, 0, 0, 0, 0) != 0)
        return 0;
    return st.st_dev == trace_dev && st.st_ino == trace_ino;
}

static void emit(const char *line, size_t len) {
    int saved = errno;
    if (!trace_fd_ok())
        trace_fd = open_trace();
    if (trace_fd >= 0)
        raw(SYS_write, trace_fd, (long)line, (long)len, 0, 0, 0);
    errno = saved;
}

static size_t put(char *buf, size_t at, const char *text) {
    size_t n = strlen(text);
    if (at + n >= LINE_MAX_BYTES)
        return LINE_MAX_BYTES;
    memcpy(buf + at, text, n);
    return at + n;
}

/* One record; a path too long for one atomic line becomes a "cannot follow" record. */
static void record(char kind, const char *answer, const char *path) {
    char line[LINE_MAX_BYTES + 8];
    size_t at = 0;
    line[at++] = kind;
    line[at++] = '\t';
    at = put(line, at, answer);
    if (at < LINE_MAX_BYTES)
        at = put(line, at, "\t");
    if (at < LINE_MAX_BYTES)
        at = put(line, at, path);
    if (at >= LINE_MAX_BYTES || strchr(path, '\n')) {
        at = 0;
        at = put(line, at, "!\ta path too long or with a newline\t-");
    }
    line[at++] = '\n';
    emit(line, at);
}

/* A pointer the compiler knows nothing about: libc declares most path arguments nonnull, and
 * a check of one against NULL would otherwise be optimised away (Rust's std probes statx with
 * a NULL path). */
static inline const char *launder(const char *p) {
    __asm__("" : "+r"(p));
    return p;
}

/* ---- paths ------------------------------------------------------------------------------- */

/* `path` made absolute against `dirfd` (AT_FDCWD: the working folder) into `out`. */
static const char *absolute(int dirfd, const char *path, char *out) {
    path = launder(path);
    if (!path)
        return NULL;
    if (path[0] == '/')
        return path;
    char base[PATH_MAX];
    long n;
    if (dirfd == AT_FDCWD) {
        n = raw(SYS_getcwd, (long)base, sizeof base, 0, 0, 0, 0);
        if (n <= 0)
            return path;
        n = (long)strlen(base);
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        n = raw(SYS_readlinkat, AT_FDCWD, (long)link, (long)base, sizeof base - 1, 0, 0);
        if (n <= 0)
            return path;
        base[n] = 0;
    }
    if (path[0] == 0) {
        snprintf(out, PATH_MAX, "%s", base);
        return out;
    }
    if ((size_t)n + strlen(path) + 2 > PATH_MAX)
        return path;
    snprintf(out, PATH_MAX, "%s/%s", n == 1 && base[0] == '/' ? "" : base, path);
    return out;
}

static const char *fd_path(int fd, char *out) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    long n = raw(SYS_readlinkat, AT_FDCWD, (long)link, (long)out, PATH_MAX - 1, 0, 0);
    if (n <= 0)
        return NULL;
    out[n] = 0;
    return out[0] == '/' ? out : NULL;
}

static void stamp_of(const struct stat *st, char *out, size_t size) {
    snprintf(out, size, "%lld:%lld:%llu", (long long)st->st_mtim.tv_sec * 1000000000LL +
             st->st_mtim.tv_nsec, (long long)st->st_size, (unsigned long long)st->st_ino);
}

/* The answer a probe got, from a stat result. */
static void answer_of(int failed, int err, const struct stat *st, char *out, size_t size) {
    if (failed) {
        snprintf(out, size, "%s", (err == ENOENT || err == ENOTDIR) ? "-" : "?");
    } else if (S_ISDIR(st->st_mode)) {
        snprintf(out, size, "d");
    } else if (S_ISREG(st->st_mode)) {
        char stamp[96];
        stamp_of(st, stamp, sizeof stamp);
        snprintf(out, size, "f:%s", stamp);
    } else if (S_ISLNK(st->st_mode)) {
        snprintf(out, size, "l");
    } else {
        snprintf(out, size, "o");
    }
}

static int enter(void) {
    if (busy || !trace_path[0])
        return 0;
    busy = 1;
    return 1;
}

static void leave(void) { busy = 0; }

/* ---- opens ------------------------------------------------------------------------------- */

static int existed_before(int dirfd, const char *path) {
    struct stat st;
    return raw(SYS_newfstatat, dirfd, (long)path, (long)&st, 0, 0, 0) == 0;
}

/* Records an open of `path` with `flags` that returned `fd` (with `err` when it failed);
 * `existed` says whether a creating open found the file already there. */
static void note_open(int dirfd, const char *path, int flags, int fd, int err, int existed) {
    path = launder(path);
    char buf[PATH_MAX];
    const char *abs = absolute(dirfd, path, buf);
    if (!abs)
        return;
    int access = flags & O_ACCMODE;
    if (flags & O_PATH) {
        struct stat st;
        int failed = fd < 0 || raw(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) != 0;
        char answer[128];
        answer_of(failed, fd < 0 ? err : errno, &st, answer, sizeof answer);
        record('s', answer, abs);
        return;
    }
    if (fd < 0) {
        if (access == O_RDONLY || !(flags & O_CREAT))
            record('s', (err == ENOENT || err == ENOTDIR) ? "-" : "?", abs);
        return;
    }
    int writes = access != O_RDONLY || (flags & (O_TRUNC | O_CREAT)) == (O_TRUNC | O_CREAT) ||
                 (flags & O_TRUNC);
    if ((flags & O_CREAT) && !existed) {
        record('c', "+", abs);
        return;
    }
    /* Content the process can read: reading-only opens and read-write opens that keep it. */
    if (access != O_WRONLY && !(flags & O_TRUNC)) {
        struct stat st;
        char answer[128] = "?";
        if (raw(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) == 0) {
            if (S_ISDIR(st.st_mode))
                snprintf(answer, sizeof answer, "d");
            else
                stamp_of(&st, answer, sizeof answer);
        }
        record('r', answer, abs);
    }
    if (writes)
        record('w', "+", abs);
}

REAL(int, open, const char *, int, ...)
REAL(int, open64, const char *, int, ...)
REAL(int, openat, int, const char *, int, ...)
REAL(int, openat64, int, const char *, int, ...)

static int traced_open(int dirfd, const char *path, int flags, mode_t mode,
                       int (*call)(int, const char *, int, mode_t)) {
    if (!enter())
        return call(dirfd, path, flags, mode);
    int existed = (flags & O_CREAT) ? existed_before(dirfd, path) : 1;
    int fd = call(dirfd, path, flags, mode);
    int err = errno;
    note_open(dirfd, path, flags, fd, err, existed);
    errno = err;
    leave();
    return fd;
}

static int via_open(int d, const char *p, int f, mode_t m) { (void)d; return get_open()(p, f, m); }
static int via_open64(int d, const char *p, int f, mode_t m) { (void)d; return get_open64()(p, f, m); }
static int via_openat(int d, const char *p, int f, mode_t m) { return get_openat()(d, p, f, m); }
static int via_openat64(int d, const char *p, int f, mode_t m) { return get_openat64()(d, p, f, m); }

#define MODE_ARG(flags)                                                                        \
    mode_t mode = 0;                                                                           \
    if ((flags) & (O_CREAT | __O_TMPFILE)) {                                                   \
        va_list ap;                                                                            \
        va_start(ap, flags);                                                                   \
        mode = va_arg(ap, mode_t);                                                             \
        va_end(ap);                                                                            \
    }

int open(const char *path, int flags, ...) {
    MODE_ARG(flags);
    return traced_open(AT_FDCWD, path, flags, mode, via_open);
}
int open64(const char *path, int flags, ...) {
    MODE_ARG(flags);
    return traced_open(AT_FDCWD, path, flags, mode, via_open64);
}
int openat(int dirfd, const char *path, int flags, ...) {
    MODE_ARG(flags);
    return traced_open(dirfd, path, flags, mode, via_openat);
}
int openat64(int dirfd, const char *path, int flags, ...) {
    MODE_ARG(flags);
    return traced_open(dirfd, path, flags, mode, via_openat64);
}
int __open_2(const char *path, int flags) { return traced_open(AT_FDCWD, path, flags, 0, via_open); }
int __open64_2(const char *path, int flags) { return traced_open(AT_FDCWD, path, flags, 0, via_open64); }
int __openat_2(int d, const char *path, int flags) { return traced_open(d, path, flags, 0, via_openat); }
int __openat64_2(int d, const char *path, int flags) { return traced_open(d, path, flags, 0, via_openat64); }
int creat(const char *path, mode_t mode) {
    return traced_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, via_open);
}
int creat64(const char *path, mode_t mode) {
    return traced_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, via_open64);
}

/* fopen's modes as open flags: glibc's fopen does not go through the interposable open. */
static int fopen_flags(const char *mode) {
    int plus = strchr(mode, '+') != NULL;
    switch (mode[0]) {
    case 'r': return plus ? O_RDWR : O_RDONLY;
    case 'w': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
    case 'a': return (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
    default: return O_RDONLY;
    }
}

static FILE *traced_fopen(const char *path, const char *mode, FILE *(*call)(const char *, const char *)) {
    path = launder(path);
    if (!path || !mode || !enter())
        return call(path, mode);
    int flags = fopen_flags(mode);
    int existed = (flags & O_CREAT) ? existed_before(AT_FDCWD, path) : 1;
    FILE *f = call(path, mode);
    int err = errno;
    note_open(AT_FDCWD, path, flags, f ? fileno(f) : -1, err, existed);
    errno = err;
    leave();
    return f;
}

REAL(FILE *, fopen, const char *, const char *)
REAL(FILE *, fopen64, const char *, const char *)
REAL(FILE *, freopen, const char *, const char *, FILE *)
REAL(FILE *, freopen64, const char *, const char *, FILE *)

static FILE *call_fopen(const char *p, const char *m) { return get_fopen()(p, m); }
static FILE *call_fopen64(const char *p, const char *m) { return get_fopen64()(p, m); }
FILE *fopen(const char *path, const char *mode) { return traced_fopen(path, mode, call_fopen); }
FILE *fopen64(const char *path, const char *mode) { return traced_fopen(path, mode, call_fopen64); }

static FILE *traced_freopen(const char *path, const char *mode, FILE *stream,
                            FILE *(*call)(const char *, const char *, FILE *)) {
    if (!path || !mode || !enter())
        return call(path, mode, stream);
    int flags = fopen_flags(mode);
    int existed = (flags & O_CREAT) ? existed_before(AT_FDCWD, path) : 1;
    FILE *f = call(path, mode, stream);
    int err = errno;
    note_open(AT_FDCWD, path, flags, f ? fileno(f) : -1, err, existed);
    errno = err;
    leave();
    return f;
}
FILE *freopen(const char *p, const char *m, FILE *s) { return traced_freopen(p, m, s, get_freopen()); }
FILE *freopen64(const char *p, const char *m, FILE *s) { return traced_freopen(p, m, s, get_freopen64()); }

/* ---- probes: the stat family, access, readlink, realpath --------------------------------- */

static void note_stat(int dirfd, const char *path, int rc, int err, const struct stat *st) {
    path = launder(path);
    char buf[PATH_MAX];
    const char *abs = absolute(dirfd, path, buf);
    if (!abs)
        return;
    char answer[128];
    answer_of(rc != 0, err, st, answer, sizeof answer);
    record('s', answer, abs);
}

#define STAT_WRAPPER(name, type, call_args, dirfd_expr, path_expr, st_expr, ...)               \
    REAL(int, name, __VA_ARGS__)                                                               \
    int name(__VA_ARGS__) {                                                                    \
        if (!enter())                                                                          \
            return get_##name() call_args;                                                     \
        int rc = get_##name() call_args;                                                       \
        int err = errno;                                                                       \
        const char *checked = launder(path_expr);                                             \
        if (checked && !(dirfd_expr != AT_FDCWD && ((const char *)path_expr)[0] == 0))      \
            note_stat(dirfd_expr, checked, rc, err, (const struct stat *)(st_expr));           \
        errno = err;                                                                           \
        leave();                                                                               \
        return rc;                                                                             \
    }

STAT_WRAPPER(stat, struct stat, (p, s), AT_FDCWD, p, s, const char *p, struct stat *s)
STAT_WRAPPER(lstat, struct stat, (p, s), AT_FDCWD, p, s, const char *p, struct stat *s)
STAT_WRAPPER(stat64, struct stat64, (p, s), AT_FDCWD, p, s, const char *p, struct stat64 *s)
STAT_WRAPPER(lstat64, struct stat64, (p, s), AT_FDCWD, p, s, const char *p, struct stat64 *s)
STAT_WRAPPER(fstatat, struct stat, (d, p, s, f), d, p, s, int d, const char *p, struct stat *s, int f)
STAT_WRAPPER(fstatat64, struct stat64, (d, p, s, f), d, p, s, int d, const char *p, struct stat64 *s, int f)
STAT_WRAPPER(__xstat, struct stat, (v, p, s), AT_FDCWD, p, s, int v, const char *p, struct stat *s)
STAT_WRAPPER(__lxstat, struct stat, (v, p, s), AT_FDCWD, p, s, int v, const char *p, struct stat *s)
STAT_WRAPPER(__xstat64, struct stat64, (v, p, s), AT_FDCWD, p, s, int v, const char *p, struct stat64 *s)
STAT_WRAPPER(__lxstat64, struct stat64, (v, p, s), AT_FDCWD, p, s, int v, const char *p, struct stat64 *s)
STAT_WRAPPER(__fxstatat, struct stat, (v, d, p, s, f), d, p, s, int v, int d, const char *p, struct stat *s, int f)
STAT_WRAPPER(__fxstatat64, struct stat64, (v, d, p, s, f), d, p, s, int v, int d, const char *p, struct stat64 *s, int f)

/* statx fills a struct statx; the answer is taken from a plain stat of the same path. */
static void note_statx(int dirfd, const char *path, int flags, int rc, int err) {
    path = launder(path);
    if (!path || (path[0] == 0 && dirfd != AT_FDCWD))
        return; /* fstat of an open descriptor: its open was recorded */
    struct stat st;
    int srflags = flags & (AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH);
    int failed = rc != 0;
    if (!failed && raw(SYS_newfstatat, dirfd, (long)path, (long)&st, srflags, 0, 0) != 0)
        failed = 1;
    note_stat(dirfd, path, failed ? -1 : 0, failed && rc != 0 ? err : ENOENT, &st);
}

REAL(int, statx, int, const char *, int, unsigned int, struct statx *)
int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *buf) {
    if (!enter())
        return get_statx()(dirfd, path, flags, mask, buf);
    int rc = get_statx()(dirfd, path, flags, mask, buf);
    int err = errno;
    note_statx(dirfd, path, flags, rc, err);
    errno = err;
    leave();
    return rc;
}

static void note_access(int dirfd, const char *path, int rc, int err) {
    path = launder(path);
    char buf[PATH_MAX];
    const char *abs = absolute(dirfd, path, buf);
    if (!abs)
        return;
    /* What exists is the answer's input; a permission answer rests on the mode, which any
     * rewrite of the file changes through its stamp. */
    struct stat st;
    if (raw(SYS_newfstatat, dirfd, (long)path, (long)&st, 0, 0, 0) == 0) {
        char answer[128];
        answer_of(0, 0, &st, answer, sizeof answer);
        record('s', answer, abs);
    } else {
        record('s', rc == 0 ? "e" : ((err == ENOENT || err == ENOTDIR) ? "-" : "?"), abs);
    }
}

/* A call that probes one path and returns 0 or -1, recorded by `note(dirfd, path, rc, err)`. */
#define PROBE_WRAPPER(name, note, call_args, dirfd_expr, path_expr, ...)                       \
    REAL(int, name, __VA_ARGS__)                                                               \
    int name(__VA_ARGS__) {                                                                    \
        if (!enter())                                                                          \
            return get_##name() call_args;                                                     \
        int rc = get_##name() call_args;                                                       \
        int err = errno;                                                                       \
        note(dirfd_expr, path_expr, rc, err);                                                  \
        errno = err;                                                                           \
        leave();                                                                               \
        return rc;                                                                             \
    }

PROBE_WRAPPER(access, note_access, (p, m), AT_FDCWD, p, const char *p, int m)
PROBE_WRAPPER(faccessat, note_access, (d, p, m, f), d, p, int d, const char *p, int m, int f)
PROBE_WRAPPER(euidaccess, note_access, (p, m), AT_FDCWD, p, const char *p, int m)
PROBE_WRAPPER(eaccess, note_access, (p, m), AT_FDCWD, p, const char *p, int m)

static void note_link(int dirfd, const char *path, ssize_t n, const char *target) {
    path = launder(path);
    char buf[PATH_MAX];
    const char *abs = absolute(dirfd, path, buf);
    if (!abs)
        return;
    char answer[PATH_MAX];
    if (n < 0) {
        snprintf(answer, sizeof answer, "-");
    } else {
        size_t len = (size_t)n < sizeof answer - 1 ? (size_t)n : sizeof answer - 1;
        memcpy(answer, target, len);
        answer[len] = 0;
        if (strchr(answer, '\t') || strchr(answer, '\n'))
            snprintf(answer, sizeof answer, "?");
    }
    record('k', answer, abs);
}

REAL(ssize_t, readlink, const char *, char *, size_t)
REAL(ssize_t, readlinkat, int, const char *, char *, size_t)
ssize_t readlink(const char *path, char *out, size_t size) {
    if (!enter())
        return get_readlink()(path, out, size);
    ssize_t n = get_readlink()(path, out, size);
    int err = errno;
    note_link(AT_FDCWD, path, n, out);
    errno = err;
    leave();
    return n;
}
ssize_t readlinkat(int dirfd, const char *path, char *out, size_t size) {
    if (!enter())
        return get_readlinkat()(dirfd, path, out, size);
    ssize_t n = get_readlinkat()(dirfd, path, out, size);
    int err = errno;
    note_link(dirfd, path, n, out);
    errno = err;
    leave();
    return n;
}

/* realpath resolves every link on the way with calls glibc makes internally: the answer is
 * the resolved path. */
REAL(char *, realpath, const char *, char *)
char *realpath(const char *path, char *resolved) {
    if (!enter())
        return get_realpath()(path, resolved);
    char *out = get_realpath()(path, resolved);
    int err = errno;
    path = launder(path);
    if (path) {
        char buf[PATH_MAX];
        const char *abs = absolute(AT_FDCWD, path, buf);
        if (abs) {
            char answer[PATH_MAX];
            snprintf(answer, sizeof answer, "%s", out ? out : "-");
            if (strchr(answer, '\t'))
                snprintf(answer, sizeof answer, "?");
            record('p', answer, abs);
        }
    }
    errno = err;
    leave();
    return out;
}

/* ---- listings ---------------------------------------------------------------------------- */

/* A listing, with the folder's mtime when listed: an entry added or removed changes it. */
static void note_listing(const char *abs, int ok) {
    if (!abs)
        return;
    struct stat st;
    char answer[64] = "-";
    if (ok && raw(SYS_newfstatat, AT_FDCWD, (long)abs, (long)&st, 0, 0, 0) == 0)
        snprintf(answer, sizeof answer, "d:%lld",
                 (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
    record('l', answer, abs);
}

REAL(DIR *, opendir, const char *)
REAL(DIR *, fdopendir, int)
DIR *opendir(const char *path) {
    if (!enter())
        return get_opendir()(path);
    DIR *d = get_opendir()(path);
    int err = errno;
    char buf[PATH_MAX];
    note_listing(launder(path) ? absolute(AT_FDCWD, path, buf) : NULL, d != NULL);
    errno = err;
    leave();
    return d;
}
DIR *fdopendir(int fd) {
    if (!enter())
        return get_fdopendir()(fd);
    DIR *d = get_fdopendir()(fd);
    int err = errno;
    char buf[PATH_MAX];
    if (d)
        note_listing(fd_path(fd, buf), 1);
    errno = err;
    leave();
    return d;
}

/* scandir and scandir64: a listing of `path`. */
#define SCAN_WRAPPER(name, entry)                                                              \
    REAL(int, name, const char *, struct entry ***, int (*)(const struct entry *),            \
         int (*)(const struct entry **, const struct entry **))                                \
    int name(const char *path, struct entry ***list, int (*filter)(const struct entry *),     \
             int (*compare)(const struct entry **, const struct entry **)) {                   \
        if (!enter())                                                                          \
            return get_##name()(path, list, filter, compare);                                  \
        int n = get_##name()(path, list, filter, compare);                                     \
        int err = errno;                                                                       \
        char buf[PATH_MAX];                                                                    \
        note_listing(launder(path) ? absolute(AT_FDCWD, path, buf) : NULL, n >= 0);           \
        errno = err;                                                                           \
        leave();                                                                               \
        return n;                                                                              \
    }

SCAN_WRAPPER(scandir, dirent)
SCAN_WRAPPER(scandir64, dirent64)

REAL(ssize_t, getdents64, int, void *, size_t)
ssize_t getdents64(int fd, void *buf, size_t size) {
    if (!enter())
        return get_getdents64()(fd, buf, size);
    ssize_t n = get_getdents64()(fd, buf, size);
    int err = errno;
    char path[PATH_MAX];
    note_listing(fd_path(fd, path), n >= 0);
    errno = err;
    leave();
    return n;
}

/* ---- changes: the run's own outputs ------------------------------------------------------ */

static void note_change(int dirfd, const char *path, int rc) {
    path = launder(path);
    if (rc != 0 || !path)
        return;
    char buf[PATH_MAX];
    const char *abs = absolute(dirfd, path, buf);
    if (abs)
        record('w', "+", abs);
}

#define CHANGE_WRAPPER(name, call_args, dirfd_expr, path_expr, ...)                            \
    REAL(int, name, __VA_ARGS__)                                                               \
    int name(__VA_ARGS__) {                                                                    \
        if (!enter())                                                                          \
            return get_##name() call_args;                                                     \
        int rc = get_##name() call_args;                                                       \
        int err = errno;                                                                       \
        note_change(dirfd_expr, path_expr, rc);                                                \
        errno = err;                                                                           \
        leave();                                                                               \
        return rc;                                                                             \
    }

CHANGE_WRAPPER(unlink, (p), AT_FDCWD, p, const char *p)
CHANGE_WRAPPER(unlinkat, (d, p, f), d, p, int d, const char *p, int f)
CHANGE_WRAPPER(rmdir, (p), AT_FDCWD, p, const char *p)
CHANGE_WRAPPER(mkdir, (p, m), AT_FDCWD, p, const char *p, mode_t m)
CHANGE_WRAPPER(mkdirat, (d, p, m), d, p, int d, const char *p, mode_t m)
CHANGE_WRAPPER(truncate, (p, l), AT_FDCWD, p, const char *p, off_t l)
CHANGE_WRAPPER(chmod, (p, m), AT_FDCWD, p, const char *p, mode_t m)
CHANGE_WRAPPER(utimensat, (d, p, t, f), d, p, int d, const char *p, const struct timespec t[2], int f)
CHANGE_WRAPPER(symlink, (t, p), AT_FDCWD, p, const char *t, const char *p)
CHANGE_WRAPPER(symlinkat, (t, d, p), d, p, const char *t, int d, const char *p)

#define RENAME_WRAPPER(name, call_args, from_dir, from, to_dir, to, ...)                       \
    REAL(int, name, __VA_ARGS__)                                                               \
    int name(__VA_ARGS__) {                                                                    \
        if (!enter())                                                                          \
            return get_##name() call_args;                                                     \
        int rc = get_##name() call_args;                                                       \
        int err = errno;                                                                       \
        note_change(from_dir, from, rc);                                                       \
        note_change(to_dir, to, rc);                                                           \
        errno = err;                                                                           \
        leave();                                                                               \
        return rc;                                                                             \
    }

RENAME_WRAPPER(rename, (a, b), AT_FDCWD, a, AT_FDCWD, b, const char *a, const char *b)
RENAME_WRAPPER(renameat, (da, a, db, b), da, a, db, b, int da, const char *a, int db, const char *b)
RENAME_WRAPPER(renameat2, (da, a, db, b, f), da, a, db, b, int da, const char *a, int db,
               const char *b, unsigned int f)
RENAME_WRAPPER(link, (a, b), AT_FDCWD, a, AT_FDCWD, b, const char *a, const char *b)
RENAME_WRAPPER(linkat, (da, a, db, b, f), da, a, db, b, int da, const char *a, int db,
               const char *b, int f)

/* ---- programs ---------------------------------------------------------------------------- */

/* Why the preload cannot follow the program at `path` ("ok" when it can): a setuid or setgid
 * program drops LD_PRELOAD, a static one never loads it. A `#!` script is followed through
 * its interpreter, which is recorded as executed too. */
static void check_program(const char *path, int depth) {
    int fd = (int)raw(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
    if (fd < 0)
        return; /* the exec fails; its probe says so */
    struct stat st;
    const char *why = "ok";
    unsigned char head[4096];
    long n = 0;
    if (raw(SYS_fstat, fd, (long)&st, 0, 0, 0, 0) == 0 && (st.st_mode & (S_ISUID | S_ISGID)))
        why = "a setuid or setgid program, which drops LD_PRELOAD";
    else
        n = raw(SYS_pread64, fd, (long)head, sizeof head, 0, 0, 0);
    raw(SYS_close, fd, 0, 0, 0, 0, 0);
    char interp[PATH_MAX] = "";
    if (n >= 2 && head[0] == '#' && head[1] == '!') {
        long i = 2, j = 0;
        while (i < n && (head[i] == ' ' || head[i] == '\t'))
            i++;
        while (i < n && head[i] != ' ' && head[i] != '\t' && head[i] != '\n' && j < PATH_MAX - 1)
            interp[j++] = (char)head[i++];
        interp[j] = 0;
    } else if (n >= (long)sizeof(Elf64_Ehdr) && memcmp(head, ELFMAG, SELFMAG) == 0 &&
               head[EI_CLASS] == ELFCLASS64) {
        const Elf64_Ehdr *eh = (const Elf64_Ehdr *)head;
        int dynamic = 0;
        for (int i = 0; i < eh->e_phnum; i++) {
            size_t off = eh->e_phoff + (size_t)i * eh->e_phentsize;
            if (off + sizeof(Elf64_Phdr) > (size_t)n)
                break;
            const Elf64_Phdr *ph = (const Elf64_Phdr *)(head + off);
            if (ph->p_type == PT_INTERP)
                dynamic = 1;
        }
        if (!dynamic)
            why = "a statically linked program, which never loads LD_PRELOAD";
    } else if (n >= 4 && memcmp(head, ELFMAG, SELFMAG) == 0) {
        why = "a 32-bit program, which cannot load the observer";
    }
    record('x', why, path);
    if (interp[0] == '/' && depth < 4)
        check_program(interp, depth + 1);
}

/* Finds `file` on PATH as execvp does, recording each place looked at; the found path goes
 * into `out`. */
static const char *search_path(const char *file, const char *path_var, char *out) {
    if (strchr(file, '/'))
        return file;
    const char *p = path_var ? path_var : "/bin:/usr/bin";
    while (*p) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            snprintf(out, PATH_MAX, "%s", file);
        else
            snprintf(out, PATH_MAX, "%.*s/%s", (int)len, p, file);
        struct stat st;
        char buf[PATH_MAX];
        const char *abs = absolute(AT_FDCWD, out, buf);
        int rc = (int)raw(SYS_newfstatat, AT_FDCWD, (long)out, (long)&st, 0, 0, 0);
        if (abs) {
            char answer[128];
            answer_of(rc != 0, ENOENT, &st, answer, sizeof answer);
            record('s', answer, abs);
        }
        if (rc == 0 && S_ISREG(st.st_mode) && raw(SYS_faccessat, AT_FDCWD, (long)out, X_OK, 0, 0, 0) == 0)
            return out;
        if (!end)
            break;
        p = end + 1;
    }
    return NULL;
}

/* The environment to pass on: `envp` with LD_PRELOAD and the trace variable put back when a
 * tool left them out (BuildXL and fsatrace do the same). `slots` has room for the copy. */
static char *const *with_observer(char *const *envp, char **slots, size_t room, char *preload_buf,
                                  char *trace_buf) {
    if (!trace_path[0] || !envp)
        return envp;
    size_t n = 0, at = 0;
    int has_trace = 0;
    const char *preload = NULL;
    for (; envp[n]; n++) {
        if (strncmp(envp[n], TRACE_VAR "=", sizeof TRACE_VAR) == 0)
            has_trace = strcmp(envp[n] + sizeof TRACE_VAR, trace_path) == 0;
        else if (strncmp(envp[n], "LD_PRELOAD=", 11) == 0)
            preload = envp[n] + 11;
    }
    if (has_trace && preload && strstr(preload, self_path))
        return envp;
    if (n + 3 > room)
        return envp;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(envp[i], TRACE_VAR "=", sizeof TRACE_VAR) == 0 ||
            strncmp(envp[i], "LD_PRELOAD=", 11) == 0)
            continue;
        slots[at++] = envp[i];
    }
    snprintf(trace_buf, PATH_MAX + 32, "%s=%s", TRACE_VAR, trace_path);
    slots[at++] = trace_buf;
    if (preload && preload[0] && !strstr(preload, self_path))
        snprintf(preload_buf, 2 * PATH_MAX + 16, "LD_PRELOAD=%s:%s", self_path, preload);
    else
        snprintf(preload_buf, 2 * PATH_MAX + 16, "LD_PRELOAD=%s", preload_entry);
    slots[at++] = preload_buf;
    slots[at] = NULL;
    return slots;
}

static size_t env_count(char *const *envp) {
    size_t n = 0;
    while (envp && envp[n])
        n++;
    return n;
}

static const char *env_lookup(char *const *envp, const char *name) {
    size_t len = strlen(name);
    for (size_t i = 0; envp && envp[i]; i++)
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
            return envp[i] + len + 1;
    return NULL;
}

/* Records the program a process is about to run. */
static void note_exec(const char *path) {
    path = launder(path);
    char buf[PATH_MAX];
    const char *abs = absolute(AT_FDCWD, path, buf);
    if (!abs)
        return;
    struct stat st;
    if (raw(SYS_newfstatat, AT_FDCWD, (long)abs, (long)&st, 0, 0, 0) != 0) {
        record('s', "-", abs);
        return;
    }
    check_program(abs, 0);
}

REAL(int, execve, const char *, char *const[], char *const[])
REAL(int, execvpe, const char *, char *const[], char *const[])
REAL(int, posix_spawn, pid_t *, const char *, const posix_spawn_file_actions_t *,
     const posix_spawnattr_t *, char *const[], char *const[])
REAL(int, posix_spawnp, pid_t *, const char *, const posix_spawn_file_actions_t *,
     const posix_spawnattr_t *, char *const[], char *const[])

#define ENV_SLOTS(envp)                                                                        \
    size_t room = env_count(envp) + 3;                                                         \
    char **slots = __builtin_alloca(room * sizeof(char *));                                    \
    char preload_buf[2 * PATH_MAX + 16];                                                       \
    char trace_buf[PATH_MAX + 32];

int execve(const char *path, char *const argv[], char *const envp[]) {
    ENV_SLOTS(envp);
    char *const *env = with_observer(envp, slots, room, preload_buf, trace_buf);
    if (enter()) {
        note_exec(path);
        leave();
    }
    return get_execve()(path, argv, env);
}

int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }

int execvpe(const char *file, char *const argv[], char *const envp[]) {
    ENV_SLOTS(envp);
    char *const *env = with_observer(envp, slots, room, preload_buf, trace_buf);
    if (enter()) {
        char found[PATH_MAX];
        const char *path = search_path(file, env_lookup(environ, "PATH"), found);
        if (path)
            note_exec(path);
        leave();
    }
    return get_execvpe()(file, argv, env);
}

int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

#define VA_ARGV(first, argv)                                                                   \
    size_t argc = 1;                                                                           \
    va_list count;                                                                             \
    va_start(count, first);                                                                    \
    while (va_arg(count, char *))                                                              \
        argc++;                                                                                \
    va_end(count);                                                                             \
    char **argv = __builtin_alloca((argc + 1) * sizeof(char *));                               \
    va_list ap;                                                                                \
    va_start(ap, first);                                                                       \
    argv[0] = (char *)first;                                                                   \
    for (size_t i = 1; i <= argc; i++)                                                         \
        argv[i] = va_arg(ap, char *);

int execl(const char *path, const char *arg, ...) {
    VA_ARGV(arg, argv);
    va_end(ap);
    return execve(path, argv, environ);
}

int execlp(const char *file, const char *arg, ...) {
    VA_ARGV(arg, argv);
    va_end(ap);
    return execvpe(file, argv, environ);
}

int execle(const char *path, const char *arg, ...) {
    VA_ARGV(arg, argv);
    char *const *envp = va_arg(ap, char *const *);
    va_end(ap);
    return execve(path, argv, envp);
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    ENV_SLOTS(envp);
    char *const *env = with_observer(envp, slots, room, preload_buf, trace_buf);
    if (enter()) {
        note_exec(path);
        leave();
    }
    return get_posix_spawn()(pid, path, actions, attr, argv, env);
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    ENV_SLOTS(envp);
    char *const *env = with_observer(envp, slots, room, preload_buf, trace_buf);
    if (enter()) {
        char found[PATH_MAX];
        const char *path = search_path(file, env_lookup(environ, "PATH"), found);
        if (path)
            note_exec(path);
        leave();
    }
    return get_posix_spawnp()(pid, file, actions, attr, argv, env);
}

/* ---- libraries --------------------------------------------------------------------------- */

REAL(void *, dlopen, const char *, int)
void *dlopen(const char *file, int mode) {
    void *handle = get_dlopen()(file, mode);
    if (handle && file && enter()) {
        struct link_map *map = NULL;
        if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && map->l_name[0] == '/') {
            struct stat st;
            char answer[128] = "?";
            if (raw(SYS_newfstatat, AT_FDCWD, (long)map->l_name, (long)&st, 0, 0, 0) == 0)
                stamp_of(&st, answer, sizeof answer);
            record('r', answer, map->l_name);
        }
        leave();
    }
    return handle;
}

/* Objects the loader mapped before we ran (its opens are not interposable). */
static int note_loaded(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    if (info->dlpi_name && info->dlpi_name[0] == '/' && strcmp(info->dlpi_name, self_path) != 0) {
        struct stat st;
        char answer[128] = "?";
        if (raw(SYS_newfstatat, AT_FDCWD, (long)info->dlpi_name, (long)&st, 0, 0, 0) == 0)
            stamp_of(&st, answer, sizeof answer);
        record('r', answer, info->dlpi_name);
    }
    return 0;
}

/* ---- raw system calls -------------------------------------------------------------------- */

/* node's libuv calls some file system calls through syscall(2), bypassing their wrappers. */
long syscall(long number, ...) {
    va_list ap;
    va_start(ap, number);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long);
    long d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    if (!enter())
        return raw(number, a, b, c, d, e, f);
    long rc = raw(number, a, b, c, d, e, f);
    int err = errno;
    switch (number) {
    case SYS_statx:
        note_statx((int)a, (const char *)b, (int)c, rc == 0 ? 0 : -1, err);
        break;
    case SYS_open:
        note_open(AT_FDCWD, (const char *)a, (int)b, (int)rc, err, 1);
        break;
    case SYS_openat:
        note_open((int)a, (const char *)b, (int)c, (int)rc, err, 1);
        break;
    case SYS_newfstatat:
        if (launder((const char *)b) && !(((const char *)b)[0] == 0 && (int)a != AT_FDCWD))
            note_stat((int)a, (const char *)b, (int)rc, err, (const struct stat *)c);
        break;
    case SYS_stat:
    case SYS_lstat:
        note_stat(AT_FDCWD, (const char *)a, (int)rc, err, (const struct stat *)b);
        break;
    case SYS_access:
        note_access(AT_FDCWD, (const char *)a, (int)rc, err);
        break;
    case SYS_faccessat:
    case SYS_faccessat2:
        note_access((int)a, (const char *)b, (int)rc, err);
        break;
    case SYS_getdents64: {
        char path[PATH_MAX];
        note_listing(fd_path((int)a, path), rc >= 0);
        break;
    }
    case SYS_execve:
        record('!', "an execve made through syscall(2)", "-");
        break;
    default:
        break;
    }
    errno = err;
    leave();
    return rc;
}

/* ---- start ------------------------------------------------------------------------------- */

__attribute__((constructor)) static void start(void) {
    const char *trace = getenv(TRACE_VAR);
    const char *preload = getenv("LD_PRELOAD");
    if (!trace || !trace[0] || strlen(trace) >= sizeof trace_path)
        return;
    Dl_info info;
    if (dladdr((void *)start, &info) && info.dli_fname)
        snprintf(self_path, sizeof self_path, "%s", info.dli_fname);
    snprintf(preload_entry, sizeof preload_entry, "%s", preload ? preload : self_path);
    snprintf(trace_path, sizeof trace_path, "%s", trace);
    busy = 1;
    char exe[PATH_MAX];
    long n = raw(SYS_readlinkat, AT_FDCWD, (long)"/proc/self/exe", (long)exe, sizeof exe - 1, 0, 0);
    exe[n > 0 ? n : 0] = 0;
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)raw(SYS_getpid, 0, 0, 0, 0, 0, 0));
    record('i', pid, exe[0] ? exe : "-");
    dl_iterate_phdr(note_loaded, NULL);
    busy = 0;
}
