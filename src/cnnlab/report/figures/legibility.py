"""Is a figure legible at the size it prints? The problems of a matplotlib Figure drawn at print size.

`legibility_problems(fig, print_width)` draws the figure once and returns one line per problem:
  - two texts whose boxes overlap (every text really drawn: titles, axis and tick labels, legend
    entries, annotations, the numbers in a confusion matrix's cells), or a text over a picture of
    another axes (a cell's number on its own heat map is what it is for);
  - a text smaller than MIN_FONT_PT at print size;
  - a text cut with an ellipsis (a title or label that does not fit is wrapped or keyed, never cut);
  - a text (partly) outside the figure, which the saved file would cut off;
  - a plot (axes with ticks) smaller than MIN_PLOT_IN on a side, or a picture smaller than
    MIN_PICTURE_IN on a side.
The figure prints at `print_width` inches: sizes are scaled by print_width / its drawn width, so a
figure drawn at its print width (report.figures.layout.save) is checked at scale 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MIN_FONT_PT = 6.0  # the smallest text at print size
MIN_PLOT_IN = 0.6  # the smallest side of a plot's axes box (inches, at print size)
MIN_PICTURE_IN = 0.15  # the smallest side of a picture tile (a 5x5 filter, a face)
TOLERANCE_PT = 0.25  # boxes that touch by less than this (points at print size) do not overlap


@contextmanager
def _recording_texts() -> Iterator[list]:
    """Collect every Text that draws itself (visible, non-empty) while the block runs."""
    from matplotlib.text import Text

    drawn: list = []
    real_draw = Text.draw

    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return real_draw(self, renderer)

    Text.draw = record
    try:
        yield drawn
    finally:
        Text.draw = real_draw


def drawn_texts(fig) -> list:
    """The Text artists the figure really draws (hidden axes and ticks outside the view left out), each once."""
    with _recording_texts() as drawn:
        fig.canvas.draw()
    return list(dict.fromkeys(drawn))


def _label(text: Any) -> str:
    s = " ".join(text.get_text().split())
    return repr(s if len(s) <= 40 else s[:39] + "…")


def _owner(text: Any, fig: Any) -> Any:
    """The axes whose data a text annotates (ax.texts), else None."""
    for ax in fig.axes:
        if text in ax.texts:
            return ax
    return None


def legibility_problems(
    fig: Any,
    print_width: float | None = None,
    *,
    min_font: float = MIN_FONT_PT,
    min_plot: float = MIN_PLOT_IN,
    min_picture: float = MIN_PICTURE_IN,
) -> list[str]:
    """One line per legibility problem of `fig` printed `print_width` inches wide (default: as drawn)."""
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    dpi = fig.dpi
    scale = (print_width / fig.get_figwidth()) if print_width else 1.0
    px_to_pt = 72.0 / dpi * scale  # drawn pixels -> printed points
    tol = TOLERANCE_PT / px_to_pt  # in pixels
    problems: list[str] = []

    # fonts
    small = sorted(
        {(round(t.get_fontsize() * scale, 2), _label(t)) for t in texts if t.get_fontsize() * scale < min_font - 1e-6}
    )
    problems += [f"text {label} prints at {size:g} pt (< {min_font:g} pt)" for size, label in small]

    # titles and labels are never cut (names.ELLIPSIS): a figure that needs long names gets a key or wraps them
    problems += [f"text {_label(t)} is cut with an ellipsis" for t in texts if "\u2026" in t.get_text()]

    # boxes: texts against texts, texts against pictures of other axes, texts against the figure's edges
    boxes = [(t, t.get_window_extent(renderer)) for t in texts]
    width_px, height_px = fig.bbox.width, fig.bbox.height
    for t, b in boxes:
        if b.x0 < -tol or b.x1 > width_px + tol or b.y0 < -tol or b.y1 > height_px + tol:
            problems.append(f"text {_label(t)} is cut off by the figure's edge")
    for i, (t, b) in enumerate(boxes):
        for u, c in boxes[i + 1 :]:
            if min(b.x1, c.x1) - max(b.x0, c.x0) > tol and min(b.y1, c.y1) - max(b.y0, c.y0) > tol:
                problems.append(f"texts {_label(t)} and {_label(u)} overlap")
    pictures = [(ax, im.get_window_extent(renderer)) for ax in fig.axes if ax.get_visible() for im in ax.get_images()]
    for t, b in boxes:
        owner = _owner(t, fig)
        for ax, c in pictures:
            if ax is owner:
                continue
            c = c.intersection(c, ax.bbox) or c  # a picture is clipped to its axes
            if min(b.x1, c.x1) - max(b.x0, c.x0) > tol and min(b.y1, c.y1) - max(b.y0, c.y0) > tol:
                problems.append(f"text {_label(t)} runs into a picture")
                break

    # axes areas
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        w, h = (ax.bbox.width / dpi * scale, ax.bbox.height / dpi * scale)
        plot = ax.axison and bool(ax.get_xticks().size or ax.get_yticks().size) and not _is_picture(ax)
        if plot and min(w, h) < min_plot:
            problems.append(
                f"plot {_label(ax.title) if ax.get_title() else '(untitled)'} is {w:.2f} x {h:.2f} in (< {min_plot:g} in)"
            )
        elif ax.get_images() and min(w, h) < min_picture:
            problems.append(f"picture is {w:.2f} x {h:.2f} in (< {min_picture:g} in)")
    return problems


def _is_picture(ax: Any) -> bool:
    """An axes that shows only a picture, without tick labels (a tile)."""
    if not ax.get_images():
        return False
    return not any(t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels())
