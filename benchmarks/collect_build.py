"""`flywheel collect build` vs raw `git log --numstat` on a synthetic 20,000-commit repository.

Run: .venv/bin/python benchmarks/collect_build.py [--commits N] [--runs N]

The repository is made once with `git fast-import` (renames, binary files, merges, unicode
authors) and cached under benchmarks/.cache/. Each figure is the median wall time of whole
processes over --runs runs, reported as a ratio to raw `git log --numstat` on the same range,
measured in the same run. Targets (issue 18): <= 1.0x on the full history, whole process (the
collector reads a long range with one git process per core at once); <= 1.5x on the last 100
commits. The one-git-process line (FLYWHEEL_GIT_JOBS=1) is the sequential path; the in-process
line separates the collector itself from interpreter and CLI start-up.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
FLYWHEEL = Path(sys.executable).parent / "flywheel"
VERSION = 1  # bump when the generator changes, so the cache is rebuilt

AUTHORS = [("Ann Example", "ann@example.com"), ("Zoë 山田", "zoe@example.com"), ("Bob", "bob@example.com"),
           ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")]
TYPES = ["feat", "fix", "docs", "refactor", "test", "chore", "perf", "build(deps)", "ci"]


def _blob(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def fast_import_stream(commits: int, seed: int = 42) -> bytes:
    """A fast-import stream: ~2,000 files of ~30 lines, 1-4 files touched per commit."""
    rng = random.Random(seed)
    files: dict[str, list[str]] = {}
    out: list[bytes] = []
    when = 1_600_000_000
    mark = 0
    main_tip = 0

    def commit(ref: str, message: str, changes: list[bytes], parents: list[int]) -> int:
        nonlocal mark, when
        mark += 1
        when += rng.randint(30, 900)
        name, email = AUTHORS[rng.randrange(len(AUTHORS))]
        msg = message.encode()
        head = [f"commit {ref}\nmark :{mark}\n".encode(),
                f"author {name} <{email}> {when} +0000\ncommitter {name} <{email}> {when} +0000\n".encode(),
                b"data %d\n" % len(msg), msg, b"\n"]
        if parents:
            head.append(f"from :{parents[0]}\n".encode())
            head += [f"merge :{p}\n".encode() for p in parents[1:]]
        out.extend(head + changes + [b"\n"])
        return mark

    def modify(path: str, data: bytes) -> bytes:
        return b"M 100644 inline " + path.encode() + b"\ndata %d\n" % len(data) + data + b"\n"

    for i in range(commits):
        changes: list[bytes] = []
        roll = rng.random()
        if not files or roll < 0.15:  # new file
            path = f"pkg{rng.randrange(40)}/mod_{len(files)}.py"
            files[path] = [f"line {rng.random():.6f}" for _ in range(rng.randint(5, 60))]
            changes.append(modify(path, _blob(files[path])))
        elif roll < 0.18:  # rename with a small edit
            old = rng.choice(list(files))
            new = f"moved/{old.replace('/', '_')}_{i}"
            files[new] = files.pop(old)
            files[new][0] = f"renamed {i}"
            changes += [f"R {old} {new}\n".encode(), modify(new, _blob(files[new]))]
        elif roll < 0.19:  # binary asset
            data = bytes(rng.randrange(256) for _ in range(200)) + b"\0"
            changes.append(modify(f"assets/img_{i}.png", data))
        else:
            for path in rng.sample(list(files), min(len(files), rng.randint(1, 4))):
                lines = files[path]
                for _ in range(rng.randint(1, 4)):
                    if lines and rng.random() < 0.3:
                        lines.pop(rng.randrange(len(lines)))
                    else:
                        lines.insert(rng.randrange(len(lines) + 1), f"edit {i} {rng.random():.5f}")
                changes.append(modify(path, _blob(lines)))
        message = f"{rng.choice(TYPES)}: change {i} with ünïcode ✓\n\nBody of commit {i}.\n"
        if i and i % 200 == 0:  # a side branch of one commit, merged back with --no-ff
            side = commit("refs/heads/side", message, changes, [main_tip])
            main_tip = commit("refs/heads/main", f"Merge branch 'side' ({i})\n", [], [main_tip, side])
        else:
            main_tip = commit("refs/heads/main", message, changes, [main_tip] if main_tip else [])
    return b"".join(out)


def synthetic_repo(commits: int) -> Path:
    repo = CACHE / f"collect_build_v{VERSION}_{commits}"
    ok = repo.is_dir() and subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "-q", "main"], capture_output=True
    ).returncode == 0
    if ok:
        return repo
    CACHE.mkdir(exist_ok=True)
    subprocess.run(["rm", "-rf", str(repo)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    start = time.perf_counter()
    stream = fast_import_stream(commits)
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=stream, check=True)
    subprocess.run(["git", "-C", str(repo), "gc", "-q", "--aggressive"], check=True)
    print(f"built {repo} in {time.perf_counter() - start:.1f} s", flush=True)
    return repo


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved_medians(jobs: dict[str, object], runs: int) -> dict[str, float]:
    """Median seconds of each job; the jobs take turns so a busy machine slows all alike."""
    for job in jobs.values():
        job()  # warm caches, fail loudly
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(runs):
        for name, job in jobs.items():
            times[name].append(_timed(job))
    return {name: statistics.median(t) for name, t in times.items()}


def process(cmd: list[str], env: dict[str, str] | None = None):
    return lambda: subprocess.run(cmd, capture_output=True, check=True, env=env)


def in_process(repo: Path, rev_range: str | None):
    from flywheel_build.cli import dumps_collected
    from flywheel_build.collect import collect_session

    return lambda: dumps_collected(collect_session(repo, rev_range=rev_range))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    repo = synthetic_repo(args.commits)
    count = subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "main"], capture_output=True, text=True, check=True).stdout.strip()
    print(f"repository: {repo.relative_to(HERE.parent)} ({count} commits)")
    out = Path(tempfile.mkdtemp()) / "session.json"
    ok = True
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    for label, rev_range, runs, target in (
        ("full history", None, args.runs, 1.0),
        ("last 100 commits", "main~100..main", args.runs * 3, 1.5),
    ):
        raw_cmd = ["git", "-C", str(repo), "log", "--numstat"] + ([rev_range] if rev_range else [])
        fw_cmd = [str(FLYWHEEL), "collect", "build", "--repo", str(repo), "-o", str(out)] + (["--rev-range", rev_range] if rev_range else [])
        env = {k: v for k, v in os.environ.items() if k != "FLYWHEEL_GIT_JOBS"}  # as a user runs it
        m = interleaved_medians(
            {
                "raw": process(raw_cmd),
                "ours": process(fw_cmd, env=env),
                "only": process(fw_cmd, env={**env, "FLYWHEEL_LOAD_PLUGINS": "build"}),
                "one": process(fw_cmd, env={**env, "FLYWHEEL_GIT_JOBS": "1"}),
                "inproc": in_process(repo, rev_range),
            },
            runs,
        )
        raw = m["raw"]
        ratio = m["ours"] / raw
        ok &= ratio <= target
        print(f"\n{label} (median of {runs}):")
        print(f"  git log --numstat                 {raw:8.3f} s   1.00x (reference)")
        print(f"  flywheel collect build            {m['ours']:8.3f} s   {ratio:.2f}x  {'ok' if ratio <= target else f'OVER the {target}x target'}")
        print(f"  ... with only the build plugin    {m['only']:8.3f} s   {m['only'] / raw:.2f}x")
        print(f"  ... one git process (sequential)  {m['one']:8.3f} s   {m['one'] / raw:.2f}x  (FLYWHEEL_GIT_JOBS=1)")
        print(f"  ... collector in-process          {m['inproc']:8.3f} s   {m['inproc'] / raw:.2f}x  (no interpreter/CLI start-up)")
    print(f"\nload average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("\nall within target" if ok else "\nsome figures are over their target (see above)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
