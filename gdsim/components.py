"""The component contracts: objectives, estimators, update rules, transforms, schedules,
observers, data sources, and the network's activations and initializers.

A component is an attrs class whose *fields are its parameters*: the scenario loader builds it
from a TOML table, the validators reject bad values, and ``gdsim plugins`` and the docs read the
same declaration through :func:`describe_params`. Each class names itself with the class
variable ``name``; the hook it is returned from decides its kind.

Update rules and transforms follow optax's shape: ``init(params) -> state`` and a pure
``update``; the state is a nested dict of arrays and numbers so that checkpoints can save it
without pickle.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import attrs
import numpy as np

from gdsim.batches import Batches, draw_ahead
from gdsim.state import Params

if TYPE_CHECKING:
    from gdsim.engine import RunContext
    from gdsim.memory import MemoryEstimate
    from gdsim.results import RunResult

ComponentState = dict[str, Any]
"""A component's own state: nested dicts of arrays and numbers."""

KINDS = (
    "objective",
    "estimator",
    "rule",
    "transform",
    "schedule",
    "observer",
    "data",
    "activation",
    "initializer",
)
"""Every kind of component, in the order ``gdsim plugins`` and the docs list them."""


class Component:
    """Base of every component. Subclasses are attrs classes and set ``name``."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    array_api: ClassVar[bool] = False
    """True when written against the array API (:mod:`gdsim.xp`): numpy and JAX alike."""

    def check(self, objective: Objective) -> None:
        """Raise :class:`gdsim.errors.ParamError` if this component cannot work with
        ``objective``; the loader calls it so that ``gdsim validate`` catches the mismatch."""

    @classmethod
    def summary(cls) -> str:
        """The first line of the class docstring."""
        doc = inspect.getdoc(cls) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


class Objective(Component):
    """A function to minimise: default initial values, the loss and its gradient.

    ``data_backed`` objectives read a batch of sample indices chosen by the estimator;
    ``elementwise`` objectives accept a leading ensemble axis on every parameter.
    """

    kind: ClassVar[str] = "objective"
    data_backed: ClassVar[bool] = False
    elementwise: ClassVar[bool] = False

    def init(self, rng: np.random.Generator) -> Params:
        """Default initial parameters, used when a run does not give ``init``."""
        raise NotImplementedError

    def value(self, params: Params, batch: Any = None) -> Any:
        """The loss at ``params`` (on ``batch`` when data-backed)."""
        return self.value_and_grad(params, batch)[0]

    def value_and_grad(self, params: Params, batch: Any = None) -> tuple[Any, Params]:
        """The loss and its gradient with respect to every parameter."""
        raise NotImplementedError

    def loss_radius(self, max_loss: float) -> float | None:
        """A radius r within which the loss, as :meth:`value_and_grad` computes it in float64,
        is surely acceptable: ``|loss| <= max_loss`` wherever every parameter entry lies in
        [−r, r] (NaN never does). None, the default, when no such bound is known.

        A compiled backend checks this box instead of the loss at the steps inside a block
        (the loss then need not be computed there) and redoes the block with the loss as
        soon as some member leaves the box, so a radius changes speed, never results. It
        must be conservative: a radius too large would let a divergence go unnoticed. It is
        a function of the objective's parameters and ``max_loss`` alone (backends cache it).
        """
        return None

    def metrics(self, params: Params, split: str = "train") -> dict[str, float]:
        """Named metrics at ``params`` on a data split ("train", "validation", "test").

        Analytic objectives have only the train split and only the loss; data-backed ones add
        their validation and test splits and metrics such as accuracy. Observers (early
        stopping, recorders) read metrics through this one method.
        """
        if split != "train":
            raise KeyError(f"objective '{self.name}' has no '{split}' split")
        return {"loss": float(self.value(params, None))}

    def num_samples(self) -> int:
        """How many training samples a data-backed objective holds."""
        raise NotImplementedError(f"objective '{self.name}' holds no data")

    def minima(self) -> list[dict[str, Any]]:
        """Known minima as ``{"params": {...}, "loss": value, "kind": "global"|"local"}``."""
        return []

    def memory_estimate(self) -> MemoryEstimate | None:
        """What one run needs (parameter count, working bytes), known without allocating it.

        The loader refuses a run whose estimate exceeds the machine's memory, at validation.
        None (the default) means small enough not to matter; objectives whose size the
        scenario chooses (layer widths, data sets) should override it.
        """
        return None


class Estimator(Component):
    """Decides which samples a step sees. ``data_backed`` estimators need a data objective."""

    kind: ClassVar[str] = "estimator"
    data_backed: ClassVar[bool] = False

    def init(self, objective: Objective, rng: np.random.Generator) -> ComponentState:
        return {}

    def next_batch(
        self, state: ComponentState, rng: np.random.Generator
    ) -> tuple[Any, ComponentState, bool]:
        """Return ``(batch, state, ends_epoch)``; ``batch`` None means all samples."""
        raise NotImplementedError

    def batches_ahead(
        self,
        state: ComponentState,
        rng: np.random.Generator,
        k: int,
        *,
        until_epoch_end: bool = False,
    ) -> tuple[Batches, ComponentState]:
        """The next ``k`` steps' batches at once, for a compiled loop (see ``gdsim.batches``).

        Exactly what ``k`` calls of ``next_batch`` give (indices, epoch ends, final state, the
        generator's draws), packed as an index table; the window stops early after a batch of
        another size, and with ``until_epoch_end`` after the first step that ends an epoch.
        ``state`` is not modified. Override only to draw faster, never to differ.
        """
        return draw_ahead(self.next_batch, state, rng, k, until_epoch_end=until_epoch_end)


class UpdateRule(Component):
    """Moves the parameters from their gradient: ``update(grads, state, params, lr)``.

    Rules are pure: they return new arrays and never modify their inputs. ``elementwise`` rules
    treat every coordinate independently, so a leading ensemble axis needs no special care.
    """

    kind: ClassVar[str] = "rule"
    elementwise: ClassVar[bool] = True

    def init(self, params: Params) -> ComponentState:
        return {}

    def update(
        self, grads: Params, state: ComponentState, params: Params, lr: Any
    ) -> tuple[Params, ComponentState]:
        raise NotImplementedError


class GradientTransform(Component):
    """Rewrites the gradient before the rule sees it (clipping, weight decay, noise)."""

    kind: ClassVar[str] = "transform"
    elementwise: ClassVar[bool] = True

    def init(self, params: Params) -> ComponentState:
        return {}

    def apply(
        self, grads: Params, state: ComponentState, params: Params
    ) -> tuple[Params, ComponentState]:
        raise NotImplementedError


class Schedule(Component):
    """Gives the learning rate of each step; stateful so that feedback rules fit.

    The engine calls :meth:`learning_rate` once per step, after the gradient transforms and
    before the update rule, with the 0-based step about to be taken, that step's (transformed)
    gradient and its loss on the step's batch. A schedule that needs a metric of the model (say
    the validation loss, for reduce-on-plateau) names it in :meth:`monitors`; the engine then
    calls :meth:`observe` after every epoch with those metrics at the parameters reached, and the
    state it returns is what the next :meth:`learning_rate` call receives. Schedules that
    monitor nothing cost nothing at epoch ends.

    The state is a nested dict of numbers, strings, lists and arrays (no objects): checkpoints
    save it as it is and a resumed run continues bit for bit. ``elementwise`` schedules accept
    float parameters given as arrays with a leading ensemble axis (one value per run) and
    compute only elementwise with them, so that sweeps step as one vectorised ensemble.
    """

    kind: ClassVar[str] = "schedule"
    elementwise: ClassVar[bool] = True

    def init(self) -> ComponentState:
        """The state before step 0."""
        return {}

    def learning_rate(
        self, state: ComponentState, step: int, grads: Params, loss: Any
    ) -> tuple[Any, ComponentState]:
        """Return ``(lr, state)`` for the step about to be taken (0-based ``step``)."""
        raise NotImplementedError

    def monitors(self, objective: Objective) -> tuple[str, ...]:
        """The metrics this schedule reads, as ``'split.metric'`` names (``'validation.loss'``).

        Empty (the default): :meth:`observe` is never called. Check in :meth:`check` that the
        objective offers them, so that ``gdsim validate`` reports a missing one.
        """
        return ()

    def observe(
        self, state: ComponentState, epoch: int, metrics: Mapping[str, float]
    ) -> ComponentState:
        """Take the metrics at the end of epoch ``epoch`` (1, 2, …); return the new state.

        ``metrics`` maps each name of :meth:`monitors` to its value at the parameters reached
        after the epoch's last step; a value is computed when it is first read, so a schedule
        that skips this epoch costs no evaluation. With ``full_batch`` every step is an epoch.
        """
        return state


class EpochMetrics(Mapping[str, float]):
    """The metrics a schedule monitors, evaluated lazily at one set of parameters.

    What :meth:`Schedule.observe` receives. Each split is evaluated once, when one of its
    metrics is first read, through the objective's metrics contract
    (``objective.metrics(params, split)``). Tests build one to drive a schedule by hand.
    """

    def __init__(self, objective: Objective, params: Params, names: tuple[str, ...]) -> None:
        self._objective = objective
        self._params = params
        self._names = names
        self._splits: dict[str, dict[str, float]] = {}

    def __getitem__(self, name: str) -> float:
        if name not in self._names:
            raise KeyError(f"metric '{name}' was not named by the schedule's monitors()")
        split, _, metric = name.partition(".")
        values = self._splits.get(split)
        if values is None:
            values = self._splits[split] = self._objective.metrics(self._params, split)
        return float(values[metric])

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class Observer(Component):
    """Reacts to the engine's events; may ask the engine to stop.

    Observers are mutable (one instance per run). ``every`` filters ``step_completed``: the
    engine calls it only after steps ``every, 2·every, …`` and after the last step, with no
    per-observer cost on the other steps.
    """

    kind: ClassVar[str] = "observer"
    every: int = 1

    def run_started(self, run: RunContext) -> None:
        """Called once before the first step."""

    def step_completed(self, run: RunContext) -> None:
        """Called after a step when ``run.step % every == 0``."""

    def epoch_completed(self, run: RunContext) -> None:
        """Called after the step that ends an epoch."""

    def diverged(self, run: RunContext) -> None:
        """Called when the run is declared diverged."""

    def run_completed(self, run: RunContext, result: RunResult) -> None:
        """Called once after the run ended, whatever the status."""

    def outputs(self) -> dict[str, Any]:
        """Data the observer contributes to the run's result (traces, files written)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must save to resume this observer exactly."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def for_members(self, size: int) -> MemberObserver | None:
        """This observer's counterpart for an ensemble of ``size`` members, or None.

        Runs whose observers all have one step together as one vectorised ensemble; the
        counterpart sees every live member at once (member × time arrays) and must give each
        member exactly the outputs this observer gives the run stepped alone. None (the
        default): runs with this observer are stepped one by one.
        """
        return None


@attrs.define(slots=True)
class MemberStep:
    """What a :class:`MemberObserver` sees of an ensemble after a step (or at the start).

    The arrays hold the *live* members (those that have not ended), one row each;
    ``members[r]`` is the index in the ensemble of live row ``r``, and ``rows`` are the live rows
    this call is for (the members whose observer is due: every ``every`` steps, and at a
    member's own step budget). ``loss``, ``grads`` and ``lr`` are those of the step just
    completed (None at the start); ``lr`` is a scalar or an array with one row per live member.
    """

    step: int
    members: np.ndarray
    rows: np.ndarray
    params: Params
    loss: Any = None
    grads: Params | None = None
    lr: Any = None
    objective: Any = None
    """The ensemble's objective (shared by every member)."""
    stopping: np.ndarray | None = None
    """For each live row: True when the member already ends at this step (a tolerance, or an
    earlier observer's request), as a run's ``stop_status`` is set; None at the start."""
    stops: list[tuple[np.ndarray, list[str], str]] = attrs.field(factory=list)
    raw_grads: Params | None = None
    """The step's gradient before the gradient transforms (None at the start)."""
    prev_params: Params | None = None
    """The parameters the step started from (None at the start)."""

    def request_stop(self, rows: np.ndarray, reasons: list[str], status: str) -> None:
        """End the members of live rows ``rows`` after this step, as ``run.request_stop``."""
        if self.stopping is None:
            raise ValueError("members can be stopped after a step, not before the first")
        self.stopping[rows] = True
        self.stops.append((rows, reasons, status))


class MemberObserver:
    """An observer of a whole vectorised ensemble: what :meth:`Observer.for_members` returns.

    The ensemble calls :meth:`started` once, :meth:`step_completed` after each step some member
    is due at (``every`` as for observers), and asks for each member's :meth:`outputs` once all
    members ended, with the ensemble's :class:`gdsim.ensemble.Outcome` (status, final step and
    parameters of every member), so that truncations on divergence can be done per member.

    An ensemble with a checkpoint observer saves every member observer's :meth:`state_dict`;
    a member observer that keeps state must override it (and :meth:`load_state_dict`), else the
    ensemble's runs are stepped one by one when checkpointed. A resumed ensemble calls
    :meth:`started` (with the live members) and then :meth:`load_state_dict`.
    """

    every: int = 1

    def started(self, view: MemberStep) -> None:
        """Called once before the first step, with every member."""

    def step_completed(self, view: MemberStep) -> None:
        """Called after a step at which the members ``view.rows`` are due."""

    def run_completed(self, member: int, result: RunResult) -> None:
        """Called once per member with its result, before :meth:`outputs` (may amend it)."""

    def outputs(self, member: int, outcome: Any) -> dict[str, Any]:
        """What the observer stepped alone gives member ``member``'s result."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """What an ensemble checkpoint must save to resume this observer exactly (every
        member's state, as arrays with the member axis first)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (called after :meth:`started`)."""


class DataSource(Component):
    """A data set: ``load(rng)`` returns the features ``X`` (n, d) and the targets ``y`` (n,).

    Both are float64; ``X`` is finite. Classification sets hold integer class labels
    ``0 … K−1`` (stored as float64) in ``y``; regression sets hold real targets. ``task`` says
    which ("any" for files: the objective decides). A source that draws random samples uses
    only ``rng`` (seeded from the data table's ``seed``), so the same parameters and seed give
    the same arrays. ``cacheable`` sources (the result depends only on the parameters and the
    seed, not on files that may change) are built once per process and shared read-only.
    The split into train/validation/test and the standardisation are done by gdsim, not by
    the source.
    """

    kind: ClassVar[str] = "data"
    task: ClassVar[str] = "classification"
    cacheable: ClassVar[bool] = False

    def load(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(X, y)``: features (n, d) and targets (n,), both float64."""
        raise NotImplementedError


class Activation(Component):
    """A hidden-layer activation of the network objective: ``a = forward(z)`` elementwise.

    ``backward(d, z, a)`` returns ``d · f'(z)`` for the upstream gradient ``d``, given the
    pre-activation ``z`` and ``a = forward(z)`` (use whichever is cheaper); it may overwrite
    ``d`` in place, and must not modify ``z`` or ``a``. ``forward`` returns a new array.
    """

    kind: ClassVar[str] = "activation"

    def forward(self, z: np.ndarray) -> np.ndarray:
        """The activation of every entry of ``z``, as a new array."""
        raise NotImplementedError

    def backward(self, d: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
        """``d`` times the derivative f'(z), elementwise (may reuse ``d``'s memory)."""
        raise NotImplementedError


class Initializer(Component):
    """Draws a network layer's initial weight matrix of shape (fan_in, fan_out).

    ``scale`` is the network's ``init_scale`` (a constant, a bound, a standard deviation or a
    gain, as the initializer documents). Random initializers draw only from ``rng``.
    """

    kind: ClassVar[str] = "initializer"

    def weights(
        self, rng: np.random.Generator, fan_in: int, fan_out: int, scale: float
    ) -> np.ndarray:
        """A float64 array of shape (fan_in, fan_out)."""
        raise NotImplementedError


def overrides(obj: Any, base: type, method: str) -> bool:
    """True when ``obj``'s class overrides ``base.method`` (lets the engine skip no-op hooks)."""
    return getattr(type(obj), method) is not getattr(base, method)


@attrs.frozen
class ParamInfo:
    """One declared parameter of a component, as read from its attrs field."""

    name: str
    type: str
    default: Any
    required: bool
    doc: str


def _type_name(tp: Any) -> str:
    if isinstance(tp, str):
        return tp
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def describe_params(cls: type) -> list[ParamInfo]:
    """The declared parameters of a component class, in declaration order."""
    infos = []
    for field in attrs.fields(cls):
        if not field.init or field.name.startswith("_"):
            continue
        required = field.default is attrs.NOTHING
        default = None
        if not required:
            default = (
                field.default.factory()
                if isinstance(field.default, attrs.Factory)  # type: ignore[arg-type]
                else field.default
            )
        infos.append(
            ParamInfo(
                name=field.name,
                type=_type_name(field.type),
                default=default,
                required=required,
                doc=field.metadata.get("doc", ""),
            )
        )
    return infos


def param(
    default: Any = attrs.NOTHING,
    *,
    validator: Any = None,
    doc: str = "",
    static: bool = False,
    **kw: Any,
) -> Any:
    """Declare a component parameter: an attrs field with a doc string in its metadata.

    ``static`` marks a float parameter whose value changes the component's structure (its
    state's keys, which code runs): a compiled backend keeps it a Python number instead of
    tracing it. Non-float parameters (str, bool, int, tuples, components) are always static.
    """
    metadata = {"doc": doc, "static": True} if static else {"doc": doc}
    return attrs.field(default=default, validator=validator, metadata=metadata, **kw)
