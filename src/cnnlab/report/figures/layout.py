"""Where every report figure prints, and how it is drawn and saved at that size.

One place states each figure's printed width: `PRINT[<file stem>]`, a fraction of the text width
(TEXT_WIDTH, the 5.5in text block of cnnlab.sty and of the official NeurIPS style). The LaTeX uses
`PRINT[key].tex` as the width of the box the figure fills (an \\includegraphics width, or the
minipage/subfigure holding `\\includegraphics[width=\\linewidth]`, at the top level of the figure), and
the figure function draws at `PRINT[key].inches` and saves with `save(fig, path, PRINT[key])`. So a
figure prints at scale 1 and its font sizes in points are the printed ones. `save` keeps the full
print width (only the height is trimmed) and checks the figure (`report.figures.legibility`): a
problem is a warning in the report's log, and the tests turn it into a failure.

A new report figure: add its file stem to PRINT, draw it with figsize=(PRINT[key].inches, height),
save it with `save(fig, path, PRINT[key])`, and use PRINT[key].tex in the section's LaTeX.
matplotlib is imported lazily: importing this module costs nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cnnlab.core import plotting

log = logging.getLogger(__name__)

TEXT_WIDTH = 5.5  # inches: \textwidth of the report (cnnlab.sty's 5.5in x 9in block, NeurIPS' too)
PAD = 0.02  # inches of white kept above and below a figure's drawn content


@dataclass(frozen=True)
class PrintWidth:
    """A figure's printed width as a fraction of the text width."""

    fraction: float

    @property
    def inches(self) -> float:
        return self.fraction * TEXT_WIDTH

    @property
    def tex(self) -> str:
        r"""The width in LaTeX, at the top level of a figure (where \linewidth is the text width)."""
        return r"\linewidth" if self.fraction == 1 else f"{self.fraction:g}\\linewidth"


# Every figure of the report, by file stem (figures/<stem>.pdf or .png), and the width it prints at.
PRINT: dict[str, PrintWidth] = {
    "art_overview": PrintWidth(1.0),  # front: one image per class, the course's transformations
    "baseline_curves": PrintWidth(0.44),  # 1.2: beside the layer table
    "filters_starter": PrintWidth(0.53),  # 1.2: under the layer table
    "deltas": PrintWidth(1.0),  # 1.4/1.5
    "search": PrintWidth(0.47),  # 1.6: beside the best configuration's table
    "confusion_best": PrintWidth(1.0),  # 1.6: a confusion matrix gets the full text width (the top losses beside)
    "robust_curves": PrintWidth(0.46),  # 1.7: beside the robustness table
    "part2_curves": PrintWidth(0.62),  # 2.1-2.4 learning curves (MLP, CNN, fine-tuned), beside the layer sweep
    "mlp_units": PrintWidth(0.51),  # 2.3, beside the face confusion when that needs no key
    "confusion_faces": PrintWidth(1.0),  # 2.3/2.4: the best face model's confusion, full text width ...
    "confusion_faces_beside": PrintWidth(0.47),  # ... or beside the units when its names need no key (<= 40)
    "guided_backprop": PrintWidth(0.62),  # 2.5: beside the prediction example
    "depth": PrintWidth(0.36),  # beyond the handout: the 2.2 head on each AlexNet layer, beside the curves
    "predict_face": PrintWidth(0.36 * 0.36),  # 2.4: a photograph (no text), in a minipage of its subfigure
}


def pyplot():
    """matplotlib.pyplot with the report's style (fonts sized for the 5.5in text block)."""
    return plotting.pyplot(plotting.REPORT_STYLE)


def save(fig, path: Path, width: PrintWidth, dpi: int = 200) -> Path:
    """Save a report figure at its print width, atomically, after checking that it is legible there.

    The saved figure is exactly `width.inches` wide (what LaTeX prints, so scale 1) and as high as its
    drawn content plus PAD; text outside the width would be cut off, and is reported as such. Problems
    (`legibility.legibility_problems`) are logged as warnings, one line each; they never stop the report."""
    from matplotlib.transforms import Bbox

    from cnnlab.report.figures.legibility import legibility_problems

    if abs(fig.get_figwidth() - width.inches) > 0.005:
        log.warning(
            "figure %s: drawn %.2f in wide, printed %.2f in wide (fonts would scale by %.2f)",
            Path(path).name,
            fig.get_figwidth(),
            width.inches,
            width.inches / fig.get_figwidth(),
        )
    for problem in legibility_problems(fig, width.inches):
        log.warning("figure %s: %s", Path(path).name, problem)
    fig.canvas.draw()
    tight = fig.get_tightbbox(fig.canvas.get_renderer())  # inches
    w, h = fig.get_figwidth(), fig.get_figheight()
    box = Bbox([[0.0, max(0.0, tight.y0 - PAD)], [w, min(h, tight.y1 + PAD)]])
    return plotting.save_figure(fig, path, dpi=dpi, bbox_inches=box)
