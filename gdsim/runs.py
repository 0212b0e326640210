"""A scenario's runs as one sequence, whose swept entries make their runs only when read.

A sweep of a million points must not cost a million validated run objects before anything
runs: :class:`SweepRuns` holds the entry's validated *template* (its first point), the
validated *parts* every axis value contributes (a component built per value of a
hyperparameter axis, a coerced number per value of a step-budget axis, the raw value of a
starting-point axis) and the sweep's columns of point indices; ``runs[k]`` puts the parts of
point ``k`` into the template, which gives the same :class:`gdsim.scenario.RunSpec` the loader
gives when it validates that point alone. :class:`Runs` chains plain runs and swept entries in
file order.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from gdsim.chained import Chained

if TYPE_CHECKING:
    from gdsim.scenario import RunSpec
    from gdsim.sweep import Sweep

Part = Callable[[Any, np.ndarray], dict[str, Any]]
"""Given the template and one point's value indices: the run fields that point changes."""


class SweepRuns(Sequence["RunSpec"]):
    """The runs of one swept ``[[runs]]`` entry, each made when read (never kept)."""

    def __init__(self, sweep: Sweep, template: RunSpec, parts: Sequence[Part]) -> None:
        self.sweep = sweep
        self.template = template
        self.parts = tuple(parts)
        self._fields = {f.name: getattr(template, f.name) for f in attrs.fields(type(template))}

    def __len__(self) -> int:
        return len(self.sweep.points)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self.make(i) for i in range(*k.indices(len(self)))]
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(k)
        return self.make(k)

    def __iter__(self) -> Iterator[RunSpec]:
        for k in range(len(self)):
            yield self.make(k)

    def slice(self, start: int, stop: int) -> SweepRuns:
        """The runs of points ``start`` to ``stop`` (what an executor ships: the template,
        the parts and a slice of the index columns, not run objects)."""
        points = self.sweep.points[start:stop]
        if len(points) and points.dtype.itemsize > 2:  # what travels: as narrow as it can be
            points = points.astype(np.min_scalar_type(int(points.max())))
        part = attrs.evolve(self.sweep, points=points)
        return SweepRuns(part, self.template, self.parts)

    def make(self, k: int) -> RunSpec:
        """The run of point ``k``."""
        point = self.sweep.points[k].tolist()  # Python ints: cheaper to index with than numpy's
        fields = dict(self._fields)
        fields["name"] = self.sweep._name(point)
        for part in self.parts:
            fields.update(part(self.template, point))
        return type(self.template)(**fields)  # as attrs.evolve, without its look-ups


class Runs(Chained["RunSpec"]):
    """Plain runs and swept entries (:class:`SweepRuns`) as one sequence, in file order."""

    def __init__(self, items: Sequence[RunSpec | SweepRuns]) -> None:
        self.items = tuple(items)
        self.chain([len(i) if isinstance(i, SweepRuns) else 1 for i in self.items])

    def item(self, part: int, offset: int) -> RunSpec:
        entry = self.items[part]
        return entry.make(offset) if isinstance(entry, SweepRuns) else entry

    def __iter__(self) -> Iterator[RunSpec]:
        for entry in self.items:
            if isinstance(entry, SweepRuns):
                yield from entry
            else:
                yield entry

    def pieces(self, count: int) -> list[Runs]:
        """The runs cut into at most ``count`` contiguous, nearly equal pieces (order kept);
        a sweep's share of a piece is a :meth:`SweepRuns.slice`, made into runs where used."""
        total = len(self)
        count = max(1, min(count, total))
        size, extra = divmod(total, count)
        bounds = [0]
        for i in range(count):
            bounds.append(bounds[-1] + size + (1 if i < extra else 0))
        out = []
        for lo, hi in itertools.pairwise(bounds):
            items: list[RunSpec | SweepRuns] = []
            for entry, start in zip(self.items, self.starts[:-1].tolist(), strict=True):
                end = start + (len(entry) if isinstance(entry, SweepRuns) else 1)
                a, b = max(lo, start), min(hi, end)
                if a >= b:
                    continue
                if isinstance(entry, SweepRuns):
                    items.append(entry.slice(a - start, b - start))
                else:
                    items.append(entry)
            if items:
                out.append(Runs(items))
        return out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Runs({len(self)} runs)"


@attrs.frozen
class Built:
    """A field taken from what was built for the point's value indices on ``axes`` (a
    component validated once per value, or per combination of axes into one component)."""

    field: str
    built: Mapping[tuple[int, ...], Any]
    axes: tuple[int, ...]

    def __call__(self, template: Any, point: np.ndarray) -> dict[str, Any]:
        return {self.field: self.built[tuple([int(point[a]) for a in self.axes])]}


@attrs.frozen
class Number:
    """A run's own number (``steps``, ``seed``, ``max_loss``), one checked value per index."""

    field: str
    values: tuple[Any, ...]
    axis: int

    def __call__(self, template: Any, point: np.ndarray) -> dict[str, Any]:
        return {self.field: self.values[point[self.axis]]}


@attrs.frozen
class Tolerances:
    """The run's tolerances, with the swept ones (``(key, values, axis)``) replaced."""

    columns: tuple[tuple[str, tuple[float, ...], int], ...]

    def __call__(self, template: Any, point: np.ndarray) -> dict[str, Any]:
        values = {key: values[point[a]] for key, values, a in self.columns}
        return {"tolerance": attrs.evolve(template.tolerance, **values)}


@attrs.frozen
class StartingPoint:
    """The run's ``init`` with swept numbers put in: for each parameter, its table value
    (holding sweep tables) and the axes (``(path, values, axis)``) inside it."""

    params: tuple[tuple[str, Any, tuple[tuple[str, tuple[Any, ...], int], ...]], ...]

    def __call__(self, template: Any, point: np.ndarray) -> dict[str, Any]:
        from gdsim.sweep import _substitute

        init = dict(template.init)
        for name, raw, axes in self.params:
            values = {path: values[point[a]] for path, values, a in axes}
            init[name] = np.array(_substitute(raw, f"init.{name}", values), dtype=np.float64)
        return {"init": init}
