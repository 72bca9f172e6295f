/* hafs_cli._cwalk: list one directory into `file` records, without the GIL.
 *
 * The optional fast path of hafs_cli/fs/walk.py (Walker.scan_dir). For each entry of
 * one directory it does what the Python loop does with os.scandir + DirEntry.stat:
 * one fstatat(AT_SYMLINK_NOFOLLOW) per regular file, and writes the `file` record as
 * JSON Lines into one buffer, byte for byte what records.dumps(Walker.file_record(...))
 * writes. Everything it does not format itself comes back to Python as (name, code,
 * errno): subdirectories, symlinks, other kinds, stat errors, and regular files whose
 * path needs JSON escaping or whose extension is not ASCII (the Python code handles
 * those exactly as before). No Python object is touched while the directory is read,
 * so the GIL is released for the whole listing and walker threads overlap.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "_cgrow.h"

/* codes of the entries handed back to Python */
#define CODE_FILE 'f'    /* a regular file Python formats (escaping, non-ASCII extension) */
#define CODE_DIR 'd'
#define CODE_LINK 'l'
#define CODE_OTHER 'o'
#define CODE_ERROR 'e'   /* lstat failed: errno given */

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static int buf_reserve(Buf *b, size_t more) {
    char *p = grow(b->data, &b->cap, b->len + more, 1, 16384);
    if (!p)
        return -1;
    b->data = p;
    return 0;
}

static int buf_add(Buf *b, const char *s, size_t n) {
    if (buf_reserve(b, n))
        return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

typedef struct {
    size_t name_off; /* offset of the NUL-terminated name in the names buffer */
    int code;
    int err;
} Rest;

typedef struct {
    size_t name_off;   /* as in Rest */
    size_t start, end; /* the record's bytes in the output */
    long long size;
} Span;

/* Valid UTF-8 (as Python's strict decoder accepts it) with no byte that JSON escapes. */
static int json_safe(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if (c < 0x20 || c == '"' || c == '\\')
                return 0;
            i++;
            continue;
        }
        size_t need;
        unsigned int cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + need >= n) /* the sequence runs past the end */
            return 0;
        for (size_t k = 1; k <= need; k++) {
            unsigned char t = s[i + k];
            if ((t & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (t & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* Append `file` record bytes; 0, or 1 when Python must format it, -1 out of memory. */
static int add_record(Buf *out, const char *dir, size_t dlen, int slash, const char *name,
                      size_t nlen, const struct stat *st, const char *host, size_t hlen) {
    /* the extension: after the last dot, unless the name starts with it; ASCII only */
    const char *ext = "";
    size_t elen = 0;
    const char *dot = NULL;
    for (size_t i = nlen; i > 0; i--) {
        if (name[i - 1] == '.') {
            dot = name + i - 1;
            break;
        }
    }
    if (dot && dot > name) {
        ext = dot + 1;
        elen = nlen - (size_t)(ext - name);
        for (size_t i = 0; i < elen; i++)
            if ((unsigned char)ext[i] >= 0x80)
                return 1; /* Python lower-cases non-ASCII */
    }
    long long msec = (long long)st->st_mtim.tv_sec, csec = (long long)st->st_ctim.tv_sec;
    const long long lim = 9000000000LL; /* seconds that fit in int64 nanoseconds */
    if (msec > lim || msec < -lim || csec > lim || csec < -lim)
        return 1;
    long long mtime_ns = msec * 1000000000LL + st->st_mtim.tv_nsec;
    long long ctime_ns = csec * 1000000000LL + st->st_ctim.tv_nsec;
    if (buf_reserve(out, dlen + nlen + elen + hlen + 320))
        return -1;
    char *p = out->data + out->len;
    static const char head[] = "{\"kind\":\"file\",\"path\":\"";
    memcpy(p, head, sizeof head - 1);
    p += sizeof head - 1;
    memcpy(p, dir, dlen);
    p += dlen;
    if (slash)
        *p++ = '/';
    memcpy(p, name, nlen);
    p += nlen;
    p += sprintf(p,
                 "\",\"size\":%lld,\"mtime_ns\":%lld,\"ctime_ns\":%lld,\"dev\":%llu,"
                 "\"inode\":%llu,\"nlink\":%llu,\"mode\":%u,\"extension\":\"",
                 (long long)st->st_size, mtime_ns, ctime_ns, (unsigned long long)st->st_dev,
                 (unsigned long long)st->st_ino, (unsigned long long)st->st_nlink,
                 (unsigned)st->st_mode);
    for (size_t i = 0; i < elen; i++) {
        char c = ext[i];
        *p++ = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    static const char mid[] = "\",\"host\":";
    memcpy(p, mid, sizeof mid - 1);
    p += sizeof mid - 1;
    memcpy(p, host, hlen);
    p += hlen;
    *p++ = '}';
    *p++ = '\n';
    out->len = (size_t)(p - out->data);
    return 0;
}

static PyObject *list_dir(PyObject *self, PyObject *args) {
    const char *dir, *host;
    Py_ssize_t dlen, hlen;
    int hidden, want_spans = 0;
    PyObject *path_obj;
    if (!PyArg_ParseTuple(args, "Sy#p|p", &path_obj, &host, &hlen, &hidden, &want_spans))
        return NULL;
    dir = PyBytes_AS_STRING(path_obj);
    dlen = PyBytes_GET_SIZE(path_obj);
    if ((Py_ssize_t)strlen(dir) != dlen) {
        PyErr_SetString(PyExc_ValueError, "embedded null byte in path");
        return NULL;
    }
    int slash = !(dlen > 0 && dir[dlen - 1] == '/');
    int dir_safe = json_safe((const unsigned char *)dir, (size_t)dlen);

    Buf out = {0}, names = {0};
    Rest *rest = NULL;
    size_t nrest = 0, caprest = 0;
    Span *spans = NULL;
    size_t nspans = 0, capspans = 0;
    long long files = 0, total = 0;
    int err = 0, oom = 0;

    Py_BEGIN_ALLOW_THREADS
    DIR *d = opendir(dir);
    if (!d) {
        err = errno;
    } else {
        int dfd = dirfd(d);
        for (;;) {
            errno = 0;
            struct dirent *e = readdir(d);
            if (!e) {
                err = errno;
                break;
            }
            const char *name = e->d_name;
            if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)))
                continue;
            if (!hidden && name[0] == '.')
                continue;
            size_t nlen = strlen(name);
            int code = 0, eno = 0;
            struct stat st;
            unsigned char t = e->d_type;
            if (t == DT_REG || t == DT_UNKNOWN) {
                if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                    code = CODE_ERROR;
                    eno = errno;
                } else if (S_ISREG(st.st_mode)) {
                    int r = 1;
                    size_t start = out.len;
                    if (dir_safe && json_safe((const unsigned char *)name, nlen))
                        r = add_record(&out, dir, (size_t)dlen, slash, name, nlen, &st, host,
                                       (size_t)hlen);
                    if (r < 0) {
                        oom = 1;
                        break;
                    }
                    if (r == 0) {
                        files++;
                        total += (long long)st.st_size;
                        if (!want_spans)
                            continue;
                        Span *sp = grow(spans, &capspans, nspans + 1, sizeof *spans, 64);
                        if (!sp) {
                            oom = 1;
                            break;
                        }
                        spans = sp;
                        spans[nspans].name_off = names.len;
                        spans[nspans].start = start;
                        spans[nspans].end = out.len;
                        spans[nspans].size = (long long)st.st_size;
                        nspans++;
                        if (buf_add(&names, name, nlen + 1)) {
                            oom = 1;
                            break;
                        }
                        continue;
                    }
                    code = CODE_FILE;
                } else if (S_ISDIR(st.st_mode)) {
                    code = CODE_DIR;
                } else if (S_ISLNK(st.st_mode)) {
                    code = CODE_LINK;
                } else {
                    code = CODE_OTHER;
                }
            } else if (t == DT_DIR) {
                code = CODE_DIR;
            } else if (t == DT_LNK) {
                code = CODE_LINK;
            } else {
                code = CODE_OTHER;
            }
            Rest *grown = grow(rest, &caprest, nrest + 1, sizeof *rest, 64);
            if (!grown) {
                oom = 1;
                break;
            }
            rest = grown;
            rest[nrest].name_off = names.len;
            rest[nrest].code = code;
            rest[nrest].err = eno;
            if (buf_add(&names, name, nlen + 1)) {
                oom = 1;
                break;
            }
            nrest++;
        }
        closedir(d);
    }
    Py_END_ALLOW_THREADS

    PyObject *result = NULL, *blob = NULL, *lst = NULL, *spl = NULL;
    if (oom) {
        PyErr_NoMemory();
        goto done;
    }
    if (err) {
        errno = err;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path_obj);
        goto done;
    }
    blob = PyBytes_FromStringAndSize(out.data ? out.data : "", (Py_ssize_t)out.len);
    lst = PyList_New((Py_ssize_t)nrest);
    if (!blob || !lst)
        goto done;
    for (size_t i = 0; i < nrest; i++) {
        const char *name = names.data + rest[i].name_off;
        PyObject *item = Py_BuildValue("(y#Ci)", name, (Py_ssize_t)strlen(name), rest[i].code,
                                       rest[i].err);
        if (!item)
            goto done;
        PyList_SET_ITEM(lst, (Py_ssize_t)i, item);
    }
    if (want_spans) {
        spl = PyList_New((Py_ssize_t)nspans);
        if (!spl)
            goto done;
        for (size_t i = 0; i < nspans; i++) {
            const char *name = names.data + spans[i].name_off;
            PyObject *item = Py_BuildValue("(y#nnL)", name, (Py_ssize_t)strlen(name),
                                           (Py_ssize_t)spans[i].start, (Py_ssize_t)spans[i].end,
                                           spans[i].size);
            if (!item)
                goto done;
            PyList_SET_ITEM(spl, (Py_ssize_t)i, item);
        }
        result = Py_BuildValue("(OLLOO)", blob, files, total, lst, spl);
    } else {
        result = Py_BuildValue("(OLLO)", blob, files, total, lst);
    }
done:
    Py_XDECREF(blob);
    Py_XDECREF(lst);
    Py_XDECREF(spl);
    free(out.data);
    free(names.data);
    free(rest);
    free(spans);
    return result;
}

static PyMethodDef methods[] = {
    {"list_dir", list_dir, METH_VARARGS,
     "list_dir(path: bytes, host_json: bytes, hidden: bool, spans: bool = False) -> "
     "(records: bytes, files: int, bytes: int, rest: list[(name, code, errno)]"
     "[, spans: list[(name, start, end, size)] of the records written])"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cwalk", "List directories into file records (optional C speed-up).",
    -1, methods,
};

PyMODINIT_FUNC PyInit__cwalk(void) { return PyModule_Create(&module); }
