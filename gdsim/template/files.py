"""The texts of the package ``gdsim new-plugin`` writes, as ``string.Template`` strings.

Placeholders: ``$dist`` (gdsim-heavy-ball), ``$module`` (gdsim_heavy_ball), ``$short``
(heavy_ball, the name of every example component), ``$camel`` (HeavyBall, the class-name
prefix) and ``$gdsim_version``. Each kind has a component module, a line in the plugin module
and a behaviour test; the conformance test covers every kind at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from string import Template

PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "A gdsim plugin."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["gdsim>=$gdsim_version", "numpy>=1.26", "attrs>=23.1"]

[project.optional-dependencies]
test = ["pytest>=7.4"]

# This is what makes gdsim find the plugin: the entry-point group "gdsim", any entry name,
# and a module whose functions are marked with gdsim.hookspecs.hookimpl.
[project.entry-points.gdsim]
$short = "$module.plugin"

[tool.setuptools.packages.find]
where = ["src"]

[tool.ruff]
line-length = 100
"""

INIT = '''\
"""$dist: a gdsim plugin."""

__version__ = "0.1.0"
'''

MODULES = {
    "rule": "rules",
    "schedule": "schedules",
    "objective": "objectives",
    "data": "data",
    "observer": "observers",
}
"""The module each kind's example lives in."""

CLASSES = {
    "rule": ("${camel}Rule", "gdsim_rules"),
    "schedule": ("${camel}Schedule", "gdsim_schedules"),
    "objective": ("${camel}Objective", "gdsim_objectives"),
    "data": ("${camel}Data", "gdsim_data_sources"),
    "observer": ("${camel}Observer", "gdsim_observers"),
}
"""Each kind's example class and the hook that contributes it."""

COMPONENTS = {
    "rule": '''\
"""An example update rule: rename it, change the maths, keep the shape."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from gdsim.components import ComponentState, UpdateRule, param
from gdsim.state import Params, zeros_like
from gdsim.validators import unit_interval_open_right


@attrs.frozen
class ${camel}Rule(UpdateRule):
    """Heavy ball with the learning rate outside the velocity: v ← μv + g; x ← x − αv.

    With μ = 0 it is plain gradient descent.
    """

    name: ClassVar[str] = "$short"

    mu: float = param(0.9, validator=unit_interval_open_right(), doc="momentum coefficient μ")

    def init(self, params: Params) -> ComponentState:
        return {"v": zeros_like(params)}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        # pure: new arrays only, never modify params, grads or state in place
        v = {k: self.mu * state["v"][k] + g for k, g in grads.items()}
        return {k: x - lr * v[k] for k, x in params.items()}, {"v": v}
''',
    "schedule": '''\
"""An example learning-rate schedule: rename it, change the formula, keep the shape."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from gdsim.components import ComponentState, Schedule, param
from gdsim.state import Params
from gdsim.validators import non_negative, positive


@attrs.frozen
class ${camel}Schedule(Schedule):
    """Inverse-time decay: α_t = α₀ / (1 + k·t) for the step t = 0, 1, 2, …"""

    name: ClassVar[str] = "$short"

    lr: float = param(0.1, validator=positive(), doc="initial learning rate α₀")
    decay: float = param(0.01, validator=non_negative(), doc="decay rate k per step")

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        # a schedule that needs memory keeps it in state (nested dicts of arrays and numbers)
        return self.lr / (1.0 + self.decay * step), state
''',
    "objective": '''\
"""An example objective: rename it, change the function, keep the shape."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np
from gdsim.components import Objective, param
from gdsim.state import Params
from gdsim.validators import positive


@attrs.frozen
class ${camel}Objective(Objective):
    """An elliptic bowl f(x, y) = a·x² + b·y², with its minimum 0 at the origin.

    Elementwise: x and y may carry a leading ensemble axis (many runs as one array).
    """

    name: ClassVar[str] = "$short"
    elementwise: ClassVar[bool] = True

    a: float = param(1.0, validator=positive(), doc="curvature along x")
    b: float = param(10.0, validator=positive(), doc="curvature along y")

    def init(self, rng: np.random.Generator) -> Params:
        return {"x": np.array(1.0), "y": np.array(1.0)}

    def value_and_grad(self, params: Params, batch: Any = None) -> tuple[Any, Params]:
        x, y = params["x"], params["y"]
        loss = self.a * x * x + self.b * y * y
        return loss, {"x": 2.0 * self.a * x, "y": 2.0 * self.b * y}

    def minima(self) -> list[dict[str, Any]]:
        return [{"params": {"x": 0.0, "y": 0.0}, "loss": 0.0, "kind": "global"}]
''',
    "data": '''\
"""An example data source: rename it, load your data, keep the shape."""

from __future__ import annotations

from typing import ClassVar

import attrs
import numpy as np
from gdsim.components import DataSource, param
from gdsim.validators import int_at_least, non_negative


@attrs.frozen
class ${camel}Data(DataSource):
    """Two Gaussian clouds in the plane (unit spread) centred at (±separation/2, 0), one class
    each, alternating: sample i has class i mod 2."""

    name: ClassVar[str] = "$short"
    task: ClassVar[str] = "classification"
    cacheable: ClassVar[bool] = True  # depends only on the parameters and the seed

    n: int = param(200, validator=int_at_least(2), doc="number of samples")
    separation: float = param(3.0, validator=non_negative(), doc="distance between the centres")

    def load(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        labels = (np.arange(self.n) % 2).astype(np.float64)
        centres = np.column_stack([(labels - 0.5) * self.separation, np.zeros(self.n)])
        return centres + rng.standard_normal((self.n, 2)), labels
''',
    "observer": '''\
"""An example observer: rename it, watch what you need, keep the shape."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
from gdsim.components import Observer, param
from gdsim.validators import int_at_least


@attrs.define
class ${camel}Observer(Observer):
    """Remembers the lowest loss the run reached and the step count it was reached after."""

    name: ClassVar[str] = "$short"

    every: int = param(1, validator=int_at_least(1), doc="look after every N-th step")
    _best: float = attrs.field(init=False, default=math.inf)
    _best_step: int = attrs.field(init=False, default=-1)

    def step_completed(self, run: Any) -> None:
        # run.loss is the loss at the point the step started from (after run.step - 1 steps)
        self._see(float(run.loss), run.step - 1)

    def run_completed(self, run: Any, result: Any) -> None:
        if result.final_loss is not None:  # the last point, which no step started from
            self._see(result.final_loss, result.final_step)

    def _see(self, loss: float, step: int) -> None:
        if loss < self._best:
            self._best, self._best_step = loss, step

    def outputs(self) -> dict[str, Any]:
        return {"best_loss": self._best, "best_step": self._best_step}

    def state_dict(self) -> dict[str, Any]:
        # everything a checkpoint needs to resume this observer exactly
        return {"best": self._best, "best_step": self._best_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._best = float(state["best"])
        self._best_step = int(state["best_step"])
''',
}
"""One example component per kind."""

TEST_CONFORMANCE = '''\
"""Every component of this plugin passes gdsim's conformance kit, as installed (the entry point is
read, not the source folder): the same checks gdsim's built-ins pass. ``gdsim check-plugin $dist``
runs the same from the command line."""

import pytest
from gdsim.testing import conformance_cases

CASES = conformance_cases("$dist")


def test_the_plugin_contributes_components():
    assert CASES, "the entry point contributes no component"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_component_passes_the_conformance_kit(case):
    checked = case.run()
    assert checked > 0, f"{case} needs parameters: give it a classmethod conformance_examples"
'''

BEHAVIOUR_TESTS = {
    "rule": """
def test_rule_with_mu_0_is_gradient_descent():
    params, grads = {"x": np.array([1.0, -2.0])}, {"x": np.array([0.5, 4.0])}
    rule = ${camel}Rule(mu=0.0)
    new, _ = rule.update(grads, rule.init(params), params, 0.1)
    assert np.array_equal(new["x"], params["x"] - 0.1 * grads["x"])


def test_rule_in_a_scenario():
    results = gdsim.run(
        {
            "objective": {"name": "quartic"},
            "runs": [
                {
                    "name": "a",
                    "init": {"x": 5.0},
                    "steps": 200,
                    "rule": {"name": "$short", "mu": 0.5},
                }
            ],
        }
    )
    assert results.runs[0].status == "completed"
    assert abs(float(results.runs[0].final_params["x"]) - 3.27) < 0.01  # the global minimum
""",
    "schedule": """
def test_schedule_follows_its_formula():
    schedule = ${camel}Schedule(lr=0.2, decay=0.5)
    state = schedule.init()
    rates = [schedule.learning_rate(state, t, {}, 0.0)[0] for t in range(3)]
    assert rates == [0.2 / (1 + 0.5 * t) for t in range(3)]
""",
    "objective": """
def test_objective_gradient_descent_reaches_the_minimum():
    results = gdsim.run(
        {
            "objective": {"name": "$short", "a": 1.0, "b": 4.0},
            "runs": [{"name": "a", "steps": 100, "schedule": {"name": "constant", "lr": 0.1}}],
        }
    )
    assert results.runs[0].final_loss < 1e-8
""",
    "data": """
def test_data_source_is_balanced_and_feeds_a_network():
    X, y = ${camel}Data(n=10).load(np.random.default_rng(0))
    assert X.shape == (10, 2) and list(y) == [0.0, 1.0] * 5
    data = {"name": "$short", "n": 100, "separation": 4.0}
    results = gdsim.run(
        {
            "objective": {"name": "mlp", "data": data, "hidden": [4]},
            "runs": [{"name": "a", "steps": 200, "rule": "adam"}],
        }
    )
    assert results.runs[0].final_loss < 0.3  # well separated: easy to classify
""",
    "observer": """
def test_observer_finds_the_lowest_loss():
    results = gdsim.run(
        {
            "objective": {"name": "quartic"},
            "runs": [
                {
                    "name": "a",
                    "init": {"x": 5.0},
                    "steps": 30,
                    "observers": [{"name": "$short"}],
                }
            ],
        }
    )
    run = results.runs[0]
    found = run.outputs["$short"]  # each observer's outputs under its name
    # gradient descent from 5 goes down all the way: the best point is the last one
    assert found == {"best_loss": run.final_loss, "best_step": 30}
""",
}


def _sub(text: str, names: dict[str, str]) -> str:
    return Template(text).substitute(names)


def plugin_module(names: dict[str, str], kinds: Sequence[str]) -> str:
    """The module the entry point names: one hook per kind."""
    lines = [
        '"""The module gdsim loads through the entry point: it says which components exist."""',
        "",
        "from gdsim.hookspecs import hookimpl",
        "",
    ]
    lines += [
        f"from $module.{MODULES[k]} import {CLASSES[k][0]}" for k in sorted(kinds, key=MODULES.get)
    ]
    for kind in kinds:
        cls, hook = CLASSES[kind]
        lines += ["", "", "@hookimpl", f"def {hook}() -> list[type]:", f"    return [{cls}]"]
    return _sub("\n".join(lines) + "\n", names)


def tests_module(names: dict[str, str], kinds: Sequence[str]) -> str:
    """What each example component does, as a user of the plugin sees it."""
    head = [
        '"""The example components do what their docstrings say, in scenarios too."""',
        "",
        "import gdsim",
        "import numpy as np",
        "",
    ]
    tested = [k for k in kinds if k in ("rule", "schedule", "data")]  # tests that use the class
    head += [
        f"from $module.{MODULES[k]} import {CLASSES[k][0]}" for k in sorted(tested, key=MODULES.get)
    ]
    uses_numpy = any("np." in BEHAVIOUR_TESTS[k] for k in kinds)
    if not uses_numpy:
        head.remove("import numpy as np")
    text = "\n".join(head) + "\n\n" + "\n".join(BEHAVIOUR_TESTS[k] for k in kinds)
    return _sub(text, names)


def readme(names: dict[str, str], kinds: Sequence[str]) -> str:
    """The package's README: install, test, use, and where to go from here."""
    listed = "\n".join(f"- {kind} `$short` (`src/$module/{MODULES[kind]}.py`)" for kind in kinds)
    text = f"""\
# $dist

A plugin for gdsim, the gradient-descent simulation engine, generated by `gdsim new-plugin`.
It contributes:

{listed}

## Install and test

```bash
pip install -e ".[test]"
python -m pytest
# the same conformance kit gdsim's own components pass, from the command line:
gdsim check-plugin $dist
# this plugin and its components, among all installed ones:
gdsim plugins
```

## Use

Any scenario can name the components once the package is installed, e.g.
`rule = {{ name = "$short", mu = 0.5 }}`; `gdsim describe KIND $short` prints a component's
documentation and parameters.

## Make it yours

Rename the classes and their `name`, change the maths, and keep the tests green. The component
interfaces, what a plugin may import, and the rules of the road (unique names, pure updates,
states a checkpoint can store) are in gdsim's plugin guide, `docs/plugins.md`.
A component whose parameters have no defaults needs a classmethod
`conformance_examples(workdir)` returning instances for the conformance kit to check.
"""
    return _sub(text, names)


def package(names: dict[str, str], kinds: Sequence[str]) -> dict[str, str]:
    """Every file of the package, path (with ``$module``) → text."""
    src = "src/$module"
    out = {
        "pyproject.toml": _sub(PYPROJECT, names),
        "README.md": readme(names, kinds),
        f"{src}/__init__.py": _sub(INIT, names),
        f"{src}/plugin.py": plugin_module(names, kinds),
        "tests/test_conformance.py": _sub(TEST_CONFORMANCE, names),
        "tests/test_examples.py": tests_module(names, kinds),
    }
    for kind in kinds:
        out[f"{src}/{MODULES[kind]}.py"] = _sub(COMPONENTS[kind], names)
    return out
