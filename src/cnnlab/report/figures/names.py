"""Class names on report figures: measured, wrapped, truncated or abbreviated the same way everywhere.

`abbreviations(names)` gives every class one short unique tag (initials: "Gerard Butler" -> "GB",
"Jean-Baptiste-Camille Corot" -> "JBCC"; one word: its first three letters, "Canaletto" -> "Can"); names
that are already short ("s12") stay as they are. The confusion matrices label their columns and rows with
these tags and print the key beside the matrix; the top-losses strip uses the same tags. Text is measured
with matplotlib's font metrics (`text_width`), so a label that is said to fit does fit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from cnnlab.core.plotting import mpl_text, safe_text

SHORT = 4  # names of at most this many characters are their own tag
ELLIPSIS = "…"
WHOLE = 12  # max_lines for `wrap` where a title must never be cut: enough lines for any name's words


@lru_cache(maxsize=4096)
def text_width(text: str, fontsize: float) -> float:
    """Width in points of `text` set in the report's sans-serif font at `fontsize` points."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    if not text:
        return 0.0
    width, _, _ = TextToPath().get_text_width_height_descent(
        mpl_text(text), FontProperties(size=fontsize), ismath=False
    )
    return float(width)


def fit(text: str, width_pt: float, fontsize: float) -> str:
    """`text` cut (an ellipsis marks the cut) so that it is at most `width_pt` points wide."""
    text = safe_text(text)
    if text_width(text, fontsize) <= width_pt:
        return text
    lo, hi = 0, len(text)  # the longest prefix that fits with the ellipsis
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text_width(text[:mid].rstrip() + ELLIPSIS, fontsize) <= width_pt:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS if lo else ELLIPSIS


def _hyphenate(word: str, width_pt: float, fontsize: float) -> list[str]:
    """A word wider than `width_pt` in pieces that fit, each but the last ending in a hyphen ("Rembra-", "ndt"),
    the last of at least 3 letters;
    a word that fits, as it is."""
    pieces: list[str] = []
    while text_width(word, fontsize) > width_pt and len(word) > 1:
        n = 1  # the longest prefix that fits with its hyphen (at least one letter)
        while n + 1 < len(word) and text_width(word[: n + 1] + "-", fontsize) <= width_pt:
            n += 1
        n = max(1, min(n, len(word) - 3)) if len(word) > 4 else n  # at least 3 letters left for the next line
        pieces.append(word[:n] + "-")
        word = word[n:]
    return [*pieces, word]


def wrap(text: str, width_pt: float, fontsize: float, max_lines: int = 3) -> str:
    """`text` on lines of at most `width_pt` points (words kept whole where they fit, hyphenated names
    broken after a hyphen, a word wider than a line broken with a hyphen), at most `max_lines` lines (the last
    one cut; `WHOLE` lines: never cut)."""
    words = [
        piece
        for w in re.findall(r"[^\s-]+-?|-", safe_text(text).replace("_", " "))
        for piece in _hyphenate(w, width_pt, fontsize)
    ]
    lines: list[str] = []
    line = ""
    for w in words:
        joiner = "" if line.endswith("-") or not line else " "
        if line and text_width(line + joiner + w, fontsize) > width_pt:
            lines.append(line)
            line = w
        else:
            line = line + joiner + w
    if line:
        lines.append(line)
    lines = [fit(x, width_pt, fontsize) for x in lines] or [""]
    if len(lines) > max_lines:
        rest = ""
        for x in lines[max_lines - 1 :]:
            rest += x if not rest or rest.endswith("-") else " " + x
        lines = lines[: max_lines - 1] + [fit(rest + " " * 40, width_pt, fontsize)]  # cut: it ends in an ellipsis
    return "\n".join(lines)


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[\s_\-.,'’]+", safe_text(name)) if w and w[0].isalnum()]


def abbreviations(names: Sequence[str]) -> dict[str, str]:
    """{name: tag}: a short tag per class, unique among `names`, the same for the same list."""
    tags: dict[str, str] = {}
    for name in names:
        name_s = safe_text(name)
        words = _words(name_s)
        if len(name_s) <= SHORT:
            tag = name_s
        elif len(words) > 1:
            tag = "".join(w[0].upper() for w in words)[:SHORT]
        else:
            tag = (words[0] if words else name_s)[:3].capitalize()
        tags[name] = tag
    # unique: a tag two classes share gets more letters of the last word, then a number
    counts: dict[str, int] = {}
    for t in tags.values():
        counts[t] = counts.get(t, 0) + 1
    seen: dict[str, int] = {}
    out: dict[str, str] = {}
    taken = {t for t in tags.values() if counts[t] == 1}
    for name, tag in tags.items():
        if counts[tag] == 1:
            out[name] = tag
            continue
        words = _words(safe_text(name)) or [safe_text(name)]
        candidate = (tag + words[-1][1:3].lower())[: SHORT + 1]
        if candidate in taken:
            seen[tag] = seen.get(tag, 0) + 1
            candidate = f"{tag}{seen[tag]}"
            while candidate in taken:
                seen[tag] += 1
                candidate = f"{tag}{seen[tag]}"
        taken.add(candidate)
        out[name] = candidate
    return out


def needs_key(tags: dict[str, str]) -> bool:
    """Whether any tag differs from its name (then a key says what the tags mean)."""
    return any(safe_text(name) != tag for name, tag in tags.items())
