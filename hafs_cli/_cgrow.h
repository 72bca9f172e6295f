/* A growing array for hafs's C speed-ups (hafs_cli/_c*.c include it).
 *
 * p = grow(p, &cap, need, each, first): room for `need` elements of `each` bytes (the
 * capacity *cap doubles from `first`); the array, moved or not, or NULL when out of
 * memory (the old one then still stands). It calls nothing of Python's, so code that runs
 * without the GIL can use it. */
#ifndef HAFS_CGROW_H
#define HAFS_CGROW_H

#include <stdlib.h>

static void *grow(void *p, size_t *cap, size_t need, size_t each, size_t first) {
    if (p && need <= *cap)
        return p;
    size_t c = *cap ? *cap : first;
    while (c < need)
        c *= 2;
    void *q = realloc(p, c * each);
    if (q)
        *cap = c;
    return q;
}

#endif
