"""Progress bars for long work (tqdm on stderr); silent when disabled."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")


@contextlib.contextmanager
def byte_progress(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None]]:
    """Yields a progress(done, total) callback in bytes that drives one bar."""
    bar: tqdm | None = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if not enabled:
            return
        if bar is None:
            bar = tqdm(total=total, desc=label, unit="B", unit_scale=True)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def steps(iterable: Iterable[T], label: str, total: int, enabled: bool = True) -> Iterator[T]:
    """Iterates with a bar of `total` steps on stderr (none when disabled)."""
    return iter(tqdm(iterable, desc=label, total=total, leave=False, disable=not enabled))
