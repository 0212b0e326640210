"""The lecture's neural-network classifier: a multi-layer perceptron trained on a data set.

Layer l computes ``Z_l = A_{l−1} W_l + b_l`` and ``A_l = act(Z_l)`` (samples are rows, ``A_0 = X``);
the last layer is linear and its output ("logits") goes into the loss:

* ``bce`` — binary cross-entropy with one output: mean over samples of
  ``softplus(z) − y·z`` (= −y log σ(z) − (1−y) log(1−σ(z)), written with log-sigmoid so it never
  takes log 0); gradient ``(σ(z) − y)/n``.
* ``cross_entropy`` — softmax cross-entropy with K outputs: mean of ``logsumexp(z) − z_y``
  (max-shifted); gradient ``(softmax(z) − onehot(y))/n``.
* ``mse`` — mean over samples and outputs of ``(z − y)²``; gradient ``2(z − y)/(n·m)``.

Gradients are computed by backpropagation. Parameters are ``W1, b1, …, WL, bL`` (float64,
W_l of shape (fan_in, fan_out)). The initial values are drawn from the run's generator with the
chosen initializer; biases start at ``bias_init``.

Loss, gradient and metrics are written once against the array API: the array library comes
from the parameters, so the same code runs on numpy and, with jax arrays, under ``jax.jit``
(a batch is an index array gathered with ``take``; no in-place writes into arrays, no
conversion to Python floats). On numpy a loss or metric is a Python float, on other libraries a
0-d array; numpy's values are the same bits as before the rewrite (the numpy hot path still
updates fresh arrays in place).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs
import numpy as np

from gdsim.components import Activation, Initializer, Objective, param
from gdsim.data.dataset import Dataset, DataSpec
from gdsim.data.files import DataError
from gdsim.deprecation import GdsimDeprecationWarning
from gdsim.errors import ParamError, PluginError, with_hint
from gdsim.hookspecs import hookimpl
from gdsim.memory import MemoryEstimate
from gdsim.objectives.activations import ELU, LeakyReLU, sigmoid
from gdsim.registry import UnknownComponentError, active_registry
from gdsim.state import Params
from gdsim.validators import non_negative, number_in, one_of, positive
from gdsim.xp import NUMPY, errstate, is_numpy, namespace

_sigmoid = sigmoid  # the name the loss functions below use

# the built-in names (plugins add more through the gdsim_activations / gdsim_initializers hooks)
ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "linear")
INITIALIZERS = (
    "zeros",
    "constant",
    "uniform",
    "normal",
    "xavier_uniform",
    "xavier_normal",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "kaiming_uniform",
    "kaiming_normal",
)
LOSSES = ("bce", "cross_entropy", "mse")


def _hidden(value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value
    ):
        raise ParamError("hidden", f"expected a list of layer widths >= 1, got {value!r}")
    return tuple(value)


def _data(value: Any) -> DataSpec:
    return DataSpec.from_table(value, "data")


def _named(kind: str, base: type, field: str) -> Callable[[Any], Any]:
    """A converter that builds a nested component (an activation, an initializer) from a name,
    a ``{name, ...}`` table or an instance, resolving names in the active registry.

    In a scenario file the loader builds the component itself (with key paths in its errors);
    this serves Python callers: ``MLP(data=..., activation="tanh")``.
    """

    def convert(value: Any) -> Any:
        if isinstance(value, base):
            return value
        params: dict[str, Any] = {}
        if isinstance(value, Mapping) and isinstance(value.get("name"), str):
            params = {k: v for k, v in value.items() if k != "name"}
            value = value["name"]
        if not isinstance(value, str):
            raise ParamError(field, f"expected {kind} name or table with 'name', got {value!r}")
        try:
            cls = active_registry().get(kind, value)
        except UnknownComponentError as exc:
            raise ParamError(
                field,
                with_hint(
                    f"unknown {kind} '{value}' (known: {', '.join(exc.known)})", exc.suggestion
                ),
            ) from None
        except PluginError as exc:
            raise ParamError(field, str(exc)) from None
        return cls(**params)

    return convert


def _namespace(params: Params) -> Any:
    """The parameters' array namespace; numpy's at the cost of one type check (hot path)."""
    w = params["W1"]
    return NUMPY if type(w) is np.ndarray else namespace(w)


# --- losses on the logits: value and dL/dz ---------------------------------------------------
# Each takes the namespace xp of z and y. The loss is a sum divided by the sample count: on
# numpy the sum becomes a Python float first (as always), elsewhere it stays a 0-d array
# (float64 division either way, so the same bits).


def _mean(xp: Any, total: Any, n: int) -> Any:
    """``total / n``, as a Python float on numpy and a 0-d array on other libraries."""
    return (float(total) if is_numpy(xp) else total) / n


def _bce(xp: Any, z: np.ndarray, y: np.ndarray, grad: bool) -> tuple[Any, np.ndarray | None]:
    """Mean binary cross-entropy from logits z (n, 1) and labels y (n, 1) in {0, 1}."""
    n = z.shape[0]
    loss = _mean(xp, (xp.logaddexp(0.0, z) - y * z).sum(), n)
    if not grad:
        return loss, None
    dz = _sigmoid(z)
    dz -= y
    dz *= 1.0 / n
    return loss, dz


def _cross_entropy(
    xp: Any, z: np.ndarray, y: np.ndarray, grad: bool
) -> tuple[Any, np.ndarray | None]:
    """Mean softmax cross-entropy from logits z (n, K) and integer labels y (n,).

    The gradient subtracts a one-hot matrix rather than writing into the label entries:
    e − 0 = e exactly, so the bits are those of the in-place update, and jax can trace it.
    """
    n = z.shape[0]
    shifted = z - xp.max(z, axis=1, keepdims=True)
    e = xp.exp(shifted)
    total = xp.sum(e, axis=1, keepdims=True)
    picked = xp.take_along_axis(shifted, y[:, None], axis=1)[:, 0]
    loss = _mean(xp, xp.sum(xp.log(total[:, 0]) - picked), n)
    if not grad:
        return loss, None
    e /= total
    e -= y[:, None] == xp.arange(z.shape[1])
    e *= 1.0 / n
    return loss, e


def _mse(xp: Any, z: np.ndarray, y: np.ndarray, grad: bool) -> tuple[Any, np.ndarray | None]:
    """Mean squared error over samples and outputs (numpy sums the squares with BLAS vdot)."""
    r = z - y
    squares = np.vdot(r, r) if is_numpy(xp) else xp.sum(r * r)
    loss = _mean(xp, squares, r.size)
    if not grad:
        return loss, None
    r *= 2.0 / r.size
    return loss, r


_LOSS_FUNCTIONS = {"bce": _bce, "cross_entropy": _cross_entropy, "mse": _mse}


@attrs.frozen
class MLP(Objective):
    """A multi-layer perceptron on a data set (the lecture's classifier), with backpropagation.

    Hidden layers use one activation; the output layer is linear and feeds the loss: ``bce``
    (binary cross-entropy on a 0/1 label, computed with log-sigmoid), ``cross_entropy``
    (softmax with log-sum-exp) or ``mse`` (regression). ``value(params, None)`` is the loss on
    the whole training split; ``metrics(params, split)`` gives loss and, for classifiers,
    accuracy on "train", "validation" or "test". Initializers: zeros, constant, uniform
    U(−s, s), normal N(0, s²), xavier/glorot (uniform: ±√(6/(fan_in+fan_out)), normal: std
    √(2/(fan_in+fan_out))) and he/kaiming (uniform: ±√(6/fan_in), normal: std √(2/fan_in)),
    the last two scaled by the gain s = ``init_scale``. Activations, initializers and data sets
    are components of their own: plugins add more (``gdsim plugins`` lists them).
    """

    name: ClassVar[str] = "mlp"
    data_backed: ClassVar[bool] = True
    array_api: ClassVar[bool] = True  # runs on any array API library (see the module doc)

    data: DataSpec = param(  # noqa: RUF009 (a frozen attrs value, built by the converter)
        converter=_data, doc="the data set: a table with 'name' (see docs/data.md)"
    )
    hidden: tuple[int, ...] = param(
        (16,), converter=_hidden, doc="widths of the hidden layers, e.g. [64] or [32, 32]"
    )
    activation: Activation = param(  # noqa: RUF009 (a frozen attrs value, built by the converter)
        "sigmoid",
        converter=_named("activation", Activation, "activation"),
        doc="hidden activation: a name or a table such as { name = 'leaky_relu', "
        "negative_slope = 0.1 } (gdsim plugins lists them)",
    )
    initializer: Initializer = param(  # noqa: RUF009 (a frozen attrs value, built by the converter)
        "xavier_uniform",
        converter=_named("initializer", Initializer, "initializer"),
        doc="weight initializer by name (gdsim plugins lists them)",
    )
    init_scale: float = param(
        1.0,
        validator=non_negative(),
        doc="constant value, uniform bound, normal std, or gain of xavier/he",
    )
    bias_init: float = param(0.0, validator=number_in(), doc="initial value of every bias")
    loss: str = param("bce", validator=one_of(*LOSSES), doc="bce, cross_entropy or mse")
    negative_slope: float = param(
        0.01,
        validator=non_negative(),
        doc="deprecated: use activation = { name = 'leaky_relu', negative_slope = ... }",
    )
    elu_alpha: float = param(
        1.0, validator=positive(), doc="deprecated: use activation = { name = 'elu', alpha = ... }"
    )

    _dataset: Dataset = attrs.field(init=False, repr=False, eq=False)
    _targets: dict[str, np.ndarray] = attrs.field(init=False, repr=False, eq=False)
    _outputs: int = attrs.field(init=False, repr=False, eq=False)
    _names: tuple[tuple[str, str], ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        try:
            dataset = self.data.build()
        except DataError as exc:
            raise ParamError("data.path", str(exc)) from None
        except ParamError:
            raise  # names its own key (data.n: a set too large to draw)
        except ValueError as exc:
            raise ParamError("data.split", str(exc)) from None
        targets, outputs = self._prepare_targets(dataset)
        object.__setattr__(self, "_dataset", dataset)
        object.__setattr__(self, "_targets", targets)
        object.__setattr__(self, "_outputs", outputs)
        self._apply_deprecated_activation_options()
        layers = range(1, len(self.hidden) + 2)
        object.__setattr__(self, "_names", tuple((f"W{i}", f"b{i}") for i in layers))

    @classmethod
    def conformance_examples(cls, workdir: Any) -> list[MLP]:
        """What ``gdsim check-plugin`` checks: each loss on a small synthetic set."""
        return [
            cls(data={"name": "moons", "n": 30}, hidden=[3], activation="tanh"),
            cls(data={"name": "blobs", "n": 30, "centers": 3}, hidden=[4, 2], loss="cross_entropy"),
            cls(data={"name": "regression1d", "n": 20}, hidden=[5], loss="mse"),
        ]

    def _apply_deprecated_activation_options(self) -> None:
        """``negative_slope`` and ``elu_alpha`` on the network still set the built-in leaky_relu's
        and elu's parameter when changed from their defaults, with a deprecation warning."""
        for option, cls, target in (
            ("negative_slope", LeakyReLU, "negative_slope"),
            ("elu_alpha", ELU, "alpha"),
        ):
            value = getattr(self, option)
            if value == attrs.fields_dict(type(self))[option].default:
                continue
            if type(self.activation) is cls:
                warnings.warn(
                    f"the network's '{option}' is deprecated; give it to the activation: "
                    f"activation = {{ name = '{cls.name}', {target} = {value!r} }}",
                    GdsimDeprecationWarning,
                    stacklevel=4,
                )
                evolved = attrs.evolve(self.activation, **{target: value})
                object.__setattr__(self, "activation", evolved)

    def _prepare_targets(self, dataset: Dataset) -> tuple[dict[str, np.ndarray], int]:
        """Targets in the loss's layout: (n, 1) floats for bce and mse, int labels for softmax."""
        y_all = np.concatenate([dataset.y[s] for s in dataset.y])
        if self.loss == "mse":
            return {s: y[:, None].copy() for s, y in dataset.y.items()}, 1
        if dataset.task == "regression" or not np.all(y_all == np.round(y_all)):
            raise ParamError(
                "loss",
                f"loss '{self.loss}' needs integer class labels, but data set "
                f"'{self.data.name}' has real-valued targets (use loss = \"mse\")",
            )
        labels = np.unique(y_all)
        shown = ", ".join(f"{v:g}" for v in labels[:6]) + (", …" if labels.size > 6 else "")
        if labels.size and labels[0] < 0:
            raise ParamError("data", f"class labels must be integers 0 … K−1, got labels {shown}")
        classes = int(labels[-1]) + 1 if labels.size else 1
        if self.loss == "bce":
            if labels.size > 2:
                raise ParamError(
                    "loss",
                    f"loss 'bce' needs labels 0 and 1, but data set '{self.data.name}' has "
                    f'{labels.size} classes (use loss = "cross_entropy")',
                )
            if classes > 2:
                raise ParamError("data", f"loss 'bce' needs labels 0 and 1, got labels {shown}")
            return {s: y[:, None].copy() for s, y in dataset.y.items()}, 1
        return {s: y.astype(np.intp) for s, y in dataset.y.items()}, max(classes, 2)

    # -- structure ----------------------------------------------------------------------------

    @property
    def dataset(self) -> Dataset:
        """The data set, split (and standardised) as declared."""
        return self._dataset

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Widths from the input features to the outputs."""
        return (self._dataset.features, *self.hidden, self._outputs)

    def num_samples(self) -> int:
        return self._dataset.size("train")

    def memory_estimate(self) -> MemoryEstimate:
        """Parameters from the layer sizes; working arrays of one full-split evaluation.

        Each hidden layer keeps its pre-activation and activation for backpropagation
        (2·n·width values), the widest layer briefly needs four more for its gradient, and the
        output layer a few logits-sized arrays (n: the largest split).
        """
        sizes = self.layer_sizes
        parameters = sum(a * b + b for a, b in itertools.pairwise(sizes))
        n = max(self._dataset.size(s) for s in self._dataset.X)
        hidden = sizes[1:-1]
        values = n * (2 * sum(hidden) + 4 * max(hidden, default=0) + 4 * sizes[-1])
        return MemoryEstimate(parameters=parameters, working=values * 8)

    def init(self, rng: np.random.Generator) -> Params:
        params: Params = {}
        sizes = self.layer_sizes
        for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), 1):
            W = np.asarray(
                self.initializer.weights(rng, fan_in, fan_out, self.init_scale), dtype=np.float64
            )
            if W.shape != (fan_in, fan_out):
                raise ValueError(
                    f"initializer '{self.initializer.name}' returned shape {W.shape}, "
                    f"expected {(fan_in, fan_out)}"
                )
            params[f"W{layer}"] = W
            params[f"b{layer}"] = np.full(fan_out, self.bias_init)
        return params

    # -- loss and gradient --------------------------------------------------------------------

    def _forward(
        self, params: Params, X: np.ndarray
    ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """The logits, plus every layer's input A_{l−1} and pre-activation Z_l (hidden only)."""
        forward = self.activation.forward
        inputs = [X]
        pre: list[np.ndarray] = []
        a = X
        *hidden, (w_out, b_out) = self._names
        for w, b in hidden:
            z = a @ params[w]
            z += params[b]
            a = forward(z)
            pre.append(z)
            inputs.append(a)
        z = a @ params[w_out]
        z += params[b_out]
        return z, inputs, pre

    def _batch(self, xp: Any, batch: Any, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """A split's features and targets in library ``xp``, gathered at the indices ``batch``
        (all samples when None). Data held in numpy goes to other libraries as a constant
        (under ``jax.jit``: once, at tracing)."""
        X, y = self._dataset.X[split], self._targets[split]
        if not is_numpy(xp):
            X, y = xp.asarray(X), xp.asarray(y)
        if batch is None:
            return X, y
        # the methods (numpy's and jax's arrays both have them) skip numpy's function wrappers
        return X.take(batch, axis=0), y.take(batch, axis=0)

    def value_and_grad(self, params: Params, batch: Any = None) -> tuple[Any, Params]:
        xp = _namespace(params)
        X, y = self._batch(xp, batch)
        with errstate(xp, over="ignore"):  # e^(−z) = inf makes σ(z) = 0 exactly
            return self._value_and_grad(xp, params, X, y)

    def _value_and_grad(
        self, xp: Any, params: Params, X: np.ndarray, y: np.ndarray
    ) -> tuple[Any, Params]:
        z, inputs, pre = self._forward(params, X)
        loss, dz = _LOSS_FUNCTIONS[self.loss](xp, z, y, True)
        scale = self.activation.backward
        names = self._names
        grads: Params = {}
        for layer in range(len(names) - 1, -1, -1):
            w, b = names[layer]
            a_prev = inputs[layer]
            grads[w] = a_prev.T @ dz
            grads[b] = dz.sum(axis=0)
            if layer > 0:
                dz = scale(dz @ params[w].T, pre[layer - 1], a_prev)
        return loss, grads

    def value(self, params: Params, batch: Any = None) -> Any:
        xp = _namespace(params)
        X, y = self._batch(xp, batch)
        with errstate(xp, over="ignore"):  # e^(−z) = inf makes σ(z) = 0 exactly
            z = self._forward(params, X)[0]
            return _LOSS_FUNCTIONS[self.loss](xp, z, y, False)[0]

    def predict(self, params: Params, X: np.ndarray) -> np.ndarray:
        """The network's outputs on raw features (standardised like the training data), in the
        parameters' array library."""
        xp = _namespace(params)
        X = (np.asarray(X, dtype=np.float64) - self._dataset.mean) / self._dataset.std
        if not is_numpy(xp):
            X = xp.asarray(X)
        with errstate(xp, over="ignore"):  # e^(−z) = inf makes σ(z) = 0 exactly
            z = self._forward(params, X)[0]
            if self.loss == "bce":
                return _sigmoid(z)[:, 0]
        if self.loss == "cross_entropy":
            e = xp.exp(z - xp.max(z, axis=1, keepdims=True))
            return e / xp.sum(e, axis=1, keepdims=True)
        return z[:, 0]

    def metrics(self, params: Params, split: str = "train") -> dict[str, float]:
        if split not in self._dataset.X:
            raise KeyError(f"objective 'mlp' has no '{split}' split")
        if self._dataset.size(split) == 0:
            raise KeyError(f"the '{split}' split of objective 'mlp' is empty (see data.split)")
        xp = _namespace(params)
        X, y = self._batch(xp, None, split)
        with errstate(xp, over="ignore"):  # e^(−z) = inf makes σ(z) = 0 exactly
            z = self._forward(params, X)[0]
            loss = _LOSS_FUNCTIONS[self.loss](xp, z, y, False)[0]
        out = {"loss": loss}
        if self.loss == "bce":
            out["accuracy"] = _fraction(xp, (z > 0.0) == (y > 0.5))
        elif self.loss == "cross_entropy":
            out["accuracy"] = _fraction(xp, xp.argmax(z, axis=1) == y)
        return out


def _fraction(xp: Any, hits: np.ndarray) -> Any:
    """The share of true entries (a Python float on numpy, a 0-d array elsewhere)."""
    share = xp.mean(xp.astype(hits, xp.float64))
    return float(share) if is_numpy(xp) else share


@hookimpl
def gdsim_objectives() -> list[type]:
    return [MLP]
