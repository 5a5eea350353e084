"""LaTeX building blocks: escaping of data-derived text, number formats, booktabs tables, figures.

Every string that comes from data (artist and actor names, paths, config values) goes through
`esc` (or `path`) before it reaches the .tex, so `Paul & Sandby_#1 %$` prints as written and cannot
break the build. Text written by the renderer itself is LaTeX already and is not escaped.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import PurePath

# Characters with a meaning in LaTeX, and what prints them literally (T1 fonts).
_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
    "\u00b1": r"\ensuremath{\pm}",
    "\u00d7": r"\ensuremath{\times}",
    "\u2013": r"\textendash{}",
    "\u2014": r"\textemdash{}",
    "\u2018": "`",
    "\u2019": "'",
    "\u201c": "``",
    "\u201d": "''",
    "\u2026": r"\dots{}",
    "\u2192": r"\ensuremath{\rightarrow}",
    "\u00a0": "~",
}
# Latin-1 and Latin Extended-A letters print with inputenc utf8 + T1 fonts; anything else is
# transliterated (accents dropped) or shown as '?' rather than stopping pdflatex.
_SAFE_RANGE = range(0x00C0, 0x0180)


def esc(text: object) -> str:
    """`text` as LaTeX that prints it literally (special characters escaped, unicode made safe)."""
    out = []
    for ch in str(text):
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ch == "\n" or ch == "\t":
            out.append(" ")
        elif 32 <= ord(ch) < 127 or ord(ch) in _SAFE_RANGE or ch in "\u00a3\u00a7\u00b0":
            out.append(ch)
        else:
            plain = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(esc(plain) if plain and plain != ch else "?")
    text = "".join(out).replace("-\\textgreater{}", "\\ensuremath{\\rightarrow}")
    while "--" in text:  # keep "--data" as two hyphens: LaTeX would join them into a dash
        text = text.replace("--", "-{}-")
    return text


def path(text: object) -> str:
    r"""A path or identifier in typewriter type, breakable after '/', '-' and '_'."""
    s = esc(text)
    for sep in ("/", "-", r"\_"):
        s = s.replace(sep, sep + r"\allowbreak{}")
    return r"\texttt{" + s + "}"


def folder(text: object) -> str:
    r"""A folder named by its last component, in typewriter type (`path`): never a machine's absolute path."""
    s = str(text).rstrip("/\\")
    return path(PurePath(s).name or s)


def comment(text: object) -> str:
    """A .tex comment line (newlines folded): where run ids are recorded next to the numbers."""
    return "% " + " ".join(str(text).split())


# ----------------------------------------------------------------------------- numbers
def pct(x: float | None, digits: int = 1) -> str:
    """An accuracy in [0, 1] as a percentage, e.g. 0.4567 -> '45.7'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "--"
    s = f"{100 * x:.{digits}f}"
    return "$-$" + s[1:] if s.startswith("-") else s  # a minus sign, not a hyphen


def pm(mean: float | None, std: float | None, digits: int = 1, n: int | None = None) -> str:
    r"""Mean $\pm$ std of an accuracy as percentages; with n > 1 the std is shown, with n = 1 only the mean."""
    if mean is None:
        return "--"
    if n == 1 or std is None:
        return pct(mean, digits)
    return f"{pct(mean, digits)}\\,$\\pm$\\,{pct(std, digits)}"


def pp(delta: float, digits: int = 1) -> str:
    """A difference of accuracies in percentage points with its sign, e.g. '+3.2'."""
    s = f"{100 * delta:+.{digits}f}"
    return "$-$" + s[1:] if s.startswith("-") else s


def num(x: float | int, digits: int = 0) -> str:
    """A number with thin-space thousands separators (LaTeX)."""
    if isinstance(x, int) or digits == 0:
        return f"{int(round(x)):,}".replace(",", "\\,")
    return f"{x:,.{digits}f}".replace(",", "\\,")


def seconds(s: float) -> str:
    return f"{s:.0f}\\,s" if s < 120 else f"{s / 60:.1f}\\,min"


# ----------------------------------------------------------------------------- blocks
def table(
    caption: str,
    label: str,
    header: Sequence[str],
    rows: Iterable[Sequence[str] | str],
    align: str,
    *,
    size: str = r"\small",
    comments: Sequence[str] = (),
    placement: str = "t",
    width: str | None = None,
) -> str:
    r"""A booktabs table (caption above, as in NeurIPS). A row given as a str is emitted verbatim
    (\midrule, a group header). `comments` are .tex comment lines (run ids) put before the table."""
    lines = [comment(c) for c in comments]
    lines += [f"\\begin{{table}}[{placement}]", "\\centering", f"\\caption{{{caption}}}", f"\\label{{{label}}}", size]
    if width:
        lines.append(f"\\resizebox{{{width}}}{{!}}{{%")
    lines += [f"\\begin{{tabular}}{{{align}}}", "\\toprule", " & ".join(header) + r" \\", "\\midrule"]
    for row in rows:
        lines.append(row if isinstance(row, str) else " & ".join(row) + r" \\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if width:
        lines.append("}")
    lines.append("\\end{table}")
    return "\n".join(lines)


def figure(filename: str, caption: str, label: str, width: str = r"\linewidth", placement: str = "t") -> str:
    """A single-image figure (caption below)."""
    return "\n".join(
        [
            f"\\begin{{figure}}[{placement}]",
            "\\centering",
            f"\\includegraphics[width={width}]{{figures/{filename}}}",
            f"\\caption{{{caption}}}",
            f"\\label{{{label}}}",
            "\\end{figure}",
        ]
    )


def figure_pair(
    left: tuple[str, str],
    right: tuple[str, str],
    caption: str,
    label: str,
    widths: tuple[float, float] = (0.49, 0.49),
    placement: str = "t",
) -> str:
    """Two images side by side, each (filename, subcaption), one shared caption."""
    parts = [f"\\begin{{figure}}[{placement}]", "\\centering"]
    for i, ((name, sub), w) in enumerate(zip((left, right), widths)):
        if i:
            parts.append("\\hfill")
        parts += [
            f"\\begin{{subfigure}}[b]{{{w}\\linewidth}}",
            "\\centering",
            f"\\includegraphics[width=\\linewidth]{{figures/{name}}}",
            f"\\caption{{{sub}}}",
            "\\end{subfigure}",
        ]
    parts += [f"\\caption{{{caption}}}", f"\\label{{{label}}}", "\\end{figure}"]
    return "\n".join(parts)


def split_table(
    caption: str,
    label: str,
    header: Sequence[str],
    groups: Sequence[Sequence[str]],
    align: str,
    *,
    size: str = r"\footnotesize",
    comments: Sequence[str] = (),
    placement: str = "tb",
) -> str:
    """A long grouped table set as two halves side by side, one caption. Each group is a list of
    lines whose first line may be a group header (a \\multicolumn line); a group cut in two gets
    its header repeated with "(cont.)" at the top of the right half."""
    lines_all = [(gi, line) for gi, g in enumerate(groups) for line in g]
    cut = (len(lines_all) + 1) // 2
    if 0 < cut < len(lines_all) and lines_all[cut - 1][1].startswith("\\multicolumn"):
        cut -= 1  # never end a half with a lone group header
    left, right = [line for _, line in lines_all[:cut]], [line for _, line in lines_all[cut:]]
    if right and 0 < cut < len(lines_all):
        gi = lines_all[cut][0]
        head = groups[gi][0]
        if head.startswith("\\multicolumn") and lines_all[cut][1] is not head:
            right.insert(0, head.replace("}} \\\\", " (cont.)}} \\\\"))
    lines = [comment(c) for c in comments]
    lines += [
        f"\\begin{{table}}[{placement}]",
        "\\centering",
        f"\\caption{{{caption}}}",
        f"\\label{{{label}}}",
        size,
        "\\setlength{\\tabcolsep}{4pt}",
    ]
    for i, rows in enumerate(h for h in (left, right) if h):
        if i:
            lines.append("\\hfill")
        lines += [
            f"\\begin{{tabular}}[t]{{{align}}}",
            "\\toprule",
            " & ".join(header) + r" \\",
            "\\midrule",
            *rows,
            "\\bottomrule",
            "\\end{tabular}",
        ]
    lines.append("\\end{table}")
    return "\n".join(lines)
