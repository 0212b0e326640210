"""Regenerate the documentation's figures from the bundled scenarios.

Every scenario in ``scenarios/`` is run through the Python API and its figures are written to
``docs/img/<scenario>/<figure>.png``; ``docs/gallery.md`` is rewritten to show them all. The
lecture tour (``docs/lecture.md``) and every other page link to the same files, and this script
checks that each image link in ``docs/*.md`` and ``README.md`` points to a figure it drew, so a
page can never show a missing figure. CI runs it with ``--strict`` (any warning while drawing
is an error).

    python docs/build_figures.py                 # every scenario, the gallery, the link check
    python docs/build_figures.py escape_local_min symmetry
    python docs/build_figures.py --out /tmp/img  # somewhere else (the gallery is not rewritten)
    python docs/build_figures.py --strict        # warnings are errors (CI)
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import warnings
from pathlib import Path

import gdsim
from gdsim.fileio import write_text
from gdsim.plotting import FIGURES

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
DOCS = ROOT / "docs"
IMAGES = DOCS / "img"
GALLERY = DOCS / "gallery.md"
PAGES = (*sorted(DOCS.glob("*.md")), ROOT / "README.md")
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")
CAPTIONS = {m.NAME: (m.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ") for m in FIGURES}


def build(name: str, out: Path) -> list[Path]:
    """Run scenario ``name`` and write its figures into ``out/name``; return the files."""
    results = gdsim.run(SCENARIOS / f"{name}.toml")
    folder = out / name
    for old in folder.glob("*.png"):
        old.unlink()
    figures = results.plot(out=folder)
    paths = sorted(folder / f"{figure}.png" for figure in figures)
    if not paths:
        raise RuntimeError(f"scenario {name} drew no figure")
    return paths


def gallery(built: dict[str, list[Path]]) -> str:
    """The gallery page: every scenario's description and figures, each with its caption."""
    lines = [
        "# Gallery",
        "",
        "Every bundled scenario's figures, drawn by `python docs/build_figures.py` from the",
        "scenario files (that command regenerates this page). Run one yourself with",
        "`gdsim run scenarios/NAME.toml --plot`; the figures are described in",
        "the section Plots of [observers.md](observers.md).",
        "",
    ]
    for name, paths in built.items():
        scenario = gdsim.load(SCENARIOS / f"{name}.toml")
        lines += [f"## {name}", "", scenario.description or "", ""]
        lines += [f"`gdsim run scenarios/{name}.toml --plot`", ""]
        for path in paths:
            lines += [f"![{name}: {path.stem}](img/{name}/{path.name})", ""]
            caption = CAPTIONS.get(path.stem)
            if caption:
                lines += [f"*{caption}*", ""]
    return "\n".join(lines).rstrip() + "\n"


def broken_links(produced: set[str], pages: tuple[Path, ...] = PAGES) -> list[str]:
    """Image links into ``docs/img/`` that point to no figure drawn (``produced``: paths
    relative to the image folder, such as ``escape_local_min/landscape.png``)."""
    problems = []
    images = IMAGES.resolve()
    for page in pages:
        if not page.exists() or page.resolve() == GALLERY.resolve():
            continue
        for target in IMAGE_LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            path = (page.parent / target).resolve()
            if images in path.parents and path.relative_to(images).as_posix() not in produced:
                problems.append(f"{page.relative_to(ROOT)}: {target} is not a figure this draws")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="scenario names (default: all)")
    parser.add_argument("--out", type=Path, default=IMAGES, help="where the figures go")
    parser.add_argument("--strict", action="store_true", help="a warning while drawing fails")
    args = parser.parse_args(argv)
    names = args.names or sorted(p.stem for p in SCENARIOS.glob("*.toml"))
    unknown = [n for n in names if not (SCENARIOS / f"{n}.toml").exists()]
    if unknown:
        parser.error(f"no scenario named {', '.join(unknown)} in {SCENARIOS}")
    logging.getLogger("gdsim").setLevel(logging.ERROR)  # "runs without a recorder" is expected
    built: dict[str, list[Path]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error" if args.strict else "default")
        for name in names:
            built[name] = build(name, args.out)
            print(f"{name}: {', '.join(p.name for p in built[name])}")
    if args.out.resolve() == IMAGES.resolve() and not args.names:
        write_text(GALLERY, gallery(built))
        print(f"wrote {GALLERY.relative_to(ROOT)}")
    if not args.names:  # every scenario drawn: every linked figure must be among them
        produced = {f"{name}/{p.name}" for name, paths in built.items() for p in paths}
        problems = broken_links(produced)
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        if problems:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
