"""The progress bar, --quiet and --verbose."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner

import gdsim
from gdsim.cli import main
from gdsim.progress import ProgressBar, calls_every, is_terminal

SCENARIO = str(Path(__file__).parent.parent / "scenarios" / "escape_local_min.toml")


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_draws_steps_loss_and_rate() -> None:
    stream = FakeTerminal()
    results = gdsim.run(
        SCENARIO,
        only=["gd_from_5"],
        extra_observers=lambda spec: [ProgressBar(stream=stream, delay=0.0, min_interval=0.0)],
    )
    text = stream.getvalue()
    assert "\rgd_from_5 [" in text
    assert "step 100/100" in text and "steps/s" in text and "loss 0.8812" in text
    assert text.endswith("\n")
    # an added observer is not part of the run's scenario
    assert "progress" in results["gd_from_5"].outputs
    assert results["gd_from_5"].spec.observers[-1].name == "recorder"


def test_short_runs_draw_nothing() -> None:
    stream = FakeTerminal()
    gdsim.run(SCENARIO, extra_observers=lambda spec: [ProgressBar(stream=stream)])
    assert stream.getvalue() == ""  # all runs end before the bar's first half second


def test_calls_are_rare() -> None:
    assert calls_every(100) == 1
    assert calls_every(50_000) == 50
    assert calls_every(10**8) == 100
    assert is_terminal(FakeTerminal()) and not is_terminal(io.StringIO())


def test_quiet_prints_nothing_and_verbose_reports_runs() -> None:
    runner = CliRunner()
    quiet = runner.invoke(main, ["run", SCENARIO, "--quiet"])
    assert quiet.exit_code == 0 and quiet.output == ""
    verbose = runner.invoke(main, ["run", SCENARIO, "--verbose"])
    assert verbose.exit_code == 0
    assert "gdsim: run 'gd_from_5': completed after 100 steps" in verbose.output
    both = runner.invoke(main, ["run", SCENARIO, "-q", "-v"])
    assert both.exit_code == 2 and "exclude each other" in both.output


def test_no_bar_when_stderr_is_not_a_terminal() -> None:
    result = CliRunner().invoke(main, ["run", SCENARIO])
    assert "steps/s" not in result.output


def test_bar_fits_a_narrow_terminal() -> None:
    stream = FakeTerminal()
    name = "a_run_name_much_longer_than_the_terminal_is_wide"
    scenario = {
        "objective": {"name": "quartic"},
        "runs": [{"name": name, "init": {"x": 5.0}, "steps": 50}],
    }
    gdsim.run(
        scenario,
        extra_observers=lambda spec: [
            ProgressBar(stream=stream, delay=0.0, min_interval=0.0, width=50)
        ],
    )
    drawn = [d.removesuffix("\x1b[K") for d in stream.getvalue().strip().split("\r") if d]
    assert drawn and all(len(d) < 50 for d in drawn)
    assert all(d.startswith(name[:7] + "…") for d in drawn)
    assert "step 50/50" in drawn[-1]
