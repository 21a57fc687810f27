"""Publication targets as the queue sees them: configured, enabled, validated, and called one owner at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import os

from flywheel_core.config import TARGET_COMMON_SCHEMA, Secret
from flywheel_core.errors import UsageError
from flywheel_core.redaction import register_secret
from flywheel_core.schema import iter_errors
from flywheel_core.types import PublishItem

if TYPE_CHECKING:
    from flywheel_core.config import Config
    from flywheel_core.context import PublishContext
    from flywheel_core.plugins import PluginHost

__all__ = ["call_target", "check_target", "takes"]


def check_target(config: Config, host: PluginHost, name: str) -> dict[str, Any]:
    """The validated ``[targets.<name>]`` table of an enabled target a plugin provides (secrets resolved)."""
    if name not in config.targets:
        raise UsageError(f"target {name!r} is not configured in {config.source} (add a [targets.{name}] table)")
    if name not in config.enabled_targets():
        raise UsageError(f"target {name!r} is disabled in {config.source} (enabled = false)")
    try:
        _, registration = host.target(name)
    except UsageError as error:  # a misspelt table name: say where it is and what is installed
        from flywheel_core.plugins import KNOWN_TARGETS

        installed = "" if name in KNOWN_TARGETS else f" (installed: {', '.join(sorted(host.targets)) or 'none'})"
        raise UsageError(f"{config.source}: $.targets.{name}: {error}{installed}") from None
    schema = registration.config_schema or {}
    table = _from_environment(config.target_config(name), schema)
    # enabled, scan, review: core's keys (checked when the config is loaded), not the target's.
    checked = {k: v for k, v in table.items() if k not in TARGET_COMMON_SCHEMA["properties"]}
    for path, message in iter_errors(schema, checked):
        raise UsageError(f"{config.source}: $.targets.{name}{path[1:]}: {message}")
    return table


def _from_environment(table: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``table`` with each missing setting whose schema names environment variables
    (``"x-env": ["FLYWHEEL_GITHUB_TOKEN", "GITHUB_TOKEN"]``) read from the first one set, at
    any depth of the tables the config has (``deploy.token``).

    Like a ``{"$env": NAME}`` value, it is a :class:`Secret` registered with the redactor: a
    target never reads ``os.environ`` for a token itself.
    """
    filled = dict(table)
    for key, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if isinstance(filled.get(key), dict) and prop.get("properties"):
            filled[key] = _from_environment(filled[key], prop)
            continue
        names = prop.get("x-env")
        if key in filled or not isinstance(names, list):
            continue
        value = next((os.environ[n] for n in names if isinstance(n, str) and os.environ.get(n)), None)
        if value is not None:
            register_secret(value)
            filled[key] = Secret(value)
    return filled


def takes(host: PluginHost, target: str, kind: str) -> bool:
    """Whether ``target`` publishes artifacts of ``kind`` (its ``Target.kinds``)."""
    return host.target(target)[1].takes(kind)


def call_target(
    host: PluginHost, name: str, items: list[PublishItem], table: dict[str, Any], ctx: PublishContext
) -> Any:
    """Call ``flywheel_publish`` on the plugin that owns ``name`` only (a dry run the same way)."""
    owner, _ = host.target(name)
    others = [plugin for plugin_name, plugin in host.pm.list_name_plugin() if plugin_name != owner]
    caller = host.pm.subset_hook_caller("flywheel_publish", remove_plugins=others)
    return caller(target=name, items=items, config=table, ctx=ctx)
