"""Data sets: generators, splits, standardisation, CSV/.npz loading and their error messages."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gdsim import api
from gdsim.cli import main
from gdsim.data import GENERATORS, DataError, DataSpec, load_csv, load_npz, split_indices
from gdsim.errors import ParamError, ScenarioError


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_are_seeded_and_shaped(name: str) -> None:
    a = DataSpec.from_table({"name": name, "n": 101, "seed": 3}).build()
    b = DataSpec.from_table({"name": name, "n": 101, "seed": 3}).build()
    c = DataSpec.from_table({"name": name, "n": 101, "seed": 4}).build()
    X, y = a.split("train")
    assert X.shape[0] == y.shape[0] == 101 and X.ndim == 2 and X.dtype == np.float64
    assert np.array_equal(X, b.X["train"]) and np.array_equal(y, b.y["train"])
    assert not np.array_equal(X, c.X["train"])
    if GENERATORS[name].task == "classification":
        labels = np.unique(y)
        assert np.array_equal(labels, np.arange(labels.size))  # labels 0 … K−1, all present


def test_noise_free_geometry() -> None:
    moons = DataSpec.from_table({"name": "moons", "n": 200, "noise": 0.0}).build()
    X, y = moons.split("train")
    upper, lower = X[y == 0], X[y == 1]
    assert np.allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert np.allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    circles = DataSpec.from_table({"name": "circles", "n": 200, "noise": 0.0, "factor": 0.3})
    X, y = circles.build().split("train")
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(r[y == 0], 1.0) and np.allclose(r[y == 1], 0.3)
    reg = DataSpec.from_table({"name": "regression1d", "n": 50, "function": "sin"}).build()
    X, y = reg.split("train")
    assert np.allclose(y, np.sin(X[:, 0]))


def test_linear_set_is_separable_with_a_margin() -> None:
    spec = {"name": "linear", "n": 400, "features": 5, "margin": 0.2, "seed": 9}
    X, y = DataSpec.from_table(spec).build().split("train")
    # a plane separating the classes exists: the least-squares direction finds it
    w, *_ = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), 2 * y - 1, rcond=None)
    margin = (2 * y - 1) * (np.column_stack([X, np.ones(len(X))]) @ w)
    assert np.all(margin > 0)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 500),
    fractions=st.tuples(st.integers(1, 10), st.integers(0, 10), st.integers(0, 10)),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_is_a_partition(n: int, fractions: tuple[int, int, int], seed: int) -> None:
    total = sum(fractions)
    f = tuple(x / total for x in fractions)
    try:
        parts = split_indices(n, f, seed)  # type: ignore[arg-type]
    except ValueError:
        assert n - round(f[1] * n) - round(f[2] * n) < 1
        return
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(n))
    assert len(parts[1]) == round(f[1] * n) and len(parts[2]) == round(f[2] * n)
    assert np.array_equal(parts[0], split_indices(n, f, seed)[0])  # type: ignore[arg-type]


def test_standardisation_is_fitted_on_training_part_only() -> None:
    spec = {"name": "blobs", "n": 300, "split": [0.5, 0.25, 0.25], "standardize": True}
    data = DataSpec.from_table(spec).build()
    raw = DataSpec.from_table({**spec, "standardize": False}).build()
    Xt = data.X["train"]
    assert np.allclose(Xt.mean(axis=0), 0.0) and np.allclose(Xt.std(axis=0), 1.0)
    assert np.allclose(data.mean, raw.X["train"].mean(axis=0))
    assert np.allclose(data.X["test"], (raw.X["test"] - data.mean) / data.std)
    assert not np.allclose(data.X["test"].mean(axis=0), 0.0, atol=1e-3)


@pytest.mark.parametrize(
    ("table", "where", "text"),
    [
        ({"name": "moon"}, "data.name", "did you mean 'moons'"),
        ({"name": "moons", "noise": -1}, "data.noise", "expected a number in [0, inf)"),
        ({"name": "moons", "nosie": 0.1}, "data.nosie", "did you mean 'noise'"),
        ({"name": "moons", "n": 2.5}, "data.n", "expected an integer >= 2"),
        ({"name": "moons", "split": [0.5, 0.5]}, "data.split", "three fractions"),
        ({"name": "moons", "split": [0.5, 0.3, 0.3]}, "data.split", "summing to 1"),
        ({"name": "moons", "seed": -1}, "data.seed", "integer >= 0"),
        ({"name": "moons", "standardize": 1}, "data.standardize", "true or false"),
        ({"name": "csv"}, "data.path", "missing required key"),
        ({"name": "regression1d", "low": 2.0, "high": 1.0}, "data.high", "> low"),
    ],
)
def test_data_table_errors_name_the_key(table: dict, where: str, text: str) -> None:
    with pytest.raises(ParamError) as info:
        DataSpec.from_table(table)
    assert info.value.field == where
    assert text in info.value.message


def test_scenario_errors_give_the_full_key_path(tmp_path) -> None:
    raw = {
        "objective": {"name": "mlp", "data": {"name": "moons", "noise": "high"}},
        "runs": [{"name": "a"}],
    }
    with pytest.raises(ScenarioError) as info:
        api.load(raw)
    assert info.value.path == "objective.data.noise"
    raw["objective"]["data"] = {"name": "moons"}
    raw["runs"] = [{"name": "a", "objective": {"data": {"name": "moons", "n": 0}}}]
    with pytest.raises(ScenarioError) as info:
        api.load(raw)
    assert info.value.path == "runs[0].objective.data.n"


# --- files -----------------------------------------------------------------------------------


def test_csv_with_header_and_target_by_name(tmp_path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x1,label,x2\n1,0,2\n3,1,4\n\n5,1,6\n")
    X, y, names = load_csv(path, target="label")
    assert names == ["x1", "label", "x2"]
    assert np.array_equal(X, [[1, 2], [3, 4], [5, 6]]) and np.array_equal(y, [0, 1, 1])
    X, y, names = load_csv(path)  # default: last column
    assert names is not None and np.array_equal(y, [2, 4, 6])


def test_csv_without_header(tmp_path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("1,2,0\n3,4,1\n")
    X, y, names = load_csv(path, target=0)
    assert names is None and np.array_equal(y, [1, 3]) and np.array_equal(X, [[2, 0], [4, 1]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,y\n1,2,0\n3,4\n", "row 3: expected 3 columns, got 2"),
        ("a,b,y\n1,2,0\n3,x,1\n", "row 3, column 'b': expected a number, got 'x'"),
        ("1,2,0\n3,,1\n", "row 2, column 2: expected a number, got an empty cell"),
        ("a,b,y\n1,nan,0\n", "row 2, column 'b': expected a finite number, got nan"),
        ("a,b,y\n", "has a header (row 1) but no data"),
        ("", "the data file is empty"),
        ("1\n2\n", "expected at least 2 columns"),
    ],
)
def test_bad_csv_names_file_and_row(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        load_csv(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_csv_target_errors(tmp_path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,y\n1,0\n")
    with pytest.raises(DataError, match="no column named 'z'"):
        load_csv(path, target="z")
    with pytest.raises(DataError, match="target column 5 does not exist"):
        load_csv(path, target=5)
    with pytest.raises(DataError, match="no such data file"):
        load_csv(tmp_path / "missing.csv")


def test_npz_loading_and_errors(tmp_path) -> None:
    good = tmp_path / "good.npz"
    np.savez(good, X=np.arange(6.0).reshape(3, 2), y=np.array([0, 1, 0]))
    X, y = load_npz(good)
    assert X.shape == (3, 2) and y.dtype == np.float64
    bad = tmp_path / "nan.npz"
    np.savez(bad, X=np.array([[1.0, 2.0], [np.nan, 1.0]]), y=np.array([0, 1]))
    with pytest.raises(DataError, match=r"nan.npz: array 'X', row 1: NaN"):
        load_npz(bad)
    keys = tmp_path / "keys.npz"
    np.savez(keys, features=np.zeros((2, 2)), y=np.zeros(2))
    with pytest.raises(DataError, match="no array named 'X' \\(arrays: features, y\\)"):
        load_npz(keys)
    rows = tmp_path / "rows.npz"
    np.savez(rows, X=np.zeros((3, 2)), y=np.zeros(2))
    with pytest.raises(DataError, match="'X' has 3 rows but 'y' has 2 values"):
        load_npz(rows)
    text = tmp_path / "text.npz"
    text.write_text("not a zip")
    with pytest.raises(DataError, match=r"not a readable \.npz archive"):
        load_npz(text)


def test_bad_data_file_exits_2_without_traceback(tmp_path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("a,b,y\n1,2,0\n1,oops,1\n")
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        f'[objective]\nname = "mlp"\ndata = {{ name = "csv", path = "{data}" }}\n'
        '[[runs]]\nname = "a"\n'
    )
    result = CliRunner().invoke(main, ["run", str(scenario)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "objective.data.path" in result.output
    assert f"{data}: row 3, column 'b': expected a number, got 'oops'" in result.output


def test_csv_data_set_trains(tmp_path) -> None:
    X, y = DataSpec.from_table({"name": "moons", "n": 60, "seed": 2}).build().split("train")
    path = tmp_path / "moons.csv"
    lines = ["x1,x2,label"] + [
        f"{float(a)!r},{float(b)!r},{int(c)}" for (a, b), c in zip(X, y, strict=True)
    ]
    path.write_text("\n".join(lines))
    raw = {
        "objective": {
            "name": "mlp",
            "data": {"name": "csv", "path": str(path), "split": [0.5, 0.5, 0]},
        },
        "runs": [{"name": "a", "steps": 3}],
    }
    result = api.run(raw).runs[0]
    assert result.status == "completed"
    assert set(result.spec.objective.metrics(result.final_params, "validation")) == {
        "loss",
        "accuracy",
    }
