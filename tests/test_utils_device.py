import pytest
import torch

from utils.device import DeviceError, describe_device, get_device


def test_cpu_is_always_available():
    assert get_device({"COURSE_DEVICE": "cpu"}) == torch.device("cpu")


def test_auto_follows_cuda_availability(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device({}) == torch.device("cpu")
    assert get_device({"COURSE_DEVICE": "auto"}) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device({"COURSE_DEVICE": "AUTO"}) == torch.device("cuda")


def test_cuda_without_cuda_is_an_error_not_a_fallback(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="COURSE_DEVICE=cuda") as raised:
        get_device({"COURSE_DEVICE": "cuda"})
    assert "không có CUDA" in str(raised.value)


def test_unknown_value_names_the_choices():
    with pytest.raises(DeviceError, match="got 'gpu'"):
        get_device({"COURSE_DEVICE": "gpu"})


def test_describe_cpu_mentions_threads():
    assert describe_device(torch.device("cpu")).startswith("cpu (")
