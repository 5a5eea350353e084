"""The FaceScrub download pipeline: list files, a streaming, resumable downloader with a manifest, and
face crops. It needs no torch (a contract in pyproject.toml).

    download_faces(DownloadConfig(lists=[...], out="faces/"))   # fetch, verify, crop, write manifest.csv
"""

from cnnlab.faces.facescrub.download import (
    DownloadConfig,
    DownloadReport,
    download_faces,
    format_summary,
    read_manifest,
)
from cnnlab.faces.facescrub.lists import FaceRow, parse_list, safe_name
from cnnlab.faces.facescrub.plan import parse_lists

__all__ = [
    "DownloadConfig",
    "DownloadReport",
    "download_faces",
    "format_summary",
    "read_manifest",
    "FaceRow",
    "parse_list",
    "parse_lists",
    "safe_name",
]
