"""Does a component run under JAX, and does it agree with numpy there?

Two tools for the compiled backend and the conformance kit, importable without JAX (JAX is
imported only when they run):

- :func:`check_traceable` traces a component's methods with ``jax.eval_shape`` (no
  compilation, a fraction of a millisecond) and, when a method cannot be traced, names the
  component and the file and line of the first numpy call or Python branch on a value;
- :func:`compare_backends` runs a component under ``jax.jit`` (float64, its float parameters
  traced as a compiled loop traces them) and compares the results with the same calls on
  numpy, to a relative tolerance (XLA fuses ``a*b + c`` into one rounding, so bit equality is
  not expected).

Inputs are the ones the conformance kit uses: for a rule or a transform a few random
parameter arrays and gradients, for a schedule a run of steps with the step traced, for an
objective its initial point and a point nearby.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import numpy as np

from gdsim.components import GradientTransform, Objective, Schedule, UpdateRule

__all__ = [
    "NotTraceable",
    "check_traceable",
    "compare_backends",
    "installed_backends",
    "jax_available",
    "traced_floats",
]

_LIBRARY_PARTS = (
    f"{os.sep}jax{os.sep}",
    f"{os.sep}jaxlib{os.sep}",
    f"{os.sep}numpy{os.sep}",
    f"{os.sep}array_api_compat{os.sep}",
    f"gdsim{os.sep}tracing.py",
    f"gdsim{os.sep}xp.py",
    f"gdsim{os.sep}ensemble.py",
)


class NotTraceable(TypeError):
    """A component's method cannot be traced by JAX; the message names it and the line."""


def installed_backends() -> tuple[str, ...]:
    """The array backends components can run on here: numpy, and jax when importable."""
    return ("numpy", "jax") if jax_available() else ("numpy",)


def jax_available() -> bool:
    """True when JAX can be imported (the ``gdsim[jax]`` extra is installed)."""
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _x64() -> Iterator[None]:
    import jax

    with jax.enable_x64(True):
        yield


def _field_static(component: Any, path: tuple[Any, ...]) -> bool:
    owner = component
    for key in path[:-1]:
        owner = owner[key] if isinstance(key, int) else getattr(owner, key)
    field = attrs.fields_dict(type(owner)).get(str(path[-1]))
    return bool(field is not None and field.metadata.get("static", False))


def traced_floats(component: Any) -> dict[tuple[Any, ...], float]:
    """The float parameters a compiled loop traces: every float field (nested components'
    too) that is not declared ``static`` (:func:`gdsim.components.param`), by path."""
    from gdsim.ensemble import _at, _float_paths

    found = {}
    for path in _float_paths(component):
        value = _at(component, path)
        if isinstance(value, float) and not _field_static(component, path):
            found[tuple(path)] = value
    return found


def _rebuild(component: Any, hyper: dict[tuple[Any, ...], Any]) -> Any:
    from gdsim.ensemble import with_values

    return with_values(component, dict(hyper)) if hyper else component


def _to_jax(tree: Any) -> Any:
    """numpy arrays and Python numbers as float64/int64 JAX arrays (bools and strings kept)."""
    import jax.numpy as jnp

    if isinstance(tree, dict):
        return {k: _to_jax(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(_to_jax(v) for v in tree)
    if isinstance(tree, bool | str | type(None)):
        return tree
    if isinstance(tree, int | np.integer):
        return jnp.asarray(tree, dtype=jnp.int64)
    return jnp.asarray(np.asarray(tree, dtype=np.float64))


def _problem(seed: int = 0, steps: int = 6) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    params = {"a": rng.standard_normal(3), "b": rng.standard_normal((2, 2))}
    grads = [{k: rng.standard_normal(np.shape(v)) for k, v in params.items()} for _ in range(steps)]
    return params, grads


def _programs(
    component: Any, seed: int = 0, steps: int = 6
) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """``(fn, args)``: a pure function of the traced floats and numpy inputs that exercises
    the component (``steps`` steps of a rule or transform), and those inputs (numpy).
    ``fn(hyper, *args)`` works on either library."""
    if isinstance(component, UpdateRule | GradientTransform):
        params, grads = _problem(seed, steps)
        is_rule = isinstance(component, UpdateRule)

        def run(hyper: Any, params: Any, grads: Any) -> Any:
            c = _rebuild(component, hyper)
            state = c.init(params)
            for g in grads:
                if is_rule:
                    params, state = c.update(g, state, params, 0.01)
                else:
                    g, state = c.apply(g, state, params)
                    params = {k: x - 0.01 * g[k] for k, x in params.items()}
            return params, state

        return run, (params, grads)
    if isinstance(component, Schedule):
        params, grads = _problem(seed, steps=1)

        def rate(hyper: Any, state: Any, step: Any, grads: Any, loss: Any) -> Any:
            return _rebuild(component, hyper).learning_rate(state, step, grads, loss)

        return rate, (None, 0, grads[0], 0.5)
    if isinstance(component, Objective):
        params = component.init(np.random.default_rng(seed))

        def value_and_grad(hyper: Any, params: Any) -> Any:
            return _rebuild(component, hyper).value_and_grad(params)

        return value_and_grad, (params,)
    raise TypeError(f"{component.kind} '{component.name}': no JAX probe for this kind")


def _offending_line(exc: BaseException) -> str:
    """``path:line `code``` of the innermost frame outside JAX, numpy and gdsim's helpers."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not any(part in f.filename for part in _LIBRARY_PARTS)
    ]
    if not frames:
        return "an unknown line"
    frame = frames[-1]
    path = frame.filename
    with contextlib.suppress(ValueError):
        relative = os.path.relpath(path)
        path = relative if not relative.startswith("..") else path
    return f"{path}:{frame.lineno} `{(frame.line or '').strip()}`"


def check_traceable(component: Any) -> None:
    """Raise :class:`NotTraceable` unless the component's methods trace under JAX.

    The methods run once under ``jax.eval_shape`` (abstract values: nothing is computed or
    compiled), with the float parameters traced as a compiled loop traces them. The message
    names the component, the JAX error and the first line outside JAX and numpy that caused
    it — typically a ``numpy`` call on a traced array (``np.sqrt``: use ``xp.sqrt`` with
    ``xp = gdsim.xp.namespace(...)``) or an ``if`` on a value (use ``gdsim.xp.select``).
    """
    import jax

    what = f"{component.kind} '{component.name}'"
    fn, args = _programs(component)
    hyper = traced_floats(component)
    try:
        with _x64():
            if isinstance(component, Schedule):
                state = _to_jax(component.init())
                jax.eval_shape(
                    fn, _to_jax(hyper), state, _to_jax(args[1]), _to_jax(args[2]), _to_jax(args[3])
                )
            else:
                jax.eval_shape(fn, _to_jax(hyper), *(_to_jax(a) for a in args))
    except NotTraceable:
        raise
    except Exception as exc:
        raise NotTraceable(
            f"{what}: not traceable under JAX ({type(exc).__name__}) at {_offending_line(exc)}"
        ) from exc


def _leaves(tree: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(tree, list | tuple):
        for i, v in enumerate(tree):
            yield from _leaves(v, f"{prefix}[{i}]")
    elif not isinstance(tree, str | type(None)):
        yield prefix, tree


def _agree(what: str, numpy_tree: Any, jax_tree: Any, rtol: float) -> None:
    ours = dict(_leaves(numpy_tree))
    theirs = dict(_leaves(jax_tree))
    assert ours.keys() == theirs.keys(), (
        f"{what}: JAX gives the leaves {sorted(theirs)}, numpy {sorted(ours)}"
    )
    for name, expected in ours.items():
        want = np.asarray(expected, dtype=np.float64)
        got = np.asarray(theirs[name], dtype=np.float64)
        assert got.shape == want.shape, f"{what}: {name} has shape {got.shape}, numpy {want.shape}"
        finite = np.isfinite(want)
        assert np.array_equal(finite, np.isfinite(got)), (
            f"{what}: {name} is finite in different places on JAX and numpy"
        )
        scale = float(np.max(np.abs(want[finite]), initial=0.0)) or 1.0
        error = float(np.max(np.abs(got[finite] - want[finite]), initial=0.0)) / scale
        assert error <= rtol, (
            f"{what}: {name} differs between JAX and numpy by {error:.2e} (relative), "
            f"more than {rtol:g}"
        )


def compare_backends(component: Any, rtol: float = 1e-12, steps: int = 12) -> None:
    """Run ``component`` under ``jax.jit`` (float64) and on numpy; raise ``AssertionError``
    when they differ by more than ``rtol`` relative to the largest value of each result.

    Raises :class:`NotTraceable` first if the component cannot be traced. A schedule is
    stepped ``steps`` times with the step and its state traced, so value branches on the
    step count are exercised; a rule or transform takes ``steps`` steps inside one compiled
    function, its step count in its state traced.
    """
    import jax

    check_traceable(component)
    what = f"{component.kind} '{component.name}'"
    fn, args = _programs(component, steps=steps)
    hyper = traced_floats(component)
    with _x64():
        compiled = jax.jit(fn)
        if isinstance(component, Schedule):
            _, _, grads, loss = args
            state_np, state_jx = component.init(), _to_jax(component.init())
            for step in range(steps):
                lr_np, state_np = fn(hyper, state_np, step, grads, loss)
                lr_jx, state_jx = compiled(
                    _to_jax(hyper), state_jx, _to_jax(step), _to_jax(grads), _to_jax(loss)
                )
                _agree(f"{what} at step {step}", (lr_np, state_np), (lr_jx, state_jx), rtol)
            return
        expected = fn(hyper, *args)
        got = compiled(_to_jax(hyper), *(_to_jax(a) for a in args))
        _agree(what, expected, got, rtol)
