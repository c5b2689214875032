"""The nbgrader exchange classes the course's config names (see :func:`coursekit.exchange.configure`).

Kept apart from :mod:`coursekit.exchange` so that reading the course's settings does not import
nbgrader's exchange machinery.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import get_username, ignore_patterns

from coursekit.exchange import (
    SUBMISSION_DIR_MODE,
    SUBMISSION_FILE_MODE,
    copy_submission,
    latest_per_student,
    scan_inbound,
)


class PrivateSubmit(ExchangeSubmit):
    """``nbgrader submit`` whose submission only its author and the instructors can read.

    nbgrader's own submit makes the submission folder world-writable (0777) and accepts
    ``--student=SOMEONE``. Here: files are written under umask 077, then set to 0640 in folders
    of 0750, with the instructors' group; and a student may submit only as themselves.

    The group comes from the setgid inbound folder, inherited only by what is created while the
    new folder still carries the setgid bit: a student outside the group loses that bit at the
    first chmod, and cannot give a file the group afterwards. So the folder is made first, every
    file is written into it, and only then are modes set.
    """

    def init_dest(self) -> None:
        requested, me = self.coursedir.student_id, get_username()
        if requested not in ("", "*") and requested != me:
            self.fail(f"You can submit only as yourself ({me}), not as {requested!r}.")
        super().init_dest()

    def copy_files(self) -> None:
        self.init_release()
        secret = secrets.token_hex(64)
        destination = os.path.join(self.inbound_path, self.assignment_filename)
        name = self.assignment_filename
        cache = os.path.join(self.cache_path, name.rsplit("+", 1)[0] if self.add_random_string else name)
        self.log.info(f"Source: {self.src_path}")
        self.log.info(f"Destination: {destination}")
        self.check_filename_diff()
        old_umask = os.umask(0o077)
        try:
            os.mkdir(destination)  # inherits the instructors' group and the setgid bit
            self.write_stamps(destination, secret)
            self.private_copy(self.src_path, destination)
        finally:
            os.umask(old_umask)
        self.set_perms(destination, fileperms=SUBMISSION_FILE_MODE, dirperms=SUBMISSION_DIR_MODE)
        os.makedirs(self.cache_path, exist_ok=True)
        self.do_copy(self.src_path, cache)
        self.write_stamps(cache, secret)
        self.log.info(
            f"Submitted as: {self.coursedir.course_id} {self.coursedir.assignment_id} {self.timestamp}"
        )

    def private_copy(self, source: str, destination: str) -> None:
        """nbgrader's ``do_copy`` limits, but copying contents only: never the source's open modes."""
        size, limit = self.get_size(source), 1000 * self.coursedir.max_dir_size
        if size > limit:
            raise RuntimeError(f"Directory size is too big. Size is {size}, maximum size is {limit}")
        ignore = ignore_patterns(
            exclude=self.coursedir.ignore,
            include=self.coursedir.include,
            max_file_size=self.coursedir.max_file_size,
            log=self.log,
        )
        shutil.copytree(source, destination, ignore=ignore, copy_function=shutil.copyfile, dirs_exist_ok=True)

    def write_stamps(self, folder: str, secret: str) -> None:
        Path(folder, "timestamp.txt").write_text(self.timestamp)
        Path(folder, "submission_secret.txt").write_text(secret)


class SafeCollect(ExchangeCollect):
    """``nbgrader collect`` (and the Formgrader's collect button) with the course's rules:

    a submission must be owned by the student it names, links are never followed, and a forged
    or unreadable entry is skipped with an error in the log instead of replacing a real one.
    """

    def init_src(self) -> None:
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.inbound_path = os.path.join(self.root, self.coursedir.course_id, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        entries = scan_inbound(Path(self.inbound_path), self.coursedir.assignment_id)
        wanted = self.coursedir.student_id or "*"
        entries = [entry for entry in entries if wanted == "*" or entry.student == wanted]
        for entry in entries:
            if entry.problem:
                self.log.error(f"Skipping {entry.path.name}: {entry.problem}")
        chosen = latest_per_student(entries)
        self.src_records = [
            {"username": student, "filename": entry.path.name, "timestamp": entry.claimed}
            for student, entry in sorted(chosen.items())
        ]

    def do_copy(self, src: str, dest: str, log: Any = None) -> None:
        _, left = copy_submission(Path(src), Path(dest))
        for item in left:
            self.log.warning(f"{Path(src).name}: not copied: {item}")
