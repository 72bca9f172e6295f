"""The priority queue: strict priority between ranks, FIFO within one, aging against starvation.

Ordering rule (what tests check): the next request for a host is the eligible one with the
smallest key (aged rank, arrival sequence). A request's aged rank is its rank minus one for
every `aging_s` seconds it has waited, never below 1: aging lets old background work
overtake newer interactive work, but never training work. `aging_s = 0` turns aging off.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator

from hafs_cli.ai.errors import QUEUE_FULL, AIError
from hafs_cli.ai.request import Request, class_of


class RequestQueue:
    """Waiting requests by rank; not thread-safe (the engine holds its lock)."""

    def __init__(self, *, aging_s: float = 60.0, limits: dict[str, int] | None = None) -> None:
        self.aging_s = aging_s
        self.limits = dict(limits or {})
        self._buckets: dict[int, OrderedDict[str, Request]] = {}
        self._per_class: dict[str, int] = {}
        self._seq = 0

    def __len__(self) -> int:
        return sum(len(b) for b in self._buckets.values())

    def __iter__(self) -> Iterator[Request]:
        for rank in sorted(self._buckets):
            yield from self._buckets[rank].values()

    def count(self, priority_class: str) -> int:
        return self._per_class.get(priority_class, 0)

    def aged_rank(self, req: Request, now: float) -> int:
        if self.aging_s <= 0 or req.rank <= 1:
            return req.rank
        steps = int((now - req.arrived) / self.aging_s)
        return max(1, req.rank - steps)

    def key(self, req: Request, now: float) -> tuple[int, int]:
        return (self.aged_rank(req, now), req.seq)

    def push(self, req: Request, *, requeue: bool = False) -> None:
        """Add a request (a new arrival gets the next sequence number).

        A requeued request (its host failed) keeps its sequence and arrival time, so it
        goes back to the place it had, and does not count against the class limit twice.
        """
        cls = class_of(req.rank)
        if not requeue:
            limit = self.limits.get(cls)
            if limit is not None and self._per_class.get(cls, 0) >= limit:
                raise AIError(
                    QUEUE_FULL,
                    f"the {cls} queue is full ({limit} waiting); retry later or raise "
                    f"orchestrate.queue_limits.{cls}",
                    priority_class=cls,
                    limit=limit,
                )
            self._seq += 1
            req.seq = self._seq
        bucket = self._buckets.setdefault(req.rank, OrderedDict())
        bucket[req.id + "\0" + str(req.seq)] = req
        if requeue:  # restore arrival order inside the bucket
            ordered = sorted(bucket.items(), key=lambda kv: kv[1].seq)
            bucket.clear()
            bucket.update(ordered)
        self._per_class[cls] = self._per_class.get(cls, 0) + 1

    def _remove(self, req: Request) -> None:
        bucket = self._buckets[req.rank]
        del bucket[req.id + "\0" + str(req.seq)]
        if not bucket:
            del self._buckets[req.rank]
        cls = class_of(req.rank)
        self._per_class[cls] -= 1

    def pop_for(self, eligible: Callable[[Request], bool], now: float) -> Request | None:
        """Remove and return the best request `eligible` accepts, or None."""
        best: Request | None = None
        best_key: tuple[int, int] | None = None
        for bucket in self._buckets.values():
            # The oldest eligible request of a rank has waited longest: best key of its rank.
            for req in bucket.values():
                if eligible(req):
                    k = self.key(req, now)
                    if best_key is None or k < best_key:
                        best, best_key = req, k
                    break
        if best is not None:
            self._remove(best)
        return best

    def remove(self, req: Request) -> bool:
        """Remove this very request if it is waiting."""
        bucket = self._buckets.get(req.rank)
        if bucket is None or bucket.get(req.id + "\0" + str(req.seq)) is not req:
            return False
        self._remove(req)
        return True

    def take_expired(self, now: float) -> list[Request]:
        """Remove and return every waiting request whose deadline has passed."""
        gone = [r for r in self if r.expired(now)]
        for req in gone:
            self._remove(req)
        return gone

    def take_all(self) -> list[Request]:
        gone = list(self)
        for req in gone:
            self._remove(req)
        return gone

    def next_deadline(self) -> float | None:
        deadlines = [r.deadline_at for r in self if r.deadline_at is not None]
        return min(deadlines) if deadlines else None
