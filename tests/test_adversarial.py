"""A hostile class, graded in one run: every attacker reported, every honest student unharmed.

Each case is a submission built from the solution (correct answers) or the student copy
(blank), with cells of its own added or answers rewritten. All cases of a course are graded
together, in parallel, so each attack has honest victims in the same run. After the run:
the exact status and score of every case, an unchanged course tree outside the grader's own
output folders, no process left behind, and no hidden-test or solution line in any feedback.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat
import pytest

from coursekit.feedback import NOTICE, generate_all, page_secrets
from coursekit.grading import FAILED, GRADED, MANUAL, Outcome, Settings, grade
from coursekit.lessons import ROOT, find_lesson
from coursekit.limits import GIB, Limits
from coursekit.sandbox import check_available

pytestmark = pytest.mark.slow
SHARED_CALIBRATION = ROOT / "build" / "calibration"  # each lesson's solution runs once per test session
MARK = "coursekit-adversary-leftover"  # argv of the processes an attacker leaves behind
# Shared with every sandbox read-only (utils/ too: the escape case tries to write it and must fail).
GUARDED = ("data",)
OUTPUT_FOLDERS = (
    "autograded",
    "feedback",
    "grading",
    "build",
    "gradebook.db",
    "notebooks",
    "release",
)

try:
    check_available(ROOT / "data")
    SANDBOX = ""
except Exception as error:  # no bwrap here: the suite cannot prove anything
    SANDBOX = str(error)


# --------------------------------------------------------------------------- building cases
def solution(slug: str) -> nbformat.NotebookNode:
    return nbformat.read(find_lesson(slug).solution, as_version=4)


def blank(slug: str) -> nbformat.NotebookNode:
    return nbformat.read(find_lesson(slug).student, as_version=4)


def answer_index(nb: nbformat.NotebookNode, grade_id: str) -> int:
    return next(
        i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


def insert_after(nb: nbformat.NotebookNode, grade_id: str, code: str) -> nbformat.NotebookNode:
    """A student's own extra cell right after an answer cell."""
    nb.cells.insert(answer_index(nb, grade_id) + 1, nbformat.v4.new_code_cell(code))
    return nb


def append_to_answer(nb: nbformat.NotebookNode, grade_id: str, code: str) -> nbformat.NotebookNode:
    cell = nb.cells[answer_index(nb, grade_id)]
    kept = [
        line
        for line in cell.source.splitlines()
        if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line
    ]
    cell.source = "\n".join([*kept, code])
    return nb


def set_answer(nb: nbformat.NotebookNode, grade_id: str, code: str) -> nbformat.NotebookNode:
    nb.cells[answer_index(nb, grade_id)].source = code
    return nb


@dataclass(frozen=True)
class Case:
    student: str
    lesson: str
    build: Callable[[], nbformat.NotebookNode | str | None]
    status: str
    score: float | None
    reason: str = ""  # a fragment the outcome's detail must contain
    why: str = ""


L01, L02, L03 = "01_tensors", "02_autograd", "03_gradient_descent"

PATCH_CHECKS = (
    "import utils\nutils.check_close = utils.check_equal = utils.check_shape = lambda *a, **k: None\n"
)
SWALLOW = "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)\n"
HIDE_TRACEBACK = (
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "InteractiveShell.showtraceback = lambda *args, **kwargs: None\n"
)
AST_STRIP = (
    "import ast\n"
    "class Strip(ast.NodeTransformer):\n"
    "    def visit_Expr(self, node):\n"
    "        return ast.Pass()\n"
    "get_ipython().ast_transformers.append(Strip())\n"
)
INDIRECT_PATCH = (  # no name the static scan knows: only the runtime probe can see this
    "for module in [utils]:\n    module.check_equal = lambda *a, **k: None\n"
)
FAKE_UTILS = (
    "class Anything:\n    def __getattr__(self, name):\n        return lambda *a, **k: None\n"
    "utils = Anything()\n"
)
TORCH_PATCH = "torch.equal = lambda *a, **k: True\ntorch.allclose = lambda *a, **k: True\n"
SYS_MODULES = "import sys\nsys.modules['utils'] = type(sys)('utils')\n"
BUILTINS = "import builtins\nbuiltins.AssertionError = type('Quiet', (Exception,), {})\n"
READ_HISTORY = "print(In)\n"
STACK_LEAK = (  # prints the caller's lines (the hidden tests) from inside the answer: no hook needed
    "import traceback\n_answer = flatten_images\n"
    "def flatten_images(images):\n    traceback.print_stack()\n    return _answer(images)\n"
)
NOISY = (
    "import sys, warnings\nfrom tqdm.auto import tqdm\nimport matplotlib.pyplot as plt\n"
    "_honest = flatten_images\n"
    "def flatten_images(images):\n"
    "    warnings.warn('a library warning, as honest code meets them')\n"
    "    for _ in tqdm(range(3), desc='progress'):\n        pass\n"
    "    print('a print', file=sys.stderr)\n    return _honest(images)\n"
    "plt.plot([1, 2, 3]); plt.show()\n"
)


def probe_outside(root: Path) -> str:
    """Code that tries every way out of the sandbox, records what happened, then answers honestly."""
    targets = {
        "solutions": str(root / "solutions" / L03 / f"{L03}.ipynb"),
        "course_gradebook": str(root / "gradebook.db"),
        "other_submission": str(root / "submitted" / "honest03" / L03 / f"{L03}.ipynb"),
        "utils": str(ROOT / "utils" / "checking.py"),
        "home": "/root/.bashrc",
    }
    return (
        "import json, os, socket\nreport = {}\n"
        f"for name, path in {targets!r}.items():\n"
        "    try:\n        open(path).read(10); report[name + '_read'] = 'READ'\n"
        "    except OSError as error:\n        report[name + '_read'] = type(error).__name__\n"
        "    try:\n        open(path, 'a').write('pwned'); report[name + '_write'] = 'WROTE'\n"
        "    except OSError as error:\n        report[name + '_write'] = type(error).__name__\n"
        "try:\n    socket.create_connection(('1.1.1.1', 53), timeout=2); report['net'] = 'CONNECTED'\n"
        "except OSError as error:\n    report['net'] = type(error).__name__\n"
        "print('ESCAPE-REPORT', json.dumps(report))\n"
    )


LEAVE_PROCESSES = (
    "import os, subprocess\n"
    f"subprocess.Popen(['sh', '-c', 'exec -a {MARK} sleep 600'], start_new_session=True)\n"
    "if os.fork() == 0:\n    os.setsid()\n"
    f"    if os.fork() == 0:\n        os.execvp('sh', ['sh', '-c', 'exec -a {MARK} sleep 601'])\n"
    "    os._exit(0)\n"
)


def poisoned_metadata() -> nbformat.NotebookNode:
    nb = solution(L01)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["points"] = 1000  # restored from the gradebook
    nb.metadata["kernelspec"] = {"name": "not-a-kernel", "display_name": "x", "language": "python"}
    return nb


def wrong(slug: str = L01) -> nbformat.NotebookNode:
    """Answers of the right kind that are wrong: what tampering would have to turn into points."""
    nb = solution(L01)
    set_answer(nb, "ex1_answer", "def fahrenheit_to_celsius(temps):\n    return temps.float()")
    set_answer(nb, "ex2_answer", "def first_column_and_last_row(x):\n    return x[0], x[:, -1]")
    set_answer(
        nb, "ex3_answer", "def flatten_images(images):\n    return images.reshape(-1, images.shape[0])"
    )
    return nb


def deleted_test() -> nbformat.NotebookNode:
    nb = solution(L01)
    nb.cells.pop(answer_index(nb, "ex2_tests"))
    return nb


def quoting_markers() -> nbformat.NotebookNode:
    return append_to_answer(
        solution(L01), "ex1_answer", "# my notes: ### BEGIN HIDDEN TESTS, ### BEGIN SOLUTION"
    )


MAIN_CASES = [
    # honest students: the victims of everyone below
    Case("honest01", L01, lambda: solution(L01), GRADED, 4),
    Case("blank01", L01, lambda: blank(L01), GRADED, 0),
    Case(
        "partial01",
        L01,
        lambda: set_answer(solution(L01), "ex3_answer", "def flatten_images(images):\n    return images"),
        GRADED,
        2,
    ),
    Case("wrong01", L01, wrong, GRADED, 0),
    Case(
        "noisy01",
        L01,
        lambda: insert_after(solution(L01), "ex3_answer", NOISY),
        GRADED,
        4,
        why="warnings, tqdm, stderr prints and a plot in a passing test cost nothing",
    ),
    Case("honest02", L02, lambda: solution(L02), GRADED, 5),
    Case("honest03", L03, lambda: solution(L03), GRADED, 6),
    # tampering with the checks
    Case(
        "patchcheck01",
        L01,
        lambda: insert_after(wrong(), "ex3_answer", PATCH_CHECKS),
        MANUAL,
        2,
        "tampering detected",
    ),
    Case(
        "indirect02",
        L02,
        lambda: insert_after(blank(L02), "ex1_answer", INDIRECT_PATCH),
        MANUAL,
        0,
        "runtime: after test",
    ),
    Case(
        "fakeutils01",
        L01,
        lambda: insert_after(wrong(), "ex3_answer", FAKE_UTILS),
        MANUAL,
        2,
        "rebinds `utils`",
    ),
    Case(
        "torchpatch01",
        L01,
        lambda: insert_after(wrong(), "ex3_answer", TORCH_PATCH),
        MANUAL,
        0,
        "patches `torch.equal`",
    ),
    Case(
        "sysmodules01",
        L01,
        lambda: insert_after(wrong(), "ex3_answer", SYS_MODULES),
        MANUAL,
        0,
        "sys.modules",
    ),
    Case("builtins01", L01, lambda: insert_after(wrong(), "ex3_answer", BUILTINS), MANUAL, 0, "builtins"),
    Case(
        "customexc02",
        L02,
        lambda: insert_after(blank(L02), "ex1_answer", SWALLOW),
        MANUAL,
        0,
        "set_custom_exc",
        why="errors hidden: the tests still fail (no pass token)",
    ),
    Case(
        "traceback03",
        L03,
        lambda: insert_after(blank(L03), "ex1_answer", HIDE_TRACEBACK),
        MANUAL,
        0,
        "showtraceback",
    ),
    Case("ast01", L01, lambda: insert_after(wrong(), "ex3_answer", AST_STRIP), MANUAL, 0, "AST transformer"),
    # reading what it must not see
    Case("history01", L01, lambda: _history_after_tests(), MANUAL, 4, "input history"),
    Case(
        "stackleak01",
        L01,
        lambda: insert_after(solution(L01), "ex3_answer", STACK_LEAK),
        GRADED,
        4,
        why="honest-looking code printing its caller: graded, and the feedback scrubbed",
    ),
    # broken or unusual files
    Case("broken01", L01, lambda: "{ this is not a notebook", FAILED, None, "not a valid notebook"),
    Case(
        "truncated01",
        L01,
        lambda: nbformat.writes(solution(L01))[:5000],
        FAILED,
        None,
        "not a valid notebook",
    ),
    Case("renamed01", L01, lambda: None, FAILED, None, "renamed"),
    Case(
        "poisoned01", L01, poisoned_metadata, GRADED, 4, why="points and kernelspec restored from the source"
    ),
    Case("deletedtest01", L01, deleted_test, MANUAL, 3, "a test cell was deleted"),
    Case("markers01", L01, quoting_markers, GRADED, 4, why="marker text in a comment breaks nothing"),
    Case("bad name", L01, lambda: solution(L01), FAILED, None, "not a plain id"),
    Case("honest01b", "99_no_such_lesson", lambda: solution(L01), FAILED, None, "unknown lesson folder"),
]


def _history_after_tests() -> nbformat.NotebookNode:
    nb = solution(L01)
    nb.cells.append(nbformat.v4.new_code_cell(READ_HISTORY))
    return nb


def escape_cases(root: Path) -> list[Case]:
    return [
        Case(
            "escape03",
            L03,
            lambda: insert_after(solution(L03), "ex1_answer", probe_outside(root)),
            GRADED,
            6,
            why="every read and write outside fails; the answers are right",
        ),
        Case(
            "lingering01",
            L01,
            lambda: insert_after(solution(L01), "ex1_answer", LEAVE_PROCESSES),
            GRADED,
            4,
            why="its processes are gone when grading ends",
        ),
    ]


BOUND_CASES = [
    Case("honestb01", L01, lambda: solution(L01), GRADED, 4),
    Case(
        "loop01",
        L01,
        lambda: set_answer(solution(L01), "ex2_answer", "while True:\n    pass"),
        GRADED,
        1,
        "time limit",
    ),
    Case(
        "deaf01",
        L01,
        lambda: set_answer(
            solution(L01),
            "ex2_answer",
            "import time\nwhile True:\n    try:\n        time.sleep(0.2)\n"
            "    except KeyboardInterrupt:\n        pass",
        ),
        GRADED,
        1,
        "time limit",
    ),
    Case(
        "memory01",
        L01,
        lambda: set_answer(
            solution(L01), "ex2_answer", "import torch\nhog = torch.ones(2 * 1024**3 // 4 * 3)"
        ),
        GRADED,
        1,
        "kernel died",
    ),
    Case(
        "threads01",
        L01,
        lambda: insert_after(
            solution(L01),
            "ex1_answer",
            "import threading, time\n"
            "for _ in range(2000):\n    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()",
        ),
        GRADED,
        1,
        "processes limit",
    ),
    Case(
        "flood01",
        L01,
        lambda: insert_after(solution(L01), "ex1_answer", "print('x' * 50_000_000)"),
        GRADED,
        4,
        "output cut",
    ),
    Case(
        "exit01",
        L01,
        lambda: set_answer(solution(L01), "ex2_answer", "import os\nos._exit(0)"),
        GRADED,
        1,
        "kernel died",
    ),
]


# --------------------------------------------------------------------------- running a class
def write_case(root: Path, case: Case) -> None:
    folder = root / "submitted" / case.student / case.lesson
    folder.mkdir(parents=True)
    built = case.build()
    if built is None:  # the renamed case: right content, wrong file name
        nbformat.write(solution(case.lesson), folder / f"{case.lesson}-Copy1.ipynb")
    elif isinstance(built, str):
        (folder / f"{case.lesson}.ipynb").write_text(built)
    else:
        nbformat.write(built, folder / f"{case.lesson}.ipynb")


def tree_digest(root: Path, skip: tuple[str, ...]) -> dict[str, str]:
    digests = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in skip or "__pycache__" in relative.parts or not path.is_file():
            continue
        digests[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def leftover_processes() -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in ps.splitlines() if MARK in line]


def page_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def run_class(root: Path, cases: list[Case], settings: Settings) -> dict[str, Outcome]:
    for case in cases:
        write_case(root, case)
    return {row.student: row for row in grade(root, settings=settings)}


def check(outcomes: dict[str, Outcome], cases: list[Case]) -> None:
    problems = []
    for case in cases:
        got = outcomes.get(case.student)
        if got is None:
            problems.append(f"{case.student}: no outcome")
            continue
        if (got.status, got.score) != (case.status, case.score) or case.reason not in got.detail:
            problems.append(
                f"{case.student}: expected {case.status} {case.score} ({case.reason!r}), got {got}"
            )
    assert not problems, "\n".join(problems)
    assert len(outcomes) == len(cases), "exactly one outcome per submission"


@pytest.fixture(scope="module")
def main_class(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Outcome], list[Case]]:
    if SANDBOX:
        pytest.skip(f"no sandbox here: {SANDBOX}")
    root = tmp_path_factory.mktemp("hostile-class")
    cases = MAIN_CASES + escape_cases(root)
    for slug in (L01, L02, L03):  # the course's own source, as on an instructor's machine
        shutil.copytree(find_lesson(slug).solution.parent, root / "solutions" / slug)
    for case in cases:
        write_case(root, case)
    before = {
        "course": tree_digest(root, OUTPUT_FOLDERS),
        **{name: tree_digest(ROOT / name, ()) for name in GUARDED},
    }
    outcomes = {
        row.student: row
        for row in grade(root, settings=Settings(root=root, jobs=2, calibration_dir=SHARED_CALIBRATION))
    }
    after = {
        "course": tree_digest(root, OUTPUT_FOLDERS),
        **{name: tree_digest(ROOT / name, ()) for name in GUARDED},
    }
    assert after == before, "grading changed files outside its output folders"
    return root, outcomes, cases


def test_every_case_gets_its_exact_status_and_score(main_class):
    _, outcomes, cases = main_class
    check(outcomes, cases)


def test_nothing_escaped_the_sandbox(main_class):
    root, _, _ = main_class
    page = (root / "autograded" / "escape03" / L03 / f"{L03}.ipynb").read_text()
    report = json.loads(re.search(r"ESCAPE-REPORT (\{.*?\})", page).group(1).replace('\\"', '"'))
    assert report["net"] != "CONNECTED"
    # utils/ is readable on purpose (the lessons import it); nothing else outside may be read.
    assert not [key for key, value in report.items() if value == "READ" and key != "utils_read"], report
    assert not [key for key, value in report.items() if value == "WROTE"], report
    assert not leftover_processes(), leftover_processes()


def test_feedback_never_shows_a_hidden_or_solution_line(main_class):
    root, _, _ = main_class
    lines = generate_all(root)
    assert any("withheld" in line for line in lines if line.startswith("history01"))
    pages = sorted((root / "feedback").rglob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        text = page_text(page)
        slug, student = page.parent.name, page.parent.parent.name
        submitted = nbformat.read(root / "submitted" / student / slug / f"{slug}.ipynb", as_version=4)
        leaked = [line for line in page_secrets(slug, submitted) if line in text]
        assert not leaked, f"{page}: {leaked[:2]}"
    assert NOTICE in page_text(root / "feedback" / "stackleak01" / L01 / f"{L01}.html")
    assert (root / "feedback" / "markers01" / L01 / f"{L01}.html").is_file(), "marker text broke a page"
    assert not list((root / "feedback").glob("history01/**/*.html")), "no page for a tampering submission"


def test_regrading_gives_the_same_results(main_class):
    root, outcomes, _ = main_class
    again = {
        row.student: row
        for row in grade(
            root, [L02], settings=Settings(root=root, jobs=2, force=True, calibration_dir=SHARED_CALIBRATION)
        )
    }
    for student, row in again.items():
        assert (row.status, row.score) == (outcomes[student].status, outcomes[student].score), student


def test_bounds_are_enforced_and_named(tmp_path: Path):
    if SANDBOX:
        pytest.skip(f"no sandbox here: {SANDBOX}")
    limits = replace(Limits(), memory_bytes=int(1.5 * GIB), processes=200)
    settings = Settings(
        root=tmp_path, jobs=2, limits=limits, wall_s=30, grace_s=25, calibration_dir=SHARED_CALIBRATION
    )
    outcomes = run_class(tmp_path, BOUND_CASES, settings)
    check(outcomes, BOUND_CASES)
    flooded = tmp_path / "autograded" / "flood01" / L01 / f"{L01}.ipynb"
    assert flooded.stat().st_size < 2 * 1024**2
    assert not leftover_processes()
