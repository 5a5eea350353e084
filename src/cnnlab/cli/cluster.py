"""--cluster ADDRESS: the commands that train many runs send them to a Dask cluster (docs/cluster.md)."""

from __future__ import annotations

import argparse


def add_cluster_arg(p: argparse.ArgumentParser) -> None:
    """--cluster (default: $CNNLAB_CLUSTER, else local worker processes); `main` enters it around the command."""
    from cnnlab.core.cluster import ENV, default_address

    p.add_argument(
        "--cluster",
        default=default_address(),
        metavar="ADDRESS",
        help="train on a Dask cluster: tcp://host:8786, a scheduler file, or local:N (N one-thread worker "
        f"processes here, to try it); see docs/cluster.md (default: ${ENV}, else local processes)",
    )
