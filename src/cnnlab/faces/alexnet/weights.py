"""Where AlexNet's ImageNet weights come from: a path, the torch hub cache, or a checked download.

Order: an explicit path; <hub dir>/checkpoints/<file name of the URL>; a download from the official
URL (or --weights-url). A URL is untrusted input: http(s) only, and its file name must carry the
SHA-256 prefix (torchvision's alexnet-owt-7be5be79.pth) before any byte is written; the body streams
into a temporary file beside the target, at most MAX_DOWNLOAD_BYTES, and is renamed only once its hash
matched. `"random"` gives a seeded, untrained AlexNet whose provenance says "untrained AlexNet". No
weights and no network: one line saying how to get them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cnnlab.core.errors import CnnlabError, OutputError, clip, first_line
from cnnlab.core.io import sha256_file
from cnnlab.core.runs.state_dicts import load_weights
from cnnlab.faces.alexnet.model import OFFICIAL_URL, UNTRAINED_LABEL, WEIGHTS_FILENAME, AlexNet, check_shapes

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 512 << 20  # the official file has about 233 MB; an endless body stops here
DOWNLOAD_DEADLINE = 3600.0  # seconds for the whole download; `timeout` bounds each wait for bytes


@dataclass(frozen=True)
class WeightsInfo:
    """Where AlexNet weights came from; `sha256` identifies them (file hash, or content hash for random)."""

    pretrained: bool
    source: str
    sha256: str
    path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {"pretrained": self.pretrained, "source": self.source, "sha256": self.sha256, "path": self.path}
        d["label"] = "ImageNet-pretrained AlexNet" if self.pretrained else UNTRAINED_LABEL
        return d


def hub_checkpoint_dir(hub_dir: str | os.PathLike | None = None) -> Path:
    """<hub dir>/checkpoints, where torch.hub keeps downloaded weights."""
    return Path(hub_dir if hub_dir is not None else torch.hub.get_dir()) / "checkpoints"


def offline_message(hub_dir: str | os.PathLike | None = None) -> str:
    where = hub_checkpoint_dir(hub_dir)
    return (
        f"AlexNet ImageNet weights not found: pass --weights PATH to {WEIGHTS_FILENAME}, put it in {where}/, "
        "or use --weights random for an untrained AlexNet"
    )


def state_dict_hash(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over key names, shapes, dtypes and bytes, in key order."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        t = state_dict[k].detach().cpu().contiguous()
        h.update(f"{k}|{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def random_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """torch's default initialisation of AlexNet under a fixed seed (an untrained AlexNet)."""
    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return AlexNet().state_dict()
    finally:
        torch.random.set_rng_state(gen_state)


def _read_weights_file(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = load_weights(path)
    except Exception as exc:  # a truncated or non-torch file: say which one, no traceback
        raise CnnlabError(f"cannot read AlexNet weights {path}: {first_line(exc, 120, with_type=True)}") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CnnlabError(f"{path} is not an AlexNet state dict")
    check_shapes(obj)
    return obj


def _name_hash_prefix(filename: str) -> str | None:
    """The SHA-256 prefix torch.hub's naming convention puts in a file name (alexnet-owt-7be5be79.pth -> 7be5be79)."""
    m = torch.hub.HASH_REGEX.search(filename)
    return m.group(1) if m and len(m.group(1)) >= 8 else None


class _WeightsFile:
    """The temporary file a download streams into (a fetch BodySink), hashing as it writes."""

    def __init__(self, folder: Path, name: str, progress: bool) -> None:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".partial")
        self.path, self.file, self.sha = Path(tmp), os.fdopen(fd, "wb"), hashlib.sha256()
        self.bar = None
        if progress and sys.stderr.isatty():  # a log file gets no progress lines
            from tqdm import tqdm

            self.bar = tqdm(unit="B", unit_scale=True, desc=name, file=sys.stderr, leave=False)

    def write(self, chunk: bytes) -> None:
        try:
            self.file.write(chunk)
        except OSError as exc:
            raise OutputError(f"cannot write AlexNet weights in {self.path.parent}: {exc.strerror or exc}") from None
        self.sha.update(chunk)
        if self.bar is not None:
            self.bar.update(len(chunk))

    def restart(self) -> None:
        self.file.seek(0)
        self.file.truncate()
        self.sha = hashlib.sha256()
        if self.bar is not None:
            self.bar.reset()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.file.close()


def _download(
    url: str, target: Path, prefix: str, hub_dir: str | os.PathLike | None, timeout: float, progress: bool
) -> str:
    """`url` saved as `target` once its SHA-256 starts with `prefix`: streamed (at most MAX_DOWNLOAD_BYTES)
    into a temporary file beside `target`, renamed only after the hash matched; nothing is left otherwise.
    Returns the SHA-256."""
    from cnnlab.faces.facescrub.fetch import fetch

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        sink = _WeightsFile(target.parent, target.name, progress)
    except OSError as exc:
        raise OutputError(f"cannot write AlexNet weights in {target.parent}: {exc.strerror or exc}") from None
    try:
        try:
            result = fetch(
                url, timeout=DOWNLOAD_DEADLINE, stall=timeout, retries=2, max_bytes=MAX_DOWNLOAD_BYTES, sink=sink
            )
        finally:
            sink.close()
        if result.status == "too_large":
            raise CnnlabError(
                f"AlexNet weights from {_shown(url)} stopped at the limit of {MAX_DOWNLOAD_BYTES:,} bytes (the official "
                "file has about 233 MB); nothing was kept"
            )
        if result.status.startswith("http_"):
            raise CnnlabError(
                f"{offline_message(hub_dir)} (download failed: HTTP {result.http_code} from {_shown(url)})"
            )
        if result.status in ("bad_url", "too_many_redirects", "bad_response"):  # e.g. a redirect to file://
            raise CnnlabError(f"cannot download AlexNet weights from {_shown(url)}: {result.detail}")
        if result.status != "ok":
            raise CnnlabError(f"{offline_message(hub_dir)} (no network: {result.detail})")
        sha = sink.sha.hexdigest()
        if not sha.startswith(prefix):
            raise CnnlabError(
                f"downloaded AlexNet weights from {_shown(url)} failed the hash check (SHA-256 {sha[:12]}..., the name "
                f"says {prefix}); nothing was kept"
            )
        os.replace(sink.path, target)
        return sha
    finally:
        with contextlib.suppress(FileNotFoundError):
            sink.path.unlink()


def _shown(url: str) -> str:
    """`url` for a message: one line, clipped, with any user:password@ masked."""
    scheme, sep, rest = str(url).partition("://")
    host, slash, path = rest.partition("/")
    if sep and "@" in host:
        rest = "***@" + host.rsplit("@", 1)[1] + slash + path
    return clip(scheme + sep + rest if sep else str(url))


def _checked_url(url: str) -> tuple[str, str]:
    """(file name, SHA-256 prefix) of a weights URL: http(s) only, and a name that carries the prefix
    (alexnet-owt-7be5be79.pth), so that every byte can be checked before it is kept. One line otherwise."""
    from cnnlab.faces.facescrub.lists import check_url

    reason = check_url(url)
    if reason:
        raise CnnlabError(f"cannot download AlexNet weights from {_shown(url)}: {reason}")
    filename = os.path.basename(urllib.parse.urlsplit(url).path)
    prefix = _name_hash_prefix(filename) if filename not in ("", ".", "..") else None
    if prefix is None:
        raise CnnlabError(
            f"the weights URL {_shown(url)} must name a file that carries its SHA-256 prefix, like {WEIGHTS_FILENAME} "
            "(refusing weights that cannot be checked)"
        )
    return filename, prefix


def resolve_weights(
    spec: str | os.PathLike | None,
    *,
    hub_dir: str | os.PathLike | None = None,
    url: str = OFFICIAL_URL,
    progress: bool = False,
    timeout: float = 30.0,
    seed: int = 0,
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """AlexNet weights and their provenance.

    spec: a path to a state dict; "random" (seeded torch default init, labelled "untrained AlexNet");
    None: the hub cache (<hub dir>/checkpoints/<file name of url>), else a checked download from `url`
    (see the module docstring). A bad URL, an endless or wrong body, no weights and no network: a
    one-line CnnlabError (the last two saying how to get them).
    """
    if spec is not None and str(spec) == "random":
        sd = random_state_dict(seed)
        info = WeightsInfo(False, f"random (torch default init, seed {seed})", state_dict_hash(sd))
        log.warning("using an %s (random weights, seed %d)", UNTRAINED_LABEL, seed)
        return sd, info.as_dict()
    if spec is not None:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise CnnlabError(f"AlexNet weights file not found: {path}")
        sd = _read_weights_file(path)
        sha = sha256_file(path)
        prefix = _name_hash_prefix(path.name)
        if prefix and not sha.startswith(prefix):
            log.warning(
                "%s: SHA-256 %s... does not start with %s from its name: not the official file?", path, sha[:12], prefix
            )
        return sd, WeightsInfo(True, "path", sha, str(path)).as_dict()

    filename, prefix = _checked_url(url)
    cached = hub_checkpoint_dir(hub_dir) / filename
    if cached.is_file():
        # Checked at every use, not only when downloaded.
        sha = sha256_file(cached)
        if not sha.startswith(prefix):
            raise CnnlabError(
                f"{cached} does not match the SHA-256 prefix {prefix} in its name (corrupt or not the "
                "official file): delete it, or pass --weights PATH"
            )
        sd = _read_weights_file(cached)
        return sd, WeightsInfo(True, "hub-cache", sha, str(cached)).as_dict()

    log.debug("downloading AlexNet weights from %s to %s", url, cached)
    sha = _download(url, cached, prefix, hub_dir, timeout, progress)
    try:
        sd = _read_weights_file(cached)
    except CnnlabError:
        with contextlib.suppress(FileNotFoundError):
            cached.unlink()  # don't leave a file that would be picked up from the cache next time
        raise
    return sd, WeightsInfo(True, f"download:{url}", sha, str(cached)).as_dict()
