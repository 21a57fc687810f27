"""Soak tests (`make soak`, not part of `make test`): many processes on many files for minutes."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from core_support import EXAMPLES, FLYWHEEL
from test_run import PLUGIN

pytestmark = pytest.mark.soak


def test_hundreds_of_concurrent_runs_on_shared_files(tmp_path: Path, fake_dist) -> None:
    env = fake_dist("flywheel-fakebuild", PLUGIN)
    files = []
    for i in range(10):
        doc = json.loads((EXAMPLES / "build_session.json").read_text())
        doc["session_id"] = f"soak-{i}"
        doc[f"unknown_{i}"] = {"kept": list(range(i))}
        path = tmp_path / f"s{i}.json"
        path.write_text(json.dumps(doc))
        files.append(path)
    rng = random.Random(7)
    for _round in range(6):
        procs = [
            subprocess.Popen([FLYWHEEL, "run", *rng.sample(files, 3), "--out", tmp_path / "out"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for _ in range(40)
        ]
        for proc in procs:
            assert proc.wait(timeout=600) == 0, proc.stderr.read()
    for i, path in enumerate(files):
        data = json.loads(path.read_text())
        assert data[f"unknown_{i}"] == {"kept": list(range(i))}
        if data.get("artifacts"):
            assert set(data["artifacts"]) == {"one", "two", "three"}
            assert data["pipeline_status"]["build_artifact"] == "complete"
