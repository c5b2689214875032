"""Shared fixtures. The notebook and grading tests need MNIST: CI points COURSE_DATA_MIRROR at
the offline mirror; a developer machine may have the data already or download it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # the plotting tests draw off-screen
