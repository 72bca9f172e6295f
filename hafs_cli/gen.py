"""Derived files, generated from their single sources (used by scripts/regen.py and tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SECTION_ORDER = (
    "output",
    "hosts",
    "scan",
    "dedup",
    "apply",
    "recommend",
    "validate-asm",
    "score",
    "ab",
    "orchestrate",
    "context",
    "sync",
    "backup",
    "hooks",
    "secrets",
    "schedule",
)


def assemble_config_schema(root: Path) -> dict:
    """Join schemas/config/SECTION.json fragments into the hafs.toml schema."""
    fragments = {
        p.stem: json.loads(p.read_text()) for p in (root / "schemas/config").glob("*.json")
    }
    order = [s for s in SECTION_ORDER if s in fragments] + sorted(
        s for s in fragments if s not in SECTION_ORDER
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://hafs.dev/schemas/hafs.toml.schema.json",
        "title": "hafs.toml",
        "description": "hafs configuration (generated from schemas/config/*.json by scripts/regen.py).",
        "type": "object",
        "additionalProperties": False,
        "properties": {name: fragments[name] for name in order},
    }


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)


def _is_table(schema: dict) -> bool:
    """A TOML table of its own: fixed keys, or named sub-tables ([a.b.NAME]).

    An object whose values are plain (a map of strings, say) is written inline.
    """
    if schema.get("type") != "object":
        return False
    extra = schema.get("additionalProperties")
    return "properties" in schema or (isinstance(extra, dict) and extra.get("type") == "object")


def _comment(text: str) -> list[str]:
    return [f"# {line}".rstrip() for line in text.strip().splitlines()]


def _table(lines: list[str], dotted: str, schema: dict) -> None:
    props = schema.get("properties", {})
    scalars = {k: v for k, v in props.items() if not _is_table(v)}
    tables = {k: v for k, v in props.items() if _is_table(v)}
    lines.append(f"[{dotted}]")
    for key, sub in scalars.items():
        lines += _comment(sub.get("description", ""))
        if sub.get("default") is not None:
            lines.append(f"{_key(key)} = {toml_value(sub['default'])}")
        else:
            example = sub.get("x-example")
            shown = toml_value(example) if example is not None else "…"
            lines.append(f"# {_key(key)} = {shown}    (no default)")
    lines.append("")
    for key, sub in tables.items():
        name = f"{dotted}.{_key(key)}"
        lines += _comment(sub.get("description", ""))
        if "properties" in sub:
            _table(lines, name, sub)
        else:
            _named_tables(lines, name, sub)


def _named_tables(lines: list[str], dotted: str, schema: dict) -> None:
    entry = schema["additionalProperties"]
    lines.append(f"# [{dotted}.NAME] — one table per name; keys:")
    for key, sub in entry.get("properties", {}).items():
        has_default = sub.get("default") is not None
        default = f" (default {toml_value(sub['default'])})" if has_default else ""
        lines.append(f"#   {key}: {sub.get('description', '')}{default}")
    example = schema.get("x-example") or entry.get("x-example")
    if example:
        lines.append("# Example:")
        lines += [f"# {line}".rstrip() for line in example.strip().splitlines()]
    lines.append("")


def documented_toml(schema: dict) -> str:
    """The documented hafs.toml: every key with its default and one comment."""
    lines = [
        "# hafs.toml — every key with its default and one comment.",
        "# Generated from schemas/config/*.json by scripts/regen.py; do not edit by hand.",
        "# Layers, later wins: built-in defaults < ~/.config/hafs/hafs.toml < ./hafs.toml",
        "# (or $HAFS_CONFIG) < HAFS_SECTION__KEY environment variables < command-line flags.",
        "",
    ]
    for section, sub in schema["properties"].items():
        lines += _comment(sub.get("description", ""))
        if "properties" in sub:
            _table(lines, _key(section), sub)
        else:
            _named_tables(lines, _key(section), sub)
    return "\n".join(lines).rstrip() + "\n"


def generated_files(root: Path) -> dict[str, str]:
    from hafs_cli.cli import cli
    from hafs_cli.completion import script

    schema = assemble_config_schema(root)
    return {
        "schemas/hafs.toml.schema.json": json.dumps(schema, indent=2, ensure_ascii=False) + "\n",
        "hafs.toml": documented_toml(schema),
        "completions/hafs.bash": script("bash", cli),
        "completions/_hafs": script("zsh", cli),
        "completions/hafs.fish": script("fish", cli),
    }
