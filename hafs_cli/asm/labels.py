"""Label scopes: main labels, .sublabels, +/- labels, ?macro labels, namespaces.

A mixin of Session: turns label definitions and references into the keys the width
tracker uses, and reports labels defined twice.
"""

from __future__ import annotations

import re

from hafs_cli.asm import widths

ANON = re.compile(r"(\??)(\++|-+)$")
_SUBREF = re.compile(r"(\??)(\.+)([A-Za-z0-9_]+)$")
_NAME = re.compile(r"\??[A-Za-z_][A-Za-z0-9_]*$")
# a label named in an expression (not after $, %, ', ! or inside a longer word)
_LABEL_REFERENCE = re.compile(r"(?<![\w$%.'!])(?:\?)?\.*[A-Za-z_][A-Za-z0-9_]*")


class LabelScopes:
    """Label bookkeeping for Session (uses its events, targets, labels and reporting)."""

    def _label(self, m: re.Match, lineno: int, col: int) -> None:
        main, sub, anon = m.group("main"), m.group("sub"), m.group("anon")
        if main is not None:
            self._main_label(main, lineno, col)
            return
        if sub is not None:
            key = self._sub_key(sub.lstrip("#"), define=not sub.startswith("#"))
            if "?" not in sub:
                self._define_label(key, lineno, col)
        else:
            macro, signs = ANON.match(anon).groups()
            count = self.anon_plus if signs[0] == "+" else self.anon_minus
            tag = f"{self._macro_prefix() if macro else ''}{signs}"
            if signs[0] == "+":
                key = f"{tag}:{count.get(tag, 0)}"
                count[tag] = count.get(tag, 0) + 1
            else:
                count[tag] = count.get(tag, 0) + 1
                key = f"{tag}:{count[tag]}"
        self.events.append((widths.LABEL, key))

    def _escape_labels(self, text: str) -> None:
        """Labels whose address is taken as data may be entered with any register widths."""
        for m in _LABEL_REFERENCE.finditer(text):
            if m.end() < len(text) and text[m.end()] == "(":
                continue  # a function call
            key = self._target_key(m.group())
            if key is not None:
                self.targets.add(key)
                self.events.append((widths.ESCAPE, key))

    def _main_label(self, main: str, lineno: int, col: int) -> None:
        if main[0] == "#":
            name = main[1:]  # '#' labels leave the sublabel scope alone
        else:
            name = main
            if name[0] != "?":
                self.label_path = [name]
        if name[0] == "?":
            self.events.append((widths.LABEL, self._macro_local(name)))
            return
        self.events.append((widths.LABEL, name))
        if self.unknown_depth or self.namespace:
            self._define_label(name, lineno, col)
        elif name in self.labels:
            self._define_label(name, lineno, col)  # reports the redefinition
        else:
            self.labels[name] = (self._path, lineno)

    def _define_label(self, key: str, lineno: int, col: int) -> None:
        """Remember where a label is defined; a second definition is an asar error."""
        if self.unknown_depth:
            return  # a branch that may not be assembled, or a loop body: no verdict
        full = self.namespace + key if self.namespace else key
        where = self.labels.get(full)
        if where is None:
            self.labels[full] = (self._path, lineno)
            return
        where = f"{where[0]}:{where[1]}"
        shown = full.replace("_", ".", 1) if key != full or "_" not in key else key
        self._report(lineno, col, "duplicate-label", f"label '{shown}' is already defined at {where}",
                     "rename one of them (use ?label or .sublabel inside macros)", None)  # fmt: skip

    def _sub_key(self, sub: str, define: bool) -> str:
        macro = sub.startswith("?")
        sub = sub.lstrip("?")
        depth = len(sub) - len(sub.lstrip("."))
        path = self.label_path[:depth] + [sub[depth:]]
        if define and not macro:
            self.label_path = path
        key = "_".join(path)
        return f"{self._macro_prefix()}{key}" if macro else key

    def _macro_prefix(self) -> str:
        return f"?{self.macro_stack[-1][1]}:" if self.macro_stack else "?:"

    def _macro_local(self, name: str) -> str:
        return self._macro_prefix() + name[1:] if name.startswith("?") else name

    def _target_key(self, text: str) -> str | None:
        text = text.strip()
        m = ANON.match(text)
        if m:
            macro, signs = m.groups()
            tag = f"{self._macro_prefix() if macro else ''}{signs}"
            if signs[0] == "+":
                return f"{tag}:{self.anon_plus.get(tag, 0)}"
            return f"{tag}:{self.anon_minus.get(tag, 0)}"
        m = _SUBREF.match(text)
        if m:
            return self._sub_key(m.group(1) + m.group(2) + m.group(3), define=False)
        if _NAME.match(text):
            return self._macro_local(text)
        return None

    def _namespace(self, args: str) -> None:
        words = args.split()
        low = [w.lower() for w in words]
        if low[:1] == ["nested"]:
            self.nested_namespaces = low[1:2] == ["on"]
        elif low == ["off"]:
            self.namespace = ""
        elif words:
            prefix = words[0] + "_"
            self.namespace = self.namespace + prefix if self.nested_namespaces else prefix
