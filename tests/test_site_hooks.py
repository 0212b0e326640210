"""The documentation site's hooks: links that leave docs/ point at generated pages."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import ROOT

pytest.importorskip("mkdocs")


def load_hooks():
    spec = importlib.util.spec_from_file_location("site_hooks", ROOT / "docs" / "site_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = load_hooks()
DOCS = ROOT / "docs"


def test_links_out_of_docs_point_at_generated_pages() -> None:
    text = (
        "See [the scenario](../scenarios/escape_local_min.toml), [benchmarks](../benchmarks/), "
        "[a line](../gdsim/hookspecs.py#L3), [rules](rules.md#adagrad), [web](https://x.org/a) "
        "and ![a figure](img/escape_local_min.png)."
    )
    out = hooks._rewrite_links(text, "index.md", DOCS / "index.md")
    assert "[the scenario](repo/scenarios/escape_local_min.toml.md)" in out
    assert "[benchmarks](repo/benchmarks/README.md)" in out
    assert "[a line](repo/gdsim/hookspecs.py.md)" in out  # GitHub's line anchor dropped
    assert "[rules](rules.md#adagrad)" in out  # inside docs/: untouched
    assert "[web](https://x.org/a)" in out
    assert "![a figure](img/escape_local_min.png)" in out


def test_links_from_a_page_deeper_in_docs() -> None:
    text = "[the contract](../../gdsim/hookspecs.py) and [the guide](../plugins.md)"
    out = hooks._rewrite_links(text, "reference/hooks.md", DOCS / "reference" / "hooks.md")
    assert out == "[the contract](../repo/gdsim/hookspecs.py.md) and [the guide](../plugins.md)"


def test_code_blocks_and_missing_files_are_left_alone() -> None:
    text = "```toml\n[x](../scenarios/escape_local_min.toml)\n```\n[gone](../no/such/file.toml)\n"
    assert hooks._rewrite_links(text, "index.md", DOCS / "index.md") == text


def test_a_generated_page_links_back_into_docs() -> None:
    readme = ROOT / "README.md"
    out = hooks._rewrite_links(
        "[docs](docs/index.md) and [rules](docs/rules.md) and [here](scenarios/)",
        "repo/README.md",
        readme,
    )
    assert "[docs](../index.md)" in out and "[rules](../rules.md)" in out
    assert "[here](scenarios/index.md)" in out


def test_repository_files_get_listing_pages() -> None:
    assert hooks._page_for(ROOT / "scenarios" / "escape_local_min.toml") == (
        "repo/scenarios/escape_local_min.toml.md"
    )
    listing = hooks._listing(ROOT / "scenarios" / "escape_local_min.toml")
    assert listing.startswith("# `scenarios/escape_local_min.toml`\n\n```toml\n")
    index = hooks._folder_index(ROOT / "scenarios")
    assert "- [`escape_local_min.toml`](escape_local_min.toml.md)" in index
