"""Optional ranking of findings by a local model (`hafs recommend --ai`).

Only the findings go to the model (never the scan), through hafs_cli.ai.client.chat
with a JSON-schema `format`. The answer is checked before anything of it is used:
unknown finding ids are ignored, and any path the model wrote that is not in the input
is removed and counted. Invalid JSON is retried once, then the ranking is skipped; an
unreachable, failing or slow model also just skips it, and the summary says why.
"""

from __future__ import annotations

import json
import re

from hafs_cli.advice.context import Context
from hafs_cli.advice.findings import Finding
from hafs_cli.paths import display

MAX_PATHS_SENT = 10
MAX_RATIONALE = 300

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {
        "ranking": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "group": {"type": "string"},
                    "rationale": {"type": "string"},
                    "paths": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["id", "rationale"],
            },
        }
    },
    "required": ["ranking"],
}

SYSTEM = (
    "You review disk-cleanup findings produced by rules over a file scan. Rank them, most "
    "worthwhile first (bytes freed, safety, confidence), group related ones under a short "
    "group name, and give each a rationale of at most two sentences. Use only the finding ids "
    "given. Mention only paths that appear in the findings; never invent paths. Answer with "
    "JSON matching the schema."
)

# Something that looks like a path in free text: ~/x, ./x, ../x, /x/y, C:\x.
_PATHLIKE = re.compile(r"(?:~|\.{1,2})?/[^\s'\"`,;()\[\]{}<>]+|[A-Za-z]:\\[^\s'\"`,;()]+")


class BadAnswer(Exception):
    pass


def _payload(selected: list[tuple[str, Finding]]) -> str:
    items = []
    for key, f in selected:
        paths = [display(p) for p in f.paths[:MAX_PATHS_SENT]]
        item = {
            "id": key,
            "rule": f.rule,
            "reason": display(f.reason),
            "paths": paths,
            "bytes": f.bytes,
            "size": f.size,
            "confidence": f.confidence,
            "action": f.action,
        }
        if len(f.paths) > len(paths):
            item["more_paths"] = len(f.paths) - len(paths)
        items.append(item)
    return json.dumps({"findings": items}, ensure_ascii=False)


def _parse(content: str) -> list[dict]:
    try:
        doc = json.loads(content)
    except (TypeError, ValueError) as exc:
        raise BadAnswer(f"not JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("ranking"), list):
        raise BadAnswer("no `ranking` list in the answer")
    return [item for item in doc["ranking"] if isinstance(item, dict)]


class _Grounding:
    """Which paths exist in the input: files, their directories, and the findings' paths."""

    def __init__(self, ctx: Context, findings: list[Finding]):
        self.paths = {p for (_h, p) in ctx.inv.files}
        self.paths.update(p for (_h, p) in ctx.inv.dirs)
        self.paths.update(p for (_h, p) in ctx.inv.dirstats())
        for f in findings:
            self.paths.update(f.paths)
        # the model saw (and may quote) the readable form of undecodable paths
        self.paths.update({display(p) for p in self.paths})
        self.dropped = 0

    def known(self, path: str) -> bool:
        return path in self.paths or path.rstrip("/") in self.paths

    def clean_text(self, text: str) -> str:
        def repl(m: re.Match) -> str:
            token = m.group(0).rstrip(".:")
            if self.known(token):
                return m.group(0)
            self.dropped += 1
            return "[path not in input]"

        return _PATHLIKE.sub(repl, text)


def rank(
    findings: list[Finding], ctx: Context, cfg: dict, config=None
) -> tuple[list[Finding], dict]:
    """Findings in the model's order (unranked ones after, in rule order) and a status record."""
    from hafs_cli.ai.client import chat
    from hafs_cli.ai.errors import AIError

    model = cfg.get("model", "qwen3:8b")
    info: dict = {"model": model}
    limit = int(cfg.get("max_findings", 50))
    chosen = sorted(findings, key=lambda f: (-f.bytes, f.sort_key()))[:limit]
    selected = [(f"f{i}", f) for i, f in enumerate(chosen, 1)]
    info["sent"] = len(selected)
    if not selected:
        return findings, {**info, "status": "skipped", "reason": "no findings to rank"}
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": _payload(selected)},
    ]
    items = None
    attempts = 0
    reason = ""
    while items is None and attempts < 2:
        attempts += 1
        try:
            answer = chat(
                messages,
                model=model,
                host=cfg.get("host") or None,
                format=ANSWER_SCHEMA,
                timeout=float(cfg.get("timeout_s", 60)),
                priority="analysis",
                config=config,
            )
        except AIError as exc:
            reason = f"{exc.code}: {exc.message}"
            break
        try:
            items = _parse(answer.get("content", ""))
        except BadAnswer as exc:
            reason = f"invalid answer: {exc}"
    info["attempts"] = attempts
    if items is None:
        return findings, {**info, "status": "skipped", "reason": reason}
    return _apply(findings, dict(selected), items, _Grounding(ctx, findings), info)


def _apply(
    findings: list[Finding],
    by_key: dict[str, Finding],
    items: list[dict],
    ground: _Grounding,
    info: dict,
) -> tuple[list[Finding], dict]:
    ranked: list[Finding] = []
    seen: set[int] = set()
    unknown = 0
    for item in items:
        f = by_key.get(str(item.get("id")))
        if f is None or id(f) in seen:
            unknown += 1
            continue
        seen.add(id(f))
        for p in item.get("paths") or []:
            if not isinstance(p, str) or not (ground.known(p) and p in f.paths):
                ground.dropped += 1
        rationale = ground.clean_text(" ".join(str(item.get("rationale", "")).split()))
        f.details["ai_rank"] = len(ranked) + 1
        if rationale:
            f.details["ai_rationale"] = rationale[:MAX_RATIONALE]
        group = ground.clean_text(" ".join(str(item.get("group") or "").split()))[:80]
        if group:
            f.details["ai_group"] = group
        ranked.append(f)
    rest = [f for f in findings if id(f) not in seen]
    info.update(
        status="ranked",
        ranked=len(ranked),
        dropped_paths=ground.dropped,
        unknown_ids=unknown,
    )
    return ranked + rest, info
