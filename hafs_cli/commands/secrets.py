"""hafs secrets: find API keys, tokens, private keys and passwords in files or staged changes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hafs_cli import exits
from hafs_cli.exits import HafsError, epilog
from hafs_cli.pipe import pipe_command


@click.group(
    "secrets",
    epilog=epilog(
        "hafs secrets scan .",
        "hafs secrets scan --staged --format jsonl | jq -r .path",
        "hafs scan ~/Code | hafs secrets scan --only > findings.jsonl",
        "hafs secrets baseline -o .hafs-secrets-baseline.json",
    ),
)
def command() -> None:
    """Scan files or staged changes for secrets; keep a baseline of accepted ones.

    Output never contains a full secret: each finding shows only a short public
    prefix (ghp_Ab…) and a fingerprint that identifies the value without revealing it.
    """


def _scan_options(f):
    f = click.option("--no-baseline", is_flag=True, help="Ignore the baseline: report everything.")(
        f
    )
    f = click.option(
        "--baseline",
        "baseline_file",
        type=click.Path(dir_okay=False),
        help="Baseline of accepted fingerprints (default: [secrets].baseline if it exists).",
    )(f)
    f = click.option(
        "--skip-rule",
        "skip_rules",
        multiple=True,
        help="Turn a rule off (repeatable; see 'rules').",
    )(f)
    f = click.option(
        "--exclude", multiple=True, help="Glob of paths not to scan (repeatable; adds to config)."
    )(f)
    f = click.option(
        "--repo", type=click.Path(file_okay=False), help="Repository for --staged (default: here)."
    )(f)
    f = click.option("--staged", is_flag=True, help="Scan the lines staged for the next commit.")(f)
    f = click.argument("paths", nargs=-1, type=click.Path())(f)
    return f


def _results(pipe, paths, staged, repo, exclude, skip_rules, baseline_file, no_baseline):
    """The FileResults of one run, plus the records that pass through from stdin."""
    from hafs_cli.paths import record_path
    from hafs_cli.secrets import session

    if staged and paths:
        raise HafsError("give PATHs or --staged, not both")
    section = pipe.config.section("secrets")
    root = session.project_root(repo)
    baseline = session.resolve_baseline(
        baseline_file, section.get("baseline", ""), not no_baseline, root
    )
    settings = session.Settings.from_config(section, baseline)
    settings = session.Settings(
        exclude=settings.exclude + tuple(exclude),
        skip_rules=settings.skip_rules + tuple(skip_rules),
        max_file_bytes=settings.max_file_bytes,
        baseline=baseline,
    )
    _check_rules(settings.skip_rules)
    if staged:
        yield from session.scan_staged(repo or root, settings)
    elif paths:
        yield from session.scan_paths(paths, settings)
    elif not _stdin_has_records():
        yield from session.scan_paths(["."], settings)
    else:  # a pipeline stage: scan the `file` records that flow past
        import socket

        here = socket.gethostname()
        for rec in pipe.records():
            pipe.forward(rec)
            if rec.get("kind") == "file" and rec.get("host", here) in (here, ""):
                try:
                    path = record_path(rec)
                except HafsError as exc:  # one bad record: reported, the stream goes on
                    pipe.error(exc.message, path=rec.get("path"))
                    continue
                if not session.excluded(path, settings.exclude):
                    yield session.scan_file(path, settings)
        if not pipe.input_count and not pipe.error_count:
            # an empty pipe (a CI job, a script) must not pass as "no secrets found"
            raise HafsError(
                "no PATHs and no records on stdin, so nothing was scanned: "
                "name the paths to scan (for example '.')"
            )


def _stdin_has_records() -> bool:
    """stdin is a pipe or a file to read records from (not a terminal, not /dev/null)."""
    import os
    import stat

    if sys.stdin is None:
        return False
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):
        return True  # an in-memory stream (a test runner): records, if any
    if os.isatty(fd):
        return False
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False  # stdin closed
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


def _check_rules(names) -> None:
    from hafs_cli.secrets.rules import rule_ids

    unknown = sorted(set(names) - set(rule_ids()))
    if unknown:
        raise HafsError(f"unknown rule {', '.join(unknown)}; known rules: {', '.join(rule_ids())}")


@command.command(
    "scan",
    epilog=epilog(
        "hafs secrets scan src/ config/",
        "hafs secrets scan --staged",
        "hafs scan ~/Code | hafs secrets scan --only",
    ),
)
@_scan_options
@pipe_command(produces={"finding", "summary"})
def scan(pipe, paths, staged, repo, exclude, skip_rules, baseline_file, no_baseline) -> int:
    """Report secrets in PATHs, in staged changes, or in `file` records from stdin.

    Without PATHs: `file` records piped in are scanned (an empty pipe is a usage
    error, so nothing passes unscanned); from a terminal or /dev/null, '.' is scanned.

    Each finding names the path, line, column, the kind of secret, a redacted match
    and a fingerprint. Mark a line that is not a secret with a `hafs: allow-secret`
    comment (detect-secrets' `pragma: allowlist secret` works too), or accept findings
    with 'hafs secrets baseline'. Exit 1 when a secret is found.
    """
    from hafs_cli.paths import path_fields

    pipe.table_columns["finding"] = ["path", "line", "secret_kind", "redacted", "fingerprint"]
    counts = {"files": 0, "findings": 0, "baselined": 0, "skipped": 0}
    results = _results(pipe, paths, staged, repo, exclude, skip_rules, baseline_file, no_baseline)
    with pipe.progress("secrets") as progress:
        for result in results:
            progress.advance()
            if result.error:
                pipe.error(result.error, **path_fields(result.path))
                continue
            counts["files"] += 1
            counts["skipped"] += result.skipped is not None
            counts["baselined"] += result.accepted
            for finding in result.findings:
                counts["findings"] += 1
                pipe.emit(finding.to_record(path_fields(result.path)))
    pipe.emit({"kind": "summary", "command": "secrets scan", **counts})
    return exits.FOUND if counts["findings"] else exits.OK


@command.command(
    "baseline",
    epilog=epilog(
        "hafs secrets baseline",
        "hafs secrets baseline tests/fixtures -o .hafs-secrets-baseline.json",
    ),
)
@_scan_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Baseline file to write (default: config).",
)
@pipe_command(produces={"finding", "summary"})
def baseline(pipe, paths, staged, repo, exclude, skip_rules, baseline_file, no_baseline, output):
    """Accept every secret found now: write their fingerprints to the baseline file.

    Later scans stay quiet about these values (anywhere they appear) and report new
    ones. The file holds fingerprints and redacted matches only, so it can be committed.
    Findings already in the existing baseline are kept.
    """
    from hafs_cli.paths import path_fields
    from hafs_cli.secrets import session
    from hafs_cli.secrets.baseline import load_baseline, write_baseline

    target = Path(output) if output else None
    if target is None:
        configured = pipe.config.section("secrets").get("baseline", "")
        if not configured:
            raise HafsError("no baseline file: give -o FILE or set [secrets].baseline")
        target = session.project_root(repo) / configured
    entries: list[dict] = []
    previous = load_baseline(target)
    if previous.source == "detect-secrets":
        raise HafsError(
            f"{target} is a detect-secrets baseline; hafs reads it with --baseline {target} "
            "but will not overwrite it: write hafs's baseline elsewhere with -o FILE"
        )
    results = _results(pipe, paths, staged, repo, exclude, skip_rules, None, True)
    for result in results:
        if result.error:
            pipe.error(result.error, **path_fields(result.path))
            continue
        for finding in result.findings:
            rec = finding.to_record(path_fields(result.path))
            entries.append(rec)
            pipe.emit(rec)
    kept = _kept_entries(target, previous)
    write_baseline(target, kept + entries)
    pipe.emit(
        {"kind": "summary", "command": "secrets baseline", "baseline": str(target),
         "accepted": len(entries), "kept": len(kept)}
    )  # fmt: skip
    return exits.OK


def _kept_entries(target: Path, previous) -> list[dict]:
    """Entries of an existing hafs baseline, so re-running never forgets an acceptance."""
    import orjson

    if previous.source != "hafs":
        return []
    return list(orjson.loads(target.read_bytes()).get("secrets", []))


@command.command("rules", epilog=epilog("hafs secrets rules", "hafs secrets rules --format jsonl"))
@pipe_command(produces={"secret_rule"})
def rules(pipe) -> int:
    """List the rules: id, the kind of secret, what it matches."""
    from hafs_cli.secrets.generic import GENERIC_RULE
    from hafs_cli.secrets.rules import PRIVATE_KEY_RULE, RULES

    pipe.table_columns["secret_rule"] = ["id", "secret_kind", "description"]
    for rule in (*RULES, PRIVATE_KEY_RULE, GENERIC_RULE):
        pipe.emit(
            {"kind": "secret_rule", "id": rule.id, "secret_kind": rule.secret_kind,
             "description": rule.description}
        )  # fmt: skip
    return exits.OK
