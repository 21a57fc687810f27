"""The project's name and description, from its own metadata as committed, else its remote."""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable

import attrs

from flywheel_build.git import Repo, git_deadline, start_git
from flywheel_build.remote import is_network_remote, repo_name_of

__all__ = ["Project", "METADATA_FILES", "MAX_NAME", "project_from_files", "project_from_path", "project_from_readme",
           "project_later", "project_from_remote", "usable_name"]

#: Read in this order; the first with a name wins.
METADATA_FILES = ("pyproject.toml", "package.json", "Cargo.toml", "setup.cfg")
_MAX_FILE = 1024 * 1024
#: A project's name is a few words at most: a longer "name" is refused, not cut (a cut name
#: would be a name nobody gave it).
MAX_NAME = 64


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


def usable_name(name: str | None) -> str | None:
    """``name`` on one line, or None when it is empty or longer than :data:`MAX_NAME`."""
    name = " ".join(name.split()) if isinstance(name, str) else ""
    return name if 0 < len(name) <= MAX_NAME else None


# What a folder is called when its name says nothing of the project in it: where code, clones
# and checkouts are kept, a user's own folders, system folders.
_GENERIC_FOLDERS = set("""
src source sources code repo repos repository repositories git github gitlab workspace workspaces ws project projects
proj work dev development home users user desktop documents downloads onedrive dropbox tmp temp var opt srv mnt media
volumes root app apps main master trunk build dist out checkout clone clones worktree worktrees sandbox scratch
test tests demo example examples lib libs untitled""".split()) | {"my documents", "new folder", "documents and settings"}
# The folders home folders are in: the folder right under one is a user's (``/home/alice``).
_HOMES = {"home", "users", "documents and settings"}
# Temporary folders: a repository there is a scratch copy whose folder a script named.
_TEMP_ROOTS = re.compile(r"^/(?:tmp|var/tmp|usr/tmp|var/folders|private/var/folders|private/tmp|dev/shm)/|/appdata/local/temp/|"
                         r"^[a-z]:/(?:windows/)?te?mp/", re.I)
# ``tmpk3_x9a2b`` (Python's tempfile), ``pytest-of-ann``, a UUID: names no person gave.
_TEMP_NAME = re.compile(r"^tmp(?=[a-z0-9_]*[0-9_])[a-z0-9_]{6,10}$|^pytest-|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", re.I)
# Shown as written: letters and digits, and ``_ . + -`` or spaces inside (a folder named
# ``<script>`` is no name, whatever escaping would make of it).
_FOLDER_NAME = re.compile(r"[^\W_](?:[\w.+ -]*[^\W_])?")


def project_from_path(path: str | None) -> Project | None:
    """``Project("Agent_Cellphone_V2_Repository", source="repo_path")`` for a repository's path
    (``D:/Agent_Cellphone_V2_Repository``, ``C:\\src\\gadget\\``, ``/srv/gadget.git``,
    ``~/gadget/.git``): its last part, without ``.git``, as written. None when that part is
    no name: a home folder (``/home/alice`` must not publish ``alice``), a drive or system root,
    a temporary folder, a generic folder ("src", "repo", "workspace", "project"), ``.``/``..``,
    or a name with other characters than letters, digits, ``_ . + -`` and spaces."""
    if not isinstance(path, str):
        return None
    text = re.sub(r"^file:/*", "/", path.strip(), flags=re.I).replace("\\", "/")
    parts = [p for p in text.split("/") if p]
    if parts and parts[-1].lower() == ".git":
        parts.pop()
    if not parts:
        return None
    name = parts[-1][:-4] if parts[-1].lower().endswith(".git") else parts[-1]
    parent = parts[-2].lower() if len(parts) > 1 else ""
    folded = (text.rstrip("/") + "/").lower()
    # This machine's temp folders as tempfile.gettempdir() finds them (the variables, then the
    # folders _TEMP_ROOTS knows), without importing tempfile, which creates a file to test each.
    local_temps = tuple(v.replace("\\", "/").rstrip("/").lower() + "/"
                        for v in map(os.environ.get, ("TMPDIR", "TEMP", "TMP")) if v)
    if (parent in _HOMES or name.startswith("~") or re.fullmatch(r"[a-z]:", name, re.I) or name.lower() in _GENERIC_FOLDERS
            or _TEMP_ROOTS.search(folded) or folded.startswith(local_temps) or _TEMP_NAME.match(name)
            or not _FOLDER_NAME.fullmatch(name) or not usable_name(name) or name.isdigit()):
        return None
    return Project(name, None, "repo_path")


# What comes before a README's title: blank lines, comments, badges, a logo.
_PREAMBLE = ("<!--", "[![", "![", "<")
_TITLE = re.compile(r"#[ \t]+(?P<title>.+?)(?:[ \t]+#+)?")
# Titles that are no project's name: a flywheel README of an unnamed project, a heading.
_NOT_TITLES = re.compile(r"^(?:build session\b|readme$|about$|overview$|introduction$|table of contents$)", re.I)


def project_from_readme(text: str | None) -> Project | None:
    """``Project("Space Explorer", source="README")`` when a README's first text is a title that
    is a plain name (``# Space Explorer``); None for a sentence, a title with links, code or
    punctuation ("# Flask: web development, one drop at a time"), or no title."""
    for line in (text or "").splitlines()[:40]:
        line = line.strip()
        if not line or line.startswith(_PREAMBLE):
            continue
        match = _TITLE.fullmatch(line)
        title = match["title"].strip() if match else ""
        if _FOLDER_NAME.fullmatch(title) and usable_name(title) and not _NOT_TITLES.match(title):
            return Project(title, None, "README")
        return None
    return None


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
