"""Values that look like secrets but are not: placeholders, references, ids, hashes, public keys."""

from __future__ import annotations

import re

from hafs_cli.secrets.entropy import is_hex, looks_patterned, looks_random

PLACEHOLDER_WORDS = (
    "example",
    "placeholder",
    "redacted",
    "dummy",
    "sample",
    "changeme",
    "change_me",
    "replace",
    "your",
    "insert",
    "fake",
    "xxxx",
    "****",
    "....",
    "…",
    "<",
    ">",
)
# Whole values that are documentation, not credentials (URL passwords, generic values).
PLACEHOLDER_VALUES = frozenset(
    [
        "password",
        "passwd",
        "pass",
        "pwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "key",
        "changeme",
        "test",
        "testing",
        "user",
        "username",
        "foo",
        "bar",
        "baz",
        "admin",
        "none",
        "null",
        "nil",
        "empty",
        "undefined",
        "x",
        "xx",
        "xxx",
    ]
)

_ENV_REFERENCE = re.compile(
    r"""^(?:
        \$\{?[A-Za-z_][A-Za-z0-9_]*(?::?[-=?+][^}]*)?\}?   # $VAR ${VAR} ${VAR:-x}
      | %[A-Za-z_][A-Za-z0-9_]*%                           # %VAR%
      | \{\{.*\}\}                                          # {{ secrets.X }} templates
      | \$\(.*\)                                            # $(command)
      | \#\{.*\}                                            # #{ruby}
      | %\(.*\)s | \{[A-Za-z_][A-Za-z0-9_]*\}               # format placeholders
      | (?:os\.)?(?:environ|getenv)\b.*
      | process\.env\b.*
      | ENV\[.*
      | env\(.*
      | secrets?\.[A-Za-z_].*
    )$""",
    re.VERBOSE,
)
_IDENTIFIER_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|::|->)[A-Za-z_][A-Za-z0-9_]*)+$")
_CONSTANT_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HASH_PREFIX = re.compile(
    r"^(?:sha(?:1|224|256|384|512)|md5|blake2b?|blake3|xxh\d*|h1|crc32)[-:=]", re.IGNORECASE
)
_PASSWORD_HASH = re.compile(r"^\$(?:2[abxy]?|argon2(?:id|i|d)|scrypt|pbkdf2[-_a-z0-9]*|[156y])\$")
HASH_CONTEXT = re.compile(
    r"(?i)\b(?:commit|sha\d*|rev(?:ision)?|hash(?:es)?|digest|checksum|integrity|etag|oid|tree|parent|blob)\b"
)
_HASH_LENGTHS = frozenset((32, 40, 56, 64, 96, 128))
LOCKFILES = frozenset(
    (
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "poetry.lock",
        "pipfile.lock",
        "uv.lock",
        "pdm.lock",
        "cargo.lock",
        "go.sum",
        "composer.lock",
        "gemfile.lock",
        "flake.lock",
        "bun.lock",
        "packages.lock.json",
        "requirements.txt",
    )
)

# Public material: nothing secret inside these spans.
PUBLIC_SPANS = re.compile(
    r"(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
    r"\s+AAAA[A-Za-z0-9+/=]+"
    r"|-----BEGIN (?:[A-Z0-9]+ )*(?:PUBLIC KEY(?: BLOCK)?|CERTIFICATE(?: REQUEST)?)-----"
    r".*?-----END (?:[A-Z0-9]+ )*(?:PUBLIC KEY(?: BLOCK)?|CERTIFICATE(?: REQUEST)?)-----",
    re.DOTALL,
)


def is_placeholder(value: str) -> bool:
    """Documentation values: <your-key>, XXXXXXXX, sk-...example, changeme."""
    if value.lower().strip("\"'`") in PLACEHOLDER_VALUES:
        return True
    # Case as people write it (example, EXAMPLE, Example): random mixed case rarely spells a word.
    for word in PLACEHOLDER_WORDS:
        if word in value or word.upper() in value or word.title() in value:
            return True
    return looks_patterned(value)


def is_reference(value: str) -> bool:
    """A reference to a secret kept elsewhere: $VAR, ${VAR}, {{ secrets.X }}, os.environ[...]."""
    v = value.strip("\"'`")
    return bool(_ENV_REFERENCE.match(v) or _IDENTIFIER_PATH.match(v) or _CONSTANT_NAME.match(v))


def is_code(value: str) -> bool:
    """An expression rather than a literal: calls, indexing, attribute access."""
    return any(c in value for c in "()[]{}") or value.startswith(("@", "&", "*", "!"))


def is_path(value: str) -> bool:
    """A URL or file path (./a/b, /etc/x, team/project/name), not base64 that holds slashes."""
    if "://" in value:
        return True
    rest = re.sub(r"^(?:\.\.?/|~/|/)+", "", value)
    parts = rest.split("/")
    if len(parts) < 2 and rest == value:
        return False
    return all(re.fullmatch(r"[A-Za-z0-9_.\-]*", p) and not looks_random(p, 12, 3.5) for p in parts)


def is_uuid(value: str) -> bool:
    return bool(_UUID.match(value))


def is_hash(value: str, line: str = "") -> bool:
    """Content hashes: sha256:…, sha512-… integrity, password hashes, hex digests near hash words."""
    if _HASH_PREFIX.match(value) or _PASSWORD_HASH.match(value):
        return True
    return is_hex(value) and len(value) in _HASH_LENGTHS and bool(HASH_CONTEXT.search(line))


def is_lockfile(path: str) -> bool:
    return path.replace("\\", "/").rsplit("/", 1)[-1].lower() in LOCKFILES


def public_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of SSH public keys, PEM public keys and certificates."""
    if "AAAA" not in text and "-----BEGIN" not in text:
        return []
    return [m.span() for m in PUBLIC_SPANS.finditer(text)]
