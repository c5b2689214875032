"""Pick the compute device from the ``COURSE_DEVICE`` environment variable.

Why an environment variable: the same notebooks run on a laptop CPU, in Colab with a GPU
and under the autograder, and nbgrader/nbval kernels inherit the caller's environment.
Asking for CUDA where there is none is an error, never a silent fallback to the CPU:
a learner who believes they train on a GPU should not be measuring a CPU.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

ENV_VAR = "COURSE_DEVICE"
CHOICES = ("auto", "cpu", "cuda")


class DeviceError(RuntimeError):
    """The requested device is unknown or not available on this machine."""


def get_device(environ: Mapping[str, str] | None = None) -> torch.device:
    """Return the device the course should use.

    ``COURSE_DEVICE`` may be ``cpu``, ``cuda`` or ``auto`` (the default: CUDA when available).
    ``environ`` defaults to :data:`os.environ`; tests pass their own mapping.
    """
    environ = os.environ if environ is None else environ
    requested = environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if requested not in CHOICES:
        raise DeviceError(
            f"{ENV_VAR} must be one of {', '.join(CHOICES)}; got {requested!r}. / "
            f"{ENV_VAR} phải là một trong {', '.join(CHOICES)}; nhận được {requested!r}."
        )
    cuda_ok = torch.cuda.is_available()
    if requested == "cuda" and not cuda_ok:
        raise DeviceError(
            f"{ENV_VAR}=cuda but torch.cuda.is_available() is False on this machine "
            f"(torch {torch.__version__}). Use {ENV_VAR}=cpu or auto, or run on a GPU machine. / "
            f"{ENV_VAR}=cuda nhưng máy này không có CUDA. Hãy đặt {ENV_VAR}=cpu hoặc auto, "
            "hoặc chạy trên máy có GPU."
        )
    if requested == "cuda" or (requested == "auto" and cuda_ok):
        return torch.device("cuda")
    return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    """One line a learner can read: the device and, for CUDA, the GPU's name."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
