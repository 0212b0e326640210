"""Plugin discovery and the component registry.

Built-in modules (``gdsim.builtins``) are registered first, then every entry point of the group
``gdsim``. Each plugin is loaded on its own: a plugin that fails to import is recorded with its
error and the others still load. Component names are unique per kind across all plugins; a
clash is recorded as a conflict naming both distributions: using that name is an error (and
``gdsim plugins`` exits 2), while every other component still works.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import importlib.metadata as metadata
from collections.abc import Iterable, Iterator
from typing import Any

import attrs
import pluggy

from gdsim import __version__, hookspecs
from gdsim.builtins import BUILTIN_PLUGINS
from gdsim.components import (
    Activation,
    Component,
    DataSource,
    Estimator,
    GradientTransform,
    Initializer,
    Objective,
    Observer,
    Schedule,
    UpdateRule,
)
from gdsim.errors import PluginError, did_you_mean

BASES: dict[str, type[Component]] = {
    "objective": Objective,
    "estimator": Estimator,
    "rule": UpdateRule,
    "transform": GradientTransform,
    "schedule": Schedule,
    "observer": Observer,
    "data": DataSource,
    "activation": Activation,
    "initializer": Initializer,
}


@attrs.define
class PluginInfo:
    """One plugin as loaded: where it comes from and what it contributed (or why it failed)."""

    name: str
    distribution: str
    version: str
    components: dict[str, list[str]] = attrs.field(factory=dict)
    error: str | None = None


@attrs.frozen
class Entry:
    """A registered component class and the plugin that contributed it."""

    cls: type
    plugin: PluginInfo


class UnknownComponentError(LookupError):
    """No component of that kind has that name; ``suggestion`` is the closest name, if any."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        self.suggestion = did_you_mean(name, self.known)
        super().__init__(f"unknown {kind} '{name}'")


class Registry:
    """All components contributed by all plugins, by kind and name."""

    def __init__(self, pm: pluggy.PluginManager, plugins: list[PluginInfo]) -> None:
        self.pm = pm
        self.plugins = plugins
        self.conflicts: list[str] = []
        self._conflicted: dict[tuple[str, str], str] = {}
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in BASES}
        self._collect()

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def discover(
        cls,
        builtin_modules: Iterable[str] = BUILTIN_PLUGINS,
        entry_points: Iterable[metadata.EntryPoint] | None = None,
    ) -> Registry:
        """Register the built-ins, then every entry point of group ``gdsim``."""
        pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        pm.add_hookspecs(hookspecs)
        plugins: list[PluginInfo] = []
        for module_name in builtin_modules:
            info = PluginInfo(name=module_name, distribution="gdsim", version=__version__)
            _register(pm, info, lambda m=module_name: importlib.import_module(m))
            plugins.append(info)
        if entry_points is None:
            entry_points = metadata.entry_points(group=hookspecs.ENTRY_POINT_GROUP)
        for ep in sorted(entry_points, key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                distribution=dist.name if dist is not None else "?",
                version=dist.version if dist is not None else "?",
            )
            _register(pm, info, ep.load)
            plugins.append(info)
        return cls(pm, plugins)

    def _collect(self) -> None:
        """Gather each plugin's components from all hooks, then register the sound plugins'.

        A plugin whose hook raises or returns something that is not a component class is
        reported and contributes nothing at all: half a plugin would only mislead.
        """
        offered: dict[str, list[tuple[str, type]]] = {}
        for kind, hook_name in hookspecs.COMPONENT_HOOKS.items():
            hook = getattr(self.pm.hook, hook_name)
            for impl in reversed(hook.get_hookimpls()):  # registration order
                info = self._info_for(impl.plugin_name)
                try:
                    for component in list(impl.function() or []):
                        _check_component(kind, component)
                        offered.setdefault(info.name, []).append((kind, component))
                except Exception as exc:  # a broken plugin must not hide the others
                    info.error = info.error or f"{type(exc).__name__}: {exc}"
        for info in self.plugins:
            if info.error is None:
                for kind, component in offered.get(info.name, []):
                    self._add(kind, component, info)

    def _info_for(self, plugin_name: str) -> PluginInfo:
        for info in self.plugins:
            if info.name == plugin_name:
                return info
        info = PluginInfo(name=plugin_name, distribution="?", version="?")
        self.plugins.append(info)
        return info

    def _add(self, kind: str, component: type, info: PluginInfo) -> None:
        name = component.name  # type: ignore[attr-defined]
        info.components.setdefault(kind, []).append(name)
        existing = self._entries[kind].get(name)
        if existing is not None and existing.cls is not component:
            message = (
                f"{kind} '{name}' is registered twice: by plugin '{existing.plugin.name}' "
                f"(distribution {existing.plugin.distribution} {existing.plugin.version}) and by "
                f"plugin '{info.name}' (distribution {info.distribution} {info.version})"
            )
            self.conflicts.append(message)
            self._conflicted[(kind, name)] = message
            return
        self._entries[kind][name] = Entry(component, info)

    # -- queries ------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise :class:`PluginError` if two plugins registered the same component name."""
        if self.conflicts:
            raise PluginError("; ".join(self.conflicts))

    def names(self, kind: str) -> list[str]:
        """All registered names of one kind, sorted."""
        return sorted(self._entries[kind])

    def get(self, kind: str, name: str) -> type:
        """The component class of that kind and name.

        Raises :class:`UnknownComponentError` for an unknown name and :class:`PluginError` for
        a name two plugins registered: using it is an error, the other names work.
        """
        if (kind, name) in self._conflicted:
            raise PluginError(self._conflicted[(kind, name)])
        try:
            return self._entries[kind][name].cls
        except KeyError:
            raise UnknownComponentError(kind, name, self._entries[kind]) from None

    def entry(self, kind: str, name: str) -> Entry:
        """The registration record (class and contributing plugin)."""
        self.get(kind, name)
        return self._entries[kind][name]

    @property
    def failures(self) -> list[PluginInfo]:
        """Plugins that failed to import or whose hooks raised."""
        return [p for p in self.plugins if p.error]


def _check_component(kind: str, component: Any) -> None:
    """Raise TypeError unless ``component`` is a named attrs class of the kind's base."""
    base = BASES[kind]
    if not (isinstance(component, type) and issubclass(component, base)):
        raise TypeError(f"{kind} hook returned {component!r}, not a {base.__name__} class")
    if not attrs.has(component):
        raise TypeError(f"{kind} '{component.__name__}' is not an attrs class")
    if not getattr(component, "name", ""):
        raise TypeError(f"{kind} class {component.__name__} has no 'name'")


def _register(pm: pluggy.PluginManager, info: PluginInfo, load: Any) -> None:
    try:
        plugin = load()
        pm.register(plugin, name=info.name)
    except Exception as exc:  # report, keep going
        info.error = f"{type(exc).__name__}: {exc}"


@functools.cache
def default_registry() -> Registry:
    """The registry of this process: built-ins plus installed plugins, discovered once."""
    return Registry.discover()


_ACTIVE: contextvars.ContextVar[Registry | None] = contextvars.ContextVar(
    "gdsim_active_registry", default=None
)


def active_registry() -> Registry:
    """The registry names resolve against here: the one a scenario is being loaded with
    (see :func:`using_registry`), else :func:`default_registry`.

    Components that name other components inside their own parameters (a network's data source,
    activation and initializer) look them up through this, so a scenario loaded with a custom
    registry finds that registry's components.
    """
    return _ACTIVE.get() or default_registry()


@contextlib.contextmanager
def using_registry(registry: Registry) -> Iterator[Registry]:
    """Make ``registry`` the :func:`active_registry` inside the ``with`` block."""
    token = _ACTIVE.set(registry)
    try:
        yield registry
    finally:
        _ACTIVE.reset(token)
