"""Trusted autograding: every submission graded alone, in a sandbox, within bounds, in parallel.

For each ``submitted/<student>/<lesson>/`` the grader (this process, trusted):

1. checks the folder and the notebook itself (names, links, size, JSON, nbformat) — a broken
   submission is reported for that student and goes no further;
2. reads its code without running it for tampering (:mod:`coursekit.integrity`);
3. autogrades it with nbgrader in a scratch course of its own, the kernel inside bubblewrap
   (:mod:`coursekit.sandbox`) and inside its own limits (:mod:`coursekit.limits`), with pass
   tokens and integrity probes (:mod:`coursekit.autograde`);
4. copies the result into the course's gradebook and ``autograded/`` — only this process writes
   them — and records one outcome: graded, needs manual grading (why) or FAILED (why).

Before a lesson's submissions, its solution is graded the same way (the *calibration*): it must
earn full marks in the sandbox, its time sets the lesson's wall-clock budget, and its integrity
probes are what every submission is compared with.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import nbformat

from coursekit import gradebook, integrity
from coursekit.autograde import PLAN_VARIABLE
from coursekit.lessons import LESSONS, ROOT, Lesson
from coursekit.limits import Cgroup, Limits, rlimit_prefix
from coursekit.release import NBGRADER, tool_environment
from coursekit.sandbox import SPEC_VARIABLE, bwrap_command, check_available, socket_folder, write_spec

GRADED = "graded"
MANUAL = "needs manual grading"
FAILED = "FAILED"
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
CALIBRATION_STUDENT = "coursekit-calibration"
RECORDS = Path("grading")  # one JSON outcome per submission: grading/<lesson>/<student>.json


@dataclass(frozen=True)
class Outcome:
    student: str
    assignment: str
    status: str  # GRADED, MANUAL or FAILED
    score: float | None
    max_score: float | None
    detail: str = ""
    sandbox: str = "bwrap"
    seconds: float | None = None


@dataclass
class Calibration:
    lesson: str
    limits: Limits
    probes: dict[str, dict[str, str]]
    seconds: float
    max_score: float


@dataclass
class Job:
    root: Path
    lesson: Lesson
    student: str
    notebook: nbformat.NotebookNode
    digest: str
    findings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Settings:
    root: Path = ROOT
    jobs: int = os.cpu_count() or 1
    sandbox: bool = True
    force: bool = False
    limits: Limits = field(default_factory=Limits)
    wall_s: float | None = None  # overrides the budget derived from the solution's time
    grace_s: float = 120.0  # beyond the budget: nbgrader and kernel start-up; then the run is killed
    calibration_dir: Path | None = None  # default: <root>/build/calibration (tests share one)

    @property
    def calibration_cache(self) -> Path:
        return self.calibration_dir or self.root / "build" / "calibration"


class GradingError(RuntimeError):
    """The grader itself cannot run (no sandbox, no gradebook, a broken solution)."""


def course_overrides(root: Path) -> list[str]:
    """Command-line settings that point nbgrader at another course folder (tests, dry runs)."""
    if root.resolve() == ROOT:
        return []
    return [f"--CourseDirectory.root={root}", f"--CourseDirectory.db_url=sqlite:///{root / 'gradebook.db'}"]


# --------------------------------------------------------------------------- discovery
def submission_folders(root: Path, assignments: list[str] | None = None) -> list[tuple[str, str, Path]]:
    submitted = root / "submitted"
    if not submitted.is_dir():
        return []
    found = []
    for student_dir in sorted(submitted.iterdir()):
        if not student_dir.is_dir() or student_dir.is_symlink():
            continue
        for folder in sorted(student_dir.iterdir()):
            if assignments is None or folder.name in assignments:
                found.append((student_dir.name, folder.name, folder))
    return found


def read_submission(student: str, slug: str, folder: Path) -> nbformat.NotebookNode | Outcome:
    """The submitted notebook, or the reason it cannot be graded (said for that student only)."""

    def failed(reason: str) -> Outcome:
        return Outcome(student, slug, FAILED, None, None, reason)

    lessons = {lesson.slug: lesson for lesson in LESSONS if lesson.graded}
    if not STUDENT_ID.match(student):
        return failed("the student folder name is not a plain id (letters, digits, . _ @ + -)")
    if slug not in lessons:
        return failed(f"unknown lesson folder {slug!r}; expected one of {', '.join(sorted(lessons))}")
    if folder.is_symlink() or not folder.is_dir():
        return failed("the submission is a link or a file, not a folder")
    path = folder / f"{slug}.ipynb"
    if not path.exists():
        others = sorted(p.name for p in folder.glob("*.ipynb"))
        if others:
            return failed(f"expected {path.name}, found {', '.join(others)} (renamed? rename it back)")
        return failed(f"no notebook: expected {path.name}")
    if path.is_symlink() or not path.is_file():
        return failed(f"{path.name} is a link or not a regular file")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        return failed(
            f"{path.name} is {path.stat().st_size // 2**20} MiB; at most {MAX_NOTEBOOK_BYTES // 2**20}"
        )
    try:
        notebook = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # any parse or schema problem is this student's, not the grader's
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return failed(f"{path.name} is not a valid notebook: {first[:200]}")
    return notebook


# --------------------------------------------------------------------------- one run
def run_autograde(
    scratch: Path,
    lesson: Lesson,
    student: str,
    notebook: nbformat.NotebookNode,
    plan: dict,
    settings: Settings,
) -> dict:
    """Autograde one notebook in ``scratch`` (a course of its own); return what happened."""
    template = scratch.parent.parent / "templates" / lesson.slug
    if not (template / "gradebook.db").is_file():  # a run that did not prepare it (a lone calibration)
        gradebook.template_course(lesson, template)
    shutil.copy(template / "gradebook.db", scratch / "gradebook.db")
    (scratch / "source" / lesson.slug).mkdir(parents=True)
    submitted = scratch / "submitted" / student / lesson.slug
    submitted.mkdir(parents=True)
    nbformat.write(notebook, submitted / f"{lesson.slug}.ipynb")
    workdir = scratch / "autograded" / student / lesson.slug
    limits = Limits(**plan["limits"])
    use_cgroup = settings.sandbox and Cgroup.available()
    cgroup = Cgroup(f"{student}-{uuid.uuid4().hex[:12]}", limits) if use_cgroup else None
    prefix = rlimit_prefix(limits, with_cgroup=cgroup is not None)
    if cgroup is not None:
        cgroup.create()
        joins = "; ".join(f"echo $$ > '{path}'" for path in cgroup.procs_files)
        prefix = ["/bin/sh", "-c", f'{joins}; exec "$@"', "coursekit-limits", *prefix]
    sockets = socket_folder()
    if settings.sandbox:
        prefix += bwrap_command(workdir, ROOT / "data", sockets=sockets)
    write_spec(scratch / "sandbox.json", workdir, prefix, sockets)
    plan = {**plan, "report_file": str(scratch / "report.json")}
    (scratch / "plan.json").write_text(json.dumps(plan))
    write_worker_config(scratch)
    env = {
        **tool_environment(),
        SPEC_VARIABLE: str(scratch / "sandbox.json"),
        PLAN_VARIABLE: str(scratch / "plan.json"),
        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
    }
    command = [*NBGRADER, "autograde", lesson.slug, "--student", student, "--force"]
    started = time.monotonic()
    hard_limit = limits.wall_s + settings.grace_s
    with open(scratch / "nbgrader.log", "w") as log:
        process = subprocess.Popen(
            command, cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            process.wait(timeout=hard_limit)
            killed = False
        except subprocess.TimeoutExpired:
            killed = True
        finally:
            _kill_group(process)
            bounds = cgroup.bounds_hit() if cgroup is not None else []
            if cgroup is not None:
                cgroup.remove()
            shutil.rmtree(sockets, ignore_errors=True)
    report_file = scratch / "report.json"
    report = json.loads(report_file.read_text()) if report_file.is_file() else {}
    return {
        "returncode": process.returncode,
        "killed": killed,
        "hard_limit": hard_limit,
        "bounds": bounds,
        "report": report,
        "seconds": round(time.monotonic() - started, 2),
        "autograded": workdir / f"{lesson.slug}.ipynb",
        "log": (scratch / "nbgrader.log").read_text(errors="replace")[-20000:],
    }


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


WORKER_CONFIG = """\
# Written by coursekit.grading for one submission: nbgrader in this scratch course only.
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput,
                                    SaveAutoGrades)
from coursekit.autograde import ArmTestCells, SandboxedExecute, VerifyTestCells

c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = {db!r}
c.CourseDirectory.source_directory = "source"
c.Autograde.autograde_preprocessors = [
    ArmTestCells, SandboxedExecute, VerifyTestCells, IgnorePattern, ClearMetadataPreprocessor,
    LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
]
c.LimitOutput.max_lines = 2000
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:"]
"""


def write_worker_config(scratch: Path) -> None:
    text = WORKER_CONFIG.format(root=str(scratch), db=f"sqlite:///{scratch / 'gradebook.db'}")
    (scratch / "nbgrader_config.py").write_text(text)


# --------------------------------------------------------------------------- calibration
def calibration_key(lesson: Lesson) -> str:
    digest = hashlib.sha256(lesson.solution.read_bytes())
    for path in sorted([*(ROOT / "utils").glob("*.py"), *(ROOT / "coursekit").glob("*.py")]):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def calibrate(lesson: Lesson, run_dir: Path, settings: Settings) -> Calibration:
    """Grade the solution in the sandbox: it must earn full marks; its time sets the budget."""
    cache = (
        settings.calibration_cache / f"{lesson.slug}-{calibration_key(lesson)}-{int(settings.sandbox)}.json"
    )
    if cache.is_file():
        data = json.loads(cache.read_text())
        limits = replace(settings.limits, wall_s=settings.wall_s or Limits.wall_for(data["seconds"]))
        return Calibration(lesson.slug, limits, data["probes"], data["seconds"], data["max_score"])
    fixtures = integrity.Fixtures(nbformat.read(lesson.solution, as_version=4))
    plan = {"limits": asdict(replace(settings.limits, wall_s=900)), "probe_names": fixtures.probe_names()}
    scratch = run_dir / "calibration" / lesson.slug
    scratch.mkdir(parents=True)
    solution = nbformat.read(lesson.solution, as_version=4)
    result = run_autograde(scratch, lesson, CALIBRATION_STUDENT, solution, plan, settings)
    report = result["report"]
    tests = report.get("tests", {})
    if not tests or not all(tests.values()) or report.get("stopped"):
        failing = sorted(name for name, passed in tests.items() if not passed)
        raise GradingError(
            f"{lesson.slug}: the instructor solution does not pass in the sandbox "
            f"(failing: {failing or 'none recorded'}; stopped: {report.get('stopped')}); "
            f"grading it would be wrong. Last log lines:\n{result['log'][-1500:]}"
        )
    seconds = float(report.get("seconds") or result["seconds"])
    limits = replace(settings.limits, wall_s=settings.wall_s or Limits.wall_for(seconds))
    max_score = _max_score(scratch, lesson.slug)
    calibration = Calibration(lesson.slug, limits, report["probes"], seconds, max_score)
    cache.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache.with_suffix(f".{uuid.uuid4().hex}.tmp")
    temporary.write_text(json.dumps({**asdict(calibration), "limits": asdict(limits)}))
    temporary.replace(cache)
    return calibration


def _max_score(course: Path, slug: str) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(gradebook.db_url(course)) as book:
        return float(book.find_assignment(slug).max_score)


# --------------------------------------------------------------------------- one submission
def grade_job(job: Job, calibration: Calibration, run_dir: Path, settings: Settings) -> tuple[Outcome, dict]:
    scratch = run_dir / "work" / f"{job.student}--{job.lesson.slug}"
    scratch.mkdir(parents=True)
    fixtures = integrity.Fixtures(nbformat.read(job.lesson.solution, as_version=4))
    plan = {
        "limits": asdict(calibration.limits),
        "probe_names": fixtures.probe_names(),
        "baseline_probes": calibration.probes,
    }
    result = run_autograde(scratch, job.lesson, job.student, job.notebook, plan, settings)
    result["scratch"] = scratch
    return judge(job, calibration, result, settings), result


def judge(job: Job, calibration: Calibration, result: dict, settings: Settings) -> Outcome:
    """Turn one run into exactly one outcome, with the reason in words."""
    sandbox = "bwrap" if settings.sandbox else "NONE (--unsafe-no-sandbox)"
    report = result["report"]
    base = Outcome(
        job.student,
        job.lesson.slug,
        FAILED,
        None,
        calibration.max_score,
        sandbox=sandbox,
        seconds=result["seconds"],
    )
    if result["killed"]:
        detail = (
            f"hard time limit ({result['hard_limit']:g} s) hit and the run would not stop: nothing graded"
        )
        return replace(base, status=MANUAL, detail=detail)
    if result["returncode"] != 0 or not result["autograded"].is_file() or not report:
        return replace(base, detail=f"grading failed: {log_reason(result['log'])}")
    score, max_score, flagged = gradebook.scores(result["scratch"], job.lesson.slug, job.student)
    base = replace(base, score=score, max_score=max_score)
    notes = []
    bounds = sorted(set(result["bounds"]))
    if report.get("stopped"):
        hit = f" ({', '.join(bounds)} limit)" if bounds else ""
        notes.append(f"bound hit: {report['stopped']}{hit}; graded for what ran before it")
    elif bounds:
        notes.append(f"bound hit: {', '.join(bounds)} limit")
    if report.get("output_capped"):
        notes.append(f"output cut at {calibration.limits.output_bytes_per_cell // 1024} KiB per cell")
    tamper = [f"static: {finding}" for finding in job.findings]
    tamper += [f"runtime: {finding}" for finding in report.get("tamper", [])]
    if tamper:
        shown = "; ".join(tamper[:3]) + (f"; and {len(tamper) - 3} more" if len(tamper) > 3 else "")
        return replace(base, status=MANUAL, detail="; ".join([f"tampering detected ({shown})", *notes]))
    if flagged:
        reason = "a test cell was deleted or changed, or a cell needs a human"
        return replace(base, status=MANUAL, detail="; ".join([reason, *notes]))
    return replace(base, status=GRADED, detail="; ".join(notes))


def log_reason(log: str) -> str:
    """The most telling line of one submission's own nbgrader log."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for marker in ("Error", "ERROR", "Exception", "error"):
        picked = [line for line in lines if marker in line and "Traceback" not in line]
        if picked:
            return picked[-1][-300:]
    return lines[-1][-300:] if lines else "no output from nbgrader"


# --------------------------------------------------------------------------- records
def record_path(root: Path, lesson: str, student: str) -> Path:
    return root / RECORDS / lesson / f"{student}.json"


def store(root: Path, job: Job, outcome: Outcome, result: dict | None) -> None:
    """Only this process writes the gradebook, ``autograded/`` and the outcome records."""
    slug, student = outcome.assignment, outcome.student
    destination = root / "autograded" / student / slug
    if result is not None and outcome.score is not None:
        gradebook.import_submission(
            root, result["scratch"], slug, student, needs_human=outcome.status == MANUAL, timestamp=None
        )
        if destination.exists():
            shutil.rmtree(destination)
        destination.mkdir(parents=True)
        shutil.copy(result["autograded"], destination / f"{slug}.ipynb")
    else:
        gradebook.forget_submission(root, slug, student)
        shutil.rmtree(destination, ignore_errors=True)
    path = record_path(root, slug, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**asdict(outcome), "digest": job.digest if job else None}, indent=1))


def on_record(root: Path, lesson: str, student: str) -> Outcome | None:
    path = record_path(root, lesson, student)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    data.pop("digest", None)
    return Outcome(**data)


def recorded_digest(root: Path, lesson: str, student: str) -> str | None:
    path = record_path(root, lesson, student)
    return json.loads(path.read_text()).get("digest") if path.is_file() else None


# --------------------------------------------------------------------------- the whole class
def prepare(root: Path, assignments: list[str] | None) -> tuple[list[Job], list[Outcome]]:
    jobs, outcomes = [], []
    lessons = {lesson.slug: lesson for lesson in LESSONS}
    for student, slug, folder in submission_folders(root, assignments):
        notebook = read_submission(student, slug, folder)
        if isinstance(notebook, Outcome):
            outcomes.append(notebook)
            continue
        lesson = lessons[slug]
        digest = hashlib.sha256(nbformat.writes(notebook).encode()).hexdigest()
        fixtures = integrity.Fixtures(nbformat.read(lesson.solution, as_version=4))
        restored = restored_ids(lesson)
        findings = integrity.static_findings(notebook, fixtures, restored)
        jobs.append(Job(root, lesson, student, notebook, digest, findings))
    return jobs, outcomes


def restored_ids(lesson: Lesson) -> set[str]:
    """grade_ids of the cells nbgrader restores from the source (locked and test cells)."""
    solution = nbformat.read(lesson.solution, as_version=4)
    ids = set()
    for cell in solution.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") or (meta.get("grade") and not meta.get("solution")):
            ids.add(meta.get("grade_id"))
    return ids


def preflight(settings: Settings) -> None:
    if settings.sandbox:
        check_available(ROOT / "data")
    import utils

    utils.prepare_mnist()  # the sandbox reads MNIST read-only: it must be there before grading


def grade(
    root: Path = ROOT,
    assignments: list[str] | None = None,
    *,
    settings: Settings | None = None,
    progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Grade every submission under ``root/submitted``; return one outcome per submission."""
    settings = settings or Settings(root=root)
    jobs, outcomes = prepare(root, assignments)
    if not settings.force:
        kept = [job for job in jobs if recorded_digest(root, job.lesson.slug, job.student) == job.digest]
        outcomes += [on_record(root, job.lesson.slug, job.student) for job in kept]  # type: ignore[misc]
        jobs = [job for job in jobs if job not in kept]
    if not jobs:
        return sorted(outcomes, key=_order)
    preflight(settings)
    run_dir = root / "build" / "grading" / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    lessons = sorted({job.lesson.slug: job.lesson for job in jobs}.values(), key=lambda lesson: lesson.slug)
    calibrations, broken = _calibrate_all(lessons, run_dir, settings, root)
    for job in [job for job in jobs if job.lesson.slug in broken]:
        failed = Outcome(job.student, job.lesson.slug, FAILED, None, None, broken[job.lesson.slug])
        store(root, job, failed, None)
        outcomes.append(failed)
    runnable = [job for job in jobs if job.lesson.slug in calibrations]
    with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
        futures = {
            pool.submit(grade_job, job, calibrations[job.lesson.slug], run_dir, settings): job
            for job in runnable
        }
        for future in as_completed(futures):
            job = futures[future]
            try:
                outcome, result = future.result()
            except Exception as error:  # the grader's own failure, for this submission only
                outcome, result = (
                    Outcome(
                        job.student,
                        job.lesson.slug,
                        FAILED,
                        None,
                        None,
                        f"grader error: {type(error).__name__}: {error}",
                    ),
                    None,
                )
            store(root, job, outcome, result)
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome)
    shutil.rmtree(run_dir / "work", ignore_errors=True)
    return sorted(outcomes, key=_order)


def _calibrate_all(
    lessons: list[Lesson], run_dir: Path, settings: Settings, root: Path
) -> tuple[dict[str, Calibration], dict[str, str]]:
    calibrations, broken = {}, {}
    for lesson in lessons:
        gradebook.template_course(lesson, run_dir / "templates" / lesson.slug)
        gradebook.register(lesson, _course_with_source(root, lesson, run_dir), run_dir / "release")
    with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
        futures = {pool.submit(calibrate, lesson, run_dir, settings): lesson for lesson in lessons}
        for future in as_completed(futures):
            lesson = futures[future]
            try:
                calibrations[lesson.slug] = future.result()
            except GradingError as error:
                broken[lesson.slug] = f"not graded: {str(error).splitlines()[0]}"
    return calibrations, broken


def _course_with_source(root: Path, lesson: Lesson, run_dir: Path) -> Path:
    """``root`` itself when it holds the lesson's source; else ``root`` after copying it in."""
    source = root / "solutions" / lesson.slug
    if not source.is_dir():
        shutil.copytree(
            lesson.solution.parent,
            source,
            ignore=shutil.ignore_patterns("models", "*.pt", "*.pth", ".ipynb_checkpoints"),
        )
    return root


def _order(outcome: Outcome) -> tuple[str, str]:
    return outcome.assignment, outcome.student


def outcomes_on_record(root: Path = ROOT, assignments: list[str] | None = None) -> list[Outcome]:
    """Account for every submission from what is recorded, without running anything."""
    outcomes = []
    for student, slug, folder in submission_folders(root, assignments):
        recorded = on_record(root, slug, student)
        if recorded is None:
            checked = read_submission(student, slug, folder)
            recorded = (
                checked
                if isinstance(checked, Outcome)
                else Outcome(student, slug, FAILED, None, None, "not graded yet: run `make grade`")
            )
        outcomes.append(recorded)
    return sorted(outcomes, key=_order)


def write_csv(outcomes: Iterable[Outcome], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "assignment", "status", "score", "max_score", "detail", "sandbox"])
        for row in outcomes:
            writer.writerow(
                [row.student, row.assignment, row.status, row.score, row.max_score, row.detail, row.sandbox]
            )


def report(outcomes: list[Outcome]) -> str:
    lines = [f"{'student':<20} {'assignment':<30} {'score':>11}  status"]
    for row in outcomes:
        score = "—" if row.score is None else f"{row.score:g}/{row.max_score:g}"
        unsafe = " [UNSAFE: no sandbox]" if row.sandbox != "bwrap" else ""
        line = f"{row.student:<20} {row.assignment:<30} {score:>11}  {row.status}{unsafe} {row.detail}"
        lines.append(line.rstrip())
    return "\n".join(lines)
