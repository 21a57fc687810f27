"""Realistic repositories for the blog post tests and the README examples, written with one
``git fast-import``: a two-commit session, and a ~150-commit release by many people with pull
request merges, bots, co-authors, Conventional and plain subjects, and bodies that say why."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

ANN = ("Ann Example", "ann@example.com")
BRUNO = ("Bruno Costa", "bruno@example.org")
CHEN = ("Chen Wei", "chen.wei@example.net")
DANA = ("Dana Okafor", "dana@example.com")
EMIL = ("Emil Lindqvist", "emil@example.se")
FATIMA = ("Fatima Zahra", "fz@example.org")
DEPENDABOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
PRECOMMIT = ("pre-commit-ci[bot]", "66853113+pre-commit-ci[bot]@users.noreply.github.com")

PYPROJECT = '[project]\nname = "tidyparse"\ndescription = "A forgiving parser for messy configuration files"\n'

# The notable changes of the release: (subject, body, files, author, on a pull request branch).
NOTABLE = [
    ("feat(parser): accept trailing commas in lists and tables",
     "Hand-written config files often end a list with a comma, and tidyparse rejected them with a\n"
     "confusing 'unexpected token' error. The parser now accepts one trailing comma in lists and\n"
     "inline tables, as TOML 1.1 will.\n\nFixes #412", ["src/tidyparse/parser.py", "tests/test_parser.py"], BRUNO, True),
    ("feat(cli): add --strict to turn warnings into errors",
     "CI pipelines want a non-zero exit code when a file only parses with warnings. `tidyparse check\n"
     "--strict` now exits with 3 in that case; without the flag nothing changes.",
     ["src/tidyparse/cli.py", "tests/test_cli.py", "docs/cli.md"], CHEN, True),
    ("fix(lexer): keep line numbers right after a CRLF line ending",
     "Files saved on Windows reported every error one line too low after the first blank line,\n"
     "because the lexer counted \\r\\n as two line breaks.\n\nFixes #398\n\nCo-authored-by: Dana Okafor <dana@example.com>",
     ["src/tidyparse/lexer.py", "tests/test_lexer.py"], EMIL, True),
    ("perf(lexer): scan identifiers with one regular expression",
     "Tokenising a 5 MB file took 2.1 s; matching whole identifiers at once instead of character by\n"
     "character brings it to 0.6 s on the same machine.", ["src/tidyparse/lexer.py"], ANN, False),
    ("feat!: drop support for Python 3.8",
     "Python 3.8 reached its end of life in October 2024. Dropping it lets the parser use\n"
     "match statements and removes two compatibility shims.\n\nBREAKING CHANGE: tidyparse now needs Python 3.9 or newer.",
     ["pyproject.toml", "src/tidyparse/_compat.py", ".github/workflows/ci.yml"], ANN, False),
    ("Fix crash when an include file is missing",
     "A missing include raised FileNotFoundError from deep inside the loader. It is now reported as a\n"
     "normal parse error that names the including file and line.\n\nFixes #405",
     ["src/tidyparse/loader.py", "tests/test_loader.py"], FATIMA, True),
    ("Add `tidyparse.load_many()` for reading several files at once",
     "Projects that split their configuration over many files called load() in a loop and lost the\n"
     "information about which file a duplicate key came from. load_many() merges them and keeps it.",
     ["src/tidyparse/loader.py", "src/tidyparse/__init__.py", "tests/test_loader.py", "docs/api.md"], DANA, True),
    ("fix(parser): report the position of an unterminated string",
     "The error used to point at the end of the file, which for large files was useless.",
     ["src/tidyparse/parser.py", "tests/test_parser.py"], BRUNO, True),
    ("docs: rewrite the getting-started guide",
     "The old guide still showed the 1.x API.", ["docs/index.md", "docs/getting-started.md"], CHEN, False),
    ("refactor(parser): split the table parser out of parser.py",
     "parser.py had grown past 2,000 lines; the table rules now live in tables.py. No behaviour changes.",
     ["src/tidyparse/parser.py", "src/tidyparse/tables.py"], ANN, False),
    ("fix(cli): exit with 2, not 1, on a usage error",
     "Scripts could not tell a bad command line from a file with errors.",
     ["src/tidyparse/cli.py", "tests/test_cli.py"], CHEN, True),
    ("Handle byte order marks at the start of a file",
     "Editors on Windows add a UTF-8 BOM; it was read as part of the first key.",
     ["src/tidyparse/lexer.py", "tests/test_lexer.py"], EMIL, True),
]

# Small changes, one line each, no body: (subject, files, author).
SMALL = [
    ("Fix typo in README", ["README.md"], DANA),
    ("docs: fix broken link to the changelog", ["docs/index.md"], FATIMA),
    ("test: cover empty files", ["tests/test_parser.py"], BRUNO),
    ("Update docs/api.md", ["docs/api.md"], DANA),
    ("test(lexer): add cases for tabs in keys", ["tests/test_lexer.py"], EMIL),
    ("ci: run the tests on Python 3.13", [".github/workflows/ci.yml"], ANN),
    ("chore: tidy imports", ["src/tidyparse/cli.py", "src/tidyparse/loader.py"], ANN),
    ("Improve error message for duplicate keys", ["src/tidyparse/parser.py"], BRUNO),
    ("docs: document load_many", ["docs/api.md"], DANA),
    ("fix: typo in warning text", ["src/tidyparse/parser.py"], CHEN),
    ("test: speed up the fuzz tests", ["tests/test_fuzz.py"], FATIMA),
    ("build: use hatchling", ["pyproject.toml"], ANN),
    ("Remove unused helper", ["src/tidyparse/_compat.py"], EMIL),
    ("docs: add a FAQ entry about BOMs", ["docs/faq.md"], EMIL),
    ("refactor: rename Token.kind to Token.type", ["src/tidyparse/lexer.py", "src/tidyparse/parser.py"], BRUNO),
    ("Clarify --strict in the help text", ["src/tidyparse/cli.py"], CHEN),
    ("test: check CRLF files end to end", ["tests/test_loader.py"], DANA),
    ("Update changelog", ["CHANGELOG.md"], ANN),
]


def _blob(rng: random.Random, path: str, files: dict[str, list[str]], grow: int) -> bytes:
    lines = files.setdefault(path, [f"# {path}"])
    for _ in range(grow):
        if len(lines) > 3 and rng.random() < 0.25:
            lines.pop(rng.randrange(1, len(lines)))
        else:
            lines.insert(rng.randrange(1, len(lines) + 1), f"line {rng.random():.6f}")
    return ("\n".join(lines) + "\n").encode()


def write_history(path: Path, commits: list[dict], remote: str | None = None) -> None:
    """Write ``commits`` (dicts: ref, message, author, when, files {path: bytes}, parents [marks],
    mark) with one ``git fast-import``; main is checked out."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    out: list[bytes] = []
    for c in commits:
        name, email = c["author"]
        msg = c["message"].encode()
        out.append(f"commit {c['ref']}\nmark :{c['mark']}\n".encode())
        out.append(f"author {name} <{email}> {c['when']} +0000\ncommitter {name} <{email}> {c['when']} +0000\n".encode())
        out.append(b"data %d\n" % len(msg) + msg + b"\n")
        if c.get("parents"):
            out.append(f"from :{c['parents'][0]}\n".encode())
            out += [f"merge :{p}\n".encode() for p in c["parents"][1:]]
        for name_, data in c.get("files", {}).items():
            out.append(b"M 100644 inline " + name_.encode() + b"\ndata %d\n" % len(data) + data + b"\n")
        out.append(b"\n")
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=b"".join(out), check=True)
    subprocess.run(["git", "-C", str(path), "checkout", "-q", "-f", "main"], check=True)
    if remote:
        subprocess.run(["git", "-C", str(path), "remote", "add", "origin", remote], check=True)


def two_commit_repo(path: Path) -> None:
    """A small session: a feature and a fix, both explained in their bodies."""
    t = 1764658800  # 2025-12-02 07:00 UTC
    files: dict[str, list[str]] = {}
    rng = random.Random(1)
    base = {"ref": "refs/heads/main", "mark": 1, "author": ANN, "when": t - 86400, "message": "Initial import\n",
            "files": {"pyproject.toml": PYPROJECT.encode(), "src/tidyparse/parser.py": _blob(rng, "src/tidyparse/parser.py", files, 40)}}
    feat = {"ref": "refs/heads/main", "mark": 2, "author": ANN, "when": t, "parents": [1],
            "message": "feat(parser): accept trailing commas in lists\n\nHand-written config files often end a list "
            "with a comma, and tidyparse\nrejected them with a confusing 'unexpected token' error. One trailing\n"
            "comma is now accepted, as TOML 1.1 will.\n\nFixes #412\n",
            "files": {"src/tidyparse/parser.py": _blob(rng, "src/tidyparse/parser.py", files, 12),
                      "tests/test_parser.py": _blob(rng, "tests/test_parser.py", files, 20)}}
    fix = {"ref": "refs/heads/main", "mark": 3, "author": ANN, "when": t + 2400, "parents": [2],
           "message": "fix: report the line of an unterminated string\n\nThe error pointed at the end of the file, "
           "which for a large file\nwas no help at all.\n",
           "files": {"src/tidyparse/parser.py": _blob(rng, "src/tidyparse/parser.py", files, 3)}}
    write_history(path, [base, feat, fix], remote="https://github.com/example/tidyparse.git")
    subprocess.run(["git", "-C", str(path), "tag", "v2.3.0", "HEAD~2"], check=True)


def release_repo(path: Path, seed: int = 7) -> None:
    """tidyparse 2.4.0: ~150 commits by six people and two bots over three weeks, with pull request
    merges (two parents), one squashed "Merge pull request" commit (one parent, real changes),
    Conventional and plain subjects, bodies that say why, co-authors. Tagged v2.3.0 at its base."""
    rng = random.Random(seed)
    files: dict[str, list[str]] = {}
    commits: list[dict] = []
    when = 1762851600  # 2025-11-11 09:00 UTC
    mark = 0

    def add(message: str, author: tuple[str, str], paths: list[str], parents: list[int], ref: str = "refs/heads/main",
            grow: int | None = None, gap: int | None = None) -> int:
        nonlocal mark, when
        mark += 1
        when += gap if gap is not None else rng.choice([600, 1200, 1800, 2700, 5400, 14400, 30000])
        blobs = {p: _blob(rng, p, files, grow or rng.randint(2, 30)) for p in paths}
        commits.append({"ref": ref, "mark": mark, "author": author, "when": when, "message": message + "\n",
                        "parents": parents, "files": blobs})
        return mark

    tip = add("Release 2.3.0", ANN, ["pyproject.toml", "src/tidyparse/parser.py", "src/tidyparse/lexer.py",
              "src/tidyparse/cli.py", "src/tidyparse/loader.py", "README.md", "docs/index.md"], [], grow=40)
    commits[-1]["files"]["pyproject.toml"] = PYPROJECT.encode()
    base = tip
    tip = add("Start version 2.4.0", ANN, ["CHANGELOG.md"], [tip])
    pr = 410
    notable = list(NOTABLE)
    small = list(SMALL)
    rng.shuffle(small)
    bots = [(f"Bump actions/{a} from {v} to {v + 1}", DEPENDABOT) for a, v in (("checkout", 3), ("setup-python", 4), ("cache", 3))]
    bots += [(f"build(deps): bump {lib} from 1.{i} to 1.{i + 1}", DEPENDABOT) for i, lib in enumerate(["hypothesis", "pytest", "coverage", "ruff"] * 2)]
    bots += [("[pre-commit.ci] pre-commit autoupdate", PRECOMMIT)] * 4 + [("[pre-commit.ci] auto fixes from pre-commit.com hooks", PRECOMMIT)] * 2
    rng.shuffle(bots)
    while notable or small or bots:
        roll = rng.random()
        if notable and roll < 0.3:
            subject, body, paths, author, on_branch = notable.pop(0)
            message = f"{subject}\n\n{body}"
            if on_branch:  # a pull request: the change, a follow-up, then a merge by a maintainer
                pr += 1
                branch = f"refs/heads/pr-{pr}"
                side = add(message, author, paths, [tip], ref=branch)
                if rng.random() < 0.6:
                    side = add(rng.choice(["Address review comments", "Add a test", "Fix lint"]), author, paths[-1:], [side], ref=branch)
                login = author[0].split()[0].lower()
                tip = add(f"Merge pull request #{pr} from {login}/topic-{pr}\n\n{subject}", rng.choice([ANN, BRUNO]), [],
                          [tip, side], gap=rng.choice([3600, 7200, 86400]))
            else:
                tip = add(message, author, paths, [tip])
        elif bots and roll < 0.45:
            subject, author = bots.pop()
            if author is DEPENDABOT:
                body = (f"Bumps [{subject.split()[-5]}](https://github.com/example/x) from {subject.split()[-3]} to "
                        f"{subject.split()[-1]}.\n- [Release notes](https://github.com/example/x/releases)\n\n"
                        "---\nupdated-dependencies:\n- dependency-name: x\n\nSigned-off-by: dependabot[bot] <support@github.com>")
                paths = [".github/workflows/ci.yml"] if "actions/" in subject else ["requirements-dev.txt"]
            else:
                body = "updates:\n- [github.com/astral-sh/ruff-pre-commit: v0.6.0 → v0.6.1](https://github.com/x)"
                paths = [".pre-commit-config.yaml"]
            tip = add(f"{subject}\n\n{body}", author, paths, [tip], gap=rng.choice([3600, 20000]))
        elif small:
            subject, paths, author = small.pop()
            tip = add(subject, author, paths, [tip])
        else:  # filler: the many small commits of a real release
            continue
        for _ in range(rng.choice([1, 2, 3])):  # everyday commits between the notable ones
            author = rng.choice([ANN, BRUNO, CHEN, DANA, EMIL, FATIMA])
            area = rng.choice(["parser", "lexer", "loader", "cli"])
            subject = rng.choice([
                f"Fix {area} edge case with empty input", f"test({area}): more cases", f"Tidy {area} code",
                f"docs: clarify {area} behaviour", f"fix({area}): off-by-one in error column", f"Refactor {area} helpers",
            ])
            paths = [f"src/tidyparse/{area}.py"] if not subject.startswith(("test", "docs")) else [
                f"tests/test_{area}.py" if subject.startswith("test") else "docs/api.md"]
            tip = add(subject, author, paths, [tip])
    tip = add("Merge pull request #430 from fatima/squashed-docs\n\nSquashed: document the loader options",
              FATIMA, ["docs/api.md", "docs/loader.md"], [tip])  # one parent, real changes
    tip = add("Release 2.4.0", ANN, ["CHANGELOG.md", "pyproject.toml"], [tip])
    commits[-1]["files"]["pyproject.toml"] = PYPROJECT.encode()
    write_history(path, commits, remote="https://github.com/example/tidyparse.git")
    base_sha = subprocess.run(["git", "-C", str(path), "rev-list", "--reverse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.split()[0]
    subprocess.run(["git", "-C", str(path), "tag", "v2.3.0", base_sha], check=True)
    subprocess.run(["git", "-C", str(path), "tag", "v2.4.0", "HEAD"], check=True)
    assert base == 1
