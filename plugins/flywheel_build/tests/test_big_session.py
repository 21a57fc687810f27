"""A big session (more than 15 changes) from real git repositories: "area: text" subjects read as
scope and description, an opening that says who made the main change in a sentence that stays
true, where the rest was and which branches were merged, leads cut at clauses, no "Also:"."""

from __future__ import annotations

import json
import re

import pytest

from flywheel_build.facts import classify, kind_of

ANN = ("Ann Example", "ann@example.com")
BOB = ("Bob Stone", "bob@example.org")
PYPROJECT = '[project]\nname = "flywheel-core"\n'


def run_repo(fw, tmp_path, repo, *args: str) -> tuple[dict, dict[str, str], dict, dict]:
    """``collect build`` then ``run``: (session, artifacts by file name, the social posts, the blog
    post's provenance)."""
    path = tmp_path / "s.json"
    result = fw("collect", "build", "--repo", str(repo.path), "--agent", "Agent-7", "-o", str(path), *args)
    assert result.exit_code == 0, result.output
    run = fw("run", str(path), "-o", str(tmp_path / "out"), "--json")
    assert run.exit_code == 0, run.output
    doc = json.loads(path.read_text(encoding="utf-8"))
    folder = tmp_path / "out" / "build" / doc["session_id"]
    arts = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}
    return doc, arts, json.loads(arts["social_post.json"]), run.json()[0]["artifacts"]["blog_post"]["meta"]["provenance"]


def plain(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def paragraphs(blog: str) -> list[str]:
    """The post's paragraphs after the date line, citations taken out."""
    return [plain(re.sub(r" \((?:\[`[^`]+`\]\([^)]*\)|`[^`]+`)[^()]*\)", "", p)) for p in blog.split("\n\n")[2:]]


# -- "area: text" subjects -------------------------------------------------------------------


@pytest.mark.parametrize("subject, scope, description, kind", [
    # This repository's, Linux's, Go's: the area is a scope, the kind is what the text says.
    ("flywheel-build: the blog post opens with who made what in past-tense prose", "flywheel-build",
     "the blog post opens with who made what in past-tense prose", "other"),
    ("flywheel-publish-web pages: tags leave out the session type", "flywheel-publish-web pages", "tags leave out the session type", "other"),
    ("flywheel_core: export refuse_special and check_git_dir", "flywheel_core", "export refuse_special and check_git_dir", "other"),
    ("mm/slub: fix use-after-free in kmem_cache_destroy", "mm/slub", "fix use-after-free in kmem_cache_destroy", "fix"),
    ("net/http: add Server.Shutdown for graceful shutdown", "net/http", "add Server.Shutdown for graceful shutdown", "feat"),
    ("cmd/go: do not panic on an empty GOFLAGS", "cmd/go", "do not panic on an empty GOFLAGS", "other"),
    ("ALSA: hda/realtek: Add quirk for HP EliteBook 840 G8", "ALSA/hda/realtek", "Add quirk for HP EliteBook 840 G8", "feat"),
    ("Bluetooth: btusb: Add support for Realtek RTL8852BE", "Bluetooth/btusb", "Add support for Realtek RTL8852BE", "feat"),
    ("cli: remove the deprecated --json-v1 flag", "cli", "remove the deprecated --json-v1 flag", "removal"),
    # An issue number is no area: it is said after the text (CPython's, Jira's); nor is the whole tree.
    ("gh-112345: Fix a crash in asyncio.TaskGroup when a task is cancelled", None,
     "Fix a crash in asyncio.TaskGroup when a task is cancelled (gh-112345)", "fix"),
    ("bpo-42424: Document the timeout argument", None, "Document the timeout argument (bpo-42424)", "docs"),
    ("KAFKA-15432: Fix the consumer's rebalance loop", None, "Fix the consumer's rebalance loop (KAFKA-15432)", "fix"),
    ("all: fix typos in comments", None, "fix typos in comments", "docs"),
    # Conventional commits as they always were.
    ("feat(cli): add --json to status", "cli", "add --json to status", "feat"),
    ("fix!: drop the v1 wire format", None, "drop the v1 wire format", "breaking"),
    ("docs: fix the install command", None, "fix the install command", "docs"),
    # Not an area: left as written.
    ("Merge branch 'posts'", None, "Merge branch 'posts'", "other"),
    ('Revert "flywheel-build: the blog post opens with who made what"', None,
     'Revert "flywheel-build: the blog post opens with who made what"', "other"),
    ("Fixed #35000 -- Made QuerySet.values() keep the field order.", None,
     "Fixed #35000 -- Made QuerySet.values() keep the field order.", "fix"),
    ("Rollup merge of #123456 - compiler-errors:fix-ice, r=oli-obk", None,
     "Rollup merge of #123456 - compiler-errors:fix-ice, r=oli-obk", "other"),
    ("https://example.org/x: mirror moved", None, "https://example.org/x: mirror moved", "other"),
    ("Note: this release drops Windows 7", None, "Note: this release drops Windows 7", "other"),
    ("WIP: parser rewrite", None, "WIP: parser rewrite", "other"),
    ("v2.0: release notes", None, "v2.0: release notes", "chore"),
    ("Release notes: 3.1.0", None, "Release notes: 3.1.0", "chore"),
    ("Update docs: mention the new flag", None, "Update docs: mention the new flag", "docs"),
    ("style: format with black", None, "style: format with black", "other"),
    ("Dockerfile: use the slim image", None, "Dockerfile: use the slim image", "other"),
])
def test_subjects_of_real_projects(subject, scope, description, kind):
    from flywheel_build.facts import CommitFact

    kind_, scope_, desc, breaking, note = classify(subject)
    assert (scope_, desc) == (scope, description)
    c = CommitFact(hash="a" * 40, short="aaaaaaa", code="`aaaaaaa`", url=None, subject=subject, body="", type=kind_, scope=scope_,
                   description=desc, breaking=breaking, breaking_note=note, author="Ann", bot=False, co_authors=(), merge=False,
                   merge_guessed=False, when=None, files=("src/x.py",), insertions=1, deletions=1, verified=None)
    assert kind_of(c) == kind
    assert c.area == (scope if kind_ == "other" else None)


# -- the demo: this repository's own history ---------------------------------------------------


def this_repository(repo) -> None:
    """A history shaped like flywheel's own (its last main-line commits, merges of branches):
    "area: text" subjects whose text is no verb phrase, long subjects with "; " clauses."""
    hour = iter(range(8, 60))

    def at() -> str:
        n = next(hour)
        return f"2026-11-29T{n // 4:02d}:{n % 4 * 15:02d}:00Z"

    repo.commit("Initial import", {"pyproject.toml": PYPROJECT, "flywheel_core/__init__.py": "x = 0\n"}, when=at())
    files = 0

    def change(subject: str, path: str, author=ANN, body: str = "") -> None:
        nonlocal files
        files += 1
        # The main change is the biggest, then the long subjects; the everyday ones are small.
        lines = 200 if "who made what" in subject else 50 if len(subject) > 100 else 1
        repo.commit(subject + (f"\n\n{body}" if body else ""), {path: "".join(f"x = {n}\n" for n in range(lines))},
                    when=at(), author=author)

    for branch, subjects in [
        ("posts", ["flywheel-build: tests follow the new opening and past-tense titles",
                   "flywheel-build: the blog post opens with who made what in past-tense prose, titles in the past tense, "
                   "posts without 'Also:' fragments"]),
        ("gitsafe", ["flywheel-publish-github: a deadline on every local git command of the cache repository (60 s probes, "
                     "600 s fast-import/log/ls-tree), FIFOs at its HEAD/config/alternates/grafts refused up front, no askpass "
                     "dialogs (was: a hung git hung publish and the worker for ever)",
                     "flywheel-publish-github: clear lock files a git killed at its deadline left in the cache repository"]),
        ("lean", ["flywheel run: open no queue when no target is enabled and none exists (was opened for every run); "
                  "flywheel-build: parse_when in its own small module (validate imported all of facts for it); tests: what "
                  "validate and the web target's publish import"]),
    ]:
        repo.git("checkout", "-q", "-b", branch)
        for subject in subjects:
            area = subject.split(":")[0].split()[0].replace("-", "_")
            change(subject, f"plugins/{area}/{area}/m{files}.py", BOB if branch == "gitsafe" else ANN)
        repo.git("checkout", "-q", "main")
        repo.git("merge", "-q", "--no-ff", "-m", f"Merge branch '{branch}'", branch, env=repo.env(at(), *ANN))
    for i in range(14):
        area = ["flywheel-publish-web", "flywheel_core", "flywheel-trade"][i % 3]
        change(f"{area}: the pages say {i} things once", f"plugins/{area.replace('-', '_')}/{area.replace('-', '_')}/p{i}.py")
    change("flywheel-publish-web pages: tags leave out the session type, internal ids and near-duplicates (was: '#trade "
           "#MSFT #AAPL #trading', '#life_aria'); the provenance names the session only when the body does not (was: the "
           "build page showed it twice)", "plugins/flywheel_publish_web/flywheel_publish_web/tags.py",
           body="The type keeps its tag page at the address it always had (tags/life-aria/), named by its label.")
    change("docs/examples.md regenerated (make docs): the Build sections say how the post now opens", "docs/examples.md")


def test_a_big_session_of_area_subjects_reads_as_a_story(fw, git_repo, tmp_path):
    repo = git_repo()
    this_repository(repo)
    doc, arts, posts, prov = run_repo(fw, tmp_path, repo)
    blog = arts["blog_post.md"]
    title = blog.splitlines()[0]
    # Fault 1: the area is a scope, said in words, not a second "area:" after the project's (here
    # "<project>: " would take the title past 90 characters, so the change stands alone).
    assert title == "# In flywheel-build, the blog post opens with who made what in past-tense prose", title
    assert "flywheel-build: the" not in title
    first, overview = paragraphs(blog)[:2]
    # Fault 2: who made the main change, in a sentence that stays true; no subject quoted.
    assert first == ("Ann Example changed flywheel-build: the blog post opens with who made what in past-tense prose, "
                     "titles in the past tense."), first
    assert "committed “" not in blog
    # ... then what the rest was about, and (fault 4) the branches the merges brought in.
    assert overview.startswith("25 commits by Ann Example (20) and Bob Stone (2): 22 changes and 3 merges. "), overview
    assert "Besides the main change, the work was mostly in flywheel-publish-web (6 changes), flywheel_core (5) and flywheel-trade (4). " in overview
    assert overview.endswith("The 3 merges brought in the branches posts, gitsafe and lean."), overview
    # Fault 3: no "Also:" label, no lead cut mid-sentence.
    assert "Also:" not in blog and "…" not in blog, blog
    assert "\nMore changes to the code:\n\n- " in blog, blog
    assert ("**flywheel-publish-web pages: tags leave out the session type, internal ids and near-duplicates (was: '#trade "
            "#MSFT #AAPL #trading', '#life_aria')**. The type keeps") in plain(blog), blog
    listed = re.findall(r"^- (.+?) \(\[?`", plain(blog), re.M)
    assert "flywheel run: open no queue when no target is enabled and none exists (was opened for every run)" in listed, listed
    assert "flywheel-publish-github: a deadline on every local git command of the cache repository" in listed, listed
    # Every sentence of the opening and the overview is traced.
    said = {s["text"]: s["from"] for s in prov["sentences"]}
    assert said[first.removesuffix(".")].startswith("commit ")
    assert said["The 3 merges brought in the branches posts, gitsafe and lean."].startswith("numbers.branches")
    assert any(t.startswith("Besides the main change") for t in said)
    # ... and each count it says is a list of commits a checker can read.
    assert {k: len(v) for k, v in prov["numbers"]["areas"].items()} == {"flywheel-publish-web": 6, "flywheel_core": 5, "flywheel-trade": 4}
    assert list(prov["numbers"]["branches"]) == ["posts", "gitsafe", "lean"]
    assert all(len(v) == 1 and v[0] in prov["numbers"]["merges"] for v in prov["numbers"]["branches"].values())
    # The posts: never two colons in a row ("The main change in X: Ann changed flywheel-build: ...").
    bluesky = posts["bluesky"][0]
    assert bluesky.startswith("In flywheel-core, Ann Example changed flywheel-build: the blog post opens with"), bluesky
    for network, parts in posts.items():
        assert "Also:" not in parts[0] and not re.search(r": [^.:]*flywheel-build: the", parts[0]), (network, parts[0])


def test_a_release_of_area_subjects_opens_with_a_verb_and_names_its_version(fw, git_repo, tmp_path):
    """Go's and Linux's "area: verb ..." subjects: the main change is told in the past tense with its
    area first; a range that ends at a version tag is that release, in the title and the posts."""
    repo = git_repo()
    repo.commit("Initial import", {"go.mod": "module example.org/tool\n", "net/http/server.go": "package http\n"},
                when="2025-12-01T08:00:00Z")
    repo.git("remote", "add", "origin", "https://github.com/example/gotool.git")
    repo.git("tag", "1.21.0")
    repo.commit("net/http: add Server.Shutdown for graceful shutdown",
                {"net/http/server.go": "package http\n" + "// shutdown\n" * 120}, when="2025-12-01T09:00:00Z")
    repo.commit("cmd/go: do not panic on an empty GOFLAGS", {"cmd/go/main.go": "package main\n" * 3}, when="2025-12-01T09:30:00Z",
                author=BOB)
    for i in range(16):
        area = ["runtime", "net/http", "cmd/go", "os"][i % 4]
        repo.commit(f"{area}: tidy comment {i}", {f"{area}/f{i}.go": f"package x // {i}\n"}, when=f"2025-12-01T1{i // 6}:{i % 6}0:00Z")
    repo.git("tag", "1.22.0")
    doc, arts, posts, prov = run_repo(fw, tmp_path, repo, "--rev-range", "1.21.0..1.22.0")
    blog = arts["blog_post.md"]
    title = blog.splitlines()[0]
    assert title.endswith(" 1.22.0: Added Server.Shutdown for graceful shutdown in net/http"), title
    first, overview = paragraphs(blog)[:2]
    assert first == "In net/http, Ann Example added Server.Shutdown for graceful shutdown.", first
    assert overview.startswith("18 commits by Ann Example (17) and Bob Stone (1): 1 new feature and 17 other changes."), overview
    assert overview.endswith("Besides the main change, the work was mostly in cmd/go (5 changes), net/http (4) and os (4)."), overview
    assert "merges brought" not in overview  # no merge: nothing to say of branches
    assert posts["bluesky"][0].replace("\u2060", "").startswith("The main change in gotool 1.22.0: In net/http, Ann Example added Server.Shutdown"), \
        posts["bluesky"][0]
    # "do not panic" is what the code does now, not what its author "did not" do.
    assert "did not panic" not in blog and all("did not panic" not in p[0] for p in posts.values())


def test_a_lead_is_cut_at_a_clause_or_not_at_all(git_repo, tmp_path):
    from flywheel_build.facts import CommitFact
    from flywheel_build.story import _lead

    def fact(subject: str) -> CommitFact:
        kind, scope, desc, breaking, note = classify(subject)
        return CommitFact(hash="a" * 40, short="aaaaaaa", code="`aaaaaaa`", url=None, subject=subject, body="", type=kind,
                          scope=scope, description=desc, breaking=breaking, breaking_note=note, author="Ann", bot=False,
                          co_authors=(), merge=False, merge_guessed=False, when=None, files=(), insertions=1, deletions=1,
                          verified=None)

    # This repository's 6378dd9: three areas in "; " clauses; the first is the lead.
    assert _lead(fact("flywheel run: open no queue when no target is enabled and none exists (was opened for every run); "
                      "flywheel-build: parse_when in its own small module (validate imported all of facts for it); tests: what "
                      "validate and the web target's publish import")) == \
        "flywheel run: open no queue when no target is enabled and none exists (was opened for every run)"
    # 149f39f: no "; ": the aside in brackets is where it may end; a list's ", " is no boundary.
    assert _lead(fact("flywheel-publish-github: a deadline on every local git command of the cache repository (60 s probes, "
                      "600 s fast-import/log/ls-tree), FIFOs at its HEAD/config/alternates/grafts refused up front, no "
                      "askpass/GCM/ssh-askpass dialogs (was: a hung git hung publish and the worker for ever)")) == \
        "flywheel-publish-github: a deadline on every local git command of the cache repository"
    # No boundary at all: whole, never "…".
    long = "Make " + " ".join(["the parser accept one more odd case"] * 6)
    assert _lead(fact(long)) == long
    # Two sentences: the first.
    assert _lead(fact("Fix the crash on empty input. " + "The loader now checks the size first and says which file was empty "
                      "before it reads any further, which took a while to get right on every platform we support.")) == "Fix the crash on empty input."


def fact(subject: str, files: tuple[str, ...] = ("src/x.py",)):
    from flywheel_build.facts import CommitFact

    kind, scope, desc, breaking, note = classify(subject)
    return CommitFact(hash="a" * 40, short="aaaaaaa", code="`aaaaaaa`", url=None, subject=subject, body="", type=kind, scope=scope,
                      description=desc, breaking=breaking, breaking_note=note, author="Ann", bot=False, co_authors=(), merge=False,
                      merge_guessed=False, when=None, files=files, insertions=1, deletions=1, verified=None)


@pytest.mark.parametrize("subject, said", [
    # A text that is no verb phrase is said after a colon, as written: never "tagged leave out".
    ("flywheel-publish-web pages: tags leave out the session type", "Ann changed flywheel-publish-web pages: tags leave out the session type"),
    ("flywheel-build: tests follow the new opening", "Ann changed flywheel-build: tests follow the new opening"),
    ("flywheel-build: the blog post opens with who made what", "Ann changed flywheel-build: the blog post opens with who made what"),
    ("flywheel-publish-github: a deadline on every local git command",
     "Ann changed flywheel-publish-github: a deadline on every local git command"),
    # An imperative is told in the past tense, its area first; what the code now does, with "made".
    ("net/http: add Server.Shutdown", "In net/http, Ann added Server.Shutdown"),
    ("mm/slub: fix use-after-free in kmem_cache_destroy", "In mm/slub, Ann fixed use-after-free in kmem_cache_destroy"),
    ("cli: remove the --x flag", "In the cli, Ann removed the --x flag"),
    ("cmd/go: do not panic on an empty GOFLAGS", "Ann made cmd/go not panic on an empty GOFLAGS"),
    ("cli: accept trailing commas", "Ann made the cli accept trailing commas"),
    ("gh-112345: Fix a crash in asyncio", "Ann fixed a crash in asyncio (gh-112345)"),
    # Conventional commits and plain subjects, as before.
    ("feat(parser): accept trailing commas", "Ann made the parser accept trailing commas"),
    ("Add config and docs for limits", "Ann added config and docs for limits"),
    ("docs(api): api overhaul", "Ann changed the api: api overhaul"),
    ("Initial import", "Ann made the main change: Initial import"),
])
def test_what_a_commit_did_in_a_sentence_that_stays_true(subject, said):
    from flywheel_build.story import said_clause, said_sentence

    assert said_sentence(fact(subject), "Ann") == said
    clause = said_clause(fact(subject))  # the small session's opening: None means "committed “...”"
    assert clause is None or clause in said or said.startswith("In "), (clause, said)
