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
- :func:`configure` puts that into an nbgrader config, naming the classes described below;
- :func:`scan_inbound` / :func:`latest_per_student` / :func:`copy_submission` collect only what
  a student really owns (the folder's owner must be the student it names), never follow a link,
  and judge lateness by the server's clock;
- :mod:`coursekit.nbgrader_exchange` holds the nbgrader classes that :func:`configure` names:
  a submit that keeps a submission private to its author and the instructors and refuses to
  submit under another name, and a collect (the Formgrader's button too) with the rules above.

The inbound folder itself belongs to the instructor, with mode 3773 (sticky: nobody removes or
renames another's entry; no read for others: nobody lists it); see :func:`prepare_class_exchange`.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def personal_exchange(environ: dict[str, str] | None = None) -> Path:
    """A learner's own exchange: a user-writable folder, so nbgrader's panels work alone."""
    environ = os.environ if environ is None else environ
    home = environ.get("HOME") or str(Path.home())
    data_home = environ.get("XDG_DATA_HOME") or str(Path(home) / ".local" / "share")
    return Path(data_home) / "pytorch-core" / "exchange"


def site(environ: dict[str, str] | None = None, site_file: Path = SITE_FILE) -> Site:
    """The course id, exchange and groups in force here: environment > site.json > defaults."""
    environ = dict(os.environ if environ is None else environ)
    recorded: dict[str, Any] = json.loads(site_file.read_text()) if site_file.is_file() else {}
    values: dict[str, Any] = {
        "course_id": DEFAULT_COURSE_ID,
        "exchange": str(personal_exchange(environ)),
        "instructors_group": INSTRUCTORS_GROUP,
        "students_group": STUDENTS_GROUP,
    }
    values.update({key: value for key, value in recorded.items() if key in values and value})
    values.update({key: environ[name] for name, key in ENVIRONMENT.items() if environ.get(name)})
    if environ.get("COURSE_EXCHANGE"):
        source = "environment (COURSE_EXCHANGE)"
    elif recorded.get("exchange"):
        source = str(site_file)
    else:
        source = "personal default"
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
    c.ExchangeFactory.submit = "coursekit.nbgrader_exchange.PrivateSubmit"
    c.ExchangeFactory.collect = "coursekit.nbgrader_exchange.SafeCollect"


def ensure_personal_exchange(where: Site | None = None) -> Path | None:
    """Create a learner's own exchange root if missing (nbgrader's panels fail without one).

    Only the per-user default is ever created here: a class's exchange is made by
    ``coursekit classroom setup``, with its owners and modes.
    """
    where = where or site()
    if where.source != "personal default":
        return None
    try:
        where.exchange.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home: nbgrader then says so in its panel
    return where.exchange


# --------------------------------------------------------------------------- a class's exchange
def prepare_class_exchange(where: Site, instructor: str) -> list[str]:
    """Create (or repair) the exchange of a class; return what was done, one line each.

    Run as root. The instructor owns the course folder and its three folders (nbgrader refuses
    folders it does not own); the instructors' group owns inbound, so submissions (setgid) are
    readable by every instructor and by no other student.
    """
    import pwd

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
        done.append(f"{path}  mode {mode:04o}  owner {_user_name(uid)}")
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
        claimed = parse_utc(timestamp)
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


def copy_submission(source: Path, destination: Path) -> tuple[list[str], list[str]]:
    """Copy the regular files at the top of ``source`` into a fresh ``destination``.

    Opened without following links, relative to the folder's own descriptor, so a student who
    swaps a file for a link after the scan still gets nothing copied from outside their folder.
    Returns the names copied, and the names left behind with the reason.
    """
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    folder = os.open(source, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    copied, skipped, total = [], [], 0
    try:
        for name in sorted(os.listdir(folder)):
            try:
                handle = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
            except OSError as error:  # a link (ELOOP) is never followed; anything else is said
                skipped.append(f"{name} ({'a link' if error.errno == errno.ELOOP else error.strerror})")
                continue
            with os.fdopen(handle, "rb") as reader:
                info = os.fstat(reader.fileno())
                if not stat.S_ISREG(info.st_mode):
                    skipped.append(f"{name} (not a regular file)")
                    continue
                total += info.st_size
                if total > MAX_COLLECTED_BYTES:
                    skipped.append(f"{name} (over {MAX_COLLECTED_BYTES // 2**20} MiB in all)")
                    continue
                with open(destination / name, "wb") as writer:
                    shutil.copyfileobj(reader, writer)
            copied.append(name)
    finally:
        os.close(folder)
    return copied, skipped


def _user_name(uid: int) -> str:
    import pwd  # POSIX only: this module must import on Windows (a learner's nbgrader config)

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


def parse_utc(text: str) -> dt.datetime:
    """nbgrader's submission time (``2025-11-30 10:42:16.123456 UTC``) as naive UTC, as nbgrader reads it."""
    from dateutil import parser, tz

    parts = text.split(" ")
    if len(parts) == 3:
        zone = tz.gettz(parts[2]) if not parts[2].lstrip("+-").isdigit() else int(parts[2])
        moment = parser.parse(" ".join([*parts[:2], "TZ"]), tzinfos={"TZ": zone})
    else:
        moment = parser.parse(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment
