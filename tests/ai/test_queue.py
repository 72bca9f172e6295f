"""The scheduler core on a fake clock: priority, FIFO, aging, limits, deadlines."""

from __future__ import annotations

import heapq
import random

import pytest

from hafs_cli.ai.errors import AIError
from hafs_cli.ai.queue import RequestQueue
from hafs_cli.ai.request import Request, from_record


def req(rid: str, rank: int, at: float = 0.0, model: str = "m", deadline: float | None = None):
    return Request(id=rid, rank=rank, model=model, prompt="p", arrived=at, deadline_at=deadline)


def drain(q: RequestQueue, now: float = 0.0) -> list[str]:
    out = []
    while (r := q.pop_for(lambda _r: True, now)) is not None:
        out.append(r.id)
    return out


def test_strict_priority_between_classes_fifo_within():
    q = RequestQueue(aging_s=0)
    for rid, rank in [("s1", 3), ("a1", 2), ("i1", 1), ("s2", 3), ("t1", 0), ("i2", 1)]:
        q.push(req(rid, rank))
    assert drain(q) == ["t1", "i1", "i2", "a1", "s1", "s2"]


def test_aging_lets_an_old_scheduled_request_overtake_new_interactive_work():
    q = RequestQueue(aging_s=10)
    q.push(req("old-scheduled", 3, at=0))
    q.push(req("new-interactive", 1, at=25))
    # At t=25 the scheduled request has aged two steps: rank 3 -> 1, and it arrived first.
    assert drain(q, now=25) == ["old-scheduled", "new-interactive"]


def test_aging_stops_short_of_training():
    q = RequestQueue(aging_s=1)
    q.push(req("ancient-scheduled", 3, at=0))
    q.push(req("training", 0, at=1000))
    assert drain(q, now=1000) == ["training", "ancient-scheduled"]


def test_without_enough_aging_the_higher_class_goes_first():
    q = RequestQueue(aging_s=10)
    q.push(req("scheduled", 3, at=0))
    q.push(req("interactive", 1, at=5))
    assert drain(q, now=15) == ["interactive", "scheduled"]  # aged once only: rank 2


def test_per_class_limit_gives_queue_full_and_other_classes_still_enter():
    q = RequestQueue(limits={"scheduled": 2})
    q.push(req("s1", 3))
    q.push(req("s2", 5))  # integer ranks below scheduled share its limit
    with pytest.raises(AIError) as err:
        q.push(req("s3", 3))
    assert err.value.code == "queue_full"
    assert err.value.to_dict()["priority_class"] == "scheduled"
    q.push(req("i1", 1))
    assert len(q) == 3


def test_requeue_keeps_place_in_line():
    q = RequestQueue(aging_s=0)
    for rid in ["a", "b", "c"]:
        q.push(req(rid, 2))
    first = q.pop_for(lambda _r: True, 0)
    assert first.id == "a"
    q.push(first, requeue=True)
    assert drain(q) == ["a", "b", "c"]


def test_remove_takes_that_very_request_and_expired_go_by_deadline():
    q = RequestQueue()
    q.push(req("x", 2, deadline=5))
    y = req("y", 2)
    q.push(y)
    twin = req("y", 2)  # another client's request with the same id
    q.push(twin)
    q.push(req("z", 1, deadline=50))
    assert q.remove(twin) and not q.remove(twin)
    assert q.remove(y)
    assert [r.id for r in q.take_expired(now=10)] == ["x"]
    assert q.next_deadline() == 50
    assert drain(q) == ["z"]


def test_ineligible_requests_are_skipped_not_reordered():
    q = RequestQueue(aging_s=0)
    q.push(req("big", 1, model="70b"))
    q.push(req("small", 1, model="8b"))
    only_small = q.pop_for(lambda r: r.model == "8b", 0)
    assert only_small.id == "small"
    assert drain(q) == ["big"]


def test_request_record_validation_messages():
    with pytest.raises(AIError, match="`model` is required"):
        from_record({"id": "a", "prompt": "x"})
    with pytest.raises(AIError, match="unknown priority 'urgent'"):
        from_record({"id": "a", "model": "m", "prompt": "x", "priority": "urgent"})
    with pytest.raises(AIError, match="give `messages` or `prompt`"):
        from_record({"id": "a", "model": "m"})
    with pytest.raises(AIError, match="`format` must be"):
        from_record({"id": "a", "model": "m", "prompt": "x", "format": "xml"})
    with pytest.raises(AIError, match="`host` must be a string"):
        from_record({"id": "a", "model": "m", "prompt": "x", "host": 3})
    with pytest.raises(AIError, match="`max_tokens` must be a positive integer"):
        from_record({"id": "a", "model": "m", "prompt": "x", "max_tokens": True})
    r = from_record({"id": 7, "model": "m", "prompt": "x", "priority": "scheduled", "deadline": 3})
    assert (r.id, r.rank, r.priority_class) == ("7", 3, "scheduled")
    assert r.deadline_at == pytest.approx(r.arrived + 3)


def ordering_violations(q: RequestQueue, chosen: Request, waiting: list[Request], host_models, now):
    """Independent statement of the rule: count waiting requests that should have gone first."""
    bad = 0
    for other in waiting:
        if other is chosen or other.model not in host_models:
            continue
        if other.rank == chosen.rank and other.seq < chosen.seq:
            bad += 1  # FIFO within a class, always
        elif other.rank < chosen.rank:
            # A lower class may go first only when aging brought it level and it is older.
            aged = chosen.rank
            if q.aging_s > 0 and chosen.rank > 1:
                aged = max(1, chosen.rank - int((now - chosen.arrived) / q.aging_s))
            other_aged = other.rank
            if q.aging_s > 0 and other.rank > 1:
                other_aged = max(1, other.rank - int((now - other.arrived) / q.aging_s))
            if not (aged < other_aged or (aged == other_aged and chosen.seq < other.seq)):
                bad += 1
    return bad


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_1000_random_requests_on_three_hosts_have_no_ordering_violations(seed):
    rnd = random.Random(seed)
    q = RequestQueue(aging_s=30)
    hosts = {"gpu": ({"m1", "m2"}, 2), "laptop": ({"m1"}, 1), "cpu": ({"m2", "m3"}, 1)}
    busy = {h: 0 for h in hosts}
    arrivals = sorted((rnd.uniform(0, 400), i) for i in range(1000))
    events: list[tuple[float, int, str]] = []  # (time, order, host) completions
    waiting: list[Request] = []
    dispatched = violations = 0
    clock = 0.0
    ai = 0
    while dispatched < 1000:
        next_arrival = arrivals[ai][0] if ai < len(arrivals) else float("inf")
        next_done = events[0][0] if events else float("inf")
        clock = min(next_arrival, next_done)
        if next_done <= next_arrival:
            _, _, host = heapq.heappop(events)
            busy[host] -= 1
        else:
            _, i = arrivals[ai]
            ai += 1
            r = req(
                f"r{i}",
                rnd.choice([0, 1, 2, 3, 3, 3, 4]),
                at=clock,
                model=rnd.choice(["m1", "m2", "m3"]),
            )
            q.push(r)
            waiting.append(r)
        for host, (models, slots) in hosts.items():
            while busy[host] < slots:
                chosen = q.pop_for(lambda r, m=models: r.model in m, clock)
                if chosen is None:
                    break
                violations += ordering_violations(q, chosen, waiting, models, clock)
                waiting.remove(chosen)
                busy[host] += 1
                dispatched += 1
                heapq.heappush(events, (clock + rnd.uniform(0.5, 3.0), dispatched, host))
    assert len(q) == 0 and not waiting
    assert violations == 0


def test_deadline_as_iso_time_and_bad_deadline():
    from datetime import UTC, datetime, timedelta

    when = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    r = from_record({"model": "m", "prompt": "x", "deadline": when}, now=100.0)
    assert r.deadline_at == pytest.approx(130.0, abs=1)
    with pytest.raises(AIError, match="neither seconds nor an ISO 8601"):
        from_record({"model": "m", "prompt": "x", "deadline": "tomorrow"})


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"role": "user", "content": 5}, "messages[1].content must be a string"),
        ({"role": "user", "content": "x", "images": "abc"}, "messages[1].images must be a list"),
        ({"role": "assistant", "content": "", "tool_calls": "f"}, "messages[1].tool_calls must be"),
    ],
)
def test_a_malformed_message_is_the_requests_fault_not_the_servers(message, problem):
    # (it used to reach the ollama client and come back as "host sent a malformed reply")
    ok = {"role": "system", "content": "be brief"}
    with pytest.raises(AIError) as err:
        from_record({"id": "a", "model": "m", "messages": [ok, message]})
    assert err.value.code == "bad_request"
    assert err.value.message.startswith("request a: " + problem)
