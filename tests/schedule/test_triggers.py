"""Cron semantics as users know them, on APScheduler 3.x triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hafs_cli.schedule.triggers import (
    cron_dow_to_names,
    fire_times_between,
    make_trigger,
    next_fire_time,
    parse_duration,
)


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("0", "sun"),
        ("7", "sun"),
        ("1", "mon"),
        ("6", "sat"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("5-7", "sun,fri,sat"),
        ("0,6", "sun,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("1-5/2", "mon,wed,fri"),
        ("sun", "sun"),
        ("MON-wed", "mon,tue,wed"),
        ("*", "*"),
    ],
)
def test_cron_day_of_week_translation(field, names):
    assert cron_dow_to_names(field) == names


@pytest.mark.parametrize("bad", ["8", "funday", "5-1", "*/0"])
def test_bad_day_of_week_is_rejected(bad):
    with pytest.raises(ValueError):
        cron_dow_to_names(bad)


def test_zero_means_sunday_as_in_cron():
    wednesday = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    nxt = next_fire_time(make_trigger("0 2 * * 0", None, UTC), wednesday)
    assert nxt == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    assert nxt.strftime("%A") == "Sunday"
    assert next_fire_time(make_trigger("0 2 * * 7", None, UTC), wednesday) == nxt


def test_weekdays_one_to_five_are_monday_to_friday():
    start = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday
    fires = fire_times_between(
        make_trigger("0 9 * * 1-5", None, UTC), start, start + timedelta(days=7)
    )
    assert [f.strftime("%a") for f in fires] == ["Mon", "Tue", "Wed", "Thu", "Fri"]


def test_day_of_month_and_day_of_week_fire_on_either_as_in_cron():
    start = datetime(2026, 2, 1, tzinfo=UTC)
    fires = fire_times_between(
        make_trigger("0 0 13 * 5", None, UTC), start, datetime(2026, 3, 1, tzinfo=UTC)
    )
    days = [(f.day, f.strftime("%a")) for f in fires]
    assert (13, "Fri") in days  # Friday the 13th once
    assert days == [(6, "Fri"), (13, "Fri"), (20, "Fri"), (27, "Fri")]
    end = datetime(2026, 3, 1, tzinfo=UTC)
    fires = fire_times_between(make_trigger("0 0 1 * 5", None, UTC), start, end)
    assert [f.day for f in fires] == [6, 13, 20, 27, 1] and fires[-1] == end
    fires = fire_times_between(
        make_trigger("0 0 1 * 5", None, UTC),
        start - timedelta(seconds=1),
        datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert fires[0] == start  # the 1st (a Sunday) fires through the day-of-month branch


def test_macros_and_intervals():
    start = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert next_fire_time(make_trigger("@hourly", None, UTC), start) == datetime(
        2026, 1, 1, 1, tzinfo=UTC
    )
    fires = fire_times_between(make_trigger(None, "15m", UTC), start, start + timedelta(hours=1))
    assert [f.minute for f in fires] == [15, 30, 45, 0]


def test_wrong_field_count_is_explained():
    with pytest.raises(ValueError, match="expected 5"):
        make_trigger("0 2 * *", None, UTC)


def test_timezone_is_respected():
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    nxt = next_fire_time(make_trigger("0 2 * * *", None, berlin), datetime(2026, 6, 1, tzinfo=UTC))
    assert nxt.astimezone(UTC) == datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # 02:00 CEST


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400), (5, 5)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds
