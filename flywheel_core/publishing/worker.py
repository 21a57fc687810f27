"""``flywheel worker``: drain due work continuously, wait for more (LISTEN/NOTIFY, or polling SQLite), stop cleanly."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Callable

import attrs

from flywheel_core.context import PublishContext
from flywheel_core.errors import FlywheelError, UsageError
from flywheel_core.publishing.mirror import mend_session_files
from flywheel_core.publishing.publisher import PublishOutcome, publish_claimed
from flywheel_core.publishing.queue import DEFAULT_SETTINGS, PublicationQueue, open_storage
from flywheel_core.publishing.targets import check_target

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.plugins import PluginHost

__all__ = ["Worker", "WorkerReport"]

log = logging.getLogger("flywheel.worker")

#: Longest sleep of an idle worker between two looks at the queue, whatever woke it or not.
IDLE_SECONDS = 30.0
#: Longest wait, once told to stop now, for the batches in hand to be given back (a queue that
#: does not answer must not keep a stopping worker alive: the leases end with the process).
GIVE_BACK_SECONDS = 15.0


@attrs.define
class WorkerReport:
    """What a worker did between its start and its stop."""

    published: int = 0
    failed: int = 0
    dead: int = 0
    batches: int = 0
    released: int = 0
    errors: list[str] = attrs.field(factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        rate = self.published / self.seconds if self.seconds > 0 else 0.0
        parts = [f"{self.published} published", f"{self.failed} failed", f"{self.dead} dead"]
        if self.released:
            parts.append(f"{self.released} given back unpublished")
        return (f"worker stopped after {self.seconds:.1f} s: {', '.join(parts)} in {self.batches} batches "
                f"({rate:.1f} published/s)")


class Worker:
    """``concurrency`` threads, each claiming batches of the ``targets`` and publishing them.

    Each thread has its own lease owner and its own connection (from one pool on PostgreSQL).
    :meth:`stop` makes every thread finish the batch in hand and claim nothing more;
    ``stop(release=True)`` gives back what is in hand too (the targets may be mid-way: the
    next try checks what they already have). ``on_outcome`` is called once per publication.
    """

    def __init__(
        self,
        config: Config,
        host: PluginHost,
        *,
        targets: list[str] | None = None,
        concurrency: int = 1,
        once: bool = False,
        batch: int = 500,
        on_outcome: Callable[[PublishOutcome], None] | None = None,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        if concurrency < 1:
            raise UsageError("--concurrency must be at least 1")
        self.config = config
        self.host = host
        self.targets = targets or config.enabled_targets()
        if not self.targets:
            raise UsageError(f"no target is enabled in {config.source}: nothing to work on")
        self.tables = {name: check_target(config, host, name) for name in self.targets}
        self.concurrency = concurrency
        self.once = once
        self.batch = batch
        self.on_outcome = on_outcome or (lambda outcome: None)
        self.idle_seconds = idle_seconds
        self.report = WorkerReport()
        # Plain flags, not threading.Event: a signal handler sets them, and a second signal may come
        # while the first handler is inside Event.set holding its lock (the worker hung for ever).
        self._stopping = False
        self._release = False
        self._lock = threading.Lock()
        self._in_hand: dict[int, tuple[PublicationQueue, list[int]]] = {}
        #: With ``once``, like ``flywheel publish``: each entry is tried at most once per run.
        self._tried: set[int] = set()
        # Every thread's connections come from one pool on PostgreSQL (each thread and its lease
        # renewal at once); SQLite threads each open the file.
        self._storage, self._blobs = open_storage(config, pool_size=2 * concurrency + 1)
        self._settings = {k: v for k, v in config.queue.items() if k in DEFAULT_SETTINGS}

    def stop(self, *, release: bool = False) -> None:
        """Claim nothing more; with ``release``, give back the batches in hand as well (:meth:`run`
        does it, then returns at once).

        Only sets flags, so a signal handler may call it: the handler runs between two steps of
        the main thread, which may be holding the connection pool's lock (not re-entrant) at that
        moment, and giving back from there could wait for that lock for ever.
        """
        self._stopping = True
        if release:
            self._release = True

    def _give_back(self) -> None:
        """Release the batches in hand (their targets may be mid-way), in the main thread."""
        with self._lock:
            in_hand = list(self._in_hand.values())
        for held, ids in in_hand:
            # A connection of this thread's own, in the holder's name (SQLite connections
            # belong to the thread that opened them).
            queue = PublicationQueue(self._storage.clone(), self._blobs, self._settings, owner=held.owner)
            try:
                self.report.released += len(queue.release(ids))
            except FlywheelError as exc:
                log.warning("could not give back queue entries %s: %s", ids, exc)
            finally:
                queue.close()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def run(self) -> WorkerReport:
        """Work until stopped (or, with ``once``, until nothing is due); return what was done."""
        start = time.monotonic()
        if not self._storage.exists():
            self._storage.migrate()  # a worker may start before anything is enqueued
        threads = [threading.Thread(target=self._loop, args=(i,), name=f"flywheel-worker-{i}", daemon=True)
                   for i in range(self.concurrency)]
        for thread in threads:
            thread.start()
        woken = False
        try:
            while not self._release and any(t.is_alive() for t in threads):
                for thread in threads:
                    thread.join(0.2)  # short joins: signal handlers run in this thread meanwhile
                if self.stopping and not woken:
                    woken = True
                    self._storage.notify("*")  # wake the threads that wait for work
            if self._release:
                # The threads still in a target are daemons: they end with the process.
                helper = threading.Thread(target=self._give_back, name="flywheel-give-back", daemon=True)
                helper.start()
                helper.join(GIVE_BACK_SECONDS)
                if helper.is_alive():
                    log.warning("the queue did not take back the batches in hand within %g s: their leases end "
                                "with this process (at once for a publisher on this machine, when they expire "
                                "elsewhere), and the interrupted tries are not counted", GIVE_BACK_SECONDS)
        finally:
            try:
                if not self._release:  # stopping now: the next publish brings them up to date
                    queue = PublicationQueue(self._storage.clone(), self._blobs, self._settings)
                    try:
                        mend_session_files(self.config, queue)
                    except FlywheelError as exc:
                        log.warning("could not bring session files up to date: %s", exc)
                    finally:
                        queue.close()
            finally:
                self._storage.close()
            self.report.seconds = time.monotonic() - start
        return self.report

    def _loop(self, index: int) -> None:
        queue = PublicationQueue(self._storage.clone(), self._blobs, self._settings)
        ctx = PublishContext(config=self.config, state_dir=self.config.state_dir, saver=queue.save_progress)
        try:
            queue.storage.wait(0)  # listening from now on: nothing enqueued after this is missed
            while not self.stopping:
                worked = False
                for name in self.targets:
                    if self.stopping:
                        break
                    with self._lock:
                        tried = set(self._tried)
                    entries = queue.claim(name, limit=self.batch, exclude=tried)
                    if not entries:
                        continue
                    worked = True
                    ids = [e.id for e in entries]
                    if self.once:
                        with self._lock:
                            self._tried.update(ids)
                    if self.stopping:  # told to stop between the claim and the target
                        self.report.released += len(queue.release(ids))
                        break
                    with self._lock:
                        self._in_hand[index] = (queue, ids)
                    try:
                        outcomes = publish_claimed(self.config, self.host, queue, name, self.tables[name], ctx, entries)
                    finally:
                        with self._lock:
                            self._in_hand.pop(index, None)
                    self._count(outcomes)
                if worked:
                    continue
                if self.once:
                    return
                due = queue.next_due(self.targets)
                now = queue.storage.now()
                wait = self.idle_seconds if due is None else min(self.idle_seconds, max(0.05, due - now))
                queue.storage.wait(wait)
        except FlywheelError as exc:  # the queue is unreachable: say so, stop this thread
            with self._lock:
                self.report.errors.append(str(exc))
            log.error("worker thread %d stopped: %s", index, exc)
            self._stopping = True
        finally:
            queue.close()

    def _count(self, outcomes: list[PublishOutcome]) -> None:
        with self._lock:
            self.report.batches += 1
            for outcome in outcomes:
                if outcome.status == "published":
                    self.report.published += 1
                elif outcome.status == "dead":
                    self.report.dead += 1
                else:
                    self.report.failed += 1
        for outcome in outcomes:
            self.on_outcome(outcome)
