"""The faces a Part 2 run config asks for, loaded and checked: what every run of cnnlab.faces.training and
every inspection of a finished run starts from."""

from __future__ import annotations

from typing import Any, Protocol

from cnnlab.core.errors import ConfigError
from cnnlab.faces.data.dataset import FaceData, load_faces


class RunFacesSpec(Protocol):
    """What load_run_faces reads of a run config (cnnlab.faces.run_configs.FaceRunConfig)."""

    data: Any  # FaceDataConfig: source, actors, split
    image_size: int
    channels: int


def load_run_faces(config: RunFacesSpec) -> FaceData:
    """The faces `config` asks for (config.data), at the size and channels its model takes."""
    data = config.data
    return load_faces(
        data.source,
        image_size=config.image_size,
        channels=config.channels,
        actors=list(data.actors) or None,
        split=data.split,
    )


def check_faces(faces: Any, config: RunFacesSpec, what: str) -> None:
    """ConfigError unless `faces` are (C, S, S) tensors as `config` expects (see load_run_faces)."""
    shape = tuple(faces.train_x.shape[1:])
    want = (config.channels, config.image_size, config.image_size)
    if shape != want:
        raise ConfigError(f"faces are {shape}, {what} expects {want} (load them with load_run_faces(config))")
