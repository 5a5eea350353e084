"""What a FaceScrub download is asked to do (`DownloadConfig`) and what it did (`DownloadReport`, and
`format_summary`, the summary `cnnlab faces download` prints)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from cnnlab.core.errors import ConfigError
from cnnlab.core.images import MAX_IMAGE_PIXELS
from cnnlab.faces.facescrub.lists import FaceRow
from cnnlab.faces.facescrub.manifest import read_manifest


@dataclass(frozen=True)
class DownloadConfig:
    """Download settings (validated). Sizes are the side of the square model copies."""

    workers: int = 16
    timeout: float = 15.0  # seconds for one whole attempt (connect + headers + body)
    retries: int = 2  # extra attempts after a transient failure
    max_bytes: int = 20_000_000
    max_pixels: int = MAX_IMAGE_PIXELS  # decompression-bomb guard, checked from the header (as for every image)
    backoff: float = 0.5  # first retry delay; doubles each retry
    backoff_max: float = 30.0
    gray_size: int = 28
    rgb_size: int = 227
    retry_failed: bool = False  # fetch final failures (404, hash_mismatch...) again

    def __post_init__(self) -> None:
        def check(name: str, ok: bool, what: str) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) and name != "retry_failed" or not ok:
                raise ConfigError(f"download {name}={value!r}: {what}")

        check("workers", isinstance(self.workers, int) and 1 <= self.workers <= 256, "must be an int in 1..256")
        check(
            "timeout",
            isinstance(self.timeout, (int, float)) and 0 < self.timeout <= 3600,
            "must be seconds in (0, 3600]",
        )
        check("retries", isinstance(self.retries, int) and 0 <= self.retries <= 20, "must be an int in 0..20")
        check(
            "max_bytes", isinstance(self.max_bytes, int) and 0 < self.max_bytes <= 2**31, "must be an int in 1..2**31"
        )
        check(
            "max_pixels",
            isinstance(self.max_pixels, int) and 0 < self.max_pixels <= 10**9,
            "must be an int in 1..10**9",
        )
        check(
            "backoff",
            isinstance(self.backoff, (int, float)) and 0 <= self.backoff <= 3600,
            "must be seconds in [0, 3600]",
        )
        check(
            "backoff_max",
            isinstance(self.backoff_max, (int, float)) and 0 <= self.backoff_max <= 3600,
            "must be seconds in [0, 3600]",
        )
        for name in ("gray_size", "rgb_size"):
            v = getattr(self, name)
            check(name, isinstance(v, int) and 1 <= v <= 4096, "must be an int in 1..4096")
        check("retry_failed", isinstance(self.retry_failed, bool), "must be a bool")


@dataclass
class DownloadReport:
    """What one download did. Holds counts only; `rows` reads the manifest back from disk."""

    out_dir: Path
    manifest: Path
    fetched: int = 0  # URLs requested over the network in this run
    reused: int = 0  # faces settled from local files, without network
    elapsed: float = 0.0
    counts: Counter = field(default_factory=Counter)  # manifest rows per status
    actor_counts: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))

    def add(self, row: FaceRow, status: str) -> None:
        self.counts[status] += 1
        self.actor_counts[row.name or "?"][status] += 1

    @property
    def total(self) -> int:
        """Rows of the manifest."""
        return sum(self.counts.values())

    @property
    def rows(self) -> list[dict[str, str]]:
        """The manifest rows, in list order (read from out_dir/manifest.csv at each access)."""
        return read_manifest(self.out_dir)

    def by_actor(self) -> dict[str, Counter]:
        return dict(self.actor_counts)


def format_summary(report: DownloadReport) -> str:
    """Counts per status and per actor, as a plain-text table for the CLI."""
    lines = ["status                 faces"]
    for status, n in sorted(report.counts.items(), key=lambda kv: (kv[0] != "ok", -kv[1], kv[0])):
        lines.append(f"  {status:<20} {n:>5}")
    lines.append(f"  {'total':<20} {sum(report.counts.values()):>5}")
    lines.append("")
    lines.append(f"{'actor':<24} {'ok':>5} {'rejected':>8}  reasons")
    for actor, counts in sorted(report.by_actor().items()):
        bad = {s: n for s, n in counts.items() if s != "ok"}
        reasons = ", ".join(f"{s} {n}" for s, n in sorted(bad.items(), key=lambda kv: -kv[1]))
        lines.append(f"  {actor:<22} {counts['ok']:>5} {sum(bad.values()):>8}  {reasons}")
    lines.append("")
    lines.append(
        f"{report.fetched} URLs fetched, {report.reused} faces reused without network, "
        f"{report.elapsed:.1f} s; manifest: {report.manifest}"
    )
    return "\n".join(lines)
