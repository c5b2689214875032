"""One epoch of training, one pass of evaluation, and ``fit`` that records a history.

The shape follows the typed ``train_step``/``test_step`` of Zero to Mastery: each returns a
dict of plain floats. The helpers never move the model: they read its device and move
each batch there, so the caller stays in charge of ``model.to(device)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn
from tqdm.auto import tqdm

from utils.metrics import Accumulator

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's parameters (an error if it has none or they are split)."""
    devices = {parameter.device for parameter in model.parameters()}
    if len(devices) != 1:
        raise ValueError(
            f"the model's parameters must all be on one device; found {sorted(map(str, devices))}"
        )
    return devices.pop()


def _is_classification(outputs: torch.Tensor, targets: torch.Tensor) -> bool:
    return outputs.ndim == 2 and targets.ndim == 1 and not targets.is_floating_point()


def _record(totals: Accumulator, loss: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor) -> None:
    count = len(targets)
    correct = (
        (outputs.argmax(dim=1) == targets).sum().item()
        if _is_classification(outputs, targets)
        else float("nan")
    )
    totals.add(loss.item() * count, correct, count)


def _summary(totals: Accumulator) -> dict[str, float]:
    if totals[2] == 0:
        raise ValueError("the batches were empty: nothing to train or evaluate on")
    summary = {"loss": totals[0] / totals[2]}
    if totals[1] == totals[1]:  # not NaN: the task was classification
        summary["accuracy"] = totals[1] / totals[2]
    return summary


def train_epoch(
    model: nn.Module,
    batches: Batches,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    *,
    progress: bool = False,
) -> dict[str, float]:
    """Train for one pass over ``batches``; return mean ``loss`` (and ``accuracy`` for class labels)."""
    device = model_device(model)
    model.train()
    totals = Accumulator(3)  # loss·count, correct, count
    for features, targets in tqdm(batches, desc="train", leave=False, disable=not progress):
        features, targets = features.to(device), targets.to(device)
        outputs = model(features)
        loss = loss_fn(outputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        _record(totals, loss.detach(), outputs.detach(), targets)
    return _summary(totals)


def evaluate(
    model: nn.Module, batches: Batches, loss_fn: LossFn, *, progress: bool = False
) -> dict[str, float]:
    """Mean ``loss`` (and ``accuracy``) over ``batches`` in eval mode, without building a graph."""
    device = model_device(model)
    model.eval()
    totals = Accumulator(3)
    with torch.inference_mode():
        for features, targets in tqdm(batches, desc="eval", leave=False, disable=not progress):
            features, targets = features.to(device), targets.to(device)
            outputs = model(features)
            _record(totals, loss_fn(outputs, targets), outputs, targets)
    return _summary(totals)


def fit(
    model: nn.Module,
    train_batches: Batches,
    test_batches: Batches,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    *,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    progress: bool = True,
) -> dict[str, list[float]]:
    """Alternate :func:`train_epoch` and :func:`evaluate` for ``epochs``; return the history.

    Keys: ``train_loss``, ``test_loss`` and, for classification, ``train_accuracy``,
    ``test_accuracy`` — one value per epoch, ready for :func:`utils.plot_history`.
    A ``scheduler``, if given, steps once at the end of every epoch.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int; got {epochs!r}")
    history: dict[str, list[float]] = {}
    bar = tqdm(range(epochs), desc="epochs", disable=not progress)
    for _ in bar:
        results = {
            **{f"train_{k}": v for k, v in train_epoch(model, train_batches, loss_fn, optimizer).items()},
            **{f"test_{k}": v for k, v in evaluate(model, test_batches, loss_fn).items()},
        }
        for key, value in results.items():
            history.setdefault(key, []).append(value)
        if scheduler is not None:
            scheduler.step()
        bar.set_postfix({key: f"{value:.4f}" for key, value in results.items()})
    return history
