"""Cache folders whose files are loaded as code (compiled templates) are the user's alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from flywheel_core.cachedir import private_cache_folder


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(base))
    return base / "flywheel"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_made_private(cache: Path) -> None:
    folder = private_cache_folder("templates")
    assert folder == cache / "templates" and _mode(folder) == 0o700


def test_an_open_folder_of_ours_is_closed(cache: Path) -> None:
    (cache / "templates").mkdir(parents=True)
    (cache / "templates").chmod(0o777)
    assert private_cache_folder("templates") == cache / "templates" and _mode(cache / "templates") == 0o700


def test_a_folder_others_can_swap_is_not_used(cache: Path) -> None:
    cache.mkdir(parents=True)
    cache.chmod(0o777)  # e.g. XDG_CACHE_HOME pointing at a shared folder someone made writable
    assert private_cache_folder("templates") is None


def test_a_link_is_not_followed(cache: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    cache.mkdir(parents=True)
    (cache / "templates").symlink_to(elsewhere)
    assert private_cache_folder("templates") is None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a folder away needs root")
def test_someone_elses_folder_is_not_used(cache: Path) -> None:
    (cache / "templates").mkdir(parents=True, mode=0o700)
    os.chown(cache / "templates", 12345, 12345)
    assert private_cache_folder("templates") is None


def test_the_renderer_compiles_afresh_without_a_private_folder(cache: Path) -> None:
    pytest.importorskip("jinja2")
    from flywheel_core.render import Renderer

    cache.mkdir(parents=True)
    cache.chmod(0o777)
    assert Renderer([]).env.bytecode_cache is None
    cache.chmod(0o755)
    assert Renderer([]).env.bytecode_cache is not None
