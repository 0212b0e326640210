"""The MLP objective: backpropagation against finite differences, stable losses, initializers,
metrics, and the symmetry that a zeros initialization never breaks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gdsim import api, engine
from gdsim.errors import ParamError, ScenarioError
from gdsim.objectives.mlp import ACTIVATIONS, MLP

KINKED = {"relu", "leaky_relu"}


def _mlp(loss: str, hidden: list[int], activation: str, features: int, seed: int) -> MLP:
    if loss == "mse":
        data = {"name": "blobs", "n": 24, "features": features, "centers": 2, "seed": seed}
    else:
        classes = 2 if loss == "bce" else 3
        data = {"name": "blobs", "n": 24, "features": features, "centers": classes, "seed": seed}
        data["box"] = 2.0
    return MLP(
        data=data,
        hidden=hidden,
        activation={"name": activation, "negative_slope": 0.1}
        if activation == "leaky_relu"
        else activation,
        loss=loss,
        initializer="normal",
        init_scale=0.7,
        bias_init=0.1,
    )


@settings(max_examples=60, deadline=None)
@given(
    loss=st.sampled_from(["bce", "cross_entropy", "mse"]),
    hidden=st.lists(st.integers(1, 5), min_size=0, max_size=3),
    activation=st.sampled_from(ACTIVATIONS),
    features=st.integers(1, 3),
    seed=st.integers(0, 1000),
    use_batch=st.booleans(),
)
def test_backprop_equals_central_differences(
    loss: str, hidden: list[int], activation: str, features: int, seed: int, use_batch: bool
) -> None:
    mlp = _mlp(loss, hidden, activation, features, seed)
    rng = np.random.default_rng(seed)
    params = mlp.init(rng)
    batch = rng.choice(mlp.num_samples(), size=7, replace=False) if use_batch else None
    h = 1e-6
    if activation in KINKED:  # finite differences are meaningless across a kink
        X = mlp.dataset.X["train"] if batch is None else mlp.dataset.X["train"][batch]
        _, _, pre = mlp._forward(params, X)
        assume(all(np.min(np.abs(z)) > 1e-3 for z in pre))
    _, grads = mlp.value_and_grad(params, batch)
    assert set(grads) == set(params)
    for name, value in params.items():
        assert grads[name].shape == value.shape
        numeric = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += h
            minus[name][idx] -= h
            numeric[idx] = (mlp.value(plus, batch) - mlp.value(minus, batch)) / (2 * h)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-5, atol=1e-7, err_msg=name)


def test_value_is_the_full_training_loss_and_matches_the_naive_formula() -> None:
    mlp = MLP(data={"name": "moons", "n": 50, "split": [0.6, 0.2, 0.2]}, hidden=[6])
    params = mlp.init(np.random.default_rng(1))
    X, y = mlp.dataset.split("train")
    h = 1 / (1 + np.exp(-(X @ params["W1"] + params["b1"])))
    p = 1 / (1 + np.exp(-(h @ params["W2"] + params["b2"])))[:, 0]
    naive = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert mlp.value(params, None) == pytest.approx(naive, rel=1e-12)
    assert mlp.value_and_grad(params, None)[0] == pytest.approx(naive, rel=1e-12)
    metrics = mlp.metrics(params, "test")
    Xt, yt = mlp.dataset.split("test")
    assert metrics["accuracy"] == np.mean((mlp.predict(params, Xt) > 0.5) == yt)


def test_losses_stay_finite_at_extreme_logits() -> None:
    for loss in ("bce", "cross_entropy"):
        mlp = _mlp(loss, [3], "sigmoid", 2, 0)
        params = {k: v * 1e4 for k, v in mlp.init(np.random.default_rng(0)).items()}
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            value, grads = mlp.value_and_grad(params)
        assert np.isfinite(value) and value > 1.0
        assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_bce_of_a_confident_wrong_answer_is_the_logit() -> None:
    # one sample, label 1, logit −800: the loss is softplus(800) = 800 (log σ would give −inf)
    mlp = MLP(data={"name": "moons", "n": 2}, hidden=[])
    y = mlp.dataset.y["train"]
    i = int(np.argmax(y))
    W = np.zeros((2, 1))
    params = {"W1": W, "b1": np.array([-800.0])}
    assert mlp.value(params, np.array([i])) == pytest.approx(800.0, rel=1e-15)


@pytest.mark.parametrize(
    ("initializer", "bound", "std"),
    [
        ("xavier_uniform", np.sqrt(6 / 800), np.sqrt(2 / 800)),
        ("glorot_normal", None, np.sqrt(2 / 800)),
        ("he_uniform", np.sqrt(6 / 400), np.sqrt(2 / 400)),
        ("kaiming_normal", None, np.sqrt(2 / 400)),
        ("uniform", 0.5, 0.5 / np.sqrt(3)),
        ("normal", None, 0.5),
    ],
)
def test_initializers(initializer: str, bound: float | None, std: float) -> None:
    scale = 0.5 if initializer in ("uniform", "normal") else 1.0
    mlp = MLP(
        data={"name": "blobs", "n": 4, "features": 400, "centers": 2},
        hidden=[400],
        initializer=initializer,
        init_scale=scale,
    )
    W = mlp.init(np.random.default_rng(0))["W1"]
    assert W.shape == (400, 400)
    if bound is not None:
        assert np.max(np.abs(W)) <= bound
    assert np.std(W) == pytest.approx(std, rel=0.02)
    assert abs(np.mean(W)) < 0.02 * std * 10


def test_zeros_and_constant_initializers() -> None:
    mlp = MLP(data="moons", hidden=[3], initializer="constant", init_scale=0.25, bias_init=-1.0)
    params = mlp.init(np.random.default_rng(0))
    assert np.all(params["W1"] == 0.25) and np.all(params["b2"] == -1.0)
    zeros = MLP(data="moons", hidden=[3], initializer="zeros").init(np.random.default_rng(0))
    assert all(np.all(v == 0.0) for v in zeros.values())
    assert [k for k in zeros] == ["W1", "b1", "W2", "b2"]


@settings(max_examples=25, deadline=None)
@given(
    rule=st.sampled_from(
        [
            "gd",
            {"name": "momentum", "mu": 0.9},
            {"name": "nesterov", "mu": 0.5},
            "adagrad",
            "rmsprop",
            "adam",
        ]
    ),
    activation=st.sampled_from(["sigmoid", "tanh", "softplus", "elu"]),
    hidden=st.lists(st.integers(2, 4), min_size=1, max_size=2),
    minibatch=st.booleans(),
    lr=st.sampled_from([0.01, 0.1, 0.5]),
)
def test_zeros_initialization_keeps_hidden_units_identical(
    rule: object, activation: str, hidden: list[int], minibatch: bool, lr: float
) -> None:
    raw = {
        "objective": {
            "name": "mlp",
            "hidden": hidden,
            "activation": activation,
            "initializer": "zeros",
            "data": {"name": "moons", "n": 64, "seed": 2},
        },
        "runs": [
            {
                "name": "r",
                "steps": 30,
                "rule": rule,
                "schedule": {"name": "constant", "lr": lr},
                "estimator": {"name": "minibatch", "batch_size": 8} if minibatch else "full_batch",
            }
        ],
    }
    result = api.run(raw).runs[0]
    params = result.final_params
    for layer in range(1, len(hidden) + 1):
        W, b, W_next = params[f"W{layer}"], params[f"b{layer}"], params[f"W{layer + 1}"]
        np.testing.assert_allclose(W, np.repeat(W[:, :1], W.shape[1], axis=1), rtol=1e-12)
        np.testing.assert_allclose(b, np.full_like(b, b[0]), rtol=1e-12)
        np.testing.assert_allclose(
            W_next, np.repeat(W_next[:1], W_next.shape[0], axis=0), rtol=1e-12
        )
    assert result.steps == 30


def test_label_checks_point_at_the_loss() -> None:
    with pytest.raises(ParamError, match='use loss = "cross_entropy"'):
        MLP(data={"name": "blobs", "centers": 3})
    with pytest.raises(ParamError, match='use loss = "mse"'):
        MLP(data={"name": "regression1d"})
    mse = MLP(data={"name": "regression1d", "n": 20}, loss="mse", hidden=[4])
    assert mse.layer_sizes == (1, 4, 1)
    softmax = MLP(data={"name": "blobs", "centers": 4}, loss="cross_entropy", hidden=[])
    assert softmax.layer_sizes == (2, 4)
    assert set(softmax.metrics(softmax.init(np.random.default_rng(0)))) == {"loss", "accuracy"}


def test_metrics_of_missing_and_empty_splits() -> None:
    mlp = MLP(data={"name": "moons", "n": 20})
    params = mlp.init(np.random.default_rng(0))
    with pytest.raises(KeyError, match="empty"):
        mlp.metrics(params, "validation")
    with pytest.raises(KeyError, match="no 'holdout' split"):
        mlp.metrics(params, "holdout")


def test_objective_parameter_errors_in_scenarios() -> None:
    base = {"objective": {"name": "mlp", "data": "moons"}, "runs": [{"name": "a"}]}
    for key, value, text in [
        ("hidden", [4, 0], "expected a list of layer widths >= 1"),
        ("activation", "selu", "unknown activation 'selu' (known: elu, leaky_relu"),
        ("initializer", "xavier", "unknown initializer 'xavier'"),
        ("loss", "hinge", "expected one of"),
    ]:
        raw = {**base, "objective": {**base["objective"], key: value}}
        with pytest.raises(ScenarioError) as info:
            api.load(raw)
        assert info.value.path == f"objective.{key}" and text in info.value.message


def test_runs_share_one_generated_data_set_and_it_is_read_only() -> None:
    raw = {
        "objective": {"name": "mlp", "data": {"name": "moons", "n": 30}},
        "runs": [{"name": "a"}, {"name": "b", "objective": {"hidden": [3]}}],
    }
    scenario = api.load(raw)
    a, b = (r.objective for r in scenario.runs)
    assert a.hidden == (16,) and b.hidden == (3,)
    assert a.dataset.X["train"] is b.dataset.X["train"]
    assert not a.dataset.X["train"].flags.writeable
    ctx = engine.start_run(scenario.runs[1])
    assert set(ctx.params) == {"W1", "b1", "W2", "b2"}


def test_file_labels_outside_0_1_are_named(tmp_path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x,y\n0.5,1\n0.7,2\n0.1,2\n")
    with pytest.raises(ParamError, match="needs labels 0 and 1, got labels 1, 2"):
        MLP(data={"name": "csv", "path": str(path)})
    path.write_text("x,y\n0.5,-1\n0.7,1\n")
    with pytest.raises(ParamError, match="integers 0 … K−1, got labels -1, 1"):
        MLP(data={"name": "csv", "path": str(path)})
