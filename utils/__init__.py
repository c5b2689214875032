"""Helpers for the PyTorch Core course.

Each module holds one concern; every helper was first written by hand in a lesson
before it moved here, so a learner can always read what it does:

- :mod:`utils.device`   — choose CPU/CUDA from ``COURSE_DEVICE``
- :mod:`utils.seeding`  — one call seeds Python, NumPy and torch
- :mod:`utils.data`     — MNIST from an offline mirror or download, preloaded tensors
- :mod:`utils.checking` — bilingual checks used by the exercise tests
- :mod:`utils.metrics`  — accuracy, :class:`Accumulator`
- :mod:`utils.models`   — ``make_cnn``, lesson 09's small CNN (lesson 10 reuses it)
- :mod:`utils.timing`   — :class:`Timer`
- :mod:`utils.training` — one epoch of training / evaluation, ``fit`` with a history dict
- :mod:`utils.plotting` — the figures the lessons draw more than once

Importing the package has no side effects: nothing is downloaded, seeded or plotted.
"""

from utils.checking import check_close, check_equal, check_raises, check_shape, check_true
from utils.data import (
    MNIST_CLASSES,
    TensorBatches,
    data_dir,
    load_mnist_tensors,
    prepare_mnist,
)
from utils.device import DeviceError, describe_device, get_device
from utils.metrics import Accumulator, accuracy
from utils.models import make_cnn
from utils.plotting import (
    plot_confusion_matrix,
    plot_descent_path,
    plot_history,
    plot_predictions,
    show_images,
)
from utils.seeding import seed_everything
from utils.timing import Timer
from utils.training import evaluate, fit, train_epoch

__all__ = [
    "MNIST_CLASSES",
    "Accumulator",
    "DeviceError",
    "TensorBatches",
    "Timer",
    "accuracy",
    "check_close",
    "check_equal",
    "check_raises",
    "check_shape",
    "check_true",
    "data_dir",
    "describe_device",
    "evaluate",
    "fit",
    "get_device",
    "load_mnist_tensors",
    "make_cnn",
    "plot_confusion_matrix",
    "plot_descent_path",
    "plot_history",
    "plot_predictions",
    "prepare_mnist",
    "seed_everything",
    "show_images",
    "train_epoch",
]
