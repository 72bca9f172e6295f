"""Near-duplicate search: word shingles, one-permutation MinHash, LSH banding.

Everything is keyed by stable 64-bit hashes (blake2b of each word, mixed arithmetically
for shingles), never by Python's salted hash(), so results do not depend on
PYTHONHASHSEED. The sketch is one-permutation hashing with rotation densification
(Shrivastava & Li, 2014): one pass over the shingles instead of one per permutation.
Candidates from the LSH bands are confirmed with the exact Jaccard similarity of the
shingle sets, so the reported similarity is exact, not an estimate.
"""

from __future__ import annotations

import hashlib
import operator
import re
from array import array
from collections import Counter
from collections.abc import Iterable
from itertools import repeat

MASK = (1 << 64) - 1
_M1 = 0x9E3779B97F4A7C15
# A word keeps inner punctuation ($7e:0022, lda.w, [$00],y) but not a trailing . , or :
_WORDS = re.compile(r"[a-z0-9_$#!()\[\]+-]+(?:[:.,]+[a-z0-9_$#!()\[\]+-]+)*")
_EMPTY = 1 << 64  # above any value a bin can hold


class WordHasher:
    """Stable 64-bit word hashes, memoised (vocabularies are small next to corpora)."""

    def __init__(self) -> None:
        self._memo: dict[str, int] = {}

    def __call__(self, word: str) -> int:
        h = self._memo.get(word)
        if h is None:
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
            if len(self._memo) < 2_000_000:
                self._memo[word] = h
        return h

    def many(self, words: list[str]) -> list[int]:
        """Hashes of a list of words (the memo lookups run in C)."""
        memo = self._memo
        if len(memo) < 2_000_000:
            for w in set(words).difference(memo):
                self(w)
            return list(map(memo.__getitem__, words))
        return [self(w) for w in words]


def normalise_text(text: str) -> list[str]:
    """Lower-case words with punctuation that matters in code ($, #, brackets) kept."""
    return _WORDS.findall(text.lower())


def shingles(words: list[str], size: int, hasher: WordHasher) -> array:
    """Sorted unique 64-bit hashes of the word `size`-grams (whole text when shorter).

    A shingle's hash is hash() of its tuple of 64-bit word hashes: ints and tuples of
    ints hash the same in every process (only str/bytes hashing is salted), mixed by a
    multiply so that the high bits, which pick the sketch bin, depend on every word.
    """
    hashes = hasher.many(words)
    if not hashes:
        return array("Q")
    if len(hashes) <= size:
        grams = {hash(tuple(hashes))}
    else:
        grams = set(
            map(
                hash,
                zip(*(hashes[i : len(hashes) - size + 1 + i] for i in range(size)), strict=True),
            )
        )
    return array("Q", sorted({(g * _M1) & MASK for g in grams}))


def sketch(shingle_hashes: Iterable[int], bins: int) -> tuple[int, ...]:
    """One-permutation MinHash with `bins` bins (a power of two), densified by rotation.

    The top bits of a hash pick its bin, the rest is its value in that bin.
    """
    shift = 64 - (bins.bit_length() - 1)
    low = (1 << shift) - 1
    ordered = shingle_hashes if isinstance(shingle_hashes, array) else sorted(shingle_hashes)
    descending = ordered[::-1]
    # dict() keeps the last value per key: fed in descending order, that is each bin's minimum.
    firsts = dict(zip(map(operator.rshift, descending, repeat(shift)), descending, strict=False))
    sk = [firsts[b] & low if b in firsts else _EMPTY for b in range(bins)]
    if _EMPTY in sk and any(v != _EMPTY for v in sk):
        mask = bins - 1
        filled = list(sk)
        for i in range(bins):
            if sk[i] == _EMPTY:
                j, step = i, 0
                while sk[j] == _EMPTY:
                    j = (j + 1) & mask
                    step += 1
                filled[i] = (sk[j] + step * 0x5BD1E995) & ((1 << 58) - 1)
        return tuple(filled)
    return tuple(sk)


def jaccard(a: array, b: array) -> float:
    """Exact Jaccard similarity of two shingle sets."""
    if not a and not b:
        return 1.0
    sa = set(a)
    inter = len(sa.intersection(b))
    return inter / (len(sa) + len(b) - inter)


def jaccard_with(sa: set[int], a: array, b: array) -> float:
    """jaccard(a, b) when set(a) is already built (the hot loop builds it once)."""
    if not a and not b:
        return 1.0
    inter = len(sa.intersection(b))
    return inter / (len(sa) + len(b) - inter)


class LSHIndex:
    """Bands of a sketch -> items sharing that band; candidates are items sharing any band.

    Band keys are hashes of int tuples (not salted by PYTHONHASHSEED); a rare collision
    only adds a candidate, which the exact Jaccard check then judges.
    """

    def __init__(self, bins: int, bands: int):
        if bins % bands:
            raise ValueError(f"bins ({bins}) must be a multiple of bands ({bands})")
        self.rows = bins // bands
        self.bands = bands
        self._buckets: dict[int, int | list[int]] = {}

    def keys(self, sk: tuple[int, ...]) -> array:
        r = self.rows
        return array(
            "q", (hash((band, *sk[band * r : (band + 1) * r])) for band in range(self.bands))
        )

    def add(self, item: int, keys: array) -> None:
        buckets = self._buckets
        for key in keys:
            hit = buckets.get(key)
            if hit is None:
                buckets[key] = item
            elif isinstance(hit, int):
                buckets[key] = [hit, item]
            else:
                hit.append(item)

    def best_candidates(self, keys: array, limit: int, crowded: int = 64) -> list[int]:
        """Up to `limit` items sharing the most bands with `keys`, sorted.

        Sharing more bands means a higher estimated similarity, so the exact check can
        stop at the few best. A band shared by more than `crowded` items is boilerplate
        (a stock phrase every answer has) and is skipped: it says nothing about one pair,
        and counting it would make the search quadratic on templated data.
        """
        counts: Counter[int] = Counter()
        buckets = self._buckets
        singles = []
        for key in keys:
            hit = buckets.get(key)
            if hit is None:
                continue
            if isinstance(hit, int):
                singles.append(hit)
            elif len(hit) <= crowded:
                counts.update(hit)
        counts.update(singles)
        if len(counts) > limit:
            return sorted(item for item, _ in counts.most_common(limit))
        return sorted(counts)
