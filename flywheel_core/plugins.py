"""The plugin host: loads ``flywheel`` entry points once, lazily, and dispatches hooks.

Unlike ``pluggy.PluginManager.load_setuptools_entrypoints``, one broken plugin never stops the
others from loading (unless ``FLYWHEEL_STRICT_PLUGINS=1``), duplicate names are reported, and
``FLYWHEEL_LOAD_PLUGINS`` / ``FLYWHEEL_BLOCK_PLUGINS`` choose what loads.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pluggy

from flywheel_core import hookspecs
from flywheel_core.errors import PluginError, UsageError

if TYPE_CHECKING:
    from flywheel_core.types import SessionType, Target

__all__ = [
    "DEFAULT_PLUGINS",
    "KNOWN_SESSION_TYPES",
    "KNOWN_TARGETS",
    "PluginHost",
    "PluginInfo",
    "get_host",
    "reset_host",
]

log = logging.getLogger("flywheel.plugins")

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
        self._session_types: dict[str, tuple[str, SessionType]] | None = None
        self._targets: dict[str, tuple[str, Target]] | None = None
        self._template_dirs: list[Path] | None = None

    # -- loading -----------------------------------------------------------------------

    @property
    def strict(self) -> bool:
        return _truthy("FLYWHEEL_STRICT_PLUGINS")

    def load_entry_points(self) -> None:
        """Import every allowed ``flywheel`` entry point; record (or raise) failures."""
        from importlib.metadata import entry_points

        allow = _name_list("FLYWHEEL_LOAD_PLUGINS")
        block = _name_list("FLYWHEEL_BLOCK_PLUGINS") or set()
        for module in DEFAULT_PLUGINS:
            self._load(module.rsplit(".", 1)[-1], "flywheel-core", "", lambda m=module: __import__(m, fromlist=["_"]))
        seen: dict[str, str] = {}
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else ""
            if {ep.name, dist} & block or (allow is not None and not {ep.name, dist} & allow):
                continue
            if ep.name in seen:
                if seen[ep.name] != dist:
                    self._fail(ep.name, dist, f"plugin name {ep.name!r} is already taken by {seen[ep.name]}")
                continue
            seen[ep.name] = dist
            self._load(ep.name, dist, version, ep.load)

    def _load(self, name: str, dist: str, version: str, loader: Any) -> None:
        try:
            module = loader()
            self.register(module, name=name, distribution=dist, version=version)
        except Exception as exc:  # a broken plugin must not take the others down
            if self.strict:
                raise
            self._fail(name, dist, f"{type(exc).__name__}: {exc}")

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

    def unregister(self, name: str) -> None:
        self.pm.unregister(name=name)
        self.infos.pop(name, None)
        self._session_types = self._targets = self._template_dirs = None

    # -- calling hooks -----------------------------------------------------------------

    def plugins_implementing(self, hook: str) -> list[str]:
        """Names of plugins implementing ``hook``, in a stable order (registration order)."""
        impls = {impl.plugin_name for impl in getattr(self.pm.hook, hook).get_hookimpls()}
        return [name for name in self.infos if name in impls]

    def call_each(self, hook: str, **kwargs: Any) -> Iterator[tuple[str, Any, BaseException | None]]:
        """Call ``hook`` plugin by plugin; yield (plugin, result, error) so one failure is isolated.

        A plugin that raises is reported (with its distribution) and the others still run;
        with ``FLYWHEEL_STRICT_PLUGINS=1`` the exception propagates.
        """
        for name in self.plugins_implementing(hook):
            others = [p for n, p in self.pm.list_name_plugin() if n != name]
            caller = self.pm.subset_hook_caller(hook, remove_plugins=others)
            try:
                results = caller(**kwargs)
            except Exception as exc:
                if self.strict:
                    raise
                log.debug("plugin %s raised in %s", name, hook, exc_info=True)
                yield name, None, exc
                continue
            for result in results:
                yield name, result, None

    def describe(self, name: str) -> str:
        info = self.infos.get(name)
        return f"{name} ({info.distribution})" if info else name

    # -- what plugins registered -------------------------------------------------------

    def _registrations(self, hook: str, kind: str) -> dict[str, tuple[str, Any]]:
        found: dict[str, tuple[str, Any]] = {}
        for plugin, result, error in self.call_each(hook):
            if error is not None:
                self._fail(plugin, self.infos[plugin].distribution, f"{hook} raised {error!r}")
                continue
            for item in result if isinstance(result, (list, tuple)) else [result]:
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
                f"no installed plugin handles session type {name!r}; "
                f"install it with: pip install {KNOWN_SESSION_TYPES[name]}"
            )
        known = sorted(set(self.session_types) | set(KNOWN_SESSION_TYPES))
        raise UsageError(f"unknown session type {name!r} (known: {', '.join(known)})")

    def target(self, name: str) -> tuple[str, Target]:
        found = self.targets.get(name)
        if found:
            return found
        hint = f"; install it with: pip install {KNOWN_TARGETS[name]}" if name in KNOWN_TARGETS else ""
        raise UsageError(f"no installed plugin provides publication target {name!r}{hint}")

    def template_dirs(self) -> list[Path]:
        """Every plugin's packaged template folders, in plugin order (asked once)."""
        if self._template_dirs is None:
            dirs: list[Path] = []
            for plugin, result, error in self.call_each("flywheel_template_dirs"):
                if error is None and result:
                    dirs.extend(Path(p) for p in result)
            self._template_dirs = dirs
        return self._template_dirs

    def config_schemas(self) -> dict[str, dict[str, Any]]:
        out = {}
        for plugin, result, error in self.call_each("flywheel_config_schema"):
            if error is None and result:
                out[plugin] = result
        return out


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
