"""``gdsim new-plugin``: writes a plugin package that installs and passes its tests as generated.

The files are ``string.Template`` texts in :mod:`gdsim.template.files` (``$module``,
``$short``, ``$camel``, ``$dist`` are replaced; Python code has no other ``$``). Each example
component is named after the plugin (``gdsim-heavy-ball`` gives the rule ``heavy_ball``), so two
generated plugins do not clash; a name already taken by an installed plugin is refused.
"""

from __future__ import annotations

import keyword
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from gdsim import __version__
from gdsim.errors import GdsimError
from gdsim.template import files

KINDS = ("rule", "schedule", "objective", "data", "observer")
"""The kinds the template has an example of, in the order they are written."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*([-_.][A-Za-z0-9]+)*$")


class TemplateError(GdsimError):
    """The plugin cannot be created (a bad name, a folder that exists, a taken component name)."""


def names_for(name: str) -> dict[str, str]:
    """The names derived from a distribution name: package, component and class names."""
    if not _NAME.match(name):
        raise TemplateError(
            f"'{name}' is not a valid package name: use letters, digits and single -, _ or . "
            "between them, starting with a letter (e.g. gdsim-heavy-ball)"
        )
    dist = re.sub(r"[-_.]+", "-", name).lower()
    module = dist.replace("-", "_")
    short = module.removeprefix("gdsim_") or module
    if keyword.iskeyword(module) or keyword.iskeyword(short):
        raise TemplateError(f"'{name}' gives the Python name '{module}', a reserved word")
    camel = "".join(part.capitalize() for part in short.split("_"))
    return {
        "dist": dist,
        "module": module,
        "short": short,
        "camel": camel,
        "gdsim_version": __version__,
    }


def _check_free(names: dict[str, str], kinds: Iterable[str]) -> None:
    from gdsim.registry import default_registry

    registry = default_registry()
    for kind in kinds:
        if names["short"] in registry.names(kind):
            entry = registry.entry(kind, names["short"])
            raise TemplateError(
                f"the example {kind} would be named '{names['short']}', which "
                f"{entry.plugin.distribution} already registers; choose another plugin name"
            )


def render(name: str, kinds: Iterable[str]) -> dict[str, str]:
    """The files of the new package, relative path → text."""
    names = names_for(name)
    kinds = [k for k in KINDS if k in set(kinds)]
    if not kinds:
        raise TemplateError(f"ask for at least one kind of component ({', '.join(KINDS)})")
    _check_free(names, kinds)
    return {
        relative.replace("$module", names["module"]): text
        for relative, text in files.package(names, kinds).items()
    }


def write_plugin(name: str, kinds: Iterable[str], parent: Path) -> Path:
    """Write the package into ``parent/<name>``; refuses to overwrite an existing folder.

    The files are written into a temporary folder next to the target and renamed into place
    at the end, so an interrupted run leaves no half-written package.
    """
    contents = render(name, kinds)
    folder = Path(parent) / names_for(name)["dist"]
    if folder.exists():
        raise TemplateError(f"{folder} already exists; choose another name or --dir")
    try:
        Path(parent).mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=parent))
        for relative, text in contents.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        os.replace(staging, folder)
    except OSError as exc:
        raise TemplateError(f"cannot write {folder}: {exc}") from None
    return folder
