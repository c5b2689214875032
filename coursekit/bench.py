"""``make bench``: how long each solution notebook takes, what it reached, and the data pipelines.

Targets live here, not in timed tests: the figures vary with the machine, so they are printed
and saved as JSON (``build/bench.json``) for comparison between runs, never asserted on.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterable
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient
from torch import nn
from tqdm.auto import tqdm

from coursekit.lessons import existing_lessons

# What each lesson reaches, read from the kernel after the run, and the target it should meet.
RESULTS: dict[str, tuple[tuple[str, ...], str]] = {
    "03_gradient_descent": (("x_final",), "x ≈ 0.32 (lr 0.01: 0.3239; 1/3 = 0.3333)"),
    "04_linear_regression": (("learned_weight", "learned_bias"), "near 0.4 / 0.6"),
    "05_logistic_regression": (("test_accuracy",), "test accuracy ≥ 0.920"),
    "06_mlp_mnist": (("test_accuracy",), "test accuracy ≥ 0.980"),
    "09_convolutional_networks": (("test_accuracy",), "test accuracy ≥ 0.990"),
    "10_transfer_learning": (
        ("margin_at_1", "margin_at_5", "margin_at_10", "margin_at_50"),
        "head − scratch, points; at 5 labels/class > 1.5 and > 0 on every draw",
    ),
    "11_evaluation_and_overfitting": (("gap_before", "gap_after"), "the cure narrows the loss gap"),
}
# A preloaded epoch should be the model's arithmetic, not data handling: the share of it spent
# only delivering the batches. (The ToTensor/preloaded ratio is reported, not targeted: it
# depends on how fast the model's own arithmetic is on the machine.)
DATA_SHARE_TARGET = 0.05
Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
READ_RESULTS = (
    "import json as _j; print(_j.dumps({{k: float(globals()[k]) for k in {keys!r} if k in globals()}}))"
)


def run_lesson(path: Path, keys: tuple[str, ...]) -> tuple[float, dict[str, float]]:
    """Execute a notebook in its folder; return wall seconds and the named results."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(READ_RESULTS.format(keys=list(keys))))
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    printed = "".join(
        out.get("text", "") for out in nb.cells[-1].outputs if out.get("output_type") == "stream"
    )
    return seconds, json.loads(printed or "{}")


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 500), nn.ReLU(), nn.Linear(500, 10))


def _epoch_seconds(batches: Batches, description: str) -> float:
    """One epoch of the reference model (784-500-10, Adam, batch 100) over ``batches``."""
    torch.manual_seed(0)
    model = _mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    started = time.perf_counter()
    # disable=None: no bar when stderr is not a terminal (CI logs, `make bench > file 2>&1`).
    for images, labels in tqdm(batches, desc=description, leave=False, disable=None):
        optimizer.zero_grad()
        loss_fn(model(images), labels).backward()
        optimizer.step()
    return time.perf_counter() - started


def pipeline_benchmark() -> dict[str, float]:
    """Seconds per epoch: per-sample ``ToTensor`` + ``DataLoader`` versus one preloaded tensor."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    import utils

    root = utils.prepare_mnist()
    classic = DataLoader(
        datasets.MNIST(root, train=True, download=True, transform=transforms.ToTensor()),
        batch_size=100,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    images, labels = utils.load_mnist_tensors(train=True)
    preloaded = utils.TensorBatches(
        images, labels, 100, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    classic_s = _epoch_seconds(classic, "ToTensor + DataLoader")
    preloaded_s = _epoch_seconds(preloaded, "preloaded tensor")
    classic_data_s = _delivery_seconds(classic)
    preloaded_data_s = _delivery_seconds(preloaded)
    return {
        "classic_epoch_s": classic_s,
        "preloaded_epoch_s": preloaded_s,
        "speedup": classic_s / preloaded_s,
        "classic_data_only_s": classic_data_s,
        "preloaded_data_only_s": preloaded_data_s,
        "data_only_speedup": classic_data_s / preloaded_data_s,
        "preloaded_data_share": preloaded_data_s / preloaded_s,
    }


def pipeline_summary(pipeline: dict[str, float]) -> list[str]:
    """The pipeline figures as printed lines, with the data-share verdict."""
    share = pipeline["preloaded_data_share"]
    verdict = "meets" if share < DATA_SHARE_TARGET else "MISSES"
    return [
        "MLP 784-500-10, Adam, batch 100, one epoch of MNIST in this process:",
        f"  ToTensor + DataLoader : {pipeline['classic_epoch_s']:6.1f} s/epoch",
        f"  preloaded tensor      : {pipeline['preloaded_epoch_s']:6.1f} s/epoch"
        f"  ({pipeline['speedup']:.1f}× faster)",
        f"  data alone, no model  : {pipeline['classic_data_only_s']:6.2f} s vs "
        f"{pipeline['preloaded_data_only_s']:.3f} s per epoch ({pipeline['data_only_speedup']:.0f}×)",
        f"  data share of a preloaded epoch: {share:.1%}"
        f"  ({verdict} the < {DATA_SHARE_TARGET:.0%} target; the rest is the model's arithmetic)",
    ]


def _delivery_seconds(batches: Batches) -> float:
    """One epoch of batches with no model: what the data pipeline alone costs."""
    started = time.perf_counter()
    for _ in batches:
        pass
    return time.perf_counter() - started


def main(json_path: Path | None, *, skip_pipeline: bool = False) -> int:
    rows = []
    for lesson in existing_lessons():
        keys, target = RESULTS.get(lesson.slug, ((), "runs top to bottom"))
        seconds, results = run_lesson(lesson.solution, keys)
        reached = ", ".join(f"{key}={value:.4f}" for key, value in results.items()) or "ok"
        rows.append(
            {
                "lesson": lesson.slug,
                "seconds": round(seconds, 1),
                "reached": reached,
                "target": target,
                "results": results,
            }
        )
        print(f"  ran {lesson.slug} in {seconds:.1f} s", flush=True)

    width = max(len("whole course"), *(len(row["lesson"]) for row in rows))
    print(f"\n| {'lesson':<{width}} | {'wall s':>6} | {'reached':<44} | target")
    print(f"|{'-' * (width + 2)}|{'-' * 8}|{'-' * 46}|{'-' * 44}")
    for row in rows:
        print(f"| {row['lesson']:<{width}} | {row['seconds']:>6.1f} | {row['reached']:<44} | {row['target']}")
    total = sum(row["seconds"] for row in rows)
    print(f"| {'whole course':<{width}} | {total:>6.1f} | {'':<44} | a few minutes on a 2-core CPU")

    pipeline = None if skip_pipeline else pipeline_benchmark()
    if pipeline:
        print("\n" + "\n".join(pipeline_summary(pipeline)))

    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        machine = {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(),
            "device": os.environ.get("COURSE_DEVICE", "auto"),
        }
        payload = {"machine": machine, "lessons": rows, "total_s": round(total, 1), "pipeline": pipeline}
        json_path.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {json_path}")
    return 0
