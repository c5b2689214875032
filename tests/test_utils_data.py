"""The mirror → verify → torchvision route, its errors, and the preloaded tensors."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path
from urllib.error import URLError

import pytest
import torch

from utils import data


@pytest.fixture
def fake_mnist(tmp_path, monkeypatch):
    """A mirror of two small fake files, with torchvision's checksum list and loader replaced."""
    mirror = tmp_path / "mirror" / "MNIST" / "raw"
    mirror.mkdir(parents=True)
    resources = []
    for name in ("a-ubyte.gz", "b-ubyte.gz"):
        payload = gzip.compress(name.encode())
        (mirror / name).write_bytes(payload)
        resources.append((name, hashlib.md5(payload).hexdigest()))
    monkeypatch.setattr(data.datasets.MNIST, "resources", resources)
    loaded = []
    monkeypatch.setattr(data.datasets, "MNIST", _recording_mnist(data.datasets.MNIST, loaded))
    monkeypatch.setenv(data.MIRROR_VAR, str(tmp_path / "mirror"))
    return tmp_path, mirror, loaded


def _recording_mnist(real, loaded):
    class FakeMNIST:
        resources = real.resources

        def __init__(self, root, train, download):
            loaded.append((Path(root), train, download))

    return FakeMNIST


def test_mirror_files_are_copied_verified_then_handed_to_torchvision(fake_mnist):
    tmp_path, _, loaded = fake_mnist
    root = data.prepare_mnist(tmp_path / "data")
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == ["a-ubyte.gz", "b-ubyte.gz"]
    assert loaded == [(root, True, True), (root, False, True)]


def test_mirror_may_point_at_the_raw_folder_itself(fake_mnist, monkeypatch):
    tmp_path, mirror, _ = fake_mnist
    monkeypatch.setenv(data.MIRROR_VAR, str(mirror))
    data.prepare_mnist(tmp_path / "data")


def test_corrupted_mirror_file_is_an_error(fake_mnist):
    tmp_path, mirror, _ = fake_mnist
    (mirror / "a-ubyte.gz").write_bytes(b"garbage")
    with pytest.raises(data.DataError, match="corrupted"):
        data.prepare_mnist(tmp_path / "data")
    assert not (tmp_path / "data" / "MNIST" / "raw" / "a-ubyte.gz").exists()


def test_corrupted_local_file_is_replaced_from_the_mirror(fake_mnist):
    tmp_path, mirror, _ = fake_mnist
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "a-ubyte.gz").write_bytes(b"truncated")
    data.prepare_mnist(tmp_path / "data")
    assert (raw / "a-ubyte.gz").read_bytes() == (mirror / "a-ubyte.gz").read_bytes()


def test_corrupted_local_file_without_mirror_is_an_error(fake_mnist, monkeypatch):
    tmp_path, _, _ = fake_mnist
    monkeypatch.delenv(data.MIRROR_VAR)
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "a-ubyte.gz").write_bytes(b"truncated")
    with pytest.raises(data.DataError, match="Delete it"):
        data.prepare_mnist(tmp_path / "data")


def test_missing_mirror_folder_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(data.MIRROR_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(data.DataError, match="not a folder"):
        data.prepare_mnist(tmp_path / "data")


def test_offline_without_mirror_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.delenv(data.MIRROR_VAR, raising=False)

    class OfflineMNIST:
        resources = data.datasets.MNIST.resources

        def __init__(self, *args, **kwargs):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz") from URLError("no network")

    monkeypatch.setattr(data.datasets, "MNIST", OfflineMNIST)
    with pytest.raises(data.DataError, match=data.MIRROR_VAR) as raised:
        data.prepare_mnist(tmp_path / "data")
    assert "kết nối mạng" in str(raised.value)


def test_data_dir_prefers_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_DIR_VAR, str(tmp_path))
    assert data.data_dir() == tmp_path.resolve()
    monkeypatch.delenv(data.DATA_DIR_VAR)
    assert data.data_dir() == Path(__file__).resolve().parent.parent / "data"


def test_load_mnist_tensors_rejects_non_bool_train():
    with pytest.raises(TypeError, match="True or False"):
        data.load_mnist_tensors(train="yes")


@pytest.mark.skipif(
    not os.environ.get(data.MIRROR_VAR) and not (data.data_dir() / "MNIST" / "raw").is_dir(),
    reason="needs MNIST: set COURSE_DATA_MIRROR (CI does) or run `make data`",
)
def test_preloaded_tensors_equal_the_per_sample_totensor_pipeline():
    from torchvision import datasets, transforms

    images, labels = data.load_mnist_tensors(train=False)
    assert images.shape == (10000, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and labels[:5].tolist() == [7, 2, 1, 0, 4]
    classic = datasets.MNIST(data.prepare_mnist(), train=False, transform=transforms.ToTensor())
    for index in (0, 1234, 9999):
        image, label = classic[index]
        assert torch.equal(images[index], image) and labels[index].item() == label
    images[0] += 1  # callers get their own copy
    assert data.load_mnist_tensors(train=False)[0][0].max() <= 1.0
