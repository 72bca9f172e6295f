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

/* A JSON integer (optional minus, no leading zero) that fits in a signed 64-bit int. */
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
    unsigned long long v = 0; /* 19 digits cannot overflow it */
    while (p < end && *p >= '0' && *p <= '9' && p - start < 20) {
        v = v * 10 + (unsigned)(*p - '0');
        p++;
    }
    size_t n = (size_t)(p - start);
    if (n == 0 || n > 19 || (n > 1 && *start == '0') || v > (unsigned long long)INT64_MAX)
        return 0;
    *out = neg ? -(long long)v : (long long)v;
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

/* A new reference to an int of this value: the one made for the previous line when the
 * value is the same (a tree's files share their device, and often their times). */
typedef struct {
    PyObject *obj;
    long long value;
} Last;

static PyObject *reuse(Last *last, long long value) {
    if (!last->obj || last->value != value) {
        PyObject *obj = PyLong_FromLongLong(value);
        if (!obj)
            return NULL;
        Py_XSETREF(last->obj, obj);
        last->value = value;
    }
    Py_INCREF(last->obj);
    return last->obj;
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
    Last last_dev = {0}, last_mtime = {0}, last_ctime = {0};
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
                PyObject *dev = reuse(&last_dev, r.dev);
                PyObject *mtime = reuse(&last_mtime, r.mtime_ns);
                PyObject *ctime = r.ctime_ns == r.mtime_ns ? (Py_XINCREF(mtime), mtime)
                                                           : reuse(&last_ctime, r.ctime_ns);
                PyObject *entry = NULL;
                if (size && dev && mtime && ctime)
                    entry = Py_BuildValue("(NOOLOOOO)", path, Py_None, dev, r.inode, mtime, ctime,
                                          Py_None, size);
                else
                    Py_DECREF(path);
                path = NULL; /* the tuple owns it (or it is gone with the error) */
                Py_XDECREF(dev);
                Py_XDECREF(mtime);
                Py_XDECREF(ctime);
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
    Py_XDECREF(last_dev.obj);
    Py_XDECREF(last_mtime.obj);
    Py_XDECREF(last_ctime.obj);
    return Py_BuildValue("(nN)", taken, slow);
fail:
    PyBuffer_Release(&chunk);
    Py_XDECREF(last_dev.obj);
    Py_XDECREF(last_mtime.obj);
    Py_XDECREF(last_ctime.obj);
    Py_XDECREF(slow);
    return NULL;
}


/* by_device(entries) -> {dev: {inode: [entry, ...]}} for entries of this host whose dev,
 * inode and ctime_ns are ints (the ones the cache can answer for): DupFinder.prefetch. */
static PyObject *by_device(PyObject *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "entries must be a sequence");
    if (!seq)
        return NULL;
    PyObject *out = PyDict_New();
    if (!out)
        goto fail;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = items[i];
        if (!PyTuple_CheckExact(e) || PyTuple_GET_SIZE(e) != 8)
            continue;
        PyObject *host = PyTuple_GET_ITEM(e, 1), *dev = PyTuple_GET_ITEM(e, 2),
                 *inode = PyTuple_GET_ITEM(e, 3), *ctime = PyTuple_GET_ITEM(e, 5);
        if (host != Py_None || !PyLong_CheckExact(dev) || !PyLong_CheckExact(inode) ||
            !PyLong_CheckExact(ctime))
            continue;
        PyObject *inodes = PyDict_GetItemWithError(out, dev);
        if (!inodes) {
            if (PyErr_Occurred() || !(inodes = PyDict_New()))
                goto fail;
            int r = PyDict_SetItem(out, dev, inodes);
            Py_DECREF(inodes);
            if (r < 0)
                goto fail;
        }
        PyObject *list = PyDict_GetItemWithError(inodes, inode);
        if (!list) {
            if (PyErr_Occurred() || !(list = PyList_New(0)))
                goto fail;
            int r = PyDict_SetItem(inodes, inode, list);
            Py_DECREF(list);
            if (r < 0)
                goto fail;
        }
        if (PyList_Append(list, e) < 0)
            goto fail;
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_XDECREF(out);
    return NULL;
}

/* match(rows, inodes, known) -> hits: for each cache row (inode, size, mtime_ns, ctime_ns,
 * edges, full), every entry of that inode with the same size, mtime_ns and ctime_ns gets
 * known[id(entry)] = (edges, full). */
static PyObject *match(PyObject *self, PyObject *args) {
    PyObject *rows, *inodes, *known;
    if (!PyArg_ParseTuple(args, "OO!O!", &rows, &PyDict_Type, &inodes, &PyDict_Type, &known))
        return NULL;
    PyObject *it = PyObject_GetIter(rows);
    if (!it)
        return NULL;
    Py_ssize_t hits = 0;
    PyObject *row;
    while ((row = PyIter_Next(it))) {
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != 6) {
            Py_DECREF(row);
            Py_DECREF(it);
            PyErr_SetString(PyExc_TypeError, "cache rows must be 6-tuples");
            return NULL;
        }
        PyObject *list = PyDict_GetItemWithError(inodes, PyTuple_GET_ITEM(row, 0));
        if (!list) {
            Py_DECREF(row);
            if (PyErr_Occurred())
                goto fail;
            continue;
        }
        PyObject *digests = NULL;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); i++) {
            PyObject *e = PyList_GET_ITEM(list, i);
            int same = 1;
            /* size is entry[7], mtime_ns entry[4], ctime_ns entry[5] */
            const int pairs[3][2] = {{1, 7}, {2, 4}, {3, 5}};
            for (int k = 0; k < 3 && same; k++) {
                int r = PyObject_RichCompareBool(PyTuple_GET_ITEM(row, pairs[k][0]),
                                                 PyTuple_GET_ITEM(e, pairs[k][1]), Py_EQ);
                if (r < 0) {
                    Py_XDECREF(digests);
                    Py_DECREF(row);
                    goto fail;
                }
                same = r;
            }
            if (!same)
                continue;
            if (!digests && !(digests = PyTuple_Pack(2, PyTuple_GET_ITEM(row, 4),
                                                     PyTuple_GET_ITEM(row, 5)))) {
                Py_DECREF(row);
                goto fail;
            }
            PyObject *key = PyLong_FromVoidPtr(e);
            int r = key ? PyDict_SetItem(known, key, digests) : -1;
            Py_XDECREF(key);
            if (r < 0) {
                Py_DECREF(digests);
                Py_DECREF(row);
                goto fail;
            }
            hits++;
        }
        Py_XDECREF(digests);
        Py_DECREF(row);
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    return PyLong_FromSsize_t(hits);
fail:
    Py_DECREF(it);
    return NULL;
}

/* ---- known_groups: the rescan's grouping, for size groups whose every file is known ---- */

typedef struct {
    unsigned long long dev, inode;
    Py_ssize_t index; /* position in the size group's entry list */
    unsigned long long edges; /* the head+tail digest (hashing.edges_digest: an int64) */
    const char *full;         /* NULL when not known */
    PyObject *hit;            /* the cache's (edges, full), borrowed; NULL: not cached */
} Item;

static int by_identity(const void *a, const void *b) {
    const Item *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->inode != y->inode)
        return x->inode < y->inode ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static int same_edges(const Item *x, const Item *y) { return x->edges == y->edges; }

static int by_edges(const void *a, const void *b) {
    const Item *x = a, *y = b;
    if (x->edges != y->edges)
        return x->edges < y->edges ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static int by_content(const void *a, const void *b) {
    const Item *x = a, *y = b;
    int c = memcmp(x->full, y->full, 32);
    if (c)
        return c;
    return (x->index > y->index) - (x->index < y->index);
}

static int by_index(const void *a, const void *b) {
    const Item *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

/* 1 when every entry is a file of this host with plain fields (known: None or the cache
 * hits by id(entry)), 0 when Python must do the size, -1 on error. */
static int known_items(PyObject *entries, PyObject *known, Item *items) {
    Py_ssize_t n = PyList_GET_SIZE(entries);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *e = PyList_GET_ITEM(entries, i);
        if (!PyTuple_CheckExact(e) || PyTuple_GET_SIZE(e) != 8)
            return 0;
        PyObject *path = PyTuple_GET_ITEM(e, 0), *dev = PyTuple_GET_ITEM(e, 2),
                 *inode = PyTuple_GET_ITEM(e, 3), *mtime = PyTuple_GET_ITEM(e, 4),
                 *ctime = PyTuple_GET_ITEM(e, 5);
        if (!PyUnicode_CheckExact(path) || PyTuple_GET_ITEM(e, 1) != Py_None ||
            PyTuple_GET_ITEM(e, 6) != Py_None || !PyLong_CheckExact(dev) ||
            !PyLong_CheckExact(inode) || !PyLong_CheckExact(mtime) || !PyLong_CheckExact(ctime))
            return 0;
        PyObject *hit = NULL;
        if (known != Py_None) {
            PyObject *key = PyLong_FromVoidPtr(e);
            if (!key)
                return -1;
            hit = PyDict_GetItemWithError(known, key);
            Py_DECREF(key);
            if (!hit && PyErr_Occurred())
                return -1;
        }
        items[i].hit = hit;
        items[i].full = NULL;
        items[i].edges = 0;
        if (hit) {
            if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 2)
                return 0;
            PyObject *edges = PyTuple_GET_ITEM(hit, 0), *full = PyTuple_GET_ITEM(hit, 1);
            if (!PyLong_CheckExact(edges))
                return 0; /* a file known only by its full digest: Python's rules */
            if (full != Py_None && (!PyBytes_CheckExact(full) || PyBytes_GET_SIZE(full) != 32))
                return 0;
            /* the digest is a signed 64-bit int; only equality matters here */
            items[i].edges = (unsigned long long)PyLong_AsLongLong(edges);
            items[i].full = full == Py_None ? NULL : PyBytes_AS_STRING(full);
        }
        items[i].dev = PyLong_AsUnsignedLongLong(dev);
        items[i].inode = PyLong_AsUnsignedLongLong(inode);
        if (PyErr_Occurred()) { /* beyond 64 bits: Python's rules */
            PyErr_Clear();
            return 0;
        }
        items[i].index = i;
    }
    return 1;
}

/* Fold hard links of one size: files[] gets the first name of each (dev, inode) and
 * links_of {first index: [other entries]}; *nlinks counts the other names (the same
 * name twice counts once). Returns the number of files, or -1 on error. */
static Py_ssize_t fold_links(PyObject *entries, Item *items, Py_ssize_t n, Item *files,
                             PyObject *links_of, long long *nlinks) {
    qsort(items, (size_t)n, sizeof *items, by_identity);
    Py_ssize_t nf = 0;
    for (Py_ssize_t i = 0; i < n;) {
        Py_ssize_t j = i + 1;
        while (j < n && items[j].dev == items[i].dev && items[j].inode == items[i].inode)
            j++;
        files[nf++] = items[i];
        if (j - i > 1) {
            PyObject *first = PyList_GET_ITEM(entries, items[i].index);
            PyObject *seen = PyList_New(0), *links = PyList_New(0);
            int bad = !seen || !links || PyList_Append(seen, PyTuple_GET_ITEM(first, 0)) < 0;
            for (Py_ssize_t k = i + 1; k < j && !bad; k++) {
                PyObject *e = PyList_GET_ITEM(entries, items[k].index);
                int dup = PySequence_Contains(seen, PyTuple_GET_ITEM(e, 0));
                if (dup < 0) {
                    bad = 1;
                } else if (!dup) {
                    bad = PyList_Append(seen, PyTuple_GET_ITEM(e, 0)) < 0 ||
                          PyList_Append(links, e) < 0;
                    (*nlinks)++;
                }
            }
            PyObject *key = bad ? NULL : PyLong_FromSsize_t(items[i].index);
            if (!bad && PyList_GET_SIZE(links) > 0)
                bad = !key || PyDict_SetItem(links_of, key, links) < 0;
            Py_XDECREF(key);
            Py_XDECREF(seen);
            Py_XDECREF(links);
            if (bad)
                return -1;
        }
        i = j;
    }
    return nf;
}

/* Append (size, [(entry, links or None), ...]) for files[0..n) to out (input order). */
static int add_group(PyObject *out, PyObject *size, PyObject *entries, Item *files,
                     Py_ssize_t n, PyObject *links_of) {
    qsort(files, (size_t)n, sizeof *files, by_index);
    PyObject *members = PyList_New(n);
    if (!members)
        return -1;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *e = PyList_GET_ITEM(entries, files[k].index);
        PyObject *key = PyLong_FromSsize_t(files[k].index);
        PyObject *links = key ? PyDict_GetItemWithError(links_of, key) : NULL;
        Py_XDECREF(key);
        if (!links && PyErr_Occurred()) {
            Py_DECREF(members);
            return -1;
        }
        PyObject *m = PyTuple_Pack(2, e, links ? links : Py_None);
        if (!m) {
            Py_DECREF(members);
            return -1;
        }
        PyList_SET_ITEM(members, k, m);
    }
    PyObject *g = Py_BuildValue("(ON)", size, members);
    int r = g ? PyList_Append(out, g) : -1;
    Py_XDECREF(g);
    return r;
}

/* One size: 1 done (groups appended to out), 0 left to Python (a file of a head+tail
 * match has no full digest: it must be hashed), -1 error. */
static int group_size(PyObject *out, PyObject *size, PyObject *entries, Item *files,
                      Py_ssize_t nf, PyObject *links_of) {
    for (Py_ssize_t i = 0; i < nf; i++)
        if (!files[i].hit)
            return 0; /* a file not cached: it must be read */
    qsort(files, (size_t)nf, sizeof *files, by_edges);
    for (Py_ssize_t i = 0; i < nf;) {
        Py_ssize_t j = i + 1;
        while (j < nf && same_edges(&files[j], &files[i]))
            j++;
        for (Py_ssize_t k = i; k < j && j - i > 1; k++)
            if (!files[k].full)
                return 0;
        i = j;
    }
    Py_ssize_t before = PyList_GET_SIZE(out);
    for (Py_ssize_t i = 0; i < nf;) {
        Py_ssize_t j = i + 1;
        while (j < nf && same_edges(&files[j], &files[i]))
            j++;
        if (j - i > 1) {
            qsort(files + i, (size_t)(j - i), sizeof *files, by_content);
            for (Py_ssize_t a = i; a < j;) {
                Py_ssize_t b = a + 1;
                while (b < j && memcmp(files[b].full, files[a].full, 32) == 0)
                    b++;
                if (b - a > 1 && add_group(out, size, entries, files + a, b - a, links_of) < 0) {
                    PyList_SetSlice(out, before, PyList_GET_SIZE(out), NULL);
                    return -1;
                }
                a = b;
            }
        }
        i = j;
    }
    return 1;
}

/* Append (size, [(entry, links or None, cache hit or None), ...]) in input order: the
 * files of one size that the stages must look at (some must be read). */
static int add_todo(PyObject *out, PyObject *size, PyObject *entries, Item *files,
                    Py_ssize_t n, PyObject *links_of) {
    qsort(files, (size_t)n, sizeof *files, by_index);
    PyObject *members = PyList_New(n);
    if (!members)
        return -1;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *e = PyList_GET_ITEM(entries, files[k].index);
        PyObject *key = PyLong_FromSsize_t(files[k].index);
        PyObject *links = key ? PyDict_GetItemWithError(links_of, key) : NULL;
        Py_XDECREF(key);
        if (!links && PyErr_Occurred()) {
            Py_DECREF(members);
            return -1;
        }
        PyObject *m = PyTuple_Pack(3, e, links ? links : Py_None,
                                   files[k].hit ? files[k].hit : Py_None);
        if (!m) {
            Py_DECREF(members);
            return -1;
        }
        PyList_SET_ITEM(members, k, m);
    }
    PyObject *g = Py_BuildValue("(ON)", size, members);
    int r = g ? PyList_Append(out, g) : -1;
    Py_XDECREF(g);
    return r;
}

/* known_groups(by_size, known) -> (groups, todo, left, counts)
 *
 * For every size of by_size with two or more entries that are all files of this host
 * with cached digests, and where every file that shares its head+tail digest with
 * another also has its full digest cached (a rescan), does what DupFinder's
 * _candidates and stages do: fold hard links (the first name is the file, later names
 * its links, the same name twice counts once), split by head+tail digest, group by
 * full digest. Nothing is read from disk.
 * Sizes where some file must still be read come back folded, for the stages.
 *   groups: [(size, [(entry, [link entries] or None), ...]), ...] of two or more files
 *   todo:   [(size, [(entry, links or None, cache hit or None), ...]), ...] two or more
 *           files (after folding) that the stages must look at
 *   left:   the sizes (with two or more entries) left to Python's _candidates
 *   counts: (files, hard_links, candidates, hits, singles) over groups and todo
 *           (candidates: over groups only, the stages count todo's; singles: the sizes
 *           with one entry, each a file that cannot have a duplicate) */
static PyObject *known_groups(PyObject *self, PyObject *args) {
    PyObject *by_size, *known;
    if (!PyArg_ParseTuple(args, "O!O", &PyDict_Type, &by_size, &known))
        return NULL;
    if (known != Py_None && !PyDict_Check(known)) {
        PyErr_SetString(PyExc_TypeError, "known must be a dict or None");
        return NULL;
    }
    PyObject *groups = PyList_New(0), *left = PyList_New(0), *todo = PyList_New(0);
    Item *items = NULL, *files = NULL;
    Py_ssize_t cap = 0;
    long long nfiles = 0, nlinks = 0, ncands = 0, nhits = 0, nsingles = 0;
    if (!groups || !left || !todo)
        goto fail;
    PyObject *size, *entries;
    Py_ssize_t pos = 0;
    while (PyDict_Next(by_size, &pos, &size, &entries)) {
        if (!PyList_Check(entries) || PyList_GET_SIZE(entries) < 2) {
            nsingles += PyList_Check(entries) && PyList_GET_SIZE(entries) == 1;
            continue;
        }
        Py_ssize_t n = PyList_GET_SIZE(entries);
        if (n > cap) {
            free(items);
            free(files);
            cap = n * 2;
            items = malloc((size_t)cap * sizeof *items);
            files = malloc((size_t)cap * sizeof *files);
            if (!items || !files) {
                PyErr_NoMemory();
                goto fail;
            }
        }
        int overflow = 0;
        long long nbytes = PyLong_Check(size) ? PyLong_AsLongLongAndOverflow(size, &overflow) : 0;
        if (nbytes == -1 && PyErr_Occurred())
            goto fail;
        /* empty files (EMPTY_DIGEST) and odd sizes stay with Python */
        int ok = nbytes > 0 && !overflow ? known_items(entries, known, items) : 0;
        if (ok < 0)
            goto fail;
        PyObject *links_of = NULL;
        long long links_here = 0;
        Py_ssize_t nf = 0;
        int grouped = 0;
        if (ok > 0) {
            links_of = PyDict_New();
            nf = links_of ? fold_links(entries, items, n, files, links_of, &links_here) : -1;
            grouped = nf < 0 ? -1 : group_size(groups, size, entries, files, nf, links_of);
            if (grouped == 0 && nf > 1) /* some file must be read: the stages do it */
                grouped = add_todo(todo, size, entries, files, nf, links_of) < 0 ? -1 : 2;
            Py_XDECREF(links_of);
            if (grouped < 0)
                goto fail;
        }
        if (!ok) {
            if (PyList_Append(left, size) < 0)
                goto fail;
            continue;
        }
        nfiles += n;
        nlinks += links_here;
        for (Py_ssize_t i = 0; i < nf; i++)
            nhits += files[i].hit != NULL; /* as _candidates counts them */
        if (grouped == 1 && nf > 1)
            ncands += nf;
    }
    free(items);
    free(files);
    return Py_BuildValue("(NNN(LLLLL))", groups, todo, left, nfiles, nlinks, ncands, nhits,
                         nsingles);
fail:
    free(items);
    free(files);
    Py_XDECREF(groups);
    Py_XDECREF(todo);
    Py_XDECREF(left);
    return NULL;
}

static PyMethodDef methods[] = {
    {"file_lines", file_lines, METH_VARARGS,
     "file_lines(chunk, host, min_size, max_size, by_size, recent) -> (taken, slow)"},
    {"by_device", by_device, METH_O, "by_device(entries) -> {dev: {inode: [entry, ...]}}"},
    {"match", match, METH_VARARGS, "match(rows, inodes, known) -> hits"},
    {"known_groups", known_groups, METH_VARARGS,
     "known_groups(by_size, known) -> "
     "(groups, todo, left, (files, links, candidates, hits, singles))"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cdedup",
    "File hafs scan's records for dedup a chunk at a time (optional C speed-up).", -1, methods,
};

PyMODINIT_FUNC PyInit__cdedup(void) { return PyModule_Create(&module); }
