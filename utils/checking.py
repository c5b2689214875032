"""Checks for exercise tests, with messages in English and Vietnamese.

A failed check raises :class:`AssertionError` (what nbgrader and a learner expect from a
test) whose text names what was checked, what was expected and what was got, in both
languages. Checks never crash with an unrelated error on a wrong type: a learner who
returns a list instead of a tensor is told exactly that, and a function that raises the
wrong kind of exception is told which kind was expected (:func:`check_raises`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

Hint = tuple[str, str]

# Tensors up to this many elements are printed in full; larger ones are summarised, and a
# failed comparison then says where they differ instead of printing two identical summaries.
PRINTED_ELEMENTS = 12


def _fail(name: str, expected: Any, got: Any, hint: Hint | None, where: Sequence[str] = ()) -> AssertionError:
    lines = [
        f"✗ {name}",
        f"  expected / cần:      {expected}",
        f"  got / nhận được:     {got}",
        *(f"  {line}" for line in where),
    ]
    if hint is not None:
        lines.append(f"  hint: {hint[0]}")
        lines.append(f"  gợi ý: {hint[1]}")
    return AssertionError("\n".join(lines))


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= PRINTED_ELEMENTS:
            return f"tensor {value.tolist()} (shape {tuple(value.shape)}, dtype {value.dtype})"
        return f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}"
    return f"{value!r} ({type(value).__name__})"


def _index(flat_position: int, shape: torch.Size) -> tuple[int, ...]:
    """The multi-dimensional index of element ``flat_position`` of a tensor of ``shape``."""
    index = []
    for size in reversed(shape):
        index.append(flat_position % size)
        flat_position //= size
    return tuple(reversed(index))


def _where_they_differ(got: torch.Tensor, want: torch.Tensor, mismatch: torch.Tensor) -> list[str]:
    """Lines that locate the differences between two tensors of the same shape.

    Needed for tensors too large to print: their two summaries would read the same.
    """
    count = int(mismatch.sum())
    first = _index(int(torch.nonzero(mismatch.flatten())[0]), got.shape)
    lines = [
        f"where / ở đâu:       {count} of {mismatch.numel()} elements differ / phần tử khác nhau; "
        f"first at index / đầu tiên ở chỉ số {first}: expected / cần {want[first].item()!r}, "
        f"got / nhận được {got[first].item()!r}"
    ]
    if got.is_floating_point() or want.is_floating_point():
        gap = (got.double() - want.double()).abs().flatten()
        gap = torch.where(torch.isnan(gap), torch.full_like(gap, math.inf), gap)
        largest = int(gap.argmax())
        lines.append(
            f"largest |difference| / |chênh lệch| lớn nhất: {gap[largest].item():.4g} "
            f"at index / ở chỉ số {_index(largest, got.shape)}"
        )
    return lines


def check_true(condition: bool, name: str, expected: str, got: Any, hint: Hint | None = None) -> None:
    """Fail with the bilingual message unless ``condition`` holds.

    ``expected`` describes the requirement in words (both languages if it is prose).
    """
    if not condition:
        raise _fail(name, expected, got, hint)


def _python_equal(actual: Any, expected: Any) -> bool:
    """``actual == expected`` for plain Python values, False instead of an error (e.g. lists of tensors)."""
    try:
        return bool(type(actual) is type(expected) and actual == expected)
    except Exception:  # an ambiguous comparison is simply "not equal"
        return False


def check_equal(actual: Any, expected: Any, name: str, hint: Hint | None = None) -> None:
    """Exact equality for Python values, or for tensors (same shape, dtype and values; NaN equals NaN)."""
    if isinstance(expected, torch.Tensor):
        if not (
            isinstance(actual, torch.Tensor)
            and actual.shape == expected.shape
            and actual.dtype == expected.dtype
        ):
            raise _fail(name, _describe(expected), _describe(actual), hint)
        got, want = actual.detach().cpu(), expected.detach().cpu()
        mismatch = ~_same(got, want)
        if bool(mismatch.any()):
            where = _where_they_differ(got, want, mismatch) if want.numel() > PRINTED_ELEMENTS else []
            raise _fail(name, _describe(expected), _describe(actual), hint, where)
        return
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        ok = not isinstance(actual, bool) and actual == expected
    else:
        ok = _python_equal(actual, expected)
    if not ok:
        raise _fail(name, _describe(expected), _describe(actual), hint)


def _same(got: torch.Tensor, want: torch.Tensor) -> torch.Tensor:
    """Element-wise exact equality in which NaN equals NaN."""
    return (got == want) | (torch.isnan(got) & torch.isnan(want))


def check_close(
    actual: Any,
    expected: float | Sequence[float] | torch.Tensor,
    name: str,
    *,
    atol: float = 1e-4,
    rtol: float = 0.0,
    hint: Hint | None = None,
) -> None:
    """Numeric closeness for a number or a tensor: ``|actual - expected| <= atol + rtol·|expected|``.

    For tensors too large to print, a failure says how many elements differ, the first index
    where they do and the largest difference.
    """
    if isinstance(expected, torch.Tensor | list | tuple):
        want = torch.as_tensor(expected, dtype=torch.float64).detach().cpu()
        if not isinstance(actual, torch.Tensor):
            raise _fail(name, _describe(want), _describe(actual), hint)
        if actual.is_complex():
            raise _fail(name, _describe(want), f"a complex tensor, dtype {actual.dtype}", hint)
        got = actual.detach().cpu().to(torch.float64)
        if got.shape != want.shape:
            raise _fail(name, f"shape {tuple(want.shape)}", f"shape {tuple(got.shape)}", hint)
        within = (got - want).abs() <= atol + rtol * want.abs()
        if not bool(within.all()):
            where = _where_they_differ(got, want, ~within) if want.numel() > PRINTED_ELEMENTS else []
            raise _fail(name, _describe(want), _describe(got), hint, where)
        return
    if isinstance(actual, torch.Tensor) and actual.numel() == 1 and not actual.is_complex():
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


def check_raises(
    call: Callable[[], Any],
    exception: type[BaseException] | tuple[type[BaseException], ...],
    name: str,
    hint: Hint | None = None,
) -> BaseException:
    """``call()`` must raise ``exception``; return what it raised.

    A different exception is reported as such (its type and message next to the type that was
    expected) rather than escaping as an unrelated traceback. An :class:`AssertionError` raised
    inside ``call`` is a check of its own (a test's spy refusing a forbidden tool) and passes
    through unchanged, unless it is the exception expected.
    """
    kinds = exception if isinstance(exception, tuple) else (exception,)
    wanted = " or ".join(kind.__name__ for kind in kinds)
    try:
        returned = call()
    except kinds as raised:
        return raised
    except AssertionError:
        raise
    except Exception as raised:  # any other exception is the learner's to see
        raise _fail(
            name, f"raises / báo lỗi {wanted}", f"{type(raised).__name__}: {raised}", hint
        ) from raised
    raise _fail(
        name,
        f"raises / báo lỗi {wanted}",
        f"no exception / không có lỗi; returned {_describe(returned)}",
        hint,
    )
