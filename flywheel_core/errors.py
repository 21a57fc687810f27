"""Exceptions that the CLI turns into one clear line and an exit code, never a traceback."""

from __future__ import annotations

__all__ = ["FlywheelError", "InputError", "PluginError", "UsageError"]


class FlywheelError(Exception):
    """Base class: ``exit_code`` is what the CLI exits with; ``str()`` is the message."""

    exit_code = 1


class UsageError(FlywheelError):
    """Bad command-line usage or configuration (exit 2)."""

    exit_code = 2


class InputError(FlywheelError):
    """A bad input file: names the file and the JSON path of the problem (exit 2)."""

    exit_code = 2

    def __init__(self, file: str, path: str, message: str) -> None:
        super().__init__(f"{file}: {path}: {message}")
        self.file = file
        self.path = path
        self.message = message


class PluginError(FlywheelError):
    """A plugin failed (import or hook); names its distribution (exit 1)."""

    exit_code = 1
