"""Seed every random number generator a lesson touches, in one call."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's ``random``, NumPy and torch (CPU and all GPUs) with ``seed``.

    Returns a fresh :class:`torch.Generator` seeded the same way, for the places
    (shuffling, splits) where a lesson wants randomness it owns explicitly.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int; got {type(seed).__name__} / seed phải là số nguyên")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)
