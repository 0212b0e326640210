"""Gradient estimators: which samples each step sees: ``full_batch``, ``sgd``, ``minibatch``."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from gdsim.batches import Batches
from gdsim.components import ComponentState, Estimator, Objective, param
from gdsim.hookspecs import hookimpl
from gdsim.validators import int_at_least, one_of


@attrs.frozen
class FullBatch(Estimator):
    """Every step sees every sample (or the analytic objective itself); one step is one epoch."""

    name: ClassVar[str] = "full_batch"

    def next_batch(
        self, state: ComponentState, rng: np.random.Generator
    ) -> tuple[Any, ComponentState, bool]:
        return None, state, True


@attrs.frozen
class SGD(Estimator):
    """Stochastic gradient: each step sees one sample drawn uniformly (with replacement).

    The lecture's SGD: ``i = rng.integers(N)`` per step. An epoch is N steps (N samples seen).
    """

    name: ClassVar[str] = "sgd"
    data_backed: ClassVar[bool] = True

    def init(self, objective: Objective, rng: np.random.Generator) -> ComponentState:
        return {"n": objective.num_samples(), "step": 0, "seen": 0}

    def next_batch(
        self, state: ComponentState, rng: np.random.Generator
    ) -> tuple[Any, ComponentState, bool]:
        n = state["n"]
        step = state["step"] + 1
        batch = np.array([rng.integers(n)])
        ends = step == n
        return batch, {"n": n, "step": 0 if ends else step, "seen": state["seen"] + 1}, ends


@attrs.frozen
class MiniBatch(Estimator):
    """Mini-batches of ``batch_size`` samples, drawn per step or by walking an epoch.

    ``sampling = "per_step"``: each step draws a fresh batch without replacement
    (``rng.choice(N, B, replace=False)``, as the lecture), independent of earlier steps; an
    epoch is then ⌈N / B⌉ steps, i.e. on average every sample seen once. ``sampling =
    "epoch"``: at the start of each epoch the training set is shuffled once (or kept in order
    with ``shuffle = false``) and walked in consecutive batches; the last batch of an epoch
    holds the N mod B left-over samples unless ``drop_last`` is set. With B ≥ N every step is
    one epoch. Drawing one sample without replacement equals ``rng.integers(N)``, so B = 1
    per step is exactly ``sgd``.
    """

    name: ClassVar[str] = "minibatch"
    data_backed: ClassVar[bool] = True

    batch_size: int = param(32, validator=int_at_least(1), doc="samples per step B")
    sampling: str = param(
        "per_step", validator=one_of("per_step", "epoch"), doc="per_step or epoch (see above)"
    )
    shuffle: bool = param(True, doc="epoch sampling: shuffle at each epoch (false: in order)")
    drop_last: bool = param(False, doc="epoch sampling: skip the short last batch of an epoch")

    @classmethod
    def conformance_examples(cls, workdir: Any) -> list[MiniBatch]:
        """What ``gdsim check-plugin`` checks: both samplings, with and without a short batch."""
        return [
            cls(batch_size=3),
            cls(batch_size=3, sampling="epoch"),
            cls(batch_size=4, sampling="epoch", drop_last=True),
            cls(batch_size=2, sampling="epoch", shuffle=False),
        ]

    def init(self, objective: Objective, rng: np.random.Generator) -> ComponentState:
        n = objective.num_samples()
        b = min(self.batch_size, n)
        steps = n // b if self.drop_last else -(-n // b)
        return {"n": n, "steps": steps, "step": 0, "order": np.arange(n), "seen": 0}

    def next_batch(
        self, state: ComponentState, rng: np.random.Generator
    ) -> tuple[Any, ComponentState, bool]:
        n, steps, step = state["n"], state["steps"], state["step"]
        b = self.batch_size
        order = state["order"]
        if self.sampling == "per_step":
            batch = rng.choice(n, size=b, replace=False) if b < n else order
        else:
            if step == 0 and self.shuffle:
                order = rng.permutation(n)
            batch = order[step * b : (step + 1) * b]
        step += 1
        ends = step == steps
        new = {"n": n, "steps": steps, "step": 0 if ends else step, "order": order}
        new["seen"] = state["seen"] + len(batch)
        return batch, new, ends

    def batches_ahead(
        self,
        state: ComponentState,
        rng: np.random.Generator,
        k: int,
        *,
        until_epoch_end: bool = False,
    ) -> tuple[Batches, ComponentState]:
        """Epoch sampling slices whole runs of steps from the epoch's order at once (one
        permutation per epoch, as ``next_batch`` draws it); per-step sampling draws step by step."""
        if self.sampling != "epoch":
            return super().batches_ahead(state, rng, k, until_epoch_end=until_epoch_end)
        if k < 1:
            raise ValueError(f"batches_ahead needs k >= 1 steps, got {k}")
        n, steps, step, order = state["n"], state["steps"], state["step"], state["order"]
        width = min(self.batch_size, n)  # every batch but an epoch's short last one
        full = n // width  # steps of an epoch that see `width` samples
        blocks: list[np.ndarray] = []
        ends: list[np.ndarray] = []
        tail = None
        seen, taken = state["seen"], 0
        ended = False
        while taken < k and tail is None and not (until_epoch_end and ended):
            if step == 0 and self.shuffle:
                order = rng.permutation(n)
            size = width if step < full else n - full * width
            if blocks and size != blocks[0].shape[1]:
                tail = (
                    order[full * width :]
                    if step == full
                    else order[step * width : (step + 1) * width]
                )
                count = 1
            else:
                count = min(k - taken, full - step) if step < full else 1
                blocks.append(
                    order[step * width : (step + count) * width].reshape(count, size)
                    if step < full
                    else order[full * width :][None, :]
                )
            flags = np.zeros(count, dtype=bool)
            flags[-1] = ended = step + count == steps
            ends.append(flags)
            seen += count * size
            step = (step + count) % steps
            taken += count
        new = {"n": n, "steps": steps, "step": step, "order": order, "seen": seen}
        return Batches(np.concatenate(blocks), tail, np.concatenate(ends)), new


@hookimpl
def gdsim_estimators() -> list[type]:
    return [FullBatch, SGD, MiniBatch]
