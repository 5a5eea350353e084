"""Where each float of the report goes: the paper (report.pdf, at most 8 pages) or the supplement (supplement.pdf).

The paper's layout is fixed by construction: every section gives the paper a known set of floats of bounded
size (the key result of each question), and the floats that grow with the data or that a reader looks up
rather than reads (the full suite tables, the data overview, the face confusion matrix, the extra search and
robustness figures, the run-id appendix) always go to the supplement, as in a NeurIPS paper's supplementary
material. Nothing is ever left out: a float is in exactly one of the two documents.

Sections hand every float to `place(ctx, body)`. With a `Placement` in the context (`ReportContext.placement`:
`render.render_tex` puts it there) a float bound for the supplement is recorded there and the paper gets a comment; the paper's
`\\ref{label}` of such a float is rewritten to its supplement number (`Placement.resolve`: "Table~\\ref{tab:reg}"
-> "Table~S2"). The supplement numbers its floats S1, S2, ... (figures and tables apart) in the order they are
placed, which is the order of the paper's sections, and sets each counter explicitly before its float, so the
numbers the paper quotes are the numbers the supplement prints, with or without TeX installed. Without a
Placement (a section rendered alone) every float stays where it is written: the budget-free report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

# Floats (by their first \label) that always go to the supplement: they grow with the data, or they are the
# full tables and extra figures behind a result the paper states in its text and its own floats.
SUPPLEMENT_ALWAYS = (
    "fig:data",  # one image per class, the course's transformations (no result)
    "tab:reg",  # 1.4: every regulariser (the paper: Figure fig:deltas and the text)
    "tab:arch",  # 1.5: every architecture change (the paper: Figure fig:deltas and the text)
    "fig:search",  # 1.6: the search's trials (the paper: the best configuration's table)
    "fig:confusion",  # 1.6: the best model's confusion and top losses (the paper: what it confuses, in words)
    "fig:robust",  # 1.7: the graded severity curves (the paper: the course's transformations' table)
    "tab:recipes",  # 2.1: the recipe grid (the paper: the chosen recipe and its validation accuracy)
    "fig:faceconfusion",  # 2.3/2.4: the best face model's confusion (the paper: what it confuses, in words)
)

# The page budget's guard (render.write_report): if the paper still has more than 8 pages, these floats move to
# the supplement in turn (their results stay in the text), then the spacing is tightened. Never a deletion.
MOVABLE = ("tab:pooling", "tab:candidates", "tab:best", "tab:robust", "fig:units")

SECTIONS = ("Part 1: convolutional networks for artist identification", "Part 2: face recognition")
RUNS_SECTION = "S3"  # the supplement's last section, after its two parts: the run ids behind every number
_LABEL = re.compile(r"\\label\{([^}]*)\}")
_KIND = re.compile(r"\\begin\{(figure|table)\}")
_PLACEMENT = re.compile(r"\\begin\{(figure|table)\}(?:\[[a-zA-Z!]*\])?")


@dataclass(frozen=True)
class Item:
    """One float of the supplement: its labels (all share one number), kind, number and LaTeX."""

    labels: tuple[str, ...]
    kind: str  # "figure" or "table"
    number: int
    part: int  # 0: Part 1, 1: Part 2
    body: str


@dataclass
class Placement:
    """Which floats go to the supplement (SUPPLEMENT_ALWAYS and `moved`), and the supplement's floats as they
    are placed. One Placement serves one rendering of the paper."""

    moved: tuple[str, ...] = ()
    items: list[Item] = field(default_factory=list)

    def in_supplement(self, label: str) -> bool:
        return label in SUPPLEMENT_ALWAYS or label in self.moved

    def put(self, body: str, part: int) -> str:
        """`body` (one float) for the paper, or a comment there and the float recorded for the supplement."""
        labels = tuple(_LABEL.findall(body))
        if not any(self.in_supplement(label) for label in labels):
            return body
        kind = _KIND.search(body)
        if kind is None:
            raise ValueError(f"float {labels[0]} is not a figure or table environment")
        number = 1 + sum(i.kind == kind.group(1) for i in self.items)
        self.items.append(Item(labels, kind.group(1), number, part, body))
        name = "Figure" if kind.group(1) == "figure" else "Table"
        return f"% {name} S{number} ({labels[0]}) is in the supplement"

    def numbers(self) -> dict[str, str]:
        """{label: its number in the supplement ("S3")} of every float and section placed there."""
        out = {label: f"S{i.number}" for i in self.items for label in i.labels}
        out["app:runs"] = RUNS_SECTION
        return out

    def resolve(self, tex: str) -> str:
        """The paper with each \\ref to a supplement float replaced by that float's number there."""
        numbers = self.numbers()
        return re.sub(r"\\ref\{([^}]*)\}", lambda m: numbers.get(m.group(1), m.group(0)), tex)

    def body(self) -> list[str]:
        """The supplement's floats under its two section headings, each counter set to the float's number."""
        out: list[str] = []
        for part, title in enumerate(SECTIONS):
            mine = [i for i in self.items if i.part == part]
            out.append(f"\\section{{{title}}}")
            if not mine:
                out.append("No float of this part needed the supplement.")
            for i in mine:  # [H] (float.sty): each float under its part's heading, in the order of the numbers
                body = _PLACEMENT.sub(lambda m: f"\\begin{{{m.group(1)}}}[H]", i.body, count=1)
                out += [f"\\setcounter{{{i.kind}}}{{{i.number - 1}}}", body, ""]
            out.append("\\clearpage")
        return out


class Placed(Protocol):
    """What `place` reads of a context (`report.context.ReportContext`): where this rendering puts its floats."""

    @property
    def placement(self) -> Placement | None: ...


def place(ctx: Placed, body: str, part: int = 0) -> str:
    """One float of a section, as the paper shows it: itself, or (when it goes to the supplement) a comment.
    `part`: 0 for Part 1 (and the front matter), 1 for Part 2: the supplement's section it goes under."""
    placement = ctx.placement
    return body if placement is None else placement.put(body, part)


def in_supplement(ctx: Placed, label: str) -> bool:
    """Whether the float `label` is in the supplement of this rendering (for the words around a reference)."""
    placement = ctx.placement
    return placement is not None and placement.in_supplement(label)
