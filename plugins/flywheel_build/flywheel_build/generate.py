"""The four build artifacts (readme, build_log, blog_post, social_post) from one ``BuildFacts``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_build.facts import build_facts
from flywheel_build.git import GitError, Repo
from flywheel_build.story import build_story

if TYPE_CHECKING:
    from flywheel_core import Artifact, RunContext, Session

__all__ = ["generate_artifacts", "read_repo", "splice_region", "START", "END"]

START, END = "<!-- flywheel:start -->", "<!-- flywheel:end -->"
_MAX_FILE = 1024 * 1024
_README = ("readme.md", "readme.markdown")


def _read_small(root: Path, name: str) -> str | None:
    """A text file of the repository, refused when a symlink leads outside it or it is huge."""
    from flywheel_core import PathRefused, confine

    try:
        path = confine(name, [root])
        if not path.is_file() or path.stat().st_size > _MAX_FILE:
            return None
        return path.read_bytes().decode("utf-8")  # bytes: keep CRLF line endings as they are
    except (PathRefused, OSError, RuntimeError, UnicodeDecodeError):  # RuntimeError: a symlink loop
        return None


def read_repo(repo: Repo) -> dict[str, Any]:
    """What the README needs from a repository on this machine: its files, remote and project
    metadata as committed at HEAD, and its README as it is on disk (and its title, when that
    is a plain name)."""
    from flywheel_build.project import project_from_readme, project_later
    from flywheel_build.remote import clean_remote

    info: dict[str, Any] = {}
    project = project_later(repo, "HEAD")
    try:
        listing = repo.git("ls-tree", "-r", "-z", "--name-only", "--full-tree", "HEAD")
        info["paths"] = [p for p in listing.decode("utf-8", "replace").split("\0") if p]
        info["remote_url"] = clean_remote(repo.remote_url())
    except GitError:
        pass
    info["project"] = project()
    if repo.root is not None:
        try:
            names = {p.name.lower(): p.name for p in repo.root.iterdir()}
        except OSError:
            names = {}
        for candidate in _README:
            if candidate in names:
                text = _read_small(repo.root, names[candidate])
                if text is not None:
                    info["readme"] = (names[candidate], text)
                    info["readme_title"] = project_from_readme(text)
                else:
                    info["readme_unread"] = names[candidate]
                break
    return {k: v for k, v in info.items() if v is not None}


def _verify(repo: Repo, session: Session) -> dict[str, Any]:
    """``{"missing": hashes}``: the listed commits this repository does not have (they get no
    link and are never the headline); empty when git cannot tell."""
    from flywheel_build.facts import commit_hash
    from flywheel_build.gitlog import commits_not_found

    listed = session.source_data.get("git_commits") if isinstance(session.source_data, dict) else None
    hashes = [h for h in map(commit_hash, listed if isinstance(listed, list) else []) if h]
    try:
        return {"missing": commits_not_found(repo, hashes)}
    except GitError:
        return {}


def splice_region(readme: str, activity: str) -> str | None:
    """``readme`` with only the flywheel region replaced by ``activity``; None without a region."""
    start = readme.find(START)
    end = readme.find(END, start + len(START)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    body = activity.strip("\n")
    if "\r\n" in readme:
        body = body.replace("\r\n", "\n").replace("\n", "\r\n")
    newline = "\r\n" if "\r\n" in readme else "\n"
    return f"{readme[: start + len(START)]}{newline}{newline}{body}{newline}{newline}{readme[end:]}"


def _tidy(text: str) -> str:
    """One blank line at most between blocks, no trailing spaces, one final newline."""
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def _said_first(story: Any) -> str | None:
    """What the post says first, for a page's lede, an index card or a feed: the session's
    summary, else why the title's change was made, else the whole opening without its commit
    citations ("In a two-hour session, Agent-7 added a Phase 3 publication system: ..., then a
    website publisher."), which a listing has no use for. Each is what the post says, so a page
    showing it above the post sees the post says it (citations aside), and shows it once."""
    if story.lede:
        return story.lede[0]
    if story.opening:
        return "".join(text for text, _, _ in story.opening)
    return story.overview


def generate_artifacts(session: Session, ctx: RunContext, repo: Repo | None) -> list[Artifact]:
    """Render every build artifact from one fact set.

    The facts are read from the session and the repository with every local path reduced to
    its last part (``scrub_session``): an artifact is published, the author's folders are not.
    The README's own text outside flywheel's region is the project's, left as it is."""
    from flywheel_core import Artifact, scrub_session, scrub_tree

    from flywheel_build.posts import social_artifact

    info = read_repo(repo) if repo is not None else {}
    if repo is not None:
        info.update(_verify(repo, session))
    info.update(scrub_tree({k: v for k, v in info.items() if k in ("project", "readme_title", "remote_url")}))
    # Where the repository is, unscrubbed: only its last part can name the project, and only
    # the whole path tells a home or temporary folder (whose name is no project's) from a project's.
    if isinstance(session.source_data, dict) and isinstance(session.source_data.get("repo_path"), str):
        info["repo_path"] = session.source_data["repo_path"]
    if repo is not None:
        info["folder"] = str(repo.cwd)
    session = scrub_session(session)
    facts = build_facts(session, info)
    meta: dict[str, Any] = {"provenance": {"commits": list(facts.provenance), "session": facts.session_id}}
    if facts.named:
        meta["project"] = facts.project.name
    tags = list(facts.tags)

    if "readme_unread" in info:
        ctx.warn(
            f"{info['readme_unread']} is over 1 MB, not UTF-8 or a link out of the repository; wrote a new README instead",
            "$.source_data.repo_path",
        )
    readme_name, readme_text = info.get("readme", (None, None))
    spliced = None
    if readme_text is not None:
        activity = ctx.render("build/_recent_activity.md.j2", facts=facts)
        spliced = splice_region(readme_text, activity)
        if spliced is None and START in readme_text:
            ctx.warn(f"{readme_name} has {START} without a following {END}; wrote a new README instead", "$.source_data.repo_path")
    readme = spliced if spliced is not None else _tidy(ctx.render("build/readme.md.j2", facts=facts))

    common = {"tags": tags, "meta": meta}
    story = build_story(facts)
    # The post's meta says where each of its numbers, names and sentences comes from.
    blog_meta = {**meta, "provenance": story.provenance, "links": {"build_log": "build_log.md"}}
    if facts.audience:
        blog_meta["audience"] = facts.audience
    if not facts.commits and not any(facts.narrative.values()):
        blog_meta["nothing_to_say"] = True  # no commit, no narrative: the site keeps it as a draft
    return [
        Artifact("readme", readme, title=f"{facts.project.name} README", summary=facts.project.description or facts.summary, **common),
        Artifact(
            "build_log",
            _tidy(ctx.render("build/build_log.md.j2", facts=facts)),
            title=f"Build log: {facts.project.name}, {facts.date}" if facts.named else f"Build log, {facts.date}",
            summary=facts.summary,
            **common,
        ),
        Artifact(
            "blog_post",
            _tidy(ctx.render("build/blog_post.md.j2", facts=facts, story=story)),
            title=facts.title,
            # What the post says first: a page showing it as the lede above the post would
            # otherwise give the same counts twice in other words ("6 commits to x by ...").
            summary=_said_first(story) or facts.summary,
            tags=tags,
            meta=blog_meta,
        ),
        social_artifact(ctx, session, facts, story, tags=tags, meta=meta),
    ]
