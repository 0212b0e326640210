"""Suggestions for misspelt names."""

from __future__ import annotations

import pytest

from gdsim.errors import did_you_mean

RULES = ["adagrad", "adam", "adamax", "adamw", "gd", "momentum", "nesterov", "rmsprop", "sgd"]


@pytest.mark.parametrize(
    ("typo", "choices", "expected"),
    [
        ("adma", RULES, "adam"),  # a swap beats the longer 'adamax'
        ("momentun", RULES, "momentum"),
        ("Relu", ["relu", "elu", "tanh"], "relu"),  # case is ignored
        ("nu", ["mu", "eps"], "mu"),
        ("defualts", ["scenario", "objective", "defaults", "runs"], "defaults"),
        ("rmsprp", RULES, "rmsprop"),
        ("xyzzy", RULES, None),
        ("anything", [], None),
        # a name that begins longer names suggests them all, shaped for "'{hint}'" quoting
        ("he", ["he_normal", "he_uniform", "xavier_uniform"], "he_normal"),
        (
            "xavier",
            ["xavier_normal", "xavier_uniform", "zeros"],
            "xavier_normal",
        ),
        ("h", ["he_normal"], None),  # one letter is too little to go on
    ],
)
def test_did_you_mean(typo, choices, expected):
    assert did_you_mean(typo, choices) == expected
