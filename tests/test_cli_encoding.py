"""Non-ASCII session content on a terminal that cannot encode it (PYTHONIOENCODING=ascii)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from core_support import EXAMPLES, FLYWHEEL

TITLE = "Café build — 日本 ✓ 😀"
MESSAGE = "Grüße 😀 naïve"


def _flywheel(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONIOENCODING="ascii", FLYWHEEL_LOAD_PLUGINS="build,web")
    env.pop("FLYWHEEL_CONFIG", None)
    done = subprocess.run([str(FLYWHEEL), *args], cwd=cwd, env=env, capture_output=True, check=False)
    assert done.returncode == 0, (args, done.stderr.decode("ascii", "replace"))
    assert b"internal error" not in done.stderr
    done.stdout.decode("ascii")  # nothing the terminal's encoding lacks reached it
    return done


def test_ascii_terminal_gets_escapes_and_valid_json_not_an_internal_error(tmp_path: Path) -> None:
    pytest.importorskip("flywheel_build")
    pytest.importorskip("flywheel_publish_web")
    session = json.loads((EXAMPLES / "minimal_build_session.json").read_text(encoding="utf-8"))
    session.update(session_id="cafe-1", title=TITLE)
    session["metadata"]["commits"] = 1
    session["source_data"]["git_commits"] = [
        {"hash": "a" * 40, "message": MESSAGE, "author": "Zoë", "timestamp": "2025-12-02T05:00:00Z"}]
    name = "séance.json"
    (tmp_path / name).write_text(json.dumps(session, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "flywheel.toml").write_text(
        'out_dir = "out"\nstate_dir = "state"\n[targets.web]\nsite_dir = "sité 日本"\nbase_url = "https://example.org/"\n',
        encoding="utf-8")

    validated = json.loads(_flywheel(tmp_path, "validate", name, "--json").stdout)
    assert validated[0]["file"] == name
    assert _flywheel(tmp_path, "validate", name).stdout.decode().startswith("s\\u00e9ance.json: valid (build)")

    planned = json.loads(_flywheel(tmp_path, "run", "--dry-run", "--json", name).stdout)
    assert planned[0]["status"] == "dry-run" and planned[0]["file"] == name
    assert "s\\u00e9ance.json: complete" in _flywheel(tmp_path, "run", name).stdout.decode()
    assert (tmp_path / "out" / "build" / "cafe-1" / "build_log.md").read_text(encoding="utf-8").count(MESSAGE)

    _flywheel(tmp_path, "publish")
    listed = json.loads(_flywheel(tmp_path, "queue", "list", "--json").stdout)
    assert {e["status"] for e in listed} == {"published"}
    # The same strings as on a UTF-8 terminal, once decoded: what ensure_ascii=True would print.
    assert all("/sité 日本/" in e["receipt"]["path"] for e in listed), listed
    assert "published" in _flywheel(tmp_path, "queue", "list").stdout.decode()
