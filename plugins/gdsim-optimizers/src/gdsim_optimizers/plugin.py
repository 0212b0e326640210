"""The module gdsim loads through the entry point: it only says which components exist."""

from __future__ import annotations

from gdsim.hookspecs import hookimpl

from gdsim_optimizers.adadelta import Adadelta
from gdsim_optimizers.adam_variants import AdaBound, Adamax, AdamW, NAdam, RAdam
from gdsim_optimizers.asgd import ASGD
from gdsim_optimizers.lookahead import Lookahead


@hookimpl
def gdsim_rules() -> list[type]:
    return [AdamW, NAdam, Adamax, RAdam, AdaBound, Adadelta, ASGD, Lookahead]
