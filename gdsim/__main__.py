"""Allow ``python -m gdsim``."""

from gdsim.cli import main

main()
