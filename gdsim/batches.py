"""The batches of several steps at once: what a compiled loop needs from an estimator.

A compiled unit of work (the jax backend) steps many times inside one call, so it cannot ask
the estimator for each step's batch. The estimator draws them ahead on the host instead, from
the run's numpy generator, exactly as stepping one by one would: the same indices, the same
estimator state afterwards, the generator advanced by the same draws. Both backends therefore
see identical batches.

A compiled loop needs batches of one shape, so a window holds the leading run of equally sized
batches as an (m, B) index table and stops right after the first batch of another size (the
short last batch of an epoch, kept as ``tail``); the caller asks again for the steps after it.
With ``until_epoch_end`` a window also ends at the first epoch end, so that a loop can stop
there (schedules that observe metrics, ``stop_at_epoch``) with the estimator state of that step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

NextBatch = Callable[[Any, np.random.Generator], tuple[Any, Any, bool]]


@attrs.frozen(eq=False)
class Batches:
    """The batches of the next ``steps`` steps.

    ``indices``: an (m, B) integer array, row i the sample indices of step i; None when every
    step sees all samples (a full-batch estimator). ``tail``: the batch of step m (a 1-d index
    array) when its size differs from B, else None; it is always the window's last step.
    ``epoch_ends``: one bool per step, True where that step ends an epoch.
    """

    indices: np.ndarray | None
    tail: np.ndarray | None
    epoch_ends: np.ndarray

    @property
    def steps(self) -> int:
        """How many steps the window covers (m, plus one with a tail)."""
        return len(self.epoch_ends)

    def batch(self, i: int) -> Any:
        """Step i's batch as ``next_batch`` returned it (None: all samples)."""
        if self.indices is None:
            return None
        return self.indices[i] if i < len(self.indices) else self.tail


def draw_ahead(
    next_batch: NextBatch,
    state: Any,
    rng: np.random.Generator,
    k: int,
    *,
    until_epoch_end: bool = False,
) -> tuple[Batches, Any]:
    """Up to ``k`` steps' batches from ``next_batch``, called once per step (any estimator).

    Returns the window and the estimator state after its last step. Stops early right after a
    batch whose size differs from the first one's (it becomes the tail) and, with
    ``until_epoch_end``, right after the first step that ends an epoch (where a loop calls the
    schedule's ``observe`` or stops at the epoch: the state returned is then that epoch end's).
    """
    if k < 1:
        raise ValueError(f"batches_ahead needs k >= 1 steps, got {k}")
    rows: list[np.ndarray] = []
    ends: list[bool] = []
    tail = None
    full_batch = None
    for _ in range(k):
        batch, state, ends_epoch = next_batch(state, rng)
        if full_batch is None:
            full_batch = batch is None
        elif full_batch != (batch is None):
            raise ValueError("the estimator mixes full batches (None) and index batches")
        ends.append(bool(ends_epoch))
        if not full_batch:
            batch = np.asarray(batch)
            if rows and batch.shape != rows[0].shape:
                tail = batch
                break
            rows.append(batch)
        if until_epoch_end and ends_epoch:
            break
    indices = None if full_batch else np.stack(rows)
    return Batches(indices, tail, np.array(ends, dtype=bool)), state
