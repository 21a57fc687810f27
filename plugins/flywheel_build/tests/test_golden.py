"""Golden files for every artifact of the shared build example (its repo is not on this machine).

Regenerate deliberately with FLYWHEEL_UPDATE_GOLDEN=1, then read the diff before committing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

GOLDEN = Path(__file__).resolve().parent / "golden"
FILES = ["readme.md", "build_log.md", "blog_post.md", "social_post.md", "social_post.json"]


@pytest.fixture(scope="module")
def example_artifacts(tmp_path_factory):
    from flywheel_core.testing import plugin_host, run_cli

    import flywheel_build.plugin

    host = plugin_host(build=flywheel_build.plugin)
    folder = tmp_path_factory.mktemp("golden")
    path = folder / "build_session.json"
    path.write_bytes((EXAMPLES / "build_session.json").read_bytes())
    result = run_cli(["run", str(path), "-o", str(folder / "out")], host=host)
    assert result.exit_code == 0, result.output
    doc = json.loads(path.read_text(encoding="utf-8"))
    out = folder / "out" / "build" / doc["session_id"]
    return {name: (out / name).read_bytes() for name in FILES}


@pytest.mark.parametrize("name", FILES)
def test_golden(example_artifacts, name):
    golden = GOLDEN / name
    if os.environ.get("FLYWHEEL_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(example_artifacts[name])
    assert example_artifacts[name].decode("utf-8") == golden.read_text(encoding="utf-8")
