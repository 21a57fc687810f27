"""``flywheel publish`` and ``flywheel queue ...`` (issue 4)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Nothing yet."""
