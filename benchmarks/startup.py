"""Start-up cost of the CLI: `flywheel --help`, `--version`, `plugins`, and `run`/`validate` of a
small session, against `python -c "import typer"`, all plugins installed.

Run: .venv/bin/python benchmarks/startup.py [--runs N] [--quick]
Whole processes, taking turns, median wall and CPU time of N runs, each a ratio to the reference
measured in this run. Target (issue 18): `flywheel --help` and `flywheel run` of a small session
within 1.5x of the reference, judged on CPU time (on a shared machine the wall time adds the
wait for a free core, which has nothing to do with flywheel).

A second reference, the libraries' floor, is `run`'s chosen libraries imported and nothing else
(typer for the CLI, Jinja2 to render, attrs + cattrs for the models, filelock for the lock, pluggy
for the plugins: /work/shared/STYLE.md): `run`'s ratio to it is the share that is flywheel's own.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _bench import FLYWHEEL, PY, ROOT, Report, compare, quick_flag, run, seconds


#: What `flywheel run` of a build session cannot do without: the libraries STYLE.md chose for its steps.
RUN_LIBRARIES = ("typer", "jinja2", "attrs", "cattrs", "filelock", "pluggy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    quick_flag(parser)
    args = parser.parse_args()
    runs = 7 if args.quick else args.runs
    plugins = run([FLYWHEEL, "plugins", "--json"]).stdout.decode().count('"distribution"')
    with tempfile.TemporaryDirectory(prefix="flywheel-bench-startup-") as tmp:
        work = Path(tmp)
        pristine = ROOT / "examples" / "minimal_build_session.json"
        session = work / "work_session.json"
        shutil.copyfile(pristine, session)

        def fresh(name: str) -> None:  # `flywheel run` records its artifacts in the session file
            if name == "run":
                shutil.copyfile(pristine, session)
                shutil.rmtree(work / "out", ignore_errors=True)

        commands = {
            "reference": [PY, "-c", "import typer"],
            "floor": [PY, "-c", f"import {', '.join(RUN_LIBRARIES)}"],
            "--help": [FLYWHEEL, "--help"],
            "--version": [FLYWHEEL, "--version"],
            "plugins": [FLYWHEEL, "plugins"],
            "validate": [FLYWHEEL, "validate", session],
            "run": [FLYWHEEL, "run", session, "--out", work / "out"],
            "python": [PY, "-c", "pass"],
        }
        stats = compare(commands, runs, prepare=fresh, cwd=work)
    ref = stats["reference"]
    report = Report("startup", "CLI start-up", f"`.venv/bin/python benchmarks/startup.py --runs {runs}`: "
                    f"{plugins} plugins installed, median of {runs} whole processes taking turns")
    report.add('`python -c "import typer"`', seconds(ref.wall, ref.cpu), reference="(reference)", ratio="1.00×",
               peak_mib=ref.peak_mib)
    targets = {"--help": 1.5, "run": 1.5}
    labels = {"--help": "`flywheel --help`", "--version": "`flywheel --version`", "plugins": "`flywheel plugins`",
              "validate": "`flywheel validate` (small build session)",
              "run": "`flywheel run` (small build session: 4 artifacts written)",
              "python": "`python -c pass` (for scale)"}
    floor = stats["floor"]
    report.add(f'`python -c "import {", ".join(RUN_LIBRARIES)}"` (the libraries `run` needs: its floor)',
               seconds(floor.wall, floor.cpu), reference="import typer",
               ratio=f"{floor.cpu / ref.cpu:.2f}× CPU ({floor.wall / ref.wall:.2f}× wall)", peak_mib=floor.peak_mib)
    for name, label in labels.items():
        s = stats[name]
        ratio = s.cpu / ref.cpu  # the process's own work; the wall ratio adds waiting for a core
        target = targets.get(name)
        report.add(label, seconds(s.wall, s.cpu), reference="import typer",
                   ratio=f"{ratio:.2f}× CPU ({s.wall / ref.wall:.2f}× wall)",
                   target=f"≤ {target}× CPU" if target else "", met=ratio <= target if target else None,
                   peak_mib=s.peak_mib)
    run_ = stats["run"]
    report.add("`flywheel run` against the libraries' floor", seconds(run_.wall, run_.cpu), reference="the floor",
               ratio=f"{run_.cpu / floor.cpu:.2f}× CPU ({run_.wall / floor.wall:.2f}× wall)",
               peak_mib=run_.peak_mib)
    report.note(f"flywheel's own share of `run`: {run_.cpu - floor.cpu:.3f} s CPU of {run_.cpu:.3f} s "
                f"(the rest is importing the libraries and starting Python).")
    report.note("Start-up handles no items, so there is no 1,000 → 10,000 growth to report; peak memory is per process.")
    report.finish()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
