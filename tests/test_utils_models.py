"""``utils.make_cnn`` is the CNN lesson 09 writes by hand, and the one-layer-head form lesson 10 uses."""

from __future__ import annotations

import nbformat
import pytest
import torch
from torch import nn

from coursekit.lessons import find_lesson
from utils import make_cnn, seed_everything


def _lesson_09_make_cnn():
    """The ``make_cnn`` that lesson 09's solution defines, executed from its own cell."""
    nb = nbformat.read(find_lesson("09").solution, as_version=4)
    (source,) = [cell.source for cell in nb.cells if cell.source.startswith("def make_cnn(")]
    namespace = {"nn": nn, "OrderedDict": __import__("collections").OrderedDict}
    exec(source, namespace)
    return namespace["make_cnn"]


def test_make_cnn_is_lesson_09s_cnn_weight_for_weight():
    by_hand = _lesson_09_make_cnn()
    seed_everything(3)
    ours = make_cnn()
    seed_everything(3)
    theirs = by_hand()
    assert [name for name, _ in ours.named_children()] == [name for name, _ in theirs.named_children()]
    for (name, ours_value), (their_name, their_value) in zip(
        ours.state_dict().items(), theirs.state_dict().items(), strict=True
    ):
        assert name == their_name and torch.equal(ours_value, their_value), name
    images = torch.rand(4, 1, 28, 28)
    ours.eval(), theirs.eval()
    assert torch.equal(ours(images), theirs(images))


def test_lesson_09s_sizes():
    model = make_cnn()
    assert sum(p.numel() for p in model.parameters()) == 78_750
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert isinstance(model.fc, nn.Linear) and model.fc.in_features == 64


def test_without_hidden_layer_the_head_is_fc_on_the_feature_maps():
    model = make_cnn(5, channels=(8, 16), hidden=None)
    assert [name for name, _ in model.named_children()][-2:] == ["flatten", "fc"]
    assert (model.fc.in_features, model.fc.out_features) == (16 * 7 * 7, 5)
    assert model[:-1](torch.zeros(3, 1, 28, 28)).shape == (3, 784)
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 5)
    body = [name for name, _ in model.named_parameters() if not name.startswith("fc.")]
    assert all(name.startswith(("conv", "bn")) for name in body)
    assert model.conv1.bias is None and model.conv2.bias is None


@pytest.mark.parametrize("bad", [{"num_classes": 0}, {"channels": (0, 4)}, {"hidden": 0}])
def test_sizes_must_be_positive(bad):
    with pytest.raises(ValueError, match="sizes must be positive"):
        make_cnn(**bad)
