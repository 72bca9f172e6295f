"""hafs backup verify and status."""

from __future__ import annotations

import os

import pytest

from tests.backup.conftest import assert_valid


def backed_up(ready, hafs, files: int = 5):
    data = ready.source("data")
    for i in range(files):
        (data / f"f{i}.txt").write_text(f"content {i}\n" * (i + 1))
    ready.add_set("data", data)
    r = hafs("backup", "run")
    assert r.exit_code == 0, r.stderr
    return data, r.records[0]


def test_verify_checks_the_repository_and_compares_every_sampled_file(ready, hafs):
    _data, snap = backed_up(ready, hafs)
    r = hafs("backup", "verify", "--sample", "0")
    assert r.exit_code == 0, r.stderr
    check, sample = r.records
    assert check == {
        "kind": "backup_check",
        "repository": "default",
        "ok": True,
        "read_data_subset": None,
    }
    assert sample["snapshot_id"] == snap["snapshot_id"]
    assert (sample["sampled"], sample["matched"], sample["source_changed"]) == (5, 5, 0)
    assert sample["mismatched"] == sample["missing"] == []
    assert sample["ok"] is True
    assert_valid(r.records)


def test_verify_samples_the_configured_number_of_files(ready, hafs):
    backed_up(ready, hafs, files=12)
    ready.backup["verify_sample"] = 4
    ready.write()
    r = hafs("backup", "verify", "--seed", "7")
    assert r.exit_code == 0, r.stderr
    assert (
        r.records[1]["files_in_snapshot"],
        r.records[1]["sampled"],
        r.records[1]["matched"],
    ) == (12, 4, 4)


def test_verify_reports_a_restored_file_that_differs_from_its_unchanged_source(ready, hafs):
    data, _snap = backed_up(ready, hafs)
    victim = data / "f3.txt"
    st = victim.stat()
    victim.write_bytes(victim.read_bytes().replace(b"content", b"CONTENT"))  # same size
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: looks unchanged
    r = hafs("backup", "verify", "--sample", "0")
    assert r.exit_code == 1
    assert r.records[1]["mismatched"] == [str(victim)]
    assert r.records[1]["matched"] == 4
    assert r.records[1]["ok"] is False


def test_a_source_changed_since_the_snapshot_is_counted_not_passed_or_failed(ready, hafs):
    data, _snap = backed_up(ready, hafs)
    (data / "f0.txt").write_text("edited after the backup\n")
    r = hafs("backup", "verify", "--sample", "0")
    assert r.exit_code == 0, r.stderr
    assert (r.records[1]["matched"], r.records[1]["source_changed"]) == (4, 1)


def corrupt_packs(repo) -> int:
    count = 0
    for dirpath, _dirs, files in os.walk(repo / "data"):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "r+b") as fh:
                fh.seek(40)
                chunk = fh.read(64)
                fh.seek(40)
                fh.write(bytes(b ^ 0xFF for b in chunk))
            count += 1
    return count


def test_verify_fails_on_a_corrupted_repository(ready, hafs):
    backed_up(ready, hafs)
    assert corrupt_packs(ready.repo) > 0
    r = hafs("backup", "verify", "--sample", "0", "--read-data-subset", "100%")
    assert r.exit_code == 1
    assert r.records[0]["ok"] is False
    assert r.records[0]["errors"]
    assert_valid(r.records)


def test_verify_sample_restore_catches_corruption_check_does_not_read(ready, hafs):
    backed_up(ready, hafs)
    corrupt_packs(ready.repo)
    r = hafs("backup", "verify", "--sample", "0")
    assert r.exit_code == 1
    sample = r.records[-1]
    assert sample["ok"] is False
    assert sample.get("restore_error") or sample["missing"] or sample["mismatched"]


@pytest.mark.parametrize(
    "args",
    [
        ("--read-data-subset", "200%"),
        ("--read-data-subset", "0/3"),
        ("--read-data-subset", "ten"),
        ("--sample", "-1"),
    ],
)
def test_bad_verify_options_are_usage_errors_before_any_check(ready, hafs, args):
    ready.add_set("data", ready.source("data"))
    r = hafs("backup", "verify", *args)
    assert r.exit_code == 2, r.stderr
    assert r.records == []  # refused before restic check ran
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hafs: error: ") and args[0] in lines[0]


def test_a_bad_configured_read_data_subset_names_the_setting(ready, hafs):
    ready.backup["verify_read_data_subset"] = "110%"
    ready.add_set("data", ready.source("data"))
    r = hafs("backup", "verify")
    assert r.exit_code == 2 and r.records == []
    assert b"[backup] verify_read_data_subset '110%'" in r.stderr


def test_a_read_data_subset_restic_accepts_is_passed_on(ready, hafs):
    data = ready.source("data")
    (data / "f").write_text("f")
    ready.add_set("data", data)
    assert hafs("backup", "run").exit_code == 0
    for subset in ("1/10", "100%", "1M"):
        r = hafs("backup", "verify", "--read-data-subset", subset)
        assert r.exit_code == 0, r.stderr
        assert r.records[0]["ok"] is True and r.records[0]["read_data_subset"] == subset


def test_status_says_never_then_ok_with_age_and_repository_size(ready, hafs):
    ready.add_set("data", ready.source("data"))
    (ready.source("data") / "x").write_text("x")
    never = hafs("backup", "status")
    assert never.exit_code == 1
    assert never.records[0]["state"] == "never"
    run = hafs("backup", "run")
    ok = hafs("backup", "status")
    assert ok.exit_code == 0, ok.stderr
    rec = ok.records[0]
    assert rec["state"] == "ok"
    assert rec["last_snapshot_id"] == run.records[0]["snapshot_id"]
    assert 0 <= rec["age_s"] < 120
    on_disk = sum(f.stat().st_size for f in ready.repo.rglob("*") if f.is_file())
    assert rec["repository_bytes"] == on_disk
    assert_valid(never.records + ok.records)


def test_status_reports_a_set_whose_last_backup_is_too_old(ready, hafs):
    ready.add_set("data", ready.source("data"))
    (ready.source("data") / "x").write_text("x")
    assert hafs("backup", "run", "--time", "2020-01-01 03:00:00").exit_code == 0
    r = hafs("backup", "status")
    assert r.exit_code == 1
    assert r.records[0]["state"] == "stale"
    assert r.records[0]["age_s"] > 36 * 3600
