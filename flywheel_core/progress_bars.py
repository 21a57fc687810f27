"""Progress bars for long work, on stderr, only when a person is watching a terminal."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import TYPE_CHECKING, Any, Iterable, Iterator, TypeVar

if TYPE_CHECKING:
    from rich.progress import Progress

__all__ = ["ProgressTask", "progress", "progress_enabled", "set_quiet", "track"]

T = TypeVar("T")

_quiet = False
_lock = threading.Lock()
#: The bar on screen and how many ``progress()`` blocks use it: a nested block (a site build
#: inside a publish batch) adds its own line to it, as rich allows one live display at a time.
_active: dict[str, Any] = {"bar": None, "users": 0}


def set_quiet(quiet: bool) -> None:
    """Turn progress bars off for this process (``flywheel --quiet``)."""
    global _quiet
    _quiet = quiet


def progress_enabled() -> bool:
    """True when a bar may be drawn: stderr is a terminal, not ``--quiet``, no ``NO_COLOR``, not ``TERM=dumb``."""
    if _quiet or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError, OSError):  # replaced by an object without it, or closed
        return False


class ProgressTask:
    """What :func:`progress` yields: call :meth:`advance` as work gets done.

    When no bar is shown every method does nothing, so code calls it unconditionally.
    """

    __slots__ = ("_bar", "_task")

    def __init__(self, bar: Progress | None = None, task: Any = None) -> None:
        self._bar, self._task = bar, task

    def advance(self, n: int = 1) -> None:
        """``n`` more units of work are done."""
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def update(self, *, total: int | None = None, description: str | None = None) -> None:
        """Set the total once it is known (a bar started with ``total=None`` only counts), or a new description."""
        if self._bar is not None:
            fields: dict[str, Any] = {} if total is None else {"total": total}
            if description is not None:
                fields["description"] = description
            self._bar.update(self._task, **fields)


@contextlib.contextmanager
def progress(total: int | None, description: str) -> Iterator[ProgressTask]:
    """Show a progress bar on stderr while the block runs; yield a :class:`ProgressTask`.

    ``total`` is the number of units (``None``: unknown yet, the bar only counts). Nothing at
    all is drawn, and rich is not even imported, unless :func:`progress_enabled`: output that
    is piped, redirected or captured stays exactly what it was. The bar is transient, erased
    when the block ends, so only the command's own lines stay on screen.
    """
    if not progress_enabled():
        yield ProgressTask()
        return
    with _lock:
        bar = _active["bar"]
        if bar is None:
            bar = _active["bar"] = _new_bar()
            bar.start()
        _active["users"] += 1
        task = bar.add_task(description, total=total)
    try:
        yield ProgressTask(bar, task)
    finally:
        with _lock:
            bar.remove_task(task)
            _active["users"] -= 1
            if _active["users"] == 0:
                _active["bar"] = None
                bar.stop()


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield each item of ``items`` while a bar counts them (``total`` defaults to ``len(items)``)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(total, description) as task:
        for item in items:
            yield item
            task.advance()


def _new_bar() -> Progress:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
        # Lines printed meanwhile go above the bar; stdout only when it is the same terminal,
        # so a redirected stdout never receives a byte of stderr.
        redirect_stdout=_isatty(sys.stdout),
        redirect_stderr=True,
    )


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
