"""Cron expressions with cron's meaning, and intervals, as APScheduler 3.x triggers.

APScheduler 3.x numbers weekdays from Monday (0 = Monday); cron numbers them from
Sunday (0 and 7 = Sunday). Day-of-week fields are translated to names, so `0 2 * * 0`
means Sunday 02:00 as in cron. When both day-of-month and day-of-week are restricted,
cron fires when EITHER matches; that becomes an OrTrigger of two cron triggers.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

from hafs_cli.exits import HafsError

DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|day|w)?\s*$", re.I)
_UNITS = {
    "s": 1,
    "sec": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "hr": 3600,
    "d": 86400,
    "day": 86400,
    "w": 604800,
}


def parse_duration(text: str | int | float) -> float:
    """Seconds in '90', '90s', '15m', '2h', '1d', '1w'."""
    if isinstance(text, (int, float)):
        return float(text)
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 2h, 1d)")
    return float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]


def _dow_value(token: str) -> int:
    token = token.strip().lower()
    if token.isdigit():
        n = int(token)
        if not 0 <= n <= 7:
            raise ValueError(f"day of week {n} is out of range 0-7")
        return n % 7
    for i, name in enumerate(DOW_NAMES):
        if token[:3] == name:
            return i
    raise ValueError(f"unknown day of week {token!r}")


def cron_dow_to_names(field: str) -> str:
    """Translate a cron day-of-week field (0/7 = Sunday, names, ranges, steps) to names."""
    if field.strip() in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step < 1:
                raise ValueError("step must be at least 1")
        if part in ("*", "?"):
            lo, hi = 0, 6
        elif "-" in part:
            a, b = part.split("-", 1)
            lo, hi = _dow_value(a), _dow_value(b)
            if b.strip() == "7":
                hi = 7  # 5-7 means Friday to Sunday
            if hi < lo:
                raise ValueError(f"day-of-week range {part!r} runs backwards")
        else:
            lo = hi = _dow_value(part)
        days.update(d % 7 for d in range(lo, hi + 1, step))
    return ",".join(DOW_NAMES[d] for d in sorted(days))


def make_trigger(cron: str | None, every: str | int | float | None, tz: tzinfo):
    """An APScheduler trigger for a job: a cron expression or a fixed interval."""
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if bool(cron) == bool(every):
        raise ValueError("give exactly one of `cron` or `every`")
    if every:
        seconds = parse_duration(every)
        if seconds <= 0:
            raise ValueError("`every` must be positive")
        anchor = datetime(2000, 1, 3, tzinfo=tz)  # a Monday midnight: intervals align to it
        return IntervalTrigger(seconds=seconds, start_date=anchor, timezone=tz)
    expr = MACROS.get(cron.strip().lower(), cron)
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            f"cron expression {cron!r} has {len(fields)} fields; expected 5 "
            "(minute hour day-of-month month day-of-week)"
        )
    minute, hour, dom, month, dow = fields
    names = cron_dow_to_names(dow)
    if dom not in ("*", "?") and names != "*":
        return OrTrigger(
            [
                CronTrigger(minute=minute, hour=hour, day=dom, month=month, timezone=tz),
                CronTrigger(minute=minute, hour=hour, month=month, day_of_week=names, timezone=tz),
            ]
        )
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=None if dom in ("*", "?") else dom,
        month=month,
        day_of_week=None if names == "*" else names,
        timezone=tz,
    )


def fire_times_between(trigger, after: datetime, until: datetime, limit: int = 100000):
    """Fire times t with after < t <= until, in order (at most `limit`)."""
    out = []
    prev = None
    probe = after + timedelta(microseconds=1)
    while len(out) < limit:
        nxt = trigger.get_next_fire_time(prev, probe)
        if nxt is None or nxt > until:
            break
        if nxt > after:
            out.append(nxt)
        prev = nxt
        probe = nxt + timedelta(microseconds=1)
    return out


def next_fire_time(trigger, now: datetime) -> datetime | None:
    return trigger.get_next_fire_time(None, now)


def check_trigger(name: str, cron: str | None, every, tz) -> None:
    try:
        make_trigger(cron, every, tz)
    except (ValueError, TypeError) as exc:
        raise HafsError(f"[schedule.jobs.{name}]: {exc}") from None
