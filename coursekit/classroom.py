"""A class through nbgrader's exchange: ``python -m coursekit classroom COMMAND`` (see ``--help``).

The instructor's cycle, each step with the course's own safety:

- ``setup`` (root, once per server): groups, the exchange with private modes, the course folder
  closed to students, ``classroom/site.json``; ``add-users`` creates accounts with private homes;
- ``release``: register each lesson in the gradebook (optionally with a due date) and release
  it to the exchange;
- ``collect``: each student's latest submission that the student really owns, with its time
  and a late mark judged by the server's clock, into ``submitted/<student>/<lesson>/``;
  forged, linked or unreadable entries are refused and listed;
- ``grade``: the trusted grader (sandboxed), with bounds an instructor who is not root can use;
- ``return-feedback``: feedback pages (no hidden tests) released to each student alone;
- ``export``: one CSV row per student, one column per lesson, and a status column, for an LMS.

Every command runs as the instructor (nbgrader refuses exchange folders it does not own),
except ``setup`` and ``add-users`` (root).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from coursekit import exchange
from coursekit.exchange import Site
from coursekit.lessons import LESSONS, ROOT, Lesson, find_lesson

# What students must never read in the course folder (solutions, their history, everyone's work).
PRIVATE = (".git", "solutions", "submitted", "autograded", "feedback", "grading", "collected", "build")
PRIVATE_FILES = ("gradebook.db",)
COLLECTED = Path("collected")  # collected/<lesson>.json: what collect took, when, late or not
GRADED = [lesson for lesson in LESSONS if lesson.graded]


# --------------------------------------------------------------------------- helpers
def nbgrader(root: Path, where: Site, *args: str) -> subprocess.CompletedProcess[str]:
    """nbgrader for ``root``'s course, on the site's exchange (run from the repository's config)."""
    from coursekit.grading import course_overrides
    from coursekit.release import run_nbgrader

    return run_nbgrader(
        *args,
        f"--CourseDirectory.course_id={where.course_id}",
        f"--Exchange.root={where.exchange}",
        *course_overrides(root),
    )


def lessons_named(names: list[str] | None) -> list[Lesson]:
    lessons = [find_lesson(name) for name in names] if names else GRADED
    ungraded = [lesson.slug for lesson in lessons if not lesson.graded]
    if ungraded:
        raise SystemExit(f"not graded, nothing to release or collect: {', '.join(ungraded)}")
    return lessons


def close_to_others(root: Path, names: tuple[str, ...] = PRIVATE[2:]) -> None:
    """The course's state folders exist and are closed to users outside their owner and group.

    (``setup`` also closes ``.git`` and ``solutions/``; the class commands close only the state
    they write, so running them on a laptop changes nothing else.)
    """
    for name in names:
        if name in PRIVATE[2:]:
            (root / name).mkdir(exist_ok=True)
    for name in (*names, *PRIVATE_FILES):
        path = root / name
        if path.exists() and not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o7770)


def with_source(root: Path, lesson: Lesson) -> Path:
    """``root``, holding ``solutions/<slug>/`` (copied from this repository if missing)."""
    source = root / "solutions" / lesson.slug
    if not source.is_dir():
        shutil.copytree(
            lesson.solution.parent,
            source,
            ignore=shutil.ignore_patterns("models", "*.pt", "*.pth", ".ipynb_checkpoints", "__pycache__"),
        )
    return root


def due_date(root: Path, slug: str) -> dt.datetime | None:
    from nbgrader.api import Gradebook, MissingEntry

    from coursekit.gradebook import db_url

    if not (root / "gradebook.db").is_file():
        return None
    with Gradebook(db_url(root)) as book:
        try:
            return book.find_assignment(slug).duedate
        except MissingEntry:
            return None


def parse_due(text: str) -> dt.datetime:
    """A due date as naive UTC (nbgrader's convention); a time without a zone is this server's."""
    from dateutil import parser

    moment = parser.parse(text)
    if moment.tzinfo is None:
        moment = moment.astimezone()  # local time of this machine
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def stamp(moment: dt.datetime | None) -> str:
    return "—" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


# --------------------------------------------------------------------------- setup (root)
def run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def add_user(name: str, group: str) -> str:
    """Create ``name`` with a private home in ``group``, or add an existing user to ``group``."""
    run(["groupadd", "--force", group])
    if user_exists(name):
        run(["usermod", "--append", "--groups", group, name])
        return f"{name}: exists, now in {group}"
    run(["useradd", "--create-home", "--shell", "/bin/bash", "--groups", group, name])
    home = Path(os.path.expanduser(f"~{name}"))
    home.chmod(0o700)  # a student's answers and submission secret are theirs alone
    return f"{name}: created (home {home}, mode 0700), in {group}; set a password: sudo passwd {name}"


def closed_ancestors(path: Path) -> list[Path]:
    """Folders above ``path`` that other accounts cannot enter (no o+x), nearest to / first."""
    return [folder for folder in reversed(path.parents) if not folder.stat().st_mode & 0o001]


def unreachable_python() -> list[str]:
    """Why students' servers could not start this environment's Python, if they could not."""
    problems = []
    for path in {Path(sys.executable).resolve(), Path(sys.prefix), Path(sys.base_prefix)}:
        for folder in closed_ancestors(path):
            problems.append(
                f"WARNING: {folder} (mode {folder.stat().st_mode & 0o777:04o}) hides {path} from "
                "every other account: students' servers cannot start. Build the course's environment "
                "with a Python outside it (e.g. make setup PYTHON=/usr/bin/python3)."
            )
    return sorted(set(problems))


def setup(where: Site, instructor: str, root: Path, write_site: bool) -> list[str]:
    import grp
    import pwd

    done = [add_user(instructor, where.instructors_group)]
    run(["groupadd", "--force", where.students_group])
    done += exchange.prepare_class_exchange(where, instructor)
    owner = pwd.getpwnam(instructor)
    group = grp.getgrnam(where.instructors_group).gr_gid
    close_to_others(root, PRIVATE)
    for name in (*PRIVATE, *PRIVATE_FILES):
        path = root / name
        if path.exists() and not path.is_symlink():
            os.chown(path, owner.pw_uid if name in PRIVATE[2:] else -1, group)
    done.append(f"{root}: {', '.join(PRIVATE)} closed to everyone outside {where.instructors_group}")
    if write_site:
        exchange.SITE_FILE.write_text(
            json.dumps(
                {
                    "course_id": where.course_id,
                    "exchange": str(where.exchange),
                    "instructors_group": where.instructors_group,
                    "students_group": where.students_group,
                },
                indent=1,
            )
            + "\n"
        )
        done.append(f"{exchange.SITE_FILE}: this class's settings (every user's nbgrader reads them)")
    return done + unreachable_python()


# --------------------------------------------------------------------------- release
def release(root: Path, where: Site, lessons: list[Lesson], due: dt.datetime | None) -> list[str]:
    from nbgrader.api import Gradebook

    from coursekit.gradebook import db_url, register

    lines = []
    staging = root / "build" / "classroom" / "release"
    for lesson in lessons:
        register(lesson, with_source(root, lesson), staging)  # the gradebook knows its cells
        if due is not None:
            with Gradebook(db_url(root)) as book:
                book.update_or_create_assignment(lesson.slug, duedate=due)
        nbgrader(
            root, where, "release_assignment", lesson.slug, "--force",
            f"--CourseDirectory.release_directory={staging}",
        )  # fmt: skip
        when = due_date(root, lesson.slug)
        due_text = f", due {stamp(when)}" if when else ""
        lines.append(f"released {lesson.slug} to {where.course / 'outbound' / lesson.slug}{due_text}")
    hardened = exchange.harden_inbound(where)
    if hardened:
        lines.append(hardened)
    return lines


# --------------------------------------------------------------------------- collect
@dataclass
class Collection:
    lesson: str
    due: dt.datetime | None
    taken: dict[str, exchange.Entry] = field(default_factory=dict)
    refused: list[exchange.Entry] = field(default_factory=list)
    left: dict[str, list[str]] = field(default_factory=dict)  # student -> files not copied, why

    def late(self, entry: exchange.Entry) -> bool:
        return self.due is not None and entry.when > self.due

    def record(self) -> dict:
        return {
            "lesson": self.lesson,
            "due": self.due.isoformat() if self.due else None,
            "collected_at": dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(),
            "students": {
                student: {
                    "submitted": entry.claimed.isoformat() if entry.claimed else None,
                    "received": entry.received.isoformat(),
                    "late": self.late(entry),
                    "entry": entry.path.name,
                    "not_copied": self.left.get(student, []),
                }
                for student, entry in sorted(self.taken.items())
            },
            "refused": [{"entry": entry.path.name, "reason": entry.problem} for entry in self.refused],
        }


def collect_lesson(root: Path, where: Site, lesson: Lesson) -> Collection:
    entries = exchange.scan_inbound(where.inbound, lesson.slug)
    result = Collection(lesson.slug, due_date(root, lesson.slug))
    result.refused = [entry for entry in entries if entry.problem]
    for student, entry in sorted(exchange.latest_per_student(entries).items()):
        try:
            _, left = exchange.copy_submission(entry.path, root / "submitted" / student / lesson.slug)
        except OSError as error:
            result.refused.append(
                exchange.Entry(
                    entry.path, student, lesson.slug, entry.claimed, entry.received, entry.owner,
                    f"cannot be copied: {error.strerror or error}",
                )
            )  # fmt: skip
            continue
        result.taken[student] = entry
        if left:
            result.left[student] = left
    record = root / COLLECTED / f"{lesson.slug}.json"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(result.record(), indent=1) + "\n")
    return result


def describe_collection(result: Collection) -> list[str]:
    lines = [f"{result.lesson}: {len(result.taken)} submission(s), due {stamp(result.due)}"]
    for student, entry in sorted(result.taken.items()):
        late = "  LATE" if result.late(entry) else ""
        lines.append(
            f"  {student:<20} submitted {stamp(entry.claimed)}  received {stamp(entry.received)}{late}"
        )
        if result.left.get(student):
            lines.append(f"  {'':<20} not copied: {', '.join(result.left[student])}")
    for entry in result.refused:
        lines.append(f"  REFUSED {entry.path.name}: {entry.problem}")
    return lines


def late_marks(root: Path) -> dict[tuple[str, str], bool]:
    """(student, lesson) -> late, from every collection on record."""
    marks = {}
    for path in sorted((root / COLLECTED).glob("*.json")):
        data = json.loads(path.read_text())
        for student, info in data.get("students", {}).items():
            marks[(student, data["lesson"])] = bool(info.get("late"))
    return marks


# --------------------------------------------------------------------------- grade
def grading_settings(root: Path, jobs: int, force: bool):
    """The trusted grader's settings for a class, as the instructor runs it (its own limits:
    without a control group, coursekit.limits bounds private memory, not address space)."""
    from coursekit.grading import Settings

    return Settings(root=root, jobs=jobs, force=force)


# --------------------------------------------------------------------------- feedback
def return_feedback(root: Path, where: Site, lessons: list[Lesson]) -> list[str]:
    """Feedback pages for every graded submission, released to the exchange for each student."""
    from coursekit.feedback import generate_all

    lines = generate_all(root)
    for lesson in lessons:
        pages = sorted((root / "feedback").glob(f"*/{lesson.slug}/{lesson.slug}.html"))
        if not pages:
            continue
        without_secret = []
        for page in pages:
            student = page.parent.parent.name
            submitted = root / "submitted" / student / lesson.slug
            names = ("timestamp.txt", "submission_secret.txt")
            if all((submitted / name).is_file() for name in names):
                for name in names:
                    shutil.copy(submitted / name, page.parent / name)
            else:
                without_secret.append(student)  # not submitted through the exchange: nothing to send
        exclude = (
            [f"--CourseDirectory.student_id_exclude={','.join(without_secret)}"] if without_secret else []
        )
        nbgrader(root, where, "release_feedback", lesson.slug, *exclude)
        sent = len(pages) - len(without_secret)
        lines.append(f"released {sent} feedback page(s) of {lesson.slug} to {where.course / 'feedback'}")
        if without_secret:
            lines.append(f"  not sent (not submitted through the exchange): {', '.join(without_secret)}")
    return lines


# --------------------------------------------------------------------------- export
def roster(where: Site) -> set[str]:
    import grp

    try:
        return set(grp.getgrnam(where.students_group).gr_mem)
    except KeyError:
        return set()


def lms_table(
    root: Path, lessons: list[Lesson] | None, students: set[str]
) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per student, one score column per lesson, then a status column."""
    from coursekit.grading import GRADED as GRADED_STATUS
    from coursekit.grading import outcomes_on_record

    outcomes = {(row.student, row.assignment): row for row in outcomes_on_record(root)}
    if lessons is None:
        seen = {assignment for _, assignment in outcomes}
        lessons = [lesson for lesson in GRADED if lesson.slug in seen]
    late = late_marks(root)
    everyone = sorted(students | {student for student, _ in outcomes})
    rows = []
    for student in everyone:
        cells, problems = [], []
        for lesson in lessons:
            row = outcomes.get((student, lesson.slug))
            if row is None:
                cells.append("")
                problems.append(f"{lesson.slug} missing")
                continue
            cells.append("" if row.score is None else f"{row.score:g}")
            if row.status != GRADED_STATUS:
                problems.append(
                    f"{lesson.slug} {row.status}" + (f" ({row.detail[:80]})" if row.detail else "")
                )
            if late.get((student, lesson.slug)):
                problems.append(f"{lesson.slug} late")
        rows.append([student, *cells, "; ".join(problems) or "complete"])
    return ["username", *(lesson.slug for lesson in lessons), "status"], rows


def write_lms_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


# --------------------------------------------------------------------------- command line
def _root(args: argparse.Namespace) -> Path:
    return Path(args.root).resolve() if args.root else ROOT


def _where(args: argparse.Namespace) -> Site:
    where = exchange.site()
    overrides = {
        "course_id": getattr(args, "course", None),
        "exchange": Path(args.exchange) if getattr(args, "exchange", None) else None,
        "instructors_group": getattr(args, "instructors_group", None),
        "students_group": getattr(args, "students_group", None),
    }
    chosen = {key: value for key, value in overrides.items() if value}
    if not chosen:
        return where
    source = "command line" if "exchange" in chosen else where.source
    return Site(**{**where.__dict__, **chosen, "source": source})


def _require_root(what: str) -> None:
    if os.geteuid() != 0:
        raise SystemExit(
            f"`classroom {what}` creates users, groups and system folders: run it as root (sudo)."
        )


def _cmd_where(args: argparse.Namespace) -> int:
    where = _where(args)
    created = exchange.ensure_personal_exchange(where) if args.create else None
    print(f"course id   {where.course_id}")
    print(f"exchange    {where.exchange}  ({where.source}{', created' if created else ''})")
    print(f"groups      instructors: {where.instructors_group} · students: {where.students_group}")
    return 0


def _cmd_setup(args: argparse.Namespace) -> int:
    _require_root("setup")
    where = _where(args)
    if where.source == "personal default":
        where = Site(**{**where.__dict__, "exchange": exchange.CLASS_EXCHANGE, "source": "class default"})
    for line in setup(where, args.instructor, _root(args), write_site=not args.no_site_file):
        print(line)
    print("\nNext, as the instructor: make release-class · then start the hub: sudo make hub")
    return 0


def _cmd_add_users(args: argparse.Namespace) -> int:
    _require_root("add-users")
    where = _where(args)
    for name in args.instructors:
        print(add_user(name, where.instructors_group))
    for name in args.students:
        print(add_user(name, where.students_group))
    return 0


def _cmd_release(args: argparse.Namespace) -> int:
    root, where = _root(args), _where(args)
    due = parse_due(args.due) if args.due else None
    close_to_others(root)
    for line in release(root, where, lessons_named(args.lessons), due):
        print(line)
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    root, where = _root(args), _where(args)
    if not where.inbound.is_dir():
        print(f"no inbound folder at {where.inbound}: release a lesson first (exchange: {where.source})")
        return 1
    close_to_others(root)
    released = {path.name for path in (where.course / "outbound").glob("*")}
    lessons = lessons_named(args.lessons) or []
    if not args.lessons:
        lessons = [lesson for lesson in GRADED if lesson.slug in released]
    for lesson in lessons:
        print("\n".join(describe_collection(collect_lesson(root, where, lesson))))
    print("next: make grade-class")
    return 0


def _cmd_grade(args: argparse.Namespace) -> int:
    from coursekit.grading import GRADED as GRADED_STATUS
    from coursekit.grading import GradingError, grade, report
    from coursekit.sandbox import SandboxUnavailable

    root = _root(args)
    slugs = [lesson.slug for lesson in lessons_named(args.lessons)] if args.lessons else None
    try:
        outcomes = grade(root, slugs, settings=grading_settings(root, args.jobs, args.force))
    except (SandboxUnavailable, GradingError) as error:
        print(f"grading refused: {error}", file=sys.stderr)
        return 2
    if not outcomes:
        print(f"no submissions under {root / 'submitted'}: run `make collect` first")
        return 1
    print(report(outcomes))
    attention = [row for row in outcomes if row.status != GRADED_STATUS]
    if attention:
        print(f"\n{len(attention)} submission(s) need attention: see the status column above.")
    return 1 if attention else 0


def _cmd_return_feedback(args: argparse.Namespace) -> int:
    root, where = _root(args), _where(args)
    lines = return_feedback(root, where, lessons_named(args.lessons))
    print("\n".join(lines) if lines else f"nothing graded yet under {root / 'autograded'}: run `make grade`")
    return 1 if any(" FAILED: " in line for line in lines) else 0


def _cmd_export(args: argparse.Namespace) -> int:
    root, where = _root(args), _where(args)
    lessons = lessons_named(args.lessons) if args.lessons else None
    header, rows = lms_table(root, lessons, roster(where))
    output = Path(args.output)
    write_lms_csv(output, header, rows)
    complete = sum(row[-1] == "complete" for row in rows)
    print(f"wrote {output}: {len(rows)} student(s) × {len(header) - 2} lesson(s); {complete} complete")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``classroom`` and its subcommands on the course's command line."""
    parser = commands.add_parser("classroom", help="a class through nbgrader's exchange (release … export)")
    sub = parser.add_subparsers(dest="classroom_command", required=True)

    def command(name: str, handler, help_text: str, *, lessons: bool = False) -> argparse.ArgumentParser:
        one = sub.add_parser(name, help=help_text)
        one.add_argument("--root", help="course folder (default: this repository)")
        one.add_argument("--course", help="course id (default: COURSE_ID, site.json or pytorch-core)")
        one.add_argument("--exchange", help="exchange root (default: COURSE_EXCHANGE, site.json, personal)")
        if lessons:
            one.add_argument("lessons", nargs="*", help="lesson slugs or numbers (default: every graded one)")
        one.set_defaults(handler=handler)
        return one

    where = command("where", _cmd_where, "print the course id, exchange and groups in force")
    where.add_argument("--create", action="store_true", help="create a learner's own exchange if missing")

    setup_parser = command("setup", _cmd_setup, "root: groups, the class exchange, a closed course folder")
    setup_parser.add_argument("--instructor", required=True, help="the user who runs the class commands")
    setup_parser.add_argument("--instructors-group")
    setup_parser.add_argument("--students-group")
    setup_parser.add_argument("--no-site-file", action="store_true", help="do not write classroom/site.json")

    users = command("add-users", _cmd_add_users, "root: create accounts (private homes) in the groups")
    users.add_argument("--instructors", nargs="*", default=[])
    users.add_argument("--students", nargs="*", default=[])
    users.add_argument("--instructors-group")
    users.add_argument("--students-group")

    release_parser = command("release", _cmd_release, "release lessons to the exchange", lessons=True)
    release_parser.add_argument("--due", help='due date, e.g. "2025-12-01 17:00" (this server\'s time zone)')
    command("collect", _cmd_collect, "collect each student's latest own submission", lessons=True)
    grade_parser = command("grade", _cmd_grade, "grade submitted/ with the trusted grader", lessons=True)
    grade_parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    grade_parser.add_argument("--force", action="store_true", help="regrade unchanged submissions")
    command("return-feedback", _cmd_return_feedback, "feedback pages, released to each student", lessons=True)
    export = command("export", _cmd_export, "LMS CSV: a row per student, a column per lesson, a status")
    export.add_argument("lessons", nargs="*", help="lessons to include (default: every lesson graded)")
    export.add_argument("--output", default="class-grades.csv")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["classroom", *(argv or sys.argv[1:])])
    return args.handler(args)
