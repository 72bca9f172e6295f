"""The generic rule: a random-looking literal assigned to a secret-like name.

The name decides whether a value is meant to be secret (`db_password`, `APITOKEN`,
`client_secret`, but not `token_count` or `password_hash`); the value decides whether it
is a real one (random enough, not a reference, placeholder, hash, UUID or path).
"""

from __future__ import annotations

import re

from hafs_cli.secrets import filters
from hafs_cli.secrets.entropy import looks_random
from hafs_cli.secrets.rules import Rule

# Names being assigned to (name = …, name: …, "name": …); the keyword test runs on these only.
ASSIGNED_NAME = re.compile(r"(?<![\w.$@-])[\w.$@-]{1,120}(?=[\"'`\]]?[ \t]*(?::=|=>|[:=]))")
_KEYWORD = re.compile(r"(?i)secret|token|passw|pwd|pass|key|credential")
_ASSIGN = re.compile(
    r"[\"'`\]]?[ \t]*(?::=|=>|[:=])[ \t]*(?:[A-Za-z0-9]{0,12}\()?[ \t]*"
    r"(?P<quote>[\"'`]?)(?P<secret>[^\s\"'`,;<>]{8,512})"
)

GENERIC_RULE = Rule(
    "generic-secret",
    "generic",
    "High-entropy value assigned to a secret-like name",
    ASSIGNED_NAME,
)

SECRET_WORDS = frozenset(
    [
        "apikey",
        "credential",
        "credentials",
        "pass",
        "passphrase",
        "passwd",
        "password",
        "pwd",
        "secret",
        "secrets",
        "token",
    ]
)
# First words that make `<word> key` a secret name (api key, signing key, ...).
SECRET_PAIRS = frozenset(
    [
        "access",
        "api",
        "app",
        "auth",
        "client",
        "encryption",
        "master",
        "private",
        "secret",
        "signing",
    ]
)
# Run-together names: APITOKEN, dbpassword, AUTHSECRET.
SECRET_SUFFIXES = (
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
)
# Words that make a name about secrets rather than one (token_count, password_hash, ...).
NOT_SECRET_WORDS = frozenset(
    [
        "begin",
        "bits",
        "bos",
        "budget",
        "bytes",
        "checksum",
        "class",
        "cls",
        "confirm",
        "confirmation",
        "count",
        "description",
        "digest",
        "dir",
        "embedding",
        "embeddings",
        "enabled",
        "end",
        "endpoint",
        "env",
        "eos",
        "expiration",
        "expire",
        "expires",
        "expiry",
        "field",
        "field_name",
        "file",
        "files",
        "fingerprint",
        "forgot",
        "format",
        "generate",
        "generator",
        "hash",
        "hashed",
        "header",
        "help",
        "hint",
        "id",
        "ids",
        "idx",
        "index",
        "kind",
        "label",
        "len",
        "length",
        "limit",
        "logits",
        "manager",
        "mask",
        "max",
        "min",
        "min_length",
        "mode",
        "name",
        "names",
        "num",
        "number",
        "pad",
        "path",
        "paths",
        "pattern",
        "policy",
        "policy_id",
        "pos",
        "position",
        "prefix",
        "prob",
        "probs",
        "prompt",
        "provider",
        "pub",
        "public",
        "publishable",
        "question",
        "re",
        "ref",
        "regex",
        "regexp",
        "required",
        "reset",
        "rotation",
        "rule",
        "rules",
        "sep",
        "sha",
        "sha1",
        "sha256",
        "size",
        "special",
        "start",
        "stop",
        "store",
        "strength",
        "style",
        "suffix",
        "timeout",
        "tokenize",
        "tokenized",
        "tokenizer",
        "tokenizers",
        "tokens",
        "ttl",
        "type",
        "types",
        "unk",
        "uri",
        "url",
        "usage",
        "validation",
        "validator",
        "var",
        "vocab",
    ]
)


def name_words(name: str) -> list[str]:
    """Split an identifier into lower-case words (snake, kebab, dotted, camelCase)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def secret_like_name(name: str) -> bool:
    words = name_words(name)
    if not words or NOT_SECRET_WORDS.intersection(words):
        return False
    if SECRET_WORDS.intersection(words) or any(w.endswith(SECRET_SUFFIXES) for w in words):
        return True
    return any(a in SECRET_PAIRS and b == "key" for a, b in zip(words, words[1:], strict=False))


def generic_value_is_secret(value: str, quoted: bool, line: str) -> bool:
    """The value side of a generic assignment: a random-looking literal, not a reference."""
    if not quoted:
        value = value.rstrip(".")
    if (
        filters.is_reference(value)
        or filters.is_code(value)
        or filters.is_placeholder(value)
        or filters.is_uuid(value)
        or filters.is_hash(value, line)
    ):
        return False
    if filters.is_path(value):
        return False  # URLs and paths (URL passwords have their own rule)
    return looks_random(value, 16, 3.5)


def find_generic(doc):
    """High-entropy literals assigned to secret-like names: (start, end, value)."""
    text = doc.text
    for ident in ASSIGNED_NAME.finditer(text):
        name = ident.group()
        if not _KEYWORD.search(name) or not secret_like_name(name.lstrip("$@")):
            continue
        m = _ASSIGN.match(text, ident.end())
        if m is None:
            continue
        value = m.group("secret")
        if not m.group("quote"):
            value = value.rstrip(".)")
        line = doc.line_text(doc.line_of(m.start("secret")))
        if generic_value_is_secret(value, bool(m.group("quote")), line):
            start = m.start("secret")
            yield start, start + len(value), value
