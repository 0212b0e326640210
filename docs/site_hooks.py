"""MkDocs hooks of gdsim's documentation site (``mkdocs.yml`` names this file under ``hooks``).

1. The scenario-file reference (``reference/scenario-file.md``, a stub in the repository) is
   generated at every build from the component registry (:mod:`gdsim.reference`), so it lists
   whatever gdsim and the installed plugins declare. A parameter declared without ``doc`` is a
   warning, which fails ``mkdocs build --strict``; so does a scenario key that no page of the
   docs mentions.
2. The Markdown files link to files of the repository outside ``docs/`` (``../scenarios/x.toml``,
   ``../benchmarks/``), which works on GitHub. On the site such a link is rewritten to a page
   generated for that file: a scenario or script is shown as a highlighted listing, a Markdown
   file as a page, a folder as its README or a list of its files.
3. reStructuredText leftovers in docstrings rendered by mkdocstrings (``::`` before a literal
   block, roles such as ``:class:``) are removed from the HTML.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import subprocess
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.gdsim")

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PAGE = "reference/scenario-file.md"
REPO_PREFIX = "repo"
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
FENCE = re.compile(r"^(```|~~~)")
LANGUAGES = {".toml": "toml", ".py": "python", ".sh": "bash", ".yml": "yaml", ".yaml": "yaml"}
BINARY = {".png", ".svg", ".jpg", ".jpeg", ".gif", ".ipynb", ".npz", ".parquet"}

# page src_uri -> the real file it shows (only for pages generated from repository files)
_sources: dict[str, Path] = {}


# --- 1. the generated reference ----------------------------------------------------------------


def _reference() -> str:
    from gdsim import reference
    from gdsim.registry import Registry

    registry = Registry.discover()
    registry.check()
    for message in registry.conflicts:
        log.warning(message)
    for plugin in registry.failures:
        log.warning(f"plugin '{plugin.name}' failed to load: {plugin.error}")
    for missing in reference.undocumented(registry):
        log.warning(f"{missing} has no doc: declare it with param(..., doc='...')")
    return reference.scenario_reference(registry)


def _check_keys_documented(docs_dir: Path) -> None:
    """Warn about scenario keys that no hand-written page mentions as `key`."""
    from gdsim import scenario

    text = "\n".join(p.read_text(encoding="utf-8") for p in docs_dir.rglob("*.md"))
    keys = {*scenario.TOP_LEVEL_KEYS, *scenario.SCENARIO_KEYS, *scenario.RUN_KEYS}
    keys |= {*scenario.TOLERANCE_KEYS, *scenario.EXPECT_KEYS}
    for key in sorted(keys):
        if f"`{key}" not in text and f"{key} =" not in text and f"[{key}]" not in text:
            log.warning(f"the scenario key '{key}' is documented on no page of docs/")


# --- 2. links to repository files outside docs/ ------------------------------------------------


def _text_links(markdown: str) -> list[str]:
    """Link targets of a Markdown text, outside fenced code blocks."""
    targets, fenced = [], False
    for line in markdown.splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            targets += [m.group(2) for m in LINK.finditer(line)]
    return targets


def _is_external(target: str) -> bool:
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", target)) or target.startswith(("#", "/"))


def _resolve(target: str, source: Path) -> Path | None:
    """The repository path a relative link of ``source`` points at, when outside docs/."""
    if _is_external(target):
        return None
    path = target.split("#", 1)[0]
    if not path:
        return None
    resolved = (source.parent / path).resolve()
    docs_dir = ROOT / "docs"
    if resolved.is_relative_to(docs_dir) or not resolved.is_relative_to(ROOT):
        return None
    return resolved


def _git_files(folder: Path) -> list[Path]:
    """The files of a folder tracked by git (all of its files when git is unavailable)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--", "."],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        files = [folder / name for name in out if "/" not in name]
    except (OSError, subprocess.CalledProcessError):
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    return sorted(files)


def _page_for(path: Path) -> str:
    """The site path (src_uri) of the page or file generated for a repository path."""
    rel = path.relative_to(ROOT).as_posix()
    if path.is_dir():
        readme = path / "README.md"
        return (
            f"{REPO_PREFIX}/{rel}/README.md" if readme.exists() else f"{REPO_PREFIX}/{rel}/index.md"
        )
    if path.suffix == ".md" or path.suffix.lower() in BINARY:
        return f"{REPO_PREFIX}/{rel}"
    return f"{REPO_PREFIX}/{rel}.md"


def _listing(path: Path) -> str:
    rel = path.relative_to(ROOT).as_posix()
    language = LANGUAGES.get(path.suffix, "text")
    code = path.read_text(encoding="utf-8", errors="replace")
    return f"# `{rel}`\n\n```{language}\n{code}\n```\n"


def _folder_index(path: Path) -> str:
    rel = path.relative_to(ROOT).as_posix()
    lines = [f"# `{rel}/`", ""]
    for file in _git_files(path):
        target = posixpath.relpath(_page_for(file), f"{REPO_PREFIX}/{rel}")
        lines.append(f"- [`{file.name}`]({target})")
    return "\n".join(lines) + "\n"


def _add_repository_pages(files: Files, config: Any) -> None:
    """Generate a page for every repository file a page links to, following links onward."""
    docs_dir = Path(config["docs_dir"])
    pending = [(docs_dir / f.src_uri, f.content_string) for f in files.documentation_pages()]
    pending = [(source, text) for source, text in pending if source.exists()]
    while pending:
        source, text = pending.pop()
        for target in _text_links(text):
            path = _resolve(target, source)
            if path is None or not path.exists():
                continue  # a broken link: MkDocs reports it
            uri = _page_for(path)
            if uri in _sources or files.get_file_from_path(uri) is not None:
                continue
            if path.is_dir():
                readme = path / "README.md"
                if readme.exists():
                    content = readme.read_text(encoding="utf-8")
                    _sources[uri] = readme
                    pending.append((readme, content))
                else:
                    content = _folder_index(path)
                    _sources[uri] = path / "index.md"
                    for file in _git_files(path):
                        pending.append((path / "index.md", f"[x]({file.name})"))
                files.append(File.generated(config, uri, content=content))
            elif path.suffix.lower() in BINARY:
                _sources[uri] = path
                files.append(File.generated(config, uri, abs_src_path=str(path)))
            elif path.suffix == ".md":
                content = path.read_text(encoding="utf-8")
                _sources[uri] = path
                pending.append((path, content))
                files.append(File.generated(config, uri, content=content))
            else:
                _sources[uri] = path
                files.append(File.generated(config, uri, content=_listing(path)))


def _rewrite_links(markdown: str, page_uri: str, source: Path) -> str:
    """Point links that leave docs/ at the pages generated for them."""
    docs_dir = ROOT / "docs"

    def replace(match: re.Match[str]) -> str:
        target = match.group(2)
        path = _resolve(target, source)
        if path is None and _is_external(target):
            return match.group(0)
        anchor = "#" + target.split("#", 1)[1] if "#" in target else ""
        if path is not None:
            if not path.exists():
                return match.group(0)
            uri = _page_for(path)
            if path.suffix != ".md":
                anchor = ""  # GitHub's line anchors (#L3) mean nothing on a generated listing
        else:  # inside docs/, but seen from a generated page elsewhere in the site
            if source.resolve().is_relative_to(docs_dir):
                return match.group(0)
            resolved = (source.parent / target.split("#", 1)[0]).resolve()
            uri = resolved.relative_to(docs_dir).as_posix()
        new = posixpath.relpath(uri, posixpath.dirname(page_uri) or ".")
        return f"{match.group(1)}{new}{anchor}{match.group(3)}"

    out, fenced = [], False
    for line in markdown.splitlines(keepends=True):
        if FENCE.match(line.lstrip()):
            fenced = not fenced
        out.append(line if fenced else LINK.sub(replace, line))
    return "".join(out)


# --- MkDocs events -----------------------------------------------------------------------------


def on_files(files: Files, config: Any, **_: Any) -> Files:
    _sources.clear()
    stub = files.get_file_from_path(REFERENCE_PAGE)  # what GitHub shows; the site generates it
    if stub is not None:
        files.remove(stub)
    files.append(File.generated(config, REFERENCE_PAGE, content=_reference()))
    _check_keys_documented(Path(config["docs_dir"]))
    _add_repository_pages(files, config)
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, **_: Any) -> str:
    uri = page.file.src_uri
    source = _sources.get(uri) or Path(config["docs_dir"]) / uri
    return _rewrite_links(markdown, uri, source)


ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):(<code>)")


def on_page_content(html: str, **_: Any) -> str:
    html = ROLE.sub(r"\1", html)
    return html.replace("::</p>", ":</p>")


os.environ.setdefault("MPLBACKEND", "Agg")  # importing plugins must never open a window
