"""``make bench-grading``: how fast the trusted grader gets through a class, serial vs parallel.

For a light and a heavy lesson, the same N honest submissions are graded twice in a scratch
course — one worker, then one per core — after a warm-up that calibrates the lesson (a grading
run always pays its fixed set-up: registering the lesson, a template gradebook). Printed:
submissions per minute, the speed-up, and the projected time for a class of 200.
Figures vary with the machine; they are printed and saved, never asserted.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from coursekit.grading import GRADED, Settings, grade
from coursekit.lessons import ROOT, find_lesson

CLASS_SIZE = 200


def _course(folder: Path, slug: str, submissions: int) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    lesson = find_lesson(slug)
    for index in range(submissions):
        target = folder / "submitted" / f"student{index:03d}" / lesson.slug
        target.mkdir(parents=True)
        shutil.copy(lesson.solution, target / f"{lesson.slug}.ipynb")
    return folder


def _timed(course: Path, slug: str, jobs: int) -> float:
    started = time.perf_counter()
    outcomes = grade(course, [slug], settings=Settings(root=course, jobs=jobs, force=True))
    seconds = time.perf_counter() - started
    bad = [row for row in outcomes if row.status != GRADED]
    if bad:
        raise RuntimeError(f"an honest submission was not graded cleanly: {bad[0]}")
    return seconds


def bench_lesson(slug: str, submissions: int, jobs: int) -> dict[str, float]:
    lesson = find_lesson(slug)
    course = _course(ROOT / "build" / "bench-grading" / lesson.slug, lesson.slug, submissions)
    grade(course, [lesson.slug], settings=Settings(root=course, jobs=jobs))  # warm-up: calibration
    serial = _timed(course, lesson.slug, 1)
    parallel = _timed(course, lesson.slug, jobs)
    per_minute = {
        name: 60 * submissions / seconds for name, seconds in (("serial", serial), ("parallel", parallel))
    }
    return {
        "submissions": submissions,
        "jobs": jobs,
        "serial_s": round(serial, 1),
        "parallel_s": round(parallel, 1),
        "serial_per_min": round(per_minute["serial"], 2),
        "parallel_per_min": round(per_minute["parallel"], 2),
        "speedup": round(serial / parallel, 2),
        "class_of_200_min": round(CLASS_SIZE / per_minute["parallel"], 1),
    }


def main(lessons: list[str], submissions: int, jobs: int, json_path: Path | None) -> int:
    results = {}
    print(f"| lesson | subs | jobs | serial /min | parallel /min | speed-up | class of {CLASS_SIZE} |")
    print("|---|---|---|---|---|---|---|")
    for name in lessons:
        slug = find_lesson(name).slug
        row = results[slug] = bench_lesson(slug, submissions, jobs)
        cells = [slug, row["submissions"], row["jobs"], row["serial_per_min"], row["parallel_per_min"]]
        cells += [f"{row['speedup']}× (target ≥ 1.8×)", f"{row['class_of_200_min']} min"]
        print("| " + " | ".join(map(str, cells)) + " |", flush=True)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"cpus": os.cpu_count(), "lessons": results}, indent=1))
    return 0
