"""Rule violations and the error that carries them."""
from __future__ import annotations

from typing import Iterable, NamedTuple


class Violation(NamedTuple):
    """One broken rule at one .metal line."""

    file: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.rule}: {self.message}"


class TranslationError(Exception):
    """A .metal source breaks MSL's rules or uses what metal-sim cannot translate."""

    def __init__(self, violations: Iterable[Violation]):
        self.violations = sorted(set(violations), key=lambda v: (v.file, v.line, v.rule, v.message))
        super().__init__("\n".join(str(v) for v in self.violations))
