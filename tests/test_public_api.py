"""The public contract a plugin may rely on: every listed name imports, the author's guide names
every public module, and deprecated names still work but warn."""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import numpy as np
import pytest

from gdsim.deprecation import GdsimDeprecationWarning
from gdsim.public_api import PUBLIC_API

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


@pytest.mark.parametrize("module", sorted(PUBLIC_API))
def test_every_public_name_imports(module: str) -> None:
    loaded = importlib.import_module(module)
    missing = [name for name in PUBLIC_API[module] if not hasattr(loaded, name)]
    assert not missing, f"{module} lacks public names {missing}"


def test_public_names_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", GdsimDeprecationWarning)
        for module, names in PUBLIC_API.items():
            loaded = importlib.import_module(module)
            for name in names:
                getattr(loaded, name)


def test_the_authors_guide_lists_every_public_module() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [module for module in PUBLIC_API if f"`{module}`" not in text]
    assert not missing, f"docs/plugins.md does not mention {missing}"


def test_every_hook_of_the_contract_is_public() -> None:
    from gdsim import hookspecs

    hooks = [name for name in dir(hookspecs) if name.startswith("gdsim_")]
    assert sorted(hooks) == sorted(
        n for n in PUBLIC_API["gdsim.hookspecs"] if n.startswith("gdsim_")
    )


def test_deprecated_sources_table_warns_and_still_works() -> None:
    import gdsim.data

    with pytest.warns(GdsimDeprecationWarning, match="active_registry"):
        sources = gdsim.data.SOURCES
    assert "moons" in sources and "csv" in sources


def test_deprecated_network_options_warn_and_still_apply() -> None:
    from gdsim.objectives.activations import ELU, LeakyReLU
    from gdsim.objectives.mlp import MLP

    data = {"name": "moons", "n": 20}
    with pytest.warns(GdsimDeprecationWarning, match="negative_slope = 0.3"):
        leaky = MLP(data=data, activation="leaky_relu", negative_slope=0.3)
    assert leaky.activation == LeakyReLU(negative_slope=0.3)
    table = MLP(data=data, activation={"name": "leaky_relu", "negative_slope": 0.3})
    params = table.init(np.random.default_rng(0))
    assert leaky.value_and_grad(params)[0] == table.value_and_grad(params)[0]
    with pytest.warns(GdsimDeprecationWarning, match="alpha = 2.0"):
        elu = MLP(data=data, activation="elu", elu_alpha=2.0)
    assert elu.activation == ELU(alpha=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GdsimDeprecationWarning)
        MLP(data=data, activation="tanh", negative_slope=0.3)  # no leaky_relu: nothing to say


def test_the_testing_modules_all_is_its_public_list() -> None:
    import gdsim.testing

    assert sorted(gdsim.testing.__all__) == sorted(PUBLIC_API["gdsim.testing"])
