"""The plugin host: loads ``flywheel`` entry points once, lazily, and dispatches hooks.

Unlike ``pluggy.PluginManager.load_setuptools_entrypoints``, one broken plugin never stops the
others from loading (unless ``FLYWHEEL_STRICT_PLUGINS=1``), duplicate names are reported, and
``FLYWHEEL_LOAD_PLUGINS`` / ``FLYWHEEL_BLOCK_PLUGINS`` choose what loads. Hooks are called one
plugin at a time and each call is fenced: what the plugin returns is checked against the
spec, ``sys.exit`` and stdout writes are contained, registration hooks have a time limit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import sys
import threading
import time
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pluggy

from flywheel_core import hookspecs
from flywheel_core.cachedir import user_cache_folder
from flywheel_core.errors import PluginError, UsageError, describe_exception

if TYPE_CHECKING:
    from flywheel_core.types import SessionType, Target

__all__ = [
    "DEFAULT_PLUGINS",
    "InstallCache",
    "KNOWN_SESSION_TYPES",
    "KNOWN_TARGETS",
    "PluginHost",
    "PluginInfo",
    "REGISTRATION_HOOKS",
    "get_host",
    "hook_timeout",
    "install_key",
    "reset_host",
]

ENTRY_POINT_GROUP = "flywheel"

#: Modules registered before entry points. Core ships no built-in plugin: every session type
#: and target comes from a distribution, exactly as a third party would write it.
DEFAULT_PLUGINS: tuple[str, ...] = ()

#: Which distribution to install for a session type or target that nothing handles.
KNOWN_SESSION_TYPES = {"build": "flywheel-build", "trade": "flywheel-trade", "life_aria": "flywheel-aria"}
KNOWN_TARGETS = {
    "github": "flywheel-publish-github",
    "web": "flywheel-publish-web",
    "mastodon": "flywheel-publish-mastodon",
    "bluesky": "flywheel-publish-bluesky",
}

def install_hint(distribution: str) -> str:
    """How to install a bundled plugin: from flywheel's own repository (it is not on PyPI)."""
    return f"install {distribution} from a clone of flywheel: pip install ./plugins/{distribution.replace('-', '_')}"


#: Hooks called while plugins are registered (even for ``--help``): each has a time limit.
REGISTRATION_HOOKS = frozenset({
    "flywheel_session_types",
    "flywheel_targets",
    "flywheel_template_dirs",
    "flywheel_config_schema",
    "flywheel_register_commands",
})
#: Hooks given the session: a plugin that leaves it malformed has its changes undone.
SESSION_HOOKS = frozenset({"flywheel_collect", "flywheel_validate", "flywheel_generate"})
DEFAULT_HOOK_TIMEOUT = 10.0


# Plain dataclasses, not attrs: this module loads for `flywheel --help`, which must start fast.
@dataclasses.dataclass
class PluginInfo:
    """What ``flywheel plugins`` reports about one loaded plugin."""

    name: str
    distribution: str
    version: str
    module: str
    hooks: list[str] = dataclasses.field(default_factory=list)
    session_types: list[str] = dataclasses.field(default_factory=list)
    targets: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class LoadFailure:
    name: str
    distribution: str
    error: str


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _name_list(name: str) -> set[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


class PluginHost:
    """A pluggy manager plus what the plugins registered: session types, targets, templates."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.failures: list[LoadFailure] = []
        self.cache: InstallCache | None = None
        self._session_types: dict[str, tuple[str, SessionType]] | None = None
        self._targets: dict[str, tuple[str, Target]] | None = None
        self._template_dirs: list[Path] | None = None
        self._callers: dict[tuple[str, str], Any] = {}  # (hook, plugin) -> a caller of that plugin alone

    # -- loading -----------------------------------------------------------------------

    @property
    def strict(self) -> bool:
        return _truthy("FLYWHEEL_STRICT_PLUGINS")

    def load_entry_points(self) -> None:
        """Import every allowed ``flywheel`` entry point; record (or raise) failures.

        The entry points come from :class:`InstallCache`: read from the installed metadata
        only when what is installed has changed since the last run.
        """
        allow = _name_list("FLYWHEEL_LOAD_PLUGINS")
        block = _name_list("FLYWHEEL_BLOCK_PLUGINS") or set()
        for module in DEFAULT_PLUGINS:
            self._load(module.rsplit(".", 1)[-1], "flywheel-core", "", lambda m=module: __import__(m, fromlist=["_"]))
        self.cache = InstallCache.load()
        seen: dict[str, str] = {}
        for name, value, dist, version in self.cache.entry_points:
            if {name, dist} & block or (allow is not None and not {name, dist} & allow):
                continue
            if name in seen:
                if seen[name] != dist:
                    self._fail(name, dist, f"plugin name {name!r} is already taken by {seen[name]}")
                continue
            seen[name] = dist
            self._load(name, dist, version, lambda value=value: _load_object(value))

    def _load(self, name: str, dist: str, version: str, loader: Any) -> None:
        try:
            module = loader()
            self.register(module, name=name, distribution=dist, version=version)
        except (Exception, SystemExit) as exc:  # a broken plugin must not take the others down
            if self.strict:
                raise
            if isinstance(exc, SystemExit):
                exc = PluginError(f"called sys.exit({exc.code!r}) while loading")
            self._fail(name, dist, describe_exception(exc))

    def _fail(self, name: str, dist: str, error: str) -> None:
        self.failures.append(LoadFailure(name, dist, error))
        print(f"flywheel: warning: plugin {name!r} ({dist}) was not loaded: {error}", file=sys.stderr)

    def register(self, plugin: Any, *, name: str, distribution: str = "", version: str = "") -> None:
        """Register a plugin object or module under ``name`` and check its hooks exist."""
        self.pm.register(plugin, name=name)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=name)
            raise PluginError(f"plugin {name!r} ({distribution or '?'}): {exc}") from None
        hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        self.infos[name] = PluginInfo(
            name=name,
            distribution=distribution or name,
            version=version,
            module=getattr(plugin, "__name__", type(plugin).__name__),
            hooks=hooks,
        )
        self._session_types = self._targets = self._template_dirs = None
        self._callers.clear()

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.infos.pop(name, None)
        self._session_types = self._targets = self._template_dirs = None
        self._callers.clear()

    # -- calling hooks -----------------------------------------------------------------

    def plugins_implementing(self, hook: str) -> list[str]:
        """Names of plugins implementing ``hook``, in a stable order (registration order)."""
        impls = {impl.plugin_name for impl in getattr(self.pm.hook, hook).get_hookimpls()}
        return [name for name in self.infos if name in impls]

    def call_each(self, hook: str, **kwargs: Any) -> Iterator[tuple[str, Any, BaseException | None]]:
        """Call ``hook`` plugin by plugin; yield (plugin, result, error) so one failure is isolated.

        A plugin that raises, calls ``sys.exit``, returns what its hook's spec does not allow,
        or leaves the session it was given malformed yields an error (the others still run);
        its contribution is dropped. While a plugin runs, what it prints goes to stderr, so
        stdout carries only flywheel's own output. With ``FLYWHEEL_STRICT_PLUGINS=1`` the
        error propagates.
        """
        for name in self.plugins_implementing(hook):
            results, error = self._call(name, hook, kwargs)
            if error is not None:
                if self.strict:
                    raise error
                import logging  # not at the top: this module loads for `flywheel --help`

                logging.getLogger("flywheel.plugins").debug("plugin %s failed in %s", name, hook, exc_info=error)
                yield name, None, error
                continue
            for result in results:
                yield name, result, None

    def call_one(self, plugin: str, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` on ``plugin`` alone, with ``call_each``'s protections; return its result.

        The plugin's own exceptions propagate as they are; a ``sys.exit``, a result the spec
        does not allow or a time-out is a :class:`PluginError` naming the distribution.
        """
        results, error = self._call(plugin, hook, kwargs)
        if error is not None:
            if isinstance(error, PluginError):
                raise PluginError(f"plugin {self.describe(plugin)} failed in {hook}: {error}") from None
            raise error
        return results[0] if results else None

    def _call(self, name: str, hook: str, kwargs: dict[str, Any]) -> tuple[list[Any], BaseException | None]:
        """One plugin's results for ``hook`` (a list, even for firstresult hooks), or its error."""
        caller = self._callers.get((hook, name))
        if caller is None:
            others = [p for n, p in self.pm.list_name_plugin() if n != name]
            caller = self._callers[hook, name] = self.pm.subset_hook_caller(hook, remove_plugins=others)
        session = kwargs.get("session") if hook in SESSION_HOOKS else None
        before = _Snapshot(session, data=hook == "flywheel_collect") if session is not None else None
        try:
            returned = self._run(name, hook, lambda: caller(**kwargs))
        except SystemExit as exc:
            return [], PluginError(f"called sys.exit({exc.code!r})")
        except Exception as exc:
            return [], exc
        if before is not None:
            broken = before.problem()
            if broken:
                before.restore()
                return [], PluginError(f"left the session malformed ({broken}); its changes were undone")
        results = [returned] if caller.spec and caller.spec.opts.get("firstresult") else list(returned)
        for result in results:
            wrong = _wrong_result(hook, result, self.cache)
            if wrong:
                return [], PluginError(wrong)
        return results, None

    def _run(self, name: str, hook: str, call: Any) -> Any:
        """Run one hook call with stdout sent to stderr, under a time limit or a watch.

        Registration hooks run while the CLI starts (even ``--help``): each gets
        ``FLYWHEEL_HOOK_TIMEOUT`` seconds (default 10) in a daemon thread, and a plugin that
        does not answer is skipped. Pipeline hooks may rightly take long (a git clone, a
        push): they are never cut short, but one stderr line says which plugin is still
        running after that many seconds, and again every minute.
        """
        limit = hook_timeout()
        with contextlib.redirect_stdout(sys.stderr):
            if hook not in REGISTRATION_HOOKS:
                with _Watch(f"plugin {self.describe(name)} is still running {hook}", limit):
                    return call()
            outcome = _HookThread.run(call, limit)
            if outcome is None:
                raise PluginError(
                    f"did not answer within {limit:g} s (FLYWHEEL_HOOK_TIMEOUT), so it was skipped"
                )
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    def describe(self, name: str) -> str:
        info = self.infos.get(name)
        return f"{name} ({info.distribution})" if info else name

    # -- what plugins registered -------------------------------------------------------

    def _warn(self, plugin: str, message: str) -> None:
        print(f"flywheel: warning: plugin {self.describe(plugin)} {message}", file=sys.stderr)

    def _registrations(self, hook: str, kind: str) -> dict[str, tuple[str, Any]]:
        found: dict[str, tuple[str, Any]] = {}
        for plugin, result, error in self.call_each(hook):
            if error is not None:
                self._warn(plugin, f"failed in {hook}, so its {kind}s are not available: {describe_exception(error)}")
                continue
            for item in result or []:
                if item.name in found and found[item.name][0] != plugin:
                    raise PluginError(
                        f"{kind} {item.name!r} is registered by both {self.describe(found[item.name][0])} "
                        f"and {self.describe(plugin)}; uninstall one"
                    )
                found[item.name] = (plugin, item)
                getattr(self.infos[plugin], f"{kind.replace(' ', '_')}s").append(item.name)
        return found

    @property
    def session_types(self) -> dict[str, tuple[str, SessionType]]:
        """Registered session types: name -> (owning plugin, SessionType)."""
        if self._session_types is None:
            for info in self.infos.values():
                info.session_types.clear()
            self._session_types = self._registrations("flywheel_session_types", "session type")
        return self._session_types

    @property
    def targets(self) -> dict[str, tuple[str, Target]]:
        """Registered publication targets: name -> (owning plugin, Target)."""
        if self._targets is None:
            for info in self.infos.values():
                info.targets.clear()
            self._targets = self._registrations("flywheel_targets", "target")
        return self._targets

    def session_type(self, name: str) -> tuple[str, SessionType]:
        """The owner and registration of a session type, or a UsageError saying what to install."""
        found = self.session_types.get(name)
        if found:
            return found
        if name in KNOWN_SESSION_TYPES:
            raise UsageError(
                f"no installed plugin handles session type {name!r}; {install_hint(KNOWN_SESSION_TYPES[name])}"
            )
        known = sorted(set(self.session_types) | set(KNOWN_SESSION_TYPES))
        raise UsageError(f"unknown session type {name!r} (known: {', '.join(known)})")

    def target(self, name: str) -> tuple[str, Target]:
        found = self.targets.get(name)
        if found:
            return found
        hint = f"; {install_hint(KNOWN_TARGETS[name])}" if name in KNOWN_TARGETS else ""
        raise UsageError(f"no installed plugin provides publication target {name!r}{hint}")

    def template_dirs(self) -> list[Path]:
        """Every plugin's packaged template folders, in plugin order (asked once)."""
        if self._template_dirs is None:
            dirs: list[Path] = []
            for plugin, result, error in self.call_each("flywheel_template_dirs"):
                if error is not None:
                    self._warn(plugin, f"failed in flywheel_template_dirs, so its templates are not available: "
                                       f"{describe_exception(error)}")
                elif result:
                    dirs.extend(Path(p) for p in result)
            self._template_dirs = dirs
        return self._template_dirs

    def config_schemas(self) -> dict[str, dict[str, Any]]:
        """Each plugin's config schema, checked as JSON Schema; a plugin that fails or returns a
        broken one is warned about and its table is not checked."""
        out = {}
        for plugin, result, error in self.call_each("flywheel_config_schema"):
            if error is not None:
                self._warn(plugin, f"failed in flywheel_config_schema, so its config table is not checked: "
                                   f"{describe_exception(error)}")
            elif result:
                out[plugin] = result
        return out


def hook_timeout() -> float:
    """Seconds a registration hook may take, and after which a pipeline hook is reported."""
    try:
        value = float(os.environ.get("FLYWHEEL_HOOK_TIMEOUT", DEFAULT_HOOK_TIMEOUT))
    except ValueError:
        return DEFAULT_HOOK_TIMEOUT
    return value if value > 0 else DEFAULT_HOOK_TIMEOUT


class _HookThread:
    """A daemon thread that runs registration hook calls one at a time, for :meth:`PluginHost._run`.

    Kept and reused: a new thread per call cost about 0.1 ms of CPU, and a ``flywheel run`` makes
    28 such calls. A thread whose call overran its time limit is left to it (never reused), so
    the next call gets a fresh thread.
    """

    _lock = threading.Lock()
    _idle: list[_HookThread] = []

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[tuple[Any, dict[str, Any], threading.Event]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="flywheel registration hooks", daemon=True).start()

    def _serve(self) -> None:
        while True:
            call, outcome, done = self.jobs.get()
            try:
                outcome["value"] = call()
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc
            done.set()

    @classmethod
    def run(cls, call: Any, limit: float) -> dict[str, Any] | None:
        """``{"value": ...}`` or ``{"error": ...}`` of ``call()``, or None after ``limit`` seconds."""
        with cls._lock:
            worker = cls._idle.pop() if cls._idle else None
        worker = worker or cls()
        outcome: dict[str, Any] = {}
        done = threading.Event()
        worker.jobs.put((call, outcome, done))
        if not done.wait(limit):
            return None  # the call still runs: this thread is not reused
        with cls._lock:
            cls._idle.append(worker)
        return outcome

    @classmethod
    def _forget(cls) -> None:  # a forked child has none of its parent's threads
        cls._lock = threading.Lock()
        cls._idle = []


os.register_at_fork(after_in_child=_HookThread._forget)


class _Watch:
    """Print ``message`` on stderr after ``first`` seconds and every minute after, until left.

    One daemon thread watches every call (started on first use) and looks at them once a
    second: a thread per hook call cost more than a small session's whole validation.
    """

    _lock = threading.Condition()  # guards _active
    _active: dict[int, list[Any]] = {}  # id -> [next notice (monotonic), message, seconds at it, stream]
    _thread: threading.Thread | None = None

    def __init__(self, message: str, first: float) -> None:
        self.message, self.first = message, first
        self.stream = sys.stderr

    def __enter__(self) -> _Watch:
        now = time.monotonic()
        with self._lock:
            _Watch._active[id(self)] = [now + self.first, self.message, self.first, self.stream]
            if _Watch._thread is None:
                _Watch._thread = threading.Thread(target=_Watch._run, name="flywheel hook watch", daemon=True)
                _Watch._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            _Watch._active.pop(id(self), None)

    @staticmethod
    def _run() -> None:
        while True:
            with _Watch._lock:
                now = time.monotonic()
                notices = []
                for entry in _Watch._active.values():
                    if entry[0] <= now:
                        notices.append((entry[3], f"flywheel: {entry[1]} after {entry[2]:.0f} s"))
                        entry[0], entry[2] = now + 60.0, entry[2] + 60.0
                if not notices:
                    _Watch._lock.wait(1.0)
            for stream, line in notices:  # outside the lock: a blocked stream must not stop the others
                print(line, file=stream, flush=True)


class _Snapshot:
    """A session as a plugin received it, to check what the plugin left and undo it if broken.

    Every hook's plugin must leave the session's fields of the right JSON types; a collector
    (``data``) must also leave ``source_data`` and ``metadata`` writable as JSON. Their
    content is kept as JSON text, which is also how they are checked afterwards.
    """

    def __init__(self, session: Any, *, data: bool) -> None:
        import attrs

        self.session = session
        self.fields = {f.name: getattr(session, f.name) for f in attrs.fields(type(session))}
        self.data: str | None = None
        if data:
            self.data = _dumps_data(session)[0]

    def problem(self) -> str | None:
        """What is wrong with the session now, as ``$.path: message``, or None."""
        from flywheel_core.models import shape_problem

        problem = shape_problem(self.session)
        if problem is None and self.data is not None:
            problem = _dumps_data(self.session)[1]
        return problem

    def restore(self) -> None:
        import json

        for field, value in self.fields.items():
            setattr(self.session, field, value)
        if self.data is not None:
            self.session.source_data, self.session.metadata = json.loads(self.data)


def _dumps_data(session: Any) -> tuple[str | None, str | None]:
    """``source_data`` and ``metadata`` as strict JSON text, or why they cannot be written."""
    from flywheel_core.jsonload import dumps_strict

    try:
        return dumps_strict([session.source_data, session.metadata]), None
    except (TypeError, ValueError) as exc:
        text = " ".join(str(exc).split())[:200]
    # "$[0].ratio: ..." names the field by its place in the list: say its name instead.
    for index, field in enumerate(("source_data", "metadata")):
        if text.startswith(f"$[{index}]"):
            return None, f"$.{field}{text[len(f'$[{index}]'):]}"
    return None, f"$.source_data or $.metadata: {text}"


def _wrong_result(hook: str, result: Any, cache: InstallCache | None = None) -> str | None:
    """Why ``result`` is not what ``hook``'s spec says it returns, or None when it is.

    Every hook but ``flywheel_collect`` and ``flywheel_register_commands`` returns a value
    core uses: None, or a list of one type (a dict for ``flywheel_config_schema``). JSON
    Schemas a plugin hands over are checked too, so a broken one fails its plugin, not the run.
    """
    kind = _RESULTS.get(hook)
    if kind is None or result is None:
        return None
    if kind == "schema":
        return _wrong_schema(result, "a JSON Schema object", cache)
    wanted = (str, os.PathLike) if kind == "path" else getattr(import_module("flywheel_core.types"), kind)
    label = "folder paths" if kind == "path" else kind
    if not isinstance(result, (list, tuple)):
        return f"returned {_show(result)}, expected a list of {label} or None"
    for item in result:
        if not isinstance(item, wanted):
            return f"returned a list holding {_show(item)}, expected a list of {label} or None"
        if kind == "SessionType":
            wrong = _wrong_schema(item.schema, f"SessionType {item.name!r} with a schema", cache)
        elif kind == "Target":
            wrong = _wrong_schema(item.config_schema, f"Target {item.name!r} with a config_schema", cache)
        else:
            wrong = None
        if wrong:
            return wrong
    return None


def _wrong_schema(schema: Any, what: str, cache: InstallCache | None = None) -> str | None:
    """Why ``schema`` is not a usable JSON Schema (draft 2020-12), or None.

    A schema found valid once is remembered in ``cache`` (until something is installed), so a
    run does not import jsonschema to check the same plugin schemas again.
    """
    if not isinstance(schema, dict):
        return f"returned {what} that is {_show(schema)}, not a JSON Schema object"
    digest = _digest(schema)
    if cache is not None and digest in cache.valid_schemas:
        return None
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return f"returned {what} that is not valid JSON Schema: {' '.join(exc.message.split())[:200]}"
    if cache is not None and digest is not None:
        cache.remember_valid_schema(digest)
    return None


def _digest(schema: dict[str, Any]) -> str | None:
    import hashlib
    import json

    try:
        text = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


#: What each hook returns besides None: a list of this type from ``flywheel_core.types``,
#: folder paths, or one JSON Schema. Hooks not listed return nothing core uses.
_RESULTS = {
    "flywheel_session_types": "SessionType",
    "flywheel_targets": "Target",
    "flywheel_template_dirs": "path",
    "flywheel_config_schema": "schema",
    "flywheel_validate": "Problem",
    "flywheel_generate": "Artifact",
    "flywheel_publish": "PublishResult",
}


def _load_object(value: str) -> Any:
    """What an entry point's ``module:attribute.path`` names (extras in brackets are ignored)."""
    module, _, attribute = value.split("[", 1)[0].partition(":")
    found = import_module(module.strip())
    for part in filter(None, attribute.strip().split(".")):
        found = getattr(found, part)
    return found


class InstallCache:
    """The ``flywheel`` entry points of what is installed, and plugin schemas found valid.

    Reading every distribution's metadata (``importlib.metadata``) took longer than all the rest
    of ``flywheel --help``, so the answer is kept in the user's cache folder with a key naming
    what is installed: the interpreter, ``sys.path``, and the name and modification time of each
    ``*.dist-info`` / ``*.egg-info`` on it (and of its ``entry_points.txt``). Installing,
    upgrading or removing a distribution changes the key and the cache is read again; a cache
    file that cannot be read or parsed is ignored, one that cannot be written is skipped.
    """

    VERSION = 1

    def __init__(self, path: Path | None, key: str, entry_points: list[tuple[str, str, str, str]],
                 valid_schemas: set[str]) -> None:
        self.path, self.key = path, key
        self.entry_points = entry_points
        self.valid_schemas = valid_schemas

    @classmethod
    def load(cls) -> InstallCache:
        key, path = install_key(), _cache_path()
        data = _read_json(path) if path is not None else None
        try:
            if data["version"] == cls.VERSION and data["key"] == key:  # type: ignore[index]
                entry_points = [(str(n), str(v), str(d), str(ver)) for n, v, d, ver in data["entry_points"]]  # type: ignore[index]
                return cls(path, key, entry_points, {str(h) for h in data["valid_schemas"]})  # type: ignore[index]
        except (TypeError, KeyError, ValueError):
            pass  # no cache, another version's, or damaged: read the metadata
        cache = cls(path, key, _scan_entry_points(), set())
        cache.save()
        return cache

    def remember_valid_schema(self, digest: str) -> None:
        if digest not in self.valid_schemas:
            self.valid_schemas.add(digest)
            self.save()

    def save(self) -> None:
        if self.path is None:
            return
        import json

        data = {"version": self.VERSION, "key": self.key, "entry_points": self.entry_points,
                "valid_schemas": sorted(self.valid_schemas)}
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(temp, self.path)
        except OSError:  # a read-only or full cache folder: next run reads the metadata again
            with contextlib.suppress(OSError):
                temp.unlink()


def install_key() -> str:
    """A text that changes whenever a distribution is installed, upgraded or removed."""
    parts = [sys.version, sys.executable, *sys.path]
    for entry in sys.path:
        try:
            names = sorted(n for n in os.listdir(entry or ".") if n.endswith((".dist-info", ".egg-info")))
        except OSError:  # a zip file, or a folder that is not there (yet)
            parts.append(f"{entry} {_mtime(entry or '.')}")
            continue
        for name in names:
            folder = os.path.join(entry or ".", name)
            parts.append(f"{name} {_mtime(folder)} {_mtime(os.path.join(folder, 'entry_points.txt'))}")
    return "\n".join(parts)


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _cache_path() -> Path | None:
    """This environment's cache file: one per interpreter and ``sys.path``."""
    import zlib

    folder = user_cache_folder()
    if folder is None:
        return None
    where = zlib.crc32("\0".join([sys.executable, *sys.path]).encode())
    return folder / "plugins" / f"entry-points-{where:08x}.json"


def _read_json(path: Path) -> Any:
    import json

    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def _scan_entry_points() -> list[tuple[str, str, str, str]]:
    """(name, value, distribution, version) of every ``flywheel`` entry point, by name."""
    from importlib.metadata import entry_points

    return [
        (ep.name, ep.value, ep.dist.name if ep.dist else "?", ep.dist.version if ep.dist else "")
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    ]


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide host, created and loaded on first use (never at import time)."""
    global _HOST
    if _HOST is None:
        host = PluginHost()
        host.load_entry_points()
        _HOST = host
    return _HOST


def reset_host(host: PluginHost | None = None) -> None:
    """Replace the process-wide host (tests use this to run the CLI against their own)."""
    global _HOST
    _HOST = host
