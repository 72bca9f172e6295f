"""asar expressions: syntax checks, operand width of literals, constant evaluation.

Only what the validator needs: it never resolves labels (that needs a full assembly),
so anything that depends on a label is "unknown" (None), never an error.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<hex>\$[0-9A-Za-z_]*)
  | (?P<num>[0-9][0-9A-Za-z_.]*)
  | (?P<str>"(?:[^"\\]|\\.)*"?)
  | (?P<chr>'(?:\\.|[^'\\])'|'''|'[^']*'?)
  | (?P<ident>[A-Za-z_?.][A-Za-z0-9_.?]*)
  | (?P<op><<|>>|<=|>=|==|!=|&&|\|\||\*\*|[-+*/%&|^~<>!=])
  | (?P<open>[(\[])
  | (?P<close>[)\]])
  | (?P<comma>,)
  | (?P<other>.)
    """,
    re.VERBOSE,
)
_HEX_DIGITS = re.compile(r"[0-9A-Fa-f]+")
_BIN = re.compile(r"%[01]+")
_DEC = re.compile(r"[0-9]+(?:\.[0-9]+)?|0[xX][0-9A-Fa-f]+")
_ANON_LABEL = re.compile(r"\??(?:\++|-+)")
_CLOSE_FOR = {"(": ")", "[": "]"}
_UNARY = frozenset("-+~!<>")


def syntax_error(text: str) -> str | None:
    """Why `text` is not a well-formed asar expression, or None when it is."""
    text = text.strip()
    if not text:
        return "missing operand"
    if _ANON_LABEL.fullmatch(text):
        return None
    stack: list[tuple[str, bool]] = []  # (opener, is_call)
    expect_operand = True
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        assert m is not None
        kind = m.lastgroup
        tok = m.group()
        pos = m.end()
        if kind == "ws":
            continue
        if expect_operand:
            if kind == "hex":
                if len(tok) == 1:
                    return "'$' without hex digits"
                if not _HEX_DIGITS.fullmatch(tok, 1):
                    return f"bad hex digit in '{tok}'"
                expect_operand = False
            elif kind == "num":
                if not _DEC.fullmatch(tok):
                    return f"bad number '{tok}' (use $ for hex, % for binary)"
                expect_operand = False
            elif kind == "op" and tok == "%":
                b = re.match(r"%[0-9A-Za-z_]*", text[pos - 1 :])
                assert b is not None
                lit = b.group()
                if not _BIN.fullmatch(lit):
                    return (
                        f"bad binary digit in '{lit}'"
                        if len(lit) > 1
                        else "'%' without binary digits"
                    )
                pos += len(lit) - 1
                expect_operand = False
            elif kind == "str":
                if len(tok) < 2 or not tok.endswith('"'):
                    return "unterminated string"
                expect_operand = False
            elif kind == "chr":
                if len(tok) < 3 or not tok.endswith("'"):
                    return "unterminated character literal"
                expect_operand = False
            elif kind == "ident":
                if pos < n and text[pos] == "(":
                    stack.append(("(", True))
                    pos += 1
                    continue  # still expecting an operand (or ')')
                expect_operand = False
            elif kind == "open":
                stack.append((tok, False))
            elif kind == "op" and tok in _UNARY:
                continue
            elif kind == "op" and tok in ("++", "--"):
                expect_operand = False
            elif kind == "close" and stack and stack[-1][1] and _CLOSE_FOR[stack[-1][0]] == tok:
                stack.pop()  # f() with no arguments
                expect_operand = False
            elif kind == "comma":
                return "empty argument" if stack else "stray comma"
            elif kind == "close":
                return f"unexpected '{tok}'" if stack else f"unbalanced '{tok}'"
            elif kind == "op":
                return f"operator '{tok}' without a left operand"
            else:
                return f"unexpected '{tok}'"
        else:
            if kind == "op":
                expect_operand = True
            elif kind == "close":
                if not stack:
                    return f"unbalanced '{tok}'"
                opener, _call = stack.pop()
                if _CLOSE_FOR[opener] != tok:
                    return f"'{opener}' closed by '{tok}'"
            elif kind == "open" and tok == "[":
                stack.append((tok, False))  # struct array index: Struct[2].field
                expect_operand = True
            elif kind == "comma":
                if not stack or not stack[-1][1]:
                    return "stray comma" if not stack else "comma inside brackets"
                expect_operand = True
            elif kind == "ident" and tok.startswith("."):
                continue  # Struct[1].field
            elif kind in ("hex", "num") or (kind == "op" and tok == "%"):
                return f"two values without an operator near '{tok}'"
            else:
                return f"unexpected '{tok}'"
    if stack:
        return f"unbalanced '{stack[-1][0]}'"
    if expect_operand:
        return "expression ends with an operator" if text else "missing operand"
    return None


_WIDTH_TERM = re.compile(
    r"(?:\$|0[xX])([0-9A-Fa-f]+)|%([01]+)|([0-9]+)(?![.0-9xX])|'(?:\\.|[^'\\])'|([A-Za-z_?.][\w.?]*)|(\")"
)


def literal_width(text: str) -> int | None:
    """Operand bytes asar gives an expression made of literals, or None when it has labels.

    asar sizes a literal by how it is written: `$12` is 1 byte, `$0012` 2, `$000012` 3;
    decimals and binaries by value/digits. A compound expression takes its widest term.
    """
    width = 0
    for m in _WIDTH_TERM.finditer(text):
        hexd, bind, decd, ident, quote = m.groups()
        if hexd is not None:
            w = (len(hexd) + 1) // 2
        elif bind is not None:
            w = (len(bind) + 7) // 8
        elif decd is not None:
            v = int(decd)
            w = 1 if v < 0x100 else 2 if v < 0x10000 else 3 if v < 0x1000000 else 4
        elif ident is not None or quote is not None:
            return None
        else:
            w = 1  # character literal
        if w > width:
            width = w
    return width or None


# ---------------------------------------------------------------------------------
# constant evaluation (if/elseif/while conditions, REP/SEP values, rep counts)

_EVAL_TOKEN = re.compile(
    r"\s*(?:((?:\$|0[xX])[0-9A-Fa-f]+)|(%[01]+)|([0-9]+(?:\.[0-9]+)?)|'((?:\\.|[^'\\]))'|"
    r"(\"(?:[^\"\\]|\\.)*\")|([A-Za-z_?.][\w.?]*)|(<<|>>|<=|>=|==|!=|&&|\|\||\*\*|[-+*/%&|^~<>!(),=]))"
)
_BINARY_PREC = {
    "||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "=": 6,
    "<": 7, ">": 7, "<=": 7, ">=": 7, "<<": 8, ">>": 8, "+": 9, "-": 9,
    "*": 10, "/": 10, "%": 10, "**": 11,
}  # fmt: skip


class Unknown(Exception):
    """The expression depends on something only a full assembly knows (a label, read1())."""


def evaluate(text: str, defined: frozenset[str] | set[str] | None = None) -> float | int:
    """Evaluate a constant asar expression; raise Unknown when it cannot be known here."""
    tokens: list[tuple[int, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _EVAL_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Unknown(text)
        pos = m.end()
        idx = m.lastindex or 0
        tokens.append((idx, m.group(idx)))
    parser = _Eval(tokens, defined or set())
    try:
        value = parser.expr(0)
    except RecursionError:  # thousands of nested brackets: too deep to know here
        raise Unknown(text) from None
    if parser.i != len(tokens):
        raise Unknown(text)
    return value


class _Eval:
    def __init__(self, tokens: list[tuple[int, str]], defined: frozenset[str] | set[str]):
        self.t = tokens
        self.i = 0
        self.defined = defined

    def _peek(self) -> tuple[int, str] | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def expr(self, min_prec: int) -> float | int:
        left = self.unary()
        while True:
            tok = self._peek()
            if tok is None or tok[0] != 7 or tok[1] not in _BINARY_PREC:
                return left
            prec = _BINARY_PREC[tok[1]]
            if prec < min_prec + 1 and min_prec:
                return left
            if prec <= min_prec:
                return left
            self.i += 1
            right = self.expr(prec)
            left = _apply(tok[1], left, right)

    def unary(self) -> float | int:
        tok = self._peek()
        if tok is None:
            raise Unknown("")
        self.i += 1
        kind, val = tok
        if kind == 1:
            return int(val[2:] if val[0] == "0" else val[1:], 16)
        if kind == 2:
            return int(val[1:], 2)
        if kind == 3:
            return float(val) if "." in val else int(val)
        if kind == 4:
            return ord(val[-1])
        if kind == 6:
            nxt = self._peek()
            if nxt == (7, "("):
                return self.call(val.lower())
            raise Unknown(val)  # a label
        if kind == 7 and val == "(":
            v = self.expr(0)
            if self._peek() != (7, ")"):
                raise Unknown("(")
            self.i += 1
            return v
        if kind == 7 and val == "-":
            return -self.unary()
        if kind == 7 and val == "+":
            return self.unary()
        if kind == 7 and val == "~":
            return ~int(self.unary())
        if kind == 7 and val == "!":
            return int(not self.unary())
        raise Unknown(val)

    def call(self, name: str) -> float | int:
        self.i += 1  # "("
        if name == "defined":
            tok = self._peek()
            if tok is None or tok[0] != 5:
                raise Unknown(name)
            self.i += 1
            if self._peek() != (7, ")"):
                raise Unknown(name)
            self.i += 1
            return int(tok[1][1:-1].lstrip("!") in self.defined)
        args = []
        if self._peek() != (7, ")"):
            while True:
                args.append(self.expr(0))
                tok = self._peek()
                if tok == (7, ","):
                    self.i += 1
                    continue
                break
        if self._peek() != (7, ")"):
            raise Unknown(name)
        self.i += 1
        return _function(name, args)


def _function(name: str, args: list) -> float | int:
    if name == "not" and len(args) == 1:
        return int(not args[0])
    if name == "min" and args:
        return min(args)
    if name == "max" and args:
        return max(args)
    if name == "abs" and len(args) == 1:
        return abs(args[0])
    if name == "select" and len(args) == 3:
        return args[1] if args[0] else args[2]
    if (
        name in ("equal", "notequal", "less", "lessequal", "greater", "greaterequal")
        and len(args) == 2
    ):
        a, b = args
        return int(
            {"equal": a == b, "notequal": a != b, "less": a < b, "lessequal": a <= b,
             "greater": a > b, "greaterequal": a >= b}[name]
        )  # fmt: skip
    if name == "and" and len(args) == 2:
        return int(bool(args[0]) and bool(args[1]))
    if name == "or" and len(args) == 2:
        return int(bool(args[0]) or bool(args[1]))
    if name == "bank" and len(args) == 1:
        return int(args[0]) >> 16
    raise Unknown(name)


def _apply(op: str, a, b):  # noqa: ANN001, ANN202 - numbers of either kind
    if op in ("==", "="):
        return int(a == b)
    if op == "!=":
        return int(a != b)
    if op == "<":
        return int(a < b)
    if op == ">":
        return int(a > b)
    if op == "<=":
        return int(a <= b)
    if op == ">=":
        return int(a >= b)
    if op == "&&":
        return int(bool(a) and bool(b))
    if op == "||":
        return int(bool(a) or bool(b))
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "**":
        return a**b
    if op in ("/", "%"):
        if b == 0:
            raise Unknown("division by zero")
        if op == "%":
            return a % b
        return a / b if isinstance(a, float) or isinstance(b, float) else int(a / b)
    a, b = int(a), int(b)
    if op == "<<":
        return a << b
    if op == ">>":
        return a >> b
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    return a ^ b
