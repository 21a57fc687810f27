"""Commit subjects as past-tense clauses ("Add X" -> "added a X"), file names as things, durations in words."""

from __future__ import annotations

import re

__all__ = ["clause", "duration_words", "is_verb", "says_nothing", "scope_phrase", "span_words", "things_in", "with_article"]

# Verbs a commit subject starts with, in the imperative. A subject whose first word is none of
# these (or their "-s"/"-ed" forms) is not turned into a clause: it is quoted as written.
_IRREGULAR = {
    "make": "made", "write": "wrote", "rewrite": "rewrote", "set": "set", "reset": "reset", "build": "built",
    "rebuild": "rebuilt", "run": "ran", "rerun": "reran", "keep": "kept", "read": "read", "split": "split",
    "put": "put", "let": "let", "bring": "brought", "catch": "caught", "throw": "threw", "teach": "taught",
    "speed": "sped", "hide": "hid", "send": "sent", "cut": "cut", "get": "got", "give": "gave", "take": "took",
    "find": "found", "begin": "began", "break": "broke", "choose": "chose", "do": "did", "undo": "undid",
    "redo": "redid", "draw": "drew", "hold": "held", "lead": "led", "lose": "lost", "say": "said", "tell": "told",
    "bind": "bound", "override": "overrode", "overwrite": "overwrote", "feed": "fed", "quit": "quit",
    "stick": "stuck", "shut": "shut", "go": "went", "see": "saw", "spin": "spun", "fall": "fell",
}
_REGULAR = set("""
accept adapt add adjust align allow annotate apply archive avoid backport batch bump cache cap change check
clarify clean clear clip close collapse collect combine comment compute configure connect consolidate convert
copy correct count cover create declare dedupe deduplicate default defer define delete deploy deprecate
describe detect disable display document download drop dump emit enable encode enforce ensure escape expand
explain export expose extend extract fail fetch filter fix flag flatten format generate group guard handle
harden honor honour ignore implement import improve include increase initialise initialize inline install
integrate introduce isolate label limit link lint list load localise localize lock log lower map mark merge
migrate mention move name normalise normalize note open optimise optimize order pass patch pin polish port
post prefer prepare prevent print protect provide prune publish queue quote raise rebase record reduce
refactor reformat refresh regenerate register reject release remove rename render reorder reorganise
reorganize repair replace report require resolve respect restore restructure retry return revert review
rework route save scan schedule search separate serve ship show simplify skip sort start stop store strip
support switch sync tag test tidy track translate treat trim truncate tune tweak unify unlock unpin update
upgrade upload use validate verify vendor warn wire wrap""".split())
# Verbs that say what the software does ("accept trailing commas"): with a scope, the clause
# says so ("made the parser accept trailing commas"), not that the author accepted anything.
_BEHAVIOUR = set("accept reject report keep return exit skip ignore emit run catch throw show hide read print say "
                 "warn fail respect honor honour treat prefer default fall work".split())
_DOUBLED = {"commit": "committed", "submit": "submitted", "omit": "omitted", "permit": "permitted", "control": "controlled",
            "unwrap": "unwrapped", "remap": "remapped", "retag": "retagged", "refer": "referred", "prefer": "preferred"}
# What a Conventional type says was done, when the description does not start with a verb ("fix: typo in ...").
_TYPE_VERB = {"feat": "added", "fix": "fixed"}
# Objects that take no article ("added support for", "added tests").
_MASS = set("support documentation docs config configuration logging validation caching tests typing type types "
            "coverage metadata data information info help guidance handling compatibility tooling more".split())
_DETERMINERS = set("a an the this that these those some any each every all more most its their our my your his her "
                   "no new another several one two three four five".split())
_ARTICLE_VERBS = {"added", "fixed", "implemented", "introduced", "created", "wrote", "built"}
_STOPS = set("to for in of with on from into at by via when if and or after before as so that which without".split())
_SPELLING = {"github": "GitHub", "gitlab": "GitLab", "api": "API", "cli": "CLI", "html": "HTML", "json": "JSON", "sql": "SQL",
             "http": "HTTP", "https": "HTTPS", "url": "URL", "urls": "URLs", "ui": "UI", "id": "ID", "ids": "IDs", "ci": "CI",
             "css": "CSS", "csv": "CSV", "xml": "XML", "yaml": "YAML", "toml": "TOML", "pdf": "PDF", "svg": "SVG", "rss": "RSS",
             "sqlite": "SQLite", "postgres": "Postgres", "oauth": "OAuth", "jwt": "JWT", "llm": "LLM", "io": "I/O", "db": "database"}
# File names that say nothing of what a file is.
_GENERIC = set("init main index utils util helpers helper common base core types constants const misc conftest setup "
               "models model config settings app lib mod version tests test".split())
# Verbs after "and" that cannot be read as a noun ("add tests and support" stays as it is).
_AND_VERB = re.compile(r"(\b(?:and|then) )(add|fix|remove|drop|rename|move|use|make|implement|introduce|simplify|improve|refactor|"
                       r"enable|disable|configure|replace|rewrite|bump|upgrade|delete|create|ensure|avoid|prevent|check|"
                       r"document|clean|tidy|deprecate|expose|allow)\b", re.I)
_WORD = re.compile(r"[A-Za-z]+")
# Subjects that say nothing of what changed ("fix", "wip", "update", "minor changes", "more work 2"):
# told as a clause they make "Agent-3 fixed, fixed and updated"; the post counts them instead.
_NOTHING = re.compile(
    r"(?i)^(?:(?:a|some|more|minor|small|quick|tiny|various|misc|little|final|last|another|few)\s+)*"
    r"(?:fix(?:es|ed)?|bug ?fix(?:es)?|hot ?fix|quick ?fix|wip|work in progress|update[sd]?|changes?|changed|tweaks?|"
    r"clean ?up|stuff|things|work|progress|save[ds]?|temp|tmp|misc|edits?|commit|tests?|testing|refactor(?:ing)?|"
    r"improvements?|done|more|again|minor|asdf|x+|\.+)[\s\d.!?…_-]*$")
_PLAIN = re.compile(r"^[A-Za-z][a-z]*$")


def _base(word: str) -> str | None:
    """The verb ``word`` is a form of ("adds", "added", "dropped" -> "drop"), or None."""
    w = word.lower()
    known = _REGULAR | _BEHAVIOUR | set(_IRREGULAR) | set(_DOUBLED)
    if w in known:
        return w
    past = {v: k for k, v in _IRREGULAR.items()}
    if w in past:
        return past[w]
    candidates = []
    if w.endswith("ies") or w.endswith("ied"):
        candidates.append(w[:-3] + "y")
    if w.endswith("es") or w.endswith("ed"):
        candidates += [w[:-2], w[:-1]]
        if len(w) > 4 and w[-3] == w[-4]:
            candidates.append(w[:-3])  # "dropped" -> "drop"
    if w.endswith("s"):
        candidates.append(w[:-1])
    return next((c for c in candidates if c in known), None)


def is_verb(word: str) -> bool:
    """``word`` is a verb a commit subject starts with ("add", "fixes", "dropped")."""
    return re.fullmatch(r"[A-Za-z]+", word) is not None and _base(word) is not None


def says_nothing(subject: str) -> bool:
    """``subject`` names no change at all: "fix", "wip", "update", "minor changes", "fixes 2"."""
    return bool(_NOTHING.match(" ".join(subject.split())))


def _english(text: str) -> bool:
    """A subject with no verb of ours reads as an English noun phrase ("typo in config loader"),
    not a sentence of another language ("Temperaturumrechnung korrigiert", "Sensoranbindung für
    BME280 hinzugefügt"): its words are ASCII, and its first is lower-case or an English little
    word ("in", "the") follows. Else a kind's verb before it would make "fixed a Temperatur...
    korrigiert"; the caller quotes it as written."""
    words = text.split()
    if not all(w.isascii() for w in words):
        return False
    return words[0].islower() or any(w.lower() in _STOPS | _DETERMINERS for w in words[1:])


def _past(verb: str) -> str:
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if verb in _DOUBLED:
        return _DOUBLED[verb]
    if verb.endswith("e"):
        return verb + "d"
    if re.search(r"[^aeiou]y$", verb):
        return verb[:-1] + "ied"
    if re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", verb):  # one syllable, ends vowel-consonant: "dropped"
        return verb + verb[-1] + "ed"
    return verb + "ed"


def with_article(phrase: str) -> str:
    """"a Phase 3 publication system", "an encoding parameter"; ``phrase`` as it is when it reads
    as plural, uncountable, already determined, or code ("SESSION_COOKIE_PARTITIONED config")."""
    words = phrase.split()
    if words and re.fullmatch(r"[A-Z]{2,5}", words[0]) and len(words) > 1:  # "an HTML export", "a CSV exporter"
        rest = with_article(" ".join(["x", *words[1:]]))
        return (("an " if words[0][0] in "AEFHILMNORSX" else "a ") + phrase) if rest.startswith("a ") else phrase
    if not words or not _PLAIN.match(words[0]) or words[0].lower() in _DETERMINERS | _MASS:
        return phrase
    head: list[str] = []
    for w in words:
        if w.lower() in _STOPS:
            break
        head.append(w)
    if any(not re.fullmatch(r"[A-Za-z0-9-]+", w) for w in head) or not head:
        return phrase  # code, quotes, punctuation: not a plain noun phrase
    noun = head[-1].lower()
    if noun in _MASS or (noun.endswith("s") and not noun.endswith(("ss", "us", "is"))) or noun.endswith("ing"):
        return phrase
    first = words[0].lower()
    vowel = first[0] in "aeio" or (first[0] == "u" and not first.startswith(("uni", "use", "usu", "uti")))
    return ("an " if vowel else "a ") + phrase


def clause(description: str, kind: str, scope: str | None = None) -> str | None:
    """What a commit's author did (see :func:`_clause`), with its scope ("in the parser") when the
    clause does not name it: alone, "added one" would lose its context."""
    said = _clause(description, kind, scope)
    if said and scope and scope.lower() not in said.lower():
        # "in the cli" reads as prose, and "(cli) (`abc1234`)" would stack two brackets.
        said += f" in {scope_phrase(scope)}" if scope_phrase(scope) else f" ({scope})"
    return said


def scope_phrase(scope: str) -> str | None:
    """"the cli" (a word), "flywheel-build" or "net/http" (a package or path: no article), None
    for anything else ("UI Kit")."""
    if re.fullmatch(r"[a-z][a-z0-9]*", scope):
        return f"the {scope}"
    return scope if re.fullmatch(r"[A-Za-z0-9][\w.+/-]*", scope) and re.search(r"[-_/.]", scope) else None


def _clause(description: str, kind: str, scope: str | None = None) -> str | None:
    """A commit's description as what its author did, in the past tense: "Add website publisher"
    -> "added a website publisher", "fix: typo in docs" -> "fixed a typo in docs",
    "fix(cli): exit with 2" -> "made the cli exit with 2". None when it does not start with a
    verb (nor is a feature or fix whose kind says the verb): the caller quotes it instead."""
    text = " ".join(description.split()).rstrip(" .")
    if not text:
        return None
    first, _, rest = text.partition(" ")
    if re.fullmatch(r"(?i)do|don't|dont|never", first) and (first.lower() != "do" or re.match(r"not\b", rest)):
        # "do not panic on ...": what the code does now, not what its author "did not" do.
        rest = rest.removeprefix("not ") if first.lower() == "do" else rest
        return f"made {scope_phrase(scope)} {'never' if first.lower() == 'never' else 'not'} {rest}" if scope and scope_phrase(scope) else None
    verb = _base(first) if re.fullmatch(r"[A-Za-z]+", first) else None
    if verb is None:
        done = _TYPE_VERB.get(kind)
        if done is None or not _PLAIN.match(first) or not _english(text):
            return None
        if _sentence_like(text):  # "feat: plants grow over real hours" is no thing one adds
            return f"fixed {text}" if done == "fixed" else f"added a feature: {text}"
        rest, past = text, done
    elif verb in _BEHAVIOUR and scope and scope_phrase(scope):
        return f"made {scope_phrase(scope)} {verb}{' ' + rest if rest else ''}"
    else:
        past = _past(verb)
    if verb == "speed" and rest.startswith("up "):
        return f"sped up {rest[3:]}"
    if not rest:
        return past
    # "Drop pypy 3.9 and add pypy 3.11 support": the second verb too.
    rest = _AND_VERB.sub(lambda m: f"{m[1]}{_past(m[2].lower())}", rest)
    if rest[:1].isupper() and _PLAIN.match(rest.split()[0]) and rest.split()[0].lower() in _DETERMINERS:
        rest = rest[0].lower() + rest[1:]  # "Add The parser" -> "added the parser"
    return f"{past} {with_article(rest) if past in _ARTICLE_VERBS else rest}"


def _sentence_like(text: str) -> bool:
    """"plants grow over real hours", "parser hangs on empty input": a subject and its verb, not
    a thing ("typo in warning text"), as far as a plural or a verb's "-s" in its first words tells."""
    head: list[str] = []
    for w in text.split():
        if w.lower() in _STOPS:
            break
        head.append(w.lower())
    plural = lambda w: w.endswith("s") and not w.endswith(("ss", "us", "is"))  # noqa: E731
    return len(head) >= 2 and (plural(head[0]) or plural(head[-1]))


def _spelled(word: str) -> str:
    return _SPELLING.get(word.lower(), word.lower())


def things_in(paths: list[str]) -> list[str]:
    """What the files are, by their names: ``publication/github_publisher.py`` -> "a GitHub
    publisher". Only names of two words or more ("parser.py" says too little to describe a
    change), never tests, docs or generic names ("utils.py")."""
    out = []
    for path in paths:
        stem = path.rsplit("/", 1)[-1].split(".", 1)[0]
        words = _WORD.findall(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem))
        if len(words) < 2 or stem.lower().strip("_") in _GENERIC or any(w.lower() in ("test", "tests", "spec") for w in words):
            continue
        article = with_article(" ".join(w.lower() for w in words)).split(" ", 1)[0]
        phrase = " ".join(_spelled(w) for w in words)
        out.append(f"{article} {phrase}" if article in ("a", "an") else phrase)
    return list(dict.fromkeys(out))


_NUMBERS = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]


def _count(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else f"{n:,}"


def span_words(minutes: float | None) -> str | None:
    """"an hour", "two hours", "40 minutes", "2 h 10 min"; None when unknown."""
    if minutes is None or minutes <= 0:
        return None
    total = max(1, round(minutes))
    hours, mins = divmod(total, 60)
    if not hours or (total < 120 and mins):
        return "a minute" if total == 1 else f"{total} minutes"
    if not mins:
        return "an hour" if hours == 1 else f"{_count(hours)} hours"
    return f"{hours:,} h {mins} min"


def duration_words(minutes: float | None, estimated: bool) -> str | None:
    """"In a two-hour session", "In a 40-minute session", "In about three hours of work"
    (estimated from commit times); None when unknown."""
    span = span_words(minutes)
    if span is None or minutes is None:
        return None
    if estimated:
        return f"In about {span} of work"
    total = max(1, round(minutes))
    hours, mins = divmod(total, 60)
    if not hours or (total < 120 and mins):
        return f"In a {total}-minute session"
    if not mins:
        return "In an hour-long session" if hours == 1 else f"In a {_count(hours)}-hour session"
    return f"In {span} of work"
