"""Publishing a batch to git: lay out paths, one commit on the remote tip, one push, receipts."""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import signal
import string
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import attrs

from flywheel_core import PublishItem, PublishResult, UsageError, redact

__all__ = ["Settings", "plan_batch", "publish"]

DEFAULT_PATH = "sessions/{session_type}/{date}/{session_id}/{kind}.{ext}"
DEFAULT_MESSAGE = "flywheel: publish {artifacts} artifact(s) from {sessions} session(s)"
PATH_FIELDS = {"session_type", "session_id", "kind", "ext", "date", "year", "month", "day"}
MESSAGE_FIELDS = {"artifacts", "sessions", "session_ids"}
TAG_FIELDS = {"session_id", "session_type", "date"}
PUSH_ATTEMPTS = 5
_TAG_RE = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9._/-]{1,200}(?<![/.])$")
_GITHUB_URL = re.compile(r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)([^/]+/[^/]+?)(?:\.git)?/?$")


def _crash_point(step: str) -> None:
    """Test-only: die like ``kill -9`` at ``step`` when FLYWHEEL_TEST_CRASH_AT names it."""
    if os.environ.get("FLYWHEEL_TEST_CRASH_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _fields(template: str, allowed: set[str], key: str) -> None:
    """Refuse templates naming unknown fields, attributes or format specs (``{x.__class__}``)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UsageError(f"targets.github.{key}: {exc}") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in allowed or spec or conversion:
            raise UsageError(f"targets.github.{key}: unknown field {{{field}}} (use {', '.join(sorted(allowed))})")


def _safe_path(path: str, what: str) -> str:
    """A relative POSIX path inside the repository, never into ``.git*`` (no hooks, no workflows)."""
    parts = path.split("/")
    if (
        not path or path.startswith(("/", '"')) or any(c in path for c in "\\\0\n\r")
        or any(p in ("", ".", "..") for p in parts)
        or any(p.lower().startswith(".git") for p in parts)
    ):
        raise ValueError(f"{what} {path!r} is not a plain relative path inside the repository")
    return path


@attrs.define
class Settings:
    """The ``[targets.github]`` table, checked and with defaults."""

    remote: str
    display: str
    branch: str
    path_template: str
    readme_path: str | None
    commit_message: str
    author: tuple[str, str]
    release: bool
    release_kind: str
    tag_template: str
    repository: str | None
    api_url: str
    max_wait: float
    token: str | None
    timeout: float = 60.0

    @classmethod
    def from_config(cls, config: dict[str, Any], base_dir: Path) -> Settings:
        remote = str(config["remote"])
        parts = urlsplit(remote)
        if "://" in remote:
            if parts.scheme in ("http", "https") and (parts.username or parts.password):
                raise UsageError(
                    'targets.github.remote: do not put credentials in the URL; set token = {"$env" = "GITHUB_TOKEN"}'
                )
            display = remote
        elif re.match(r"^[^/]+:", remote):
            # scp-like ssh address, by git's own rule (a colon before any slash): git@github.com:o/r.git,
            # or an ~/.ssh/config host alias without a user, work-gh:o/r.git
            display = remote
        else:
            path = Path(remote).expanduser()
            remote = str(path if path.is_absolute() else (base_dir / path).resolve())
            display = remote
        path_template = str(config.get("path_template", DEFAULT_PATH))
        _fields(path_template, PATH_FIELDS, "path_template")
        message = str(config.get("commit_message", DEFAULT_MESSAGE))
        _fields(message, MESSAGE_FIELDS, "commit_message")
        tag_template = str(config.get("tag_template", "flywheel-{session_id}"))
        _fields(tag_template, TAG_FIELDS, "tag_template")
        readme = config.get("readme_path")
        if readme is not None:
            try:
                _safe_path(str(readme), "targets.github.readme_path")
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        found = _GITHUB_URL.match(remote)
        repository = config.get("repository") or (found.group(1) if found else None)
        # Core resolves it (a {"$env" = NAME} value, or the variables the schema's x-env names) and
        # registers it with the redactor: a target never reads a token from the environment itself.
        token = config.get("token") or None
        return cls(
            remote=remote,
            display=redact(display),
            branch=str(config.get("branch", "main")),
            path_template=path_template,
            readme_path=str(readme) if readme else None,
            commit_message=message,
            author=(str(config.get("author_name", "flywheel")), str(config.get("author_email", "flywheel@localhost"))),
            release=bool(config.get("release", False)),
            release_kind=str(config.get("release_kind", "build_log")),
            tag_template=tag_template,
            repository=repository,
            api_url=str(config.get("api_url", "https://api.github.com")),
            max_wait=float(config.get("rate_limit_max_wait", 60)),
            token=token,
            timeout=float(config.get("timeout", 60)),
        )

    def blob_url(self, commit: str, path: str) -> str | None:
        if self.repository and _GITHUB_URL.match(self.remote):
            return f"https://github.com/{self.repository}/blob/{commit}/{quote(path)}"
        return None


@attrs.define
class Placement:
    """Where one item's files go: ``writes`` path -> bytes, ``deletes`` paths of its older version."""

    item: PublishItem
    main: str
    writes: dict[str, bytes] = attrs.field(factory=dict)
    deletes: set[str] = attrs.field(factory=set)


def _placement(item: PublishItem, settings: Settings) -> Placement:
    date = str(item.meta.get("date") or "")[:10]
    values = {
        "session_type": item.session_type, "session_id": item.session_id, "kind": item.kind, "ext": item.ext,
        "date": date, "year": date[:4], "month": date[5:7], "day": date[8:10],
    }
    if not date and any(f"{{{k}}}" in settings.path_template for k in ("date", "year", "month", "day")):
        raise ValueError("path_template uses the session date, but this entry has none (enqueue it with --session)")
    main = _safe_path(settings.path_template.format(**values), "path")
    folder = posixpath.dirname(main)
    placement = Placement(item, main)
    for name, data in sorted(item.files.items()):
        path = main if name == item.filename else posixpath.join(folder, _safe_path(name, "attachment"))
        placement.writes[path] = data
    for name in item.meta.get("previous_files") or []:
        if isinstance(name, str):
            path = posixpath.join(folder, _safe_path(name, "previous file"))
            if path not in placement.writes:
                placement.deletes.add(path)
    return placement


def plan_batch(items: list[PublishItem], settings: Settings) -> tuple[list[Placement], dict[int, str]]:
    """Each item's placement, and errors for items that cannot be placed (bad path, collision)."""
    placements: list[Placement] = []
    errors: dict[int, str] = {}
    owner: dict[str, int] = {}
    written: dict[str, bytes] = {}
    for item in items:
        try:
            placement = _placement(item, settings)
        except (ValueError, KeyError) as exc:
            errors[item.id] = str(exc)
            continue
        # Two artifacts of one session may share an attachment (the devlog and the social post
        # both carry the first screenshot): the same bytes at the same path are no collision.
        clash = next((p for p, data in placement.writes.items() if p in owner and written[p] != data), None)
        if clash is not None:
            errors[item.id] = (
                f"path {clash!r} is also written by queue entry {owner[clash]}; "
                "make path_template unique per artifact (use {session_id} and {kind})"
            )
            continue
        for path in placement.writes:
            owner.setdefault(path, item.id)
        written.update(placement.writes)
        placements.append(placement)
    if settings.readme_path:
        readmes = [p for p in placements if p.item.session_type == "build" and p.item.kind == "readme"]
        if readmes:
            # The newest session's README is the repository's README; between sessions of the same
            # time, the session id decides (never the order they were enqueued in).
            newest = max(readmes, key=lambda p: (str(p.item.meta.get("date") or ""), p.item.session_id))
            folder = posixpath.dirname(settings.readme_path)
            for path, data in list(newest.writes.items()):
                rel = posixpath.relpath(path, posixpath.dirname(newest.main))
                target = settings.readme_path if path == newest.main else posixpath.join(folder, rel)
                if owner.setdefault(target, newest.item.id) == newest.item.id:
                    newest.writes[target] = data
    return placements, errors


def _message(settings: Settings, placements: list[Placement]) -> str:
    sessions: dict[tuple[str, str], list[str]] = {}
    for p in placements:
        sessions.setdefault((p.item.session_type, p.item.session_id), []).append(p.item.kind)
    subject = settings.commit_message.format(
        artifacts=len(placements), sessions=len(sessions), session_ids=", ".join(sorted(s for _, s in sessions)),
    )
    lines = [f"- {stype} {sid}: {', '.join(sorted(kinds))}" for (stype, sid), kinds in sorted(sessions.items())]
    return subject.strip() + "\n\n" + "\n".join(lines) + "\n"


def _cache_path(state_dir: Path, settings: Settings) -> Path:
    key = hashlib.sha256(f"{settings.remote}\0{settings.branch}".encode()).hexdigest()[:20]
    return state_dir / "cache" / f"{key}.git"


def publish(items: list[PublishItem], config: dict[str, Any], ctx: Any) -> list[PublishResult]:
    """Publish ``items`` to the configured repository: at most one commit and one push."""
    from flywheel_core import lock_for

    from flywheel_publish_github.gitrepo import CacheRepo, PushRejected, auth_env

    settings = Settings.from_config(config, ctx.config.base_dir)
    placements, errors = plan_batch(items, settings)
    results = [PublishResult(item_id, False, error=redact(error)) for item_id, error in errors.items()]
    if not placements:
        return results
    if ctx.dry_run:
        # What the real receipt will say the same way (no commit yet, so no commit and no URL).
        return results + [PublishResult(p.item.id, True, receipt={"dry_run": True, **_receipt(p, settings)})
                          for p in placements]
    cache = _cache_path(ctx.target_state_dir("github"), settings)
    repo = CacheRepo(cache, settings.remote, settings.branch, auth_env(settings.remote, settings.token),
                     timeout=settings.timeout, display=settings.display)
    with lock_for(cache, timeout=600):
        repo.ensure()
        for attempt in range(1, PUSH_ATTEMPTS + 1):
            base = repo.fetch()
            commit, holders = _build(repo, base, placements, settings)
            if commit is None:
                break
            _crash_point("after_commit")
            try:
                repo.push(commit)
            except PushRejected:
                if attempt == PUSH_ATTEMPTS:
                    raise
                ctx.log.info("github: the remote moved on; rebuilding the commit on its new tip")
                continue
            _crash_point("after_push")
            break
    for p in placements:
        holder = holders[p.item.id]
        receipt: dict[str, Any] = {"commit": holder, **_receipt(p, settings)}
        url = settings.blob_url(holder, p.main)
        if url:
            receipt["url"] = url
        error = ""
        if settings.release and p.item.session_type == "build" and p.item.kind == settings.release_kind:
            try:
                receipt["release"] = _release(settings, p.item, holder)
            except Exception as exc:  # the commit is on the branch; the queue retries the release
                error = f"committed as {holder[:12]}, but the release failed: {exc}"
        results.append(PublishResult(p.item.id, not error, receipt=receipt, error=redact(error)))
    return results


def _receipt(p: Placement, settings: Settings) -> dict[str, Any]:
    """The part of an item's receipt known before publishing: where its files go (and which files of
    its older version it removes)."""
    return {"remote": settings.display, "branch": settings.branch, "path": p.main, "paths": sorted(p.writes),
            **({"deletes": sorted(p.deletes)} if p.deletes else {})}


def _build(repo: Any, base: str | None, placements: list[Placement], settings: Settings) -> tuple[str | None, dict[int, str]]:
    """The commit to push on ``base`` (None when the branch already holds everything) and, per
    item, the commit that holds its content."""
    wanted = [{path: repo.blob_id(data) for path, data in p.writes.items()} for p in placements]
    kept = {path for w in wanted for path in w}
    paths = sorted(kept | {d for p in placements for d in p.deletes})
    present = repo.tree_entries(base, paths)
    writes: dict[str, bytes] = {}
    deletes: set[str] = set()
    changed: set[int] = set()
    for p, want in zip(placements, wanted):
        for path, oid in want.items():
            if present.get(path) != ("100644", oid):
                writes[path] = p.writes[path]
                changed.add(p.item.id)
        for path in p.deletes:
            if path in present and path not in kept:  # another artifact of the batch still uses it
                deletes.add(path)
                changed.add(p.item.id)
    holders: dict[int, str] = {}
    for p in placements:
        if p.item.id not in changed:
            assert base is not None  # nothing to change means every file is already there
            holders[p.item.id] = repo.last_commit_touching(base, p.main)
    if not changed:
        return None, holders
    commit = repo.commit(base, writes, deletes, _message(settings, [p for p in placements if p.item.id in changed]),
                         settings.author)
    holders.update(dict.fromkeys(changed, commit))
    return commit, holders


def _release(settings: Settings, item: PublishItem, commit: str) -> dict[str, Any]:
    from flywheel_publish_github.release import ReleaseClient, ReleaseError

    if not settings.token:
        raise ReleaseError('release = true needs a token: token = {"$env" = "GITHUB_TOKEN"} in [targets.github] '
                           "(or FLYWHEEL_GITHUB_TOKEN or GITHUB_TOKEN set)")
    if not settings.repository:
        raise ReleaseError("release = true needs repository = \"owner/name\" (the remote is not a github.com URL)")
    api = urlsplit(settings.api_url)
    if api.scheme != "https" and api.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ReleaseError(f"api_url {settings.api_url!r} is not https; the token is only sent over https")
    date = str(item.meta.get("date") or "")[:10]
    tag = settings.tag_template.format(session_id=item.session_id, session_type=item.session_type, date=date)
    if not _TAG_RE.match(tag):
        raise ReleaseError(f"tag {tag!r} is not a valid git tag name")
    client = ReleaseClient(settings.api_url, settings.token, max_wait=settings.max_wait, timeout=settings.timeout)
    try:
        return client.upsert(
            settings.repository, tag,
            name=str(item.meta.get("title") or f"Build {item.session_id}"),
            body=item.content.decode("utf-8", "replace"),
            commitish=commit,
        )
    finally:
        client.close()
