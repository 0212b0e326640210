"""Loss boxes: how far the parameters may go while the loss surely stays acceptable.

An objective that can bound its loss over the box |θᵢ| ≤ r by a size s(r), increasing in r,
gets its :meth:`~gdsim.components.Objective.loss_radius` from :func:`radius_where`: the
largest r with s(r) within a quarter of ``max_loss``. The factor 4 covers the rounding of the
loss as computed (a few ulps of s(r) for sums of a few products), and no product of degree up
to the loss's may overflow (a zero coefficient times an infinite power would be NaN).
"""

from __future__ import annotations

import math
from collections.abc import Callable

MARGIN = 4.0
"""How far below ``max_loss`` the bound must stay: it covers the loss's rounding."""

LARGEST_POWER = 1e290
"""r ** degree stays below this: every product, and Dekker's split of it, stays finite."""

SMALLEST_LIMIT = 1e-290
"""Below this ``max_loss`` no box is given: products near the underflow threshold lose the
relative accuracy the margin counts on."""


def computes_as(objective: object, cls: type) -> bool:
    """Does ``objective`` compute its loss with ``cls``'s own ``value_and_grad``? A subclass
    that overrides it computes another loss, which the parent's box does not bound."""
    return type(objective).value_and_grad is cls.value_and_grad  # type: ignore[attr-defined]


def radius_where(size: Callable[[float], float], max_loss: float, degree: int) -> float | None:
    """The largest r (found by bisection) with ``size(r) <= min(max_loss, 1e300) / 4`` and
    ``r ** degree <= 1e290``, or None when not even r = 0 qualifies. Always finite: an
    infinite parameter is never inside a box."""
    if not float(max_loss) >= SMALLEST_LIMIT:  # NaN included
        return None
    target = min(float(max_loss), 1e300) / MARGIN

    def bound(r: float) -> float:
        try:
            if r ** max(degree, 1) > LARGEST_POWER:
                return math.inf
            return size(r)
        except OverflowError:
            return math.inf

    if not bound(0.0) <= target:  # NaN targets included
        return None
    low = high = 1.0
    while bound(high) <= target:  # bracket the radius within a factor of 2
        low, high = high, high * 2.0
    while bound(low) > target:
        if low < 1e-300:
            return 0.0
        low, high = low / 2.0, low
    for _ in range(100):
        middle = (low + high) / 2
        if bound(middle) <= target:
            low = middle
        else:
            high = middle
    return low
