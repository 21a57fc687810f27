"""The Python API: start and end work sessions, collect one, run a session file; typed results, no printing.

::

    import flywheel_core as fw

    tracker = fw.start_session("build", repo=".", agent="Agent-7")
    ...                                    # work, commit
    result = tracker.end(summary="Publication queue on SQLite", lessons=["..."], publish=True)
    result.session_file, result.artifacts["blog_post"].path, result.receipts

    fw.run_session_file("sessions/x.json", publish=True)   # the guide's steps 4 and 6

Each function does what the command of the same name does and returns what it would print.
Bad input or usage raises :class:`UsageError` or :class:`InputError` (the CLI's exit code 2),
an unusable file system :class:`FileSystemError`, a lock held too long :class:`LockTimeout`
(exit 1); a plugin that fails while a session runs does not raise: the result says so
(``status == "failed"``, ``errors``, ``exit_code == 1``), as the session file does. Nothing is
printed and nothing global is changed; ``config`` is a :class:`Config`, a config file's path,
or None for the file ``flywheel`` itself would use: from the repository ``repo`` names for
sessions, from the current folder otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import attrs

from flywheel_core.config import Config, check_plugin_configs, load_config
from flywheel_core.errors import InputError, UsageError
from flywheel_core.pipeline import Collected, collect
from flywheel_core.plugins import get_host

# flywheel_core.tracking (start, end, run with the queue) is imported by the functions that use
# it: ``flywheel collect`` (collect_session) loads neither it nor the publication queue.

if TYPE_CHECKING:
    from flywheel_core.plugins import PluginHost
    from flywheel_core.tracking import EndResult, OpenSession, SessionOutcome

__all__ = ["SessionTracker", "collect_session", "end_session", "run_session_file", "start_session"]

ConfigLike = Config | str | os.PathLike[str] | None


def _setup(
    config: ConfigLike, host: PluginHost | None, *, check: bool = True, where: str | os.PathLike[str] | None = None
) -> tuple[Config, PluginHost]:
    """The config (loaded as the CLI would when not given, from ``where``: the repository a
    session is about) and the plugin host, plugin tables checked."""
    if isinstance(config, Config):
        cfg = config
    elif where is not None:
        from flywheel_core.tracking import config_for

        cfg = config_for(where, config)
    else:
        cfg = load_config(Path(config) if config is not None else None)
    host = host or get_host()
    if check:
        check_plugin_configs(cfg, host)
    return cfg, host


def _narrative(
    title: str | None, summary: str | None, lessons: Iterable[str], next_steps: Iterable[str], highlights: Iterable[str]
) -> dict[str, Any]:
    for name, items in (("lessons", lessons), ("next_steps", next_steps), ("highlights", highlights)):
        if isinstance(items, str):  # a lone string would be read letter by letter
            raise UsageError(f"{name} must be a list of strings, not one string")
    return {"title": title, "summary": summary, "lessons": list(lessons), "next_steps": list(next_steps),
            "highlights": list(highlights)}


@attrs.define
class SessionTracker:
    """An open work session (the guide's ``SessionTracker``): :meth:`end` collects, writes, runs
    and publishes it. Made by :func:`start_session`; holds nothing but where the session is
    recorded, so a tracker made in one process can be ended by ``flywheel end`` in another."""

    session: OpenSession
    #: True when a session of this type was already open on this folder: it was kept.
    already_open: bool
    config: Config = attrs.field(repr=False)
    host: PluginHost | None = attrs.field(default=None, repr=False)

    @property
    def session_type(self) -> str:
        """The open session's type (``build``, ...)."""
        return self.session.session_type

    @property
    def folder(self) -> Path:
        """The repository (or folder) the session is about."""
        return self.session.folder

    @property
    def started_at(self) -> str:
        """When the session was opened, an ISO 8601 UTC timestamp."""
        return self.session.started_at

    def end(
        self,
        *,
        title: str | None = None,
        summary: str | None = None,
        lessons: Iterable[str] = (),
        next_steps: Iterable[str] = (),
        highlights: Iterable[str] = (),
        agent: str | None = None,
        duration: float | None = None,
        publish: bool = True,
        strict: bool = False,
        **options: Any,
    ) -> EndResult:
        """End this session: see :func:`end_session` (same arguments)."""
        return end_session(
            self.session_type, repo=self.folder, agent=agent, title=title, summary=summary, lessons=lessons,
            next_steps=next_steps, highlights=highlights, duration=duration, publish=publish, strict=strict,
            config=self.config, host=self.host, **options,
        )


def start_session(
    session_type: str = "build",
    *,
    repo: str | os.PathLike[str] = ".",
    agent: str | None = None,
    restart: bool = False,
    config: ConfigLike = None,
    host: PluginHost | None = None,
) -> SessionTracker:
    """Open a session (``flywheel start``): record the time, the agent and where every branch of
    the repository holding ``repo`` points. While one of this type is open on that repository
    (or folder), it is kept and returned (``already_open``) unless ``restart``."""
    from flywheel_core.tracking import start_session as _start_session

    cfg, host = _setup(config, host, where=repo)
    started = _start_session(cfg, host, session_type=session_type, folder=repo, agent=agent, restart=restart)
    return SessionTracker(started.session, started.already_open, cfg, host)


def end_session(
    session_type: str = "build",
    *,
    repo: str | os.PathLike[str] = ".",
    agent: str | None = None,
    title: str | None = None,
    summary: str | None = None,
    lessons: Iterable[str] = (),
    next_steps: Iterable[str] = (),
    highlights: Iterable[str] = (),
    since: str | None = None,
    duration: float | None = None,
    publish: bool = True,
    strict: bool = False,
    config: ConfigLike = None,
    host: PluginHost | None = None,
    **options: Any,
) -> EndResult:
    """End a session (``flywheel end``) and return what became of it.

    Collects what happened since the open session started (build: the commits of every branch
    that moved), else since the previous end, else since ``since``; fills ``duration_minutes``
    from the start (``duration`` wins); writes ``<sessions_dir>/<session_id>_<type>.json``;
    runs it; publishes what is due unless ``publish=False``. ``options`` are the collector's own
    (build: ``rev_range``, ``audience``; trade: ``csv``, ``format``, ``multipliers``, ``tz``;
    life_aria: ``notes``, ``screenshots``). With nothing new since the last end, nothing is
    written and ``result.nothing_new`` is True. ``strict``: a collector warning raises UsageError
    before anything is written.
    """
    from flywheel_core.tracking import end_session as _end_session

    cfg, host = _setup(config, host, where=repo)
    collected = {**options, "agent_id": agent, **_narrative(title, summary, lessons, next_steps, highlights)}
    return _end_session(cfg, host, session_type=session_type, folder=repo, options=collected, since=since,
                        duration=duration, publish=publish, strict=strict)


def run_session_file(
    path: str | os.PathLike[str], *, publish: bool = True, config: ConfigLike = None, host: PluginHost | None = None
) -> SessionOutcome:
    """Run a session file (``flywheel run FILE --publish``): write its artifacts, record them in
    the file, enqueue them for every enabled target, and publish what is due (unless
    ``publish=False``). An invalid file raises :class:`InputError` naming its first problem."""
    from flywheel_core.tracking import run_file

    cfg, host = _setup(config, host)
    file = Path(path)
    outcome = run_file(cfg, host, file, publish=publish)
    if outcome.status == "invalid":
        errors = [p for p in outcome.problems if p.severity == "error"] or outcome.problems
        first = errors[0] if errors else None
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise InputError(str(file), first.path if first else "$", (first.message if first else "invalid") + more)
    return outcome


def collect_session(
    session_type: str,
    options: dict[str, Any] | None = None,
    *,
    session_path: str | os.PathLike[str] | None = None,
    config: ConfigLike = None,
    host: PluginHost | None = None,
) -> Collected:
    """A new session document from its sources (``flywheel collect TYPE``), not written anywhere.

    ``options`` as ``flywheel_collect_session`` takes them (build: ``{"repo": ".", "since": "2
    hours ago"}``). ``session_path``: where the document will be written, so relative paths in
    it point the right way. Returns the document with the collector's warnings and notes;
    raises :class:`NothingToCollect` when the sources hold nothing.
    """
    cfg, host = _setup(config, host, check=False)
    where = Path(session_path).absolute() if session_path is not None else None
    return collect(session_type, dict(options or {}), cfg, host, session_path=where)
