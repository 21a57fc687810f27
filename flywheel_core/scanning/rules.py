"""The detection rules: detect-secrets' named detectors, then flywheel's own context rules.

Each rule reads the whole (unescaped) text at once and yields ``Hit``s: the rule, the span, the
value its fingerprint is made of, and a masked preview. Rules never decide alone: the scanner
drops values the session declares, allow-listed ones, and a hit overlapping a stronger one.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import attrs

from flywheel_core.scanning.model import ScanContext, Severity, mask

__all__ = ["Hit", "Rule", "RULES", "DEFAULT_RULES", "find_hits"]


@attrs.frozen
class Hit:
    rule: str
    severity: Severity
    start: int
    end: int
    value: str  # what the fingerprint is made of; never stored
    preview: str


@attrs.frozen
class Rule:
    """A named rule: ``find(text, low, ctx)`` yields its hits in ``text`` (``low`` is the same
    text in lower case, for cheap gates and case-blind keyword search)."""

    name: str
    severity: Severity
    find: Callable[[str, str, ScanContext], Iterator[Hit]]
    rank: int  # lower wins when two hits overlap


# ---------------------------------------------------------------------------------------------
# Value heuristics shared by the rules
# ---------------------------------------------------------------------------------------------

_PUBLIC_PREFIX = re.compile(
    r"(?:gh[pousr]_|github_pat_|gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-|xox[a-z]-|xapp-"
    r"|[sr]k_live_|sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-)?|AKIA|ASIA|ABIA|ACCA"
    r"|AIza|npm_|pypi-|SG\.|sq0csp-|hf_|dop_v1_|eyJ|AccountKey="
    r"|https://hooks\.slack\.com/services/)"
)

_PLACEHOLDER_WORDS = frozenset(
    """none null nil true false yes no on off undefined redacted password passwd pass passphrase
    secret token key apikey api_key changeme change_me change-me example sample dummy test testing
    placeholder foo bar baz foobar xxx todo tbd empty default hidden masked required optional
    string str value values unset notset not_set secret_value your_password your_token""".split()
)
_PLACEHOLDER = re.compile(
    r"""(?ix)
    [<{\[(].*[>}\])]            # <password>, {token}, [secret], (hidden)
    | \$\{.*\} | \$\(.*\) | \$[a-z_]\w*     # ${PW}, $(cat pw), $TOKEN
    | %\(?\w*\)?s | \{\{.*\}\}            # %(pw)s, {{ secrets.X }}
    | [*x.#_•…-]+                # ****, xxxx, ....
    | (?:your|my|the|some)[_-]\w*           # your_token, my-secret
    | .*example.* | .*redacted.* | .*placeholder.* | .*dummy.* | .*fake.*
    """
)
_REFERENCE = re.compile(
    r"""(?x)
    [A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+         # settings.password, os.environ
    | [\w.]*[\[(].*                           # call or subscript: getpass(), env["PW"]
    | [a-z][a-z0-9]*(?:_[a-z0-9]+)+            # a snake_case name: password=pw_hash
    | [A-Z][A-Z0-9_]*_[A-Z0-9_]*              # an environment variable's name: GITHUB_TOKEN
    """
)
_PATHLIKE = re.compile(r"(?:~?/|[A-Za-z]:[\\/]|\\\\|\.\.?/|[a-z][a-z0-9+.-]*://)")


def _entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _classes(value: str) -> int:
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


@lru_cache(maxsize=1)
def _sequential() -> Callable[[str], bool]:
    from detect_secrets.filters.heuristic import is_sequential_string

    return is_sequential_string


def is_placeholder(value: str, key: str = "") -> bool:
    """A value that stands for a secret without being one: ``<password>``, ``${TOKEN}``,
    ``changeme``, ``xxxx``, ``****``, ``AKIA…EXAMPLE``, a run of one or two characters, a
    sequence (``abcdef``, ``123456``) or the key's own name (``password=password``)."""
    bare = value.strip().strip("\"'`")
    if len(set(bare.lower())) <= 2 or bare.lower() in _PLACEHOLDER_WORDS:
        return True
    if key and bare.lower().replace("-", "_") == key.lower().replace("-", "_"):
        return True
    if _PLACEHOLDER.fullmatch(bare) or "EXAMPLE" in bare:
        return True
    return _sequential()(bare)


def looks_random(value: str, min_len: int = 16) -> bool:
    """A token rather than a word or a name: long, two kinds of characters, high entropy."""
    return (
        len(value) >= min_len
        and " " not in value
        and _classes(value) >= 2
        and _entropy(value) >= 3.0
        and not is_placeholder(value)
        and not _PATHLIKE.match(value)
        and not re.fullmatch(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+", value)
        and not re.fullmatch(r"[a-z_.-]+|[A-Z_.-]+", value)  # a name: aws_access_key_id
    )


def _public_prefix(value: str) -> str:
    m = _PUBLIC_PREFIX.match(value)
    return m.group() if m else ""


def _token_hit(rule: str, start: int, end: int, value: str) -> Hit:
    return Hit(rule, "secret", start, end, value, mask(value, _public_prefix(value)))


_WORD = re.compile(r"[A-Za-z0-9]")
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_-]*")


def _boundary_before(text: str, start: int) -> bool:
    return start == 0 or not _WORD.match(text[start - 1])


# ---------------------------------------------------------------------------------------------
# detect-secrets' named detectors
# ---------------------------------------------------------------------------------------------

_TELEGRAM_GATE = re.compile(r"\d:[0-9A-Za-z_-]{35}")

#: detect-secrets secret types used, with how a match is taken: ``extend`` grows it to the end
#: of the token (a regex that stops at 24 characters must not leave the rest of a 99-character
#: key behind); ``boundary`` demands that the token starts a word (the short, prefix-less
#: formats: a Twilio SID must not be found inside a longer word).
#: ``gate``: lower-case strings one of which the text must contain before the plugin's regexes
#: run at all (a substring test costs well under a millisecond per megabyte; some of these
#: regexes cost 30 ms).
DETECT_SECRETS_TYPES: dict[str, dict[str, Any]] = {
    "AWS Access Key": {"boundary": True, "gate": ("akia", "asia", "abia", "acca", "a3t", "aws")},
    "Azure Storage Account access key": {"gate": ("accountkey=",)},
    "Basic Auth Credentials": {"gate": ("://",)},
    "Discord Bot Token": {"extend": True, "boundary": True},
    "GitHub Token": {"extend": True, "gate": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")},
    "GitLab Token": {"extend": True, "gate": ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-",
                                              "gr1348941", "glcbt-", "glimt-", "glptt-",
                                              "glagent-", "gloas-")},
    "JSON Web Token": {"extend": True, "gate": ("eyj",)},  # its regex stops before the signature
    "Mailchimp Access Key": {"boundary": True, "gate": re.compile(r"[0-9a-z]-us\d")},
    "NPM tokens": {"extend": True, "gate": ("_authtoken",)},
    "OpenAI Token": {"extend": True, "gate": ("t3blbkfj",)},
    "Private Key": {"gate": ("private key", "putty-user-key-file")},
    "PyPI Token": {"extend": True, "gate": ("pypi-",)},
    "SendGrid API Key": {"extend": True, "gate": ("sg.",)},
    "Slack Token": {"extend": True, "gate": ("xox", "hooks.slack.com")},
    "Square OAuth Secret": {"extend": True, "gate": ("sq0csp-",)},
    "Stripe Access Key": {"extend": True, "gate": ("k_live_",)},
    # Found in ".../bot<token>/getMe": only a digit before it means a longer number.
    "Telegram Bot Token": {"extend": True, "boundary": "digit", "gate": _TELEGRAM_GATE},
    "Twilio API Key": {"extend": True, "boundary": True},
}
#: detect-secrets' names shown differently here (its own name reads as a plural).
_RENAMED = {"NPM tokens": "NPM Token"}


@lru_cache(maxsize=1)
def _detect_secrets_plugins() -> dict[str, Any]:
    """One instance per detect-secrets plugin used, found by its secret type."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    classes = get_mapping_from_secret_type_to_class()
    return {name: classes[name]() for name in DETECT_SECRETS_TYPES if name in classes}


_VALUE_CUT = re.compile(r"[^\"'`<>\s\\]*")


def _gated(gate: Any, text: str, low: str) -> bool:
    if gate is None:
        return True
    if isinstance(gate, re.Pattern):
        return gate.search(text) is not None
    return any(g in low for g in gate)


def _ds_matches(secret_type: str, text: str, low: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, value) of every match of one detect-secrets plugin in ``text``.

    Its regexes run over the whole text at once (a regex per line per plugin, as
    ``scan_line`` does, is far slower); each match is then confirmed by the plugin's own
    ``analyze_string``, so a plugin's extra checks (a JWT must decode) still apply, and the
    value it yields (the password group of a URL) is located inside the match.
    """
    plugin = _detect_secrets_plugins().get(secret_type)
    if plugin is None:
        return
    how = DETECT_SECRETS_TYPES[secret_type]
    if not _gated(how.get("gate"), text, low):
        return
    for regex in plugin.denylist:
        for m in regex.finditer(text):
            whole = m.group()
            for value in dict.fromkeys(plugin.analyze_string(whole)):
                # Some values run to the end of the line (.npmrc's "npm_.+"): a value never
                # takes in a quote, a bracket or a backslash, so a span stays inside its string.
                if secret_type != "Private Key":  # its value is the words BEGIN … KEY
                    value = _VALUE_CUT.match(value).group()
                # The value's own group if it has one ("postgres://postgres:postgres@" holds the
                # password's text twice), else its first occurrence in the match.
                group = next((g for g in range(1, (m.re.groups or 0) + 1)
                              if m.group(g) and m.group(g).startswith(value)), None)
                offset = m.start(group) - m.start() if group else whole.find(value)
                if not value or offset < 0:
                    continue
                start, end = m.start() + offset, m.start() + offset + len(value)
                boundary = how.get("boundary")
                if boundary == "digit" and start > 0 and text[start - 1].isdigit():
                    continue
                if boundary is True and not _boundary_before(text, start):
                    continue
                if how.get("extend"):
                    end = _TOKEN_TAIL.match(text, end).end()
                yield start, end, text[start:end]


def _named_detector(secret_type: str) -> Callable[[str, str, ScanContext], Iterator[Hit]]:
    rule = _RENAMED.get(secret_type, secret_type)

    def find(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
        for start, end, value in _ds_matches(secret_type, text, low):
            body = value[len(_public_prefix(value)):]
            if is_placeholder(body) and not body.isdigit():
                continue
            yield _token_hit(rule, start, end, value)

    return find


_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=]{16,}")


_PEM_LINE = re.compile(r"[ \t]*(?:[A-Za-z0-9+/=]*|Proc-Type:.*|DEK-Info:.*|Comment:.*)\r?(?:\n|\Z)")
_B64_RUN = re.compile(r"[ \t]*[A-Za-z0-9+/=]*")


def _pem_body_end(text: str, pos: int) -> int:
    """Where a key block without its END line stops: after the last line of key material
    (and the key material that starts the first line that is something else, such as the
    closing quote of a JSON string)."""
    while pos < len(text):
        m = _PEM_LINE.match(text, pos)
        if not m or m.end() == pos:
            break
        pos = m.end()
    return _B64_RUN.match(text, pos).end()


def _private_keys(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
    """A PEM or PuTTY private key with its body, from the armour line to its end line.

    detect-secrets' regexes find the ``BEGIN … PRIVATE KEY`` words; a mention of them in
    prose (no armour, no key material) is not a key. The span covers the whole block, so
    redaction removes the key, not only its first line.
    """
    # detect-secrets yields the matches regex by regex (OPENSSH's before PKCS#8's), not in text
    # order: sort them, or a later key would hide an earlier one (and a block missing its END
    # line would run into the next key's).
    matches = sorted(_ds_matches("Private Key", text, low))
    seen = -1
    for i, (start, end, _) in enumerate(matches):
        if start < seen:
            continue
        limit = next((s for s, _e, _v in matches[i + 1:] if s >= end), len(text))
        if text.startswith("PuTTY", start):
            stop = text.find("Private-MAC:", end, limit)
            if stop < 0 or "Private-Lines:" not in text[end:stop]:
                continue
            stop = text.find("\n", stop)
            stop = len(text) if stop < 0 else stop
            head = "PuTTY-User-Key-File"
        else:
            armour = text.rfind("-----", max(0, start - 6), start)
            if armour < 0 or not text.startswith("-----", end):
                continue
            start = armour
            end_match = _PEM_END.search(text, end, min(limit, end + 100_000))
            stop = end_match.end() if end_match else min(limit, _pem_body_end(text, end + 5))
            head = text[start:end + 5]
        body = "".join(_PEM_BODY.findall(text, end + 5, stop))
        if len(body) < 32 or is_placeholder(body):
            continue
        seen = stop
        yield Hit("Private Key", "secret", start, stop, body, f"{head} ****")


def _basic_auth(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
    """``scheme://user:password@host`` (detect-secrets' detector), plus ``Authorization:
    Basic <base64 of user:password>``. A placeholder password, or one equal to the user name
    (``postgres://postgres:postgres@localhost``, a documented default), is not a finding."""
    for start, end, value in _ds_matches("Basic Auth Credentials", text, low):
        # The detector's value class admits quotes and backslashes: stop at them (a JSON or
        # Markdown string ends there, and a span must never swallow the closing quote).
        cut = re.search(r"[\"'`\\<>]", value)
        if cut:
            continue
        user_start = text.rfind("//", max(0, start - 256), start)
        user = text[user_start + 2:start - 1] if user_start >= 0 else ""
        if is_placeholder(value, key=user) or value == user:
            continue
        yield Hit("Basic Auth Credentials", "secret", start, end, value, mask(value))
    for m in _AUTH_HEADER.finditer(text) if "authorization" in low else ():
        if m.group(1).lower() != "basic":
            continue
        token = m.group(2)
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        user, sep, password = decoded.partition(":")
        if not sep or is_placeholder(password, key=user) or password == user:
            continue
        yield Hit("Basic Auth Credentials", "secret", m.start(2), m.end(2), token, "Basic " + mask(token))


# ---------------------------------------------------------------------------------------------
# Token formats detect-secrets 1.5 does not know
# ---------------------------------------------------------------------------------------------

_OWN_TOKENS: list[tuple[str, str, re.Pattern[str], int]] = [
    # (rule, gate, regex, minimum character classes after the public prefix); each regex starts
    # with its literal prefix (a leading look-behind makes Python try every position).
    ("GitHub Token", "github_pat_", re.compile(r"github_pat_[A-Za-z0-9_]{50,}"), 2),
    ("Google API Key", "aiza", re.compile(r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"), 2),
    ("NPM Token", "npm_", re.compile(r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"), 2),
    ("Hugging Face Token", "hf_", re.compile(r"hf_[A-Za-z0-9]{34,40}(?![A-Za-z0-9])"), 2),
    ("OpenAI Token", "sk-", re.compile(r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}"), 2),
    ("Anthropic API Key", "sk-ant-", re.compile(r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{40,}"), 2),
    ("sk- API Key", "sk-", re.compile(r"sk-[A-Za-z0-9]{32,}(?![A-Za-z0-9_-])"), 2),
    ("Slack Token", "xapp-", re.compile(r"xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+"), 1),
    ("DigitalOcean Token", "_v1_", re.compile(r"do[por]_v1_[a-f0-9]{64}(?![a-f0-9])"), 2),
]


def _own_token(
    rule: str, gate: str, regex: re.Pattern[str], classes: int
) -> Callable[[str, str, ScanContext], Iterator[Hit]]:
    def find(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
        if gate not in low:
            return
        for m in regex.finditer(text):
            if m.start() > 0 and re.match(r"[A-Za-z0-9_-]", text[m.start() - 1]):
                continue
            value = m.group()
            body = value[len(_public_prefix(value)):]
            if _classes(body) < classes or is_placeholder(body):
                continue
            if rule == "sk- API Key" and _entropy(body) < 3.5:
                continue
            yield _token_hit(rule, m.start(), m.end(), value)

    return find


_AWS_SECRET = re.compile(
    r"(?i)aws_?secret_?(?:access_?)?key[\"'\]]{0,2}\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
)


def _aws_secret_key(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
    """The secret half of an AWS key pair, named as such (detect-secrets wants it quoted)."""
    for m in _AWS_SECRET.finditer(text) if "aws" in low else ():
        if not is_placeholder(m.group(1)):
            yield _token_hit("AWS Access Key", m.start(1), m.end(1), m.group(1))


_AUTH_HEADER = re.compile(
    r"(?i)\bauthorization[\"']?\s*[:=]\s*[\"']?\s*(basic|bearer|token|bot)\s+([A-Za-z0-9._~+/=-]{8,})"
)
_BEARER = re.compile(r"\bBearer\s+([A-Za-z0-9._~+/-]{20,}=*)")


def _bearer(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
    """A token in an ``Authorization`` header, or after ``Bearer`` anywhere."""
    for m in _AUTH_HEADER.finditer(text) if "authorization" in low else ():
        token = m.group(2)
        if m.group(1).lower() == "basic" or is_placeholder(token) or _REFERENCE.fullmatch(token):
            continue
        yield Hit("Bearer Token", "secret", m.start(2), m.end(2), token, f"{m.group(1)} {mask(token)}")
    for m in _BEARER.finditer(text) if "Bearer" in text else ():
        token = m.group(1)
        if looks_random(token, 20):
            yield Hit("Bearer Token", "secret", m.start(1), m.end(1), token, f"Bearer {mask(token)}")


# ---------------------------------------------------------------------------------------------
# Secret-looking keys: KEY=value lines and passwords in prose
# ---------------------------------------------------------------------------------------------

#: The last word of a key that says its value is secret. Password-like keys take any
#: non-placeholder value; token-like keys only a value that looks random.
_PASSWORD_WORDS = "password|passwd|passphrase|passcode|pass|pwd|pw|contrase[ñn]a|secret"
_TOKEN_WORDS = (
    r"token|(?:api|access|secret|private|priv|client|service|account|auth|signing|master"
    r"|encryption|db|database|app|consumer)[_-]?key|apikey"
)
_KEYWORD = re.compile(rf"(?:{_TOKEN_WORDS}|{_PASSWORD_WORDS})(?![a-z0-9_-])")  # on lower-case text
# The keywords' literal stems: one fast pass finds them, then the keyword is matched around each
# (the alternation itself, tried at every position, costs ten times more).
_STEMS = re.compile(r"token|key|pass|pwd|pw|secret|contrase")
_KEY_WORD = re.compile(
    r"(?:(?:api|access|secret|private|priv|client|service|account|auth|signing|master|encryption"
    r"|db|database|app|consumer)[_-]?|api)key\Z"
)
_PASSWORD_ONLY = re.compile(rf"(?:{_PASSWORD_WORDS})")
_KEY_CHARS = re.compile(r"[A-Za-z0-9_.-]*\Z")
_SEPARATOR = re.compile(
    r"""["'\]]{0,2}(?:
        [ \t]*(?P<op>:=|=>|=(?!=)|:(?![:/\\]))
        | [ \t]+(?:is|was)(?:[ \t]+(?:set[ \t]+to|now))?[ \t]*:?
        | [ \t]+for[ \t]+[\w.@-]{1,64}[ \t]+(?:is|was)[ \t]*:?
    )[ \t]*
    (?:"(?P<dq>[^"\n]{1,256})"|'(?P<sq>[^'\n]{1,256})'|`(?P<bq>[^`\n]{1,256})`|(?P<bare>[^\s"'`,;<>]{1,256}))
    """,
    re.VERBOSE,
)
_ENV_KEY = re.compile(r"[A-Z][A-Z0-9_]*\Z")


def _shaped_like_password(value: str) -> bool:
    """An unquoted word in prose is a password only if it does not read like a word:
    ``hunter2`` and ``Tr0ub4dor&3`` are; ``required`` and ``Incorrect`` are not."""
    return any(c.isdigit() or not c.isalnum() for c in value) or any(c.isupper() for c in value[1:])


def _keywords(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
    """``DB_PASSWORD=hunter2`` (Env assignment), ``password: hunter2``, ``the password is
    hunter2``, ``api_key = "…"`` (Secret keyword).

    Only where the key's *last* word is secret-like: ``PASSWORD_MIN_LENGTH=8``,
    ``max_tokens=4096`` and ``SSH_KEY_PATH=…`` name no secret. Entropy decides only for
    token-like keys; a declared hash after ``token:`` is dropped later by the scanner.
    """
    done = 0
    for stem in _STEMS.finditer(low):
        kw_start = stem.start()
        if stem.group() == "key":  # api_key, secretKey: the keyword starts before its stem
            before = _KEY_WORD.search(low, max(0, kw_start - 13), stem.end())
            if not before:
                continue
            kw_start = before.start()
        m = _KEYWORD.match(low, kw_start)
        if not m or kw_start < done:
            continue
        kw_end = done = m.end()
        sep = _SEPARATOR.match(text, kw_end)  # first: most keywords in prose are no assignment
        if not sep:
            continue
        if kw_start > 0 and text[kw_start - 1].islower() and not text[kw_start].isupper():
            continue  # "bypass", "compass": the keyword is inside a word
        # Walk back over the rest of the key name (DB_PASSWORD, client.secret, dbPassword).
        left = _KEY_CHARS.search(text, max(0, kw_start - 64), kw_start)
        key_start = left.start() if left else kw_start
        while key_start < kw_start and text[key_start] in "_.-":
            key_start += 1
        key = text[key_start:kw_end]
        group = next(g for g in ("dq", "sq", "bq", "bare") if sep.group(g) is not None)
        value = sep.group(group)
        v_start = sep.start(group)
        if group == "bare" and sep.group("op") not in ("=", ":="):
            # Prose: a sentence's last word carries its full stop; an assignment keeps all.
            value = value.rstrip(".,;:!?)]}>") or value
        elif group == "bare":
            # f(password=pw) or [token=x]: a closing bracket with no opening one is the code's.
            for close, open_ in ((")", "("), ("]", "["), ("}", "{")):
                while value.endswith(close) and value.count(close) > value.count(open_):
                    value = value[:-1]
        elif not value.strip():
            continue
        v_end = v_start + len(value)
        password_like = _PASSWORD_ONLY.fullmatch(m.group()) is not None
        env_style = sep.group("op") == "=" and _ENV_KEY.match(key) is not None
        rule = "Env assignment" if env_style else "Secret keyword"
        if is_placeholder(value, key=key) or _PATHLIKE.match(value):
            continue
        if password_like:
            if len(value) < 4:
                continue
            if group == "bare" and sep.group("op") and not env_style and _REFERENCE.fullmatch(value):
                continue
            if group == "bare" and not env_style and not _shaped_like_password(value):
                continue
        elif not looks_random(value, 12):
            continue
        yield Hit(rule, "secret", v_start, v_end, value, f"{key}={mask(value)}" if env_style
                  else f"{key}: {mask(value)}")


# ---------------------------------------------------------------------------------------------
# Personal data
# ---------------------------------------------------------------------------------------------

_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})\Z")
_EMAIL_DOMAIN = re.compile(
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24}))(?![A-Za-z0-9_-])"
)
_NOT_EMAIL_DOMAINS = re.compile(
    r"(?i)(?:^|\.)(?:example\.(?:com|org|net)|example|invalid|test|localhost"
    r"|users\.noreply\.github\.com|noreply\.github\.com|noreply\.gitlab\.com)$"
)
_NOT_EMAIL_LOCAL = re.compile(
    r"(?i)(?:no-?reply|do-?not-?reply|git|notifications|mailer-daemon|postmaster"
    # Stand-ins for someone, not someone: x@host (git's example of an unset address), you@, user@.
    r"|[a-z]|xx+|you|your[._-]?name|user|username|name|me|someone|somebody|foo|bar|test)"
)
#: An ``@`` before a file name (``icon@2x.png``) or a package version is not an e-mail address.
_FILE_TLDS = frozenset(
    "png jpg jpeg gif svg webp ico bmp tif tiff js mjs cjs ts tsx jsx css scss less map json md txt "
    "html htm xml yml yaml toml py rb go rs java kt c h cpp hpp sh ps1 bat exe dll so dylib zip gz "
    "tar whl lock log csv pdf wasm vue lua php pl swift".split()
)


#: A git trailer naming a person (Co-authored-by, Signed-off-by…): authorship, which git
#: publishes with the commit like its author field.
_TRAILER = re.compile(r"(?i)\b(?:[a-z]+-)+by:[^:\n]{0,100}\Z")


def _emails(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
    """An e-mail address, except example/test domains, no-reply and ``git@host`` addresses,
    URL user names (``https://user@host``) and ``ctx.known_people`` (commit authors)."""
    at = text.find("@")
    while at >= 0:
        local = _EMAIL_LOCAL.search(text, max(0, at - 64), at)
        domain = _EMAIL_DOMAIN.match(text, at + 1)
        nxt = text.find("@", at + 1)
        if local and domain:
            start, end = local.start(), domain.end()
            address = text[start:end]
            lhs = text[start:at]
            if (
                text[max(0, start - 3):start] != "://"  # https://user@host: a user name
                and not _TRAILER.search(text, max(0, start - 120), start)
                and domain.group(2).lower() not in _FILE_TLDS
                and not _NOT_EMAIL_DOMAINS.search(domain.group(1))
                and not _NOT_EMAIL_LOCAL.fullmatch(lhs)
                and address.lower() not in ctx.known_people
            ):
                tld = domain.group(2)
                yield Hit("E-mail address", "personal", start, end, address.lower(),
                          f"{lhs[0]}***@***.{tld}")
        at = nxt


def _free_before(text: str, i: int, chars: str = "") -> bool:
    """Nothing word-like right before ``i`` (regexes here start with a literal, not a
    look-behind: a leading look-behind makes Python try the pattern at every position)."""
    return i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_" or text[i - 1] in chars)


_PHONE_INTL = re.compile(r"\+[1-9](?:[ .-]?\(\d{1,4}\)|[ .-]?\d{1,5}){1,8}(?![\w+]|[.-]\d)")
_PHONE_NANP = re.compile(r"(?:\((\d{3})\)[ .-]?|(\d{3})-)(\d{3})-(\d{4})(?![\w-]|\.\d)")
_PHONE_TEL = re.compile(r"(?i)\btel:(\+?[\d().-]{7,24}\d)")


def _nanp_ok(area: str, exchange: str) -> bool:
    # North American numbers never start a group with 0 or 1; 555 is the fictional exchange.
    return area[0] not in "01" and exchange[0] not in "01" and "555" not in (area, exchange)


def _phone_hit(start: int, end: int, number: str) -> Hit:
    digits = re.sub(r"\D", "", number)
    shown = re.sub(r"\d", "*", number[:-2]) + number[-2:]
    return Hit("Phone number", "personal", start, end, digits, shown)


def _phones(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
    """``+44 20 7946 0958``, ``+1 (415) 555-0100``, ``(415) 867-5309``, ``415-867-5309``,
    ``tel:…``: an international number (8 to 15 digits) or a North American one; never a
    version, a date, a count or a bare run of digits (``+4915112345678`` needs its ``+``)."""
    taken: list[tuple[int, int]] = []
    for m in _PHONE_INTL.finditer(text) if "+" in text else ():
        if not _free_before(text, m.start(), "+/=.-"):
            continue
        digits = re.sub(r"\D", "", m.group())
        compact = not re.search(r"[ .()-]", m.group())
        if not (8 <= len(digits) <= 15) or (compact and len(digits) < 10):
            continue
        if digits.startswith("1") and len(digits) == 11 and not _nanp_ok(digits[1:4], digits[4:7]):
            continue
        taken.append(m.span())
        yield _phone_hit(m.start(), m.end(), m.group())
    for m in _PHONE_NANP.finditer(text) if "-" in text else ():
        if not _free_before(text, m.start(), "(+.-") or any(s <= m.start() < e for s, e in taken):
            continue
        if _nanp_ok(m.group(1) or m.group(2), m.group(3)):
            yield _phone_hit(m.start(), m.end(), m.group())
    for m in _PHONE_TEL.finditer(text) if "tel:" in low else ():
        if not any(s <= m.start(1) < e for s, e in taken):
            yield _phone_hit(m.start(1), m.end(1), m.group(1))


_PLACEHOLDER_USERS = frozenset(
    "user username user1 you yourname your-name your_name me name runner ubuntu ec2-user vagrant "
    "docker node app example foo bar shared public guest default all username1 someone whoever "
    "travis circleci jenkins buildkite vsts appveyor gitlab-runner build builder ci "
    "jdoe johndoe $user ${user} %username% <user> <username> <you> <name> *"
    .split()
)
_POSIX_HOME = re.compile(r"/(?:home|Users)/([^\s/\\\"'`<>|:*?()\[\]{},;]{1,64})")
_WIN_USERS = re.compile(r"(?i)[\\/]+(?:users|documents and settings)[\\/]+([^\s/\\\"'`<>|:*?()\[\]{},;]{1,64})")
_TILDE_USER = re.compile(r"~([a-z_][a-z0-9_-]{0,31})/")
_ROOT_HOME = re.compile(r"/root/(?=\S)")
_PATH_TAIL = re.compile(r"[^\s\"'`<>|()\[\]{},;]*")
_DRIVE = re.compile(r":[\\/]")


def _drives(text: str) -> Iterator[int]:
    """Offsets of ``X:\\`` and ``X:/`` starting a word (not ``https://``, not ``a1:/``)."""
    for m in _DRIVE.finditer(text):
        i = m.start() - 1
        if i >= 0 and text[i].isascii() and text[i].isalpha() and (
            _free_before(text, i, "/\\:.%-") or text[max(i - 4, 0):i] == "\\\\?\\"  # \\?\C:\…, the long-path form
        ):
            yield i


def _homes(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
    """``/home/alice/…``, ``/Users/alice``, ``C:\\Users\\alice``, ``~alice/``, ``/root/…``.

    Not a placeholder user (``/home/user``, ``/Users/you``, ``/home/runner`` of CI machines),
    not inside a URL (``https://host/home/x``), not ``~/…`` (it names no one).
    """
    found: list[tuple[int, re.Match[str]]] = []
    for m in _POSIX_HOME.finditer(text) if "/home/" in text or "/Users/" in text else ():
        start = m.start()
        for lead in ("/var", "/mnt/"):  # /var/home/x (Silverblue), /mnt/c/Users/x (WSL)
            if text.startswith(lead, start - len(lead)):
                start -= len(lead)
            elif lead == "/mnt/" and text.startswith(lead, start - 6) and text[start - 1].isalpha():
                start -= 6
        if _free_before(text, start, "./~-"):
            found.append((start, m))
    for i in _drives(text) if "users" in low or "documents and settings" in low else ():
        m = _WIN_USERS.match(text, i + 2)
        if m:
            found.append((i, m))
    for m in _TILDE_USER.finditer(text) if "~" in text else ():
        if _free_before(text, m.start(), "~"):
            found.append((m.start(), m))
    for start, m in found:
        user = m.group(1)
        if user.lower() in _PLACEHOLDER_USERS or user.startswith(("$", "%", "<", "{")):
            continue
        end = _PATH_TAIL.match(text, m.end()).end()
        prefix = text[start:m.start(1)]
        value = prefix.replace("\\", "/").lower() + user
        yield Hit("Home folder", "personal", start, end, value, f"{prefix}{mask(user)}")
    for m in _ROOT_HOME.finditer(text) if "/root/" in text else ():
        if _free_before(text, m.start(), "./~-"):
            end = _PATH_TAIL.match(text, m.end()).end()
            yield Hit("Home folder", "private", m.start(), end, "/root", "/root/****")


# ---------------------------------------------------------------------------------------------
# Private: machines and networks
# ---------------------------------------------------------------------------------------------

_DRIVE_REST = re.compile(r"[^\s\"'`<>|*?\\/;,()\[\]][^\s\"'`<>|*?;,()\[\]]*")
_WINDOWS_SYSTEM = re.compile(
    r"(?i)[a-z]:[\\/](?:windows|program files(?: \(x86\))?|programdata|python\d*|msys64|cygwin(?:64)?)(?:[\\/]|$)"
)
# \\server\share, and its long-path form \\?\UNC\server\share
_UNC = re.compile(r"\\\\(?:\?\\[Uu][Nn][Cc]\\)?([A-Za-z0-9][A-Za-z0-9._$-]+)\\[A-Za-z0-9._$-]+[^\s\"'`<>|*?;,()\[\]]*")
_FILE_URL = re.compile(r"(?i)\bfile://[^\s\"'`<>()\[\]]+")


def _paths(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
    """Where things are on one machine: ``D:/projects/acme``, ``\\\\server\\share``,
    ``file:///…`` and any of ``ctx.local_paths``. Relative paths, URL paths and POSIX system
    paths (``/usr/bin/chromium``, ``/etc/hosts``, ``/api/v1/users``) name no machine."""
    for i in _drives(text):
        m = _DRIVE_REST.match(text, i + 3)
        if not m or text[i + 3:i + 4] in ("/", "\\"):
            continue
        path = text[i:m.end()]
        if _WINDOWS_SYSTEM.match(text, i):
            continue
        yield Hit("Absolute path", "private", i, m.end(), path, mask(path, path[:3]))
    for m in _UNC.finditer(text) if "\\\\" in text else ():
        if _free_before(text, m.start(), "\\"):
            yield Hit("Absolute path", "private", m.start(), m.end(), m.group(), mask(m.group(), "\\\\"))
    for m in _FILE_URL.finditer(text) if "file://" in low else ():
        value = m.group().rstrip(".,:;!?")
        yield Hit("Absolute path", "private", m.start(), m.start() + len(value), value,
                  mask(value, value[:7]))
    for local in ctx.local_paths:
        local = local.rstrip("/\\")
        if len(local) < 3:
            continue
        i = text.find(local)
        while i >= 0:
            after = i + len(local)
            if _free_before(text, i, ".~-") and (
                after == len(text) or not (text[after].isalnum() or text[after] in "_.-")
            ):
                end = _PATH_TAIL.match(text, after).end()
                yield Hit("Absolute path", "private", i, end, local, mask(local, local[:1]))
            i = text.find(local, after)


_IPV4 = re.compile(r"(?:10|100|172|192)\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)")
_IPV6_ULA = re.compile(r"[fF][cdCD][0-9a-fA-F]{2}:[0-9a-fA-F:]*[0-9a-fA-F](?![\w:])")
_PRIVATE_NETS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                   "100.64.0.0/10", "fc00::/7")]


_PRIVATE_RANGES = frozenset(str(n) for n in _PRIVATE_NETS) | {"fd00::/8"}


def _private_ips(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
    """10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT, Tailscale) and fc00::/7.
    Loopback (127/8, ::1) and link-local (169.254/16) addresses are the same on every machine:
    not findings."""
    for regex, before in ((_IPV4, "."), (_IPV6_ULA, ":.")):
        for m in regex.finditer(text):
            if not _free_before(text, m.start(), before):
                continue
            try:
                address = ipaddress.ip_address(m.group())
            except ValueError:
                continue
            if any(address in net for net in _PRIVATE_NETS):
                value = m.group()
                cidr = re.match(r"/(\d{1,3})(?!\d)", text[m.end():m.end() + 4])
                if cidr and f"{value}/{cidr.group(1)}" in _PRIVATE_RANGES:
                    continue  # "10.0.0.0/8" names the range, not a machine
                shown = ".".join(value.split(".")[:2]) + ".*.*" if address.version == 4 else value[:4] + ":****"
                yield Hit("Private IP address", "private", m.start(), m.end(), value, shown)


_INTERNAL_TLD = re.compile(
    r"(?i)\.(internal|intranet|corp|localdomain|home\.arpa|local|lan)(?![A-Za-z0-9_-]|\.[A-Za-z0-9])"
)
_HOST_LABELS = re.compile(r"(?i)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_PUBLIC_INTERNAL = frozenset(
    ("host.docker.internal", "gateway.docker.internal", "kubernetes.docker.internal",
     "metadata.google.internal")
)


def _hosts(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
    """``build01.corp``, ``db.prod.internal``, ``nas.home.arpa``; ``.local`` and ``.lan`` names
    only as a host (after ``://`` or ``@``, before ``:port``), since ``settings.local`` is a file
    and ``fabric.operations.local`` a Python name. Docker's and Google's documented names and
    ``localhost`` (the same everywhere) are not findings."""
    for m in _INTERNAL_TLD.finditer(text):
        labels = _HOST_LABELS.search(text, max(0, m.start() - 253), m.start())
        if not labels or labels.start() == m.start():
            continue
        start, end = labels.start(), m.end()
        if start > 0 and re.match(r"[\w.-]", text[start - 1]) and text[start - 1] != ".":
            continue
        if start > 0 and text[start - 1] in ".#":
            continue  # ".env.local": a file name; "#fabric.operations.local": a URL fragment
        host = text[start:end]
        if host.lower() in _PUBLIC_INTERNAL or _TRAILER.search(text, max(0, start - 120), start):
            continue  # Docker's and Google's names; "Co-authored-by: X <x@MacBook.local>"
        if start > 0 and text[start - 1] == "@":
            local = _EMAIL_LOCAL.search(text, max(0, start - 65), start - 1)
            if local and _NOT_EMAIL_LOCAL.fullmatch(local.group()):
                continue  # "x@MacBook.local": a stand-in address names no machine of anyone's
        if m.group(1).lower() in ("local", "lan"):
            hosted = (
                text[max(0, start - 3):start] == "://"
                or (start > 0 and text[start - 1] == "@")
                or re.match(r":\d", text[end:end + 2]) is not None
            )
            if not hosted:
                continue
        yield Hit("Internal host name", "private", start, end, host.lower(), f"****.{m.group(1)}")


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_URLSAFE = str.maketrans("-_", "+/")


def _base64_secrets(text: str, low: str, ctx: ScanContext) -> Iterator[Hit]:
    """A secret pasted base64-encoded (``echo -n $TOKEN | base64``, a Kubernetes Secret's
    ``data:``): a run of base64 that decodes to text in which a secret rule finds something."""
    for m in _BASE64_RUN.finditer(text):
        run = m.group().rstrip("=")
        run = run[:-1] if len(run) % 4 == 1 else run
        try:
            decoded = base64.b64decode(run.translate(_URLSAFE) + "=" * (-len(run) % 4), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if not decoded.replace("\n", " ").replace("\t", " ").isprintable():  # binary: an image, a hash
            continue
        inner = find_hits(decoded, ctx, personal=False)
        if inner:
            preview = f"base64 of {inner[0].rule}: {mask(m.group())}"
            yield Hit("Base64-encoded secret", "secret", m.start(), m.end(), m.group(), preview)


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------


def _rules() -> dict[str, Rule]:
    table: list[Rule] = []
    for secret_type in DETECT_SECRETS_TYPES:
        if secret_type in ("Private Key", "Basic Auth Credentials"):
            continue
        table.append(Rule(_RENAMED.get(secret_type, secret_type), "secret", _named_detector(secret_type), 0))
    table.append(Rule("Private Key", "secret", _private_keys, 0))
    table.append(Rule("Basic Auth Credentials", "secret", _basic_auth, 0))
    for name, gate, regex, classes in _OWN_TOKENS:
        table.append(Rule(name, "secret", _own_token(name, gate, regex, classes), 1))
    table.append(Rule("AWS Access Key", "secret", _aws_secret_key, 1))
    table.append(Rule("Bearer Token", "secret", _bearer, 2))
    table.append(Rule("Secret keyword", "secret", _keywords, 3))  # also yields "Env assignment"
    table.append(Rule("Base64-encoded secret", "secret", _base64_secrets, 3))
    table.append(Rule("E-mail address", "personal", _emails, 4))
    table.append(Rule("Phone number", "personal", _phones, 4))
    table.append(Rule("Home folder", "personal", _homes, 4))
    table.append(Rule("Private IP address", "private", _private_ips, 5))
    table.append(Rule("Internal host name", "private", _hosts, 5))
    table.append(Rule("Absolute path", "private", _paths, 6))
    # Several entries may share a name (GitHub Token: detect-secrets' and the fine-grained one).
    rules: dict[str, Rule] = {}
    for rule in table:
        key = rule.name
        n = 2
        while key in rules:
            key = f"{rule.name}#{n}"
            n += 1
        rules[key] = rule
    return rules


#: Every rule, keyed by name (a second rule of the same name is ``Name#2``).
RULES: dict[str, Rule] = _rules()
#: The rule names a scan finds (``Env assignment`` is reported by the ``Secret keyword`` rule).
RULE_NAMES: frozenset[str] = frozenset(r.name for r in RULES.values()) | {
    "Env assignment", "Image location", "Image metadata"}
DEFAULT_RULES = RULE_NAMES


_MARKER = re.compile(r"\[redacted:[a-z0-9-]+\]")
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def find_hits(text: str, ctx: ScanContext, *, personal: bool = True) -> list[Hit]:
    """Every rule's hits in ``text``, before filtering (declared, allowed, overlapping)."""
    markers: list[tuple[int, int]] = []
    if "[redacted:" in text:
        # A marker of an earlier redaction is no finding, and no context for one either: its
        # slug reads as a key ("[redacted:sk-api-key] = <hash>" is not an API key). The rules
        # see it as a run of stars, a placeholder, of the same length (offsets stay aligned).
        markers = [m.span() for m in _MARKER.finditer(text)]
        text = _MARKER.sub(lambda m: "*" * len(m.group()), text)
    low = text.lower()
    if len(low) != len(text):  # a few characters lower into two (İ): keep offsets aligned
        low = text.translate(_ASCII_LOWER)
    hits: list[tuple[int, Hit]] = []
    for rule in RULES.values():
        if rule.severity != "secret" and not personal:
            continue
        if ctx.rules is not None and rule.name not in ctx.rules and not (
            rule.name == "Secret keyword" and "Env assignment" in ctx.rules
        ):
            continue
        for hit in rule.find(text, low, ctx):
            if ctx.rules is None or hit.rule in ctx.rules:
                hits.append((rule.rank, hit))
    if markers:  # nor is a value that starts with one ("KEY=[redacted:x](link)")
        hits = [(r, h) for r, h in hits if not any(s <= h.start < e for s, e in markers)]
    hits.sort(key=lambda rh: (rh[0], rh[1].start))
    return [h for _, h in hits]
