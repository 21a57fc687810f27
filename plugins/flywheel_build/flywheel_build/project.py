"""The project's name and description, from its own metadata as committed, else its remote."""

from __future__ import annotations

import configparser
import json
import tomllib
from typing import Any, Callable

import attrs

from flywheel_build.git import GitError, Repo, finish_git, start_git
from flywheel_build.remote import is_network_remote, repo_name_of

__all__ = ["Project", "METADATA_FILES", "project_from_files", "project_later", "project_from_remote"]

#: Read in this order; the first with a name wins.
METADATA_FILES = ("pyproject.toml", "package.json", "Cargo.toml", "setup.cfg")
_MAX_FILE = 1024 * 1024


@attrs.frozen
class Project:
    """The project's name and description, and where they were found."""

    name: str
    description: str | None = None
    source: str | None = None  # "pyproject.toml", "package.json", "Cargo.toml", "setup.cfg", "remote"

    def as_json(self) -> dict[str, str]:
        return {k: v for k, v in attrs.asdict(self).items() if v}


def _str(value: Any) -> str | None:
    return " ".join(value.split()) if isinstance(value, str) and value.strip() else None


def _toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def project_from_files(read: Callable[[str], str | None]) -> Project | None:
    """Name and description from ``pyproject.toml`` ([project] or [tool.poetry]), ``package.json``,
    ``Cargo.toml`` ([package]) or ``setup.cfg`` ([metadata]); ``read(name)`` gives a file's text."""
    text = read("pyproject.toml")
    if text:
        data = _toml(text)
        tool = data.get("tool")
        for table in (data.get("project"), tool.get("poetry") if isinstance(tool, dict) else None):
            if isinstance(table, dict) and _str(table.get("name")):
                return Project(_str(table.get("name")), _str(table.get("description")), "pyproject.toml")
    text = read("package.json")
    if text:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and _str(data.get("name")):
            return Project(_str(data.get("name")), _str(data.get("description")), "package.json")
    text = read("Cargo.toml")
    if text:
        table = _toml(text).get("package")
        if isinstance(table, dict) and _str(table.get("name")):
            return Project(_str(table.get("name")), _str(table.get("description")), "Cargo.toml")
    text = read("setup.cfg")
    if text:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
            name = _str(parser.get("metadata", "name", fallback=None))
            if name:
                return Project(name, _str(parser.get("metadata", "description", fallback=None)), "setup.cfg")
        except configparser.Error:
            pass
    return None


def project_from_remote(url: str | None) -> Project | None:
    """``Project("requests", source="remote")`` for an origin such as ``git@github.com:psf/requests.git``.
    A path on this machine is a folder name, not the project's: none."""
    name = repo_name_of(url) if is_network_remote(url) else None
    return Project(name, None, "remote") if name else None


def project_later(repo: Repo, rev: str) -> Callable[[], Project | None]:
    """Start reading the metadata files committed at ``rev`` (a verified id or ``HEAD``): the
    same answer from a clone, a worktree or a bare mirror, whatever the folder is called and
    whatever is uncommitted. The returned function waits and parses (two small git processes;
    the first runs beside whatever git does meanwhile)."""
    listing = start_git(repo.cwd, "ls-tree", "-l", "-z", "--full-tree", "--end-of-options", rev, "--", *METADATA_FILES)

    def result() -> Project | None:
        try:
            out = finish_git(listing)
        except GitError:
            return None
        blobs: dict[str, str] = {}
        for entry in out.decode("utf-8", "replace").split("\0"):
            info, _, path = entry.partition("\t")
            parts = info.split()
            # A symlink's blob is its target's name; a huge file is no project metadata.
            if len(parts) == 4 and parts[0] in ("100644", "100755") and parts[3].isdigit() and int(parts[3]) <= _MAX_FILE:
                blobs[path] = parts[2]
        if not blobs:
            return None
        try:
            data = repo.git("cat-file", "--batch", input="".join(f"{sha}\n" for sha in blobs.values()).encode("ascii"))
        except GitError:
            return None
        texts: dict[str, str] = {}
        pos = 0
        for path in blobs:  # one "<sha> blob <size>" line and the content each, in order
            end = data.find(b"\n", pos)
            header = data[pos:end].split()
            if end < 0 or len(header) != 3 or not header[2].isdigit():
                break
            size = int(header[2])
            content = data[end + 1 : end + 1 + size]
            pos = end + 1 + size + 1
            try:
                texts[path] = content.decode("utf-8")
            except UnicodeDecodeError:
                continue
        return project_from_files(texts.get)

    return result
