"""Each figure helper draws what it promises and rejects empty input."""

import numpy as np
import pytest
import torch

from utils import plot_confusion_matrix, plot_descent_path, plot_history, plot_predictions, show_images


def test_descent_path_draws_function_and_steps():
    fig = plot_descent_path(lambda x: 3 * x**2 - 2 * x + 3, [-1.0, -0.5, 0.1, 0.3], (-1.5, 1.5))
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2 and len(lines[1].get_xdata()) == 4


def test_history_groups_train_and_test_curves_per_metric():
    fig = plot_history({"train_loss": [3, 2], "test_loss": [3.5, 2.5], "train_accuracy": [0.5, 0.7]})
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].get_lines()) == 2
    with pytest.raises(ValueError):
        plot_history({})


def test_history_can_overlay_runs_on_one_log_panel():
    fig = plot_history({"lr=0.1": [1.0, 0.1], "lr=0.01": [1.0, 0.5]}, one_panel=True, log_scale=True)
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 2
    assert fig.axes[0].get_yscale() == "log"


def test_predictions_scatter_has_three_series():
    x = torch.arange(5.0)
    fig = plot_predictions(x, x, x, x, predictions=x + 1)
    assert len(fig.axes[0].collections) == 3


def test_image_grid_marks_wrong_predictions_in_red():
    images = torch.rand(3, 1, 28, 28)
    fig = show_images(images, labels=[1, 2, 3], predictions=[1, 5, 3], ncols=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["1→1", "2→5", "3→3"]
    assert fig.axes[1].title.get_color() == "tab:red"
    with pytest.raises(ValueError):
        show_images(torch.zeros(0, 28, 28))


def test_confusion_matrix_counts():
    fig = plot_confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), labels=["a", "b"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["0", "1", "1", "1"]
