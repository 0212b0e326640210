"""Benchmark: the lecture's 2-layer sigmoid network trained with Adam, gdsim vs plain numpy.

20 000 samples × 20 features (the ``linear`` generator), 64 sigmoid hidden units, one logit with
binary cross-entropy, Adam (lr 1e-3, β = 0.9/0.999, ε = 1e-6 outside the root, bias-corrected),
batch 128 with the training set shuffled once per epoch, 20 epochs (3 140 steps). The same work
runs three ways in one process, with one BLAS thread:

1. gdsim: a scenario mapping through ``gdsim.api.run`` (engine, estimator, objective, rule);
2. a hand-written numpy loop, the way the lecture writes it, drawing the same initial weights
   and the same permutations from the same generator, so its final weights must equal gdsim's;
3. scikit-learn's MLPClassifier with the same settings, when scikit-learn is installed.

Each is timed best-of-``--repeat`` (variants interleaved, so load drift hits all alike); the
ratios are against the plain loop.
Run: ``python benchmarks/mlp_adam.py``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from gdsim import api  # noqa: E402
from gdsim.objectives.mlp import MLP  # noqa: E402

N, FEATURES, HIDDEN, BATCH, EPOCHS, LR, SEED = 20_000, 20, 64, 128, 20, 1e-3, 0
B1, B2, EPS = 0.9, 0.999, 1e-6


def scenario() -> dict[str, Any]:
    """The benchmark as a gdsim scenario mapping."""
    steps = EPOCHS * -(-N // BATCH)
    return {
        "objective": {
            "name": "mlp",
            "hidden": [HIDDEN],
            "activation": "sigmoid",
            "initializer": "xavier_uniform",
            "loss": "bce",
            "data": {"name": "linear", "n": N, "features": FEATURES, "noise": 0.1, "seed": 1},
        },
        "runs": [
            {
                "name": "adam",
                "steps": steps,
                "seed": SEED,
                "rule": "adam",
                "schedule": {"name": "constant", "lr": LR},
                "estimator": {"name": "minibatch", "batch_size": BATCH, "sampling": "epoch"},
            }
        ],
    }


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def plain_loop(X: np.ndarray, y: np.ndarray, params: dict[str, np.ndarray], rng: Any) -> dict:
    """The lecture's training loop written directly in numpy."""
    W1, b1, W2, b2 = (params[k].copy() for k in ("W1", "b1", "W2", "b2"))
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    n = X.shape[0]
    t = 0
    losses = []
    for _epoch in range(EPOCHS):
        perm = rng.permutation(n)
        for start in range(0, n, BATCH):
            idx = perm[start : start + BATCH]
            xb, yb = X[idx], y[idx]
            # forward
            h = sigmoid(xb @ W1 + b1)
            z = h @ W2 + b2
            losses.append(np.mean(np.logaddexp(0.0, z) - yb * z))
            # backward
            dz = (sigmoid(z) - yb) / len(idx)
            dh = (dz @ W2.T) * h * (1.0 - h)
            grads = {"W1": xb.T @ dh, "b1": dh.sum(0), "W2": h.T @ dz, "b2": dz.sum(0)}
            # Adam
            t += 1
            new = {}
            for k, p in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
                g = grads[k]
                m[k] = B1 * m[k] + (1 - B1) * g
                v[k] = B2 * v[k] + (1 - B2) * g * g
                m_hat = m[k] / (1 - B1**t)
                v_hat = v[k] / (1 - B2**t)
                new[k] = p - LR * m_hat / (np.sqrt(v_hat) + EPS)
            W1, b1, W2, b2 = new["W1"], new["b1"], new["W2"], new["b2"]
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def interleaved(repeat: int, fns: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """Best-of-``repeat`` times, taking the variants in turn so that drift hits all alike."""
    best = {name: float("inf") for name in fns}
    out: dict[str, Any] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            out[name] = fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timings per variant (best kept)")
    args = parser.parse_args()

    loaded = api.load(scenario())
    objective = loaded.runs[0].objective
    assert isinstance(objective, MLP)
    X, y = objective.dataset.X["train"], objective.dataset.y["train"][:, None]

    def run_gdsim() -> dict[str, np.ndarray]:
        return api.run(loaded).runs[0].final_params

    def run_plain() -> dict[str, np.ndarray]:
        rng = np.random.default_rng(SEED)
        params = objective.init(rng)  # the same draws as the engine's
        return plain_loop(X, y, params, rng)

    variants: dict[str, Any] = {"plain numpy loop": run_plain, "gdsim": run_gdsim}
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        print("scikit-learn not installed: skipping its row")
    else:

        def run_sklearn() -> Any:
            clf = MLPClassifier(
                hidden_layer_sizes=(HIDDEN,),
                activation="logistic",
                solver="adam",
                alpha=0.0,
                batch_size=BATCH,
                learning_rate_init=LR,
                max_iter=EPOCHS,
                shuffle=True,
                random_state=SEED,
                tol=0.0,
                n_iter_no_change=EPOCHS + 1,
                beta_1=B1,
                beta_2=B2,
                epsilon=EPS,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                return clf.fit(X, y[:, 0])

        variants["scikit-learn MLPClassifier"] = run_sklearn

    times, outputs = interleaved(args.repeat, variants)
    p_plain, p_gdsim = outputs["plain numpy loop"], outputs["gdsim"]
    diff = max(float(np.max(np.abs(p_plain[k] - p_gdsim[k]))) for k in p_plain)
    t_plain = times["plain numpy loop"]

    steps = loaded.runs[0].steps
    print(f"MLP {FEATURES}-{HIDDEN}-1 sigmoid, Adam, batch {BATCH}, {N} samples, {EPOCHS} epochs")
    print(f"({steps} steps, one BLAS thread, best of {args.repeat})\n")
    print(f"{'variant':<28} {'seconds':>8} {'µs/step':>8} {'× plain':>8}")
    for name, t in times.items():
        print(f"{name:<28} {t:>8.3f} {t / steps * 1e6:>8.1f} {t / t_plain:>8.2f}")
    print(f"\nmax |gdsim − plain| over the final weights: {diff:.3g}")


if __name__ == "__main__":
    main()
