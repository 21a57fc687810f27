"""Reading commits with one ``git log --numstat -z`` process and parsing its output fast."""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable

from flywheel_build.git import (PROBE_TIMEOUT, GitError, Repo, RepositoryRefused, check_git_files, finish_git,
                                git_deadline, open_repo, run_git, start_git)
from flywheel_build.message import clean_body

__all__ = [
    "LOG_FORMAT",
    "HEX_RE",
    "parse_log",
    "log_commits",
    "git_jobs",
    "PARALLEL_MIN",
    "lookup_commits",
    "resolve_revisions",
    "open_range",
    "split_range",
    "totals",
    "read_git_date",
    "commits_not_found",
]

# Fields are NUL-separated and git cuts a message at its first NUL, so no commit text (a body
# holds anything else: tabs, "1\t2\tpath" lines, \x1e) can shift a field. Each record starts
# with \x1e: the parser reads subject and body by position and looks for \x1e only where a
# record can begin (after a commit's numstat), so a body starting with \x1e reads as text.
LOG_FORMAT = "%x1e%H%x00%P%x00%aN%x00%aE%x00%aI%x00%s%x00%b"
# --root, --find-renames, --no-relative, --diff-algorithm=myers: a user's log.showRoot=false,
# diff.renames=false, diff.relative=true or diff.algorithm=histogram must not change the counts.
_LOG_ARGS = (
    "log", "--numstat", "-z", "--root", "--find-renames", "--no-relative", "--diff-algorithm=myers",
    "--no-color", "--no-ext-diff", "--no-textconv",
    f"--format={LOG_FORMAT}",
)

#: A range of more commits than this is read by several git processes at once (``git_jobs``);
#: below it the second process would save less than it costs to start.
PARALLEL_MIN = 2000
#: At most this many git processes read one range.
MAX_GIT_JOBS = 8
#: The rest of a long range is cut into this many parts per process: one whose commits have
#: bigger diffs (an initial import) then holds up less of the whole.
PARTS_PER_JOB = 2
#: The listing and the parts of a range start only once its first ``git log`` has printed more
#: commits than this: a shorter range (most collects) is read by that one process alone.
SHORT_RANGE = 200

HEX_RE = re.compile(r"^[0-9a-fA-F]{4,64}$")
_REV_BAD = re.compile(r"[\x00-\x20\x7f]")


# git prints %aI from the raw header as it is: "+051800" becomes "+518:00", a year past 9999 has
# five digits, and a header without a readable date leaves the placeholder "%aI" itself.
_GIT_DATE = re.compile(r"^(\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)([+-])(\d+):(\d\d)$")
_COMMON_MINUTES = ("00", "15", "30", "45")


def read_git_date(text: str) -> tuple[str | None, str | None]:
    """git's ``%aI`` as a timestamp to store, and what was wrong with it (None when all is well).

    An offset no place on Earth uses (outside -12:00..+14:00, or minutes past 59) is read as
    UTC: git computed the printed local time from the real instant, so subtracting the offset
    gives that instant back. A date that cannot be read at all (no zone, not a number, a year
    past 9999) gives no timestamp.
    """
    # Fast path: what git prints for every ordinary commit.
    if len(text) == 25 and text[19] in "+-" and text[22] == ":" and text[20:22] <= "12" and text[23:] in _COMMON_MINUTES:
        return text, None
    match = _GIT_DATE.match(text)
    if not match:
        return None, "has no readable date (git prints none)"
    year, month, day, hour, minute, second, sign, zh, zm = match.groups()
    offset = (int(zh) * 60 + int(zm)) * (-1 if sign == "-" else 1)
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
        utc = (local - timedelta(minutes=offset)).replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        return None, f"has a date out of range ({text[:40]})"
    if len(zh) == 2 and int(zm) < 60 and -12 * 60 <= offset <= 14 * 60:
        return text, None
    return iso_utc(utc), f"has an impossible time zone ({sign}{zh}{zm}); its time is read as UTC"


def parse_log(data: bytes, shallow: Iterable[str] = (), problems: list[str] | None = None) -> list[dict[str, Any]]:
    """Commits (newest first, as git printed them) from ``git log -z --numstat --format=LOG_FORMAT``.

    A rename counts as its new path; a binary file (``-\\t-``) as a file with 0 lines; a merge
    (two parents or more: ``parents`` lists them) has no numstat (git shows none by default)
    and gets ``merge: true``. A shallow clone's boundary commit would show its whole tree as
    added: it gets ``shallow_boundary: true`` and no files or line counts. A date git prints
    but nobody could mean is read as ``read_git_date`` says, with a line in ``problems``.
    """
    import gc

    # Tens of thousands of small dicts and lists trigger many useless GC passes: pause it.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _parse(data.decode("utf-8", "replace").split("\0"), set(shallow), problems)
    finally:
        if paused:
            gc.enable()


def _parse(tokens: list[str], boundary: set[str], problems: list[str] | None) -> list[dict[str, Any]]:
    commits: list[dict[str, Any]] = []
    append = commits.append
    n = len(tokens)
    i = 0
    while i < n:
        tok = tokens[i]
        if not tok.startswith("\x1e") or i + 6 >= n:
            i += 1
            continue
        sha = tok[1:]
        parents, author, email, when, subject, body = tokens[i + 1 : i + 7]
        i += 7
        files: list[str] = []
        added = removed = 0
        while i < n:
            tok = tokens[i]
            if not tok:
                i += 1
                continue
            first = tok[0]
            if first == "\x1e":
                break
            if first == "\n":
                tok = tok[1:]
            parts = tok.split("\t", 2)
            if len(parts) != 3:  # not a numstat line: skip it rather than misread the rest
                i += 1
                continue
            a, d, path = parts
            if path:
                i += 1
            else:  # rename or copy: "A\tD\t" NUL old NUL new
                path = tokens[i + 2] if i + 2 < n else ""
                i += 3
            files.append(path)
            if a != "-":
                added += int(a)
            if d != "-":
                removed += int(d)
        trailers = None
        if body:
            body, trailers = clean_body(body)
        when, trouble = read_git_date(when)
        if trouble and problems is not None:
            problems.append(f"commit {sha[:12]} {trouble}")
        parents = parents.split()
        if author == "%aN" or email == "%aE":  # git prints the placeholders of an ident it cannot parse
            author, email = ("" if author == "%aN" else author), ("" if email == "%aE" else email)
            if problems is not None:
                problems.append(f"commit {sha[:12]} has no readable author (git prints none)")
        commit: dict[str, Any] = {
            "hash": sha,
            "parents": parents,
            "author": author,
            "email": email,
            "timestamp": when,
            "message": subject,
            "body": body,
            "files": files,
            "insertions": added,
            "deletions": removed,
        }
        if trailers:
            commit["trailers"] = trailers
        if len(parents) > 1:
            commit["merge"] = True
        if sha in boundary:
            commit.update(files=[], insertions=0, deletions=0, shallow_boundary=True)
        append(commit)
    return commits


def totals(commits: list[dict[str, Any]]) -> dict[str, int]:
    """``commits``, ``files_changed`` (distinct paths), ``lines_added``, ``lines_removed``."""
    paths: set[str] = set()
    added = removed = 0
    for c in commits:
        paths.update(c["files"])
        added += c["insertions"]
        removed += c["deletions"]
    return {"commits": len(commits), "files_changed": len(paths), "lines_added": added, "lines_removed": removed}


def split_range(rev_range: str | None) -> tuple[list[str], str]:
    """``(sides, operator)`` of ``A..B``, ``A...B`` or ``A`` (default HEAD); ValueError if unsafe."""
    text = (rev_range or "HEAD").strip()
    if "..." in text:
        sides, op = text.split("...", 1), "..."
    elif ".." in text:
        sides, op = text.split("..", 1), ".."
    else:
        sides, op = [text], ""
    sides = [s or "HEAD" for s in sides]
    for side in sides:
        if side.startswith("-") or _REV_BAD.search(side):
            raise ValueError(f"{rev_range!r} is not a revision or range (e.g. v1.0..HEAD)")
    return sides, op


def as_revisions(ids: list[str], op: str) -> list[str]:
    """Verified commit ids back into ``git log`` arguments for the operator."""
    if op == "..":
        return [ids[1], f"^{ids[0]}"]
    if op == "...":
        return [f"{ids[0]}...{ids[1]}"]
    return ids


def resolve_revisions(repo: Repo, rev_range: str | None) -> list[str]:
    """Turn ``A..B``, ``A...B``, ``A`` (default HEAD) into verified commit ids for ``git log``.

    Raises ValueError with a message for the user; nothing from ``rev_range`` reaches git as an
    option (it is refused when it starts with ``-`` and passed after ``--end-of-options``).
    """
    sides, op = split_range(rev_range)
    out = _rev_parse(repo, [f"{s}^{{commit}}" for s in sides])
    if out is None:
        if rev_range is None:
            # HEAD can be unborn (an orphan branch) while other branches have commits.
            try:
                has_any = bool(repo.git("rev-list", "-n1", "--all").strip())
            except RepositoryRefused:
                raise
            except GitError:
                has_any = False
            if has_any:
                raise ValueError(f"{repo.cwd}: the current branch has no commits yet; name one with --rev-range")
            raise ValueError(f"{repo.cwd}: the repository has no commits yet")
        bad = next(s for s in sides if _rev_parse(repo, [f"{s}^{{commit}}"]) is None)
        # In a shallow clone, HEAD~10 or an old tag is usually beyond where its history stops.
        hint = "; it is a shallow clone: `git fetch --unshallow` (or --deepen=N) brings more history" if repo.shallow else ""
        raise ValueError(f"{bad!r} is not a commit in {repo.cwd}{hint}")
    return as_revisions(out, op)


def open_range(path: Path, rev_range: str | None) -> tuple[Repo, list[str]]:
    """The repository at ``path`` and the verified revisions of ``rev_range``, in one git process
    when all is well (the slower step-by-step path runs only to explain a failure)."""
    sides, op = split_range(rev_range)
    if path.is_dir():
        check_git_files(path)
        try:
            out = run_git(
                path, "rev-parse", "--absolute-git-dir", "--is-shallow-repository", "--show-toplevel",
                "--end-of-options", *(f"{s}^{{commit}}" for s in sides), "--", timeout=PROBE_TIMEOUT,
            )
        except RepositoryRefused as exc:
            raise RepositoryRefused(f"{path}: {exc}") from None
        except GitError:
            out = None
        lines = [ln for ln in (out or b"").decode("utf-8", "surrogateescape").splitlines() if ln not in ("--end-of-options", "--")]
        if out is not None and len(lines) == 3 + len(sides) and all(HEX_RE.match(h) for h in lines[3:]):
            repo = Repo(root=Path(lines[2]), git_dir=Path(lines[0]), shallow=lines[1] == "true")
            return repo, as_revisions(lines[3:], op)
    repo = open_repo(path)  # GitError with the reason (missing, not a repository, ...)
    return repo, resolve_revisions(repo, rev_range)


def _rev_parse(repo: Repo, revs: list[str]) -> list[str] | None:
    try:
        out = repo.git("rev-parse", "--end-of-options", *revs, "--")
    except RepositoryRefused:
        raise
    except GitError:
        return None
    # Older git echoes the separators back: keep only object ids.
    return [ln for ln in out.decode("ascii", "replace").split() if HEX_RE.match(ln)]


def git_jobs() -> tuple[int, int]:
    """``(processes, fewest commits to split)`` for reading a range: one git process per core
    (at most ``MAX_GIT_JOBS``) for a range of more than ``PARALLEL_MIN`` commits.

    ``FLYWHEEL_GIT_JOBS=N`` (a whole number) overrides both: N processes for any range of more
    than N commits; ``1`` reads every range with one process. Anything else there is ignored.
    """
    value = os.environ.get("FLYWHEEL_GIT_JOBS", "").strip()
    if value.isdigit() and 0 < int(value) <= 64:
        return int(value), int(value)
    try:
        cores = len(os.sched_getaffinity(0))  # the cores this process may use, not all the machine's
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_GIT_JOBS)), PARALLEL_MIN


def log_commits(
    repo: Repo,
    revisions: list[str],
    *,
    max_age: int | None = None,
    min_age: int | None = None,
    author: str | None = None,
    problems: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Every commit reachable from ``revisions`` (verified ids), filtered by committer time;
    odd dates are described in ``problems``.

    A range longer than ``git_jobs()`` says is read by several git processes at once (git is
    the bottleneck and uses one core); the result is the same, byte for byte, as one
    ``git log`` over the whole range gives.
    """
    walk: list[str] = []
    if max_age is not None:
        walk.append(f"--max-age={int(max_age)}")
    if min_age is not None:
        walk.append(f"--min-age={int(min_age)}")
    if author:
        walk.append(f"--author={author}")
    walk += ["--end-of-options", *revisions, "--"]
    shallow = repo.shallow_commits()
    jobs, least = git_jobs()
    if jobs > 1:
        odd: list[str] = []
        commits = _log_in_parts(repo, walk, jobs, least, shallow, odd)
        if commits is not None:
            if problems is not None:
                problems += odd
            return commits
    return parse_log(repo.git(*_LOG_ARGS, *walk), shallow, problems)


def _log_in_parts(
    repo: Repo, walk: list[str], jobs: int, least: int, shallow: set[str], problems: list[str]
) -> list[dict[str, Any]] | None:
    """``log_commits`` by ``jobs`` git processes at once; None when the walk changed under us.

    ``git log --max-count=least`` starts on the range at once. A range that ends before it has
    printed ``SHORT_RANGE`` commits is done, by that one process. Otherwise a listing of the
    whole range (the same walk and options without diffs: fast) starts beside it, and a range of
    ``least`` commits or fewer is done when it ends. The rest of the listing is cut into ``jobs * PARTS_PER_JOB`` runs of consecutive
    commits, read ``jobs`` at a time by ``git log --no-walk=unsorted --stdin``, which prints
    the commits it is given in the order given. The parts joined are the single walk's output
    byte for byte (merges still show no diff: a part diffs each commit against its parents, as
    the walk does); the hashes are checked against the listing all the same. --skip and
    --max-count would also cut this walk exactly (no paths, no history simplification), but
    each part would walk from the tip again.
    """
    from concurrent.futures import ThreadPoolExecutor

    def read(part: list[str]) -> bytes:
        return run_git(repo.cwd, *_LOG_ARGS, "--no-walk=unsorted", "--stdin", input=("\n".join(part) + "\n").encode("ascii"))

    head = start_git(repo.cwd, *_LOG_ARGS, f"--max-count={least}", *walk)
    listing: Any = None
    try:
        # Ended short of its --max-count: the whole range, in one walk (the sequential path's output).
        start, ended = _read_commits(head, min(SHORT_RANGE, least - 1))
        if ended:
            return parse_log(start + finish_git(head), shallow, problems)
        listing = start_git(repo.cwd, "log", "--format=%H", *walk)
        hashes = finish_git(listing).decode("ascii", "replace").split()
        rest = hashes[least:]
        size = -(-len(rest) // (jobs * PARTS_PER_JOB))
        parts = [rest[i : i + size] for i in range(0, len(rest), size)] if rest else []
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            outputs = [pool.submit(read, part) for part in parts]
            try:
                # Each part is parsed while the later ones are still read.
                commits = parse_log(start + finish_git(head), shallow, problems)
                for output in outputs:
                    commits += parse_log(output.result(), shallow, problems)
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
    finally:
        for proc in (listing, head):
            if proc is not None and proc.returncode is None:  # left by an error: do not leave git running
                proc.kill()
                proc.communicate()
    if [c["hash"] for c in commits] != hashes:  # e.g. a shallow clone deepened meanwhile
        problems.clear()
        return None
    return commits


def _read_commits(proc: Any, count: int) -> tuple[bytes, bool]:
    """What ``git log`` (``proc``) printed until it ended (True) or began more than ``count``
    commits (False: it goes on, ``finish_git`` reads the rest).

    A record begins with \\x1e at the start or after a NUL; no commit text holds a NUL, so only
    a subject or a renamed path beginning with \\x1e counts one too many: the listing then
    merely starts sooner.
    """
    read, chunks, seen, last = os.read, [], 0, b"\0"
    with git_deadline(proc):
        while seen <= count:
            chunk = read(proc.stdout.fileno(), 1 << 16)
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)
            seen += (last + chunk).count(b"\0\x1e")
            last = chunk[-1:]
    return b"".join(chunks), False


def lookup_commits(
    repo: Repo, hashes: list[str], problems: list[str] | None = None
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Look listed hashes up in ``repo``: ({listed hash: commit}, hashes not found there).

    One ``git log --no-walk --stdin --ignore-missing`` process whatever the count: git resolves
    short hashes and skips unknown, ambiguous or non-commit ones; each listed hash is then
    matched to the full hash it is a prefix of.
    """
    listed = list(dict.fromkeys(hashes))
    wanted = [h for h in listed if HEX_RE.match(h)]
    found: dict[str, dict[str, Any]] = {}
    if wanted:
        data = repo.git(
            *_LOG_ARGS, "--no-walk=unsorted", "--ignore-missing", "--stdin",
            input="".join(f"{h}^{{commit}}\n" for h in wanted).encode("ascii"),
        )
        commits = parse_log(data, repo.shallow_commits(), problems)
        by_full = {c["hash"]: c for c in commits}
        for h in wanted:
            key = h.lower()
            match = by_full.get(key) or next((c for full, c in by_full.items() if full.startswith(key)), None)
            if match is not None:
                found[h] = match
    return found, [h for h in listed if h not in found]


def commits_not_found(repo: Repo, hashes: Iterable[str]) -> set[str]:
    """Those of ``hashes`` that name no commit in ``repo`` (missing, ambiguous, not hex, not a
    commit); one ``git cat-file --batch-check`` process whatever the count."""
    listed = list(dict.fromkeys(hashes))
    wanted = [h for h in listed if HEX_RE.match(h)]
    missing = {h for h in listed if not HEX_RE.match(h)}
    if wanted:
        out = repo.git("cat-file", "--batch-check=%(objecttype)", input="".join(f"{h}^{{commit}}\n" for h in wanted).encode("ascii"))
        answers = out.decode("ascii", "replace").splitlines()
        if len(answers) == len(wanted):  # one line per question; anything else and we know nothing
            missing.update(h for h, answer in zip(wanted, answers) if answer != "commit")
    return missing


def iso_utc(moment: datetime) -> str:
    """``2025-12-02T05:20:00Z``."""
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
