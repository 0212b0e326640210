"""Animations: the runs' paths moving over the objective, one file per path figure.

The frames are the ``landscape`` or ``contours`` small multiples with each path drawn up to a
step, at most ``MAX_FRAMES`` frames spread evenly over the longest trace (so a 16 000-step run
is still a small file). GIFs are written with Pillow (which ships with matplotlib); MP4 needs
``ffmpeg`` on the PATH. ``format="auto"`` picks MP4 where ffmpeg is present, GIF otherwise.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from gdsim.errors import GdsimError
from gdsim.fileio import atomic_open, inside, safe_name
from gdsim.plotting.common import PlotContext, coordinates, require_matplotlib
from gdsim.plotting.contours import contour_background
from gdsim.plotting.landscape import landscape_paths
from gdsim.plotting.paths import PathFigure, path_figure

MAX_FRAMES = 60
FRAME_SECONDS = 0.12
ANIMATION_FORMATS = ("auto", "gif", "mp4")


def resolve_format(format: str) -> str:
    """``gif`` or ``mp4``; GdsimError for an unknown format or MP4 without ffmpeg."""
    if format not in ANIMATION_FORMATS:
        raise GdsimError(
            f"unknown animation format '{format}' (expected one of: {', '.join(ANIMATION_FORMATS)})"
        )
    has_ffmpeg = shutil.which("ffmpeg") is not None
    if format == "auto":
        return "mp4" if has_ffmpeg else "gif"
    if format == "mp4" and not has_ffmpeg:
        raise GdsimError("MP4 animations need ffmpeg on the PATH (or use --animate-format gif)")
    return format


def animated_figure(ctx: PlotContext) -> tuple[str, PathFigure] | None:
    """The path figure to animate, with its name (None when the runs have no path to show)."""
    objective = ctx.objective
    coords = coordinates(objective) if objective is not None else None
    if objective is None or coords is None:
        return None
    if len(coords) == 1:
        drawn = landscape_paths(ctx, objective, coords, animated=True)
        return None if drawn is None else ("landscape", drawn)
    drawn = path_figure(
        ctx,
        objective,
        coords,
        contour_background(objective, coords),
        lambda p: p,
        f"{objective.name} objective",
        animated=True,
    )
    return None if drawn is None else ("contours", drawn)


def frame_rows(length: int, frames: int) -> np.ndarray:
    """The trace rows shown at the end of each frame: at most ``frames``, ending at the last."""
    frames = max(2, min(frames, length))
    return np.unique(np.linspace(0, length - 1, frames).round().astype(int))


def animate(
    ctx: PlotContext, out: Path, format: str = "auto", max_frames: int | None = None
) -> list[Path]:
    """Write the animation of the runs' paths into ``out``; return the files (none: no path)."""
    require_matplotlib()
    from gdsim.plotting import quiet_matplotlib

    kind = resolve_format(format)
    with quiet_matplotlib():
        found = animated_figure(ctx)
        if found is None:
            return []
        name, drawn = found
        path = inside(out, f"{safe_name(name)}.{kind}")  # never outside ``out``
        frames = _frames(drawn, max_frames or MAX_FRAMES)
        if kind == "gif":
            _write_gif(frames, path)
        else:
            _write_mp4(frames, path)
    return [path]


def _frames(drawn: PathFigure, max_frames: int) -> list[np.ndarray]:
    """Render each frame to an RGB array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = drawn.figure
    canvas = FigureCanvasAgg(figure)
    longest = max(len(t.points) for t in drawn.tracks)
    steps = next(
        (np.asarray(t.run.trace["step"]) for t in drawn.tracks if len(t.points) == longest), None
    )
    label = figure.text(0.99, 0.005, "", ha="right", va="bottom", fontsize=9, color="0.3")
    images = []
    for row in frame_rows(longest, max_frames):
        for track in drawn.tracks:
            shown = track.points[: row + 1]
            track.line.set_data(shown[:, 0], shown[:, 1])
            track.head.set_data(shown[-1:, 0], shown[-1:, 1])
        if steps is not None and row < len(steps):
            label.set_text(f"step {int(steps[row])}")
        canvas.draw()
        images.append(np.asarray(canvas.buffer_rgba())[..., :3].copy())
    return images


def _write_gif(frames: list[np.ndarray], path: Path) -> None:
    from PIL import Image

    images = [Image.fromarray(f).convert("P", palette=Image.Palette.ADAPTIVE) for f in frames]
    durations = [int(FRAME_SECONDS * 1000)] * (len(images) - 1) + [1500]
    with atomic_open(path, "wb") as handle:
        images[0].save(
            handle,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=durations,
            loop=0,
        )


def _write_mp4(frames: list[np.ndarray], path: Path) -> None:
    import subprocess

    height, width = frames[0].shape[:2]
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / path.name
        command = [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            str(round(1 / FRAME_SECONDS)),
            "-i",
            "-",
            "-vf",
            "pad=ceil(iw/2)*2:ceil(ih/2)*2",
            "-pix_fmt",
            "yuv420p",
            str(target),
        ]
        data = b"".join(np.ascontiguousarray(f).tobytes() for f in frames)
        done = subprocess.run(command, input=data, capture_output=True, check=False)
        if done.returncode != 0:
            raise GdsimError(f"ffmpeg failed: {done.stderr.decode(errors='replace').strip()}")
        with atomic_open(path, "wb") as handle:
            handle.write(target.read_bytes())
