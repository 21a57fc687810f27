"""Nothing secret goes public: the secret corpus planted in every field of real sessions, run and published for real.

Every secret shape of ``tests/data/secrets/secrets.json`` is planted in the free-text fields a
build, a trade and a life_aria session are made from (and in a screenshot's PNG metadata);
the real plugins make the artifacts; the github target pushes to a bare repository on disk
and the web target builds a site with its feeds. Under ``scan = "hold"`` and ``scan =
"redact"``, no secret may reach the bare remote, the site folder, or the queue's blobs of a
published entry; each artifact carrying one is held (hold) or published redacted (redact).
"""

from __future__ import annotations

import html
import io
import itertools
import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core_support import EXAMPLES, FLYWHEEL
from scan_fakes import expand, load

pytest.importorskip("flywheel_build")
pytest.importorskip("flywheel_trade")
pytest.importorskip("flywheel_aria")
pytest.importorskip("flywheel_publish_github")
pytest.importorskip("flywheel_publish_web")

CASES = [(case["id"], *expand(case)) for case in load("secrets.json")]
PLUGINS = "build,trade,aria,github,web"


def needles(secrets: list[str]) -> list[str]:
    """What must not be published of a secret: each line of it long enough to be one (a PEM
    block's body lines), and the middle of a long one (a part of a token is a leak too)."""
    out = []
    for secret in secrets:
        for line in secret.splitlines():
            line = line.strip()
            if len(line) >= 12 and not line.startswith("-----") and ":" not in line[:20]:
                out.append(line)
                if len(line) >= 28:
                    out.append(line[len(line) // 2 - 6: len(line) // 2 + 6])
            elif len(line) >= 8 and "PuTTY" not in line:
                out.append(line)
    return out


class Planter:
    """Hands out the corpus texts, round-robin, to every field a session gets."""

    def __init__(self) -> None:
        self.cycle = itertools.cycle(CASES)
        self.planted: dict[str, list[str]] = {}  # case id -> field paths

    def __call__(self, where: str, prefix: str = "") -> str:
        case_id, text, _ = next(self.cycle)
        self.planted.setdefault(case_id, []).append(where)
        return f"{prefix}{text}" if prefix else text

    def done(self) -> bool:
        return len(self.planted) == len(CASES)


def build_session(plant: Planter) -> dict[str, Any]:
    doc = json.loads((EXAMPLES / "build_session.json").read_text())
    src = doc["source_data"]
    src.pop("repo_path", None)
    commits = []
    for i in itertools.count():
        if plant.done() and i >= 4:
            break
        where = f"$.source_data.git_commits[{i}]"
        commits.append({
            "hash": f"{i + 1:07x}" + "a" * 33,
            "message": plant(f"{where}.message", "fix: "),
            "body": plant(f"{where}.body", "Why: "),
            "author": "Agent-7",
            "timestamp": f"2025-12-02T05:{i % 60:02d}:00Z",
            "files": [f"src/mod{i}.py"],
            "trailers": {"Reviewed-by": [plant(f"{where}.trailers")]},
            "insertions": 3, "deletions": 1,
        })
    src["git_commits"] = commits
    src.update(
        title=plant("$.source_data.title", "Shipped "), summary=plant("$.source_data.summary"),
        highlights=[plant("$.source_data.highlights[0]")], lessons=[plant("$.source_data.lessons[0]")],
        next_steps=[plant("$.source_data.next_steps[0]")], audience=plant("$.source_data.audience"),
        project={"name": "flywheel", "description": plant("$.source_data.project.description")},
    )
    doc["metadata"] = {"commits": len(commits)}
    return doc


def trade_session(plant: Planter) -> dict[str, Any]:
    doc = json.loads((EXAMPLES / "trade_session.json").read_text())
    base = doc["source_data"]["trades"]
    trades = []
    for i in itertools.count():
        if plant.done() and i >= 4:
            break
        trade = dict(base[i % len(base)])
        hour = 1 + i // 30
        trade["timestamp"] = f"2025-12-02T{hour:02d}:{(i * 2) % 60:02d}:00Z"
        trade["exit_timestamp"] = f"2025-12-02T{hour:02d}:{(i * 2) % 60 + 1:02d}:00Z"
        trade["notes"] = plant(f"$.source_data.trades[{i}].notes", "Entry: ")
        trade["tags"] = [plant(f"$.source_data.trades[{i}].tags[0]")]
        trades.append(trade)
    doc["source_data"]["trades"] = trades
    doc["metadata"] = {"account": plant("$.metadata.account")}
    return doc


def aria_session(plant: Planter, folder: Path) -> dict[str, Any]:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    doc = json.loads((EXAMPLES / "life_aria_session.json").read_text())
    shots = []
    for n in range(2):
        info = PngInfo()
        info.add_text("Comment", plant(f"screenshots/shot{n}.png#tEXt:Comment"))
        buffer = io.BytesIO()
        Image.new("RGB", (64, 48), (20 * n, 90, 160)).save(buffer, "PNG", pnginfo=info)
        (folder / "screenshots").mkdir(exist_ok=True)
        (folder / "screenshots" / f"shot{n}.png").write_bytes(buffer.getvalue())
        shots.append({"path": f"screenshots/shot{n}.png", "caption": plant(f"$.source_data.screenshots[{n}].caption"),
                      "alt": plant(f"$.source_data.screenshots[{n}].alt")})
    conversations = []
    for i in itertools.count():
        if plant.done() and i >= 2:
            break
        where = f"$.source_data.conversations[{i}]"
        conversations.append({
            "source": "aria", "timestamp": f"2025-12-02T03:{i % 60:02d}:00Z",
            "title": plant(f"{where}.title"), "content": plant(f"{where}.content", "Built it. "),
            "artifacts": [{"type": "game", "name": plant(f"{where}.artifacts[0].name"),
                           "technologies": ["React", plant(f"{where}.artifacts[0].technologies[1]")]}],
        })
    doc["source_data"] = {"conversations": conversations, "screenshots": shots}
    for key in ("title", "summary", "overview", "problem", "solution"):
        doc[key] = plant(f"$.{key}")
    for key in ("lessons", "next_steps", "key_achievements", "tags"):
        doc[key] = [plant(f"$.{key}[0]")]
    return doc


def _flywheel(root: Path, *args: Any, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FLYWHEEL_LOAD_PLUGINS=PLUGINS)
    for name in ("GITHUB_TOKEN", "FLYWHEEL_GITHUB_TOKEN", "GH_TOKEN"):
        env.pop(name, None)
    proc = subprocess.run([str(FLYWHEEL), *map(str, args)], cwd=root, env=env, capture_output=True, text=True,
                          timeout=900)
    if check:
        assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return proc


def _readable(data: bytes) -> str:
    """Published bytes as every reader sees them: escapes of HTML, XML, JSON and Markdown undone."""
    text = data.decode("utf-8", "replace")
    text = html.unescape(html.unescape(text))
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return text + "\n" + re.sub(r"\\(.)", r"\1", text)


def _git_objects(bare: Path) -> list[tuple[str, bytes]]:
    out = subprocess.run(["git", "--git-dir", str(bare), "cat-file", "--batch-all-objects", "--batch"],
                         capture_output=True, check=True).stdout
    return [(f"{bare.name}:object", out)]


def _leaks(sources: list[tuple[str, bytes]], planted: dict[str, list[str]]) -> list[str]:
    found = []
    texts = [(name, _readable(data).lower()) for name, data in sources]
    for case_id, text, secrets in CASES:
        for needle in needles(secrets):
            for name, readable in texts:
                if needle.lower() in readable:
                    found.append(f"{case_id} ({', '.join(planted.get(case_id, [])[:2])}) -> {name}")
    return found


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> tuple[Path, dict[str, list[str]]]:
    folder = tmp_path_factory.mktemp("leak-sessions")
    planted: dict[str, list[str]] = {}
    for name, make in (("build.json", build_session), ("trade.json", trade_session),
                       ("aria.json", lambda plant: aria_session(plant, folder))):
        plant = Planter()  # every shape in every session type
        doc = make(plant)
        doc["session_id"] = f"planted-{doc['session_type']}"
        (folder / name).write_text(json.dumps(doc, indent=1))
        assert plant.done()
        for case_id, paths in plant.planted.items():
            planted.setdefault(case_id, []).extend(f"{name}:{p}" for p in paths)
    return folder, planted


def _project(tmp_path: Path, sessions: Path, policy: str) -> Path:
    import shutil

    for item in sessions.iterdir():
        (shutil.copytree if item.is_dir() else shutil.copy)(item, tmp_path / item.name)
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    (tmp_path / "flywheel.toml").write_text(
        'out_dir = "out"\nstate_dir = "state"\n'
        f'[targets.github]\nremote = "remote.git"\nscan = "{policy}"\n'
        f'[targets.web]\nsite_dir = "site"\nbase_url = "https://example.org/"\nscan = "{policy}"\n')
    return tmp_path


def _entries(root: Path) -> list[dict[str, Any]]:
    return json.loads(_flywheel(root, "queue", "list", "--json").stdout)


def _published_blobs(root: Path, entries: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    db = sqlite3.connect(root / "state" / "queue.sqlite3")
    out = []
    for entry in entries:
        if entry["status"] == "published":
            files = json.loads(db.execute("SELECT files FROM items WHERE id = ?", (entry["id"],)).fetchone()[0])
            out += [(f"blob of entry {entry['id']} {name}", (root / "state" / "blobs" / digest).read_bytes())
                    for name, digest in files.items()]
    db.close()
    return out


def _carriers(root: Path, planted: dict[str, list[str]]) -> dict[str, set[str]]:
    """(session type, kind) of every generated artifact holding a planted secret, by case id."""
    out: dict[str, set[str]] = {}
    for path in (root / "out").rglob("*"):
        if not path.is_file():
            continue
        text = _readable(path.read_bytes()).lower()
        for case_id, _, secrets in CASES:
            if any(n.lower() in text for n in needles(secrets)):
                out.setdefault(case_id, set()).add(path.relative_to(root / "out").as_posix())
    return out


def _published_everything(root: Path) -> list[tuple[str, bytes]]:
    site = [(str(p.relative_to(root)), p.read_bytes()) for p in (root / "site").rglob("*") if p.is_file()]
    return site + _git_objects(root / "remote.git")


@pytest.mark.parametrize("policy", ["hold", "redact"])
def test_no_planted_secret_is_published(policy: str, sessions, tmp_path: Path) -> None:
    folder, planted = sessions
    root = _project(tmp_path, folder, policy)
    for example in ("build_session.json", "trade_session.json", "life_aria_session.json"):
        (root / example).write_bytes((EXAMPLES / example).read_bytes())
    run = _flywheel(root, "run", "build.json", "trade.json", "aria.json", "build_session.json", "trade_session.json",
                    "life_aria_session.json")
    assert run.stdout.count("complete") == 6, run.stdout + run.stderr[-3000:]
    publish = _flywheel(root, "publish")
    entries = _entries(root)
    carriers = _carriers(root, planted)
    held = [e for e in entries if e["status"] == "held"]
    published = [e for e in entries if e["status"] == "published"]
    print(f"\nscan = {policy}: {len(CASES)} secret shapes planted in "
          f"{sum(map(len, planted.values()))} fields of 3 sessions; {len(carriers)} reached generated artifacts; "
          f"entries: {len(held)} held, {len(published)} published, "
          f"{sum(len((e['scan'] or {}).get('findings') or []) for e in published)} findings redacted in published ones")
    assert not [e for e in entries if e["status"] in ("failed", "dead")], publish.stderr[-3000:]
    assert len(carriers) >= 40, "the corpus reaches the artifacts (else this test proves nothing)"
    leaks = _leaks(_published_everything(root) + _published_blobs(root, entries), planted)
    assert leaks == [], "\n".join(leaks[:20])
    clean = [e for e in entries if not e["session_id"].startswith("planted-")]
    assert clean and all(e["status"] == "published" for e in clean), "normal sessions are not held"
    if policy == "hold":
        kinds_with_secrets = {(p.split("/")[0], Path(p).name.split(".")[0]) for paths in carriers.values()
                              for p in paths}
        held_kinds = {(e["session_type"], e["kind"]) for e in held}
        assert kinds_with_secrets - {("life_aria", "gallery")} <= held_kinds | {(t, k) for t, k in kinds_with_secrets
                                                                                if k.startswith("thumb")}
    else:
        assert all((e["scan"] or {}).get("held") == "unredactable" for e in held), held
        assert any((e["scan"] or {}).get("findings") for e in published), "findings were redacted and published"


#: This repository's history as of the commit the publishing scan was built on (fixed, so later
#: commits cannot change the outcome of this test; benchmarks/scan.py measures the whole history).
HISTORY_TIP = "8a6172b"


def test_this_repositorys_history_is_not_held(tmp_path: Path) -> None:
    root = EXAMPLES.parent
    known = subprocess.run(["git", "-C", str(root), "cat-file", "-e", f"{HISTORY_TIP}^{{commit}}"], capture_output=True)
    if known.returncode != 0:
        pytest.skip(f"commit {HISTORY_TIP} is not in this clone (shallow?)")
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "remote.git")], check=True)
    allow = root / ".flywheel-allow.json"
    (tmp_path / "flywheel.toml").write_text(
        'out_dir = "out"\nstate_dir = "state"\n'
        '[targets.github]\nremote = "remote.git"\n[targets.web]\nsite_dir = "site"\nbase_url = "https://example.org/"\n')
    _flywheel(tmp_path, "collect", "build", "--repo", root, "--rev-range", HISTORY_TIP, "-o", "history.json")
    _flywheel(tmp_path, "run", "history.json")
    found = {(f["rule"], f["fingerprint"]) for e in _entries(tmp_path) for f in (e["scan"] or {}).get("findings") or []}
    commits = len(json.loads((tmp_path / "history.json").read_text())["source_data"]["git_commits"])
    allowed = {(e["rule"], e["fingerprint"]) for e in json.loads(allow.read_text())["allow"]}
    print(f"\nthis repository up to {HISTORY_TIP}: {commits} commits, {len(found)} distinct finding(s) under the "
          f"defaults, all in its allow-list ({allow.name}: {len(allowed)} entry)")
    assert found <= allowed, "a finding in this repository's own history that nobody reviewed"
    with (tmp_path / "flywheel.toml").open("a") as config:
        config.write(f'[scan]\nallowlist = "{allow}"\n')
    subprocess.run(["rm", "-rf", str(tmp_path / "state")], check=True)
    _flywheel(tmp_path, "run", "history.json")
    assert [e["status"] for e in _entries(tmp_path) if e["status"] == "held"] == []
