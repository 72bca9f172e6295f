/* hafs_cli._cdedup: file hafs scan's `file` records for dedup, a chunk of lines at a time.
 *
 * The optional fast path of `hafs dedup`'s input (hafs_cli/fs/dupes.py, DupFinder.add).
 * A line is taken here only when it is exactly the shape hafs scan writes for this host:
 *   {"kind":"file","path":"P","size":N,"mtime_ns":N,"ctime_ns":N,"dev":N,"inode":N,
 *    "nlink":N,"mode":N,"extension":"E","host":"H"}
 * with no escape in P, E or H, P valid UTF-8, E ASCII, H this host's name, every number
 * a plain JSON integer that fits in 64 bits. Such a line is certainly a valid record, so
 * it can be passed on as it came; its entry is filed under its size exactly as
 * DupFinder.add files the dict orjson would give. Every other line (another shape, a
 * BOM, CRLF, blank, bad JSON, an unterminated last line) is left to the Python path,
 * which reports bad lines: this only ever takes a line Python would take the same way.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

static int expect(const char **p, const char *end, const char *lit, size_t n) {
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return 0;
    *p += n;
    return 1;
}
#define EXPECT(lit) expect(&p, end, lit, sizeof(lit) - 1)

/* A JSON integer (optional minus, no leading zero, at most 18 digits). */
static int number(const char **pp, const char *end, int allow_negative, long long *out) {
    const char *p = *pp;
    int neg = 0;
    if (p < end && *p == '-') {
        if (!allow_negative)
            return 0;
        neg = 1;
        p++;
    }
    const char *start = p;
    long long v = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        p++;
    }
    size_t n = (size_t)(p - start);
    if (n == 0 || n > 18 || (n > 1 && *start == '0'))
        return 0;
    *out = neg ? -v : v;
    *pp = p;
    return 1;
}

/* The bytes of a JSON string up to its closing quote, with nothing escaped. */
static int plain_string(const char **pp, const char *end, int ascii, const char **s,
                        size_t *n) {
    const char *p = *pp;
    const char *start = p;
    while (p < end && *p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c == '\\' || c < 0x20 || (ascii && c >= 0x80))
            return 0;
        p++;
    }
    if (p >= end)
        return 0;
    *s = start;
    *n = (size_t)(p - start);
    *pp = p + 1;
    return 1;
}

typedef struct {
    const char *path;
    size_t path_len;
    long long size, mtime_ns, ctime_ns, dev, inode;
} Rec;

static int parse(const char *p, const char *end, const char *host, size_t host_len, Rec *r) {
    long long ignored;
    const char *s;
    size_t n;
    if (!EXPECT("{\"kind\":\"file\",\"path\":\"") ||
        !plain_string(&p, end, 0, &r->path, &r->path_len))
        return 0;
    if (!EXPECT(",\"size\":") || !number(&p, end, 1, &r->size))
        return 0;
    if (!EXPECT(",\"mtime_ns\":") || !number(&p, end, 1, &r->mtime_ns))
        return 0;
    if (!EXPECT(",\"ctime_ns\":") || !number(&p, end, 1, &r->ctime_ns))
        return 0;
    if (!EXPECT(",\"dev\":") || !number(&p, end, 0, &r->dev))
        return 0;
    if (!EXPECT(",\"inode\":") || !number(&p, end, 0, &r->inode))
        return 0;
    if (!EXPECT(",\"nlink\":") || !number(&p, end, 1, &ignored))
        return 0;
    if (!EXPECT(",\"mode\":") || !number(&p, end, 1, &ignored))
        return 0;
    if (!EXPECT(",\"extension\":\"") || !plain_string(&p, end, 1, &s, &n))
        return 0;
    if (!EXPECT(",\"host\":\"") || !plain_string(&p, end, 0, &s, &n))
        return 0;
    if (n != host_len || memcmp(s, host, n) != 0)
        return 0;
    return EXPECT("}") && p == end;
}

/* file_lines(chunk, host, min_size, max_size, by_size, recent) -> (taken, slow)
 *
 * slow: [(line index in chunk, start offset, end offset without the newline), ...] for
 * the lines left to Python, in order; a last line without a newline is always slow.
 */
static PyObject *file_lines(PyObject *self, PyObject *args) {
    Py_buffer chunk;
    const char *host;
    Py_ssize_t host_len;
    long long min_size, max_size;
    PyObject *by_size, *recent;
    if (!PyArg_ParseTuple(args, "y*y#LLO!O", &chunk, &host, &host_len, &min_size, &max_size,
                          &PyDict_Type, &by_size, &recent))
        return NULL;
    if (recent != Py_None && !PyList_Check(recent)) {
        PyBuffer_Release(&chunk);
        PyErr_SetString(PyExc_TypeError, "recent must be a list or None");
        return NULL;
    }
    const char *data = chunk.buf, *stop = data + chunk.len;
    PyObject *slow = PyList_New(0);
    Py_ssize_t taken = 0, index = 0;
    if (!slow)
        goto fail;
    for (const char *line = data; line < stop; index++) {
        const char *nl = memchr(line, '\n', (size_t)(stop - line));
        const char *end = nl ? nl : stop;
        Rec r;
        int ok = nl != NULL && parse(line, end, host, (size_t)host_len, &r);
        PyObject *path = NULL;
        if (ok) {
            path = PyUnicode_DecodeUTF8(r.path, (Py_ssize_t)r.path_len, "strict");
            if (!path) {
                if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                    goto fail;
                PyErr_Clear();
                ok = 0; /* orjson would reject it: Python reports the bad line */
            }
        }
        if (!ok) {
            PyObject *item = Py_BuildValue("(nnn)", index, (Py_ssize_t)(line - data),
                                           (Py_ssize_t)(end - data));
            if (!item || PyList_Append(slow, item) < 0) {
                Py_XDECREF(item);
                goto fail;
            }
            Py_DECREF(item);
        } else {
            taken++;
            if (r.size >= min_size && r.size <= max_size) {
                PyObject *size = PyLong_FromLongLong(r.size);
                PyObject *entry =
                    size ? Py_BuildValue("(NOLLLLOO)", path, Py_None, r.dev, r.inode,
                                         r.mtime_ns, r.ctime_ns, Py_None, size)
                         : NULL;
                path = NULL; /* the tuple owns it (or it is gone with the error) */
                if (!entry) {
                    Py_XDECREF(size);
                    goto fail;
                }
                PyObject *list = PyDict_GetItemWithError(by_size, size);
                if (!list) {
                    if (PyErr_Occurred() || !(list = PyList_New(0)) ||
                        PyDict_SetItem(by_size, size, list) < 0) {
                        Py_XDECREF(list);
                        Py_DECREF(size);
                        Py_DECREF(entry);
                        goto fail;
                    }
                    Py_DECREF(list); /* the dict holds it */
                }
                Py_DECREF(size);
                if (PyList_Append(list, entry) < 0 ||
                    (recent != Py_None && PyList_Append(recent, entry) < 0)) {
                    Py_DECREF(entry);
                    goto fail;
                }
                Py_DECREF(entry);
            } else {
                Py_DECREF(path);
            }
        }
        line = nl ? nl + 1 : stop;
    }
    PyBuffer_Release(&chunk);
    return Py_BuildValue("(nN)", taken, slow);
fail:
    PyBuffer_Release(&chunk);
    Py_XDECREF(slow);
    return NULL;
}

static PyMethodDef methods[] = {
    {"file_lines", file_lines, METH_VARARGS,
     "file_lines(chunk, host, min_size, max_size, by_size, recent) -> (taken, slow)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cdedup",
    "File hafs scan's records for dedup a chunk at a time (optional C speed-up).", -1, methods,
};

PyMODINIT_FUNC PyInit__cdedup(void) { return PyModule_Create(&module); }
