"""Per-run expectations: a scenario doubles as a regression check.

Each expectation yields an :class:`Outcome`. A diverged run fails an implicit ``no_divergence``
expectation unless the run sets ``allow_divergence = true`` or expects status ``diverged``.

Recorded values are compared at the scenario's ``rtol``, but never tighter than what the
backend in force promises (:func:`gdsim.backends.promised_rtol`): ``rtol = 0`` asks numpy for
the lecture's exact bits, and asks the compiled JAX backend for its documented 1e-12.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

if TYPE_CHECKING:
    from gdsim.results import RunResult
    from gdsim.scenario import RunSpec


@attrs.frozen
class Outcome:
    """One checked expectation: what was wanted, what was found, and whether they agree."""

    name: str
    passed: bool
    expected: Any
    actual: Any
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        from gdsim.results import to_jsonable

        return {
            "name": self.name,
            "passed": self.passed,
            "expected": to_jsonable(self.expected),
            "actual": to_jsonable(self.actual),
            "detail": self.detail,
        }


def _close(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> bool:
    return bool(
        actual.shape == expected.shape
        and np.all(np.isfinite(actual))
        and np.allclose(actual, expected, rtol=rtol, atol=atol)
    )


PROMISE = "backend promises agreement to"
"""Marks the detail of an outcome checked at the backend's promise rather than the scenario's
tighter ``rtol``."""


def at_backend_promise(outcome: Outcome) -> bool:
    """Was this value checked at the backend's promise instead of the scenario's ``rtol``?"""
    return PROMISE in outcome.detail


def _tolerance(rtol: float, atol: float) -> tuple[float, str]:
    """The relative tolerance applied on the backend in force, and how it is reported."""
    from gdsim.backends import current, promised_rtol

    floor = promised_rtol()
    if rtol >= floor:
        return rtol, f"rtol={rtol:g}, atol={atol:g}"
    return floor, (
        f"rtol={floor:g}, atol={atol:g}: the {current()} {PROMISE} "
        f"{floor:g}, not the rtol={rtol:g} the scenario asks"
    )


def evaluate(spec: RunSpec, result: RunResult) -> list[Outcome]:
    """Check every expectation of ``spec`` against ``result``."""
    exp = spec.expect
    out: list[Outcome] = []
    if result.status == "diverged" and not spec.allow_divergence and "diverged" not in exp.status:
        out.append(
            Outcome(
                "no_divergence",
                False,
                "no divergence",
                f"diverged at step {result.diverged_at}",
                "set allow_divergence = true if this run may diverge",
            )
        )
    if exp.status:
        out.append(
            Outcome(
                "status",
                result.status in exp.status,
                " or ".join(exp.status),
                result.status,
            )
        )
    rtol, tol = _tolerance(exp.rtol, exp.atol)
    for name, expected in exp.params.items():
        actual = result.final_params.get(name)
        ok = actual is not None and _close(actual, expected, rtol, exp.atol)
        out.append(Outcome(f"params.{name}", ok, expected, actual, tol))
    if exp.loss is not None:
        actual_loss = result.final_loss
        ok = actual_loss is not None and _close(
            np.array(actual_loss), np.array(exp.loss), rtol, exp.atol
        )
        out.append(Outcome("loss", ok, exp.loss, actual_loss, tol))
    if exp.loss_below is not None:
        ok = result.final_loss is not None and result.final_loss < exp.loss_below
        out.append(Outcome("loss_below", ok, f"< {exp.loss_below:g}", result.final_loss))
    for name, bound in exp.metrics_below.items():
        value = _final_metric(spec, result, name)
        out.append(
            Outcome(
                f"metrics_below.{name}", value is not None and value < bound, f"< {bound:g}", value
            )
        )
    for name, bound in exp.metrics_above.items():
        value = _final_metric(spec, result, name)
        out.append(
            Outcome(
                f"metrics_above.{name}", value is not None and value > bound, f"> {bound:g}", value
            )
        )
    if exp.max_steps is not None:
        out.append(
            Outcome("max_steps", result.steps <= exp.max_steps, f"<= {exp.max_steps}", result.steps)
        )
    return out


def _final_metric(spec: RunSpec, result: RunResult, name: str) -> float | None:
    """The metric ``split.metric`` at the run's final parameters (None when there are none)."""
    if not result.final_params:
        return None
    split, _, metric = name.partition(".")
    with np.errstate(all="ignore"):
        value = spec.objective.metrics(result.final_params, split).get(metric)
    return None if value is None or not np.isfinite(value) else float(value)
