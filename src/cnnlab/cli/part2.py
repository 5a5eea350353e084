"""`cnnlab part2 STEP`: the Part 2 face models (2.1-2.4). This module only builds the `part2` parser and lists its
commands in their help order; the commands live by group: the small networks on 28x28 faces (mlp, weights,
recipes, cnn) in cli.part2_small, the AlexNet commands (features, layers, finetune) in cli.part2_alexnet, and the
flags and output they share in cli.part2_flags.

Each run command resolves its run config (cnnlab.faces.run_configs): defaults <- --config YAML <- the
flags that mirror config fields (defaults and help read from the dataclass) <- --set key=value.
"""

from __future__ import annotations

import argparse

from cnnlab.cli import part2_alexnet, part2_small
from cnnlab.cli.common import ArgumentParser

# The `part2` sub-commands, in the order `cnnlab part2 --help` lists them.
COMMANDS = (
    part2_small.add_mlp,
    part2_small.add_weights,
    part2_alexnet.add_features,
    part2_alexnet.add_layers,
    part2_small.add_recipes,
    part2_small.add_cnn,
    part2_alexnet.add_finetune,
)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add `cnnlab part2` and its sub-commands to the `cnnlab` parser."""
    p = sub.add_parser("part2", help="Part 2 face models: MLP (2.1, 2.3), AlexNet features (2.2), fine-tuning (2.4)")
    psub = p.add_subparsers(dest="part2_command", metavar="STEP", parser_class=ArgumentParser)
    psub.required = True
    for add in COMMANDS:
        add(psub)
