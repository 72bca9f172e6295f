/* hafs_cli._cdedup: dedup's records kept in C (FileIndex), from input to groups.
 *
 * The optional fast path of hafs_cli/fs/dupes.py (DupFinder.add, prefetch, _candidates
 * and the head+tail stage's grouping). add_lines() takes a line only when it is exactly
 * the shape hafs scan writes for this host:
 *   {"kind":"file","path":"P","size":N,"mtime_ns":N,"ctime_ns":N,"dev":N,"inode":N,
 *    "nlink":N,"mode":N,"extension":"E","host":"H"}
 * with no escape in P, E or H, P valid UTF-8, E ASCII, H this host's name, every number
 * a plain JSON integer that fits in 64 bits. Such a line is certainly a valid record, so
 * it can be passed on as it came; it is kept as a fixed-size record with its path in an
 * arena. Every other line (another shape, a BOM, CRLF, blank, bad JSON, an unterminated
 * last line) is left to the Python path, which reports bad lines: this only ever takes
 * a line Python would take the same way. pending()/match() look the records up in the
 * hash cache; prepare()/finish() do what _candidates and _edges_stage do for them and
 * make Python objects only for what Python must see (see each function).
 */
#define _GNU_SOURCE /* RTLD_NOLOAD */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "_cgrow.h"
#ifndef _WIN32
#include <dlfcn.h>
#endif

/* ---- SQLite, as Python's sqlite3 module has loaded it ---------------------------------
 * The hash cache's bulk work (dedup's lookups and stores, 100k+ rows) costs most in the
 * sqlite3 module turning rows into Python objects and back. Where that module uses a
 * shared libsqlite3 (Debian, Homebrew, most builds), this module uses the SAME loaded
 * library (RTLD_NOLOAD: never a second copy, whose locks would not see the first's) for
 * its own connection to the cache. Where it cannot, Python's path does the work. */
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
#define SQ_OK 0
#define SQ_ROW 100
#define SQ_DONE 101
#define SQ_OPEN_READWRITE 0x00000002
#define SQ_OPEN_NOMUTEX 0x00008000 /* used under the GIL only: no locking of its own */
#define SQ_NULL 5
#define SQ_TRANSIENT ((void (*)(void *))-1)

static struct {
    int state; /* 0 not tried, 1 loaded, -1 unavailable */
    int (*open_v2)(const char *, sqlite3 **, int, const char *);
    int (*close_v2)(sqlite3 *);
    int (*busy_timeout)(sqlite3 *, int);
    int (*exec)(sqlite3 *, const char *, void *, void *, char **);
    int (*prepare_v2)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*bind_int64)(sqlite3_stmt *, int, long long);
    int (*bind_text)(sqlite3_stmt *, int, const char *, int, void (*)(void *));
    int (*bind_null)(sqlite3_stmt *, int);
    int (*step)(sqlite3_stmt *);
    int (*reset)(sqlite3_stmt *);
    int (*finalize)(sqlite3_stmt *);
    int (*column_type)(sqlite3_stmt *, int);
    long long (*column_int64)(sqlite3_stmt *, int);
    const void *(*column_blob)(sqlite3_stmt *, int);
    int (*column_bytes)(sqlite3_stmt *, int);
    const char *(*errmsg)(sqlite3 *);
} sq;

static int sq_load(void) {
#ifdef _WIN32
    sq.state = -1;
#else
    if (sq.state)
        return sq.state > 0;
    sq.state = -1;
    const char *names[] = {"libsqlite3.so.0", "libsqlite3.so", "libsqlite3.0.dylib",
                           "libsqlite3.dylib", "/usr/lib/libsqlite3.dylib", NULL};
    void *h = NULL;
    for (int i = 0; names[i] && !h; i++)
        h = dlopen(names[i], RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        return 0;
#define SQ_SYM(field, name)                                                                    \
    {                                                                                          \
        void *sym = dlsym(h, name);                                                            \
        if (!sym)                                                                              \
            return 0;                                                                          \
        memcpy(&sq.field, &sym, sizeof sym); /* POSIX: a function pointer from dlsym */        \
    }
    SQ_SYM(open_v2, "sqlite3_open_v2")
    SQ_SYM(close_v2, "sqlite3_close_v2")
    SQ_SYM(busy_timeout, "sqlite3_busy_timeout")
    SQ_SYM(exec, "sqlite3_exec")
    SQ_SYM(prepare_v2, "sqlite3_prepare_v2")
    SQ_SYM(bind_int64, "sqlite3_bind_int64")
    SQ_SYM(bind_text, "sqlite3_bind_text")
    SQ_SYM(bind_null, "sqlite3_bind_null")
    SQ_SYM(step, "sqlite3_step")
    SQ_SYM(reset, "sqlite3_reset")
    SQ_SYM(finalize, "sqlite3_finalize")
    SQ_SYM(column_type, "sqlite3_column_type")
    SQ_SYM(column_int64, "sqlite3_column_int64")
    SQ_SYM(column_blob, "sqlite3_column_blob")
    SQ_SYM(column_bytes, "sqlite3_column_bytes")
    SQ_SYM(errmsg, "sqlite3_errmsg")
#undef SQ_SYM
    sq.state = 1;
#endif
    return sq.state > 0;
}

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


/* ---- FileIndex: the plain records, kept in C until they are known to matter ---------- */

typedef struct {
    size_t path_off; /* the path's bytes in the arena (valid UTF-8, no NUL) */
    Py_ssize_t path_len;
    long long size, mtime, ctime, seq; /* seq: input order, shared with Python's entries */
    unsigned long long dev, inode;
    long long edges;         /* the cached head+tail digest, when hit */
    unsigned char full[32];  /* the cached blake3, when has_full */
    unsigned char hit, has_full;
    unsigned char full_only; /* cached with a full digest but no head+tail one */
    unsigned char fresh, failed; /* head+tail digest computed in this run / unreadable */
    unsigned char store;         /* a cache row to write (fresh, and no full digest to wait for) */
} FRec;

typedef struct {
    PyObject_HEAD
    char *arena;
    size_t alen, acap;
    FRec *recs;
    size_t n, cap;
    size_t looked;            /* records before this were handed out for cache lookups */
    size_t batch_from, batch_to; /* the last batch handed out */
    /* between prepare() and finish(): the folded files of the sizes the head+tail stage
     * must look at (segments of work[]), their links, and which record each want is */
    struct Item *work, *links;
    size_t *seg_from, *seg_len, nseg;
    size_t *want_rec, nwant;
    /* the content groups prepare() and finish() found, kept for set_paths() and
     * dupgroups(): their members (set_items[set_start[s]..set_start[s + 1])) and those
     * members' other names (set_links, by record) */
    struct Item *set_items;
    size_t nset_items, set_items_cap;
    size_t *set_start, nsets, set_start_cap;
    size_t *set_links, nset_links, set_links_cap;
    sqlite3 *db; /* its own connection to the hash cache (open_cache), or NULL */
} FileIndex;

/* grow() (_cgrow.h) into *p, with Python's MemoryError set when it fails: 0 or -1 */
static int grow_py(void *p, size_t *cap, size_t need, size_t each, size_t first) {
    void *old;
    memcpy(&old, p, sizeof old); /* *p, for a pointer of any type */
    void *q = grow(old, cap, need, each, first);
    if (!q) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(p, &q, sizeof q); /* *p = q */
    return 0;
}

static void free_work(FileIndex *self) {
    free(self->work);
    free(self->links);
    free(self->seg_from);
    free(self->seg_len);
    free(self->want_rec);
    self->work = self->links = NULL;
    self->seg_from = self->seg_len = self->want_rec = NULL;
    self->nseg = self->nwant = 0;
}

static void free_sets(FileIndex *self) {
    free(self->set_items);
    free(self->set_start);
    free(self->set_links);
    self->set_items = NULL;
    self->set_start = self->set_links = NULL;
    self->nset_items = self->set_items_cap = self->nsets = self->set_start_cap = 0;
    self->nset_links = self->set_links_cap = 0;
}

static void index_dealloc(FileIndex *self) {
    if (self->db)
        sq.close_v2(self->db);
    free_work(self);
    free_sets(self);
    free(self->arena);
    free(self->recs);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int ascii_only(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* add_lines(chunk, host, min_size, max_size, first_seq) -> (taken, lines, slow)
 *
 * Keeps every line of hafs scan's own shape (see the top of this file) whose size is in
 * [min_size, max_size]; seq = first_seq + the line's index in the chunk. slow: the
 * (index, start, end) of each other line, for Python; lines: how many lines the chunk
 * has (a last line without a newline is always slow). */
static PyObject *index_add_lines(FileIndex *self, PyObject *args) {
    Py_buffer chunk;
    const char *host;
    Py_ssize_t host_len;
    long long min_size, max_size, first_seq;
    if (!PyArg_ParseTuple(args, "y*y#LLL", &chunk, &host, &host_len, &min_size, &max_size,
                          &first_seq))
        return NULL;
    const char *data = chunk.buf, *stop = data + chunk.len;
    PyObject *slow = PyList_New(0);
    Py_ssize_t taken = 0, index = 0;
    if (!slow)
        goto fail;
    for (const char *line = data; line < stop; index++) {
        const char *nl = memchr(line, '\n', (size_t)(stop - line));
        const char *end = nl ? nl : stop;
        Rec r;
        int ok = nl != NULL && parse(line, end, host, (size_t)host_len, &r) &&
                 memchr(r.path, 0, r.path_len) == NULL;
        if (ok && !ascii_only(r.path, r.path_len)) {
            /* orjson would reject invalid UTF-8: Python reports the bad line */
            PyObject *check = PyUnicode_DecodeUTF8(r.path, (Py_ssize_t)r.path_len, "strict");
            if (!check) {
                if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                    goto fail;
                PyErr_Clear();
                ok = 0;
            }
            Py_XDECREF(check);
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
                if (grow_py(&self->recs, &self->cap, self->n + 1, sizeof(FRec), 4096) ||
                    grow_py(&self->arena, &self->acap, self->alen + r.path_len, 1,
                         1 << 20))
                    goto fail;
                FRec *f = &self->recs[self->n++];
                memset(f, 0, sizeof *f);
                f->path_off = self->alen;
                f->path_len = (Py_ssize_t)r.path_len;
                memcpy(self->arena + self->alen, r.path, r.path_len);
                self->alen += r.path_len;
                f->size = r.size;
                f->mtime = r.mtime_ns;
                f->ctime = r.ctime_ns;
                f->dev = (unsigned long long)r.dev;
                f->inode = (unsigned long long)r.inode;
                f->seq = first_seq + index;
            }
        }
        line = nl ? nl + 1 : stop;
    }
    PyBuffer_Release(&chunk);
    return Py_BuildValue("(nnN)", taken, index, slow);
fail:
    PyBuffer_Release(&chunk);
    Py_XDECREF(slow);
    return NULL;
}

/* pending() -> {dev: b"[inode,...]"} for the records added since the last call: what the
 * cache is asked about (one JSON array per device, as HashCache.entries_json takes). */
static PyObject *index_pending(FileIndex *self, PyObject *unused) {
    self->batch_from = self->looked;
    self->batch_to = self->n;
    self->looked = self->n;
    PyObject *out = PyDict_New();
    if (!out)
        return NULL;
    /* most trees are on a few devices: one pass per device */
    size_t from = self->batch_from, to = self->batch_to;
    unsigned char *done = calloc(to - from + 1, 1);
    char *json = NULL;
    size_t jlen = 0, jcap = 0;
    if (!done) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    for (size_t i = from; i < to; i++) {
        if (done[i - from])
            continue;
        unsigned long long dev = self->recs[i].dev;
        jlen = 0;
        for (size_t k = i; k < to; k++) {
            if (done[k - from] || self->recs[k].dev != dev)
                continue;
            done[k - from] = 1;
            if (grow_py(&json, &jcap, jlen + 24, 1, 1 << 16))
                goto fail;
            jlen += (size_t)sprintf(json + jlen, "%c%llu", jlen ? ',' : '[',
                                    self->recs[k].inode);
        }
        if (grow_py(&json, &jcap, jlen + 2, 1, 1 << 16))
            goto fail;
        json[jlen++] = ']';
        PyObject *key = PyLong_FromUnsignedLongLong(dev);
        PyObject *val = PyBytes_FromStringAndSize(json, (Py_ssize_t)jlen);
        int r = key && val ? PyDict_SetItem(out, key, val) : -1;
        Py_XDECREF(key);
        Py_XDECREF(val);
        if (r < 0)
            goto fail;
    }
    free(done);
    free(json);
    return out;
fail:
    free(done);
    free(json);
    Py_DECREF(out);
    return NULL;
}

/* The records of one device in the last pending() batch, by inode (open addressing:
 * slot -> first record + 1; next[] chains the other records of the same inode). */
typedef struct {
    FileIndex *ix;
    size_t from, slots, *table, *next;
} Batch;

static int batch_open(Batch *b, FileIndex *ix, unsigned long long dev) {
    size_t from = ix->batch_from, to = ix->batch_to, n = 0;
    for (size_t i = from; i < to; i++)
        n += ix->recs[i].dev == dev;
    b->ix = ix;
    b->from = from;
    b->slots = 16;
    while (b->slots < 2 * n)
        b->slots *= 2;
    b->table = calloc(b->slots, sizeof *b->table);
    b->next = calloc(to - from + 1, sizeof *b->next);
    if (!b->table || !b->next) {
        free(b->table);
        free(b->next);
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = from; i < to; i++) {
        if (ix->recs[i].dev != dev)
            continue;
        size_t h = (size_t)(ix->recs[i].inode * 0x9E3779B97F4A7C15ULL) & (b->slots - 1);
        while (b->table[h] && ix->recs[b->table[h] - 1].inode != ix->recs[i].inode)
            h = (h + 1) & (b->slots - 1);
        if (b->table[h]) { /* the same inode again: chain it behind the first */
            size_t k = b->table[h] - 1;
            while (b->next[k - from])
                k = b->next[k - from] - 1;
            b->next[k - from] = i + 1;
        } else {
            b->table[h] = i + 1;
        }
    }
    return 0;
}

static void batch_close(Batch *b) {
    free(b->table);
    free(b->next);
}

/* One cache row for one record of its inode: the record takes its digests when it has
 * the same size, mtime_ns and ctime_ns (edges: has_edges says whether there is one;
 * full: 32 bytes or NULL). Returns 1 when it took them. */
static int take_row(FRec *f, long long size, long long mtime, long long ctime, int has_edges,
                    long long edges, const unsigned char *full) {
    if ((!has_edges && !full) || f->size != size || f->mtime != mtime || f->ctime != ctime)
        return 0; /* nothing to learn, or changed since it was cached */
    f->hit = 1;
    f->full_only = (unsigned char)!has_edges; /* scan --hash rows */
    f->edges = has_edges ? edges : 0;
    f->has_full = full != NULL;
    if (full)
        memcpy(f->full, full, 32);
    return 1;
}

/* One cache row: take_row() for every record of its inode. Returns the records that
 * took its digests. */
static Py_ssize_t batch_row(Batch *b, unsigned long long inode, long long size, long long mtime,
                            long long ctime, int has_edges, long long edges,
                            const unsigned char *full) {
    size_t h = (size_t)(inode * 0x9E3779B97F4A7C15ULL) & (b->slots - 1);
    while (b->table[h] && b->ix->recs[b->table[h] - 1].inode != inode)
        h = (h + 1) & (b->slots - 1);
    Py_ssize_t hits = 0;
    for (size_t k = b->table[h]; k; k = b->next[k - 1 - b->from])
        hits += take_row(&b->ix->recs[k - 1], size, mtime, ctime, has_edges, edges, full);
    return hits;
}

static int int64_of(PyObject *obj, long long *out) {
    int overflow = 0;
    *out = PyLong_Check(obj) ? PyLong_AsLongLongAndOverflow(obj, &overflow) : 0;
    if (!PyLong_Check(obj) || overflow || (*out == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* match(dev, rows) -> hits: rows are the cache's (inode, size, mtime_ns, ctime_ns, edges,
 * full) for the last pending() batch; a record of that batch with the same device, inode,
 * size, mtime_ns and ctime_ns takes the row's digests. */
static PyObject *index_match(FileIndex *self, PyObject *args) {
    unsigned long long dev;
    PyObject *rows;
    if (!PyArg_ParseTuple(args, "KO", &dev, &rows))
        return NULL;
    Batch b;
    if (batch_open(&b, self, dev) < 0)
        return NULL;
    Py_ssize_t hits = 0;
    PyObject *it = PyObject_GetIter(rows), *row;
    if (!it)
        goto fail;
    while ((row = PyIter_Next(it))) {
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != 6) {
            Py_DECREF(row);
            Py_DECREF(it);
            PyErr_SetString(PyExc_TypeError, "cache rows must be 6-tuples");
            goto fail;
        }
        long long inode, size, mtime, ctime, edges = 0;
        PyObject *e = PyTuple_GET_ITEM(row, 4), *full = PyTuple_GET_ITEM(row, 5);
        int ok = int64_of(PyTuple_GET_ITEM(row, 0), &inode) &&
                 int64_of(PyTuple_GET_ITEM(row, 1), &size) &&
                 int64_of(PyTuple_GET_ITEM(row, 2), &mtime) &&
                 int64_of(PyTuple_GET_ITEM(row, 3), &ctime) &&
                 (e == Py_None || int64_of(e, &edges)) &&
                 (full == Py_None || (PyBytes_CheckExact(full) && PyBytes_GET_SIZE(full) == 32));
        if (ok)
            hits += batch_row(&b, (unsigned long long)inode, size, mtime, ctime, e != Py_None,
                              edges,
                              full == Py_None ? NULL
                                              : (const unsigned char *)PyBytes_AS_STRING(full));
        Py_DECREF(row);
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        goto fail;
    batch_close(&b);
    return PyLong_FromSsize_t(hits);
fail:
    batch_close(&b);
    return NULL;
}

/* ---- grouping ------------------------------------------------------------------------ */

typedef struct Item {
    size_t rec;              /* index in recs: the record a file's fields come from */
    size_t name;             /* the record whose path names it (the smallest of a file's) */
    Py_ssize_t lfrom, lto;   /* its other names (hard links): links[lfrom..lto) */
} Item;

static FileIndex *sort_ix; /* qsort has no context argument in C11; the GIL is held */

#define REC(p) (&sort_ix->recs[((const Item *)(p))->rec])
#define BY_SEQ(x, y) (((x)->seq > (y)->seq) - ((x)->seq < (y)->seq))

/* ---- sorting many records: radix, not qsort ------------------------------------------- */

typedef struct {
    unsigned long long k[3]; /* compared in this order */
    size_t rec;
} Key;

#define SIGNED_ORDER(v) ((unsigned long long)(v) ^ (1ULL << 63)) /* as unsigned, same order */

/* Sort keys[0..n) by k[0], then k[1], then k[2], then their order in the array (stable):
 * an LSD radix sort, a byte a pass, skipping the bytes every key shares (most of them: a
 * tree's sizes, inodes and devices use few of their 64 bits). Several times faster than
 * qsort for 100k records. 0, or -1 with MemoryError set. */
static int sort_keys(Key *keys, size_t n) {
    if (n < 2)
        return 0;
    Key *tmp = malloc(n * sizeof *tmp);
    if (!tmp) {
        PyErr_NoMemory();
        return -1;
    }
    unsigned long long differ[3] = {0, 0, 0}; /* the bits where some key differs */
    for (size_t i = 1; i < n; i++)
        for (int w = 0; w < 3; w++)
            differ[w] |= keys[i].k[w] ^ keys[0].k[w];
    Key *src = keys, *dst = tmp;
    for (int w = 2; w >= 0; w--) {
        for (int shift = 0; shift < 64; shift += 8) {
            if (!((differ[w] >> shift) & 255))
                continue;
            size_t count[256] = {0};
            for (size_t i = 0; i < n; i++)
                count[(src[i].k[w] >> shift) & 255]++;
            size_t pos = 0;
            for (int v = 0; v < 256; v++) {
                size_t c = count[v];
                count[v] = pos;
                pos += c;
            }
            for (size_t i = 0; i < n; i++)
                dst[count[(src[i].k[w] >> shift) & 255]++] = src[i];
            Key *t = src;
            src = dst;
            dst = t;
        }
    }
    if (src != keys)
        memcpy(keys, src, n * sizeof *keys);
    free(tmp);
    return 0;
}

static int by_edges(const void *a, const void *b) {
    const FRec *x = REC(a), *y = REC(b);
    if (x->edges != y->edges)
        return x->edges < y->edges ? -1 : 1;
    return BY_SEQ(x, y);
}

static int by_content(const void *a, const void *b) {
    const FRec *x = REC(a), *y = REC(b);
    int c = memcmp(x->full, y->full, 32);
    return c ? c : BY_SEQ(x, y);
}

static int by_seq(const void *a, const void *b) { return BY_SEQ(REC(a), REC(b)); }

/* The entry tuple DupFinder.add would file for a record, under the path of `named`:
 * (path, None, dev, inode, mtime_ns, ctime_ns, None, size). */
static PyObject *entry_of(FileIndex *ix, const FRec *f, const FRec *named) {
    PyObject *path =
        PyUnicode_DecodeUTF8(ix->arena + named->path_off, named->path_len, "strict");
    if (!path)
        return NULL;
    return Py_BuildValue("(NOKKLLOL)", path, Py_None, f->dev, f->inode, f->mtime, f->ctime,
                         Py_None, f->size);
}

/* (edges, full or None) of a record found in the cache or hashed in this run; None
 * when neither. */
static PyObject *hit_of(const FRec *f) {
    if (!f->hit && !f->fresh)
        Py_RETURN_NONE;
    if (f->full_only)
        return Py_BuildValue("(Oy#)", Py_None, (const char *)f->full, (Py_ssize_t)32);
    if (f->has_full)
        return Py_BuildValue("(Ly#)", f->edges, (const char *)f->full, (Py_ssize_t)32);
    return Py_BuildValue("(LO)", f->edges, Py_None);
}

static int same_path(FileIndex *ix, const FRec *a, const FRec *b) {
    return a->path_len == b->path_len &&
           memcmp(ix->arena + a->path_off, ix->arena + b->path_off, (size_t)a->path_len) == 0;
}

/* a's path sorts before b's, as Python compares the bytes */
static int path_less(FileIndex *ix, const FRec *a, const FRec *b) {
    Py_ssize_t n = a->path_len < b->path_len ? a->path_len : b->path_len;
    int c = memcmp(ix->arena + a->path_off, ix->arena + b->path_off, (size_t)n);
    return c < 0 || (c == 0 && a->path_len < b->path_len);
}

/* Fold hard links of one size: files[] gets each (dev, inode) once, its fields from its
 * first record, named by its smallest path, with its other names in links[] (the same
 * name twice counts once): as DupFinder._candidates does. items come sorted by (dev,
 * inode, input order). Returns the number of files. */
static Py_ssize_t fold_links(FileIndex *ix, Item *items, Py_ssize_t n, Item *files,
                             Item *links, Py_ssize_t *nl_io, long long *nlinks) {
    Py_ssize_t nf = 0, nl = *nl_io;
    for (Py_ssize_t i = 0; i < n;) {
        const FRec *first = &ix->recs[items[i].rec];
        Item file = items[i];
        file.name = file.rec;
        file.lfrom = nl;
        Py_ssize_t j = i + 1;
        for (; j < n && ix->recs[items[j].rec].dev == first->dev &&
               ix->recs[items[j].rec].inode == first->inode;
             j++) {
            const FRec *f = &ix->recs[items[j].rec];
            int dup = same_path(ix, f, &ix->recs[file.name]);
            for (Py_ssize_t k = file.lfrom; k < nl && !dup; k++)
                dup = same_path(ix, f, &ix->recs[links[k].rec]);
            if (dup)
                continue;
            if (path_less(ix, f, &ix->recs[file.name])) { /* a smaller name: it names it */
                links[nl].rec = links[nl].name = file.name;
                file.name = items[j].rec;
            } else {
                links[nl].rec = links[nl].name = items[j].rec;
            }
            nl++;
            (*nlinks)++;
        }
        file.lto = nl;
        files[nf++] = file;
        i = j;
    }
    *nl_io = nl;
    return nf;
}

/* (entry, [link entries] or None, hit or None, fresh) for one file. */
static PyObject *member(FileIndex *ix, const Item *file, const Item *links) {
    const FRec *f = &ix->recs[file->rec];
    PyObject *entry = entry_of(ix, f, &ix->recs[file->name]), *hit = hit_of(f), *others = NULL;
    if (!entry || !hit)
        goto fail;
    if (file->lto > file->lfrom) {
        others = PyList_New(file->lto - file->lfrom);
        if (!others)
            goto fail;
        for (Py_ssize_t i = file->lfrom; i < file->lto; i++) {
            PyObject *e = entry_of(ix, &ix->recs[links[i].rec], &ix->recs[links[i].rec]);
            if (!e)
                goto fail;
            PyList_SET_ITEM(others, i - file->lfrom, e);
        }
    } else {
        others = Py_NewRef(Py_None);
    }
    return Py_BuildValue("(NNNO)", entry, others, hit, f->fresh ? Py_True : Py_False);
fail:
    Py_XDECREF(entry);
    Py_XDECREF(hit);
    Py_XDECREF(others);
    return NULL;
}

/* Append (size, [member, ...]) for files[0..n), in input order. */
static int add_set(PyObject *out, FileIndex *ix, Item *files, Py_ssize_t n, const Item *links) {
    sort_ix = ix;
    qsort(files, (size_t)n, sizeof *files, by_seq);
    PyObject *members = PyList_New(n);
    if (!members)
        return -1;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *m = member(ix, &files[k], links);
        if (!m) {
            Py_DECREF(members);
            return -1;
        }
        PyList_SET_ITEM(members, k, m);
    }
    PyObject *g = Py_BuildValue("(LN)", ix->recs[files[0].rec].size, members);
    int r = g ? PyList_Append(out, g) : -1;
    Py_XDECREF(g);
    return r;
}

/* Keep a content group of files[0..n) for dupgroups() (their links copied). */
static int keep_set(FileIndex *ix, const Item *files, Py_ssize_t n, const Item *links) {
    if (grow_py(&ix->set_items, &ix->set_items_cap, ix->nset_items + (size_t)n, sizeof(Item),
                1024) ||
        grow_py(&ix->set_start, &ix->set_start_cap, ix->nsets + 2, sizeof(size_t), 256))
        return -1;
    if (ix->nsets == 0)
        ix->set_start[0] = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        Item m = files[k];
        size_t nlinks = (size_t)(m.lto - m.lfrom);
        if (grow_py(&ix->set_links, &ix->set_links_cap, ix->nset_links + nlinks, sizeof(size_t),
                    256))
            return -1;
        for (Py_ssize_t i = m.lfrom; i < m.lto; i++)
            ix->set_links[ix->nset_links++] = links[i].rec;
        m.lto = (Py_ssize_t)ix->nset_links;
        m.lfrom = m.lto - (Py_ssize_t)nlinks;
        ix->set_items[ix->nset_items++] = m;
    }
    ix->set_start[++ix->nsets] = ix->nset_items;
    return 0;
}

/* Files with one head+tail digest, every one with its full digest: keep each set of two
 * or more with the same content. 0, or -1 on an error. */
static int keep_by_content(FileIndex *ix, Item *files, Py_ssize_t n, const Item *links) {
    sort_ix = ix;
    qsort(files, (size_t)n, sizeof *files, by_content);
    for (Py_ssize_t a = 0; a < n;) {
        Py_ssize_t b = a + 1;
        while (b < n && memcmp(ix->recs[files[b].rec].full, ix->recs[files[a].rec].full, 32) == 0)
            b++;
        if (b - a > 1 && keep_set(ix, files + a, b - a, links) < 0)
            return -1;
        a = b;
    }
    return 0;
}

/* One size's files: 1 when every file is cached and every head+tail match has its full
 * digest (its content groups kept), 0 when some file must be read, -1 on an error. */
static int group_known(FileIndex *ix, Item *files, Py_ssize_t nf, const Item *links) {
    for (Py_ssize_t i = 0; i < nf; i++)
        if (!ix->recs[files[i].rec].hit)
            return 0;
    sort_ix = ix;
    qsort(files, (size_t)nf, sizeof *files, by_edges);
    for (Py_ssize_t i = 0; i < nf;) {
        Py_ssize_t j = i + 1;
        while (j < nf && ix->recs[files[j].rec].edges == ix->recs[files[i].rec].edges)
            j++;
        for (Py_ssize_t k = i; k < j && j - i > 1; k++)
            if (!ix->recs[files[k].rec].has_full)
                return 0;
        i = j;
    }
    for (Py_ssize_t i = 0; i < nf;) {
        Py_ssize_t j = i + 1;
        while (j < nf && ix->recs[files[j].rec].edges == ix->recs[files[i].rec].edges)
            j++;
        if (j - i > 1 && keep_by_content(ix, files + i, j - i, links) < 0)
            return -1;
        i = j;
    }
    return 1;
}

/* Group a segment's files (every one with a head+tail digest, from the cache or this
 * run) by that digest: runs whose files all have their full digest become content groups
 * (kept); other runs of two or more go to Python's full stage (survivors, as
 * (size, [member...])); the fresh files of no run of two are cache rows (rows). */
static int split_segment(FileIndex *ix, Item *files, Py_ssize_t nf, PyObject *survivors,
                         PyObject *rows) {
    sort_ix = ix;
    qsort(files, (size_t)nf, sizeof *files, by_edges);
    for (Py_ssize_t i = 0; i < nf;) {
        Py_ssize_t j = i + 1;
        while (j < nf && ix->recs[files[j].rec].edges == ix->recs[files[i].rec].edges)
            j++;
        int known = 1;
        for (Py_ssize_t k = i; k < j; k++)
            known &= ix->recs[files[k].rec].has_full;
        if (j - i == 1) {
            FRec *f = &ix->recs[files[i].rec];
            if (f->fresh && rows == Py_None) {
                f->store = 1; /* store_cache() writes it */
            } else if (f->fresh) {
                PyObject *row = Py_BuildValue("(KKLLLLO)", f->dev, f->inode, f->size, f->mtime,
                                              f->ctime, f->edges, Py_None);
                if (!row || PyList_Append(rows, row) < 0) {
                    Py_XDECREF(row);
                    return -1;
                }
                Py_DECREF(row);
            }
        } else if (known) {
            if (keep_by_content(ix, files + i, j - i, ix->links) < 0)
                return -1;
        } else if (add_set(survivors, ix, files + i, j - i, ix->links) < 0) {
            return -1;
        }
        i = j;
    }
    return 0;
}

/* prepare(python_sizes) -> (mixed, wants, counts)
 *
 * DupFinder's _candidates for every size Python's own entries (python_sizes: a dict or
 * set) do not share: hard links folded (a file named by its smallest path), cache hits
 * counted. Then, per size of two or more files:
 *   (kept)  the content groups of sizes whose every file is cached with what the stages
 *           need (a rescan): nothing to read; dupgroups() writes their records
 *   mixed:  [(size, [(seq, entry, hit), ...]), ...] the records of sizes Python also has
 *           (and of empty files, and of files known only by a full digest), as entries,
 *           for _candidates (seq: to merge them in input order)
 *   wants:  [(path, size, mtime_ns, ctime_ns), ...] the files (in inode order) whose
 *           head+tail digest the stage must compute: give hashing.edges_many's results
 *           to finish()
 *   counts: (files, hard_links, candidates, hits, singles)
 * A member is (entry, links, hit, fresh) as DupFinder.add and prefetch would make it. */
static PyObject *index_prepare(FileIndex *self, PyObject *taken) {
    if (!PyAnySet_Check(taken) && !PyDict_Check(taken)) {
        PyErr_SetString(PyExc_TypeError, "prepare() takes the dict (or set) of Python's sizes");
        return NULL;
    }
    free_work(self);
    free_sets(self);
    size_t n = self->n;
    Item *order = malloc((n + 1) * sizeof *order);
    self->work = malloc((n + 1) * sizeof(Item));
    self->links = malloc((n + 1) * sizeof(Item));
    self->seg_from = malloc((n + 1) * sizeof(size_t));
    self->seg_len = malloc((n + 1) * sizeof(size_t));
    self->want_rec = malloc((n + 1) * sizeof(size_t));
    PyObject *mixed = PyList_New(0), *wants = NULL;
    long long nfiles = 0, nlinks = 0, ncands = 0, nhits = 0, nsingles = 0;
    Py_ssize_t nl = 0;
    size_t used = 0;
    if (!order || !self->work || !self->links || !self->seg_from || !self->seg_len ||
        !self->want_rec) {
        PyErr_NoMemory();
        goto fail;
    }
    if (!mixed)
        goto fail;
    {   /* by size, then identity (for fold_links), then input order (recs[] is in it) */
        Key *keys = malloc((n + 1) * sizeof *keys);
        if (!keys) {
            PyErr_NoMemory();
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            const FRec *f = &self->recs[i];
            keys[i] = (Key){{SIGNED_ORDER(f->size), f->dev, f->inode}, i};
        }
        int sorted = sort_keys(keys, n);
        for (size_t i = 0; i < n && sorted == 0; i++)
            order[i].rec = order[i].name = keys[i].rec;
        free(keys);
        if (sorted < 0)
            goto fail;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        long long size = self->recs[order[i].rec].size;
        int full_only = self->recs[order[i].rec].full_only;
        while (j < n && self->recs[order[j].rec].size == size)
            full_only |= self->recs[order[j++].rec].full_only;
        Py_ssize_t count = (Py_ssize_t)(j - i);
        PyObject *key = PyLong_FromLongLong(size);
        /* empty files (EMPTY_DIGEST), files known only by their full digest, and sizes
         * Python has entries of too: Python does the whole size */
        int shared = size <= 0 || full_only ? 1 : key ? PySequence_Contains(taken, key) : -1;
        Py_XDECREF(key);
        if (shared < 0)
            goto fail;
        if (shared) {
            PyObject *list = PyList_New(count);
            if (!list)
                goto fail;
            for (Py_ssize_t k = 0; k < count; k++) {
                const FRec *f = &self->recs[order[i + (size_t)k].rec];
                PyObject *entry = entry_of(self, f, f), *hit = entry ? hit_of(f) : NULL;
                PyObject *item = hit ? Py_BuildValue("(LNN)", f->seq, entry, hit) : NULL;
                if (!item) {
                    Py_XDECREF(entry);
                    Py_DECREF(list);
                    goto fail;
                }
                PyList_SET_ITEM(list, k, item);
            }
            PyObject *g = Py_BuildValue("(LN)", size, list);
            if (!g || PyList_Append(mixed, g) < 0) {
                Py_XDECREF(g);
                goto fail;
            }
            Py_DECREF(g);
        } else if (count == 1) {
            nsingles++;
        } else {
            long long links_here = 0;
            Item *files = self->work + used;
            Py_ssize_t nf = fold_links(self, order + i, count, files, self->links, &nl,
                                       &links_here);
            nfiles += count;
            nlinks += links_here;
            int all_hit = 1;
            for (Py_ssize_t k = 0; k < nf; k++) {
                nhits += self->recs[files[k].rec].hit; /* as _candidates counts them */
                all_hit &= self->recs[files[k].rec].hit;
            }
            if (nf > 1) {
                ncands += nf;
                int done = all_hit ? group_known(self, files, nf, self->links) : 0;
                if (done < 0)
                    goto fail;
                if (!done) { /* the stages look at it: a segment */
                    self->seg_from[self->nseg] = used;
                    self->seg_len[self->nseg++] = (size_t)nf;
                    used += (size_t)nf;
                    for (Py_ssize_t k = 0; k < nf; k++)
                        if (!self->recs[files[k].rec].hit)
                            self->want_rec[self->nwant++] = files[k].rec;
                }
            }
        }
        i = j;
    }
    /* the wants in inode order: neighbouring inode table blocks, and cache rows that go
     * in nearly in primary-key order */
    {
        Key *w = malloc((self->nwant + 1) * sizeof *w);
        if (!w) {
            PyErr_NoMemory();
            goto fail;
        }
        for (size_t k = 0; k < self->nwant; k++) {
            const FRec *f = &self->recs[self->want_rec[k]];
            w[k] = (Key){{f->dev, f->inode, SIGNED_ORDER(f->seq)}, self->want_rec[k]};
        }
        int sorted = sort_keys(w, self->nwant);
        for (size_t k = 0; k < self->nwant && sorted == 0; k++)
            self->want_rec[k] = w[k].rec;
        free(w);
        if (sorted < 0)
            goto fail;
    }
    wants = PyList_New((Py_ssize_t)self->nwant);
    if (!wants)
        goto fail;
    for (size_t k = 0; k < self->nwant; k++) {
        const FRec *f = &self->recs[self->want_rec[k]];
        PyObject *want = Py_BuildValue("(y#LLL)", self->arena + f->path_off, f->path_len,
                                       f->size, f->mtime, f->ctime);
        if (!want)
            goto fail;
        PyList_SET_ITEM(wants, (Py_ssize_t)k, want);
    }
    free(order);
    return Py_BuildValue("(NN(LLLLL))", mixed, wants, nfiles, nlinks, ncands, nhits,
                         nsingles);
fail:
    free(order);
    free_work(self);
    free_sets(self);
    Py_XDECREF(mixed);
    Py_XDECREF(wants);
    return NULL;
}

/* finish(results, direct, read_cap) -> (survivors, rows, failed, hashed, bytes_read)
 *
 * results: what hashing.edges_many gave for prepare()'s wants (an int digest, or the
 * exception for a file that could not be read: failed lists their indices, for Python
 * to report; those files drop out). Then every segment is split by head+tail digest
 * as DupFinder._edges_stage does: content groups kept and survivors (size, [member...])
 * as in split_segment, rows: (dev, inode, size, mtime_ns, ctime_ns, edges, None) for the
 * freshly hashed files that need no full digest (the survivors' are stored later); with
 * direct=True, rows is None and store_cache() writes them. bytes_read counts at most
 * read_cap bytes a file (what the stage reads of it). */
static PyObject *index_finish(FileIndex *self, PyObject *args) {
    PyObject *arg;
    int direct = 0;
    long long read_cap = 0; /* what the head+tail stage reads of a file at most */
    if (!PyArg_ParseTuple(args, "OpL", &arg, &direct, &read_cap))
        return NULL;
    PyObject *seq = PySequence_Fast(arg, "results must be a sequence");
    if (!seq)
        return NULL;
    if ((size_t)PySequence_Fast_GET_SIZE(seq) != self->nwant) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "finish() needs one result per want");
        return NULL;
    }
    PyObject *survivors = PyList_New(0),
             *rows = direct ? Py_NewRef(Py_None) : PyList_New(0), *failed = PyList_New(0);
    long long hashed = 0, nbytes = 0;
    Item *keep = malloc((self->n + 1) * sizeof *keep);
    if (!keep) {
        PyErr_NoMemory();
        goto fail;
    }
    if (!survivors || !rows || !failed)
        goto fail;
    for (size_t k = 0; k < self->nwant; k++) {
        FRec *f = &self->recs[self->want_rec[k]];
        PyObject *r = PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)k);
        int overflow = 0;
        long long v = PyLong_CheckExact(r) ? PyLong_AsLongLongAndOverflow(r, &overflow) : 0;
        if (PyLong_CheckExact(r) && !overflow && !(v == -1 && PyErr_Occurred())) {
            f->edges = v;
            f->fresh = 1;
            hashed++;
            nbytes += f->size < read_cap ? f->size : read_cap;
        } else {
            PyErr_Clear();
            f->failed = 1;
            PyObject *i = PyLong_FromSize_t(k);
            if (!i || PyList_Append(failed, i) < 0) {
                Py_XDECREF(i);
                goto fail;
            }
            Py_DECREF(i);
        }
    }
    for (size_t s = 0; s < self->nseg; s++) {
        Item *files = self->work + self->seg_from[s];
        Py_ssize_t nk = 0;
        for (size_t k = 0; k < self->seg_len[s]; k++)
            if (!self->recs[files[k].rec].failed)
                keep[nk++] = files[k];
        if (split_segment(self, keep, nk, survivors, rows) < 0)
            goto fail;
    }
    free(keep);
    Py_DECREF(seq);
    free_work(self);
    return Py_BuildValue("(NNNLL)", survivors, rows, failed, hashed, nbytes);
fail:
    free(keep);
    Py_DECREF(seq);
    Py_XDECREF(survivors);
    Py_XDECREF(rows);
    Py_XDECREF(failed);
    return NULL;
}

/* ---- the kept content groups, as dupgroup records ------------------------------------ */

/* set_paths() -> [text, ...]: the path naming each member of the kept groups, in order,
 * as KeeperRules matches it (decoded, without its leading slashes). */
static PyObject *index_set_paths(FileIndex *self, PyObject *unused) {
    PyObject *out = PyList_New((Py_ssize_t)self->nset_items);
    for (size_t k = 0; out && k < self->nset_items; k++) {
        const FRec *f = &self->recs[self->set_items[k].name];
        const char *p = self->arena + f->path_off;
        Py_ssize_t len = f->path_len;
        while (len > 0 && *p == '/')
            p++, len--;
        PyObject *text = PyUnicode_DecodeUTF8(p, len, "strict");
        if (!text)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, (Py_ssize_t)k, text);
    }
    return out;
}

typedef struct {
    char *buf;
    size_t len, cap;
} Out;

static int out_put(Out *o, const char *s, size_t n) {
    if (grow_py(&o->buf, &o->cap, o->len + n, 1, 1 << 12))
        return -1;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    return 0;
}

#define OUT_LIT(o, lit) out_put((o), (lit), sizeof(lit) - 1)

/* A JSON integer (what orjson writes for it). */
static int out_uint(Out *o, unsigned long long v) {
    char num[24], *p = num + sizeof num;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    return out_put(o, p, (size_t)(num + sizeof num - p));
}

static int out_int(Out *o, long long v) {
    if (v >= 0)
        return out_uint(o, (unsigned long long)v);
    return OUT_LIT(o, "-") || out_uint(o, 0ULL - (unsigned long long)v);
}

/* A path of a kept record as a JSON string (it needs no escapes: add_lines took it so). */
static int out_path(Out *o, FileIndex *ix, size_t rec) {
    const FRec *f = &ix->recs[rec];
    return OUT_LIT(o, "\"") || out_put(o, ix->arena + f->path_off, (size_t)f->path_len) ||
           OUT_LIT(o, "\"");
}

/* One member object, as DupFinder._member writes it: its links sorted as bytes. */
static int out_member(Out *o, FileIndex *ix, const Item *m, const char *host, size_t host_len) {
    const FRec *f = &ix->recs[m->rec];
    if (OUT_LIT(o, "{\"path\":") || out_path(o, ix, m->name) || OUT_LIT(o, ",\"host\":") ||
        out_put(o, host, host_len) || OUT_LIT(o, ",\"mtime_ns\":") ||
        out_int(o, f->mtime) || OUT_LIT(o, ",\"ctime_ns\":") || out_int(o, f->ctime) ||
        OUT_LIT(o, ",\"dev\":") || out_uint(o, f->dev) || OUT_LIT(o, ",\"inode\":") ||
        out_uint(o, f->inode))
        return -1;
    Py_ssize_t nl = m->lto - m->lfrom;
    if (nl > 0) {
        size_t *links = malloc((size_t)nl * sizeof *links);
        if (!links) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(links, ix->set_links + m->lfrom, (size_t)nl * sizeof *links);
        for (Py_ssize_t i = 1; i < nl; i++) /* a handful: insertion sort */
            for (Py_ssize_t j = i; j > 0 && path_less(ix, &ix->recs[links[j]],
                                                      &ix->recs[links[j - 1]]);
                 j--) {
                size_t t = links[j];
                links[j] = links[j - 1];
                links[j - 1] = t;
            }
        int bad = OUT_LIT(o, ",\"links\":[");
        for (Py_ssize_t i = 0; i < nl && !bad; i++)
            bad = (i && OUT_LIT(o, ",")) || out_path(o, ix, links[i]);
        free(links);
        if (bad || OUT_LIT(o, "]"))
            return -1;
    }
    return OUT_LIT(o, "}");
}

/* How KeeperRules.rank orders two members: preferred pattern, not avoided, oldest,
 * shortest path, then the path's bytes. */
typedef struct {
    const Item *item;
    long long prefer, avoid; /* pattern index; the pattern count when none matches */
    int avoided;
} Ranked;

static int rank_cmp(FileIndex *ix, const Ranked *a, const Ranked *b) {
    const FRec *fa = &ix->recs[a->item->rec], *fb = &ix->recs[b->item->rec];
    const FRec *na = &ix->recs[a->item->name], *nb = &ix->recs[b->item->name];
    if (a->prefer != b->prefer)
        return a->prefer < b->prefer ? -1 : 1;
    if (a->avoided != b->avoided)
        return a->avoided < b->avoided ? -1 : 1;
    if (fa->mtime != fb->mtime)
        return fa->mtime < fb->mtime ? -1 : 1;
    if (na->path_len != nb->path_len)
        return na->path_len < nb->path_len ? -1 : 1;
    return path_less(ix, na, nb) ? -1 : path_less(ix, nb, na) ? 1 : 0;
}

static long long index_at(PyObject *list, size_t k, long long none) {
    if (list == Py_None)
        return none;
    return PyLong_AsLongLong(PyList_GET_ITEM(list, (Py_ssize_t)k));
}

/* dupgroups(host_json, prefer_index, avoid_index, prefer_json, avoid_json)
 *     -> [(waste, blake3, count, line), ...]
 *
 * One `dupgroup` record per kept content group, as JSON Lines bytes exactly as
 * DupFinder._record and records.dumps make them. prefer_index/avoid_index: for each
 * set_paths() text, the index of the first prefer (avoid) pattern it matches, or the
 * pattern count; None when none matches. prefer_json/avoid_json: each pattern as a JSON
 * string (for keeper_pattern). The kept groups are then released. */
static PyObject *index_dupgroups(FileIndex *self, PyObject *args) {
    const char *host;
    Py_ssize_t host_len;
    PyObject *pidx, *aidx, *pjson, *ajson;
    if (!PyArg_ParseTuple(args, "y#OOO!O!", &host, &host_len, &pidx, &aidx, &PyList_Type,
                          &pjson, &PyList_Type, &ajson))
        return NULL;
    size_t total = self->nset_items;
    if ((pidx != Py_None && (!PyList_Check(pidx) || (size_t)PyList_GET_SIZE(pidx) != total)) ||
        (aidx != Py_None && (!PyList_Check(aidx) || (size_t)PyList_GET_SIZE(aidx) != total))) {
        PyErr_SetString(PyExc_ValueError, "dupgroups() needs one index per set_paths() text");
        return NULL;
    }
    long long nprefer = PyList_GET_SIZE(pjson), navoid = PyList_GET_SIZE(ajson);
    PyObject *out = PyList_New(0);
    Out o = {NULL, 0, 0};
    Ranked *ranked = NULL;
    size_t ranked_cap = 0;
    if (!out)
        return NULL;
    for (size_t s = 0; s < self->nsets; s++) {
        size_t from = self->set_start[s], n = self->set_start[s + 1] - from;
        if (grow_py(&ranked, &ranked_cap, n, sizeof *ranked, 16))
            goto fail;
        size_t best = 0, second = 1; /* the two first by rank */
        for (size_t k = 0; k < n; k++) {
            Ranked *r = &ranked[k];
            r->item = &self->set_items[from + k];
            r->prefer = index_at(pidx, from + k, nprefer);
            r->avoid = index_at(aidx, from + k, navoid);
            if (PyErr_Occurred())
                goto fail;
            if (r->prefer < 0 || r->prefer > nprefer || r->avoid < 0 || r->avoid > navoid) {
                PyErr_SetString(PyExc_ValueError, "dupgroups(): a pattern index out of range");
                goto fail;
            }
            r->avoided = r->avoid < navoid;
        }
        if (rank_cmp(self, &ranked[1], &ranked[0]) < 0)
            best = 1, second = 0;
        for (size_t k = 2; k < n; k++) {
            if (rank_cmp(self, &ranked[k], &ranked[best]) < 0)
                second = best, best = k;
            else if (rank_cmp(self, &ranked[k], &ranked[second]) < 0)
                second = k;
        }
        const Ranked *a = &ranked[best], *b = &ranked[second];
        const char *rule;
        PyObject *pattern = NULL;
        if (a->prefer != b->prefer) {
            rule = "prefer";
            pattern = PyList_GET_ITEM(pjson, a->prefer);
        } else if (a->avoided != b->avoided) {
            rule = "avoid";
            pattern = PyList_GET_ITEM(ajson, b->avoid);
        } else if (self->recs[a->item->rec].mtime != self->recs[b->item->rec].mtime) {
            rule = "oldest";
        } else if (self->recs[a->item->name].path_len != self->recs[b->item->name].path_len) {
            rule = "shortest_path";
        } else {
            rule = "path_order";
        }
        if (pattern && !PyBytes_Check(pattern)) {
            PyErr_SetString(PyExc_TypeError, "dupgroups(): patterns go in as JSON bytes");
            goto fail;
        }
        /* the members: the keeper, then the others by path */
        const Item *keeper = a->item;
        ranked[best] = ranked[n - 1];
        n--;
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && path_less(self, &self->recs[ranked[j].item->name],
                                                  &self->recs[ranked[j - 1].item->name]);
                 j--) {
                Ranked t = ranked[j];
                ranked[j] = ranked[j - 1];
                ranked[j - 1] = t;
            }
        const FRec *kf = &self->recs[keeper->rec];
        long long size = kf->size, count = (long long)n + 1;
        PyObject *waste = NULL, *waste_text = NULL;
        const char *wt = NULL;
        int small = size <= INT64_MAX / (count - 1);
        if (small) {
            waste = PyLong_FromLongLong(size * (count - 1));
        } else { /* past 64 bits: Python's integers */
            PyObject *a1 = PyLong_FromLongLong(size), *b1 = PyLong_FromLongLong(count - 1);
            waste = a1 && b1 ? PyNumber_Multiply(a1, b1) : NULL;
            Py_XDECREF(a1);
            Py_XDECREF(b1);
            waste_text = waste ? PyObject_Str(waste) : NULL;
            wt = waste_text ? PyUnicode_AsUTF8(waste_text) : NULL;
        }
        static const char digits[] = "0123456789abcdef";
        char hex[64];
        for (int i = 0; i < 32; i++) {
            hex[2 * i] = digits[kf->full[i] >> 4];
            hex[2 * i + 1] = digits[kf->full[i] & 15];
        }
        o.len = 0;
        size_t keeper_at = 0, keeper_end = 0;
        int bad = !waste || (!small && !wt) ||
                  OUT_LIT(&o, "{\"kind\":\"dupgroup\",\"blake3\":\"") ||
                  out_put(&o, hex, 64) || OUT_LIT(&o, "\",\"size\":") || out_int(&o, size) ||
                  OUT_LIT(&o, ",\"count\":") || out_int(&o, count) ||
                  OUT_LIT(&o, ",\"waste\":") ||
                  (small ? out_int(&o, size * (count - 1)) : out_put(&o, wt, strlen(wt))) ||
                  OUT_LIT(&o, ",\"members\":[");
        if (!bad) {
            keeper_at = o.len;
            bad = out_member(&o, self, keeper, host, (size_t)host_len);
            keeper_end = o.len;
        }
        for (size_t k = 0; k < n && !bad; k++)
            bad = OUT_LIT(&o, ",") || out_member(&o, self, ranked[k].item, host, (size_t)host_len);
        bad = bad || OUT_LIT(&o, "],\"keeper\":");
        /* the keeper's object again (copied after growing: the buffer may move) */
        if (!bad && !grow_py(&o.buf, &o.cap, o.len + (keeper_end - keeper_at), 1, 1 << 12)) {
            memcpy(o.buf + o.len, o.buf + keeper_at, keeper_end - keeper_at);
            o.len += keeper_end - keeper_at;
        } else {
            bad = 1;
        }
        bad = bad || OUT_LIT(&o, ",\"keeper_rule\":\"") || out_put(&o, rule, strlen(rule)) ||
              OUT_LIT(&o, "\"");
        if (!bad && pattern)
            bad = OUT_LIT(&o, ",\"keeper_pattern\":") ||
                  out_put(&o, PyBytes_AS_STRING(pattern), (size_t)PyBytes_GET_SIZE(pattern));
        bad = bad || OUT_LIT(&o, "}\n");
        PyObject *item = bad ? NULL
                             : Py_BuildValue("(Oy#Ly#)", waste, (const char *)kf->full,
                                             (Py_ssize_t)32, count, o.buf, (Py_ssize_t)o.len);
        Py_XDECREF(waste);
        Py_XDECREF(waste_text);
        if (!item || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
    }
    free(o.buf);
    free(ranked);
    free_sets(self);
    return out;
fail:
    free(o.buf);
    free(ranked);
    Py_DECREF(out);
    return NULL;
}

/* open_cache(path) -> bool */
static PyObject *index_open_cache(FileIndex *self, PyObject *args) {
    const char *path;
    if (!PyArg_ParseTuple(args, "s", &path))
        return NULL;
    if (self->db)
        Py_RETURN_TRUE;
    if (!sq_load())
        Py_RETURN_FALSE;
    sqlite3 *db = NULL;
    if (sq.open_v2(path, &db, SQ_OPEN_READWRITE | SQ_OPEN_NOMUTEX, NULL) != SQ_OK) {
        if (db)
            sq.close_v2(db);
        Py_RETURN_FALSE;
    }
    sq.busy_timeout(db, 30000); /* as the Python connection's timeout */
    self->db = db;
    Py_RETURN_TRUE;
}

/* A range scan walks on past this many rows nobody asked about, then seeks again. */
#define RESEEK_AFTER 16

/* lookup_cache(min_stored_s) -> hits: pending() and match() in one, without Python rows.
 *
 * The batch's records, sorted by (dev, inode), are merged with the cache's rows read in
 * primary-key order (one range scan per device): a rescan of a tree reads its rows almost
 * sequentially, several times cheaper than one B-tree search per file. Where the cache
 * holds many rows between two wanted inodes (other trees'), the scan stops after
 * RESEEK_AFTER of them and seeks to the next wanted inode: never much worse than a search
 * per file. Inodes or devices past SQLite's 64-bit integers are never stored: no hit. */
static PyObject *index_lookup_cache(FileIndex *self, PyObject *args) {
    long long min_stored;
    if (!PyArg_ParseTuple(args, "L", &min_stored))
        return NULL;
    if (!self->db)
        Py_RETURN_NONE;
    size_t from = self->looked, to = self->n, nk = 0;
    Key *keys = malloc((to - from + 1) * sizeof *keys);
    if (!keys)
        return PyErr_NoMemory();
    for (size_t i = from; i < to; i++) {
        const FRec *f = &self->recs[i];
        if (f->dev <= (unsigned long long)INT64_MAX && f->inode <= (unsigned long long)INT64_MAX)
            keys[nk++] = (Key){{f->dev, f->inode, 0}, i};
    }
    if (sort_keys(keys, nk) < 0) {
        free(keys);
        return NULL;
    }
    sqlite3_stmt *stmt = NULL;
    const char *sql = "SELECT inode, size, mtime_ns, ctime_ns, edges, full FROM hashes "
                      "WHERE dev = ?1 AND inode >= ?2 AND inode <= ?3 AND stored_s >= ?4 "
                      "ORDER BY inode";
    Py_ssize_t hits = 0;
    if (sq.prepare_v2(self->db, sql, -1, &stmt, NULL) != SQ_OK)
        goto failed;
    for (size_t a = 0; a < nk;) {
        size_t b = a + 1; /* keys[a..b): one device */
        while (b < nk && keys[b].k[0] == keys[a].k[0])
            b++;
        int rc = SQ_DONE;
        for (size_t i = a; i < b;) { /* a scan from keys[i] on */
            sq.reset(stmt);
            sq.bind_int64(stmt, 1, (long long)keys[a].k[0]);
            sq.bind_int64(stmt, 2, (long long)keys[i].k[1]);
            sq.bind_int64(stmt, 3, (long long)keys[b - 1].k[1]);
            sq.bind_int64(stmt, 4, min_stored);
            int misses = 0;
            while ((rc = sq.step(stmt)) == SQ_ROW) {
                unsigned long long inode = (unsigned long long)sq.column_int64(stmt, 0);
                while (i < b && keys[i].k[1] < inode)
                    i++; /* not in the cache */
                if (i == b)
                    break;
                if (keys[i].k[1] != inode) {
                    if (++misses > RESEEK_AFTER)
                        break; /* a long run of rows of no interest: seek to keys[i] */
                    continue;
                }
                misses = 0;
                int has_edges = sq.column_type(stmt, 4) != SQ_NULL;
                const unsigned char *full = NULL;
                if (sq.column_type(stmt, 5) != SQ_NULL) {
                    full = sq.column_blob(stmt, 5);
                    if (sq.column_bytes(stmt, 5) != 32)
                        full = NULL, has_edges = 0; /* not a digest: no hit */
                }
                long long size = sq.column_int64(stmt, 1), mtime = sq.column_int64(stmt, 2),
                          ctime = sq.column_int64(stmt, 3), edges = sq.column_int64(stmt, 4);
                for (; i < b && keys[i].k[1] == inode; i++) /* its names (hard links) */
                    hits += take_row(&self->recs[keys[i].rec], size, mtime, ctime, has_edges,
                                     edges, full);
            }
            if (rc != SQ_ROW) /* the range is done (the rest are not cached), or an error */
                break;
        }
        if (rc != SQ_ROW && rc != SQ_DONE)
            goto failed;
        a = b;
    }
    sq.finalize(stmt);
    free(keys);
    self->looked = to;
    return PyLong_FromSsize_t(hits);
failed: /* nothing is lost: the batch goes to pending() and match() again */
    if (stmt)
        sq.finalize(stmt);
    free(keys);
    Py_RETURN_NONE;
}

/* store_cache(now_s, racy_limit_ns, max_age_s) -> rows written, or None: the rows
 * finish(direct=True) marked, in one transaction (as HashCache.store_rows writes them:
 * not the files changed after racy_limit_ns; entries older than max_age_s go). */
static PyObject *index_store_cache(FileIndex *self, PyObject *args) {
    long long now_s, racy_limit, max_age;
    if (!PyArg_ParseTuple(args, "LLL", &now_s, &racy_limit, &max_age))
        return NULL;
    if (!self->db)
        Py_RETURN_NONE;
    int any = 0;
    for (size_t i = 0; i < self->n && !any; i++)
        any = self->recs[i].store;
    if (!any) /* nothing to write: no transaction (a rescan leaves the file as it was) */
        return PyLong_FromLong(0);
    sqlite3_stmt *ins = NULL, *del = NULL;
    long long written = 0;
    int began = 0;
    if (sq.exec(self->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQ_OK)
        goto failed;
    began = 1;
    if (sq.prepare_v2(self->db,
                      "INSERT OR REPLACE INTO hashes VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7)",
                      -1, &ins, NULL) != SQ_OK ||
        sq.prepare_v2(self->db, "DELETE FROM hashes WHERE stored_s < ?1", -1, &del, NULL) !=
            SQ_OK)
        goto failed;
    /* in primary-key order: half the B-tree work of random order */
    size_t n = 0;
    for (size_t i = 0; i < self->n; i++)
        n += self->recs[i].store && self->recs[i].ctime <= racy_limit &&
             self->recs[i].dev <= (unsigned long long)INT64_MAX &&
             self->recs[i].inode <= (unsigned long long)INT64_MAX;
    Key *order = malloc((n + 1) * sizeof *order);
    size_t k = 0;
    for (size_t i = 0; order && i < self->n; i++) {
        const FRec *f = &self->recs[i];
        if (f->store && f->ctime <= racy_limit && f->dev <= (unsigned long long)INT64_MAX &&
            f->inode <= (unsigned long long)INT64_MAX)
            order[k++] = (Key){{f->dev, f->inode, 0}, i};
    }
    if (!order || sort_keys(order, n) < 0) {
        free(order);
        sq.exec(self->db, "ROLLBACK", NULL, NULL, NULL);
        sq.finalize(ins);
        sq.finalize(del);
        return order ? NULL : PyErr_NoMemory();
    }
    for (k = 0; k < n; k++) {
        const FRec *f = &self->recs[order[k].rec];
        sq.reset(ins);
        sq.bind_int64(ins, 1, (long long)f->dev);
        sq.bind_int64(ins, 2, (long long)f->inode);
        sq.bind_int64(ins, 3, f->size);
        sq.bind_int64(ins, 4, f->mtime);
        sq.bind_int64(ins, 5, f->ctime);
        sq.bind_int64(ins, 6, f->edges);
        sq.bind_int64(ins, 7, now_s);
        if (sq.step(ins) != SQ_DONE) {
            free(order);
            goto failed;
        }
        written++;
    }
    free(order);
    sq.bind_int64(del, 1, now_s - max_age);
    if (sq.step(del) != SQ_DONE || sq.exec(self->db, "COMMIT", NULL, NULL, NULL) != SQ_OK)
        goto failed;
    sq.finalize(ins);
    sq.finalize(del);
    for (size_t i = 0; i < self->n; i++)
        self->recs[i].store = 0;
    return PyLong_FromLongLong(written);
failed: /* nothing written: the caller stores rows() through Python's connection */
    if (began)
        sq.exec(self->db, "ROLLBACK", NULL, NULL, NULL);
    if (ins)
        sq.finalize(ins);
    if (del)
        sq.finalize(del);
    Py_RETURN_NONE;
}

/* rows() -> [(dev, inode, size, mtime_ns, ctime_ns, edges, None), ...] still to store */
static PyObject *index_rows(FileIndex *self, PyObject *unused) {
    PyObject *out = PyList_New(0);
    for (size_t i = 0; out && i < self->n; i++) {
        const FRec *f = &self->recs[i];
        if (!f->store)
            continue;
        PyObject *row = Py_BuildValue("(KKLLLLO)", f->dev, f->inode, f->size, f->mtime,
                                      f->ctime, f->edges, Py_None);
        if (!row || PyList_Append(out, row) < 0) {
            Py_XDECREF(row);
            Py_CLEAR(out);
        } else {
            Py_DECREF(row);
        }
    }
    return out;
}

static PyObject *index_len(FileIndex *self, PyObject *unused) {
    return PyLong_FromSize_t(self->n);
}

static PyMethodDef index_methods[] = {
    {"add_lines", (PyCFunction)index_add_lines, METH_VARARGS,
     "add_lines(chunk, host, min_size, max_size, first_seq) -> (taken, lines, slow)"},
    {"pending", (PyCFunction)index_pending, METH_NOARGS,
     "pending() -> {dev: JSON array of the inodes added since the last call}"},
    {"match", (PyCFunction)index_match, METH_VARARGS,
     "match(dev, cache rows of the last pending batch) -> hits"},
    {"prepare", (PyCFunction)index_prepare, METH_O,
     "prepare(python_sizes) -> (mixed, wants, (files, links, candidates, hits, singles))"},
    {"finish", (PyCFunction)index_finish, METH_VARARGS,
     "finish(edges results, direct, read_cap) -> (survivors, rows, failed, hashed, "
     "bytes_read)"},
    {"set_paths", (PyCFunction)index_set_paths, METH_NOARGS,
     "set_paths() -> the path text of each member of the content groups kept"},
    {"dupgroups", (PyCFunction)index_dupgroups, METH_VARARGS,
     "dupgroups(host_json, prefer_index, avoid_index, prefer_json, avoid_json) -> "
     "[(waste, blake3, count, JSON Lines bytes), ...] for the kept groups"},
    {"open_cache", (PyCFunction)index_open_cache, METH_VARARGS,
     "open_cache(path) -> bool: a connection of its own to the hash cache (False: none)"},
    {"lookup_cache", (PyCFunction)index_lookup_cache, METH_VARARGS,
     "lookup_cache(min_stored_s) -> hits, or None (nothing done: use pending() and match())"},
    {"store_cache", (PyCFunction)index_store_cache, METH_VARARGS,
     "store_cache(now_s, racy_limit_ns, max_age_s) -> rows written, or None (nothing "
     "written: store rows() instead)"},
    {"rows", (PyCFunction)index_rows, METH_NOARGS,
     "rows() -> the cache rows finish(direct=True) left for store_cache()"},
    {"count", (PyCFunction)index_len, METH_NOARGS, "count() -> records kept"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject FileIndexType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "hafs_cli._cdedup.FileIndex",
    .tp_basicsize = sizeof(FileIndex),
    .tp_dealloc = (destructor)index_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "hafs scan's plain file records for dedup, kept in C (see the module's source)",
    .tp_methods = index_methods,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cdedup",
    "File hafs scan's records for dedup in bulk (optional C speed-up).", -1, NULL,
};

PyMODINIT_FUNC PyInit__cdedup(void) {
    if (PyType_Ready(&FileIndexType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    if (PyModule_AddObjectRef(m, "FileIndex", (PyObject *)&FileIndexType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
