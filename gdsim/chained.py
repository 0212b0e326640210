"""A sequence made of consecutive parts, indexed without flattening them.

A scenario's runs (plain runs and swept entries of millions of points) and its results (lists
of result objects and blocks of columns) are both such chains: item ``k`` is found by a binary
search over the parts' start indices and made only when it is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


class Chained(Sequence[T]):
    """The items of consecutive parts as one sequence; a subclass says how long each part is
    (:meth:`chain`) and makes an item from its part and its offset there (:meth:`item`)."""

    starts: np.ndarray
    """Where each part starts, and the total length last (int64)."""

    def chain(self, sizes: Sequence[int]) -> None:
        """Record the parts' sizes, in order."""
        self.starts = np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))]).astype(
            np.int64
        )

    def item(self, part: int, offset: int) -> T:
        """Item ``offset`` of part ``part``."""
        raise NotImplementedError

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        part = int(np.searchsorted(self.starts, k, side="right")) - 1
        return self.item(part, k - int(self.starts[part]))
