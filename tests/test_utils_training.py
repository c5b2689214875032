"""TensorBatches, train_epoch, evaluate and fit on tiny synthetic problems."""

import pytest
import torch
from torch import nn

from utils import TensorBatches, evaluate, fit, train_epoch
from utils.training import model_device


def _blobs(n: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (n,), generator=generator)
    features = torch.randn(n, 2, generator=generator) + 3 * labels.unsqueeze(1).float()
    return features, labels


def test_batches_cover_every_row_once_and_shuffle_reproducibly():
    features, labels = torch.arange(10).float().unsqueeze(1), torch.arange(10)
    batches = TensorBatches(features, labels, 4, shuffle=True, generator=torch.Generator().manual_seed(1))
    assert len(batches) == 3
    seen = torch.cat([y for _, y in batches])
    assert sorted(seen.tolist()) == list(range(10))
    again = TensorBatches(features, labels, 4, shuffle=True, generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.cat([y for _, y in again]), seen)
    assert torch.equal(torch.cat([y for _, y in TensorBatches(features, labels, 4)]), labels)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_batches_reject_bad_sizes(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        TensorBatches(torch.zeros(3, 1), torch.zeros(3), batch_size)


def test_batches_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="3 and 2"):
        TensorBatches(torch.zeros(3, 1), torch.zeros(2), 1)


def test_fit_learns_a_separable_problem_and_reports_history():
    torch.manual_seed(0)
    features, labels = _blobs()
    model = nn.Linear(2, 2)
    batches = TensorBatches(features, labels, 32, shuffle=True, generator=torch.Generator().manual_seed(0))
    history = fit(
        model,
        batches,
        batches,
        nn.CrossEntropyLoss(),
        torch.optim.SGD(model.parameters(), lr=0.5),
        epochs=5,
        progress=False,
    )
    assert set(history) == {"train_loss", "train_accuracy", "test_loss", "test_accuracy"}
    assert all(len(values) == 5 for values in history.values())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history["test_accuracy"][-1] > 0.9


def test_fit_steps_the_scheduler_once_per_epoch():
    features, labels = _blobs(40)
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2], gamma=0.1)
    batches = TensorBatches(features, labels, 20)
    fit(
        model,
        batches,
        batches,
        nn.CrossEntropyLoss(),
        optimizer,
        epochs=3,
        scheduler=scheduler,
        progress=False,
    )
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1)


def test_regression_history_has_no_accuracy_and_evaluate_leaves_weights_alone():
    torch.manual_seed(0)
    features = torch.rand(50, 1)
    targets = 2 * features + 1
    model = nn.Linear(1, 1)
    batches = TensorBatches(features, targets, 10)
    results = train_epoch(model, batches, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1))
    assert set(results) == {"loss"}
    before = [p.clone() for p in model.parameters()]
    evaluate(model, batches, nn.MSELoss())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert not model.training


def test_helpers_do_not_move_the_model():
    model = nn.Linear(2, 2)
    assert model_device(model) == torch.device("cpu")
    with pytest.raises(ValueError, match="one device"):
        model_device(nn.ReLU())


def test_empty_batches_and_bad_epochs_are_errors():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="empty"):
        evaluate(model, [], nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match="epochs"):
        fit(model, [], [], nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), epochs=0)
