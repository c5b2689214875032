"""The learner's workspace: their own copies of the lessons, which a course update never touches.

``notebooks/`` belongs to the course: ``git pull`` brings new versions of it, and a learner who
worked there would have to merge or lose their answers. So ``make lab`` copies every file of
``notebooks/`` that is missing from ``workspace/`` (git-ignored) and opens JupyterLab there:

- a file already in ``workspace/`` is never overwritten, whatever it holds;
- a lesson added to the course later is copied on the next ``make lab``;
- a lesson the course changed after it was copied is reported (the copy's fingerprint is kept
  in ``workspace/.course-copies.json``), never replaced: the learner decides.

Lessons find their data through ``utils`` (the course's ``data/`` folder, or ``COURSE_DATA_DIR``),
not through paths relative to the notebook, so they run from ``workspace/`` unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from coursekit.lessons import ROOT
from coursekit.release import RUN_ARTEFACTS

WORKSPACE = ROOT / "workspace"
MANIFEST = ".course-copies.json"


@dataclass
class SyncReport:
    copied: list[str] = field(default_factory=list)  # new in the workspace
    kept: list[str] = field(default_factory=list)  # already there: left exactly as they were
    newer_in_course: list[str] = field(default_factory=list)  # kept, but the course changed them


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def course_files(source: Path) -> list[Path]:
    """Files of the release, relative to it; what running a lesson leaves behind is not part of it."""
    return sorted(
        path.relative_to(source)
        for path in source.rglob("*")
        if path.is_file() and not set(path.relative_to(source).parts) & set(RUN_ARTEFACTS)
    )


def sync(source: Path = ROOT / "notebooks", target: Path = WORKSPACE) -> SyncReport:
    """Copy into ``target`` each file of ``source`` it lacks; never overwrite one it has."""
    manifest_path = target / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    report = SyncReport()
    for relative in course_files(source):
        name, original, copy = relative.as_posix(), source / relative, target / relative
        if copy.exists():
            report.kept.append(name)
            if manifest.get(name, fingerprint(original)) != fingerprint(original):
                report.newer_in_course.append(name)
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(original, copy)
        manifest[name] = fingerprint(original)
        report.copied.append(name)
    target.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return report


def describe(report: SyncReport, target: Path = WORKSPACE) -> str:
    """What ``sync`` did, in both languages, with what to do about a lesson the course updated."""
    lines = [
        f"{target}: copied {len(report.copied)} new file(s), kept your {len(report.kept)} existing file(s)"
        f" / đã chép {len(report.copied)} tệp mới, giữ nguyên {len(report.kept)} tệp sẵn có của bạn",
        *(f"  + {name}" for name in report.copied),
    ]
    if report.newer_in_course:
        lines += [
            "The course has a newer version of these lessons; your copies were kept. To get the new "
            'version, rename your copy (e.g. add "-old" to its name) and run `make lab` again.',
            "Khoá học có phiên bản mới của các bài sau; bản của bạn vẫn được giữ nguyên. Muốn lấy bản "
            'mới, hãy đổi tên bản của bạn (ví dụ thêm "-old" vào tên) rồi chạy lại `make lab`.',
            *(f"  * {name}" for name in report.newer_in_course),
        ]
    return "\n".join(lines)
