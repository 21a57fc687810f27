"""Configuration: which file applies (``--config``, ``FLYWHEEL_CONFIG``, the nearest project file, the user's), and its settings."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from flywheel_core.errors import UsageError, describe_os_error
from flywheel_core.fsutil import PathRefused, read_regular_file
from flywheel_core.redaction import register_secret

if TYPE_CHECKING:
    from flywheel_core.types import PluginRegistry

__all__ = [
    "CONFIG_SCHEMA",
    "REVIEW_MODES",
    "SCAN_POLICIES",
    "TARGET_COMMON_SCHEMA",
    "Config",
    "Secret",
    "check_plugin_configs",
    "find_config",
    "load_config",
    "repository_root",
    "resolve_secrets",
    "user_config_path",
]

MAX_CONFIG_BYTES = 16 * 1024 * 1024

#: What the publication queue does with an entry the publishing scan found something in.
SCAN_POLICIES = ("hold", "redact", "off")
#: ``review = "always"``: every entry of the target waits for ``flywheel review approve``.
REVIEW_MODES = ("findings", "always")
_POLICY: dict[str, Any] = {"enum": list(SCAN_POLICIES), "x-error": "must be \"hold\", \"redact\" or \"off\""}
#: The keys every ``[targets.<name>]`` table may hold besides its target's own: core reads them
#: (a target's own schema never sees them).
TARGET_COMMON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean", "default": True},
        "scan": {
            "default": "hold",
            "description": 'What to do with an entry the publishing scan finds a secret or personal data in: "hold" '
                           '(wait for `flywheel review`), "redact" (publish with each finding cut out) or "off"; '
                           'or a table by artifact kind: {default = "hold", social_post = "redact"}.',
            "type": ["string", "object"],
            # if/then/else, not oneOf: an error then names the exact key (scan.social_post).
            "if": {"type": "string"},
            "then": _POLICY,
            "else": {"propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,63}$", "x-error": "must be an artifact kind"},
                     "additionalProperties": _POLICY},
        },
        "review": {"enum": list(REVIEW_MODES), "default": "findings",
                   "x-error": 'must be "findings" (hold only what the scan finds) or "always" (hold every entry)'},
    },
}

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "out_dir": {"type": "string", "minLength": 1},
        "state_dir": {"type": "string", "minLength": 1},
        "sessions_dir": {"type": "string", "minLength": 1},
        "templates_dir": {"type": "string", "minLength": 1},
        "max_input_bytes": {"type": "integer", "minimum": 1},
        "media_roots": {"type": "array", "items": {"type": "string"}},
        "queue": {
            "type": "object",
            "properties": {
                "max_attempts": {"type": "integer", "minimum": 1},
                "max_interruptions": {"type": "integer", "minimum": 1},
                "lease_seconds": {"type": "number", "exclusiveMinimum": 0},
                "backoff_seconds": {"type": "number", "minimum": 0},
                "backoff_max_seconds": {"type": "number", "minimum": 0},
                # A shared queue (a fleet): postgresql://user@host:port/db, no password in it.
                "url": {"type": "string", "pattern": "^postgres(ql)?://"},
                # Only {"$env": NAME}: a password is never written in a file.
                "password": {
                    "type": "object",
                    "required": ["$env"],
                    "maxProperties": 1,
                    "additionalProperties": {"type": "string", "minLength": 1},
                },
            },
            "additionalProperties": False,
        },
        "scan": {
            "type": "object",
            "properties": {
                "allowlist": {"type": "string", "minLength": 1, "default": ".flywheel-allow.json"},
            },
            "additionalProperties": False,
        },
        "targets": {"type": "object", "additionalProperties": TARGET_COMMON_SCHEMA},
        "plugins": {"type": "object", "additionalProperties": {"type": "object"}},
    },
    "additionalProperties": False,
}


@attrs.define
class Config:
    """The loaded configuration; relative paths are resolved against ``base_dir``."""

    base_dir: Path
    source: str = "defaults"
    data: dict[str, Any] = attrs.field(factory=dict)
    #: How the file was chosen, for ``flywheel config`` and messages: "--config",
    #: "FLYWHEEL_CONFIG", "nearest project file", "user config" or "defaults".
    found_by: str = "defaults"
    #: Folders already resolved, by (base, setting): a run asks for them a dozen times a session.
    _resolved: dict[tuple[Path, str], Path] = attrs.field(factory=dict, init=False, repr=False, eq=False)

    def _path(self, key: str, default: str) -> Path:
        setting = self.data.get(key, default)
        found = self._resolved.get((self.base_dir, setting))
        if found is None:
            found = self._resolved[(self.base_dir, setting)] = (self.base_dir / setting).resolve()
        return found

    @property
    def out_dir(self) -> Path:
        """Where artifacts go: ``<out_dir>/<session_type>/<session_id>/`` (``flywheel-out``)."""
        return self._path("out_dir", "flywheel-out")

    @property
    def state_dir(self) -> Path:
        """flywheel's own state: the queue, caches, each target's folder (``.flywheel``)."""
        return self._path("state_dir", ".flywheel")

    @property
    def sessions_dir(self) -> Path:
        """Where ``flywheel end`` writes session files, ``<session_id>_<session_type>.json``."""
        return self._path("sessions_dir", "sessions")

    @property
    def templates_dir(self) -> Path | None:
        """The user's templates, searched before every plugin's; None when not set."""
        return self._path("templates_dir", "") if self.data.get("templates_dir") else None

    @property
    def max_input_bytes(self) -> int:
        """The largest input file flywheel reads, in bytes (64 MiB unless set)."""
        return int(self.data.get("max_input_bytes", 64 * 1024 * 1024))

    @property
    def media_roots(self) -> list[Path]:
        """Folders besides its own that a session may name files in (``RunContext.allowed_roots``)."""
        return [(self.base_dir / p).resolve() for p in self.data.get("media_roots", [])]

    @property
    def queue(self) -> dict[str, Any]:
        """The ``[queue]`` table with defaults; ``password`` (a ``{"$env": NAME}``) resolved."""
        table = {
            "max_attempts": 8,
            "lease_seconds": 300.0,
            "backoff_seconds": 30.0,
            "backoff_max_seconds": 3600.0,
            **self.data.get("queue", {}),
        }
        if "password" in table:
            try:
                table["password"] = resolve_secrets(table["password"], "queue.password")
            except UsageError as exc:
                raise UsageError(f"{self.source}: {exc}") from None
        return table

    @property
    def targets(self) -> dict[str, dict[str, Any]]:
        """Every ``[targets.<name>]`` table, enabled or not."""
        return dict(self.data.get("targets", {}))

    @property
    def allowlist_path(self) -> Path:
        """The allow-list of known false positives of the publishing scan (``[scan] allowlist``)."""
        return (self.base_dir / self.data.get("scan", {}).get("allowlist", ".flywheel-allow.json")).resolve()

    def scan_policy(self, target: str, kind: str) -> str:
        """``hold``, ``redact`` or ``off``: the ``scan`` setting of ``target`` for artifacts of ``kind``."""
        value = self.targets.get(target, {}).get("scan", "hold")
        if isinstance(value, dict):
            value = value.get(kind, value.get("default", "hold"))
        return str(value)

    def review_mode(self, target: str) -> str:
        """``findings`` (hold what the scan finds) or ``always`` (every entry waits for approval)."""
        return str(self.targets.get(target, {}).get("review", "findings"))

    def enabled_targets(self) -> list[str]:
        """The names of the ``[targets.<name>]`` tables not set ``enabled = false``."""
        return [n for n, t in self.targets.items() if t.get("enabled", True) is not False]

    def target_config(self, name: str) -> dict[str, Any]:
        """A target's table with ``{"$env": NAME}`` secrets resolved (never stored back)."""
        table = self.targets.get(name)
        if table is None:
            raise UsageError(f"target {name!r} is not configured (add a [targets.{name}] table)")
        try:
            return resolve_secrets(table, f"targets.{name}")
        except UsageError as exc:  # an unset variable: say which file asks for it
            raise UsageError(f"{self.source}: {exc}") from None

    def plugin_config(self, name: str) -> dict[str, Any]:
        """The ``[plugins.<name>]`` table (``{}`` if absent), ``{"$env": NAME}`` secrets resolved."""
        return resolve_secrets(self.data.get("plugins", {}).get(name, {}), f"plugins.{name}")


class Secret(str):
    """A value read from the environment for a ``{"$env": NAME}`` setting.

    A plain string everywhere (headers, JSON, comparisons), except that ``repr`` shows ``'***'``:
    a config table printed whole (``flywheel -v`` traces every hook call with its arguments, a
    traceback shows locals) never shows the secret.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


def resolve_secrets(value: Any, where: str) -> Any:
    """Return a copy of ``value`` with every ``{"$env": "NAME"}`` replaced by that variable.

    The value is a :class:`Secret` (its ``repr`` is ``'***'``) and is registered with the
    redactor, so it never appears in what flywheel prints, logs or stores, in clear or in its
    base64 and URL-encoded forms.
    """
    if isinstance(value, dict):
        if set(value) == {"$env"}:
            name = value["$env"]
            if not isinstance(name, str) or name not in os.environ:
                raise UsageError(f"{where}: environment variable {name!r} is not set")
            register_secret(os.environ[name])
            return Secret(os.environ[name])
        return {k: resolve_secrets(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _register_env_secrets(value: Any) -> None:
    """Register every ``{"$env": NAME}`` value that is set, resolved or not yet."""
    if isinstance(value, dict):
        if set(value) == {"$env"}:
            register_secret(os.environ.get(str(value["$env"])))
            return
        for item in value.values():
            _register_env_secrets(item)
    elif isinstance(value, list):
        for item in value:
            _register_env_secrets(item)


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # here: with no config file, a command never loads the TOML parser

    try:
        return tomllib.loads(read_regular_file(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: config file not found") from None
    except PathRefused as exc:
        raise UsageError(f"{path}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the config file: {describe_os_error(exc, with_path=False)}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None


def repository_root(folder: Path) -> Path | None:
    """The nearest folder at or above ``folder`` holding ``.git`` (a folder, or a file in a worktree)."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def user_config_path() -> Path:
    """The user's own config file: ``flywheel.toml`` in the platform's config folder.

    On Linux it applies platformdirs' XDG rule itself (an absolute ``$XDG_CONFIG_HOME``, else
    ``~/.config``): importing platformdirs cost every command run outside a project ~2.5 ms
    (issue 18). A test checks both agree.
    """
    if sys.platform.startswith("linux"):
        value = os.environ.get("XDG_CONFIG_HOME", "")
        base = value if os.path.isabs(value) else os.path.expanduser("~/.config")
        if os.path.isabs(base):
            return Path(base, "flywheel", "flywheel.toml")
    from platformdirs import user_config_dir

    return Path(user_config_dir("flywheel")) / "flywheel.toml"


def _project_file(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """``flywheel.toml``, else ``pyproject.toml`` with a ``[tool.flywheel]`` table, in ``folder``."""
    if (folder / "flywheel.toml").is_file():
        return folder / "flywheel.toml", _read_toml(folder / "flywheel.toml")
    if (folder / "pyproject.toml").is_file():
        tool = _read_toml(folder / "pyproject.toml").get("tool", {})
        if isinstance(tool, dict) and "flywheel" in tool:
            return folder / "pyproject.toml", tool["flywheel"]
    return None


def _named_file(path: Path, how: str) -> tuple[Path, dict[str, Any]]:
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict) or "flywheel" not in tool:
            raise UsageError(f"{path}: has no [tool.flywheel] table (named by {how})")
        data = tool["flywheel"]
    return path, data


def find_config(explicit: Path | None = None, cwd: Path | None = None) -> tuple[Path | None, dict[str, Any], str]:
    """``(file, table, found_by)`` of the configuration that applies, like git-cliff finds its own.

    In order: ``explicit`` (``--config``); ``$FLYWHEEL_CONFIG``; ``flywheel.toml`` or a
    ``pyproject.toml`` with ``[tool.flywheel]`` in ``cwd`` or a parent, climbing no higher
    than the repository root (the folder holding ``.git``); outside a repository only ``cwd``
    itself is looked in, so a stray file in ``/tmp`` or ``$HOME`` never applies by accident;
    then the user's file (:func:`user_config_path`). ``(None, {}, "defaults")`` when none exists.
    """
    cwd = (cwd or Path.cwd()).resolve()
    if explicit is not None:
        return (*_named_file((cwd / explicit).resolve(), "--config"), "--config")
    if os.environ.get("FLYWHEEL_CONFIG"):
        return (*_named_file((cwd / os.environ["FLYWHEEL_CONFIG"]).resolve(), "FLYWHEEL_CONFIG"), "FLYWHEEL_CONFIG")
    root = repository_root(cwd)
    for folder in (cwd, *cwd.parents) if root else (cwd,):
        found = _project_file(folder)
        if found:
            return (*found, "nearest project file")
        if folder == root:
            break
    user = user_config_path()
    if user.is_file():
        return user, _read_toml(user), "user config"
    return None, {}, "defaults"


def load_config(explicit: Path | None = None, cwd: Path | None = None) -> Config:
    """Find (see :func:`find_config`) and load the configuration, validating its core keys.

    Relative paths in a file resolve against the file's folder. With no file at all they
    resolve against the repository root when ``cwd`` is inside one (so a subfolder finds the
    same queue and output as the root), else against ``cwd``.
    """
    cwd = (cwd or Path.cwd()).resolve()
    path, data, found_by = find_config(explicit, cwd)
    if path is None:
        config = Config(repository_root(cwd) or cwd, found_by=found_by)
    else:
        source = f"{path} [tool.flywheel]" if path.name == "pyproject.toml" else str(path)
        config = Config(path.parent, source, data, found_by)
    _check(config)
    _register_env_secrets({k: config.data.get(k) for k in ("targets", "plugins", "queue")})
    return config


def _check(config: Config) -> None:
    from flywheel_core.schema import first_errors

    queue = config.data.get("queue")
    password = queue.get("password") if isinstance(queue, dict) else None
    if password is not None and not (isinstance(password, dict) and list(password) == ["$env"]):
        # Checked before the schema, whose message would quote the value.
        raise UsageError(f'{config.source}: $.queue.password: must be {{"$env" = "VARIABLE"}}, the name of the '
                         "variable that holds it: a password is never written in a file")
    for path, message in first_errors(CONFIG_SCHEMA, config.data):
        raise UsageError(f"{config.source}: {path}: {message}")
    url = config.data.get("queue", {}).get("url")
    if url and _url_has_password(url):
        raise UsageError(
            f"{config.source}: $.queue.url: holds a password, which must never be written in a file; remove it "
            "and give it in PGPASSWORD, in ~/.pgpass, or as queue.password = {\"$env\" = \"VARIABLE\"}")


def _url_has_password(url: str) -> bool:
    """Whether a PostgreSQL URL carries a password (``user:secret@`` or ``?password=``)."""
    from urllib.parse import parse_qs, urlsplit

    try:
        parts = urlsplit(url)
        return parts.password is not None or "password" in {k.lower() for k in parse_qs(parts.query)}
    except ValueError:
        return True  # unparseable: refuse rather than risk printing it


def check_plugin_configs(config: Config, host: PluginRegistry) -> None:
    """Validate each ``[plugins.<name>]`` table against the schema its plugin declares.

    Secrets are resolved first (a missing variable is an error), so the values plugins will
    read are what is checked; a secret's value never appears in a message. Raises
    ``UsageError("<source>: plugins.<name>.<path>: message")`` for the first problem.
    """
    import json

    from flywheel_core.schema import first_errors

    tables = config.data.get("plugins", {})
    for name, schema in host.config_schemas().items():
        where = f"plugins.{name}"
        table = tables.get(name, {})
        try:
            resolved = resolve_secrets(table, where)
        except UsageError as exc:
            raise UsageError(f"{config.source}: {exc}") from None
        for path, message in first_errors(schema, resolved):
            for variable, secret in _secrets(table, resolved):
                for shown in (repr(secret), json.dumps(secret, ensure_ascii=False)):
                    message = message.replace(shown, f"${{{variable}}}")
            raise UsageError(f"{config.source}: {where}{path[1:]}: {message}")


def _secrets(raw: Any, resolved: Any) -> list[tuple[str, Any]]:
    """``(VARIABLE, value)`` of every ``{"$env": VARIABLE}`` in a raw table."""
    if isinstance(raw, dict):
        if set(raw) == {"$env"}:
            return [(str(raw["$env"]), resolved)]
        return [found for k, v in raw.items() for found in _secrets(v, resolved[k])]
    if isinstance(raw, list):
        return [found for v, r in zip(raw, resolved) for found in _secrets(v, r)]
    return []
