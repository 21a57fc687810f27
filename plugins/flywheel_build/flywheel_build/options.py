"""The build plugin's ``flywheel_collect_session``: options (a range, a date, or the branches that moved since a recorded state) to a session."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_build.collect import collect_session
from flywheel_build.git import GitError, Repo, open_repo

if TYPE_CHECKING:
    from flywheel_core import RunContext

__all__ = ["NARRATIVE_KEYS", "collect_from_options", "moved_revisions"]

NARRATIVE_KEYS = ("title", "summary", "highlights", "lessons", "next_steps", "audience")
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def _tips(refs: Any) -> tuple[str | None, dict[str, str]]:
    """``(head, {branch: sha})`` of a recorded state, keeping only well-formed object ids (the
    state file is only ours as long as nobody edits it: nothing from it reaches git as an option)."""
    if not isinstance(refs, dict):
        return None, {}
    head = refs.get("head") if isinstance(refs.get("head"), str) and _SHA.match(refs["head"]) else None
    branches = refs.get("branches") if isinstance(refs.get("branches"), dict) else {}
    return head, {str(k): v for k, v in branches.items() if isinstance(v, str) and _SHA.match(v)}


def moved_revisions(repo: Repo, before: Any, now: Any) -> tuple[list[str], dict[str, str]]:
    """``git log`` arguments for the commits made between two recorded states of a repository,
    on every branch that moved (and a detached HEAD), and a description of what moved.

    New tips are included; every tip recorded before that still exists is excluded, so work
    that was already there (on any branch) is never counted again. Nothing moved: ``[]``.
    """
    old_head, old = _tips(before)
    new_head, new = _tips(now)
    moved = {ref: sha for ref, sha in new.items() if old.get(ref) != sha}
    tips = list(dict.fromkeys([*moved.values(), *([new_head] if new_head and new_head != old_head else [])]))
    described = {ref.removeprefix("refs/heads/"): f"{old[ref][:12]}..{sha[:12]}" if ref in old else f"new at {sha[:12]}"
                 for ref, sha in moved.items()}
    if not tips:
        return [], described
    excluded = list(dict.fromkeys([*old.values(), *([old_head] if old_head else [])]))
    if excluded:
        # A recorded tip that no longer exists (a deleted branch, pruned by gc) cannot be excluded.
        out = repo.git("cat-file", "--batch-check=%(objectname) %(objecttype)", input="\n".join(excluded).encode() + b"\n")
        known = {line.split()[0] for line in out.decode("ascii", "replace").splitlines() if line.endswith(" commit")}
        excluded = [sha for sha in excluded if sha in known]
    return [*tips, *(f"^{sha}" for sha in excluded)], described


def _duration(value: Any) -> float | int | None:
    if value is None:
        return None
    from flywheel_core import UsageError

    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"--duration {value!r}: expected minutes") from None
    return int(minutes) if math.isfinite(minutes) and minutes == int(minutes) else minutes


def collect_from_options(options: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    """A build session from ``flywheel_collect_session`` options.

    ``repo`` (required); then ``rev_range``, ``since``, ``until``, ``author`` as for ``flywheel
    collect build``; or ``refs_before`` and ``refs_now`` (where the branches pointed when the
    session began, and now): the commits of every branch that moved in between, taking
    precedence over ``since`` (a rebase keeps old dates). ``refs_now`` alone (``flywheel end``
    with nothing to say where the session began) is refused rather than read as all history. ``agent_id``, ``duration`` and the
    narrative (``title``, ``summary``, ``audience``, ``highlights``, ``lessons``, ``next_steps``).
    """
    from flywheel_core import NothingToCollect, UsageError

    if not options.get("repo"):
        raise UsageError("a build session is collected from a git repository: name it with --repo")
    repo_path = Path(str(options["repo"]))
    narrative = {key: options.get(key) for key in NARRATIVE_KEYS}
    common = dict(agent_id=options.get("agent_id"), duration=_duration(options.get("duration")),
                  warn=ctx.warn, narrative=narrative, author=options.get("author"))
    before, now = options.get("refs_before"), options.get("refs_now")
    if now is not None and before is None and not (options.get("since") or options.get("rev_range")):
        # `flywheel end` with no start, no earlier end and no --since: the whole history would
        # be a guess at the session, not the session.
        raise UsageError(f"{options['repo']}: no session was started here (`flywheel start`) and none ended "
                         "here before: say where this one began with --since or --rev-range")
    if options.get("rev_range") or before is None or now is None:
        return collect_session(repo_path, since=options.get("since"), until=options.get("until"),
                               rev_range=options.get("rev_range"), **common)
    try:
        repo = open_repo(repo_path.expanduser())
        revisions, moved = moved_revisions(repo, before, now)
    except GitError as exc:
        raise UsageError(str(exc)) from None
    since = options.get("since") or "the recorded state"
    if not revisions:
        raise NothingToCollect(f"{repo.cwd}: no branch moved")
    session = collect_session(repo.cwd, revisions=revisions, **common)
    session["source_data"]["collected"] = {"since": since, "branches": moved}
    return session
