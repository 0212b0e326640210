"""The errors gdsim reports to users: each one knows where in which file it came from."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GdsimError(Exception):
    """Base of every error gdsim turns into a clean message and exit code 2."""


class ScenarioError(GdsimError):
    """A scenario is malformed: carries the file, the key path, what was expected and a hint."""

    def __init__(
        self,
        message: str,
        *,
        path: str = "",
        file: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.file = file
        self.suggestion = suggestion

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.path) if p)
        text = f"{where}: {self.message}" if where else self.message
        if self.suggestion:
            text += f" (did you mean '{self.suggestion}'?)"
        return text


class ParamError(ValueError):
    """A component parameter failed validation; ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class PluginError(GdsimError):
    """The plugin set is inconsistent, e.g. two plugins register the same component name."""


class CheckpointError(GdsimError):
    """A checkpoint is missing, corrupt, truncated or does not match its scenario."""


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """Return the choice closest to ``name`` when one is close enough to be a likely typo."""
    cutoff = 0.5 if len(name) <= 4 else 0.6  # one wrong letter in "nu" is half the word
    matches = difflib.get_close_matches(name, list(choices), n=1, cutoff=cutoff)
    return matches[0] if matches else None
