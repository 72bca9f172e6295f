"""What the score/ab commands do, given a Pipe: read, compute with the library, write."""

from __future__ import annotations

from pathlib import Path

from hafs_cli import exits, records
from hafs_cli.exits import HafsError
from hafs_cli.quality.io import adopt_sample


class _AsmValidator:
    """validate-asm as a code checker for samples.

    A crash inside the validator must not sink a 35,000-sample run: the sample is then
    scored with `code_checked: false`, and the failures are reported once at the end.
    """

    ignored = frozenset({"missing-include", "include-cycle"})  # fragments lack their includes

    def __init__(self, validate_text):
        self._validate_text = validate_text
        self.failures = 0
        self.first_failure: str | None = None

    def __call__(self, text: str) -> list[dict] | None:
        try:
            diags = self._validate_text(text, "<sample>")
        except Exception as exc:  # noqa: BLE001 - any bug in the validator, reported below
            self.failures += 1
            self.first_failure = self.first_failure or f"{type(exc).__name__}: {exc}"
            return None
        return [
            {"code": d.code, "message": d.message, "line": d.line}
            for d in diags
            if d.severity == "error" and d.code not in self.ignored
        ]


def asm_validator() -> _AsmValidator | None:
    """validate-asm's checker (None when the library is not there)."""
    try:
        from hafs_cli.asm import validate_text
    except ImportError:
        return None
    return _AsmValidator(validate_text)


def _graph(pipe, section: dict, source_root: str | None):
    root = source_root or section.get("source_root") or ""
    if not root:
        return None
    path = Path(root).expanduser()
    if not path.exists():
        raise HafsError(
            f"source root {root} does not exist; pass --source-root DIR or set [score].source_root"
        )
    from hafs_cli import xdg
    from hafs_cli.quality.kg import build_graph

    graph = build_graph(path, section.get("mapper", "auto"), xdg.cache_dir() / "score-kg.sqlite")
    for name, why in graph.unreadable:
        pipe.error(
            f"source tree: cannot read {name} ({why}); left out of the knowledge graph, "
            "so names defined there count as ungrounded: fix or remove it",
            source=name,
        )
    return graph


TABLE_COLUMNS = {
    "score": ["sample_id", "domain", "bank", "composite", "pass", "components", "reasons"],
    "score_summary": ["n", "passed", "pass_rate", "rejections", "by_domain", "by_bank"],
    "ab_result": [
        "baseline",
        "variant",
        "design",
        "difference",
        "ci",
        "p_value",
        "significant",
        "verdict",
    ],
    "gate_result": ["passed", "failed", "fell", "message"],
    "selection": [
        "curriculum_position",
        "sample_id",
        "phase",
        "front",
        "rank",
        "bank",
        "objectives",
    ],
}


def _columns(pipe) -> None:
    pipe.table_columns.update(TABLE_COLUMNS)


def score(pipe, files, source_root, references, overrides: dict) -> int:
    """`hafs score`: forward every record, then one `score` record per sample, by sample_id."""
    _columns(pipe)
    from hafs_cli.quality.samples import SampleError
    from hafs_cli.quality.scoring import ScoreRun

    section = {
        **pipe.config.section("score"),
        **{k: v for k, v in overrides.items() if v is not None},
    }
    graph = _graph(pipe, section, source_root)
    validator = asm_validator() if section.get("validate_code", True) else None
    run = ScoreRun(section, graph, validator)
    if section.get("embed"):
        from hafs_cli.quality.embed import embedder_from_config

        run.embedder = embedder_from_config(section, pipe.config)
    for ref in list(section.get("reference") or []) + list(references):
        ref_path = str(Path(ref).expanduser())
        for source, lineno, rec in pipe.numbered_records([ref_path], adopt=adopt_sample):
            if rec.get("kind") != "sample":  # e.g. the score records of an earlier run
                continue
            try:
                run.add_reference(rec)
            except SampleError as exc:
                pipe.error(
                    f"{source}:{lineno}: {exc}; left out of the reference corpus",
                    source=source,
                    line=lineno,
                )
    with pipe.progress("scoring") as bar:
        for source, lineno, rec in pipe.numbered_records(files, adopt=adopt_sample):
            pipe.forward(rec)
            if rec.get("kind") != "sample":
                continue
            try:
                run.add(rec)
            except SampleError as exc:
                pipe.error(
                    f"{source}:{lineno}: {exc}; the sample is not scored",
                    source=source,
                    line=lineno,
                    sample_id=rec.get("sample_id"),
                )
            bar.advance()
    results = run.results()
    for rec in results:
        pipe.emit(rec)
    if validator is not None and validator.failures:
        pipe.error(
            f"validate-asm failed on the code of {validator.failures} sample(s) "
            f"({validator.first_failure}); they were scored without the code check "
            "(code_checked: false)"
        )
        return exits.RUNTIME
    return exits.OK


def _scores(pipe, files) -> tuple[list[dict], dict[str, dict]]:
    """Score records (forwarding everything) and the sample records by sample_id.

    A score record that does not match its schema (hand-edited, or from another tool)
    is reported with its file:line and left out, rather than crashing the analysis.
    """
    from hafs_cli.quality.samples import SampleError, normalise

    _columns(pipe)
    scores, samples = [], {}
    for source, lineno, rec in pipe.numbered_records(files, adopt=adopt_sample):
        pipe.forward(rec)
        kind = rec.get("kind")
        if kind == "score":
            if _valid(pipe, rec, source, lineno):
                scores.append(rec)
        elif kind == "sample":
            try:
                samples[normalise(rec).sample_id] = rec
            except SampleError:
                continue
    return scores, samples


def _unit(v) -> bool:
    return v is None or (type(v) in (int, float) and 0 <= v <= 1)


def _plain_score(rec: dict) -> bool:
    """The fields the analyses read have the schema's types (a fast path: full schema
    validation of 35,000 records costs seconds; a record failing this is validated)."""
    comps = rec.get("components")
    return (
        type(rec.get("sample_id")) is str
        and type(rec.get("domain")) is str
        and type(rec.get("pass")) is bool
        and type(rec.get("composite")) in (int, float)
        and 0 <= rec["composite"] <= 1
        and type(rec.get("halluc_risk")) in (int, float)
        and type(comps) is dict
        and all(_unit(comps.get(k, 0)) for k in ("diversity", "kg", "halluc", "coherence"))
        and all(k in comps for k in ("diversity", "kg", "halluc", "coherence"))
        and type(rec.get("reasons")) is list
        and all(type(x) is dict and type(x.get("rule")) is str for x in rec["reasons"])
        and (rec.get("bank") is None or type(rec["bank"]) is str)
        and (rec.get("nearest") is None or _unit_in(rec["nearest"], "similarity"))
        and type(rec.get("complexity", {})) is dict
        and type(rec.get("complexity", {}).get("phase")) in (str, type(None))
    )


def _unit_in(obj, key: str) -> bool:
    return type(obj) is dict and obj.get(key) is not None and _unit(obj[key])


_WRITER = {"score": "hafs score", "score_summary": "hafs score summary"}


def _valid(pipe, rec: dict, source: str, lineno: int) -> bool:
    """True when a `score`/`score_summary` input record matches its schema; else an error."""
    from hafs_cli.schemas import validate_record

    if rec["kind"] == "score" and _plain_score(rec):
        return True
    problems = validate_record(rec)
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        pipe.error(
            f"{source}:{lineno}: {rec['kind']} record does not match its schema: "
            f"{'; '.join(problems[:3])}{more}; left out (write it with `{_WRITER[rec['kind']]}`)",
            source=source,
            line=lineno,
            sample_id=rec.get("sample_id"),
        )
    return not problems


def summary(pipe, files, plot: str | None, plot_field: str) -> int:
    from hafs_cli.quality.plot import write_histogram
    from hafs_cli.quality.samples import human_label
    from hafs_cli.quality.summary import summarise
    from hafs_cli.quality.tables import render_summary

    scores, samples = _scores(pipe, files)
    if pipe.only:
        pipe.table_renderer = render_summary
    labels = {sid: v for sid, rec in samples.items() if (v := human_label(rec)) is not None}
    if not scores:
        raise HafsError("no score records in the input; pipe `hafs score` output into summary")
    rec = summarise(scores, labels)
    if plot:
        dist = rec["distributions"].get(plot_field) or {}
        if not dist.get("n"):
            raise HafsError(
                f"--plot-field {plot_field}: no score record has a {plot_field} value to plot "
                "(all null: nothing could be measured); choose another --plot-field"
            )
        threshold = scores[0].get("threshold") if plot_field == "composite" else None
        try:
            write_histogram(
                Path(plot),
                dist.get("histogram", []),
                f"{plot_field} (n = {dist.get('n', 0)})",
                marker=threshold,
            )
        except ValueError as exc:
            raise HafsError(str(exc)) from None
        except OSError as exc:
            raise HafsError(f"cannot write plot {plot}: {exc.strerror}") from None
        rec["plot"] = plot
    pipe.emit(rec)
    return exits.OK


def gate(pipe, files, baseline: str, max_drop: float | None) -> int:
    from hafs_cli.quality import gate as gate_lib

    scores, _ = _scores(pipe, files)
    if not scores:
        raise HafsError("no score records in the input to gate")
    base_scores, base_summary = [], None
    for source, lineno, rec in records.iter_sources([baseline]):
        if isinstance(rec, records.BadLine):
            pipe.bad_line(rec)
        elif rec.get("kind") == "score" and _valid(pipe, rec, source, lineno):
            base_scores.append(rec)
        elif rec.get("kind") == "score_summary" and _valid(pipe, rec, source, lineno):
            base_summary = rec
    if base_scores:
        base = gate_lib.run_figures(base_scores)
    elif base_summary is not None:
        base = gate_lib.figures_from_summary(base_summary)
    else:
        raise HafsError(f"baseline {baseline} has no score or score_summary records")
    limit = (
        max_drop if max_drop is not None else pipe.config.section("score").get("gate_max_drop", 0.1)
    )
    result = gate_lib.compare(base, gate_lib.run_figures(scores), float(limit))
    pipe.emit(result)
    return exits.OK if result["passed"] else exits.FOUND


def select(
    pipe, files, objectives: tuple[str, ...], count: int | None, include_failed: bool
) -> int:
    from hafs_cli.quality.select import select as select_lib

    scores, _ = _scores(pipe, files)
    if not scores:
        raise HafsError("no score records in the input to select; pipe `hafs score` output into it")
    chosen = objectives or tuple(pipe.config.section("score").get("select_objectives"))
    for rec in select_lib(scores, chosen, count, include_failed):
        pipe.emit(rec)
    return exits.OK


def field_value(rec: dict | None, dotted: str):
    cur = rec
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def ab(pipe, files, by: str, pair_by: str, baseline: str | None, settings) -> int:
    from hafs_cli.quality.ab import Observation, analyse
    from hafs_cli.quality.summary import score_values
    from hafs_cli.quality.tables import render_ab

    scores, samples = _scores(pipe, files)
    if pipe.only:
        pipe.table_renderer = render_ab
    observations = []
    missing = 0
    for rec in scores:
        sample = samples.get(str(rec.get("sample_id")))
        group = field_value(rec, by)
        if group is None:
            group = field_value(sample, by)
        if group is None:
            missing += 1
            continue
        key = field_value(rec, pair_by)
        if key is None:
            key = field_value(sample, pair_by)
        values = score_values(rec)
        observations.append(
            Observation(
                str(group), None if key is None else str(key), values, bool(rec.get("pass"))
            )
        )
    if missing:
        pipe.error(
            f"{missing} score record(s) have no '{by}' field (in the score or its sample record); left out"
        )
    groups = sorted({o.group for o in observations})
    if len(groups) < 2:
        raise HafsError(
            f"--by {by}: need at least two groups to compare, found {len(groups)} ({', '.join(groups) or 'none'})"
        )
    if baseline is not None and baseline not in groups:
        raise HafsError(f"--baseline {baseline}: no such {by} value; values: {', '.join(groups)}")
    for res in analyse(observations, settings, baseline):
        pipe.emit({"kind": "ab_result", "by": by, "pair_by": pair_by, **res})
    return exits.OK
