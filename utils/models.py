"""Models that a lesson first writes by hand and a later lesson reuses.

``make_cnn`` is lesson 09's small CNN. Lesson 10 transfers its convolutional body from one task to
another, so the layers carry names (``conv1`` … ``fc``) and ``model.fc`` is always the last layer.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn


def make_cnn(
    num_classes: int = 10, channels: tuple[int, int] = (12, 24), hidden: int | None = 64
) -> nn.Sequential:
    """Two conv → BatchNorm → ReLU → max-pool blocks for 1 × 28 × 28 images, then the head.

    With ``hidden`` (lesson 09), the head is ``fc1`` → ReLU → ``fc``. With ``hidden=None`` it is ``fc``
    alone, reading the flattened ``channels[1] × 7 × 7`` feature maps: then every layer but ``fc`` is
    convolutional, which is the split lesson 10 needs (a body of general features, a one-layer head).
    The convolutions have no bias because the BatchNorm after each one adds its own shift.
    """
    if num_classes < 1 or min(channels) < 1 or (hidden is not None and hidden < 1):
        raise ValueError(f"sizes must be positive; got {num_classes=}, {channels=}, {hidden=}")
    first, second = channels
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        conv1=nn.Conv2d(1, first, kernel_size=3, padding=1, bias=False),
        bn1=nn.BatchNorm2d(first),
        relu1=nn.ReLU(),
        pool1=nn.MaxPool2d(2),
        conv2=nn.Conv2d(first, second, kernel_size=3, padding=1, bias=False),
        bn2=nn.BatchNorm2d(second),
        relu2=nn.ReLU(),
        pool2=nn.MaxPool2d(2),
        flatten=nn.Flatten(),
    )
    if hidden is None:
        layers["fc"] = nn.Linear(second * 7 * 7, num_classes)
    else:
        layers["fc1"] = nn.Linear(second * 7 * 7, hidden)
        layers["relu3"] = nn.ReLU()
        layers["fc"] = nn.Linear(hidden, num_classes)
    return nn.Sequential(layers)
