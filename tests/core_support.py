"""Shared helpers for core tests (importable: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from flywheel_core import Artifact, SessionType, hookimpl

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FLYWHEEL = Path(sys.executable).parent / "flywheel"

class EchoBuild:
    """A tiny build plugin: one Markdown artifact rendered from the session, plus an attachment."""

    def __init__(self, templates: Path) -> None:
        self.templates = templates

    @hookimpl
    def flywheel_session_types(self):
        return [SessionType("build", "test build type", artifacts=("summary",))]

    @hookimpl
    def flywheel_template_dirs(self):
        return [self.templates]

    @hookimpl
    def flywheel_generate(self, session, ctx):
        if session.session_type != "build":
            return None
        text = ctx.render("build/summary.md.j2", session=session, commits=session.source_data.get("git_commits", []))
        return [Artifact("summary", text, title=f"Session {session.session_id}", attachments={"data.json": "{}\n"})]


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
