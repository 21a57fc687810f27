"""Compiled templates are kept between runs, and never served for a template that changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flywheel_core.render import Renderer


def cached(cache_home: Path) -> list[Path]:
    folder = cache_home / "flywheel" / "templates"
    return sorted(folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "note.md.j2").write_text("# {{ title }}\n", encoding="utf-8")
    return folder


def test_a_second_renderer_loads_the_compiled_template(templates: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert Renderer([templates]).render("note.md.j2", title="One") == "# One\n"
    [entry] = cached(tmp_path / "cache")
    stamp = entry.stat().st_mtime_ns
    assert Renderer([templates]).render("note.md.j2", title="Two") == "# Two\n"  # as a new process would
    assert cached(tmp_path / "cache") == [entry] and entry.stat().st_mtime_ns == stamp  # loaded, not rewritten


def test_a_changed_template_is_compiled_afresh(templates: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert Renderer([templates]).render("note.md.j2", title="x") == "# x\n"
    (templates / "note.md.j2").write_text("## {{ title }}!\n", encoding="utf-8")
    assert Renderer([templates]).render("note.md.j2", title="x") == "## x!\n"


def test_a_damaged_or_unwritable_cache_is_ignored(templates: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    Renderer([templates]).render("note.md.j2", title="x")
    for damage in (b"", b"garbage", os.urandom(300)):
        for entry in cached(tmp_path / "cache"):
            entry.write_bytes(damage)
        assert Renderer([templates]).render("note.md.j2", title="y") == "# y\n"
    blocked = tmp_path / "a-file"
    blocked.write_text("no folder can be made under a file")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert Renderer([templates]).render("note.md.j2", title="z") == "# z\n"
