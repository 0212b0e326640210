"""gdsim-optimizers: update rules beyond the lecture's, each in a named published form."""

__version__ = "0.1.0"
