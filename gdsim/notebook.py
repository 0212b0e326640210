"""How results look in a Jupyter notebook: compact HTML tables, and figures shown inline.

Jupyter calls ``_repr_html_`` on the value of a cell's last expression. :class:`Results` and
:class:`RunResult` delegate to :func:`results_html` and :func:`run_html`, which show the same
cells as the terminal's run table (:func:`gdsim.report.run_table`), so a notebook and ``gdsim
run`` agree to the digit. ``results.plot()`` returns :class:`Figures`, a plain dict of
matplotlib figures that a notebook draws as PNG images: gdsim makes its figures without pyplot,
so no backend would display them otherwise.
"""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gdsim.results import Results, RunResult

MAX_ROWS = 40
"""More runs than this (a sweep) show as the first ``HEAD_ROWS`` and the last ``TAIL_ROWS``."""
HEAD_ROWS, TAIL_ROWS = 20, 10

STYLE = "border-collapse: collapse; font-variant-numeric: tabular-nums"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], right: frozenset[int]) -> str:
    def cell(tag: str, text: str, i: int) -> str:
        align = "right" if i in right else "left"
        return (
            f'<{tag} style="text-align: {align}; padding: 0.1em 0.6em">{html.escape(text)}</{tag}>'
        )

    head = "".join(cell("th", h, i) for i, h in enumerate(header))
    thead = f"<thead><tr>{head}</tr></thead>" if header else ""
    body = "".join(
        "<tr>" + "".join(cell("td", c, i) for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f'<table style="{STYLE}">{thead}<tbody>{body}</tbody></table>'


def results_html(results: Results) -> str:
    """The scenario's title, its run table, failed expectations and the outcome line."""
    from gdsim.report import failed_expectations, outcome_line, run_table, title_line
    from gdsim.results import Results, RunList

    total = len(results.runs)
    shown, checked = results, results
    if isinstance(results.runs, RunList) and total > MAX_ROWS:  # runs made for the rows only
        ends = [*results.runs[:HEAD_ROWS], *results.runs[total - TAIL_ROWS :]]
        shown = Results(scenario=results.scenario, runs=ends)
        checked = Results(scenario=results.scenario, runs=results.listed(limit=0, failing=10))
    table = run_table(shown)
    rows = table.rows
    if total > MAX_ROWS:  # a sweep: the first and the last runs, as pandas does
        gap = f"… {total - HEAD_ROWS - TAIL_ROWS} more runs (results.to_pandas() has all) …"
        filler = (gap, *("" for _ in table.header[1:]))
        rows = [*rows[:HEAD_ROWS], filler, *rows[-TAIL_ROWS:]]
    parts = [f"<p><strong>{html.escape(title_line(results))}</strong></p>"]
    parts.append(_table(table.header, rows, table.right))
    failures = failed_expectations(checked)
    if failures:
        items = "".join(f"<li>{html.escape(f)}</li>" for f in failures)
        what = (
            "failed expectations"
            if checked is results
            else (
                "failed expectations (of the runs outside sweeps and the first 10 swept runs "
                "that failed)"
            )
        )
        parts.append(f"<p>{what}:</p><ul>{items}</ul>")
    parts.append(f"<p>{html.escape(outcome_line(results))}</p>")
    return "<div>" + "".join(parts) + "</div>"


def run_html(run: RunResult) -> str:
    """One run as a two-column table: status, steps, final values and each expectation."""
    from gdsim.report import (
        _format_expectations,
        _format_number,
        _format_params,
        _format_status,
        _plain,
    )

    rows = [
        ("status", _format_status(run)),
        ("steps", str(run.steps)),
        ("epochs", str(run.epochs)),
        ("seed", str(run.seed)),
        ("final params", _format_params(run) or "-"),
        ("final loss", _format_number(run.final_loss)),
        ("expectations", _format_expectations(run)),
    ]
    if run.stop_reason:
        rows.append(("stopped because", run.stop_reason))
    for o in run.expectations:
        verdict = "ok" if o.passed else "FAILED"
        rows.append(
            (
                f"expect {o.name}",
                f"{verdict}: expected {_plain(o.expected)}, got {_plain(o.actual)}",
            )
        )
    title = f"<p><strong>run {html.escape(run.name)}</strong></p>"
    return "<div>" + title + _table((), rows, frozenset()) + "</div>"


def figure_png(figure: Any, dpi: float | None = None) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


class Figures(dict):  # type: ignore[type-arg]
    """Matplotlib figures by name (``"landscape"``, ``"curves"``, …), shown inline in Jupyter.

    It is a plain ``dict``: index it, iterate it, call ``savefig`` on a figure. As the last
    expression of a notebook cell it draws every figure, one below the other.
    """

    def _repr_html_(self) -> str:
        parts = []
        for name, figure in self.items():
            data = base64.b64encode(figure_png(figure)).decode("ascii")
            parts.append(
                f'<figure style="margin: 0 0 1em 0"><img style="max-width: 100%" '
                f'src="data:image/png;base64,{data}" '
                f'alt="{html.escape(name)}"/></figure>'
            )
        return "".join(parts)

    def __repr__(self) -> str:
        return f"Figures({', '.join(self)})"
