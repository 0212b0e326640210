"""The network objective on jax (``jax.jit``, float64) agrees with numpy to 1e-12 relative.

Not bit for bit: XLA's exp, log and log1p differ from the C library's in the last bit for some
inputs, and XLA:CPU contracts ``a·b + c`` into fused multiply-adds (one rounding instead of two)
and sums matrix products in its own order. Each of these moves a value by an ulp or so; through
a few epochs of training the weights stay within a few 1e-15 of numpy's (relative to the
largest weight), so 1e-12 has a wide margin and still catches any real difference in formula.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

from gdsim import api  # noqa: E402
from gdsim.objectives.mlp import MLP  # noqa: E402

TOLERANCE = 1e-12
GRADIENT_TOLERANCE = 1e-10
"""Gradients are looser than values: a saturated unit's derivative (tanh' = 1 - tanh^2,
sigmoid' = s(1 - s)) cancels, which multiplies the last-bit difference between XLA's and libm's
tanh/exp by up to 1/(1 - t^2); hypothesis found 4.2e-12 (tanh, init_scale near 3)."""


@pytest.fixture(autouse=True)
def _float64() -> Iterator[None]:
    with jax.enable_x64(True):
        yield


def _relative(value: Any, reference: np.ndarray) -> float:
    """max |value − reference| / max |reference| (0 when both are 0)."""
    scale = float(np.max(np.abs(reference)))
    difference = float(np.max(np.abs(np.asarray(value) - reference)))
    return difference / scale if scale else difference


def _on_jax(params: dict[str, np.ndarray]) -> dict[str, Any]:
    return {k: jnp.asarray(v) for k, v in params.items()}


DATA = {
    "bce": {"name": "moons", "n": 40},
    "cross_entropy": {"name": "blobs", "n": 40, "centers": 3},
    "mse": {"name": "regression1d", "n": 30},
}
ACTIVATIONS = [
    "sigmoid",
    "tanh",
    "relu",
    {"name": "leaky_relu", "negative_slope": 0.2},
    {"name": "elu", "alpha": 0.7},
    "softplus",
    "linear",
]


@pytest.mark.parametrize(
    "activation", ACTIVATIONS, ids=lambda a: a if isinstance(a, str) else a["name"]
)
@settings(max_examples=3, deadline=None)  # a compile per example: few, every activation
@given(
    loss=st.sampled_from(sorted(DATA)),
    hidden=st.lists(st.integers(1, 6), min_size=1, max_size=2),
    scale=st.floats(0.1, 3.0),
    seed=st.integers(0, 2**16),
    batch=st.one_of(st.none(), st.lists(st.integers(0, 19), min_size=1, max_size=8)),
)
def test_value_gradient_and_metrics_under_jit_agree_with_numpy(
    loss: str, activation: Any, hidden: list[int], scale: float, seed: int, batch: Any
) -> None:
    mlp = MLP(data=DATA[loss], hidden=hidden, activation=activation, loss=loss, init_scale=scale)
    params = mlp.init(np.random.default_rng(seed))
    params = {k: v + 0.1 for k, v in params.items()}  # biases away from 0, symmetry broken
    indices = None if batch is None else np.array(batch)

    value, grads = mlp.value_and_grad(params, indices)
    both = jax.jit(lambda p, b: (mlp.value_and_grad(p, b), mlp.metrics(p, "train")))
    (jax_value, jax_grads), jax_metrics = both(
        _on_jax(params), None if indices is None else jnp.asarray(indices)
    )

    assert isinstance(value, float) and jax_value.dtype == jnp.float64
    assert abs(float(jax_value) - value) <= TOLERANCE * abs(value)
    assert sorted(jax_grads) == sorted(grads)
    for name, g in grads.items():
        assert jax_grads[name].dtype == jnp.float64 and jax_grads[name].shape == g.shape
        assert _relative(jax_grads[name], g) <= GRADIENT_TOLERANCE, name
    for key, reference in mlp.metrics(params, "train").items():
        assert abs(float(jax_metrics[key]) - reference) <= TOLERANCE * abs(reference), key


def test_predictions_on_jax_agree_with_numpy() -> None:
    for loss in sorted(DATA):
        mlp = MLP(data=DATA[loss], hidden=[4], activation="tanh", loss=loss)
        params = mlp.init(np.random.default_rng(1))
        X = mlp.dataset.X["train"][:5] * 1.5
        assert _relative(mlp.predict(_on_jax(params), X), mlp.predict(params, X)) <= TOLERANCE


def _lecture_network(epochs: int) -> Any:
    """``benchmarks/mlp_adam.py``'s network (20-64-1 sigmoid, Adam, batch 128, shuffled epochs),
    on 2 000 samples: 15 full batches and a short one of 80 per epoch."""
    steps_per_epoch = -(-2_000 // 128)
    return api.load(
        {
            "objective": {
                "name": "mlp",
                "hidden": [64],
                "data": {"name": "linear", "n": 2_000, "features": 20, "noise": 0.1, "seed": 1},
            },
            "runs": [
                {
                    "name": "adam",
                    "steps": epochs * steps_per_epoch,
                    "seed": 0,
                    "rule": "adam",
                    "schedule": {"name": "constant", "lr": 1e-3},
                    "estimator": {"name": "minibatch", "batch_size": 128, "sampling": "epoch"},
                }
            ],
        }
    )


def test_training_the_lecture_network_on_jax_agrees_with_numpy() -> None:
    """gdsim's objective and rule in a jitted scan over the estimator's batch tables: the final
    weights of three epochs are numpy's to 1e-12 (what the compiled unit of work will run)."""
    loaded = _lecture_network(epochs=3)
    run = loaded.runs[0]
    objective, rule, estimator = run.objective, run.rule, run.estimator
    lr = jnp.asarray(1e-3)

    def step(carry: Any, batch: Any) -> tuple[Any, Any]:
        params, state = carry
        loss, grads = objective.value_and_grad(params, batch)
        return rule.update(grads, state, params, lr), loss

    @jax.jit
    def steps(carry: Any, table: Any) -> Any:
        return jax.lax.scan(step, carry, table)[0]

    one_step = jax.jit(lambda carry, batch: step(carry, batch)[0])

    rng = np.random.default_rng(run.seed)  # the engine's draws: weights, then batches
    params = objective.init(rng)
    carry = jax.tree.map(jnp.asarray, (params, rule.init(params)))
    estimator_state = estimator.init(objective, rng)
    left, windows = run.steps, 0
    while left:
        window, estimator_state = estimator.batches_ahead(estimator_state, rng, left)
        carry = steps(carry, jnp.asarray(window.indices))
        if window.tail is not None:
            carry = one_step(carry, jnp.asarray(window.tail))
        left -= window.steps
        windows += 1
    assert windows == 3  # one window per epoch: its full batches, then its short one

    reference = api.run(loaded).runs[0].final_params
    final = carry[0]
    assert sorted(final) == sorted(reference)
    for name, w in reference.items():
        assert _relative(final[name], w) <= TOLERANCE, name
