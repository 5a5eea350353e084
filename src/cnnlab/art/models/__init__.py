"""Part 1 models, their registry, and layer-by-layer summaries.

`SimpleCNN` is the handout's starter network made configurable. `MODELS` holds the Part 1 models
only (Part 2's face models live in cnnlab.faces). Every registered factory takes `num_classes` (plus
its own keyword options) and returns an `nn.Module` with an `input_shape` attribute `(C, H, W)`, so
tests build and run every registered model.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from cnnlab.art.config import ModelConfig
from cnnlab.core.config import check_parameter_count
from cnnlab.core.errors import ConfigError
from cnnlab.core.layers import conv_output_size, count_parameters, make_activation  # noqa: F401 (re-exported)
from cnnlab.core.registry import Registry

log = logging.getLogger(__name__)

MODELS: Registry[nn.Module] = Registry("model")


class SimpleCNN(nn.Module):
    """Configurable version of the handout's starter network.

    Default (ModelConfig()): conv 3->16 k5 s2, ReLU, conv 16->16 k5 s2, ReLU, FC 1600->64, ReLU,
    FC 64->num_classes. Each conv block is conv [-> batch norm] -> activation [-> LRN] [-> max-pool].
    The FC input size is computed; a stack that shrinks the map below 1x1 raises ConfigError naming
    the layer, and so does a network over MAX_PARAMETERS (counted before anything is allocated).
    """

    def __init__(
        self, config: ModelConfig | None = None, num_classes: int = 11, in_channels: int = 3, image_size: int = 50
    ) -> None:
        super().__init__()
        config = config or ModelConfig()
        check_parameter_count(parameter_count(config, num_classes, in_channels, image_size), "this SimpleCNN")
        self.config = config
        self.input_shape = (in_channels, image_size, image_size)
        blocks: list[nn.Module] = []
        channels, size = in_channels, image_size
        for i, (filters, kernel, stride, padding) in enumerate(
            zip(config.filters, config.layer_kernels, config.layer_strides, config.layer_paddings)
        ):
            new_size = conv_output_size(size, kernel, stride, padding)
            if new_size < 1:
                raise ConfigError(
                    f"conv layer {i + 1} (kernel {kernel}, stride {stride}, padding {padding}) shrinks the "
                    f"{size}x{size} map below 1x1; use fewer layers, smaller kernels or strides, or padding"
                )
            conv: nn.Module = nn.Conv2d(channels, filters, kernel, stride=stride, padding=padding)
            if config.weight_norm:
                conv = nn.utils.parametrizations.weight_norm(conv)
            block: list[nn.Module] = [conv]
            if config.batch_norm:
                block.append(nn.BatchNorm2d(filters))
            block.append(make_activation(config.activation))
            if config.lrn:
                block.append(nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0))
            size = new_size
            if config.pool:
                pooled = conv_output_size(size, config.pool_size, config.pool_stride, 0)
                if pooled < 1:
                    raise ConfigError(
                        f"max-pool after conv layer {i + 1} (size {config.pool_size}, stride {config.pool_stride}) "
                        f"shrinks the {size}x{size} map below 1x1; turn pooling off or use fewer layers"
                    )
                block.append(nn.MaxPool2d(config.pool_size, config.pool_stride))
                size = pooled
            blocks.append(nn.Sequential(*block))
            channels = filters
        self.features = nn.Sequential(*blocks)
        self.feature_shape = (channels, size, size)
        head: list[nn.Module] = [nn.Flatten()]
        width = channels * size * size
        for hidden in config.fc_sizes:
            if config.dropout > 0:
                head.append(nn.Dropout(config.dropout))
            head += [nn.Linear(width, hidden), make_activation(config.activation)]
            width = hidden
        if config.dropout > 0:
            head.append(nn.Dropout(config.dropout))
        head.append(nn.Linear(width, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x (B, C, H, W) -> logits (B, num_classes); no softmax: the loss takes logits.
        return self.classifier(self.features(x))


def parameter_count(config: ModelConfig, num_classes: int, in_channels: int = 3, image_size: int = 50) -> int:
    """SimpleCNN's number of parameters, from its config alone (arithmetic: nothing is allocated)."""
    total, channels, size = 0, in_channels, image_size
    for filters, kernel, stride, padding in zip(
        config.filters, config.layer_kernels, config.layer_strides, config.layer_paddings
    ):
        total += filters * (channels * kernel * kernel + 1)  # conv weight and bias
        total += 2 * filters if config.batch_norm else 0  # batch-norm scale and shift
        total += filters if config.weight_norm else 0  # weight norm's per-filter magnitude g
        size = max(conv_output_size(size, kernel, stride, padding), 0)
        if config.pool:
            size = max(conv_output_size(size, config.pool_size, config.pool_stride, 0), 0)
        channels = filters
    width = channels * size * size
    for out in (*config.fc_sizes, num_classes):
        total += (width + 1) * out
        width = out
    return total


@MODELS.register("simple_cnn")
def _simple_cnn(
    num_classes: int = 11, config: ModelConfig | None = None, in_channels: int = 3, image_size: int = 50
) -> nn.Module:
    return SimpleCNN(config or ModelConfig(), num_classes=num_classes, in_channels=in_channels, image_size=image_size)


def create_model(name: str, num_classes: int, **kwargs) -> nn.Module:
    """Build a registered Part 1 model by name (ConfigError naming the choices for an unknown one)."""
    return MODELS.create(name, num_classes=num_classes, **kwargs)


def model_names() -> list[str]:
    """The registered Part 1 model names (what model.name may be)."""
    return MODELS.names()


def describe_layers(model: nn.Module, input_shape: tuple[int, ...]) -> list[dict]:
    """One row per leaf layer: name, type, output shape, parameters, multiply-adds (conv/linear).

    Runs one forward pass of a zero batch with hooks, so the shapes are the real ones.
    """
    rows: list[dict] = []
    hooks = []

    def hook(name: str):
        def fn(module: nn.Module, inputs, output) -> None:
            shape = tuple(output.shape[1:])
            params = sum(p.numel() for p in module.parameters())  # recurse: weight-norm parametrisations
            macs = 0
            if isinstance(module, nn.Conv2d):
                macs = (
                    int(torch.tensor(shape).prod())
                    * (module.in_channels // module.groups)
                    * module.kernel_size[0]
                    * module.kernel_size[1]
                )
            elif isinstance(module, nn.Linear):
                macs = module.in_features * module.out_features
            rows.append(
                {
                    "name": name,
                    "type": type(module).__name__,
                    "output_shape": shape,
                    "params": params,
                    "macs": macs,
                    "detail": _layer_detail(module),
                }
            )

        return fn

    for name, module in model.named_modules():
        if name and not list(module.children()) or isinstance(module, nn.Conv2d):
            if any(name.startswith(r + ".") for r in [h[0] for h in hooks]):
                continue
            hooks.append((name, module.register_forward_hook(hook(name))))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            param = next(model.parameters(), None)  # probe on the model's own device (cpu, cuda, mps)
            model(torch.zeros(1, *input_shape, device=param.device if param is not None else "cpu"))
    finally:
        model.train(was_training)
        for _, h in hooks:
            h.remove()
    return rows


def _layer_detail(module: nn.Module) -> str:
    if isinstance(module, nn.Conv2d):
        return f"{module.in_channels}->{module.out_channels}, k{module.kernel_size[0]} s{module.stride[0]} p{module.padding[0]}"
    if isinstance(module, nn.Linear):
        return f"{module.in_features}->{module.out_features}"
    if isinstance(module, nn.MaxPool2d):
        return f"size {module.kernel_size}, stride {module.stride}"
    if isinstance(module, nn.Dropout):
        return f"p={module.p}"
    return ""
