"""FaceScrub faces for Part 2: robust downloader, crops, splits, and the embedded Olivetti faces.

    cnnlab faces download --list facescrub_actors.txt --out faces/   # download, verify, crop
    load_faces("faces/", image_size=28)                             # tensors for the MLP
    load_faces("olivetti", image_size=227, channels=3)              # embedded default data
    run_part2(Part2Options(quick=True))                             # Part 2 (2.1-2.4) -> runs/suites/part2/

Importing this package does not import torch (only `load_faces` does).
"""

import cnnlab.faces.kinds  # noqa: F401 - registers the Part 2 run kinds (the files a cached run must hold)
from cnnlab.faces.data.dataset import (
    COURSE_ACTORS,
    FaceData,
    FaceSplitConfig,
    describe_faces,
    load_faces,
    split_sizes,
)
from cnnlab.faces.facescrub.download import (
    DownloadConfig,
    DownloadReport,
    download_faces,
    format_summary,
    read_manifest,
)
from cnnlab.faces.facescrub.lists import FaceRow, parse_list, safe_name
from cnnlab.faces.facescrub.plan import parse_lists
from cnnlab.faces.suite import Part2Options, Part2Result, run_part2

__all__ = [
    "COURSE_ACTORS",
    "FaceData",
    "FaceSplitConfig",
    "describe_faces",
    "load_faces",
    "split_sizes",
    "DownloadConfig",
    "DownloadReport",
    "download_faces",
    "format_summary",
    "read_manifest",
    "FaceRow",
    "parse_list",
    "parse_lists",
    "safe_name",
    "Part2Options",
    "Part2Result",
    "run_part2",
]
