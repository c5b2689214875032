"""A small stopwatch, after d2l's ``Timer``."""

from __future__ import annotations

import time


class Timer:
    """Record several running times; ``with Timer() as t:`` times one block."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._started: float | None = None

    def start(self) -> None:
        self._started = time.perf_counter()

    def stop(self) -> float:
        """Stop, record and return the seconds since :meth:`start`."""
        if self._started is None:
            raise RuntimeError("Timer.stop() called before start()")
        elapsed = time.perf_counter() - self._started
        self.times.append(elapsed)
        self._started = None
        return elapsed

    def __enter__(self) -> Timer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def total(self) -> float:
        return sum(self.times)

    @property
    def average(self) -> float:
        return self.total / len(self.times) if self.times else 0.0
