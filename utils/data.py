"""MNIST for the course: where it lives, how it gets there, and a fast preloaded form.

The lessons call the real ``torchvision.datasets.MNIST`` API. This module only makes sure
the four original files are in place first, because the course must also run where there
is no internet (CI, a classroom):

1. ``COURSE_DATA_MIRROR`` (optional) names a folder holding ``MNIST/raw/*.gz``. Each file is
   checked against torchvision's own md5 before and after it is copied in.
2. Without a mirror, torchvision downloads the files as usual.
3. Whatever the route, a file whose checksum is wrong is an error, never silently used.

``load_mnist_tensors`` then keeps the whole set in one tensor: a batch is one tensor index
instead of a hundred PIL images decoded and converted one by one (lesson 06 times both).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import torch
from torchvision import datasets

DATA_DIR_VAR = "COURSE_DATA_DIR"
MIRROR_VAR = "COURSE_DATA_MIRROR"
MNIST_CLASSES: tuple[str, ...] = tuple(str(digit) for digit in range(10))
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


class DataError(RuntimeError):
    """MNIST could not be made available, or a file failed its checksum."""


def data_dir() -> Path:
    """Folder that holds the datasets.

    ``COURSE_DATA_DIR`` if set; else ``data/`` of the course checkout when the package is
    installed in editable mode from it (JupyterLab, nbgrader, CI); else a per-user cache
    (a plain ``pip install``, e.g. in Colab).
    """
    if os.environ.get(DATA_DIR_VAR):
        return Path(os.environ[DATA_DIR_VAR]).expanduser().resolve()
    if (_PACKAGE_ROOT / "pyproject.toml").is_file() and (_PACKAGE_ROOT / "solutions").is_dir():
        return _PACKAGE_ROOT / "data"
    return Path.home() / ".cache" / "pytorch-core" / "data"


def md5sum(path: Path) -> str:
    digest = hashlib.md5()  # md5 is what torchvision publishes for MNIST
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _mirror_raw_folder(mirror: Path) -> Path:
    """Accept the mirror as the datasets folder (``…/datasets``) or its ``MNIST/raw`` itself."""
    for candidate in (mirror / "MNIST" / "raw", mirror):
        if candidate.is_dir() and any(candidate.glob("*-ubyte.gz")):
            return candidate
    raise DataError(
        f"{MIRROR_VAR}={mirror} holds no MNIST/raw/*-ubyte.gz files. Point it at the folder that "
        f"contains MNIST/raw, or unset it to download. / {MIRROR_VAR} không chứa MNIST/raw/*.gz."
    )


def _copy_verified(source: Path, target: Path, expected_md5: str) -> None:
    if not source.is_file():
        raise DataError(f"the mirror lacks {source.name}: expected it at {source}")
    if md5sum(source) != expected_md5:
        raise DataError(f"mirror file {source} is corrupted: md5 differs from {expected_md5}")
    partial = target.with_suffix(target.suffix + ".partial")
    shutil.copyfile(source, partial)
    if md5sum(partial) != expected_md5:
        partial.unlink()
        raise DataError(f"copying {source} to {target} produced a corrupted file")
    partial.replace(target)


def _ensure_raw_files(raw: Path, mirror: Path | None) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    for filename, expected_md5 in datasets.MNIST.resources:
        target = raw / filename
        if target.is_file() and md5sum(target) == expected_md5:
            continue
        if target.is_file() and mirror is None:
            raise DataError(
                f"{target} is corrupted (md5 differs from {expected_md5}). Delete it and run "
                f"again, or set {MIRROR_VAR}. / Tệp {target.name} bị hỏng: xoá nó rồi chạy lại."
            )
        if mirror is not None:
            _copy_verified(_mirror_raw_folder(mirror) / filename, target, expected_md5)


def prepare_mnist(root: Path | str | None = None) -> Path:
    """Make MNIST usable by ``torchvision.datasets.MNIST(root, download=True)`` and return ``root``.

    With ``COURSE_DATA_MIRROR`` set, the files come from the mirror (verified); otherwise
    torchvision downloads them. Offline without a mirror, the error says how to fix it.
    """
    root = Path(root) if root is not None else data_dir()
    mirror_setting = os.environ.get(MIRROR_VAR, "").strip()
    mirror = Path(mirror_setting).expanduser().resolve() if mirror_setting else None
    if mirror is not None and not mirror.is_dir():
        raise DataError(f"{MIRROR_VAR}={mirror_setting} is not a folder / không phải là thư mục")
    _ensure_raw_files(root / "MNIST" / "raw", mirror)
    try:
        for train in (True, False):
            datasets.MNIST(root, train=train, download=True)
    except (OSError, RuntimeError) as error:  # URLError is an OSError
        raise DataError(
            f"MNIST is not in {root / 'MNIST' / 'raw'} and could not be downloaded ({error}). "
            f"Connect to the internet, or set {MIRROR_VAR} to a folder holding MNIST/raw/*.gz. / "
            f"Không tải được MNIST: hãy kết nối mạng hoặc đặt {MIRROR_VAR}."
        ) from error
    return root


@lru_cache(maxsize=4)
def _mnist_uint8(root: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    dataset = datasets.MNIST(root, train=train, download=True)
    return dataset.data, dataset.targets


def load_mnist_tensors(
    train: bool = True, root: Path | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole MNIST split as ``(images, labels)``: float32 ``(N, 1, 28, 28)`` in [0, 1], int64 ``(N,)``.

    The values equal what ``transforms.ToTensor()`` gives sample by sample. The raw bytes are
    cached in memory; every call returns new float tensors, so callers may modify them.
    """
    if not isinstance(train, bool):
        raise TypeError(f"train must be True or False; got {train!r}")
    images, labels = _mnist_uint8(prepare_mnist(root).resolve(), train)
    return images.unsqueeze(1).float().div_(255.0), labels.clone()


class TensorBatches:
    """Mini-batches of preloaded tensors by index: a light ``DataLoader`` for data in memory.

    Shuffles with ``generator`` (or torch's global RNG) at the start of every pass.
    """

    def __init__(
        self,
        features: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if len(features) != len(targets):
            raise ValueError(
                f"features and targets must have the same length; got {len(features)} and {len(targets)}"
            )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
        self.features, self.targets = features, targets
        self.batch_size, self.shuffle, self.generator = batch_size, shuffle, generator

    def __len__(self) -> int:
        return -(-len(self.features) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        count = len(self.features)
        order = torch.randperm(count, generator=self.generator) if self.shuffle else None
        for start in range(0, count, self.batch_size):
            if order is None:
                yield (
                    self.features[start : start + self.batch_size],
                    self.targets[start : start + self.batch_size],
                )
            else:
                index = order[start : start + self.batch_size]
                yield self.features[index], self.targets[index]
