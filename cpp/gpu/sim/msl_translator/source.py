"""Preprocessed MSL text: a copy with literals and directives blanked (so brackets and keywords can be
found with regular expressions), the mapping back to .metal lines, and the program's block structure."""
from __future__ import annotations

import re

from .errors import TranslationError, Violation

IDENT = re.compile(r"[A-Za-z_]\w*")
# Calls that look like function definitions but are statements.
CONTROL_WORDS = {"if", "for", "while", "switch", "return", "sizeof", "catch", "decltype", "alignof",
                 "alignas", "static_assert", "noexcept"}


class Source:
    """Preprocessed text, a copy with literals and directive lines blanked, and line mapping."""

    def __init__(self, text: str):
        self.text = text
        self.masked = self._mask(text)
        self.markers = [(m.start(), int(m.group(1)), m.group(2))
                        for m in re.finditer(r'^# (\d+) "([^"]*)"[^\n]*$', text, re.M)]
        self._blocks = None
        self._functions = None

    @staticmethod
    def _mask(text):
        out = list(text)
        i, n, line_start = 0, len(text), True
        while i < n:
            c = text[i]
            if line_start and c == "#":
                j = text.find("\n", i)
                j = n if j < 0 else j
                out[i:j] = " " * (j - i)
                i = j
                continue
            if c in "\"'":
                j = i + 1
                while j < n and text[j] != c:
                    j += 2 if text[j] == "\\" else 1
                out[i + 1:j] = "".join(ch if ch == "\n" else " " for ch in text[i + 1:j])
                i, line_start = j + 1, False
                continue
            line_start = c == "\n" or (line_start and c in " \t")
            i += 1
        return "".join(out)

    def location(self, pos):
        file, line, after = "?", 1, 0
        for mpos, mline, mfile in self.markers:
            if mpos > pos:
                break
            file, line, after = mfile, mline, self.text.find("\n", mpos) + 1
        return file, line + self.text.count("\n", after, pos)

    def violation(self, pos, rule, message):
        file, line = self.location(pos)
        return Violation(file, line, rule, message)

    def error(self, pos, message, rule="unsupported"):
        raise TranslationError([self.violation(pos, rule, message)])

    def match(self, pos, open_char, close_char):
        """Index of the bracket closing the one at pos."""
        depth = 0
        for i in range(pos, len(self.masked)):
            c = self.masked[i]
            if c == open_char:
                depth += 1
            elif c == close_char:
                depth -= 1
                if depth == 0:
                    return i
        self.error(pos, f"unbalanced '{open_char}'", "syntax")

    def statement_end(self, pos):
        depth = 0
        for i in range(pos, len(self.masked)):
            c = self.masked[i]
            if c in "({[":
                depth += 1
            elif c in ")}]":
                depth -= 1
            elif c == ";" and depth == 0:
                return i
        self.error(pos, "statement without ';'", "syntax")

    def statement_start(self, pos):
        """Start of the statement or declaration holding pos (after the previous ';', '{' or '}')."""
        m = self.masked
        return max(m.rfind(";", 0, pos), m.rfind("}", 0, pos), m.rfind("{", 0, pos)) + 1

    def previous_char(self, pos):
        i = pos - 1
        while i >= 0 and self.masked[i].isspace():
            i -= 1
        return (self.masked[i], i) if i >= 0 else ("", -1)

    # --- block structure ------------------------------------------------------------------------
    def blocks(self):
        """Every '{' as (open, close, kind, parent index); kind is namespace, class, function or other."""
        if self._blocks is None:
            self._blocks = self._find_blocks()
        return self._blocks

    def _find_blocks(self):
        m = self.masked
        function_bodies = {f.body[0] for f in self.functions()}
        blocks, stack = [], []
        for i, c in enumerate(m):
            if c == "{":
                head = m[self.statement_start(i):i]
                if i in function_bodies:
                    kind = "function"
                elif re.match(r"\s*(inline\s+)?namespace\b|\s*extern\s*\"", head):
                    kind = "namespace"
                elif re.search(r"\b(struct|class|union|enum)\b", head) and not re.search(r"[=(]", head):
                    kind = "class"
                else:
                    kind = "other"
                blocks.append([i, None, kind, stack[-1] if stack else -1])
                stack.append(len(blocks) - 1)
            elif c == "}" and stack:
                blocks[stack.pop()][1] = i
        return blocks

    def scope(self, pos):
        """(kind, block) of the innermost namespace, class or function around pos; ('program', None) at
        namespace scope."""
        inner = -1
        for index, (a, b, _, _) in enumerate(self.blocks()):
            if a >= pos:
                break  # blocks are in source order
            if b is None or pos < b:
                inner = index
        while inner >= 0:
            block = self.blocks()[inner]
            if block[2] in ("class", "function"):
                return block[2], block
            if block[2] == "namespace":
                return "program", None
            inner = block[3]
        return "program", None

    def functions(self):
        """Every function definition: Function(name, pos, params, body)."""
        if self._functions is None:
            self._functions = find_functions(self)
        return self._functions


class Function:
    """A function definition: name, position of the name, (open, close) of its parameters and body."""

    def __init__(self, name, pos, params, body):
        self.name, self.pos, self.params, self.body = name, pos, params, body

    def __repr__(self):
        return f"Function({self.name!r})"


FUNCTION_NAME = re.compile(r"\b(?:operator\s*(?:\(\s*\)|\[\s*\]|[-+*/%^&|~!=<>,]+)|([A-Za-z_]\w*))\s*\(")


def find_functions(src):
    """Definitions `name(...) [const|noexcept|-> type|attributes] {`; lambdas and control statements excluded."""
    masked = src.masked
    out = []
    for m in FUNCTION_NAME.finditer(masked):
        name = m.group(1) or "operator"
        if name in CONTROL_WORDS:
            continue
        close = src.match(m.end() - 1, "(", ")")
        rest = re.match(r"\s*(?:const\b|noexcept\b|\[\[.*?\]\]|->[^;{}]*|\s)*\{", masked[close + 1:close + 400], re.S)
        if not rest:
            continue
        if masked[max(0, m.start() - 9):m.start()].rstrip().endswith("operator"):
            name = "operator"  # a conversion operator, `operator float() {`
        brace = close + rest.end()
        out.append(Function(name, m.start(), (m.end() - 1, close), (brace, src.match(brace, "{", "}"))))
    return out


def split_top_level(text, sep=","):
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in "(<[{":
            depth += 1
        elif c in ")>]}":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append((start, text[start:i]))
            start = i + 1
    parts.append((start, text[start:]))
    return parts


def strip_attributes(text):
    return re.sub(r"\[\[.*?\]\]", " ", text, flags=re.S)
