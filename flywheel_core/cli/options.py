"""Option aliases shared by every command, so each is spelled and documented once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["ConfigOpt", "JsonOpt", "DryRunOpt", "OutOpt"]

ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="Config file (default: ./flywheel.toml, else [tool.flywheel] in ./pyproject.toml).", dir_okay=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show what would happen; write nothing.")]
OutOpt = Annotated[
    Optional[Path],
    typer.Option("--out", "-o", help="Output folder (default: out_dir from config, else ./flywheel-out).", file_okay=False),
]
