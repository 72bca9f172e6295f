"""The secret rules: one regular expression per credential format, plus its checks.

Each pattern captures the secret in group `secret`; `prefix` (when present) is the
public, fixed part of the format, which redaction may show. `check` rejects matches
that have the shape but not the substance (placeholders, low entropy, bad JWT header).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from hafs_cli.secrets import filters
from hafs_cli.secrets.entropy import looks_patterned, looks_random, shannon


@dataclass(frozen=True)
class Rule:
    id: str  # stable name used in `rule` and in --rule/--skip-rule
    secret_kind: str  # what leaked, in the user's words
    description: str
    pattern: re.Pattern[str]
    check: Callable[[re.Match[str], str], bool] | None = None  # (match, line text) -> keep?
    context: tuple[str, ...] = ()  # the lower-cased text must hold one of these to bother


# Boundaries: the secret may not continue into neighbouring token characters.
_L = r"(?<![A-Za-z0-9_\-])"
_R = r"(?![A-Za-z0-9_\-])"


VERY_RANDOM = 4.3  # bits per character; random base62 bodies of 30+ characters reach 4.6-4.9


def _random_part(m: re.Match[str]) -> str:
    secret = m.group("secret")
    prefix = m.groupdict().get("prefix") or ""
    return secret[len(prefix) :]


def _not_placeholder(min_entropy: float = 3.0) -> Callable[[re.Match[str], str], bool]:
    def check(m: re.Match[str], line: str) -> bool:
        body = _random_part(m)
        entropy = shannon(body)
        if looks_patterned(body):
            return False
        # A word like YOUR or Fake inside a long, very random body is chance, not a placeholder.
        if filters.is_placeholder(body) and (entropy < VERY_RANDOM or len(body) < 30):
            return False
        return entropy >= min_entropy

    return check


def _aws_secret(m: re.Match[str], line: str) -> bool:
    value = m.group("secret")
    if filters.is_placeholder(value) or filters.is_hash(value, line):
        return False
    return looks_random(value, 40, 4.0)


def _jwt(m: re.Match[str], line: str) -> bool:
    header, payload, signature = m.group("secret").split(".", 2)
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return False
    if not isinstance(decoded, dict) or "alg" not in decoded or not isinstance(claims, dict):
        return False
    return bool(signature) or str(decoded.get("alg")).lower() == "none"


def _url_credentials(m: re.Match[str], line: str) -> bool:
    password, host = m.group("secret"), m.group("host").lower()
    if filters.is_placeholder(password) or filters.is_reference(password):
        return False
    if password == m.group("user") or password.startswith(("$", "%", "{", "<")):
        return False
    return not re.search(r"(?:^|\.)example\.(?:com|org|net)$|^(?:host|hostname|server)$", host)


def _slack(m: re.Match[str], line: str) -> bool:
    last = re.split(r"[-/]", m.group("secret"))[-1]  # the random part; the rest are ids
    return not filters.is_placeholder(last) and shannon(last) >= 3.0


RULES: tuple[Rule, ...] = (
    Rule(
        "aws-access-key-id",
        "aws-access-key-id",
        "AWS access key id",
        re.compile(
            r"(?<![A-Za-z0-9])(?P<secret>(?P<prefix>AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16})(?![A-Za-z0-9])"
        ),
        _not_placeholder(2.5),
        ("akia", "asia", "abia", "acca", "a3t"),
    ),
    Rule(
        "aws-secret-access-key",
        "aws-secret-access-key",
        "AWS secret access key",
        re.compile(
            r"(?i)(?:aws[\w.\-]{0,20}?(?:secret|private)[\w.\-]{0,20}?|secret_?access_?key[\w]{0,4})"
            r"[\"']?\s*(?::=|=>|[:=])\s*[\"'`]?(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
        ),
        _aws_secret,
        ("aws", "secret"),
    ),
    Rule(
        "github-token",
        "github",
        "GitHub token (ghp_, gho_, ghu_, ghs_, ghr_)",
        re.compile(
            _L + r"(?P<secret>(?P<prefix>gh[pousr]_)[A-Za-z0-9]{36,251})" + r"(?![A-Za-z0-9_])"
        ),
        _not_placeholder(),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    Rule(
        "github-fine-grained-token",
        "github",
        "GitHub fine-grained personal access token (github_pat_)",
        re.compile(
            _L + r"(?P<secret>(?P<prefix>github_pat_)[A-Za-z0-9_]{60,251})" + r"(?![A-Za-z0-9_])"
        ),
        _not_placeholder(),
        ("github_pat_",),
    ),
    Rule(
        "anthropic-key",
        "anthropic",
        "Anthropic API key (sk-ant-)",
        re.compile(
            _L + r"(?P<secret>(?P<prefix>sk-ant-[a-z]{2,8}\d{0,3}-)[A-Za-z0-9_\-]{32,200})" + _R
        ),
        _not_placeholder(),
        ("sk-ant-",),
    ),
    Rule(
        "openai-key",
        "openai",
        "OpenAI API key (sk-, sk-proj-)",
        re.compile(
            _L + r"(?P<secret>(?P<prefix>sk-(?:proj-|svcacct-|admin-)?)"
            r"(?:[A-Za-z0-9_\-]{16,}T3BlbkFJ[A-Za-z0-9_\-]{16,}"
            r"|(?<=proj-)[A-Za-z0-9_\-]{40,}|(?<=svcacct-)[A-Za-z0-9_\-]{40,}|(?<=admin-)[A-Za-z0-9_\-]{40,}"
            r"|(?<=sk-)[A-Za-z0-9]{32,64}))" + _R
        ),
        _not_placeholder(3.5),
        ("sk-",),
    ),
    Rule(
        "google-api-key",
        "google-api-key",
        "Google API key (AIza)",
        re.compile(_L + r"(?P<secret>(?P<prefix>AIza)[0-9A-Za-z_\-]{35})" + _R),
        _not_placeholder(),
        ("aiza",),
    ),
    Rule(
        "huggingface-token",
        "huggingface",
        "Hugging Face access token (hf_)",
        re.compile(
            r"(?<![A-Za-z0-9_])(?P<secret>(?P<prefix>hf_|api_org_)[A-Za-z0-9]{30,40})(?![A-Za-z0-9_])"
        ),
        _not_placeholder(3.5),
        ("hf_", "api_org_"),
    ),
    Rule(
        "slack-token",
        "slack",
        "Slack token (xoxb-, xoxp-, xapp-, …) or webhook",
        re.compile(
            _L + r"(?P<secret>(?P<prefix>xox[abposre]-|xoxe\.xox[bp]-|xapp-)[0-9A-Za-z\-]{10,250}"
            r"|(?P<hook>https://hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9_/]{20,})"
        ),
        _slack,
        ("xox", "xapp-", "hooks.slack.com"),
    ),
    Rule(
        "stripe-key",
        "stripe",
        "Stripe secret or restricted key (sk_live_, rk_live_, sk_test_, whsec_)",
        re.compile(
            r"(?<![A-Za-z0-9_])(?P<secret>(?P<prefix>(?:sk|rk)_(?:live|test)_|whsec_)[0-9A-Za-z]{24,247})(?![A-Za-z0-9_])"
        ),
        _not_placeholder(),
        ("sk_live_", "rk_live_", "sk_test_", "rk_test_", "whsec_"),
    ),
    Rule(
        "tailscale-key",
        "tailscale",
        "Tailscale auth or API key (tskey-)",
        re.compile(
            _L + r"(?P<secret>(?P<prefix>tskey-(?:[a-z]+-)?)[A-Za-z0-9]{6,}-[A-Za-z0-9]{16,})" + _R
        ),
        _not_placeholder(),
        ("tskey-",),
    ),
    Rule(
        "jwt",
        "jwt",
        "JSON Web Token",
        re.compile(
            _L
            + r"(?P<secret>(?P<prefix>eyJ)[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)"
            + _R
        ),
        _jwt,
        ("eyj",),
    ),
    Rule(
        "url-credentials",
        "url-credentials",
        "Password inside a URL (scheme://user:password@host)",
        re.compile(
            r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]{1,20})://(?P<user>[^\s:/?#@'\"`<>]{0,128})"
            # the password runs to the last "@" of the authority (an unencoded "@" or ":"
            # in it is still part of it, as URL parsers read it)
            r":(?P<secret>[^\s/?#'\"`<>]{1,256})@(?P<host>[A-Za-z0-9.\-_\[\]]+)"
        ),
        _url_credentials,
        ("://",),
    ),
)

# PEM private keys span lines; the scanner handles them with this header pattern.
PRIVATE_KEY_BEGIN = re.compile(
    r"-----BEGIN (?P<label>(?:RSA |DSA |EC |OPENSSH |ENCRYPTED |PGP |SSH2 ENCRYPTED )?PRIVATE KEY(?: BLOCK)?)-----"
)
PRIVATE_KEY_RULE = Rule(
    "private-key",
    "private-key",
    "PEM private key (RSA, EC, DSA, OPENSSH, PGP, PKCS#8)",
    PRIVATE_KEY_BEGIN,
)


def rule_ids() -> list[str]:
    return [r.id for r in RULES] + [PRIVATE_KEY_RULE.id, "generic-secret"]
