"""The ordered list of lessons and where each one lives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where Colab badges point and what the Colab setup cell installs. A fork changes both with
# `python -m coursekit set-repo OWNER/NAME --branch BRANCH` (coursekit/repo.py), never by hand.
GITHUB_REPO = "pytorch-core/pytorch-core"
GITHUB_BRANCH = "main"


@dataclass(frozen=True)
class Lesson:
    slug: str  # "03_gradient_descent": the nbgrader assignment name
    title_en: str
    title_vi: str
    graded: bool = True

    @property
    def number(self) -> str:
        return self.slug[:2]

    @property
    def solution(self) -> Path:
        return ROOT / "solutions" / self.slug / f"{self.slug}.ipynb"

    @property
    def student(self) -> Path:
        return ROOT / "notebooks" / self.slug / f"{self.slug}.ipynb"

    @property
    def colab_url(self) -> str:
        return colab_url(self.slug)


def colab_url(slug: str, repo: str = GITHUB_REPO, branch: str = GITHUB_BRANCH) -> str:
    """Colab opens the student copy straight from GitHub: the repository and branch must be public."""
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{slug}/{slug}.ipynb"


LESSONS: tuple[Lesson, ...] = (
    Lesson("00_start_here", "Start here", "Bắt đầu từ đây", graded=False),
    Lesson("01_tensors", "Tensors", "Tensor"),
    Lesson("02_autograd", "Autograd", "Tự động tính đạo hàm"),
    Lesson("03_gradient_descent", "Gradient descent", "Hạ gradient"),
    Lesson("04_linear_regression", "Linear regression", "Hồi quy tuyến tính"),
    Lesson("05_logistic_regression", "Logistic regression on MNIST", "Hồi quy logistic trên MNIST"),
    Lesson("06_mlp_mnist", "A multilayer perceptron on MNIST", "Mạng perceptron nhiều tầng trên MNIST"),
    Lesson("07_activations", "Activation functions", "Hàm kích hoạt"),
    Lesson("08_init_and_optimization", "Initialization and optimization", "Khởi tạo và tối ưu hoá"),
    Lesson("09_convolutional_networks", "Convolutional networks", "Mạng nơ-ron tích chập"),
    Lesson("10_transfer_learning", "Transfer learning", "Học chuyển giao"),
    Lesson("11_evaluation_and_overfitting", "Evaluation and overfitting", "Đánh giá và quá khớp"),
)


def find_lesson(name: str) -> Lesson:
    """Look a lesson up by slug, number ("03") or path of its notebook or source text."""
    stem = Path(name).stem
    for lesson in LESSONS:
        if stem in (lesson.slug, lesson.number):
            return lesson
    known = ", ".join(lesson.slug for lesson in LESSONS)
    raise SystemExit(f"unknown lesson {name!r}; known: {known}")


def existing_lessons() -> list[Lesson]:
    """Lessons whose solution notebook exists (all of them once the course is complete)."""
    return [lesson for lesson in LESSONS if lesson.solution.is_file()]
