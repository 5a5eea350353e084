"""AlexNet's named layers and smallest input, without torch: what configs validate against.

`cnnlab.faces.alexnet.model` (the network) re-exports these; run configs import them from here so that
building a config (every `cnnlab` command does, for its --help defaults) never imports torch.
"""

from __future__ import annotations

MIN_INPUT_SIZE = 63  # smallest square input for which every max-pool still has an output

# name -> (stage, number of leading modules of that stage); "after its ReLU" for conv/fc layers.
LAYERS: dict[str, tuple[str, int]] = {
    "conv1": ("features", 2),
    "pool1": ("features", 3),
    "conv2": ("features", 5),
    "pool2": ("features", 6),
    "conv3": ("features", 8),
    "conv4": ("features", 10),
    "conv5": ("features", 12),
    "pool5": ("avgpool", 0),  # features + AdaptiveAvgPool2d((6, 6)): the classifier's 9216 inputs
    "fc6": ("classifier", 3),
    "fc7": ("classifier", 6),
}
LAYER_ORDER: tuple[str, ...] = tuple(LAYERS)  # input to output

# Fine-tuning from 2.2 (`finetune.train_from`): the first convolution that trains -> the frozen layer
# before it, whose (cached) output feeds the trained part.
TRAIN_FROM: dict[str, str] = {"conv2": "pool1", "conv3": "pool2", "conv4": "conv3", "conv5": "conv4"}
