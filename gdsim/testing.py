"""The conformance kit: checks every component must pass, for gdsim's tests and plugins'.

Plugin authors call these from their own tests (see ``plugins/gdsim-optimizers`` and the
template ``gdsim new-plugin`` writes) to hold their components to the same contract as the
built-ins. Update rules and transforms: pure updates, finite outputs for finite inputs,
unchanged names, shapes and dtypes, and — for ``elementwise`` components — the same result on a
concatenation of two arrays as on each part alone (:func:`check_rule_contract`,
:func:`check_transform_contract`, :func:`check_elementwise_split`). Every kind has a
``check_<kind>`` function taking an instance (:func:`check_objective`, :func:`check_estimator`,
:func:`check_rule`, :func:`check_transform`, :func:`check_schedule`, :func:`check_observer`,
:func:`check_data_source`, :func:`check_activation`, :func:`check_initializer`; they live in
:mod:`gdsim.conformance`), and :func:`conformance_cases` lists one case per component of an
installed distribution — what ``gdsim check-plugin NAME`` runs. The hypothesis strategies at the
end (:func:`problems`, :func:`split_problems`) draw inputs for the rule checks; hypothesis is
imported only when they are called, so the checks themselves need only numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gdsim.components import ComponentState, GradientTransform, UpdateRule
from gdsim.conformance import (
    Case,
    check_activation,
    check_backends,
    check_data_source,
    check_estimator,
    check_initializer,
    check_objective,
    check_observer,
    check_rule,
    check_schedule,
    check_transform,
    conformance_cases,
    examples_of,
    roundtrip_state,
    run_conformance,
)
from gdsim.state import Params

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "Case",
    "Problem",
    "check_activation",
    "check_backends",
    "check_data_source",
    "check_elementwise_split",
    "check_estimator",
    "check_initializer",
    "check_objective",
    "check_observer",
    "check_rule",
    "check_rule_contract",
    "check_schedule",
    "check_transform",
    "check_transform_contract",
    "conformance_cases",
    "examples_of",
    "finite_values",
    "problems",
    "roundtrip_state",
    "run_conformance",
    "run_rule",
    "same_tree",
    "snapshot",
    "split_problems",
]

Problem = tuple[Params, list[Params]]
"""Starting parameters and one gradient per step, of the same names and shapes."""


def snapshot(tree: Any) -> Any:
    """A deep copy of a component state (nested dicts, lists, arrays, numbers, generators)."""
    if isinstance(tree, dict):
        return {k: snapshot(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(snapshot(v) for v in tree)
    if isinstance(tree, np.ndarray):
        return tree.copy()
    if isinstance(tree, np.random.Generator):
        return ("generator", repr(tree.bit_generator.state))
    return tree


def same_tree(a: Any, b: Any) -> bool:
    """True when two snapshots hold the same structure and bit-identical values."""
    if isinstance(a, dict):
        return (
            isinstance(b, dict) and a.keys() == b.keys() and all(same_tree(a[k], b[k]) for k in a)
        )
    if isinstance(a, list | tuple):
        return (
            isinstance(b, list | tuple)
            and len(a) == len(b)
            and all(same_tree(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return bool(a == b)


def _check_output(name: str, before: Params, after: Params) -> None:
    assert after.keys() == before.keys(), f"{name}: parameter names changed"
    for k, v in after.items():
        arr = np.asarray(v)
        assert arr.shape == np.shape(before[k]), f"{name}: shape of {k} changed"
        assert arr.dtype == np.float64, f"{name}: dtype of {k} is {arr.dtype}"
        assert np.all(np.isfinite(arr)), f"{name}: non-finite values in {k}: {arr}"


def run_rule(
    rule: UpdateRule, params: Params, grads: Sequence[Params], lr: Any
) -> tuple[list[Params], ComponentState]:
    """Apply ``rule`` for one step per gradient; return every iterate and the final state."""
    state = rule.init(params)
    path = []
    for g in grads:
        params, state = rule.update(g, state, params, lr)
        path.append(params)
    return path, state


def check_rule_contract(rule: UpdateRule, params: Params, grads: Sequence[Params], lr: Any) -> None:
    """Run ``rule`` over ``grads`` and assert it is pure, finite, and keeps names/shapes/dtypes.

    ``params`` and every gradient must be finite float64 arrays of matching names and shapes.
    """
    state = rule.init(params)
    for g in grads:
        before = (snapshot(params), snapshot(g), snapshot(state))
        new_params, new_state = rule.update(g, state, params, lr)
        after = (snapshot(params), snapshot(g), snapshot(state))
        assert same_tree(before, after), f"{rule.name}: update modified its inputs"
        _check_output(rule.name, params, new_params)
        params, state = new_params, new_state


def check_transform_contract(
    transform: GradientTransform, params: Params, grads: Sequence[Params]
) -> None:
    """Like :func:`check_rule_contract`, for a gradient transform's ``apply``."""
    state = transform.init(params)
    for g in grads:
        before = (snapshot(params), snapshot(g), snapshot(state))
        new_g, state_next = transform.apply(g, state, params)
        after = (snapshot(params), snapshot(g), snapshot(state))
        assert same_tree(before, after), f"{transform.name}: apply modified its inputs"
        _check_output(transform.name, g, new_g)
        state = state_next


def _concat(a: Params, b: Params) -> Params:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def check_elementwise_split(
    rule: UpdateRule,
    params_a: Params,
    params_b: Params,
    grads_a: Sequence[Params],
    grads_b: Sequence[Params],
    lr: Any,
) -> None:
    """An elementwise rule on concatenated arrays (axis 0) gives, bit for bit, the parts' results.

    Every array needs at least one dimension; the parts agree on the trailing dimensions.
    """
    path_a, _ = run_rule(rule, params_a, grads_a, lr)
    path_b, _ = run_rule(rule, params_b, grads_b, lr)
    joint_grads = [_concat(ga, gb) for ga, gb in zip(grads_a, grads_b, strict=True)]
    path, _ = run_rule(rule, _concat(params_a, params_b), joint_grads, lr)
    n = {k: np.shape(v)[0] for k, v in params_a.items()}
    for joint, a, b in zip(path, path_a, path_b, strict=True):
        for k in joint:
            got_a, got_b = joint[k][: n[k]], joint[k][n[k] :]
            assert np.array_equal(got_a, a[k]) and np.array_equal(got_b, b[k]), (
                f"{rule.name}: the concatenated update differs from the separate ones in {k}"
            )


# --- hypothesis strategies for the checks above -----------------------------------------------


def finite_values() -> SearchStrategy[float]:
    """Floats in [−1e3, 1e3] with magnitudes below 1e-100 flushed to 0 (no subnormal products)."""
    from hypothesis import strategies as st

    return st.floats(-1e3, 1e3, allow_subnormal=False).map(lambda v: v if abs(v) > 1e-100 else 0.0)


def problems(
    min_dims: int = 0, elements: SearchStrategy[float] | None = None, max_steps: int = 5
) -> SearchStrategy[Problem]:
    """Params ``{"a", "b"}`` of random shapes (``min_dims`` to 3 dimensions, sides 1 to 4) with
    :func:`finite_values`, and 1 to ``max_steps`` gradients of the same shapes drawn from
    ``elements`` (default :func:`finite_values`)."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    values = finite_values()
    grad_values = values if elements is None else elements
    shapes = hnp.array_shapes(min_dims=min_dims, max_dims=3, max_side=4)

    @st.composite
    def draw_problem(draw: Any) -> Problem:
        steps = draw(st.integers(1, max_steps))
        params = {k: draw(hnp.arrays(np.float64, draw(shapes), elements=values)) for k in "ab"}
        grads = [
            {
                k: draw(hnp.arrays(np.float64, np.shape(v), elements=grad_values))
                for k, v in params.items()
            }
            for _ in range(steps)
        ]
        return params, grads

    return draw_problem()


def split_problems(max_steps: int = 4) -> SearchStrategy[tuple[Problem, Problem]]:
    """Two problems whose arrays differ only in their first dimension (1 to 3 rows each), so
    they concatenate along axis 0: the inputs of :func:`check_elementwise_split`."""
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    values = finite_values()

    @st.composite
    def draw_pair(draw: Any) -> tuple[Problem, Problem]:
        steps = draw(st.integers(1, max_steps))
        trailing = {k: draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)) for k in "ab"}

        def part() -> Problem:
            shape = {k: (draw(st.integers(1, 3)), *trailing[k]) for k in "ab"}
            params = {k: draw(hnp.arrays(np.float64, s, elements=values)) for k, s in shape.items()}
            grads = [
                {k: draw(hnp.arrays(np.float64, s, elements=values)) for k, s in shape.items()}
                for _ in range(steps)
            ]
            return params, grads

        return part(), part()

    return draw_pair()
