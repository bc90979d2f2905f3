"""Progress that shows in a terminal and in a log file alike.

On a terminal :func:`progress_bar` is a tqdm bar. Off a terminal (output redirected to a file, a CI log, a pipe) tqdm
would hide itself, and a nine-minute training run would print nothing; there it prints one plain line every
``every_fraction`` of the total (default 10 %) or every ``every_s`` seconds (default 30), whichever comes first, but
never two within ``min_s`` seconds (default 5, so a loop that takes seconds prints only its closing line), and one
when it closes::

    ensemble Hopper: 30/100 epoch (30%), 1m 12s elapsed, 0.417 epoch/s, loss=0.0123, holdout_mse=0.0456

This module imports only the standard library and tqdm, so the ground-truth layer (``neural_gym.envs``) and the
model layer (``neural_gym.world_models``) can both use it without importing each other or torch.

Example:
    >>> from neural_gym.progress import progress_bar
    >>> for step in progress_bar(range(1000), desc="latent Hopper", unit="step"):  # doctest: +SKIP
    ...     pass
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Generic, TypeVar

T = TypeVar("T")

EVERY_FRACTION = 0.1
"""Default share of the total between two plain progress lines."""
EVERY_S = 30.0
"""Default longest wait, in seconds, between two plain progress lines."""
MIN_S = 5.0
"""Default shortest gap, in seconds, between two plain progress lines (the closing line excepted)."""


def format_duration(seconds: float) -> str:
    """``7.2`` → ``"7 s"``, ``185`` → ``"3m 05s"``, ``3725`` → ``"1h 02m"``.

    Args:
        seconds: a non-negative duration.

    Returns:
        The duration, rounded to whole seconds (minutes above an hour).
    """
    s = round(max(seconds, 0.0))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class ProgressBar(Generic[T]):
    """A tqdm bar on a terminal, plain periodic lines elsewhere; use :func:`progress_bar` to make one.

    It iterates like tqdm (``for x in bar``) or counts by hand (``bar.update(n)``), takes ``set_postfix(**figures)``
    and ``close()``, and works as a context manager.

    Args:
        iterable: what to iterate over, or ``None`` to count with :meth:`update`.
        total: number of units expected (default ``len(iterable)`` when it has one).
        desc: what is progressing, e.g. ``"ensemble Hopper"``.
        unit: name of one unit, e.g. ``"step"`` or ``"epoch"``.
        enabled: ``False`` shows nothing at all.
        stream: where to write (default ``sys.stderr`` at creation time, as tqdm).
        every_fraction: off a terminal, print a line each time this share of ``total`` is done (``0`` never).
        every_s: off a terminal, print a line at least this often, in seconds, while units get done (``0`` never).
        min_s: off a terminal, never print two lines within this many seconds (the closing line excepted).
        clock: monotonic clock in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        iterable: Iterable[T] | None = None,
        *,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        enabled: bool = True,
        stream: IO[str] | None = None,
        every_fraction: float = EVERY_FRACTION,
        every_s: float = EVERY_S,
        min_s: float = MIN_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        if not 0.0 <= every_fraction <= 1.0:
            raise ValueError(f"every_fraction must be in [0, 1], got {every_fraction}")
        if every_s < 0 or min_s < 0:
            raise ValueError(f"every_s and min_s must be >= 0 seconds, got every_s={every_s}, min_s={min_s}")
        self.iterable = iterable
        self.total = total
        self.desc = desc
        self.unit = unit
        self.n = 0
        self._stream = sys.stderr if stream is None else stream
        self._every_fraction = every_fraction
        self._every_s = every_s
        self._min_s = min_s
        self._clock = clock
        self._start = clock()
        self._last_time = self._start
        self._last_n = 0
        self._postfix: dict[str, Any] = {}
        self._closed = False
        self._in_item = False
        self._tqdm: Any = None
        self._plain = enabled and not _is_terminal(self._stream)
        if enabled and not self._plain:
            from tqdm.auto import tqdm

            self._tqdm = tqdm(total=total, desc=desc, unit=unit, file=self._stream, disable=False)

    def __iter__(self) -> Iterator[T]:
        """Yield the iterable's items, counting each one done when the next is asked for (or at :meth:`close`)."""
        if self.iterable is None:
            raise TypeError("this progress bar counts with update(); it was made without an iterable")
        for item in self.iterable:
            self._in_item = True
            yield item
            self._in_item = False
            self.update(1)
        self.close()  # as tqdm does when its iterable runs out

    def __enter__(self) -> ProgressBar[T]:
        """The bar itself."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the bar."""
        self.close()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done (printing a plain line when one is due).

        Args:
            n: units just done.
        """
        self.n += n
        if self._tqdm is not None:
            self._tqdm.update(n)
        elif self._plain and self._due():
            self._print()

    def set_postfix(self, **figures: Any) -> None:
        """Show these figures after the count (tqdm's ``set_postfix``); plain lines show the latest ones.

        Args:
            **figures: name → value (already formatted strings print as they are).
        """
        self._postfix = figures
        if self._tqdm is not None:
            self._tqdm.set_postfix(**figures)

    def close(self) -> None:
        """Finish: close the tqdm bar, or print a last plain line (done, or where it stopped) unless one just did."""
        if self._closed:
            return
        self._closed = True
        if self._in_item:  # the loop left during an item (break / return): that item was worked on
            self._in_item = False
            self.n += 1
            if self._tqdm is not None:
                self._tqdm.update(1)
        if self._tqdm is not None:
            self._tqdm.close()
        elif self._plain and (self.n != self._last_n or self.n == 0):
            self._print(final=True)

    def _due(self) -> bool:
        if self.total and self.n >= self.total > self._last_n:
            return True  # done: always say so
        since = self._clock() - self._last_time
        if since < self._min_s:
            return False
        if self._every_s > 0 and since >= self._every_s:
            return True
        if self.total and self._every_fraction > 0:
            step = self.total * self._every_fraction
            return int(self.n // step) > int(self._last_n // step) or self.n >= self.total > self._last_n
        return False

    def _print(self, final: bool = False) -> None:
        now = self._clock()
        elapsed = now - self._start
        count = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        parts = [f"{count} {self.unit}{share}", f"{format_duration(elapsed)} elapsed"]
        if elapsed > 0 and self.n > 0:
            rate = self.n / elapsed
            parts.append(f"{rate:.0f} {self.unit}/s" if rate >= 100 else f"{rate:.3g} {self.unit}/s")
        parts += [f"{k}={v}" for k, v in self._postfix.items()]
        if final or (self.total and self.n >= self.total):
            parts.append("done" if self.total is None or self.n >= self.total else "stopped")
        head = f"{self.desc}: " if self.desc else ""
        print(head + ", ".join(parts), file=self._stream, flush=True)
        self._last_time, self._last_n = now, self.n


def progress_bar(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    enabled: bool = True,
    stream: IO[str] | None = None,
    every_fraction: float = EVERY_FRACTION,
    every_s: float = EVERY_S,
) -> ProgressBar[T]:
    """Progress over ``iterable`` (or counted with ``update``): a tqdm bar on a terminal, plain lines in a log.

    Args:
        iterable: what to iterate over, or ``None`` to count with ``update(n)``.
        total: number of units expected (default ``len(iterable)``).
        desc: what is progressing, e.g. ``"collect Hopper"``.
        unit: name of one unit (``"step"``, ``"epoch"``, ``"episode"``).
        enabled: ``False`` (``--quiet``) shows nothing.
        stream: where to write (default ``sys.stderr``).
        every_fraction: off a terminal, a line each time this share of ``total`` is done (default 10 %).
        every_s: off a terminal, a line at least this often in seconds while work gets done (default 30).

    Returns:
        A :class:`ProgressBar`.
    """
    return ProgressBar(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        enabled=enabled,
        stream=stream,
        every_fraction=every_fraction,
        every_s=every_s,
    )
