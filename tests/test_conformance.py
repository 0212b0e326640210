"""The conformance kit: gdsim's own components pass it, and each check catches the breach of
contract it exists for (a kit that passes everything would prove nothing)."""

from __future__ import annotations

import pickle
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest

from gdsim import testing
from gdsim.cli import main
from gdsim.components import (
    Activation,
    DataSource,
    Estimator,
    Initializer,
    Objective,
    Observer,
    Schedule,
    param,
)
from gdsim.objectives.activations import Tanh
from gdsim.objectives.initializers import HeNormal
from gdsim.objectives.mlp import MLP
from gdsim.objectives.polynomial import Quartic
from gdsim.observers.recorder import Recorder

CASES = testing.conformance_cases("gdsim")


def test_every_kind_has_builtins_in_the_kit() -> None:
    from gdsim.components import KINDS

    assert {case.kind for case in CASES} == set(KINDS)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_builtin_passes_the_kit(case: testing.Case) -> None:
    assert case.run() >= 1, f"{case} was not checked"


# --- objectives ------------------------------------------------------------------------------


@attrs.frozen
class Bowl(Objective):
    """Test objective x² with switchable faults."""

    name: ClassVar[str] = "bowl"
    elementwise: ClassVar[bool] = True
    grad_factor: float = 2.0
    value_offset: float = 0.0
    minimum_at: float = 0.0
    mixes_members: bool = False

    def init(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"x": np.array(1.5)}

    def value(self, params: Any, batch: Any = None) -> Any:
        return self.value_and_grad(params, batch)[0] + self.value_offset

    def value_and_grad(self, params: Any, batch: Any = None) -> Any:
        x = params["x"]
        loss = x * x
        if self.mixes_members and np.ndim(x) > 0:
            loss = loss + 1e-3 * x[::-1]
        return loss, {"x": self.grad_factor * x}

    def minima(self) -> list[dict[str, Any]]:
        return [{"params": {"x": self.minimum_at}, "loss": self.minimum_at**2}]


def test_a_sound_objective_passes() -> None:
    testing.check_objective(Bowl())


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"grad_factor": 2.5}, "central differences"),
        ({"value_offset": 1e-6}, "value\\(\\) = 2.250001 but value_and_grad"),
        ({"minimum_at": 0.5}, "not ≈ 0"),
        ({"mixes_members": True}, "must be bit-identical"),
    ],
)
def test_objective_faults_are_caught(fault: dict[str, Any], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        testing.check_objective(Bowl(**fault))


def test_an_objective_that_cannot_be_pickled_is_caught() -> None:
    @attrs.frozen
    class Local(Bowl):  # defined in a function: pickle cannot find it by name
        name: ClassVar[str] = "local"

    with pytest.raises(AssertionError, match="cannot be pickled"):
        testing.check_objective(Local())


def test_the_network_objective_is_checked_on_batches_too() -> None:
    mlp = MLP(data={"name": "moons", "n": 30}, hidden=[3])
    testing.check_objective(mlp)
    assert pickle.loads(pickle.dumps(mlp)) == mlp


# --- estimators ------------------------------------------------------------------------------


@attrs.frozen
class Faulty(Estimator):
    """Test estimator: batches of 3, with switchable faults."""

    name: ClassVar[str] = "faulty"
    data_backed: ClassVar[bool] = True
    fault: str = ""

    def init(self, objective: Objective, rng: np.random.Generator) -> dict[str, Any]:
        return {"n": objective.num_samples(), "step": 0}

    def next_batch(self, state: Any, rng: np.random.Generator) -> Any:
        n, step = state["n"], state["step"] + 1
        source = np.random.default_rng() if self.fault == "unseeded" else rng
        batch = source.choice(n, size=3, replace=False)
        if self.fault == "out_of_range":
            batch = batch + n
        steps_per_epoch = -(-n // 3)
        if self.fault == "early_epoch":
            steps_per_epoch = 2
        ends = self.fault != "no_epoch" and step == steps_per_epoch
        return batch, {"n": n, "step": 0 if ends else step}, ends


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("", None),
        ("out_of_range", "outside"),
        ("unseeded", "same seed"),
        ("early_epoch", "after only"),
        ("no_epoch", "no epoch ended"),
    ],
)
def test_estimator_faults_are_caught(fault: str, message: str | None) -> None:
    objective = MLP(data={"name": "moons", "n": 20}, hidden=[2])
    if message is None:
        testing.check_estimator(Faulty(fault), objective)
    else:
        with pytest.raises(AssertionError, match=message):
            testing.check_estimator(Faulty(fault), objective)


# --- schedules -------------------------------------------------------------------------------


@attrs.frozen
class Halving(Schedule):
    """Test schedule: halves α every step, keeping α in its state (with switchable faults)."""

    name: ClassVar[str] = "halving"
    fault: str = ""

    def init(self) -> dict[str, Any]:
        if self.fault == "unsaveable":
            return {"lr": np.array(1.0), "seen": {0}}  # a set: no checkpoint can store it
        return {"lr": np.array(1.0)}

    def learning_rate(self, state: Any, step: int, grads: Any, loss: Any) -> Any:
        if self.fault == "in_place":
            state["lr"] *= 0.5
            return float(state["lr"]), state
        lr = state["lr"] * 0.5
        return lr, {**state, "lr": lr}


@pytest.mark.parametrize(
    ("fault", "message"),
    [("in_place", "modified its inputs"), ("unsaveable", "type set are not supported")],
)
def test_schedule_faults_are_caught(fault: str, message: str) -> None:
    with pytest.raises(Exception, match=message):
        testing.check_schedule(Halving(fault))
    testing.check_schedule(Halving())


def test_roundtrip_keeps_generators_and_tuples() -> None:
    state = {"g": np.random.default_rng(3), "t": (1, 2.5), "a": np.arange(3.0), "s": "x"}
    back = testing.roundtrip_state(state)
    assert back["g"].random() == np.random.default_rng(3).random()
    assert back["t"] == (1, 2.5) and np.array_equal(back["a"], state["a"]) and back["s"] == "x"


# --- observers -------------------------------------------------------------------------------


@attrs.define
class Counter(Observer):
    """Test observer: counts the steps it saw; ``forget`` drops the count from its state."""

    name: ClassVar[str] = "counter"
    forget: bool = param(False)
    _count: int = attrs.field(init=False, default=0)

    def step_completed(self, run: Any) -> None:
        self._count += 1

    def outputs(self) -> dict[str, Any]:
        return {"count": self._count}

    def state_dict(self) -> dict[str, Any]:
        return {} if self.forget else {"count": self._count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._count = state.get("count", 0)


@pytest.fixture(scope="module")
def counter_registry() -> Any:
    import sys
    import types

    from gdsim.builtins import BUILTIN_PLUGINS
    from gdsim.hookspecs import hookimpl
    from gdsim.registry import Registry

    module = types.ModuleType("counter_plugin")
    module.gdsim_observers = hookimpl(lambda: [Counter])  # type: ignore[attr-defined]
    sys.modules["counter_plugin"] = module
    yield Registry.discover(builtin_modules=(*BUILTIN_PLUGINS, "counter_plugin"), entry_points=[])
    del sys.modules["counter_plugin"]


def test_an_observer_that_resumes_exactly_passes(counter_registry: Any) -> None:
    testing.check_observer(Counter(), registry=counter_registry)
    testing.check_observer(Recorder(every=2))


def test_an_observer_that_forgets_its_state_is_caught(counter_registry: Any) -> None:
    with pytest.raises(AssertionError, match="outputs of a resumed run differ"):
        testing.check_observer(Counter(forget=True), registry=counter_registry)


# --- data sources, activations, initializers -------------------------------------------------


@attrs.frozen
class Points(DataSource):
    """Test data source with switchable faults."""

    name: ClassVar[str] = "points"
    fault: str = ""

    def load(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        source = np.random.default_rng() if self.fault == "unseeded" else rng
        X = source.standard_normal((6, 2))
        y = np.array([0.0, 1.0, 2.0, 0.0, 1.0, 2.0])
        if self.fault == "int_features":
            X = X.astype(np.int64)
        if self.fault == "real_labels":
            y = y + 0.5
        if self.fault == "short_targets":
            y = y[:5]
        return X, y


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("unseeded", "same seed"),
        ("int_features", "dtype int64"),
        ("real_labels", "integers 0"),
        ("short_targets", "disagree"),
    ],
)
def test_data_source_faults_are_caught(fault: str, message: str) -> None:
    testing.check_data_source(Points())
    with pytest.raises(AssertionError, match=message):
        testing.check_data_source(Points(fault))


@attrs.frozen
class WrongTanh(Tanh):
    """Test activation: tanh with the derivative of the sigmoid's form a(1 − a)."""

    name: ClassVar[str] = "wrong_tanh"

    def backward(self, d: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d *= a * (1.0 - a)
        return d


@attrs.frozen
class InPlace(Activation):
    """Test activation: ReLU computed in place on z."""

    name: ClassVar[str] = "in_place"

    def forward(self, z: np.ndarray) -> np.ndarray:
        np.maximum(z, 0.0, out=z)
        return z

    def backward(self, d: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        d *= z > 0.0
        return d


def test_activation_faults_are_caught() -> None:
    testing.check_activation(Tanh())
    with pytest.raises(AssertionError, match="central differences"):
        testing.check_activation(WrongTanh())
    with pytest.raises(AssertionError, match="forward modified z"):
        testing.check_activation(InPlace())


@attrs.frozen
class Transposed(Initializer):
    """Test initializer: the shape the wrong way round, drawn from the global generator."""

    name: ClassVar[str] = "transposed"
    fault: str = "shape"

    def weights(self, rng, fan_in, fan_out, scale):  # type: ignore[no-untyped-def]
        if self.fault == "shape":
            return rng.standard_normal((fan_out, fan_in))
        return np.random.default_rng().standard_normal((fan_in, fan_out))


def test_initializer_faults_are_caught() -> None:
    testing.check_initializer(HeNormal())
    with pytest.raises(AssertionError, match="expected \\(3, 5\\)"):
        testing.check_initializer(Transposed("shape"))
    with pytest.raises(AssertionError, match="same seed"):
        testing.check_initializer(Transposed("unseeded"))


# --- the command -----------------------------------------------------------------------------


def test_check_plugin_command_on_the_builtins(cli) -> None:
    result = cli.invoke(main, ["check-plugin", "gdsim", "-v"])
    assert result.exit_code == 0, result.output
    assert f"{len(CASES)} passed, 0 failed, 0 not checked" in result.output
    assert "ok          objective:quartic" in result.output


def test_check_plugin_command_on_an_unknown_distribution(cli) -> None:
    result = cli.invoke(main, ["check-plugin", "gdsim-optimisers"])
    assert result.exit_code == 2
    assert "no installed gdsim plugin comes from distribution 'gdsim-optimisers'" in result.output


def test_quartic_examples_cover_both_evaluations() -> None:
    examples = testing.examples_of(Quartic, workdir=None)
    assert {e.evaluation for e in examples} == {"exact", "horner"}


@attrs.frozen
class NeedsFactor(Schedule):
    """Test schedule with a required parameter and no conformance examples."""

    name: ClassVar[str] = "needs_factor"
    factor: float = param()

    def learning_rate(self, state: Any, step: int, grads: Any, loss: Any) -> Any:
        return self.factor, state


@attrs.frozen
class Broken(Halving):
    """Test schedule that changes its state in place."""

    name: ClassVar[str] = "broken"
    fault: str = "in_place"


def test_runner_reports_passed_failed_and_not_checked() -> None:
    import sys
    import types

    from gdsim.hookspecs import hookimpl
    from gdsim.registry import Registry

    module = types.ModuleType("kit_runner_plugin")
    module.gdsim_schedules = hookimpl(  # type: ignore[attr-defined]
        lambda: [Halving, NeedsFactor, Broken]
    )
    sys.modules["kit_runner_plugin"] = module
    try:
        from gdsim.builtins import BUILTIN_PLUGINS

        registry = Registry.discover(
            builtin_modules=(*BUILTIN_PLUGINS, "kit_runner_plugin"), entry_points=[]
        )
        cases = testing.conformance_cases("gdsim", registry)
        outcomes = testing.run_conformance(c for c in cases if c.plugin == "kit_runner_plugin")
    finally:
        del sys.modules["kit_runner_plugin"]
    status = {o.case.name: (o.status, o.detail) for o in outcomes}
    assert status["halving"] == ("passed", "1 example(s); not array-API: numpy backend only")
    assert status["needs_factor"][0] == "skipped"
    assert "conformance_examples" in status["needs_factor"][1]
    assert status["broken"][0] == "failed" and "modified its inputs" in status["broken"][1]


@attrs.frozen
class BoastfulQuartic(Quartic):
    """The quartic claiming a loss box ten times wider than it is."""

    name: ClassVar[str] = "boastful_quartic"

    def loss_radius(self, max_loss: float) -> float | None:
        radius = super().loss_radius(max_loss)
        return None if radius is None else 10 * radius


def test_a_loss_box_too_large_is_caught() -> None:
    testing.check_objective(Quartic())  # the true box passes
    with pytest.raises(AssertionError, match=r"loss_radius\(1e\+100\) = 1\.6\d*e\+26"):
        testing.check_objective(BoastfulQuartic())
