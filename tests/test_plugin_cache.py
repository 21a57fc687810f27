"""The entry-point cache: the installed metadata is read again exactly when what is installed changes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flywheel_core.cachedir import user_cache_folder

PLUGIN = """
from flywheel_core import SessionType, hookimpl

@hookimpl
def flywheel_session_types():
    return [SessionType("{name}", "test", schema={{"properties": {{"source_data": {{"type": "object"}}}}}})]
"""

PROBE = """
import json, sys
from flywheel_core.plugins import PluginHost
host = PluginHost()
host.load_entry_points()
types = sorted(host.session_types)
print(json.dumps({"plugins": sorted(host.infos), "types": types,
                  "metadata_read": "importlib.metadata" in sys.modules,
                  "jsonschema": "jsonschema" in sys.modules}))
"""


def probe(env: dict[str, str], cache: Path) -> dict:
    env = {**env, "XDG_CACHE_HOME": str(cache), "FLYWHEEL_LOAD_PLUGINS": "alpha,beta"}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_second_run_reads_no_metadata_and_checks_no_schema_again(fake_dist, tmp_path: Path) -> None:
    env = fake_dist("alpha", PLUGIN.format(name="alpha"))
    cache = tmp_path / "cache"
    first = probe(env, cache)
    assert first == {"plugins": ["alpha"], "types": ["alpha"], "metadata_read": True, "jsonschema": True}
    second = probe(env, cache)
    assert second == {"plugins": ["alpha"], "types": ["alpha"], "metadata_read": False, "jsonschema": False}


def test_installing_upgrading_and_removing_a_plugin_is_seen_at_once(fake_dist, tmp_path: Path) -> None:
    env = fake_dist("alpha", PLUGIN.format(name="alpha"))
    cache = tmp_path / "cache"
    assert probe(env, cache)["plugins"] == ["alpha"]
    fake_dist("beta", PLUGIN.format(name="beta"))  # installed beside alpha, same folder
    assert probe(env, cache)["plugins"] == ["alpha", "beta"]
    site = tmp_path / "site"
    # An upgrade: pip replaces the dist-info folder with one of the new version.
    (site / "beta-0.1.dist-info").rename(site / "beta-0.2.dist-info")
    (site / "beta-0.2.dist-info" / "entry_points.txt").write_text("[flywheel]\nbeta = beta\n")
    (site / "beta.py").write_text(PLUGIN.format(name="beta2"))
    assert probe(env, cache)["types"] == ["alpha", "beta2"]
    shutil.rmtree(site / "beta-0.2.dist-info")
    assert probe(env, cache)["plugins"] == ["alpha"]


def test_an_entry_point_edited_in_place_is_seen(fake_dist, tmp_path: Path) -> None:
    env = fake_dist("alpha", PLUGIN.format(name="alpha"))
    cache = tmp_path / "cache"
    assert probe(env, cache)["plugins"] == ["alpha"]
    (tmp_path / "site" / "gamma.py").write_text(PLUGIN.format(name="gamma"))
    (tmp_path / "site" / "alpha-0.1.dist-info" / "entry_points.txt").write_text("[flywheel]\nalpha = gamma\n")
    assert probe(env, cache)["types"] == ["gamma"]


def test_a_damaged_or_unwritable_cache_is_ignored(fake_dist, tmp_path: Path) -> None:
    env = fake_dist("alpha", PLUGIN.format(name="alpha"))
    cache = tmp_path / "cache"
    probe(env, cache)
    [cached] = (cache / "flywheel" / "plugins").iterdir()
    for damage in (b"", b"{not json", b'{"version": 1, "key": 3}', b"[]", json.dumps(
            {**json.loads(cached.read_text()), "entry_points": [["alpha"]]}).encode(), b"\xff\xfe"):
        cached.write_bytes(damage)
        assert probe(env, cache) == {"plugins": ["alpha"], "types": ["alpha"], "metadata_read": True, "jsonschema": True}
        assert ["alpha", "alpha", "alpha", "0.1"] in json.loads(cached.read_text())["entry_points"]
    blocked = tmp_path / "a-file"
    blocked.write_text("the cache folder cannot be made under a file")
    assert probe(env, blocked)["plugins"] == ["alpha"]
    assert probe(env, blocked)["metadata_read"] is True


@pytest.mark.parametrize("value", [None, "", "relative/cache", "/abs/cache", "~/tilde"])
def test_the_cache_folder_is_the_one_platformdirs_names(value, monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    if value is None:
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", value)
    assert user_cache_folder() == Path(platformdirs.user_cache_dir("flywheel"))
