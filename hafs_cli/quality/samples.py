"""Training samples in the shapes people write them, normalised to one form.

Accepted: {instruction, input, output}, {prompt, completion|response}, {question, answer},
chat {messages: [{role, content}]} (content may be a list of text parts) and ShareGPT
{conversations: [{from, value}]}. Code in fenced blocks, or an input that reads as
assembly, is kept apart from the prose so each can be checked on its own.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.S)
_ASM_LINE = re.compile(
    r"^\s*(?:[A-Za-z_.][\w.]*:\s*)?[A-Za-z]{3}(?:\.[bwlBWL])?"
    r"(?:\s+[^\s;]+(?:\s*,\s*[xysXYS])?)?\s*(?:;.*)?$"
)
_USER_ROLES = {"system", "user", "human", "instruction"}
_ASSISTANT_ROLES = {"assistant", "gpt", "model", "bot"}


class SampleError(ValueError):
    """A record that cannot be read as a sample (the reason says why)."""


@dataclass(slots=True)
class Sample:
    sample_id: str
    domain: str
    source: str | None
    prompt: str
    response: str
    prompt_code: str  # the routine the sample explains (code found in the prompt)
    response_code: str  # code the answer itself writes
    prose: str  # the answer without its code blocks
    record: dict = field(repr=False)

    @property
    def all_code(self) -> str:
        return "\n".join(c for c in (self.prompt_code, self.response_code) if c)


_JSON_TYPES = {bool: "true/false", int: "a number", float: "a number", dict: "an object"}


def _text(value: Any, name: str) -> str:
    """A text field's value; SampleError naming the field when it is not text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI-style content parts
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    raise SampleError(
        f"`{name}` is {_JSON_TYPES.get(type(value), type(value).__name__)}, not text; "
        "write it as a JSON string"
    )


def _split_chat(messages: list, key: str, role_key: str, text_key: str) -> tuple[str, str]:
    prompt, response = [], []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            continue
        role = str(msg.get(role_key, "")).lower()
        text = _text(msg.get(text_key), f"{key}[{i}].{text_key}")
        if role in _ASSISTANT_ROLES:
            response.append(text)
        elif role in _USER_ROLES:
            prompt.append(text)
    return "\n\n".join(prompt), "\n\n".join(response)


def prompt_and_response(rec: dict) -> tuple[str, str]:
    """The prompt side and the answer side of any accepted sample shape."""
    for key, role, text in (("messages", "role", "content"), ("conversations", "from", "value")):
        if isinstance(rec.get(key), list):
            return _split_chat(rec[key], key, role, text)
        if rec.get(key) is not None:
            raise SampleError(
                f"`{key}` is not a list; write it as a list of {{{role}, {text}}} objects"
            )
    for ask, answer in (
        ("instruction", "output"),
        ("prompt", "completion"),
        ("prompt", "response"),
        ("question", "answer"),
        ("instruction", "response"),
    ):
        if ask in rec or answer in rec:
            prompt = _text(rec.get(ask), ask)
            if ask == "instruction" and rec.get("input"):
                prompt = f"{prompt}\n\n{_text(rec['input'], 'input')}"
            if answer in rec:
                return prompt, _text(rec.get(answer), answer)
    if "output" in rec:
        return _text(rec.get("input"), "input"), _text(rec["output"], "output")
    return "", ""


@functools.lru_cache(maxsize=4096)
def split_code(text: str) -> tuple[str, str]:
    """(code, prose): fenced blocks are code; so is an unfenced run of lines that reads as asm.

    Unfenced: the lines from the first asm-looking one to the end count as code when at
    least 80% of them read as asm (labels, instructions, comments); what comes before
    (a question, say) stays prose.
    """
    blocks = _FENCE.findall(text)
    if blocks:
        return "\n".join(b.rstrip() for b in blocks), _FENCE.sub(" ", text)
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _is_asm(line)), None)
    if start is None:
        return "", text
    body = [ln for ln in lines[start:] if ln.strip() and not ln.strip().startswith(";")]
    if len(body) >= 2 and sum(1 for ln in body if _is_asm(ln)) * 10 >= len(body) * 8:
        return "\n".join(lines[start:]), "\n".join(lines[:start])
    return "", text


def _is_asm(line: str) -> bool:
    stripped = line.strip()
    if not stripped or stripped.startswith(";"):
        return False
    return bool(_ASM_LINE.match(line)) or bool(
        re.fullmatch(r"(?:[A-Za-z_]\w*:|\.[A-Za-z_]\w*:?)\s*[{}]?", stripped)
    )


def derived_id(domain: str, prompt: str, response: str) -> str:
    """A stable id for a sample that has none: the same content always gets the same id."""
    digest = hashlib.blake2b(digest_size=8)
    for part in (domain, prompt, response):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return "h-" + digest.hexdigest()


def normalise(rec: dict, default_domain: str = "default") -> Sample:
    """A `sample` record (any accepted shape) as a Sample; SampleError when it has no answer."""
    prompt, response = prompt_and_response(rec)
    if not response.strip():
        raise SampleError(
            "sample has no answer text (output, completion, response or assistant message)"
        )
    domain = rec.get("domain")
    if domain is not None and not isinstance(domain, str):
        raise SampleError(
            f"`domain` is {_JSON_TYPES.get(type(domain), type(domain).__name__)}, not text; "
            "write the domain's name as a JSON string"
        )
    domain = domain or default_domain
    sid = rec.get("sample_id", rec.get("id"))
    if sid is not None and (isinstance(sid, bool) or not isinstance(sid, str | int)):
        raise SampleError("`sample_id` must be a string or an integer")
    sample_id = str(sid) if sid not in (None, "") else derived_id(domain, prompt, response)
    source = rec.get("source")
    prompt_code, _ = split_code(prompt)
    response_code, prose = split_code(response)
    return Sample(
        sample_id=sample_id,
        domain=domain,
        source=str(source) if source not in (None, "") else None,
        prompt=prompt,
        response=response,
        prompt_code=prompt_code,
        response_code=response_code,
        prose=prose,
        record=rec,
    )


def human_label(rec: dict) -> float | None:
    """A numeric human judgement carried by the sample, if any (0..1 or 1..5 scale kept as is)."""
    for key in ("human_label", "human_score", "label", "rating"):
        value = rec.get(key)
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        if isinstance(value, int | float):
            return float(value)
    return None
