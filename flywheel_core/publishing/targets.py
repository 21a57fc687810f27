"""Publication targets as the queue sees them: configured, enabled, validated, and called one owner at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flywheel_core.errors import UsageError
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
    _, registration = host.target(name)
    table = config.target_config(name)
    checked = {k: v for k, v in table.items() if k != "enabled"}
    for path, message in iter_errors(registration.config_schema or {}, checked):
        raise UsageError(f"{config.source}: $.targets.{name}{path[1:]}: {message}")
    return table


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
