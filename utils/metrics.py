"""Classification accuracy and a running-sum accumulator."""

from __future__ import annotations

import torch


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows whose arg-max in ``logits`` equals the class in ``targets``."""
    if logits.ndim != 2 or targets.ndim != 1 or len(logits) != len(targets):
        raise ValueError(
            "accuracy expects logits of shape (N, C) and targets of shape (N,); "
            f"got {tuple(logits.shape)} and {tuple(targets.shape)}"
        )
    if len(targets) == 0:
        raise ValueError("accuracy of an empty batch is undefined")
    return (logits.argmax(dim=1) == targets).float().mean().item()


class Accumulator:
    """Sum ``n`` quantities over batches (after d2l), e.g. loss·batch, correct, count."""

    def __init__(self, n: int) -> None:
        self.sums = [0.0] * n

    def add(self, *values: float) -> None:
        if len(values) != len(self.sums):
            raise ValueError(f"expected {len(self.sums)} values, got {len(values)}")
        self.sums = [s + float(v) for s, v in zip(self.sums, values, strict=True)]

    def __getitem__(self, index: int) -> float:
        return self.sums[index]
