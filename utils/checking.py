"""Checks for exercise tests, with messages in English and Vietnamese.

A failed check raises :class:`AssertionError` (what nbgrader and a learner expect from a
test) whose text names what was checked, what was expected and what was got, in both
languages. Checks never crash with an unrelated error on a wrong type: a learner who
returns a list instead of a tensor is told exactly that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

Hint = tuple[str, str]


def _fail(name: str, expected: Any, got: Any, hint: Hint | None) -> AssertionError:
    lines = [
        f"✗ {name}",
        f"  expected / cần:      {expected}",
        f"  got / nhận được:     {got}",
    ]
    if hint is not None:
        lines.append(f"  hint: {hint[0]}")
        lines.append(f"  gợi ý: {hint[1]}")
    return AssertionError("\n".join(lines))


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= 12:
            return f"tensor {value.tolist()} (shape {tuple(value.shape)}, dtype {value.dtype})"
        return f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}"
    return f"{value!r} ({type(value).__name__})"


def check_true(condition: bool, name: str, expected: str, got: Any, hint: Hint | None = None) -> None:
    """Fail with the bilingual message unless ``condition`` holds.

    ``expected`` describes the requirement in words (both languages if it is prose).
    """
    if not condition:
        raise _fail(name, expected, got, hint)


def check_equal(actual: Any, expected: Any, name: str, hint: Hint | None = None) -> None:
    """Exact equality for Python values, or for tensors (same shape, dtype and values)."""
    if isinstance(expected, torch.Tensor):
        ok = (
            isinstance(actual, torch.Tensor)
            and actual.shape == expected.shape
            and actual.dtype == expected.dtype
            and torch.equal(actual.cpu(), expected.cpu())
        )
    else:
        ok = type(actual) is type(expected) and actual == expected
        if isinstance(expected, int | float) and isinstance(actual, int | float):
            ok = not isinstance(actual, bool) and actual == expected
    if not ok:
        raise _fail(name, _describe(expected), _describe(actual), hint)


def check_close(
    actual: Any,
    expected: float | Sequence[float] | torch.Tensor,
    name: str,
    *,
    atol: float = 1e-4,
    rtol: float = 0.0,
    hint: Hint | None = None,
) -> None:
    """Numeric closeness for a number or a tensor: ``|actual - expected| <= atol + rtol·|expected|``."""
    if isinstance(expected, torch.Tensor | list | tuple):
        want = torch.as_tensor(expected, dtype=torch.float64)
        if not isinstance(actual, torch.Tensor):
            raise _fail(name, _describe(want), _describe(actual), hint)
        got = actual.detach().cpu().to(torch.float64)
        if got.shape != want.shape:
            raise _fail(name, f"shape {tuple(want.shape)}", f"shape {tuple(got.shape)}", hint)
        if not torch.allclose(got, want.cpu(), atol=atol, rtol=rtol):
            raise _fail(name, _describe(want), _describe(got), hint)
        return
    if isinstance(actual, torch.Tensor) and actual.numel() == 1:
        actual = actual.item()
    if not isinstance(actual, int | float) or isinstance(actual, bool) or math.isnan(actual):
        raise _fail(name, f"a number ≈ {expected}", _describe(actual), hint)
    if abs(actual - float(expected)) > atol + rtol * abs(float(expected)):
        raise _fail(name, f"{expected} (± {atol + rtol * abs(float(expected)):.2g})", actual, hint)


def check_shape(actual: Any, shape: Sequence[int], name: str, hint: Hint | None = None) -> None:
    """The value is a tensor of exactly ``shape``."""
    if not isinstance(actual, torch.Tensor) or tuple(actual.shape) != tuple(shape):
        got = f"shape {tuple(actual.shape)}" if isinstance(actual, torch.Tensor) else _describe(actual)
        raise _fail(name, f"a tensor of shape {tuple(shape)}", got, hint)
