"""Compile report.tex to PDF with latexmk (or pdflatex twice) and count the pages."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

from cnnlab.core.errors import CnnlabError

log = logging.getLogger(__name__)

TEX_PACKAGES = "texlive-latex-base texlive-latex-recommended texlive-fonts-recommended latexmk"
TIMEOUT = 300  # seconds for the whole compilation
_AUX = (".aux", ".fls", ".fdb_latexmk", ".out", ".toc", ".synctex.gz")


def tex_available() -> str | None:
    """'latexmk' or 'pdflatex' if installed (latexmk needs pdflatex too), else None."""
    if not shutil.which("pdflatex"):
        return None
    return "latexmk" if shutil.which("latexmk") else "pdflatex"


def how_to_compile(folder: Path) -> str:
    return (
        f"TeX is not installed: the LaTeX bundle is in {folder}; compile it with "
        f"`cd {folder} && latexmk -pdf report.tex supplement.tex` (Debian/Ubuntu: apt-get install {TEX_PACKAGES})"
    )


def first_error(log_text: str) -> str:
    """The first LaTeX error of a log ('! ...' plus the line number), for a one-line message."""
    lines = log_text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("!") or re.match(r"^\S+:\d+: ", line):
            msg = line.lstrip("! ").strip()
            where = next((m.group(0) for m in (re.search(r"l\.\d+", x) for x in lines[i : i + 12]) if m), "")
            return f"{msg} ({where})" if where else msg
    return "see the log"


def compile_pdf(folder: Path, main: str = "report.tex", timeout: int = TIMEOUT) -> Path:
    """Build folder/<main>.pdf; leaves <main>.log; removes auxiliary files. One-line CnnlabError on failure."""
    tool = tex_available()
    if tool is None:
        raise CnnlabError(how_to_compile(folder))
    stem = Path(main).stem
    flags = ["-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]
    if tool == "latexmk":
        cmds = [["latexmk", "-pdf", "-silent", *flags, main]]
    else:
        cmds = [["pdflatex", *flags, main]] * 2  # twice: references and float numbers settle on the second pass
    try:
        for cmd in cmds:
            proc = subprocess.run(
                cmd,
                cwd=folder,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                errors="replace",
            )
            if proc.returncode != 0:
                log_file = folder / f"{stem}.log"
                text = log_file.read_text(errors="replace") if log_file.is_file() else proc.stdout + proc.stderr
                raise CnnlabError(f"LaTeX failed: {first_error(text)}; log: {log_file}")
    except subprocess.TimeoutExpired:
        raise CnnlabError(f"LaTeX did not finish in {timeout} s; log: {folder / (stem + '.log')}") from None
    finally:
        for ext in _AUX:
            (folder / f"{stem}{ext}").unlink(missing_ok=True)
    pdf = folder / f"{stem}.pdf"
    if not pdf.is_file():
        raise CnnlabError(f"LaTeX produced no PDF; log: {folder / (stem + '.log')}")
    return pdf


def page_count(pdf: Path) -> int:
    """Pages of a PDF: from pdfTeX's "Output written on ... (N pages" log line beside it, else pdfinfo,
    else the /Count of the page tree."""
    log_file = pdf.with_suffix(".log")
    if log_file.is_file():
        m = re.search(
            r"Output written on .*?\((\d+) pages?", log_file.read_text(errors="replace").replace("\n", ""), re.S
        )
        if m:
            return int(m.group(1))
    if shutil.which("pdfinfo"):
        out = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, errors="replace").stdout
        m = re.search(r"^Pages:\s+(\d+)", out, re.M)
        if m:
            return int(m.group(1))
    data = pdf.read_bytes()
    counts = [int(c) for c in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data)]
    counts += [int(c) for c in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", data)]
    if counts:
        return max(counts)
    # pdfTeX may compress the page tree into object streams: count the page objects instead.
    return len(re.findall(rb"/Type\s*/Page\b", data))
