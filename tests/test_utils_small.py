"""Seeding, timing, metrics and the bilingual checks."""

import random

import numpy as np
import pytest
import torch

from utils import (
    Accumulator,
    Timer,
    accuracy,
    check_close,
    check_equal,
    check_raises,
    check_shape,
    check_true,
)
from utils.seeding import seed_everything


def test_seed_everything_repeats_all_three_generators():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()

    seed_everything(7)
    first = draw()
    generator = seed_everything(7)
    assert draw() == first
    assert torch.equal(torch.rand(3, generator=generator), torch.rand(3, generator=seed_everything(7)))


def test_seed_must_be_an_int():
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything("42")


def test_timer_records_each_block():
    timer = Timer()
    with timer:
        sum(range(1000))
    timer.start()
    timer.stop()
    assert len(timer.times) == 2 and timer.total >= timer.average > 0


def test_timer_stop_before_start_is_an_error():
    with pytest.raises(RuntimeError):
        Timer().stop()


def test_accuracy_and_its_input_errors():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 0.0], [0.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 1])) == 0.75
    with pytest.raises(ValueError, match=r"got \(4, 2\) and \(3,\)"):
        accuracy(logits, torch.tensor([0, 1, 1]))


def test_accumulator_sums_and_checks_arity():
    totals = Accumulator(2)
    totals.add(1, 2.5)
    totals.add(3, 0.5)
    assert (totals[0], totals[1]) == (4.0, 3.0)
    with pytest.raises(ValueError):
        totals.add(1)


def test_check_close_passes_and_fails_with_bilingual_message():
    check_close(0.30001, 0.3, name="x")
    check_close(torch.tensor([1.0, 2.0]), [1.0, 2.00001], name="v")
    with pytest.raises(AssertionError) as raised:
        check_close(0.5, 0.3, name="x_final", hint=("look at the sign", "xem lại dấu"))
    message = str(raised.value)
    for fragment in ("x_final", "expected / cần", "got / nhận được", "0.5", "gợi ý: xem lại dấu"):
        assert fragment in message


def test_check_close_rejects_wrong_types_and_shapes_as_assertions():
    with pytest.raises(AssertionError, match="a number"):
        check_close("0.3", 0.3, name="x")
    with pytest.raises(AssertionError, match="a number"):
        check_close(float("nan"), 0.3, name="x")
    with pytest.raises(AssertionError, match="shape"):
        check_close(torch.zeros(3), [0.0, 0.0], name="v")
    with pytest.raises(AssertionError, match="list"):
        check_close([0.0, 0.0], [0.0, 0.0], name="v")


def test_check_equal_compares_tensor_dtype_and_python_types():
    check_equal(torch.tensor([1, 2]), torch.tensor([1, 2]), name="t")
    with pytest.raises(AssertionError, match="int64"):
        check_equal(torch.tensor([1.0, 2.0]), torch.tensor([1, 2]), name="t")
    with pytest.raises(AssertionError):
        check_equal(True, 1, name="flag")
    with pytest.raises(AssertionError):
        check_equal("55", 55, name="count")
    check_equal(55, 55, name="count")


def test_check_shape_and_check_true():
    check_shape(torch.zeros(2, 3), (2, 3), name="x")
    with pytest.raises(AssertionError, match=r"shape \(3, 2\)"):
        check_shape(torch.zeros(3, 2), (2, 3), name="x")
    with pytest.raises(AssertionError, match="nhận được"):
        check_true(False, name="grad cleared", expected="x.grad is None / x.grad là None", got="tensor")


def test_check_close_on_a_large_tensor_says_where_it_differs():
    want = torch.zeros(4, 5)
    got = want.clone()
    got[1, 3], got[2, 0] = 0.5, -2.0
    with pytest.raises(AssertionError) as raised:
        check_close(got, want, name="grid")
    message = str(raised.value)
    assert "2 of 20 elements differ" in message
    assert "first at index / đầu tiên ở chỉ số (1, 3)" in message
    assert "largest |difference|" in message and "2 at index / ở chỉ số (2, 0)" in message
    small = torch.zeros(3)
    with pytest.raises(AssertionError) as raised:
        check_close(small + 1, small, name="small")
    assert "where / ở đâu" not in str(raised.value)  # printed in full: no need to locate


def test_check_close_counts_nan_as_a_difference():
    got = torch.zeros(20)
    got[7] = float("nan")
    with pytest.raises(AssertionError, match=r"first at index / đầu tiên ở chỉ số \(7,\)"):
        check_close(got, torch.zeros(20), name="with nan")


def test_check_equal_on_a_large_tensor_says_where_it_differs():
    want = torch.arange(30)
    got = want.clone()
    got[17] = -1
    with pytest.raises(
        AssertionError, match=r"1 of 30 elements differ.*\(17,\): expected / cần 17, got / nhận được -1"
    ):
        check_equal(got, want, name="labels")
    check_equal(torch.full((20,), float("nan")), torch.full((20,), float("nan")), name="nan equals nan")


def test_check_equal_never_crashes_on_ambiguous_values():
    with pytest.raises(AssertionError, match="tensors"):
        check_equal([torch.ones(2)], [torch.zeros(2)], name="tensors")


def test_check_close_rejects_a_complex_tensor_as_an_assertion():
    with pytest.raises(AssertionError, match="complex"):
        check_close(torch.zeros(2, dtype=torch.complex64), [0.0, 0.0], name="v")


def test_check_raises_reports_the_wrong_exception_and_no_exception():
    def divide(a, b):
        if b == 0:
            raise ValueError("b must not be 0")
        return a / b

    error = check_raises(lambda: divide(1, 0), ValueError, "b = 0")
    assert "must not be 0" in str(error)
    with pytest.raises(AssertionError) as raised:
        check_raises(lambda: divide("1", 2), ValueError, "a string")
    message = str(raised.value)
    assert "raises / báo lỗi ValueError" in message and "TypeError: unsupported operand" in message
    with pytest.raises(AssertionError, match=r"no exception / không có lỗi; returned 0\.5"):
        check_raises(lambda: divide(1, 2), (ValueError, ZeroDivisionError), "no error")


def test_check_raises_lets_a_refusal_from_a_spy_through():
    def refuse():
        raise AssertionError("✗ forbidden tool")

    with pytest.raises(AssertionError, match="forbidden tool"):
        check_raises(refuse, ValueError, "uses a forbidden tool")
