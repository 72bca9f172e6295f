/* hafs_cli._chash: dedup's per-file hashing work in threads, without the GIL.
 *
 * The optional fast path of hafs_cli/fs/hashing.py. Both functions take a list of
 * (path: bytes, size: int, mtime_ns: int, ctime_ns: int | None) and do for every item
 * what the Python function does for one file, with the same checks:
 *
 *   edges(items, threads)      -> hashing.edges_digest: open, fstat (size, mtime_ns and
 *                                 ctime_ns must be as given), CRC-32 of the first and of
 *                                 the last min(size, 4 KiB) bytes (a file up to 8 KiB is
 *                                 read whole, in one read of size + 1 bytes), as the
 *                                 signed 64-bit int of head << 32 | tail
 *   read_whole(items, threads) -> what hashing.full_digest reads: open, fstat check, the
 *                                 whole content (exactly size bytes, then end of file),
 *                                 fstat check again; the caller hashes it (blake3)
 *
 * Both return (results, failures): results[i] is the digest or the content, or None for
 * a failed item; failures lists (i, code) for those, code being an errno (open, fstat or
 * read failed) or CHANGED (-1: the file is not what the caller expected: other size or
 * times, or a read came up short or long). The items are spread over `threads` POSIX
 * threads (at most one per item, the calling thread included) that take them in small
 * chunks from a shared counter; no Python object is touched while they run. CRC-32 is
 * zlib's (reflected polynomial 0xEDB88320), so Python gets the same digest from
 * zlib.crc32: by carry-less multiplication where the CPU has PCLMULQDQ (about 9 GB/s
 * here), else slicing-by-8 (about 2 GB/s).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#ifdef __APPLE__ /* the nanosecond times of struct stat */
#define ST_MTIM st_mtimespec
#define ST_CTIM st_ctimespec
#else
#define ST_MTIM st_mtim
#define ST_CTIM st_ctim
#endif

#define EDGE 4096
#define CHANGED (-1)
#define CHUNK 16 /* items a thread takes at a time */
#define MAX_THREADS 256

static uint32_t crc_table[8][256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = crc_table[0][c & 0xFF] ^ (c >> 8);
            crc_table[t][i] = c;
        }
    }
}

/* CRC-32 by carry-less multiplication (x86-64 with PCLMULQDQ), after Gopal et al., "Fast
 * CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction" (Intel, 2009):
 * four 128-bit lanes are folded forward 512 bits at a time, then into one lane, then
 * reduced to 64 and, by Barrett reduction, to 32 bits. The constants are the paper's
 * x^k mod P(x) values for zlib's polynomial in the bit-reflected domain. Several times
 * faster than the table; used when the CPU has it (checked once), else the table. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CLMUL_TARGET __attribute__((target("pclmul,sse4.1")))

CLMUL_TARGET static inline __m128i fold_into(__m128i lane, __m128i k, __m128i next) {
    __m128i lo = _mm_clmulepi64_si128(lane, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(lane, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* c: the CRC register (inverted, as in crc32_update); n >= 64 and a multiple of 16 */
CLMUL_TARGET static uint32_t crc_clmul(uint32_t c, const unsigned char *p, size_t n) {
    const __m128i k_512 = _mm_set_epi64x(0x01c6e41596LL, 0x0154442bd4LL);
    const __m128i k_128 = _mm_set_epi64x(0x00ccaa009eLL, 0x01751997d0LL);
    const __m128i k_64 = _mm_set_epi64x(0, 0x0163cd6124LL);
    const __m128i barrett = _mm_set_epi64x(0x01f7011641LL, 0x01db710641LL);
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i lane[4];
    for (int i = 0; i < 4; i++)
        lane[i] = _mm_loadu_si128((const __m128i *)(p + 16 * i));
    lane[0] = _mm_xor_si128(lane[0], _mm_cvtsi32_si128((int)c));
    p += 64;
    n -= 64;
    for (; n >= 64; p += 64, n -= 64)
        for (int i = 0; i < 4; i++)
            lane[i] = fold_into(lane[i], k_512, _mm_loadu_si128((const __m128i *)(p + 16 * i)));
    __m128i x = lane[0];
    for (int i = 1; i < 4; i++)
        x = fold_into(x, k_128, lane[i]);
    for (; n >= 16; p += 16, n -= 16)
        x = fold_into(x, k_128, _mm_loadu_si128((const __m128i *)p));
    /* 128 -> 64 bits */
    x = _mm_xor_si128(_mm_srli_si128(x, 8), _mm_clmulepi64_si128(x, k_128, 0x10));
    x = _mm_xor_si128(_mm_srli_si128(x, 4),
                      _mm_clmulepi64_si128(_mm_and_si128(x, low32), k_64, 0x00));
    /* Barrett: 64 -> 32 bits */
    __m128i t = _mm_clmulepi64_si128(_mm_and_si128(x, low32), barrett, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), barrett, 0x00);
    return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x, t), 1);
}

static int have_clmul(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}
#else
static uint32_t crc_clmul(uint32_t c, const unsigned char *p, size_t n) { return c; }
static int have_clmul(void) { return 0; }
#endif

static int use_clmul; /* set once at import */

/* zlib.crc32(data, value) */
static uint32_t crc32_update(uint32_t value, const unsigned char *p, size_t n) {
    uint32_t c = ~value;
    if (use_clmul && n >= 64) {
        size_t m = n & ~(size_t)15;
        c = crc_clmul(c, p, m);
        p += m;
        n -= m;
    }
    while (n && ((uintptr_t)p & 7)) {
        c = crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
        n--;
    }
    while (n >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + 4, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        lo = __builtin_bswap32(lo);
        hi = __builtin_bswap32(hi);
#endif
        lo ^= c;
        c = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
            crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^
            crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
            crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        c = crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}

typedef struct {
    const char *path;
    long long size;
    long long mtime_s, mtime_ns, ctime_s, ctime_ns; /* as timespec: ns in [0, 1e9) */
    int has_ctime;
    int mismatch;   /* size or times outside what a file can have: never matches */
    int err;        /* 0, an errno, or CHANGED */
    int64_t digest; /* head CRC << 32 | tail CRC, as a signed 64-bit integer */
    char *buf;      /* read_whole: where the content goes (a bytes object's buffer) */
} Item;

typedef struct {
    Item *items;
    size_t n;
    atomic_size_t next;
    int whole;
} Job;

/* Read up to n bytes at off, retrying short reads until end of file; -1 on error. */
static ssize_t read_at(int fd, char *buf, size_t n, off_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, off + (off_t)got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static int same(struct timespec ts, long long s, long long ns) {
    return (long long)ts.tv_sec == s && (long long)ts.tv_nsec == ns;
}

/* A time in ns since the epoch (any Python int) as (seconds, ns in [0, 1e9)); -1 on error
 * (a Python exception set), 1 when the seconds do not fit (no file can have it). */
static int split_ns(PyObject *v, long long *s, long long *ns) {
    int over = 0;
    long long t = PyLong_AsLongLongAndOverflow(v, &over);
    if (t == -1 && PyErr_Occurred())
        return -1;
    if (!over) {
        long long q = t / 1000000000LL, r = t % 1000000000LL;
        if (r < 0) {
            r += 1000000000LL;
            q -= 1;
        }
        *s = q;
        *ns = r;
        return 0;
    }
    PyObject *billion = PyLong_FromLong(1000000000L);
    if (!billion)
        return -1;
    PyObject *qr = PyNumber_Divmod(v, billion); /* floor division, as timespec */
    Py_DECREF(billion);
    if (!qr)
        return -1;
    *s = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(qr, 0), &over);
    *ns = PyLong_AsLongLong(PyTuple_GET_ITEM(qr, 1));
    Py_DECREF(qr);
    if (PyErr_Occurred())
        return -1;
    return over ? 1 : 0;
}

/* 0 when the file still has the expected identity, CHANGED or an errno otherwise. */
static int check(int fd, const Item *it) {
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno;
    if (it->mismatch || (long long)st.st_size != it->size ||
        !same(st.ST_MTIM, it->mtime_s, it->mtime_ns) ||
        (it->has_ctime && !same(st.ST_CTIM, it->ctime_s, it->ctime_ns)))
        return CHANGED;
    return 0;
}

static int do_edges(int fd, Item *it, char *buf) {
    size_t size = (size_t)it->size;
    uint32_t head, tail;
    if (size <= 2 * EDGE) { /* one read of the whole file (and one byte more: growth) */
        ssize_t r = read_at(fd, buf, size + 1, 0);
        if (r < 0)
            return errno;
        if ((size_t)r != size)
            return CHANGED;
        size_t n = size < EDGE ? size : EDGE;
        head = crc32_update(0, (unsigned char *)buf, n);
        tail = size <= EDGE ? head : crc32_update(0, (unsigned char *)buf + size - EDGE, EDGE);
    } else {
        ssize_t r = read_at(fd, buf, EDGE, 0);
        if (r < 0)
            return errno;
        if (r != EDGE)
            return CHANGED;
        head = crc32_update(0, (unsigned char *)buf, EDGE);
        r = read_at(fd, buf, EDGE + 1, (off_t)(size - EDGE));
        if (r < 0)
            return errno;
        if (r != EDGE)
            return CHANGED;
        tail = crc32_update(0, (unsigned char *)buf, EDGE);
    }
    it->digest = (int64_t)(((uint64_t)head << 32) | tail);
    return 0;
}

static int do_whole(int fd, Item *it) {
    size_t size = (size_t)it->size;
    ssize_t r = size ? read_at(fd, it->buf, size, 0) : 0;
    if (r < 0)
        return errno;
    if ((size_t)r != size)
        return CHANGED;
    char extra;
    r = read_at(fd, &extra, 1, (off_t)size);
    if (r < 0)
        return errno;
    if (r != 0)
        return CHANGED;
    return check(fd, it); /* changed while it was read? */
}

static void one(Item *it, int whole, char *buf) {
    if (it->err) /* already decided while parsing (embedded NUL) */
        return;
    /* O_NONBLOCK: a FIFO put in a file's place must not hang us (fstat says CHANGED) */
    int fd = open(it->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        it->err = errno;
        return;
    }
    int err = check(fd, it);
    if (!err)
        err = whole ? do_whole(fd, it) : do_edges(fd, it, buf);
    close(fd);
    it->err = err;
}

static void *worker(void *arg) {
    Job *job = arg;
    char buf[2 * EDGE + 1];
    for (;;) {
        size_t start = atomic_fetch_add(&job->next, CHUNK);
        if (start >= job->n)
            break;
        size_t end = start + CHUNK < job->n ? start + CHUNK : job->n;
        for (size_t i = start; i < end; i++)
            one(&job->items[i], job->whole, buf);
    }
    return NULL;
}

/* Run the job on up to `threads` threads (the calling one included). */
static void run_job(Job *job, int threads) {
    if (threads < 1)
        threads = 1;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    if ((size_t)threads > job->n)
        threads = job->n ? (int)job->n : 1;
    pthread_t tids[MAX_THREADS];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tids[started], NULL, worker, job) != 0)
            break; /* fewer threads: the others take their share */
        started++;
    }
    worker(job);
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
}

/* Parse items into a new array (the paths stay owned by `seq`, which the caller keeps).
 * For read_whole, `outs` gets one new bytes object of the item's size per item. */
static Item *parse(PyObject *seq, Py_ssize_t n, PyObject **outs) {
    Item *items = PyMem_Calloc(n ? (size_t)n : 1, sizeof(Item));
    if (!items) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *path, *size, *mtime, *ctime;
        if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 4) {
            PyErr_SetString(PyExc_TypeError,
                            "items must be (path: bytes, size, mtime_ns, ctime_ns | None)");
            goto fail;
        }
        path = PyTuple_GET_ITEM(t, 0);
        size = PyTuple_GET_ITEM(t, 1);
        mtime = PyTuple_GET_ITEM(t, 2);
        ctime = PyTuple_GET_ITEM(t, 3);
        if (!PyBytes_Check(path)) {
            PyErr_SetString(PyExc_TypeError, "path must be bytes");
            goto fail;
        }
        Item *it = &items[i];
        it->path = PyBytes_AS_STRING(path);
        if ((Py_ssize_t)strlen(it->path) != PyBytes_GET_SIZE(path))
            it->err = EINVAL; /* embedded NUL: hashing.py reports EINVAL too */
        int over = 0, r;
        it->size = PyLong_AsLongLongAndOverflow(size, &over);
        if (it->size == -1 && PyErr_Occurred())
            goto fail;
        it->mismatch |= over != 0 || it->size < 0;
        if ((r = split_ns(mtime, &it->mtime_s, &it->mtime_ns)) < 0)
            goto fail;
        it->mismatch |= r;
        if (ctime != Py_None) {
            if ((r = split_ns(ctime, &it->ctime_s, &it->ctime_ns)) < 0)
                goto fail;
            it->mismatch |= r;
            it->has_ctime = 1;
        }
        if (it->mismatch)
            it->size = 0; /* nothing is read: the check after open says CHANGED */
        if (outs) {
            outs[i] = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)it->size);
            if (!outs[i])
                goto fail;
            it->buf = PyBytes_AS_STRING(outs[i]);
        }
    }
    return items;
fail:
    PyMem_Free(items);
    return NULL;
}

static PyObject *run(PyObject *args, int whole) {
    PyObject *arg, *seq, *result = NULL, **outs = NULL;
    int threads;
    if (!PyArg_ParseTuple(args, "Oi", &arg, &threads))
        return NULL;
    seq = PySequence_Fast(arg, "items must be a sequence");
    if (!seq)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (whole) {
        outs = PyMem_Calloc(n ? (size_t)n : 1, sizeof(PyObject *));
        if (!outs) {
            PyErr_NoMemory();
            goto done;
        }
    }
    Item *items = parse(seq, n, outs);
    if (!items)
        goto done;
    Job job = {.items = items, .n = (size_t)n, .whole = whole};
    atomic_init(&job.next, 0);
    Py_BEGIN_ALLOW_THREADS
    run_job(&job, threads);
    Py_END_ALLOW_THREADS
    PyObject *results = PyList_New(n), *failures = PyList_New(0);
    if (!results || !failures)
        goto built;
    for (Py_ssize_t i = 0; i < n; i++) {
        Item *it = &items[i];
        PyObject *v;
        if (it->err) {
            PyObject *f = Py_BuildValue("(ni)", i, it->err);
            if (!f || PyList_Append(failures, f) < 0) {
                Py_XDECREF(f);
                goto built;
            }
            Py_DECREF(f);
            Py_INCREF(Py_None);
            v = Py_None;
        } else if (whole) {
            v = outs[i];
            outs[i] = NULL;
        } else {
            v = PyLong_FromLongLong((long long)it->digest);
            if (!v)
                goto built;
        }
        PyList_SET_ITEM(results, i, v);
    }
    result = PyTuple_Pack(2, results, failures);
built:
    Py_XDECREF(results);
    Py_XDECREF(failures);
    PyMem_Free(items);
done:
    if (outs) {
        for (Py_ssize_t i = 0; i < n; i++)
            Py_XDECREF(outs[i]);
        PyMem_Free(outs);
    }
    Py_DECREF(seq);
    return result;
}

static PyObject *edges(PyObject *self, PyObject *args) { return run(args, 0); }

static PyObject *read_whole(PyObject *self, PyObject *args) { return run(args, 1); }

static PyObject *crc32(PyObject *self, PyObject *args) {
    Py_buffer data;
    unsigned int value = 0;
    if (!PyArg_ParseTuple(args, "y*|I", &data, &value))
        return NULL;
    uint32_t c;
    Py_BEGIN_ALLOW_THREADS
    c = crc32_update(value, data.buf, (size_t)data.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    return PyLong_FromUnsignedLong(c);
}

/* Tests run both CRC implementations: set_clmul(False) uses the table only. */
static PyObject *set_clmul(PyObject *self, PyObject *arg) {
    int on = PyObject_IsTrue(arg);
    if (on < 0)
        return NULL;
    int was = use_clmul;
    use_clmul = on && have_clmul();
    return PyBool_FromLong(was);
}

static PyMethodDef methods[] = {
    {"edges", edges, METH_VARARGS,
     "edges(items: list[(path, size, mtime_ns, ctime_ns | None)], threads: int) -> "
     "list[bytes | int]: the 8-byte head+tail digest, or an errno, or CHANGED"},
    {"read_whole", read_whole, METH_VARARGS,
     "read_whole(items, threads) -> list[bytes | int]: the content, or an errno, or CHANGED"},
    {"crc32", crc32, METH_VARARGS, "crc32(data, value=0) -> int, as zlib.crc32"},
    {"set_clmul", set_clmul, METH_O,
     "set_clmul(on) -> bool: use the PCLMULQDQ CRC where the CPU has it (the default); "
     "returns the previous setting (for tests)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_chash",
    "Head+tail digests and whole-file reads in threads (optional C speed-up).", -1, methods,
};

PyMODINIT_FUNC PyInit__chash(void) {
    crc_init();
    use_clmul = have_clmul();
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    if (PyModule_AddIntConstant(m, "CHANGED", CHANGED) || PyModule_AddIntConstant(m, "EDGE", EDGE)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
