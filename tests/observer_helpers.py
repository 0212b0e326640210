"""Test-only components for the observer tests, registered through a plugin like any other.

- ``ramp``: f(x) = x with f' = 1, so plain GD with lr = 1 from x = 0 is at x = −k after k steps;
  its ``validation`` split reads a constructed curve at index k, so a test decides exactly what
  early stopping sees.
- ``coin``: an estimator that draws from the run's RNG every step (exercises the RNG state).
- ``own_noise``: a transform keeping its own seeded ``numpy.random.Generator`` in its state.
- ``crash``: an observer raising :class:`Crash` at the step in ``CRASH_AT`` (a module global,
  so that the scenario of the crashed run and of the resumed one are the same).
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import attrs
import numpy as np
import pluggy

from gdsim import hookspecs
from gdsim.builtins import BUILTIN_PLUGINS
from gdsim.components import Estimator, GradientTransform, Objective, Observer, param
from gdsim.hookspecs import hookimpl
from gdsim.registry import PluginInfo, Registry


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


@attrs.frozen
class Ramp(Objective):
    """f(x) = x; validation.loss at x = −k is curve[k] (clamped to the last value)."""

    name: ClassVar[str] = "ramp"

    curve: tuple[float, ...] = param((0.0,), converter=_floats)

    def init(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"x": np.array(0.0)}

    def value_and_grad(self, params: Any, batch: Any = None) -> tuple[Any, Any]:
        x = params["x"]
        return x + 0.0, {"x": np.ones_like(x)}

    def metrics(self, params: Any, split: str = "train") -> dict[str, float]:
        k = round(-float(params["x"]))
        if split == "train":
            return {"loss": float(params["x"])}
        if split == "validation":
            value = self.curve[min(max(k, 0), len(self.curve) - 1)]
            return {"loss": value, "accuracy": -value}
        raise KeyError(f"no split '{split}'")


@attrs.frozen
class Coin(Estimator):
    """Draws one uniform number from the run's RNG every step; counts heads in its state."""

    name: ClassVar[str] = "coin"

    def init(self, objective: Any, rng: np.random.Generator) -> dict[str, Any]:
        return {"heads": 0, "last": np.float64(0.0)}

    def next_batch(self, state: Any, rng: np.random.Generator) -> tuple[Any, Any, bool]:
        u = rng.random()
        return None, {"heads": state["heads"] + int(u < 0.5), "last": np.float64(u)}, True


@attrs.frozen
class Chunks(Estimator):
    """Full batches, with an epoch ending every ``size`` steps."""

    name: ClassVar[str] = "chunks"

    size: int = param(3)

    def init(self, objective: Any, rng: np.random.Generator) -> dict[str, Any]:
        return {"seen": 0}

    def next_batch(self, state: Any, rng: np.random.Generator) -> tuple[Any, Any, bool]:
        seen = state["seen"] + 1
        return None, {"seen": seen}, seen % self.size == 0


@attrs.frozen
class OwnNoise(GradientTransform):
    """Adds N(0, scale²) noise from its own seeded generator kept in the state."""

    name: ClassVar[str] = "own_noise"

    scale: float = param(0.01)
    seed: int = param(7)

    def init(self, params: Any) -> dict[str, Any]:
        return {"rng": np.random.default_rng(self.seed), "calls": 0, "history": (0.0, 0.0)}

    def apply(self, grads: Any, state: Any, params: Any) -> tuple[Any, Any]:
        rng = np.random.Generator(type(state["rng"].bit_generator)())
        rng.bit_generator.state = state["rng"].bit_generator.state  # stay pure
        noisy = {k: g + self.scale * rng.standard_normal(np.shape(g)) for k, g in grads.items()}
        return noisy, {"rng": rng, "calls": state["calls"] + 1, "history": (1.0, float("nan"))}


class Crash(BaseException):
    """Raised by the ``crash`` observer to simulate a process that stops mid-run.

    A BaseException, like the KeyboardInterrupt or SystemExit of a real stop: an Exception
    would end only the run, with status "error".
    """


CRASH_AT: dict[str, int | None] = {"step": None}


@attrs.define
class CrashObserver(Observer):
    name: ClassVar[str] = "crash"

    def step_completed(self, run: Any) -> None:
        if CRASH_AT["step"] is not None and run.step == CRASH_AT["step"]:
            raise Crash(run.step)


class _Plugin:
    @hookimpl
    def gdsim_objectives(self) -> list[type]:
        return [Ramp]

    @hookimpl
    def gdsim_estimators(self) -> list[type]:
        return [Coin, Chunks]

    @hookimpl
    def gdsim_transforms(self) -> list[type]:
        return [OwnNoise]

    @hookimpl
    def gdsim_observers(self) -> list[type]:
        return [CrashObserver]


def registry() -> Registry:
    """The built-ins plus this module's test components."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    infos = []
    for module_name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
        infos.append(PluginInfo(name=module_name, distribution="gdsim", version="test"))
    pm.register(_Plugin(), name="observer-tests")
    infos.append(PluginInfo(name="observer-tests", distribution="tests", version="0"))
    return Registry(pm, infos)
