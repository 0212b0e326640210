"""Regenerate the documentation's figures from the bundled scenarios.

Every scenario in ``scenarios/`` is run through the Python API and its figures are written to
``docs/img/<scenario>/<figure>.png``; ``docs/gallery.md`` is rewritten to show them all. The
lecture tour (``docs/lecture.md``) links to the same files, so a figure the docs show is always
one this script drew. CI runs it, so a figure can never silently stop building.

    python docs/build_figures.py                 # every scenario
    python docs/build_figures.py escape_local_min symmetry
    python docs/build_figures.py --out /tmp/img  # somewhere else (the gallery is not rewritten)
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

import gdsim

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
IMAGES = ROOT / "docs" / "img"
GALLERY = ROOT / "docs" / "gallery.md"


def build(name: str, out: Path) -> list[Path]:
    """Run scenario ``name`` and write its figures into ``out/name``; return the files."""
    results = gdsim.run(SCENARIOS / f"{name}.toml")
    folder = out / name
    for old in folder.glob("*.png"):
        old.unlink()
    figures = results.plot(out=folder)
    plt.close("all")
    paths = sorted(folder.glob("*.png"))
    if not figures or not paths:
        raise RuntimeError(f"scenario {name} drew no figure")
    return paths


def gallery(built: dict[str, list[Path]]) -> str:
    """The gallery page: every scenario's description and figures."""
    lines = [
        "# Gallery",
        "",
        "Every bundled scenario's figures, drawn by `python docs/build_figures.py` from the",
        "scenario files (regenerate them with that command). Run one yourself with",
        "`gdsim run scenarios/NAME.toml --plot`.",
        "",
    ]
    for name, paths in built.items():
        scenario = gdsim.load(SCENARIOS / f"{name}.toml")
        lines += [f"## {name}", "", scenario.description or "", ""]
        lines += [f"`gdsim run scenarios/{name}.toml --plot`", ""]
        for path in paths:
            lines += [f"![{name}: {path.stem}](img/{name}/{path.name})", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--out", type=Path, default=IMAGES, help="where the figures go")
    parser.add_argument("--strict", action="store_true", help="a warning while drawing fails")
    args = parser.parse_args(argv)
    names = args.names or sorted(p.stem for p in SCENARIOS.glob("*.toml"))
    built: dict[str, list[Path]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error" if args.strict else "default")
        for name in names:
            built[name] = build(name, args.out)
            print(f"{name}: {', '.join(p.name for p in built[name])}")
    if args.out.resolve() == IMAGES.resolve() and not args.names:
        GALLERY.write_text(gallery(built), encoding="utf-8")
        print(f"wrote {GALLERY.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
