"""nbgrader's exchange for this course: where it lives, and who may see what in it.

nbgrader moves files between instructor and students through a folder tree (the *exchange*):
``<root>/<course>/outbound`` (released lessons), ``inbound`` (submissions) and ``feedback``.
Its default layout lets students read and overwrite each other's work: every submission folder
is made world-writable (mode 0777), ``nbgrader submit --student=SOMEONE`` submits under another
name, and ``nbgrader collect`` only *warns* when a submission is owned by someone other than the
student it names. This module closes those holes for the course:

- :func:`site` says which course id and exchange this machine uses (environment first, then
  ``classroom/site.json`` written by ``coursekit classroom setup``, else a per-user folder so a
  learner's JupyterLab panels work with no set-up);
- :func:`configure` puts that into an nbgrader config, with the two classes below;
- :class:`PrivateSubmit` writes a submission readable only by its author and the instructors'
  group, and refuses to submit under another name;
- :func:`scan_inbound` / :func:`latest_per_student` / :func:`copy_submission` collect only what
  a student really owns (the folder's owner must be the student it names), never follow a link,
  and judge lateness by the server's clock; :class:`SafeCollect` gives nbgrader's own
  ``collect`` (the Formgrader's button) the same rules.

The inbound folder itself belongs to the instructor, with mode 3773 (sticky: nobody removes or
renames another's entry; no read for others: nobody lists it); see :func:`prepare_class_exchange`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import pwd
import secrets
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import get_username, ignore_patterns, parse_utc

from coursekit.lessons import ROOT

DEFAULT_COURSE_ID = "pytorch-core"
CLASS_EXCHANGE = Path("/srv/nbgrader/exchange")
INSTRUCTORS_GROUP = "pytorch-core-instructors"
STUDENTS_GROUP = "pytorch-core-students"
SITE_FILE = ROOT / "classroom" / "site.json"
ENVIRONMENT = {  # variable -> Site field: a variable set in the environment wins over site.json
    "COURSE_ID": "course_id",
    "COURSE_EXCHANGE": "exchange",
    "COURSE_INSTRUCTORS_GROUP": "instructors_group",
    "COURSE_STUDENTS_GROUP": "students_group",
}
# Modes inside <exchange>/<course>/ (nbgrader's own checks accept them; see prepare_class_exchange).
ROOT_MODE = 0o1777  # nbgrader requires a writable root; sticky: nobody renames another's course
COURSE_MODE = 0o755
OUTBOUND_MODE = 0o755
INBOUND_MODE = 0o3773  # sticky + setgid: write-only for students, entries take the instructors' group
FEEDBACK_MODE = 0o711  # students open their own page by its secret name; nobody lists the folder
SUBMISSION_DIR_MODE = 0o750
SUBMISSION_FILE_MODE = 0o640
MAX_COLLECTED_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Site:
    course_id: str
    exchange: Path
    instructors_group: str
    students_group: str
    source: str  # where the exchange setting came from, said in messages

    @property
    def course(self) -> Path:
        return self.exchange / self.course_id

    @property
    def inbound(self) -> Path:
        return self.course / "inbound"


def personal_exchange() -> Path:
    """A learner's own exchange: a user-writable folder, so nbgrader's panels work alone."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "pytorch-core" / "exchange"


def site(environ: dict[str, str] | None = None, site_file: Path = SITE_FILE) -> Site:
    """The course id, exchange and groups in force here: environment > site.json > defaults."""
    environ = dict(os.environ if environ is None else environ)
    recorded: dict[str, Any] = json.loads(site_file.read_text()) if site_file.is_file() else {}
    values: dict[str, Any] = {
        "course_id": DEFAULT_COURSE_ID,
        "exchange": str(personal_exchange()),
        "instructors_group": INSTRUCTORS_GROUP,
        "students_group": STUDENTS_GROUP,
    }
    source = "personal default"
    if recorded.get("exchange"):
        source = str(site_file.relative_to(ROOT) if site_file.is_relative_to(ROOT) else site_file)
    values.update({key: value for key, value in recorded.items() if key in values and value})
    for variable, key in ENVIRONMENT.items():
        if environ.get(variable):
            values[key] = environ[variable]
            source = "environment" if key == "exchange" else source
    return Site(
        course_id=values["course_id"],
        exchange=Path(values["exchange"]).expanduser(),
        instructors_group=values["instructors_group"],
        students_group=values["students_group"],
        source=source,
    )


def configure(c: Any, where: Site | None = None) -> None:
    """Point an nbgrader config at the course's exchange, with the private submit and collect."""
    where = where or site()
    c.CourseDirectory.course_id = where.course_id
    c.Exchange.root = str(where.exchange)
    # ~/<course>/<lesson>: a fetched lesson never lands on the learner's own workspace/<lesson>.
    c.Exchange.path_includes_course = True
    c.ExchangeFactory.submit = "coursekit.exchange.PrivateSubmit"
    c.ExchangeFactory.collect = "coursekit.exchange.SafeCollect"


def ensure_personal_exchange(where: Site | None = None) -> Path:
    """Create a learner's exchange root if missing (nbgrader's panels fail without one)."""
    where = where or site()
    where.exchange.mkdir(parents=True, exist_ok=True)
    return where.exchange


# --------------------------------------------------------------------------- a class's exchange
def prepare_class_exchange(where: Site, instructor: str) -> list[str]:
    """Create (or repair) the exchange of a class; return what was done, one line each.

    Run as root. The instructor owns the course folder and its three folders (nbgrader refuses
    folders it does not own); the instructors' group owns inbound, so submissions (setgid) are
    readable by every instructor and by no other student.
    """
    user = pwd.getpwnam(instructor)
    group = _gid(where.instructors_group)
    done = []
    plan = [
        (where.exchange, 0, 0, ROOT_MODE),
        (where.course, user.pw_uid, group, COURSE_MODE),
        (where.course / "outbound", user.pw_uid, group, OUTBOUND_MODE),
        (where.inbound, user.pw_uid, group, INBOUND_MODE),
        (where.course / "feedback", user.pw_uid, group, FEEDBACK_MODE),
    ]
    for path, uid, gid, mode in plan:
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
        done.append(f"{path}  mode {mode:04o}  owner {pwd.getpwuid(uid).pw_name}")
    return done


def harden_inbound(where: Site) -> str | None:
    """Add the sticky bit to an inbound folder nbgrader created (2733 -> 3733); say if changed."""
    inbound = where.inbound
    if not inbound.is_dir() or inbound.stat().st_uid != os.geteuid():
        return None
    mode = stat.S_IMODE(inbound.stat().st_mode)
    wanted = mode | stat.S_ISVTX
    wanted &= ~(stat.S_IROTH)  # never listable by students
    if wanted == mode:
        return None
    os.chmod(inbound, wanted)
    return f"{inbound}: mode {mode:04o} -> {wanted:04o} (no student may remove or list another's entry)"


def _gid(group: str) -> int:
    import grp

    return grp.getgrnam(group).gr_gid


# --------------------------------------------------------------------------- collecting safely
@dataclass(frozen=True)
class Entry:
    """One folder in inbound: a submission, or something that only looks like one."""

    path: Path
    student: str
    lesson: str
    claimed: dt.datetime | None  # the time in its name, written by the student's own nbgrader
    received: dt.datetime  # the server's clock: newest change time of the folder and its files
    owner: str
    problem: str = ""  # why it is not collected (empty: it is a valid submission)

    @property
    def when(self) -> dt.datetime:
        """The later of the claimed and the observed times: what lateness is judged by."""
        return max(self.claimed or self.received, self.received)


def parse_entry_name(name: str, lesson: str) -> tuple[str, str] | None:
    """``student+lesson+timestamp[+random]`` -> (student, timestamp), or None."""
    marker = f"+{lesson}+"
    if marker not in name:
        return None
    student, _, rest = name.rpartition(marker)
    timestamp = rest.split("+", 1)[0]
    return (student, timestamp) if student and timestamp else None


def scan_inbound(inbound: Path, lesson: str) -> list[Entry]:
    """Every entry of ``lesson`` in ``inbound``, each with the reason it is refused, if any."""
    entries = []
    with os.scandir(inbound) as listing:
        names = sorted(item.name for item in listing)
    for name in names:
        parsed = parse_entry_name(name, lesson)
        if parsed is not None:
            entries.append(inspect_entry(inbound / name, lesson, *parsed))
    return entries


def inspect_entry(path: Path, lesson: str, student: str, timestamp: str) -> Entry:
    info = path.lstat()
    owner = _user_name(info.st_uid)
    received = _utc(info.st_ctime)
    try:
        claimed = _naive_utc(parse_utc(timestamp))
    except (ValueError, OverflowError):
        claimed = None

    def entry(problem: str = "", newest: dt.datetime = received) -> Entry:
        return Entry(path, student, lesson, claimed, newest, owner, problem)

    if not stat.S_ISDIR(info.st_mode):
        return entry("not a folder (a link or a file)")
    if owner != student:
        return entry(
            f"named for {student} but owned by {owner}: not collected (submitted under another name?)"
        )
    if claimed is None:
        return entry(f"unreadable time {timestamp!r} in its name")
    try:
        newest, odd = _walk_times(path)
    except OSError as error:
        return entry(f"cannot be read: {error.strerror or error}")
    if odd:
        return entry(f"holds a link or special file ({odd}): not collected", newest)
    return entry(newest=newest)


def _walk_times(folder: Path) -> tuple[dt.datetime, str]:
    """Newest change time under ``folder``, and the first link or special file found ('' if none)."""
    newest = folder.lstat().st_ctime
    for item in folder.rglob("*"):
        info = item.lstat()
        newest = max(newest, info.st_ctime)
        if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
            return _utc(newest), item.name
    return _utc(newest), ""


def latest_per_student(entries: Iterable[Entry]) -> dict[str, Entry]:
    """Each student's latest valid submission (by the time in its name, as nbgrader orders them)."""
    chosen: dict[str, Entry] = {}
    for entry in entries:
        if entry.problem:
            continue
        best = chosen.get(entry.student)
        if best is None or (entry.claimed, entry.received) > (best.claimed, best.received):
            chosen[entry.student] = entry
    return chosen


def copy_submission(source: Path, destination: Path) -> list[str]:
    """Copy the regular files at the top of ``source`` into a fresh ``destination``.

    Opened without following links, relative to the folder's own descriptor, so a student who
    swaps a file for a link after the scan still gets nothing copied from outside their folder.
    Returns the names copied.
    """
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    folder = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    copied, total = [], 0
    try:
        for name in sorted(os.listdir(folder)):
            try:
                handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
            except OSError:
                continue  # a link or something unreadable: never followed
            with os.fdopen(handle, "rb") as reader:
                info = os.fstat(reader.fileno())
                total += info.st_size
                if not stat.S_ISREG(info.st_mode) or total > MAX_COLLECTED_BYTES:
                    continue
                with open(destination / name, "wb") as writer:
                    shutil.copyfileobj(reader, writer)
            copied.append(name)
    finally:
        os.close(folder)
    return copied


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


# --------------------------------------------------------------------------- nbgrader classes
class PrivateSubmit(ExchangeSubmit):
    """``nbgrader submit`` whose submission only its author and the instructors can read.

    nbgrader's own submit makes the submission folder world-writable (0777) and accepts
    ``--student=SOMEONE``. Here: files are written under umask 077, then set to 0640 in folders
    of 0750, with the instructors' group (inherited from the setgid inbound folder); and a
    student may submit only as themselves.
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
            self.private_copy(self.src_path, destination)
            self.write_stamps(destination, secret)
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
        shutil.copytree(source, destination, ignore=ignore, copy_function=shutil.copyfile)

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
        copy_submission(Path(src), Path(dest))


def random_suffix() -> str:
    """The random part nbgrader appends to a submission's name (kept for tests and tools)."""
    return base64.urlsafe_b64encode(os.urandom(9)).decode("ascii")
