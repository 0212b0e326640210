"""Gradient estimators: which samples each step sees. The core ships ``full_batch``."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import numpy as np

from gdsim.components import ComponentState, Estimator
from gdsim.hookspecs import hookimpl


@attrs.frozen
class FullBatch(Estimator):
    """Every step sees every sample (or the analytic objective itself); one step is one epoch."""

    name: ClassVar[str] = "full_batch"

    def next_batch(
        self, state: ComponentState, rng: np.random.Generator
    ) -> tuple[Any, ComponentState, bool]:
        return None, state, True


@hookimpl
def gdsim_estimators() -> list[type]:
    return [FullBatch]
