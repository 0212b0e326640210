"""The plugin contract of gdsim: read this first if you write a plugin.

A plugin is any module or object with functions marked ``@gdsim.hookspecs.hookimpl`` whose names
are the hooks below. Publish it through the entry-point group ``gdsim`` in your package's
``pyproject.toml``::

    [project.entry-points.gdsim]
    my_rules = "my_package.plugin"

gdsim's own components take exactly the same path: ``gdsim.builtins`` lists modules that
implement these hooks, and they are registered before the entry points are loaded.

**Component hooks** return a list of component *classes* (attrs classes deriving from the bases
in :mod:`gdsim.components`, each with a class variable ``name``). Two plugins returning the same
name for the same kind is an error naming both distributions.

**Event hooks** are fired for every run, for plugins that watch runs globally (loggers,
dashboards). They are not on the per-step hot path except ``gdsim_step_completed``, which the
engine calls only when at least one plugin implements it. Observers configured in a scenario
receive their events directly from the engine, without a hook call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from gdsim.engine import RunContext
    from gdsim.results import RunResult

PROJECT_NAME = "gdsim"
ENTRY_POINT_GROUP = "gdsim"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --- components ------------------------------------------------------------------------------


@hookspec
def gdsim_objectives() -> list[type]:
    """Return the objective classes (subclasses of ``Objective``) this plugin contributes."""


@hookspec
def gdsim_estimators() -> list[type]:
    """Return the gradient-estimator classes (subclasses of ``Estimator``)."""


@hookspec
def gdsim_rules() -> list[type]:
    """Return the update-rule classes (subclasses of ``UpdateRule``)."""


@hookspec
def gdsim_transforms() -> list[type]:
    """Return the gradient-transform classes (subclasses of ``GradientTransform``)."""


@hookspec
def gdsim_schedules() -> list[type]:
    """Return the learning-rate schedule classes (subclasses of ``Schedule``).

    A schedule implements ``init() -> state`` and ``learning_rate(state, step, grads, loss) ->
    (lr, state)``, called once per step after the gradient transforms. To read a metric of the
    model (reduce-on-plateau reads the validation loss), it also implements
    ``monitors(objective) -> ("validation.loss", ...)`` and ``observe(state, epoch, metrics) ->
    state``: the engine then calls ``observe`` after every step that ends an epoch, before the
    observers, with those metrics at the parameters reached (evaluated when first read). Composite
    schedules pass both through to the schedules they wrap. See :class:`gdsim.components.Schedule`
    and ``docs/schedules.md``.
    """


@hookspec
def gdsim_observers() -> list[type]:
    """Return the observer classes (subclasses of ``Observer``)."""


@hookspec
def gdsim_data_sources() -> list[type]:
    """Return the data-source classes (subclasses of ``DataSource``): data sets a data-backed
    objective can name in its ``data`` table."""


@hookspec
def gdsim_activations() -> list[type]:
    """Return the activation classes (subclasses of ``Activation``) for the network objective."""


@hookspec
def gdsim_initializers() -> list[type]:
    """Return the weight-initializer classes (subclasses of ``Initializer``) for the network."""


# --- events ----------------------------------------------------------------------------------


@hookspec
def gdsim_run_started(run: RunContext) -> None:
    """A run is about to take its first step (or its first step after a resume)."""


@hookspec
def gdsim_step_completed(run: RunContext) -> None:
    """A step finished. Called every step, and only if some plugin implements it."""


@hookspec
def gdsim_epoch_completed(run: RunContext) -> None:
    """The step that ended an epoch finished."""


@hookspec
def gdsim_diverged(run: RunContext) -> None:
    """The run produced non-finite or exploding values and is being stopped."""


@hookspec
def gdsim_run_completed(run: RunContext, result: RunResult) -> None:
    """A run ended, whatever its status; ``result`` is final."""


COMPONENT_HOOKS: dict[str, str] = {
    "objective": "gdsim_objectives",
    "estimator": "gdsim_estimators",
    "rule": "gdsim_rules",
    "transform": "gdsim_transforms",
    "schedule": "gdsim_schedules",
    "observer": "gdsim_observers",
    "data": "gdsim_data_sources",
    "activation": "gdsim_activations",
    "initializer": "gdsim_initializers",
}
"""Which hook contributes which kind of component."""
