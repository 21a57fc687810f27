"""What each command imports (issue 18): nothing a command does not use, so start-up stays fast.

A library imported by every process costs every command its import time: these tests run real
`flywheel` processes, every installed plugin loaded, and look at the modules they ended with.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core_support import EXAMPLES

# The `flywheel` script, with the modules it imported written to a file when it exits.
PROBE = """
import atexit, json, sys
out = sys.argv[1]
sys.argv = ["flywheel", *sys.argv[2:]]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
from flywheel_core.cli import main
main()
"""

#: Imported only by what needs them: the web target, the publishing scan, the HTTP targets, the
#: JSON Schema validator (schemas found valid once are remembered), rich (progress bars on a terminal).
NEVER_AT_START = ["jsonschema", "referencing", "rich", "pygments", "markdown_it", "PIL", "matplotlib", "httpx",
                  "detect_secrets", "psycopg", "flywheel_core.scanning.rules", "flywheel_core.publishing.enqueue",
                  "flywheel_core.publishing.publisher", "flywheel_core.tracking"]


#: The modules of core commands: each is imported only by its own commands.
CORE_COMMAND_MODULES = ["flywheel_core.cli.session", "flywheel_core.cli.tracking", "flywheel_core.cli.setup",
                        "flywheel_core.cli.worker", "flywheel_core.cli.author"]

#: Command groups' modules, core's (`queue`, `review`) and the plugins' (`site`, `collect build`):
#: imported only when one of their commands runs or shows its help, never by another command.
GROUP_MODULES = ["flywheel_core.cli.queue", "flywheel_core.cli.review", "flywheel_core.cli.options",
                 "flywheel_publish_web.cli", "flywheel_build.cli"]


@pytest.fixture
def flywheel(tmp_path: Path):
    """Run ``flywheel ARGS`` twice (the second run uses the caches the first wrote); the modules it imported."""
    pytest.importorskip("flywheel_build")  # a bundled plugin: `run` and `collect` need a session type
    env = {k: v for k, v in os.environ.items() if k not in ("FLYWHEEL_LOAD_PLUGINS", "PYTHONDONTWRITEBYTECODE")}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), XDG_CONFIG_HOME=str(tmp_path / "config"), NO_COLOR="1")
    work = tmp_path / "work"
    work.mkdir()

    def run(*args: str) -> set[str]:
        out = tmp_path / "modules.json"
        for _ in range(2):
            done = subprocess.run([sys.executable, "-c", PROBE, str(out), *args], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
        return set(json.loads(out.read_text()))

    run.work = work  # type: ignore[attr-defined]
    run.env = env  # type: ignore[attr-defined]
    return run


def _found(modules: set[str], names: list[str]) -> list[str]:
    return [n for n in names if n in modules]


def test_help_imports_no_pipeline_and_no_library_a_command_needs(flywheel) -> None:
    modules = flywheel("--help")
    assert _found(modules, [*NEVER_AT_START, "jinja2", "attrs", "cattrs", "filelock", "sqlite3", "tomllib",
                            "flywheel_core.pipeline", "flywheel_core.models", "importlib.metadata", "platformdirs",
                            *CORE_COMMAND_MODULES, *GROUP_MODULES]) == []


def test_a_group_imports_its_own_module_only(flywheel) -> None:
    pytest.importorskip("flywheel_publish_web")
    modules = flywheel("queue", "--help")
    assert "flywheel_core.cli.queue" in modules
    assert _found(modules, ["flywheel_core.cli.review", "flywheel_publish_web.cli", "flywheel_build.cli",
                            "flywheel_core.publishing.queue", "sqlite3", *CORE_COMMAND_MODULES]) == []
    modules = flywheel("site", "--help")
    assert "flywheel_publish_web.cli" in modules
    assert _found(modules, ["flywheel_core.cli.queue", "flywheel_core.cli.review", "flywheel_build.cli"]) == []


def test_version_reads_no_distribution_metadata(flywheel) -> None:
    modules = flywheel("--version")
    assert _found(modules, ["importlib.metadata", "email", "flywheel_core.pipeline", "jinja2"]) == []


def test_run_of_a_small_session_without_targets_imports_no_scan_nor_publisher(flywheel) -> None:
    session = flywheel.work / "work_session.json"
    session.write_bytes((EXAMPLES / "minimal_build_session.json").read_bytes())
    modules = flywheel("run", str(session), "--out", str(flywheel.work / "out"))
    assert "jinja2" in modules and "flywheel_core.pipeline" in modules  # it did run
    # No target and no queue: the queue is neither opened nor imported, nor are its rows.
    assert _found(modules, [*NEVER_AT_START, "tomllib", "configparser", "flywheel_core.publishing.queue",
                            "flywheel_core.publishing.screening", "sqlite3", "flywheel_core.publishing.storage"]) == []
    # The user's config folder is found without platformdirs; the lock's holder record names
    # the host without socket; the session's repository is not on this machine, so no commit
    # log is read (gitlog) and no commit-message pattern is compiled.
    assert _found(modules, ["platformdirs", "socket", "flywheel_build.gitlog"]) == []
    assert _found(modules, CORE_COMMAND_MODULES) == ["flywheel_core.cli.session"]
    # Nor the command groups' modules (`flywheel_core.cli.options` is the session commands' too).
    assert _found(modules, [m for m in GROUP_MODULES if m != "flywheel_core.cli.options"]) == []


def test_validate_imports_no_renderer_nor_lock(flywheel) -> None:
    session = flywheel.work / "work_session.json"
    session.write_bytes((EXAMPLES / "minimal_build_session.json").read_bytes())
    modules = flywheel("validate", str(session))
    assert _found(modules, [*NEVER_AT_START, "jinja2", "filelock", "sqlite3", "flywheel_build.facts",
                            "platformdirs", "socket", "flywheel_core.publishing", "tempfile"]) == []


def test_warnings_without_anything_credential_like_import_no_scan(flywheel) -> None:
    # Plugin warnings are masked like error lines, but only text with a long token-like run pays
    # for the scanner: the trade example's four warnings do not.
    session = flywheel.work / "work_session.json"
    session.write_bytes((EXAMPLES / "trade_session.json").read_bytes())
    modules = flywheel("validate", str(session))
    assert "flywheel_trade.checks" in modules  # its warnings were made
    assert _found(modules, ["flywheel_core.scanning", "detect_secrets"]) == []


def test_collect_imports_no_session_model_renderer_nor_queue(flywheel) -> None:
    repo = flywheel.work / "repo"
    repo.mkdir()
    env = {**flywheel.env, "GIT_AUTHOR_NAME": "Ann", "GIT_AUTHOR_EMAIL": "ann@example.com",
           "GIT_COMMITTER_NAME": "Ann", "GIT_COMMITTER_EMAIL": "ann@example.com"}
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=env)
    for n in range(2):
        (repo / "a.txt").write_text(f"line {n}\n")
        subprocess.run(["git", "-C", str(repo), "add", "a.txt"], check=True, env=env)
        subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", f"feat: step {n}"], check=True, env=env)
    modules = flywheel("collect", "build", "--repo", str(repo), "-o", str(flywheel.work / "session.json"))
    assert (flywheel.work / "session.json").exists()
    assert _found(modules, [*NEVER_AT_START, "cattrs", "flywheel_core.models", "flywheel_core.store", "jinja2",
                            "sqlite3", "flywheel_core.publishing.queue"]) == []


# The web target's `flywheel_publish` hook called on its own (as benchmarks/site_build.py does),
# with the modules it imported written to a file.
PUBLISH_ONE = """
import hashlib, json, sys
from pathlib import Path
from flywheel_core import PublishContext, PublishItem, load_config
from flywheel_publish_web.plugin import flywheel_publish
config = load_config(Path(sys.argv[1]))
body = b"# A post\\n\\nSome text.\\n\\n```python\\nprint(1)\\n```\\n"
item = PublishItem(id=1, target="web", session_id=sys.argv[3], session_type="build", kind="blog_post", ext="md",
    sha256=hashlib.sha256(body).hexdigest(), files={"blog_post.md": body},
    meta={"title": "A post", "summary": "One post.", "tags": ["python"], "date": "2031-01-01T00:00:00Z"})
[result] = flywheel_publish(target="web", items=[item], config=config.target_config("web"),
                            ctx=PublishContext(config=config, state_dir=config.state_dir))
assert result.ok, result.error
Path(sys.argv[2]).write_text(json.dumps(sorted(sys.modules)))
"""


def test_web_publish_imports_no_queue_nor_scan(tmp_path: Path) -> None:
    """Publishing to the site stores, builds and swaps: the queue's state machine, the publishing
    scan (run when the entry was enqueued) and the CLI are not needed for it."""
    pytest.importorskip("flywheel_publish_web")
    config = tmp_path / "flywheel.toml"
    config.write_text('[targets.web]\nbase_url = "https://example.org/"\ntitle = "T"\n')
    out = tmp_path / "modules.json"
    for n in range(2):  # the first publish builds the whole site, the second one incrementally
        done = subprocess.run([sys.executable, "-c", PUBLISH_ONE, str(config), str(out), f"s-{n}"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    modules = set(json.loads(out.read_text()))
    assert "jinja2" in modules and "flywheel_core.publishing.shared" in modules  # it did publish
    assert _found(modules, ["flywheel_core.publishing.queue", "flywheel_core.publishing.screening",
                            "flywheel_core.scanning", "detect_secrets", "flywheel_core.cli", "typer",
                            "flywheel_core.plugins", "jsonschema", "httpx"]) == []


FREEZE_PROBE = """
import atexit, gc, sys
out = sys.argv[1]
sys.argv = ["flywheel", *sys.argv[2:]]
atexit.register(lambda: open(out, "w").write(str(gc.get_freeze_count())))
from flywheel_core.cli import main
main()
"""


def test_the_script_leaves_its_objects_out_of_the_last_collection(tmp_path: Path) -> None:
    """The `flywheel` script freezes what is in memory as it ends (Python's collection at exit
    walked all of it: ~30 ms of a `flywheel run`); a caller's main([...]) leaves gc alone."""
    import gc

    out = tmp_path / "frozen"
    done = subprocess.run([sys.executable, "-c", FREEZE_PROBE, str(out), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(out.read_text()) > 10_000
    from flywheel_core.cli import main

    before = gc.get_freeze_count()
    with pytest.raises(SystemExit):
        main(["--help"])
    assert gc.get_freeze_count() == before
