"""docs/lecture.md: every one of the lecture's 21 questions leads to a command and a figure."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT, SCENARIOS

TOUR = ROOT / "docs" / "lecture.md"


def sections() -> dict[int, str]:
    text = TOUR.read_text(encoding="utf-8")
    parts = re.split(r"^## Q(\d+)\. .*$", text, flags=re.MULTILINE)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts), 2)}


def test_the_tour_has_the_21_questions_in_order():
    assert list(sections()) == list(range(1, 22))


@pytest.mark.parametrize("number", range(1, 22))
def test_each_question_has_a_command_and_a_figure(number):
    body = sections()[number]
    commands = re.findall(r"gdsim run scenarios/(\w+)\.toml", body)
    assert commands, f"Q{number} runs no scenario"
    for name in commands:
        assert (SCENARIOS / f"{name}.toml").exists(), name
    figures = re.findall(r"!\[[^\]]*\]\(img/(\w+)/(\w+)\.png\)", body)
    assert figures, f"Q{number} shows no figure"
    for scenario, _figure in figures:  # docs/build_figures.py checks the figure itself exists
        assert (SCENARIOS / f"{scenario}.toml").exists(), scenario
