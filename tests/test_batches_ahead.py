"""Estimators draw several steps' batches at once (``batches_ahead``) exactly as one by one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdsim.batches import draw_ahead
from gdsim.estimators import SGD, FullBatch, MiniBatch


class _Data:
    """The one thing estimators ask of an objective."""

    def __init__(self, n: int) -> None:
        self.n = n

    def num_samples(self) -> int:
        return self.n


def _same_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)


def _advance(estimator: Any, state: Any, rng: np.random.Generator, steps: int) -> Any:
    for _ in range(steps):
        state = estimator.next_batch(state, rng)[1]
    return state


estimators = st.one_of(
    st.builds(
        MiniBatch,
        batch_size=st.integers(1, 25),
        sampling=st.sampled_from(["epoch", "per_step"]),
        shuffle=st.booleans(),
        drop_last=st.booleans(),
    ),
    st.builds(SGD),
    st.builds(FullBatch),
)


@settings(max_examples=150, deadline=None)
@given(
    estimator=estimators,
    n=st.integers(1, 30),
    before=st.integers(0, 40),
    k=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
    until_epoch_end=st.booleans(),
)
def test_a_window_equals_stepping_one_by_one(
    estimator: Any, n: int, before: int, k: int, seed: int, until_epoch_end: bool
) -> None:
    rng_ahead, rng_steps = np.random.default_rng(seed), np.random.default_rng(seed)
    state = _advance(estimator, estimator.init(_Data(n), rng_ahead), rng_ahead, before)
    state_steps = _advance(estimator, estimator.init(_Data(n), rng_steps), rng_steps, before)
    snapshot = {key: np.copy(v) for key, v in state.items()}

    window, after = estimator.batches_ahead(state, rng_ahead, k, until_epoch_end=until_epoch_end)

    assert _same_state(state, snapshot)  # the input state is left alone
    assert 1 <= window.steps <= k
    ends_early = until_epoch_end and window.epoch_ends[-1]
    assert window.steps == k or window.tail is not None or ends_early  # nothing else stops it
    if until_epoch_end:
        assert not window.epoch_ends[:-1].any()
    for i in range(window.steps):
        batch, state_steps, ends = estimator.next_batch(state_steps, rng_steps)
        if batch is None:
            assert window.batch(i) is None
        else:
            assert np.array_equal(window.batch(i), batch)
        assert window.epoch_ends[i] == ends
    if window.tail is not None:
        assert window.indices is not None and window.tail.shape != window.indices.shape[1:]
    assert _same_state(after, state_steps)
    assert rng_ahead.bit_generator.state == rng_steps.bit_generator.state


@settings(max_examples=60, deadline=None)
@given(
    batch_size=st.integers(1, 25),
    n=st.integers(1, 30),
    k=st.integers(1, 60),
    drop_last=st.booleans(),
    until_epoch_end=st.booleans(),
)
def test_epoch_windows_are_the_generic_windows(
    batch_size: int, n: int, k: int, drop_last: bool, until_epoch_end: bool
) -> None:
    """The sliced epoch windows equal the generic per-step drawing, window after window."""
    estimator = MiniBatch(batch_size=batch_size, sampling="epoch", drop_last=drop_last)
    rng_fast, rng_generic = np.random.default_rng(7), np.random.default_rng(7)
    fast = estimator.init(_Data(n), rng_fast)
    generic = estimator.init(_Data(n), rng_generic)
    for _ in range(4):
        window, fast = estimator.batches_ahead(fast, rng_fast, k, until_epoch_end=until_epoch_end)
        reference, generic = draw_ahead(
            estimator.next_batch, generic, rng_generic, k, until_epoch_end=until_epoch_end
        )
        assert np.array_equal(window.indices, reference.indices)
        assert (window.tail is None) == (reference.tail is None)
        if window.tail is not None:
            assert np.array_equal(window.tail, reference.tail)
        assert np.array_equal(window.epoch_ends, reference.epoch_ends)
        assert _same_state(fast, generic)


def test_an_epoch_window_is_the_table_of_full_batches_then_the_short_one() -> None:
    estimator = MiniBatch(batch_size=4, sampling="epoch")
    rng = np.random.default_rng(0)
    state = estimator.init(_Data(10), rng)
    window, state = estimator.batches_ahead(state, rng, 100)
    assert window.indices.shape == (2, 4) and window.tail.shape == (2,)
    assert window.epoch_ends.tolist() == [False, False, True]
    assert sorted(np.concatenate([window.indices.ravel(), window.tail])) == list(range(10))
    assert state["step"] == 0 and state["seen"] == 10


def test_a_window_needs_a_step() -> None:
    rng = np.random.default_rng(0)
    for estimator in (MiniBatch(sampling="epoch"), SGD()):
        with pytest.raises(ValueError, match="k >= 1"):
            estimator.batches_ahead(estimator.init(_Data(5), rng), rng, 0)
