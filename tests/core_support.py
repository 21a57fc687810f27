"""Shared helpers for core tests (importable: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import json
import sys
import textwrap
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


#: A publication target that shelves each item's files in a folder and logs every publication;
#: ``pause_when``: while that file exists, it holds the batch (after writing ``<dir>/paused``).
SHELF = textwrap.dedent('''
    """Test target ``shelf``: files under ``dir``, one log line per publication."""
    import json
    import os
    import time
    from pathlib import Path

    from flywheel_core import PublishResult, Target, hookimpl

    SCHEMA = {
        "type": "object",
        "required": ["dir"],
        "properties": {"dir": {"type": "string"}, "fail_when": {"type": "string"}, "raise_when": {"type": "string"},
                       "pause_when": {"type": "string"}},
        "additionalProperties": False,
    }

    @hookimpl
    def flywheel_targets():
        return [Target("shelf", "files on a shelf", SCHEMA)]

    @hookimpl
    def flywheel_publish(target, items, config, ctx):
        if target != "shelf":
            return None
        base = ctx.config.base_dir
        if config.get("raise_when") and (base / config["raise_when"]).exists():
            raise RuntimeError((base / config["raise_when"]).read_text())
        shelf = base / config["dir"]
        if config.get("pause_when") and (base / config["pause_when"]).exists():
            shelf.mkdir(parents=True, exist_ok=True)
            (shelf / "paused").write_text("")  # a batch in hand: tests stop the worker now
            while (base / config["pause_when"]).exists():
                time.sleep(0.05)
        results = []
        for item in items:
            receipt = {"path": f"{item.session_id}/{item.filename}"}
            if ctx.dry_run:
                results.append(PublishResult(item.id, True, receipt=receipt))
                continue
            if config.get("fail_when") and (base / config["fail_when"]).exists():
                results.append(PublishResult(item.id, False, error=(base / config["fail_when"]).read_text()))
                continue
            for name, data in item.files.items():
                path = shelf / item.session_id / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            with open(shelf / "log.jsonl", "a") as fh:
                fh.write(json.dumps({"id": item.id, "sha": item.sha256, "kind": item.kind, "meta": item.meta}) + "\\n")
            results.append(PublishResult(item.id, True, receipt=receipt))
        return results
''')
