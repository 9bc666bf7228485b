"""Every chart brainsynth draws, on matplotlib's headless Agg canvas: one palette, one style.

Evaluation figures (detectability curve, power spectrum, intensity histograms), the
augment-eval AUC chart and the demo report's charts (losses, detectability of every model)
all come from :func:`line_chart`: named series of points, each with an optional 95%
interval drawn as an error bar, axes labelled with their units, readable ticks (a log2 axis
ticks at the sizes measured: 4, 8, 16 ...), and the chance level drawn as a dashed line where
one exists. No pyplot: a :class:`~matplotlib.figure.Figure` with its own Agg canvas per call,
so nothing global changes and no display is needed. Montages of images are no charts: they
are tiled arrays (:func:`brainsynth.imageio.save_grid`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from brainsynth.config import write_atomic

PALETTE: tuple[str, ...] = (
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
)  # fmt: skip
"""Okabe & Ito's colour-blind-safe palette (blue, vermilion, green, purple, orange, sky)."""
CHANCE_COLOUR = "#777777"
STYLE = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # text stays text in an SVG (small, searchable)
    "svg.hashsalt": "brainsynth",  # the same chart gives the same SVG bytes
}


@dataclass
class Series:
    """One line: ``x``, ``y`` and optionally a ``[low, high]`` 95% interval per point."""

    label: str
    x: Sequence[float]
    y: Sequence[float | None]
    intervals: Sequence[Sequence[float | None] | None] | None = None
    markers: bool = True


def _finite(value: float | None, positive: bool) -> bool:
    return value is not None and math.isfinite(value) and (not positive or value > 0)


def _points(series: Series, logx: bool, logy: bool):
    """(x, y, low, high) of the drawable points: non-finite ones (and non-positive ones on a
    log axis) are skipped; an interval that is not whole is drawn as none."""
    out = []
    for i, (x, y) in enumerate(zip(series.x, series.y, strict=False)):
        if not (_finite(x, logx) and _finite(y, logy)):
            continue
        ci = series.intervals[i] if series.intervals is not None else None
        whole = ci is not None and len(ci) == 2 and all(_finite(v, logy) for v in ci)
        out.append((float(x), float(y), *(map(float, ci) if whole else (math.nan, math.nan))))
    return out


def _fixed_ticks(ax, xs: Sequence[float]) -> None:
    """Ticks at the values measured (training sizes 4, 8, 16 ... 1102; fractions 0.1, 0.25),
    labelled as written (``{x:g}``), no minor ticks."""
    from matplotlib.ticker import FixedLocator, NullLocator, StrMethodFormatter

    ticks = sorted(set(xs))
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    if len(ticks) > 8:
        ax.tick_params(axis="x", labelrotation=45)


def line_chart(
    series: Sequence[Series],
    xlabel: str,
    ylabel: str,
    path: str | Path | None = None,
    *,
    title: str = "",
    logx: bool = False,
    log2x: bool = False,
    logy: bool = False,
    ylim: tuple[float, float] | None = None,
    chance: float | None = None,
    chance_label: str = "chance",
    size: tuple[float, float] = (5.2, 3.4),
    spread: float = 0.0,
    ticks_at_data: bool = False,
) -> Path | str:
    """Draw ``series`` as lines with markers and interval bars.

    ``log2x`` puts x on a log2 axis ticked at the measured values (training sizes);
    ``logx``/``logy`` are ordinary log10 axes; ``ticks_at_data`` ticks x at the measured
    values (always so on a log2 axis). ``chance`` draws that level as a dashed grey
    line (0.5 for an accuracy). ``spread`` offsets the series sideways by that share of a
    tick (log axes: of a doubling) so that their interval bars do not hide each other.
    Written to ``path`` (PNG or SVG by its suffix) and returned; without ``path`` the SVG
    text is returned, for inlining in an HTML report.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=size, dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        drawn_x: list[float] = []
        log = logx or log2x
        for i, line in enumerate(series):
            points = _points(line, log, logy)
            if not points:
                continue
            colour = PALETTE[i % len(PALETTE)]
            shift = (i - (len(series) - 1) / 2) * spread
            xs = [p[0] * 2**shift if log else p[0] + shift for p in points]
            ys = [p[1] for p in points]
            drawn_x += [p[0] for p in points]
            ax.plot(xs, ys, color=colour, label=line.label, linewidth=1.5,
                    marker="o" if line.markers else None, markersize=3.5)  # fmt: skip
            bars = [(x, p) for x, p in zip(xs, points, strict=True) if math.isfinite(p[2])]
            if bars:
                ax.errorbar(
                    [x for x, _ in bars], [p[1] for _, p in bars],
                    yerr=[[p[1] - p[2] for _, p in bars], [p[3] - p[1] for _, p in bars]],
                    fmt="none", ecolor=colour, elinewidth=1, capsize=2.5,
                )  # fmt: skip
        if not drawn_x:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        if chance is not None:
            ax.axhline(chance, color=CHANCE_COLOUR, linestyle="--", linewidth=1,
                       label=chance_label)  # fmt: skip
        if log2x:
            ax.set_xscale("log", base=2)
        elif logx:
            ax.set_xscale("log")
        if drawn_x and (log2x or ticks_at_data):
            _fixed_ticks(ax, drawn_x)
        if logy:
            ax.set_yscale("log")
        if ylim is not None:
            ax.set_ylim(*ylim)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        if drawn_x or chance is not None:
            ax.legend(frameon=False, loc="best")
        if path is None:
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None})
            return _inline_svg(buffer.getvalue(), title or ylabel)
        path = Path(path)
        metadata = {"Date": None} if path.suffix == ".svg" else {}
        fmt = path.suffix.lstrip(".") or "png"
        write_atomic(path, lambda handle: figure.savefig(handle, format=fmt, metadata=metadata))
        return path


def _inline_svg(text: str, label: str) -> str:
    """matplotlib's SVG document as an element to inline in HTML: no XML prolog or DOCTYPE,
    an accessible name (``role="img"``, ``aria-label``)."""
    from html import escape

    start = text.index("<svg")
    svg = text[start:]
    return svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
