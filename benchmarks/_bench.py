"""Shared by the benchmarks: timed whole processes (wall, CPU, peak memory) and the result rows
that `make bench` (run_all.py) gathers into RESULTS.md."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
FLYWHEEL = str(Path(PY).with_name("flywheel"))
#: run_all.py sets this to a file where each benchmark writes its report as JSON.
RESULTS_ENV = "FLYWHEEL_BENCH_JSON"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of measured processes: as a user's, with bytecode caching on.

    PYTHONDONTWRITEBYTECODE (set on the development machine) would make every flywheel process
    compile its own modules from source while the reference imports compiled site-packages:
    that is not what a user's installed flywheel does.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mib: float
    stdout: bytes


# Measured processes are started by a small launcher process, not by the benchmark itself: on
# Linux a process's peak memory (ru_maxrss) keeps the peak of the process it was forked from,
# through exec, so a command started from a benchmark that grew (it built a site, collected a
# history in process) would report the benchmark's memory, not its own.
_LAUNCHER = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    job = json.loads(line)
    with open(job["out"], "wb") as out, open(job["err"], "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(job["cmd"], stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=job["env"], cwd=job["cwd"])
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    print(json.dumps([wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, proc.returncode]), flush=True)
"""
_launcher: subprocess.Popen | None = None


def run(cmd: Sequence[Any], *, env: dict[str, str] | None = None, cwd: Path | None = None, check: bool = True) -> Run:
    """Run ``cmd`` once: wall seconds, CPU seconds (user + system) and peak resident memory."""
    global _launcher
    if _launcher is None or _launcher.poll() is not None:
        _launcher = subprocess.Popen([PY, "-c", _LAUNCHER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    with tempfile.TemporaryDirectory(prefix="flywheel-bench-run-") as tmp:
        out, err = Path(tmp, "out"), Path(tmp, "err")
        job = {"cmd": [str(c) for c in cmd], "env": env if env is not None else child_env(),
               "cwd": str(cwd) if cwd else None, "out": str(out), "err": str(err)}
        assert _launcher.stdin and _launcher.stdout
        _launcher.stdin.write(json.dumps(job) + "\n")
        _launcher.stdin.flush()
        wall, cpu, maxrss, code = json.loads(_launcher.stdout.readline())
        if check and code != 0:
            raise SystemExit(f"{' '.join(map(str, cmd))} failed ({code}):\n{err.read_text(errors='replace')[-3000:]}")
        # ru_maxrss is in KiB on Linux; it covers the process and the children it waited for.
        return Run(wall, cpu, maxrss / 1024, out.read_bytes())


@dataclass
class Stats:
    wall: float
    cpu: float
    peak_mib: float
    runs: int
    last: Run | None = field(default=None, repr=False)


def compare(commands: dict[str, Sequence[Any]], runs: int, *, prepare: Callable[[str], None] | None = None,
            env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, Stats]:
    """Median wall and CPU time of each command over ``runs`` runs, after one untimed run each.

    The commands take turns, so a burst of load from other processes slows them all alike,
    and the ratios between them survive a busy machine better than the seconds do.
    """
    times: dict[str, list[Run]] = {name: [] for name in commands}
    for round_ in range(runs + 1):
        for name, cmd in commands.items():
            if prepare:
                prepare(name)
            result = run(cmd, env=env, cwd=cwd)
            if round_:
                times[name].append(result)
    return {
        name: Stats(statistics.median(r.wall for r in rs), statistics.median(r.cpu for r in rs),
                    max(r.peak_mib for r in rs), len(rs), rs[-1])
        for name, rs in times.items()
    }


def in_child(code: str, *args: Any, env: dict[str, str] | None = None, cwd: Path | None = None) -> tuple[Any, Run]:
    """Run Python ``code`` in a fresh process (from a temp folder, so nothing in benchmarks/
    shadows a module); it prints one JSON value, returned with the process's figures."""
    with tempfile.TemporaryDirectory(prefix="flywheel-bench-") as tmp:
        result = run([PY, "-c", code, *args], env=env, cwd=cwd or Path(tmp))
    return json.loads(result.stdout.decode().strip().splitlines()[-1]), result


@dataclass
class Row:
    figure: str
    value: str
    reference: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None
    peak: str = ""


@dataclass
class Report:
    """One benchmark's figures: printed as a table, and written as JSON for RESULTS.md."""

    name: str
    title: str
    command: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: str, value: str, *, reference: str = "", ratio: str = "", target: str = "",
            met: bool | None = None, peak_mib: float | None = None) -> None:
        self.rows.append(Row(figure, value, reference, ratio, target, met,
                             f"{peak_mib:.0f} MiB" if peak_mib is not None else ""))

    def memory(self, what: str, small: tuple[int, float], large: tuple[int, float], *, base: float | None = None,
               how: str = "peak RSS") -> None:
        """Peak memory at two sizes, judged linear or better when the peak grows no faster than
        the items (×10 with 15% of slack).

        ``base`` is the peak of the same process with (almost) no items, shown for scale: the part
        above it is not what is judged, because a process's peak is that of its hungriest phase
        (a fixed-size chart at 1,000 items, the data itself at 10,000), not a sum.
        """
        (n1, m1), (n2, m2) = small, large
        growth = m2 / m1
        extra = f"; {base:.0f} MiB with none" if base is not None else ""
        self.add(f"peak memory ({how}), {n1:,} → {n2:,} {what}", f"{m1:.1f} → {m2:.1f} MiB",
                 ratio=f"×{growth:.1f} for ×{n2 / n1:.0f} items{extra}",
                 target="linear or better", met=growth <= (n2 / n1) * 1.15)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def finish(self) -> None:
        print(f"\n{self.title}\n{self.command}")
        print(markdown_table(self.rows))
        for text in self.notes:
            print(f"- {text}")
        out = os.environ.get(RESULTS_ENV)
        if out:
            Path(out).write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1), encoding="utf-8")


def markdown_table(rows: list[Row]) -> str:
    lines = ["| figure | value | reference | ratio | target | met | peak memory |", "|---|---:|---|---:|---|---|---:|"]
    for r in rows:
        met = "" if r.met is None else ("met" if r.met else "**not met**")
        lines.append(f"| {r.figure} | {r.value} | {r.reference} | {r.ratio} | {r.target} | {met} | {r.peak} |")
    return "\n".join(lines)


def seconds(value: float, cpu: float | None = None) -> str:
    text = f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    return text + (f" ({cpu:.3f} s CPU)" if cpu is not None else "")


def quick_flag(parser: Any) -> None:
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller sizes (make bench QUICK=1)")
