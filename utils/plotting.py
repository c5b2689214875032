"""The figures lessons draw more than once. Each returns its Figure and never calls ``show``.

In a notebook end the call with ``;`` (``utils.plot_history(history);``) so the figure is
drawn once by the inline backend rather than also echoed as the cell's value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

ArrayLike = torch.Tensor | np.ndarray | Sequence[float]


def _numpy(values: ArrayLike) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def plot_descent_path(
    f: Callable[[np.ndarray], np.ndarray],
    path: Sequence[float],
    x_range: tuple[float, float],
    *,
    title: str = "",
) -> Figure:
    """Draw ``f`` over ``x_range`` and the successive points ``path`` of a descent on it."""
    xs = np.linspace(*x_range, 400)
    steps = np.asarray(path, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, f(xs), color="tab:blue", label="f(x)")
    ax.plot(steps, f(steps), "-o", color="tab:orange", markersize=3, linewidth=1, label="steps")
    ax.scatter(steps[[0, -1]], f(steps[[0, -1]]), color=["tab:red", "tab:green"], zorder=3, s=50)
    ax.annotate("start", (steps[0], f(steps[:1])[0]), textcoords="offset points", xytext=(8, 0))
    ax.annotate("end", (steps[-1], f(steps[-1:])[0]), textcoords="offset points", xytext=(8, 8))
    ax.set(xlabel="x", ylabel="f(x)", title=title)
    ax.legend()
    return fig


def plot_history(
    history: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    one_panel: bool = False,
    log_scale: bool = False,
) -> Figure:
    """Curves per epoch; ``train_loss`` and ``test_loss`` share the "loss" panel, and so on.

    ``one_panel=True`` overlays every curve on one panel, to compare runs (e.g. learning rates);
    ``log_scale=True`` puts the y axis on a log scale.
    """
    if not history:
        raise ValueError("history is empty: train for at least one epoch first")
    panels: dict[str, list[str]] = {}
    for key in history:
        metric = key.split("_", 1)[1] if key.startswith(("train_", "test_", "val_")) else key
        panels.setdefault("" if one_panel else metric, []).append(key)
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
    for ax, (metric, keys) in zip(axes[0], panels.items(), strict=True):
        for key in keys:
            values = list(history[key])
            ax.plot(range(1, len(values) + 1), values, marker="o" if len(values) < 30 else None, label=key)
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        if log_scale:
            ax.set_yscale("log")
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_predictions(
    train_x: ArrayLike,
    train_y: ArrayLike,
    test_x: ArrayLike,
    test_y: ArrayLike,
    predictions: ArrayLike | None = None,
) -> Figure:
    """Scatter of training data (blue), test data (green) and predictions on the test inputs (red)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(_numpy(train_x), _numpy(train_y), s=8, c="tab:blue", label="train")
    ax.scatter(_numpy(test_x), _numpy(test_y), s=8, c="tab:green", label="test")
    if predictions is not None:
        ax.scatter(_numpy(test_x), _numpy(predictions), s=8, c="tab:red", label="predictions")
    ax.set(xlabel="X", ylabel="y")
    ax.legend()
    return fig


def show_images(
    images: torch.Tensor,
    labels: ArrayLike | None = None,
    predictions: ArrayLike | None = None,
    *,
    ncols: int = 8,
) -> Figure:
    """A grid of grey images, titled with the label, or ``label→prediction`` in red when wrong."""
    pictures = _numpy(images).reshape(len(images), *images.shape[-2:])
    if len(pictures) == 0:
        raise ValueError("no images to show")
    nrows = -(-len(pictures) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows), squeeze=False)
    true = None if labels is None else _numpy(labels)
    guess = None if predictions is None else _numpy(predictions)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(pictures):
            continue
        ax.imshow(pictures[index], cmap="gray")
        if true is not None and guess is not None:
            wrong = true[index] != guess[index]
            ax.set_title(f"{true[index]}→{guess[index]}", color="tab:red" if wrong else "black")
        elif true is not None:
            ax.set_title(str(true[index]))
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence[str] | None = None
) -> Figure:
    """Counts of true (rows) versus predicted (columns) classes, via scikit-learn's display."""
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix  # slow import, used here only

    matrix = confusion_matrix(_numpy(y_true), _numpy(y_pred))
    display = ConfusionMatrixDisplay(matrix, display_labels=labels)
    fig, ax = plt.subplots(figsize=(6, 6))
    display.plot(ax=ax, colorbar=False, values_format="d")
    return fig
