"""Statistics with the standard library only: ranks, Spearman, bootstrap, Wilcoxon, permutation.

Every random procedure takes an explicit seed and uses its own random.Random, so the
same input and seed give the same numbers on every run (PYTHONHASHSEED plays no part).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


def mean(xs: Sequence[float]) -> float:
    return math.fsum(xs) / len(xs) if xs else float("nan")


def stdev(xs: Sequence[float]) -> float:
    n = len(xs)
    if n < 2:
        return 0.0
    m = mean(xs)
    return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / (n - 1))


def quantile(sorted_xs: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (the usual 'type 7')."""
    if not sorted_xs:
        return float("nan")
    pos = (len(sorted_xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def histogram(xs: Sequence[float], bins: int = 10, lo: float = 0.0, hi: float = 1.0) -> list[int]:
    """Counts in `bins` equal bins over [lo, hi]; a value on an edge goes to the upper bin."""
    counts = [0] * bins
    span = hi - lo
    for x in xs:
        # x * bins / span, not x / (span / bins): 0.3 lands in bin 3, not bin 2.
        i = math.floor((x - lo) * bins / span + 1e-9) if span else 0
        counts[min(max(i, 0), bins - 1)] += 1
    return counts


def ranks(xs: Sequence[float]) -> list[float]:
    """Ranks 1..n, ties share their average rank."""
    order = sorted(range(len(xs)), key=xs.__getitem__)
    out = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        avg = (i + j) / 2 + 1
        for k in range(i, j + 1):
            out[order[k]] = avg
        i = j + 1
    return out


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(xs)
    if n < 3:
        return None
    mx, my = mean(xs), mean(ys)
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rho (Pearson on average ranks); None when either side is constant."""
    return pearson(ranks(xs), ranks(ys))


def _normal_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def bootstrap_mean_ci(
    xs: Sequence[float], seed: int, resamples: int = 2000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean."""
    n = len(xs)
    if n == 0:
        return (float("nan"), float("nan"))
    rng = random.Random(seed)
    choices = rng.choices
    data = list(xs)
    means = sorted(sum(choices(data, k=n)) / n for _ in range(resamples))
    tail = (1 - level) / 2
    return (quantile(means, tail), quantile(means, 1 - tail))


def bootstrap_diff_ci(
    xs: Sequence[float], ys: Sequence[float], seed: int, resamples: int = 2000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(ys) - mean(xs) for independent samples."""
    rng = random.Random(seed)
    a, b = list(xs), list(ys)
    na, nb = len(a), len(b)
    diffs = sorted(
        sum(rng.choices(b, k=nb)) / nb - sum(rng.choices(a, k=na)) / na for _ in range(resamples)
    )
    tail = (1 - level) / 2
    return (quantile(diffs, tail), quantile(diffs, 1 - tail))


def _exact_signed_rank_counts(n: int) -> list[int]:
    """counts[w] = number of sign patterns of ranks 1..n whose positive ranks sum to w."""
    counts = [1]
    for r in range(1, n + 1):
        new = counts + [0] * r
        for w, c in enumerate(counts):
            new[w + r] += c
        counts = new
    return counts


def wilcoxon(diffs: Sequence[float]) -> tuple[float, float]:
    """Wilcoxon signed-rank test, two-sided: (W+, p). Zero differences are dropped.

    Exact null distribution up to 30 non-zero differences without ties; beyond that (or
    with ties) the normal approximation with tie and continuity corrections.
    """
    d = [x for x in diffs if x != 0]
    n = len(d)
    if n == 0:
        return (0.0, 1.0)
    absd = [abs(x) for x in d]
    r = ranks(absd)
    w_plus = math.fsum(rk for rk, x in zip(r, d, strict=True) if x > 0)
    ties = len(set(absd)) != n
    if n <= 30 and not ties:
        counts = _exact_signed_rank_counts(n)
        total = 2**n
        w = int(round(w_plus))
        lower = sum(counts[: w + 1]) / total
        upper = sum(counts[w:]) / total
        return (w_plus, min(1.0, 2 * min(lower, upper)))
    mu = n * (n + 1) / 4
    tie_term = 0.0
    seen: dict[float, int] = {}
    for x in absd:
        seen[x] = seen.get(x, 0) + 1
    tie_term = sum(t**3 - t for t in seen.values()) / 48
    var = n * (n + 1) * (2 * n + 1) / 24 - tie_term
    if var <= 0:
        return (w_plus, 1.0)
    z = (abs(w_plus - mu) - 0.5) / math.sqrt(var)
    return (w_plus, min(1.0, 2 * _normal_sf(max(z, 0.0))))


def mann_whitney(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Mann-Whitney U test, two-sided, normal approximation with tie correction: (U, p)."""
    n1, n2 = len(xs), len(ys)
    if n1 == 0 or n2 == 0:
        return (0.0, 1.0)
    allv = list(xs) + list(ys)
    r = ranks(allv)
    r1 = math.fsum(r[:n1])
    u1 = r1 - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    counts: dict[float, int] = {}
    for v in allv:
        counts[v] = counts.get(v, 0) + 1
    n = n1 + n2
    tie = sum(t**3 - t for t in counts.values())
    var = n1 * n2 / 12 * ((n + 1) - tie / (n * (n - 1))) if n > 1 else 0
    if var <= 0:
        return (u1, 1.0)
    z = (abs(u1 - mu) - 0.5) / math.sqrt(var)
    return (u1, min(1.0, 2 * _normal_sf(max(z, 0.0))))


def permutation_paired(diffs: Sequence[float], seed: int, resamples: int = 10000) -> float:
    """Two-sided sign-flip permutation p-value of the mean difference ((hits + 1) / (B + 1))."""
    d = [x for x in diffs if x != 0]
    n = len(d)
    if n == 0:
        return 1.0
    observed = abs(math.fsum(d))
    rng = random.Random(seed)
    total = math.fsum(d)
    hits = 0
    for _ in range(resamples):
        bits = rng.getrandbits(n)
        flipped = math.fsum(x for i, x in enumerate(d) if bits >> i & 1)
        if abs(total - 2 * flipped) >= observed - 1e-12:
            hits += 1
    return (hits + 1) / (resamples + 1)


def permutation_unpaired(
    xs: Sequence[float], ys: Sequence[float], seed: int, resamples: int = 10000
) -> float:
    """Two-sided label-permutation p-value of the difference in means."""
    a, b = list(xs), list(ys)
    pooled = a + b
    na = len(a)
    if not a or not b:
        return 1.0
    observed = abs(mean(b) - mean(a))
    rng = random.Random(seed)
    hits = 0
    total = math.fsum(pooled)
    nb = len(b)
    for _ in range(resamples):
        rng.shuffle(pooled)
        sa = math.fsum(pooled[:na])
        if abs((total - sa) / nb - sa / na) >= observed - 1e-12:
            hits += 1
    return (hits + 1) / (resamples + 1)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [0.0] * m
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * pvalues[i]))
        out[i] = running
    return out
