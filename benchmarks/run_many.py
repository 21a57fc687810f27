"""Generation: `flywheel run` on 1,000 seed-like sessions in one call (bundled examples under new ids).

Run: .venv/bin/python benchmarks/run_many.py [--sessions N] [--runs R] [--quick]

* In one process, plugins loaded and one session of each type run first (no start-up):
  `run_sessions` on --in-process files in one call (as `flywheel run` on many files), sessions
  per CPU second (flywheel's own work) and per wall second (with the waits for the disk); the CPU
  time split by pipeline step from a profile of 200 more; each example type alone (the trade
  chart's PNG timed apart); and the floor, measured in the same process: the files the run wrote
  (same names, same bytes) written by a bare loop with the same guarantees (temp file, syncfs,
  rename, syncfs; a lock file per session file rewritten), nothing generated;
* as whole processes: `flywheel run` on N files in one call (once: it takes a while), against
  `flywheel run` on one file (start-up and one session);
* peak memory of `flywheel run --dry-run` (generation, nothing written) on 1,000 and 10,000
  copies of the minimal build session (--quick: 100 and 1,000).
Target (issue 18): at least 500 sessions/s of flywheel's own work.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import tempfile
from pathlib import Path

from _bench import FLYWHEEL, ROOT, Report, compare, in_child, quick_flag, run, seconds

SEEDS = ["build_session.json", "trade_session.json", "life_aria_session.json", "minimal_build_session.json"]

IN_PROCESS = r"""
import cProfile, ctypes, fcntl, json, os, pstats, sys, time
from pathlib import Path
from flywheel_core.config import load_config
from flywheel_core.pipeline import run_session, run_sessions
from flywheel_core.plugins import get_host

folder, out, count, seeds = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
config, host = load_config(None), get_host()
files = sorted(folder.glob("*.json"))
# One file of each type first: imports (Pillow for the trade chart), templates, registrations.
run_sessions(files[:len(seeds)], config, host, out_dir=out)
files = files[len(seeds):]
start, cpu = time.perf_counter(), time.process_time()
results = run_sessions(files[:count], config, host, out_dir=out).results
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
assert {r.exit_code for r in results} == {0}, [r.exit_code for r in results][:5]
profile = cProfile.Profile(time.process_time)
profile.enable()
run_sessions(files[count:count + 200], config, host, out_dir=out)
profile.disable()
stats = pstats.Stats(profile).stats
def cumulative(suffix, name, caller=None):
    return sum(v[3] if caller is None else sum(c[3] for (_, _, fn), c in v[4].items() if fn == caller)
               for (file, _, fn), v in stats.items() if file.endswith(suffix) and fn == name)
total = cumulative("pipeline.py", "run_sessions")
steps = {step: sum(cumulative(*w) for w in where) / total for step, where in {
    "load_and_schema": [("pipeline.py", "load_for_run")], "generate": [("pipeline.py", "generate")],
    "write": [("pipeline.py", "_stage_artifacts"), ("fsutil.py", "commit", "flush")],
    "record": [("pipeline.py", "_record")], "social_posts": [("posts.py", "compose_social")],
    "render": [("render.py", "render")], "trade_png": [("chart.py", "png")],
    "enqueue": [("queue.py", "enqueue_result")]}.items()}

# Each example type alone, from the files after those (file k holds seed k % 4), and the CPU
# time of the trade chart's PNG in it (zlib at the level the published bytes were made with).
from flywheel_trade.chart import Chart
png, png_time = Chart.png, [0.0]
def timed_png(self, *args, **kwargs):
    spent = time.process_time()
    try:
        return png(self, *args, **kwargs)
    finally:
        png_time[0] += time.process_time() - spent
Chart.png = timed_png
by_type, png_ms = {}, {}
for i, seed in enumerate(seeds):
    group = [f for k, f in enumerate(files) if k >= count + 200 and k % len(seeds) == i][:count // len(seeds)]
    spent, png_time[0] = time.process_time(), 0.0
    run_sessions(group, config, host, out_dir=out)
    by_type[seed] = len(group) / (time.process_time() - spent)
    png_ms[seed] = 1000 * png_time[0] / len(group)
Chart.png = png

# The floor: the files the timed run wrote (same names, same bytes) written by a bare loop with
# the same guarantees, and nothing else: per batch of 64 sessions each file to a new temp file,
# one syncfs, the renames, one syncfs; then each session file rewritten the same way under a
# lock file of its own (created, flocked, removed), as flywheel records a session.
syncfs = ctypes.CDLL(None, use_errno=True).syncfs
sessions = [([(Path(p).name, Path(p).read_bytes()) for a in r.artifacts.values() for p in [a["path"], *a["files"]]],
             Path(r.session_type, r.session_id), Path(r.file).read_bytes()) for r in results]
bare = out.parent / "bare"
(bare / "locks").mkdir(parents=True)
def sync(path):
    fd = os.open(path, os.O_RDONLY)
    syncfs(fd)
    os.close(fd)
def write_all(pairs):  # [(path, bytes)]: each atomically, made durable together
    temps = []
    for path, data in pairs:
        tmp = f"{path.parent}/.{path.name}.{os.getpid()}.{len(temps)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.write(fd, data)
        os.fchmod(fd, 0o644)
        os.close(fd)
        temps.append((tmp, path))
    sync(bare)
    for tmp, path in temps:
        os.replace(tmp, path)
    sync(bare)
spent = time.process_time()
for b in range(0, len(sessions), 64):
    batch, pairs = sessions[b:b + 64], []
    for i, (written, where, _) in enumerate(batch):
        (bare / where).mkdir(parents=True, exist_ok=True)
        pairs += [(bare / where / name, data) for name, data in written]
    write_all(pairs)
    locks = []
    for i, (_, _, session) in enumerate(batch):
        lock = bare / "locks" / f"{b + i}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        locks.append((lock, fd))
    write_all([(bare / f"session-{b + i}.json", session) for i, (_, _, session) in enumerate(batch)])
    for lock, fd in locks:
        os.unlink(lock)
        os.close(fd)
floor = len(sessions) / (time.process_time() - spent)
print(json.dumps({"rate": count / cpu, "wall_rate": count / elapsed, "count": count, "steps": steps,
                  "by_type": by_type, "png_ms": png_ms, "floor": floor,
                  "files": sum(len(w) + 1 for w, _, _ in sessions) / len(sessions)}))
"""


def sessions(folder: Path, count: int) -> list[Path]:
    """``count`` session files: the bundled examples in turn, each under a new id."""
    seeds = [json.loads((ROOT / "examples" / name).read_text(encoding="utf-8")) for name in SEEDS]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        doc = copy.deepcopy(seeds[i % len(seeds)])
        doc["session_id"] = f"many-{i:05d}"
        path = folder / f"s{i:05d}.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000)
    parser.add_argument("--in-process", type=int, default=400)
    parser.add_argument("--runs", type=int, default=3, help="runs of the one-file reference")
    quick_flag(parser)
    args = parser.parse_args()
    n, inner = (200, 100) if args.quick else (args.sessions, args.in_process)
    small, large = (100, 1_000) if args.quick else (1_000, 10_000)
    with tempfile.TemporaryDirectory(prefix="flywheel-bench-run-") as tmp:
        work = Path(tmp)
        pristine = work / "pristine"
        sessions(pristine, max(n, 2 * inner + 204))
        live = work / "live"

        def fresh(count: int) -> list[Path]:  # `flywheel run` records its artifacts in each session file
            shutil.rmtree(live, ignore_errors=True)
            shutil.rmtree(work / "out", ignore_errors=True)
            live.mkdir()
            for path in sorted(pristine.glob("*.json"))[:count]:
                shutil.copyfile(path, live / path.name)
            return sorted(live.glob("*.json"))

        fresh(2 * inner + 204)
        figures, proc = in_child(IN_PROCESS, live, work / "out", inner, json.dumps(SEEDS))
        one = compare({"one": [FLYWHEEL, "run", live / "s00000.json", "--out", work / "out"]}, args.runs,
                      prepare=lambda name: fresh(1))["one"]
        many = run([FLYWHEEL, "run", *fresh(n), "--out", work / "out"])
        minimal = work / "minimal"
        minimal.mkdir()
        seed = json.loads((ROOT / "examples" / "minimal_build_session.json").read_text(encoding="utf-8"))
        for i in range(large):
            (minimal / f"m{i:05d}.json").write_text(json.dumps({**seed, "session_id": f"m-{i:05d}"}), encoding="utf-8")
        files = sorted(minimal.glob("*.json"))
        memory = {count: run([FLYWHEEL, "run", "--dry-run", *files[:count]]).peak_mib for count in (1, small, large)}
    rate = figures["rate"]
    per = (many.wall - one.wall) / (n - 1)
    report = Report("run_many", f"Generation: `flywheel run` on {n:,} seed-like sessions in one call",
                    f"`.venv/bin/python benchmarks/run_many.py{' --quick' if args.quick else ''}`: the 4 bundled "
                    "examples in turn under new ids, every plugin installed, no target enabled (nothing enqueued)")
    report.add(f"`run_sessions` on {figures['count']:,} files in one call, in one process, per CPU second (flywheel's own work)",
               f"{rate:,.0f} sessions/s", target="≥ 500 sessions/s", met=rate >= 500, peak_mib=proc.peak_mib)
    report.add("  the same, per wall second (with the waits for the disk)", f"{figures['wall_rate']:,.0f} sessions/s")
    for seed, each in figures["by_type"].items():
        png = figures["png_ms"][seed]
        report.add(f"  {seed.removesuffix('.json').replace('_', ' ')} alone ({inner // len(SEEDS):,} in one call), per CPU second",
                   f"{each:,.0f} sessions/s", reference=f"{1000 / each:.1f} ms a session" + (
                       f", {png:.1f} ms of it the chart's PNG (zlib level 3: the published bytes)" if png else ""))
    report.add("  floor: the files it wrote (same names and bytes) written atomically by a bare loop, per CPU second",
               f"{figures['floor']:,.0f} sessions/s", reference=f"{figures['files']:.1f} files a session, each synced, renamed; "
               "a lock file a session", ratio=f"{figures['floor'] / rate:.1f}× faster than flywheel")
    report.add(f"`flywheel run` on {n:,} files (whole process, once)", seconds(many.wall, many.cpu),
               reference=f"one file: {seconds(one.wall, one.cpu)}",
               ratio=f"{many.wall / one.wall:.1f}× ({1 / per:,.0f} sessions/s past the first)", peak_mib=many.peak_mib)
    split = ", ".join(f"{k.replace('_', ' ')} {v:.0%}" for k, v in figures["steps"].items())
    report.note(f"Where the CPU time goes (profile of `run_sessions` on 200 more files, shares, overlapping): {split}.")
    report.memory("sessions (`--dry-run`, minimal build session)", (small, memory[small]), (large, memory[large]),
                  base=memory[1])
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
