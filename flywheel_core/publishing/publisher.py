"""``flywheel publish``: claim what is due, hand it to its target, record the answers; a dry run asks the same way."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attrs

from flywheel_core.context import PublishContext
from flywheel_core.errors import FlywheelError
from flywheel_core.publishing.blobs import ContentMissing
from flywheel_core.publishing.mirror import mend_session_files
from flywheel_core.publishing.queue import PublicationQueue, crash_point, open_queue, redact_json
from flywheel_core.publishing.storage import QueueEntry, iso
from flywheel_core.publishing.targets import call_target, check_target
from flywheel_core.redaction import redact
from flywheel_core.types import PublishItem, PublishResult

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.plugins import PluginHost

__all__ = ["PublishOutcome", "PublishReport", "publish", "publish_claimed"]

log = logging.getLogger("flywheel.publish")


@attrs.define
class PublishOutcome:
    """What ``flywheel publish`` did (or, in a dry run, would do) with one entry.

    ``status``: published | failed | dead | would-publish | would-fail. ``receipt`` is the
    target's (in a dry run, what it can tell before publishing: never more than the real run's).
    """

    id: int
    target: str
    session_id: str
    kind: str
    status: str
    receipt: dict[str, Any] = attrs.field(factory=dict)
    error: str = ""
    attempts: int = 0
    next_attempt_at: str | None = None


@attrs.define
class PublishReport:
    """Everything one ``publish`` has to tell: outcomes, warnings, dead entries, what waits."""

    outcomes: list[PublishOutcome] = attrs.field(factory=list)
    warnings: list[str] = attrs.field(factory=list)
    #: Every dead entry of the targets published to (this run's and earlier ones): each needs a person.
    dead: list[QueueEntry] = attrs.field(factory=list)
    #: Pending entries not due now (leased by a live publisher, or backing off).
    waiting: list[QueueEntry] = attrs.field(factory=list)
    dry_run: bool = False
    #: Every held entry of the targets published to: each waits for `flywheel review`.
    held: list[QueueEntry] = attrs.field(factory=list)
    #: ``--strict``: a held entry fails the exit code too (for CI).
    strict: bool = False

    @property
    def failed(self) -> list[PublishOutcome]:
        return [o for o in self.outcomes if o.status not in ("published", "would-publish")]

    @property
    def exit_code(self) -> int:
        """0 when everything due was published and nothing is dead; 1 otherwise. Held entries are
        the scan policy working (0), except with ``strict``."""
        return 1 if self.failed or self.dead or (self.strict and self.held) else 0


def publish(
    config: Config, host: PluginHost, *, target: str | None = None, dry_run: bool = False, strict: bool = False
) -> PublishReport:
    """Publish every due entry, target by target (``target``: only that one).

    After each batch, the session files of its entries are brought up to date; at the end,
    every session file that does not show its entries' state (a crash came between) is mended.
    A dry run selects the same batches and calls each target the same way, with
    ``ctx.dry_run`` set; nothing is changed. Held entries are never published; the report
    lists them (``strict``: they make the exit code 1).
    """
    names = [target] if target is not None else config.enabled_targets()
    tables = {name: check_target(config, host, name) for name in names}
    report = PublishReport(dry_run=dry_run, strict=strict)
    queue = open_queue(config)
    if not queue.exists():
        return report  # nothing was ever enqueued: do not create a queue to say so
    with queue:
        ctx = PublishContext(config=config, state_dir=config.state_dir, dry_run=dry_run, saver=queue.save_progress)
        if target is None:
            for name in sorted({e.target for e in queue.due()} - set(names)):
                report.warnings.append(f"entries for target {name!r} are waiting, but it is not enabled in {config.source}")
        for name in names:
            if dry_run:
                for batch in queue.batches(name):
                    report.outcomes.extend(_dry_run(queue, host, name, tables[name], ctx, batch))
                continue
            tried: set[int] = set()
            while entries := queue.claim(name, exclude=tried):
                tried.update(e.id for e in entries)
                crash_point("after_claim")
                report.outcomes.extend(_publish_batch(queue, host, name, tables[name], ctx, entries))
                crash_point("after_queue_update")
                mend_session_files(config, queue, [e.session_path for e in entries if e.session_path])
        if not dry_run:
            mend_session_files(config, queue)
        report.dead = queue.entries("dead", targets=names)
        report.held = queue.entries("held", targets=names)
        report.waiting = queue.waiting(names)
    return report


def _ask(host: PluginHost, name: str, items: list[PublishItem], table: dict[str, Any], ctx: PublishContext) -> dict[int, PublishResult]:
    """The target's answer per item id; an exception, or an answer that is not a list of
    PublishResult, fails every item of the batch with a message naming the target."""
    try:
        returned = call_target(host, name, items, table, ctx)
    except (Exception, SystemExit) as exc:  # a plugin's sys.exit() must not end flywheel
        log.debug("target %s raised", name, exc_info=True)
        error = f"target {name!r} failed: {_describe(exc)}"
        return {i.id: PublishResult(i.id, False, error=error) for i in items}
    if returned is None:
        error = f"the plugin owning target {name!r} returned no result"
        return {i.id: PublishResult(i.id, False, error=error) for i in items}
    if not isinstance(returned, (list, tuple)):
        error = f"target {name!r} returned {type(returned).__name__}, not a list of PublishResult"
        return {i.id: PublishResult(i.id, False, error=error) for i in items}
    wanted = {i.id for i in items}
    answers = {r.item_id: r for r in returned if isinstance(r, PublishResult) and r.item_id in wanted}
    for item in items:
        answers.setdefault(item.id, PublishResult(item.id, False, error=f"target {name!r} gave no result for it"))
    return answers


def _dry_run(
    queue: PublicationQueue, host: PluginHost, name: str, table: dict[str, Any], ctx: PublishContext,
    entries: list[QueueEntry],
) -> list[PublishOutcome]:
    items: list[PublishItem] = []
    out: list[PublishOutcome] = []
    for entry in entries:
        try:
            items.append(queue.item(entry))
        except ContentMissing as exc:
            out.append(PublishOutcome(entry.id, name, entry.session_id, entry.kind, "would-fail", error=str(exc),
                                      attempts=entry.attempts))
    answers = _ask(host, name, items, table, ctx) if items else {}
    by_id = {e.id: e for e in entries}
    for item in items:
        answer, entry = answers[item.id], by_id[item.id]
        receipt = {k: v for k, v in redact_json(answer.receipt).items() if k != "dry_run"}
        out.append(PublishOutcome(
            entry.id, name, entry.session_id, entry.kind, "would-publish" if answer.ok else "would-fail",
            receipt=receipt, error="" if answer.ok else redact(answer.error), attempts=entry.attempts,
        ))
    return sorted(out, key=lambda o: o.id)


def _describe(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, FlywheelError) else f"{type(exc).__name__}: {exc}"
    return redact(" ".join(text.split()))


def _publish_batch(
    queue: PublicationQueue, host: PluginHost, name: str, table: dict[str, Any], ctx: PublishContext,
    entries: list[QueueEntry],
) -> list[PublishOutcome]:
    items: list[PublishItem] = []
    done: list[QueueEntry] = []
    for entry in entries:
        try:
            items.append(queue.item(entry))
        except ContentMissing as exc:  # the enqueued bytes are gone: no retry can help
            done.append(queue.fail(entry.id, str(exc), permanent=True) or entry)
    answers: dict[int, PublishResult] = {}
    if items:
        with queue.keep_leases([i.id for i in items]):
            answers = _ask(host, name, items, table, ctx)
        crash_point("before_queue_update")
        for item in items:
            done.append(queue.record(answers[item.id]) or queue.get(item.id))  # type: ignore[arg-type]
    out = []
    for entry in done:
        answer = answers.get(entry.id)
        ok = entry.status in ("published", "superseded") and (answer is None or answer.ok)
        out.append(PublishOutcome(
            entry.id, name, entry.session_id, entry.kind,
            "published" if ok else entry.status,
            receipt=entry.receipt or {},
            error="" if ok else (entry.last_error or ""),
            attempts=entry.attempts,
            next_attempt_at=iso(entry.next_attempt_at) if entry.status == "failed" else None,
        ))
    return out


def publish_claimed(
    config: Config, host: PluginHost, queue: PublicationQueue, name: str, table: dict[str, Any], ctx: PublishContext,
    entries: list[QueueEntry],
) -> list[PublishOutcome]:
    """Publish a batch this publisher has claimed, record the answers, and bring the batch's
    session files up to date: one step of ``publish``, and the unit of work of ``flywheel worker``."""
    outcomes = _publish_batch(queue, host, name, table, ctx, entries)
    crash_point("after_queue_update")
    mend_session_files(config, queue, [e.session_path for e in entries if e.session_path])
    return outcomes
