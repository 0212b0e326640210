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
        return with_hint(text, self.suggestion)


def with_hint(message: str, hint: str | None) -> str:
    """``message`` with `` (did you mean 'hint'?)`` right after the unknown name.

    One order everywhere: the suggestion comes before the list of valid names (``(known: …)``,
    ``(expected …)``, ``(runs: …)``, ``; known: …``) when the message has one, else at its end.
    """
    if not hint:
        return message
    text = f" (did you mean '{hint}'?)"
    found = [
        i
        for i in (message.find(m) for m in (" (expected", " (known", " (runs:", "; known:"))
        if i >= 0
    ]
    if found:
        i = min(found)
        return message[:i] + text + message[i:]
    return message + text


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


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during runs, carrying what had finished: ``runs`` (RunResult) and, once the
    Python API has put them in scenario order, ``results`` (a partial Results).

    A KeyboardInterrupt, so code that knows nothing of it still sees a Ctrl-C.
    """

    def __init__(self, runs: list[object] | None = None, results: object = None) -> None:
        super().__init__()
        self.runs = list(runs or [])
        self.results = results


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """Return the choice closest to ``name`` when one is close enough to be a likely typo.

    Case is ignored; one or two slips (a wrong, missing, extra or swapped letter; one for short
    names) win over difflib's looser similarity, so "adma" suggests "adam", not "adamax".
    Otherwise a name that begins longer names suggests the first of them in sorted order
    ("he" gives "he_normal"); the message's list of known names shows the others.
    """
    options = sorted(set(choices))
    if not options:
        return None
    wanted = name.lower()
    for option in options:
        if option.lower() == wanted:
            return option
    allowed = 1 if len(name) <= 4 else 2
    distance, best = min((_edit_distance(wanted, o.lower()), o) for o in options)
    if distance <= allowed:
        return best
    starting = [o for o in options if len(wanted) >= 2 and o.lower().startswith(wanted)]
    if starting:
        return starting[0]
    matches = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, swaps."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]
