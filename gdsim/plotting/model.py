"""What the two figures of a trained network need: its objective, data and final parameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from gdsim.plotting.common import PlotContext, RunData


def network(run: RunData, ctx: PlotContext) -> Any | None:
    """The run's objective when it is a network on a data set (``predict`` and ``dataset``)."""
    objective = run.objective or ctx.objective
    if objective is None or not hasattr(objective, "predict"):
        return None
    if getattr(objective, "dataset", None) is None or not run.final_params:
        return None
    return objective


def raw_features(objective: Any, split: str) -> np.ndarray:
    """A split's features in the data's own units (undoing the standardisation)."""
    data = objective.dataset
    return data.X[split] * data.std + data.mean


def score(objective: Any, run: RunData, split: str) -> dict[str, float]:
    """The objective's metrics of the run's final parameters on ``split`` ({} when empty)."""
    try:
        with np.errstate(all="ignore"):
            return objective.metrics(run.final_params, split)
    except (KeyError, ValueError, ArithmeticError):
        return {}
