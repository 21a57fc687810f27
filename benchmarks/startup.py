"""Start-up cost of the CLI: `flywheel --help` and `flywheel plugins` vs `python -c "import typer"`.

Run: .venv/bin/python benchmarks/startup.py [--runs N]
Reports the median wall time of each command over N runs and its ratio to the reference,
all measured in this run on this machine. Target: `flywheel --help` <= 2x the reference
with every plugin installed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def median_seconds(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=False)  # warm the OS cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    plugins = subprocess.run([BIN / "flywheel", "plugins", "--json"], capture_output=True, text=True)
    count = plugins.stdout.count('"distribution"')
    print(f"plugins installed: {count}")
    reference = median_seconds([sys.executable, "-c", "import typer"], args.runs)
    label = 'python -c "import typer"'
    print(f"{label:<28} {reference:7.3f} s  1.00x (reference)")
    worst = 0.0
    for name, cmd in [
        ("flywheel --help", [BIN / "flywheel", "--help"]),
        ("flywheel plugins", [BIN / "flywheel", "plugins"]),
        ("flywheel --version", [BIN / "flywheel", "--version"]),
    ]:
        seconds = median_seconds([str(c) for c in cmd], args.runs)
        ratio = seconds / reference
        worst = max(worst, ratio) if name == "flywheel --help" else worst
        print(f"{name:<28} {seconds:7.3f} s  {ratio:4.2f}x")
    print(f"target: flywheel --help <= 2.00x: {'met' if worst <= 2.0 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
