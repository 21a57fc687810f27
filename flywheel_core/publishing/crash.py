"""Crash points: named steps of ``run`` and ``publish`` where a crash test makes flywheel die like ``kill -9``."""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_ENV", "CRASH_POINTS", "crash_point"]

#: Only crash tests set it: flywheel SIGKILLs itself at the named step (see CRASH_POINTS).
CRASH_ENV = "FLYWHEEL_TEST_CRASH_AT"
#: Named steps of ``run`` and ``publish`` a crash test can stop flywheel at, in the order they
#: happen. The github target adds its own (``after_commit``, ``after_push``).
CRASH_POINTS = (
    "after_write",  # run: artifacts written, nothing enqueued or recorded
    "after_enqueue",  # run: enqueued, the session file not updated yet
    "after_claim",  # publish: leased, the target not called yet
    "before_queue_update",  # publish: the target answered, the queue not told yet
    "after_queue_update",  # publish: the queue told, the session files not yet
    "after_mirror_write",  # publish: a session file written, the queue not told that it was
)


def crash_point(step: str) -> None:
    """Test-only: die like ``kill -9`` at ``step`` when FLYWHEEL_TEST_CRASH_AT names it."""
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)
