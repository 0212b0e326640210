"""Components marked ``array_api`` run traced under ``jax.jit`` and agree with numpy; the
tracing probe (``gdsim check-plugin``) names a plain numpy component and its offending line."""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest

from gdsim.components import UpdateRule
from gdsim.conformance import NeedsExamples, examples_of
from gdsim.registry import default_registry

KINDS = ("objective", "rule", "transform", "schedule")


def _marked_examples() -> list[Any]:
    registry = default_registry()
    found = []
    for kind in KINDS:
        for name in registry.names(kind):
            try:
                examples = examples_of(registry.get(kind, name), Path(tempfile.mkdtemp()))
            except NeedsExamples:
                continue
            for i, example in enumerate(examples):
                if example.array_api:
                    found.append(pytest.param(example, id=f"{kind}:{name}:{i}"))
    return found


MARKED = _marked_examples()


def test_the_built_in_families_are_marked():
    names = {p.values[0].name for p in MARKED}
    for name in ("gd", "momentum", "nesterov", "sgd", "adagrad", "rmsprop", "adam"):
        assert name in names
    for name in ("constant", "exponential", "cosine", "multistep", "quartic", "rosenbrock"):
        assert name in names


@pytest.mark.parametrize("component", MARKED)
def test_marked_component_runs_under_jit_and_agrees_with_numpy(component):
    pytest.importorskip("jax")
    from gdsim.tracing import compare_backends

    compare_backends(component, rtol=1e-12)


@attrs.frozen
class NumpyRMS(UpdateRule):
    """A plugin-style rule written with plain numpy: fine on numpy, not traceable."""

    name: ClassVar[str] = "numpy_rms"

    eps: float = 1e-8

    def update(self, grads, state, params, lr):
        return {
            k: x - lr * grads[k] / (np.sqrt(grads[k] * grads[k]) + self.eps)
            for k, x in params.items()
        }, state


def test_plain_numpy_component_is_named_with_its_file_and_line():
    pytest.importorskip("jax")
    from gdsim.tracing import NotTraceable
    from gdsim.xp import check_traceable

    assert not NumpyRMS.array_api
    source, first = inspect.getsourcelines(NumpyRMS.update)
    line = first + next(i for i, text in enumerate(source) if "np.sqrt" in text)
    with pytest.raises(NotTraceable) as caught:
        check_traceable(NumpyRMS())
    message = str(caught.value)
    assert "rule 'numpy_rms'" in message
    assert f"test_array_api.py:{line}" in message
    assert "np.sqrt" in message


def test_a_value_branch_is_named_too():
    pytest.importorskip("jax")
    from gdsim.schedules import Constant, ReduceOnPlateau, Sequence
    from gdsim.tracing import NotTraceable, check_traceable

    class Stepwise(Constant):
        """A plugin-style schedule that branches on the step."""

        name = "stepwise"

        def learning_rate(self, state, step, grads, loss):
            if step < 10:
                return self.lr, state
            return self.lr / 10, state

    assert not Sequence(pieces=(Stepwise(), ReduceOnPlateau()), boundaries=(5,)).array_api
    with pytest.raises(NotTraceable, match=r"schedule 'stepwise'.*test_array_api\.py:\d+ `if step"):
        check_traceable(Stepwise())


def test_static_fields_are_not_traced():
    from gdsim.rules.adaptive import RMSProp
    from gdsim.rules.classic import SGD
    from gdsim.tracing import traced_floats

    assert ("momentum",) not in traced_floats(SGD(momentum=0.9))
    assert ("dampening",) in traced_floats(SGD(momentum=0.9))
    assert ("momentum",) not in traced_floats(RMSProp(momentum=0.5))
    assert ("beta",) in traced_floats(RMSProp(momentum=0.5))


def test_kit_reports_unmarked_components_as_numpy_only_and_fails_false_marks():
    from gdsim.testing import check_backends

    assert check_backends(NumpyRMS()) == "not array-API: numpy backend only"
    pytest.importorskip("jax")

    @attrs.frozen
    class Claims(NumpyRMS):
        name: ClassVar[str] = "claims_array_api"
        array_api: ClassVar[bool] = True

    with pytest.raises(TypeError, match=r"rule 'claims_array_api'.*np\.sqrt"):
        check_backends(Claims())
    from gdsim.rules.adaptive import Adam

    assert check_backends(Adam()) == "numpy, jax"


def _schedules_over_their_phases() -> list[Any]:
    from gdsim import schedules as s

    made = [
        s.OneCycle(steps=60),
        s.OneCycle(steps=60, anneal="linear", three_phase=True),
        s.Cyclic(step_size_up=7, step_size_down=4),
        s.Cyclic(step_size_up=5, mode="triangular2"),
        s.Cyclic(step_size_up=5, mode="exp_range", gamma=0.97),
        s.CosineRestarts(period=3, mult=2, min_lr=0.01),
        s.CosineRestarts(period=7),
        s.Cosine(steps=40, min_lr=0.001),
        s.Polynomial(steps=40, power=2.5, end_lr=0.01),
        s.MultiStep(milestones=(5, 20, 33), gamma=0.5),
        s.StepDecay(step_size=9, gamma=0.7),
        s.Exponential(every=4),
        s.LinearWarmup(steps=10, start=0.1, inner=s.Cosine(steps=50)),
        s.ExponentialWarmup(tau=6, inner=s.StepDecay(step_size=10)),
        s.Sequence(
            pieces=(s.LinearWarmup(steps=5), s.GradControl(), s.Exponential(every=3)),
            boundaries=(10, 40),
        ),
        s.Scale(inner=s.OneCycle(steps=50), factor=0.5),
    ]
    return [pytest.param(m, id=f"{m.name}:{i}") for i, m in enumerate(made)]


@pytest.mark.parametrize("schedule", _schedules_over_their_phases())
def test_schedules_agree_with_numpy_over_all_their_phases(schedule):
    pytest.importorskip("jax")
    from gdsim.tracing import compare_backends

    assert schedule.array_api
    compare_backends(schedule, rtol=1e-12, steps=130)
