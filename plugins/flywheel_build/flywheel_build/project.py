"""The project's name and description, from its own metadata as committed, else its remote."""

from __future__ import annotations

import json
from typing import Any, Callable

import attrs

from flywheel_build.git import Repo, git_deadline, start_git
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
    import tomllib  # here, like configparser below: most commands never read project metadata

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
        import configparser

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
    whatever is uncommitted. One ``git cat-file --batch`` runs beside whatever git does
    meanwhile; the returned function reads its answers, stopping at a file over 1 MB."""
    proc = start_git(repo.cwd, "cat-file", "--batch", stdin=True)
    try:  # a few short lines: they fit in the pipe, so writing them all first cannot block
        proc.stdin.write("".join(f"{rev}:{name}\n" for name in METADATA_FILES).encode("utf-8"))  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
    except OSError:
        pass

    def result() -> Project | None:
        texts: dict[str, str] = {}
        out = proc.stdout
        try:
            with git_deadline(proc):
                for name in METADATA_FILES:
                    header = out.readline().split()  # type: ignore[union-attr]
                    if len(header) != 3 or header[1] != b"blob" or not header[2].isdigit():
                        continue  # "<rev>:<name> missing"
                    size = int(header[2])
                    if size > _MAX_FILE:  # no project metadata is that big: stop reading
                        break
                    content = out.read(size + 1)[:size]  # type: ignore[union-attr]
                    try:
                        texts[name] = content.decode("utf-8")
                    except UnicodeDecodeError:
                        continue
        finally:
            proc.kill()  # done, or stopped early: either way nothing more is wanted
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
            proc.wait()
        return project_from_files(texts.get)

    return result
