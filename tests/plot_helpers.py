"""Test helper: which texts of a drawn matplotlib figure run into each other or into its images."""

from __future__ import annotations

from unittest import mock


def overlapping_texts(fig) -> list[tuple[str, str]]:
    """Pairs (text, text or "<image>") whose drawn bounding boxes intersect: every text the figure really
    draws (titles, labels, tick labels, legend entries; not those of hidden axes) against every other
    and against every image."""
    from matplotlib.text import Text

    drawn: list[Text] = []
    real_draw = Text.draw

    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            drawn.append(self)
        return real_draw(self, renderer)

    with mock.patch.object(Text, "draw", record):
        fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in dict.fromkeys(drawn)]
    images = [im.get_window_extent(renderer) for ax in fig.axes if ax.get_visible() for im in ax.get_images()]
    clashes = []
    for i, (a, box) in enumerate(boxes):
        clashes += [(a, b) for b, other in boxes[i + 1 :] if box.overlaps(other)]
        clashes += [(a, "<image>") for img in images if box.overlaps(img)]
    return clashes
