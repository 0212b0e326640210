"""gdsim: a declarative, plugin-based simulation engine for gradient-descent optimizers.

The Python API mirrors the CLI: ``gdsim.run(path_or_mapping)`` loads a scenario, runs it and
returns a :class:`gdsim.results.Results`.
"""

__version__ = "0.1.0"

from gdsim.api import evaluate, load, load_weights, resume, run

__all__ = ["__version__", "evaluate", "load", "load_weights", "resume", "run"]
