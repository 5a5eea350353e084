#!/usr/bin/env bash
# System packages that cnnlab's tests and report need, from Debian: TeX (the report's PDFs; poppler-utils'
# pdftotext lets the report tests read them) and
# PostgreSQL (the distributed-sweep tests run a throwaway server). Run as root (or through sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  texlive-latex-base texlive-latex-recommended texlive-fonts-recommended latexmk poppler-utils \
  postgresql >/dev/null
echo "install-system: TeX, poppler-utils and PostgreSQL installed"
