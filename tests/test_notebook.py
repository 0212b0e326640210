"""Results in a notebook: short reprs, HTML tables, inline figures, data frames."""

from __future__ import annotations

import base64
import html
import json
import re
import sys

import numpy as np
import pytest

import gdsim
from gdsim.errors import GdsimError
from gdsim.notebook import Figures
from gdsim.report import run_table
from tests.conftest import ROOT, SCENARIOS, quartic_run

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def escape() -> gdsim.results.Results:
    return gdsim.run(SCENARIOS / "escape_local_min.toml")


def _mixed() -> gdsim.results.Results:
    """A run with a vector parameter and a recorder, one with metrics off, one unrecorded."""
    return gdsim.run(
        {
            "objective": {"name": "rosenbrock"},
            "defaults": {"steps": 30, "schedule": {"name": "constant", "lr": 1e-3}},
            "runs": [
                {"name": "a<b>", "init": {"x": [-1.5, 2.0]}, "observers": ["recorder"]},
                {"name": "plain", "init": {"x": [0.5, 0.5]}},
            ],
        }
    )


def test_reprs_are_one_short_line(escape) -> None:
    for value in [escape, *escape, escape.scenario]:
        text = repr(value)
        assert "\n" not in text and len(text) < 160, text
    assert "escape_local_min" in repr(escape) and "runs=6" in repr(escape)
    assert "'momentum_0.9_from_-5'" in repr(escape["momentum_0.9_from_-5"])


def test_results_html_shows_the_run_table_cells(escape) -> None:
    page = escape._repr_html_()
    assert len(page) < 5000
    table = run_table(escape)
    cells = [html.unescape(c) for c in re.findall(r"<t[dh] [^>]*>(.*?)</t[dh]>", page)]
    expected = [*table.header, *(c for row in table.rows for c in row)]
    assert cells == expected
    assert "6 of 6 runs met their expectations" in page


def test_html_escapes_names_and_lists_failures() -> None:
    scenario = quartic_run(name="x<y>", expect={"params": {"x": 0.0}})
    results = gdsim.run(scenario)
    page = results._repr_html_()
    assert "x&lt;y&gt;" in page and "x<y>" not in page
    assert "failed expectations" in page and "FAILED" in page
    run_page = results[0]._repr_html_()
    assert "x&lt;y&gt;" in run_page and "FAILED: expected" in run_page


def test_run_html_shows_status_and_final_values(escape) -> None:
    run = escape["momentum_0.9_from_-5"]
    page = run._repr_html_()
    assert repr(float(run.final_params["x"][()])) in page
    assert "completed" in page and page.count("ok: expected") == len(run.expectations)


def test_plot_returns_figures_that_draw_inline(escape) -> None:
    figures = escape.plot()
    assert isinstance(figures, Figures) and isinstance(figures, dict)
    assert set(figures) == {"landscape", "curves"}
    page = figures._repr_html_()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == len(figures)
    for data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert repr(figures) == "Figures(landscape, curves)"


def test_summary_frame_holds_the_exact_values(escape) -> None:
    frame = escape.to_pandas()
    assert list(frame.index) == [r.name for r in escape]
    for run in escape:
        row = frame.loc[run.name]
        assert row["final.x"] == float(run.final_params["x"])  # bit for bit
        assert row["final_loss"] == run.final_loss
        assert row["status"] == run.status and row["steps"] == run.steps
        assert row["expectations_met"] == sum(o.passed for o in run.expectations)


def test_frames_split_vector_parameters_and_skip_unrecorded_runs() -> None:
    results = _mixed()
    frame = results.to_pandas()
    for run in results:
        assert frame.loc[run.name, "final.x[0]"] == run.final_params["x"][0]
        assert frame.loc[run.name, "final.x[1]"] == run.final_params["x"][1]
    traces = results.traces_to_pandas()
    assert set(traces["run"]) == {"a<b>"}  # "plain" recorded nothing
    trace = results["a<b>"].trace
    np.testing.assert_array_equal(traces["params.x[1]"].to_numpy(), trace["params.x"][:, 1])
    np.testing.assert_array_equal(traces["step"].to_numpy(), trace["step"])
    one = results["a<b>"].to_pandas()
    assert list(one.columns) == list(traces.columns[1:])
    with pytest.raises(GdsimError, match="run 'plain' has no recorded trace"):
        results["plain"].to_pandas()


def test_frames_without_pandas_name_the_install_command(escape, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    for export in (escape.to_pandas, escape.traces_to_pandas, escape[0].to_pandas):
        with pytest.raises(GdsimError, match=r"pip install 'gdsim\[notebook\]'"):
            export()


def test_notebooks_are_committed_without_outputs() -> None:
    notebooks = sorted((ROOT / "docs" / "notebooks").glob("*.ipynb"))
    assert notebooks
    for path in notebooks:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


def test_a_sweep_shows_its_first_and_last_runs() -> None:
    runs = [{"name": f"r{i}", "init": {"x": float(i % 7) - 3.0}, "steps": 2} for i in range(100)]
    results = gdsim.run({"objective": {"name": "quartic"}, "runs": runs})
    page = results._repr_html_()
    names = re.findall(r'<td style="[^"]*">(r\d+)</td>', page)
    assert names == [f"r{i}" for i in [*range(20), *range(90, 100)]]
    assert "… 70 more runs" in page
    assert len(page) < 20_000
