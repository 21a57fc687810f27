"""Plugin author commands: ``flywheel new-plugin``, ``flywheel context``, ``flywheel render`` (issue 8)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Nothing yet."""
