"""Checking one session document: envelope and type schema, then the plugins' own checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from flywheel_core.errors import describe_exception
from flywheel_core.models import Session, converter, parse_timestamp
from flywheel_core.plugins import KNOWN_SESSION_TYPES, install_hint
from flywheel_core.schema import iter_errors, json_type, mask_secrets, mask_suspicious, merged_schema
from flywheel_core.types import Problem

if TYPE_CHECKING:
    from flywheel_core.context import RunContext
    from flywheel_core.plugins import PluginHost

__all__ = ["check_schema", "plugin_problems", "schema_for"]


def schema_for(session_type: str | None, host: PluginHost) -> dict[str, Any]:
    """The envelope schema, merged with the type's own schema when a plugin registers it."""
    registered = host.session_types.get(session_type or "")
    if registered is None:
        return merged_schema(None)
    return merged_schema(registered[1].schema, title=f"work_session.json ({session_type})")


# session type -> (host, registration, merged schema): one merged schema object per type, so its
# compiled check is made once per process, not once per session.
_MERGED: dict[str | None, tuple[Any, Any, dict[str, Any]]] = {}


def _checked_schema(session_type: str | None, host: PluginHost) -> dict[str, Any]:
    registered = host.session_types.get(session_type or "")
    key = session_type if registered else None
    entry = _MERGED.get(key)
    if entry is None or entry[0] is not host or entry[1] is not registered:
        entry = _MERGED[key] = (host, registered, schema_for(key, host))
    return entry[2]


def check_schema(raw: Any, host: PluginHost) -> tuple[Session | None, list[Problem]]:
    """Validate a parsed document; return the structured session (None if invalid) and problems."""
    if not isinstance(raw, dict):
        # JSON's names for what the file holds ("null", "array"), not Python's ("NoneType", "list").
        return None, [Problem.error(f"expected a JSON object, got {json_type(raw)}")]
    problems: list[Problem] = []
    session_type = raw.get("session_type") if isinstance(raw.get("session_type"), str) else None
    if session_type and session_type not in host.session_types:
        if session_type in KNOWN_SESSION_TYPES:
            problems.append(
                Problem.warning(
                    f"no installed plugin handles {session_type!r}, so only the envelope was "
                    f"checked ({install_hint(KNOWN_SESSION_TYPES[session_type])})",
                    "$.session_type",
                )
            )
        else:
            names = sorted(set(host.session_types) | set(KNOWN_SESSION_TYPES))
            problems.append(Problem.error(_unknown_type(session_type, names), "$.session_type"))
    for path, message in iter_errors(_checked_schema(session_type, host), raw):
        problems.append(Problem.error(message, path))
    if any(p.severity == "error" for p in problems):
        return None, problems
    moment, naive = parse_timestamp(raw["timestamp"])
    if naive:
        problems.append(Problem.warning("timestamp has no time zone; read as UTC", "$.timestamp"))
    if moment > datetime.now(timezone.utc) + timedelta(days=1):  # a day of slack for skewed clocks
        problems.append(Problem.warning(
            f"timestamp {moment:%Y-%m-%d} is in the future (a wrong clock?): the posts are dated then and stay "
            "first on the website", "$.timestamp"))
    minutes = (raw.get("metadata") or {}).get("duration_minutes")
    if isinstance(minutes, (int, float)) and not isinstance(minutes, bool) and minutes > WEEK_MINUTES:
        problems.append(Problem.warning(
            f"duration_minutes {minutes:,.0f} is {minutes / 1440:,.0f} days: the artifacts will say {minutes / 60:,.0f} h "
            "of work (seconds or milliseconds written as minutes?)", "$.metadata.duration_minutes"))
    return converter.structure(raw, Session), problems


#: A session declared longer than this gets a warning: agents write seconds or milliseconds there.
WEEK_MINUTES = 7 * 24 * 60


def _unknown_type(name: str, known: list[str]) -> str:
    import difflib

    # difflib indexes every character of the name: only a name of sane length gets a guess.
    guesses = difflib.get_close_matches(name.lower().replace("-", "_"), known, n=1, cutoff=0.6) if len(name) <= 64 else []
    hint = f"; did you mean {guesses[0]!r}?" if guesses else ""
    shown = mask_secrets(name if len(name) <= 64 else name[:61] + "...")
    return f"unknown session type {shown!r} (known: {', '.join(known)}){hint}"


def plugin_problems(session: Session, ctx: RunContext) -> list[Problem]:
    """Problems from every plugin's ``flywheel_validate``; a plugin that raises becomes a warning."""
    problems: list[Problem] = []
    for plugin, result, error in ctx.host.call_each("flywheel_validate", session=session, ctx=ctx):
        if error is not None:
            problems.append(Problem.warning(
                f"plugin {ctx.host.describe(plugin)} failed in flywheel_validate: {describe_exception(error)}"
            ))
        elif result:
            problems.extend(_masked(p) for p in result if isinstance(p, Problem))  # the host checked; stay safe
    return problems


def _masked(problem: Problem) -> Problem:
    # A plugin's warning may quote the value it doubts (total_pnl "sk_live_…"), and warnings are
    # printed, kept in --json output and cron logs, as error lines are (those are masked in cli).
    message = mask_suspicious(problem.message)
    return problem if message == problem.message else Problem(message, problem.path, problem.severity)
