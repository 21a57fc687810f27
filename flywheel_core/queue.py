"""The publication queue (issue 4): placeholder until the SQLite queue lands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flywheel_core.errors import UsageError

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.models import Session
    from flywheel_core.pipeline import SessionResult
    from flywheel_core.plugins import PluginHost


def enqueue_result(result: SessionResult, session: Session, config: Config, host: PluginHost) -> list[dict[str, Any]]:
    """Enqueue every artifact of a finished run for every enabled target."""
    if not config.enabled_targets():
        return []
    raise UsageError("publication targets are configured but the queue is not available yet")
