"""A class through nbgrader's exchange: the pieces (fast), then a real class on JupyterHub (slow).

The slow test starts a real JupyterHub (configurable-http-proxy from npm, `make classroom-deps`)
on 127.0.0.1 with real local accounts — one instructor, three students — created with useradd
(root only; it skips with the reason elsewhere). Each student works through their own Jupyter
server's nbgrader API, exactly what the Assignments panel calls: fetch, save answers, submit,
fetch feedback. The instructor runs the course's commands as themselves (runuser): release,
collect, grade in the sandbox, return feedback, export. One student attacks another's submission
from a shell and must fail. Every process the test started is stopped, and checked to be gone.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from coursekit import classroom, exchange
from coursekit.grading import Outcome, outcomes_on_record
from coursekit.lessons import ROOT, find_lesson

VENV_BIN = Path(sys.executable).parent
LOCAL_PROXY = Path(sys.prefix) / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
HUB_CONFIG = ROOT / "classroom" / "jupyterhub_config.py"
INSTRUCTOR = "pyc-teach"
ANSWERS = {"pyc-an": "correct", "pyc-binh": "partial", "pyc-chi": "blank"}  # student -> their work
ATTACKER, VICTIM = "pyc-chi", "pyc-an"
INSTRUCTORS_GROUP, STUDENTS_GROUP = "pyc-instructors", "pyc-students"
COURSE = "pytorch-core-test"
LESSON = find_lesson("01_tensors")
EXPECTED = {"pyc-an": 4.0, "pyc-binh": 2.0, "pyc-chi": 0.0}  # lesson 01: 1 + 1 + 2 points
PARTIAL = ("ex1_answer", "ex2_answer")  # the partial answer: the first two exercises (2 points)
TIMINGS = ROOT / "build" / "test-classroom" / "timings.json"


# =========================================================================== the pieces (fast)
def test_the_exchange_comes_from_the_environment_then_site_json_then_a_personal_folder(tmp_path):
    site_file = tmp_path / "site.json"
    personal = exchange.site({"HOME": str(tmp_path)}, site_file)
    assert personal.source == "personal default" and personal.course_id == "pytorch-core"
    assert personal.exchange == tmp_path / ".local" / "share" / "pytorch-core" / "exchange"
    site_file.write_text(json.dumps({"exchange": "/srv/x", "course_id": "class-a"}))
    recorded = exchange.site({}, site_file)
    assert (recorded.exchange, recorded.course_id, recorded.source) == (
        Path("/srv/x"),
        "class-a",
        str(site_file),
    )
    chosen = exchange.site({"COURSE_EXCHANGE": "/e", "COURSE_ID": "b"}, site_file)
    assert (chosen.exchange, chosen.course_id) == (Path("/e"), "b")
    assert chosen.inbound == Path("/e/b/inbound")


def test_the_course_config_and_the_student_config_name_the_private_exchange_classes():
    from traitlets.config import Config

    config = Config()
    exchange.configure(config, exchange.site({"COURSE_EXCHANGE": "/e", "COURSE_ID": "b"}))
    assert config.Exchange.root == "/e" and config.CourseDirectory.course_id == "b"
    assert config.ExchangeFactory.submit == "coursekit.nbgrader_exchange.PrivateSubmit"
    assert config.ExchangeFactory.collect == "coursekit.nbgrader_exchange.SafeCollect"
    for path in (ROOT / "nbgrader_config.py", ROOT / "classroom/jupyter/student/nbgrader_config.py"):
        assert "configure" in path.read_text(), path


def test_a_learner_gets_the_assignments_panel_and_no_formgrader():
    student = ROOT / "classroom" / "jupyter" / "student"
    disabled = json.loads((student / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert disabled == {
        f"@jupyter/nbgrader:{name}": True for name in ("formgrader", "create-assignment", "course-list")
    }
    server = json.loads((student / "jupyter_server_config.json").read_text())["ServerApp"][
        "jpserver_extensions"
    ]
    assert server["nbgrader.server_extensions.formgrader"] is False
    result = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert f'JUPYTER_CONFIG_PATH="{student}' in result.stdout, result.stdout + result.stderr


def write_entry(inbound: Path, student: str, when: str, body: str = "{}") -> Path:
    folder = inbound / f"{student}+{LESSON.slug}+{when}+{secrets.token_hex(3)}"
    folder.mkdir()
    (folder / f"{LESSON.slug}.ipynb").write_text(body)
    return folder


def test_collect_takes_the_latest_own_submission_and_refuses_forged_or_linked_ones(tmp_path):
    me = pwd.getpwuid(os.geteuid()).pw_name
    inbound = tmp_path / "inbound"
    inbound.mkdir()
    write_entry(inbound, me, "2025-01-01 10:00:00.000000 UTC", "old")
    newest = write_entry(inbound, me, "2025-01-02 10:00:00.000000 UTC", "new")
    forged = write_entry(inbound, "someone-else", "2099-01-01 10:00:00.000000 UTC")
    linked = write_entry(inbound, me, "2099-01-01 10:00:00.000000 UTC")
    (linked / "secret.ipynb").symlink_to(tmp_path / "outside.txt")
    (inbound / "stray.txt").write_text("not a submission")

    entries = exchange.scan_inbound(inbound, LESSON.slug)
    problems = {entry.path: entry.problem for entry in entries}
    assert "owned by" in problems[forged] and "link" in problems[linked] and not problems[newest]
    chosen = exchange.latest_per_student(entries)
    assert set(chosen) == {me} and chosen[me].path == newest
    copied, left = exchange.copy_submission(linked, tmp_path / "copy")
    assert copied == [f"{LESSON.slug}.ipynb"] and left == ["secret.ipynb (a link)"], (
        "a link is never followed"
    )


def test_submission_times_parse_as_nbgrader_writes_them():
    moment = exchange.parse_utc("2025-11-30 10:42:16.123456 UTC")
    assert moment == dt.datetime(2025, 11, 30, 10, 42, 16, 123456)
    assert exchange.parse_entry_name(f"a+b+{LESSON.slug}+2025-11-30 10:42:16 UTC+xyz", LESSON.slug) == (
        "a+b",
        "2025-11-30 10:42:16 UTC",
    )


def test_the_lms_csv_has_a_row_per_student_a_column_per_lesson_and_a_status(tmp_path):
    def record(student: str, status: str, score: float | None) -> None:
        (tmp_path / "submitted" / student / LESSON.slug).mkdir(parents=True)
        path = tmp_path / "grading" / LESSON.slug / f"{student}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(Outcome(student, LESSON.slug, status, score, 4.0, "why").__dict__))

    record("ana", "graded", 4.0)
    record("bao", "needs manual grading", 1.0)
    (tmp_path / "collected").mkdir()
    (tmp_path / "collected" / f"{LESSON.slug}.json").write_text(
        json.dumps({"lesson": LESSON.slug, "students": {"ana": {"late": True}}})
    )
    header, rows = classroom.lms_table(tmp_path, None, {"ana", "bao", "cam"})
    assert header == ["username", LESSON.slug, "status"]
    assert rows == [
        ["ana", "4", f"{LESSON.slug} late"],
        ["bao", "1", f"{LESSON.slug} needs manual grading (why)"],
        ["cam", "", f"{LESSON.slug} missing"],
    ]


def test_the_hub_gives_each_role_its_panels_and_folder(tmp_path, monkeypatch):
    from traitlets.config import Config

    monkeypatch.setenv("CLASSROOM_STATE", str(tmp_path / "state"))
    monkeypatch.setenv("CLASSROOM_COURSE_ROOT", str(tmp_path / "course"))
    monkeypatch.setenv("COURSE_INSTRUCTORS_GROUP", "root")  # root is in it on every Linux system
    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(HUB_CONFIG)}
    exec(compile(HUB_CONFIG.read_text(), str(HUB_CONFIG), "exec"), namespace)

    class Spawner:
        def __init__(self, name: str) -> None:
            self.user = type("User", (), {"name": name})()
            self.environment: dict[str, str] = {}
            self.notebook_dir = ""

    teacher, student = Spawner("root"), Spawner("nobody-at-all")
    for spawner in (teacher, student):
        config.Spawner.pre_spawn_hook(spawner)
    assert teacher.notebook_dir == str(tmp_path / "course")
    assert teacher.environment["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0].endswith("jupyter/instructor")
    assert (student.notebook_dir, student.environment["JUPYTER_CONFIG_PATH"]) == (
        "~",
        str(ROOT / "classroom" / "jupyter" / "student"),
    )


# =========================================================================== a real class (slow)
def why_no_class() -> str | None:
    """Why this machine cannot run the class, or None."""
    if os.geteuid() != 0:
        return "needs root: it creates local accounts (useradd) and starts a JupyterHub that switches users"
    for tool in ("useradd", "usermod", "groupadd", "runuser", "bwrap"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed"
    if not LOCAL_PROXY.exists() and shutil.which("configurable-http-proxy") is None:
        return "configurable-http-proxy is not installed: run `make classroom-deps` (needs npm)"
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        return "jupyterhub is not installed in this environment: run `make setup`"
    return None


class Clock:
    """Seconds per phase, kept in build/test-classroom/timings.json (quoted in the report)."""

    def __init__(self) -> None:
        self.start = self.last = time.monotonic()
        self.phases: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.phases[name] = round(now - self.last, 1)
        self.last = now

    def save(self) -> None:
        self.phases["total"] = round(time.monotonic() - self.start, 1)
        TIMINGS.parent.mkdir(parents=True, exist_ok=True)
        TIMINGS.write_text(json.dumps(self.phases, indent=1) + "\n")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Class:
    """The accounts, folders and hub of one test class; every call says who acts."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.course = base / "course"
        self.exchange = base / "exchange"
        self.state = base / "hub"
        self.token = secrets.token_hex(32)
        self.url = f"http://127.0.0.1:{free_port()}"
        self.hub: subprocess.Popen | None = None
        self.env = {
            "COURSE_ID": COURSE,
            "COURSE_EXCHANGE": str(self.exchange),
            "COURSE_INSTRUCTORS_GROUP": INSTRUCTORS_GROUP,
            "COURSE_STUDENTS_GROUP": STUDENTS_GROUP,
        }
        for name in ("COURSE_DATA_MIRROR", "COURSE_DATA_DIR"):
            if os.environ.get(name):
                self.env[name] = os.environ[name]

    # ------------------------------------------------------------------ people
    def as_user(self, user: str, *command: str, cwd: Path | None = None, check: bool = True):
        """Run ``command`` as ``user`` (their groups, their HOME), with the class's settings and,
        for a student, the nbgrader settings their hub server gives their terminal."""
        home = pwd.getpwnam(user).pw_dir
        role = "student" if user in ANSWERS else "instructor"
        env = {
            "JUPYTER_CONFIG_PATH": str(ROOT / "classroom" / "jupyter" / role),
            "HOME": home,
            "USER": user,
            "LOGNAME": user,
            "PATH": os.pathsep.join([str(VENV_BIN), "/usr/bin", "/bin"]),
            "LANG": "C.UTF-8",
            **self.env,
        }
        settings = [f"{key}={value}" for key, value in env.items()]
        result = subprocess.run(
            ["runuser", "-u", user, "--", "env", "-i", *settings, *command],
            cwd=cwd or home,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{user}: {' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def coursekit(self, *args: str, check: bool = True):
        return self.as_user(
            INSTRUCTOR, sys.executable, "-m", "coursekit", *args, cwd=self.course, check=check
        )

    # ------------------------------------------------------------------ the hub
    def start_hub(self) -> None:
        self.state.mkdir(mode=0o700)
        env = {
            **{key: value for key, value in os.environ.items() if not key.startswith(("COURSE_", "JUPYTER"))},
            **self.env,
            "CLASSROOM_BIND_URL": self.url,
            "CLASSROOM_HUB_URL": f"http://127.0.0.1:{free_port()}",
            "CLASSROOM_PROXY_API_URL": f"http://127.0.0.1:{free_port()}",
            "CLASSROOM_STATE": str(self.state),
            "CLASSROOM_COURSE_ROOT": str(self.course),
            "CLASSROOM_ADMIN_TOKEN": self.token,
        }
        log = (self.base / "hub.log").open("w")
        self.hub = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(HUB_CONFIG)],
            cwd=self.state,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_for(lambda: self.api("GET", "/hub/api/").status_code == 200, 90, "the hub to answer")

    def api(self, method: str, path: str, **kwargs):
        import requests

        headers = {"Authorization": f"token {self.token}"}
        try:
            return requests.request(method, self.url + path, headers=headers, timeout=120, **kwargs)
        except requests.ConnectionError as error:
            return type("NoAnswer", (), {"status_code": 0, "text": str(error)})()

    def post(self, user: str, action: str) -> dict:
        """What the Assignments panel's buttons do: POST to the user's own server."""
        data = {"course_id": COURSE, "assignment_id": LESSON.slug}
        response = self.api("POST", f"/user/{user}/assignments/{action}", data=data)
        assert response.status_code == 200, f"{user} {action}: {response.status_code} {response.text[:500]}"
        answer = response.json()
        assert answer["success"], f"{user} {action}: {answer.get('value')}"
        return answer

    def wait_for(self, condition, seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.hub is not None and self.hub.poll() is not None:
                raise AssertionError(f"the hub exited while waiting for {what}:\n{self.hub_log()}")
            if condition():
                return
            time.sleep(0.5)
        raise AssertionError(f"timed out after {seconds:g} s waiting for {what}:\n{self.hub_log()}")

    def hub_log(self) -> str:
        path = self.base / "hub.log"
        return path.read_text(errors="replace")[-4000:] if path.is_file() else ""

    def server_ready(self, user: str) -> bool:
        info = self.api("GET", f"/hub/api/users/{user}")
        return info.status_code == 200 and bool(info.json().get("servers", {}).get("", {}).get("ready"))

    def stop(self) -> list[str]:
        """Stop the hub (it stops the proxy and every server) and kill whatever outlived it."""
        survivors = []
        if self.hub is not None and self.hub.poll() is None:
            self.hub.send_signal(signal.SIGTERM)
            try:
                self.hub.wait(timeout=60)
            except subprocess.TimeoutExpired:
                survivors.append(f"hub {self.hub.pid}")
                os.killpg(self.hub.pid, signal.SIGKILL)
                self.hub.wait()
        proxy_pid = self.state / "jupyterhub-proxy.pid"
        pids = [int(proxy_pid.read_text())] if proxy_pid.is_file() and proxy_pid.read_text().strip() else []
        uids = {pwd.getpwnam(user).pw_uid for user in [INSTRUCTOR, *ANSWERS]}
        pids += [pid for pid in all_pids() if owner(pid) in uids]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                survivors.append(f"{pid} ({command_line(pid)})")
            except ProcessLookupError:
                pass
        return survivors


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def owner(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except FileNotFoundError:
        return None


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return "?"


def answered(notebook: dict, work: str) -> dict:
    """The fetched notebook with the solution's answer cells copied in (all, two, or none)."""
    solution = nbformat.read(LESSON.solution, as_version=4)
    answers = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in solution.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    wanted = {"correct": set(answers), "partial": set(PARTIAL), "blank": set()}[work]
    for cell in notebook["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in wanted:
            lines = answers[grade_id].splitlines()
            cell["source"] = "\n".join(
                line for line in lines if "### BEGIN" not in line and "### END" not in line
            )
    return notebook


ATTACK = r"""
import json, os, pathlib, shutil, sys
inbound, victim = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
home_copy, feedback = pathlib.Path(sys.argv[3]), pathlib.Path(sys.argv[4])
notebook = victim / "01_tensors.ipynb"
attempts = {
    "list inbound": lambda: os.listdir(inbound),
    "list the victim's submission": lambda: os.listdir(victim),
    "read the victim's notebook": lambda: notebook.read_bytes(),
    "overwrite the victim's notebook": lambda: notebook.write_text("{}"),
    "add a file to the victim's submission": lambda: (victim / "extra.ipynb").write_text("{}"),
    "rename the victim's submission": lambda: victim.rename(inbound / "moved"),
    "delete the victim's submission": lambda: shutil.rmtree(victim),
    "read the victim's own copy at home": lambda: home_copy.read_bytes(),
    "list everyone's feedback": lambda: os.listdir(feedback),
}
outcome = {}
for name, attempt in attempts.items():
    try:
        attempt()
        outcome[name] = "ALLOWED"
    except OSError as error:
        outcome[name] = type(error).__name__
print(json.dumps(outcome))
"""


@pytest.fixture
def a_class() -> Iterator[Class]:
    reason = why_no_class()
    if reason:
        pytest.skip(f"no real class here: {reason}")
    base = Path(tempfile.mkdtemp(prefix="coursekit-class-", dir="/tmp"))
    base.chmod(0o755)
    the_class = Class(base)
    survivors: list[str] = []
    opened = open_the_way_to_python()
    try:
        yield the_class
    finally:
        survivors = the_class.stop()
        for folder, mode in opened.items():
            folder.chmod(mode)
        if (base / "hub.log").is_file():  # kept for a failed run: build/test-classroom/hub.log
            TIMINGS.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(base / "hub.log", TIMINGS.parent / "hub.log")
        if not os.environ.get("CLASSROOM_TEST_KEEP"):  # set it to look at a failed class afterwards
            forget_the_class()
            shutil.rmtree(base, ignore_errors=True)
    assert not survivors, f"processes outlived the hub and were killed: {survivors}"


@pytest.mark.slow
def test_a_class_on_jupyterhub_from_release_to_returned_feedback(a_class: Class):
    clock, c = Clock(), a_class

    # Accounts (idempotent), the class exchange, the instructor's course folder.
    run_root(
        sys.executable, "-m", "coursekit", "classroom", "add-users", "--instructors", INSTRUCTOR,
        "--students", *ANSWERS, "--instructors-group", INSTRUCTORS_GROUP, "--students-group", STUDENTS_GROUP,
    )  # fmt: skip
    forget_the_class()  # a previous run's leftovers in the accounts' homes
    c.course.mkdir()
    shutil.chown(c.course, INSTRUCTOR, INSTRUCTORS_GROUP)
    c.course.chmod(0o750)
    run_root(
        sys.executable, "-m", "coursekit", "classroom", "setup", "--instructor", INSTRUCTOR,
        "--exchange", str(c.exchange), "--course", COURSE, "--root", str(c.course), "--no-site-file",
        "--instructors-group", INSTRUCTORS_GROUP, "--students-group", STUDENTS_GROUP,
    )  # fmt: skip
    # The instructor's own copy of the course config makes the folder a course (for the Formgrader).
    c.as_user(INSTRUCTOR, "cp", str(ROOT / "nbgrader_config.py"), str(c.course / "nbgrader_config.py"))
    clock.lap("accounts, exchange, course folder")

    # The hub, every user's server, and each role's panels.
    c.start_hub()
    clock.lap("hub up")
    everyone = [INSTRUCTOR, *ANSWERS]
    for user in everyone:
        response = c.api("POST", f"/hub/api/users/{user}/server")
        assert response.status_code in (201, 202), f"{user}: {response.status_code} {c.hub_log()}"
    for user in everyone:
        c.wait_for(lambda user=user: c.server_ready(user), 240, f"{user}'s server")
        assert c.api("GET", f"/user/{user}/api/status").status_code == 200
    clock.lap("4 user servers up")
    check_roles(c)

    # The instructor releases lesson 01; every student fetches it.
    far = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat()
    c.coursekit("classroom", "release", LESSON.slug, "--root", str(c.course), "--due", far)
    for student in ANSWERS:
        listed = c.api("GET", f"/user/{student}/assignments", params={"course_id": COURSE}).json()
        assert [a["status"] for a in listed["value"] if a["assignment_id"] == LESSON.slug] == ["released"]
        c.post(student, "fetch")
    clock.lap("release and fetch")

    # Answers, saved through each student's own server, then submitted. Binh submits twice:
    # a blank copy on time, the partial answer after the due date (which the instructor moves).
    def save_and_submit(student: str, work: str) -> None:
        path = f"/user/{student}/api/contents/{COURSE}/{LESSON.slug}/{LESSON.slug}.ipynb"
        notebook = c.api("GET", path).json()["content"]
        saved = c.api("PUT", path, json={"type": "notebook", "content": answered(notebook, work)})
        assert saved.status_code == 200, saved.text
        c.post(student, "submit")

    save_and_submit("pyc-binh", "blank")
    save_and_submit("pyc-an", "correct")
    save_and_submit("pyc-chi", "blank")
    time.sleep(1.1)
    due = dt.datetime.now(dt.UTC).isoformat()
    c.coursekit("classroom", "release", LESSON.slug, "--root", str(c.course), "--due", due)
    time.sleep(1.1)
    save_and_submit("pyc-binh", "partial")
    clock.lap("answer and submit (4 submissions)")

    # One student attacks another's submission: nothing works but a forged entry, refused later.
    entries = exchange.scan_inbound(c.exchange / COURSE / "inbound", LESSON.slug)
    victim = next(entry.path for entry in entries if entry.student == VICTIM)
    victim_home = Path(pwd.getpwnam(VICTIM).pw_dir) / COURSE / LESSON.slug / f"{LESSON.slug}.ipynb"
    attack = c.as_user(
        ATTACKER, sys.executable, "-c", ATTACK, str(victim.parent), str(victim), str(victim_home),
        str(c.exchange / COURSE / "feedback"),
    )  # fmt: skip
    outcome = json.loads(attack.stdout)
    assert not [name for name, result in outcome.items() if result == "ALLOWED"], outcome
    as_victim = c.as_user(
        ATTACKER, sys.executable, "-m", "nbgrader", "submit", LESSON.slug, "--student", VICTIM, check=False,
    )  # fmt: skip
    assert as_victim.returncode != 0 and "only as yourself" in as_victim.stdout + as_victim.stderr
    blank = Path(pwd.getpwnam(ATTACKER).pw_dir) / COURSE / LESSON.slug
    forged_name = f"{VICTIM}+{LESSON.slug}+2099-01-01 00:00:00.000000 UTC+forged"
    c.as_user(ATTACKER, "cp", "-r", str(blank), str(victim.parent / forged_name))
    clock.lap("attack")

    # Collect (latest own submission, late marked, forgery refused); nbgrader's collect agrees.
    collected = c.coursekit("classroom", "collect", LESSON.slug, "--root", str(c.course)).stdout
    record = json.loads((c.course / "collected" / f"{LESSON.slug}.json").read_text())
    assert set(record["students"]) == set(ANSWERS), collected
    assert {s: info["late"] for s, info in record["students"].items()} == {
        "pyc-an": False,
        "pyc-binh": True,
        "pyc-chi": False,
    }, collected
    assert [r["entry"] for r in record["refused"]] == [forged_name], collected
    assert not any(info["not_copied"] for info in record["students"].values()), collected
    for student in ANSWERS:  # what feedback needs: the student's submission time and secret
        names = sorted(path.name for path in (c.course / "submitted" / student / LESSON.slug).iterdir())
        assert names == [f"{LESSON.slug}.ipynb", "submission_secret.txt", "timestamp.txt"], names
    assert f"owned by {ATTACKER}" in record["refused"][0]["reason"]
    c.as_user(
        INSTRUCTOR, sys.executable, "-m", "nbgrader", "collect", LESSON.slug, f"--course={COURSE}",
        "--CourseDirectory.submitted_directory=nbgrader-collected", cwd=c.course,
    )  # fmt: skip
    ours = c.course / "submitted" / VICTIM / LESSON.slug / f"{LESSON.slug}.ipynb"
    theirs = c.course / "nbgrader-collected" / VICTIM / LESSON.slug / f"{LESSON.slug}.ipynb"
    assert theirs.read_bytes() == ours.read_bytes(), "nbgrader's collect (SafeCollect) took the forgery"
    clock.lap("collect")

    # Grade in the sandbox, as the instructor.
    graded = c.coursekit("classroom", "grade", "--root", str(c.course), "-j", "2", check=False)
    outcomes = {row.student: row for row in outcomes_on_record(c.course)}
    scores = {student: row.score for student, row in outcomes.items()}
    assert scores == EXPECTED, graded.stdout + graded.stderr
    assert all(row.status == "graded" for row in outcomes.values()), graded.stdout
    assert graded.returncode == 0, graded.stdout + graded.stderr
    clock.lap("grade (3 submissions + sandbox)")

    # Feedback: generated, released, and each student fetches exactly their own page.
    c.coursekit("classroom", "return-feedback", LESSON.slug, "--root", str(c.course))
    for student in ANSWERS:
        c.post(student, "fetch_feedback")
        folder = Path(pwd.getpwnam(student).pw_dir) / COURSE / LESSON.slug / "feedback"
        pages = sorted(folder.rglob("*.html"))
        assert len(pages) == 1, (student, pages)
        own = c.course / "feedback" / student / LESSON.slug / f"{LESSON.slug}.html"
        assert pages[0].read_bytes() == own.read_bytes(), f"{student} got someone else's page"
        listed = c.api("GET", f"/user/{student}/assignments", params={"course_id": COURSE}).json()["value"]
        submitted = [a for a in listed if a["status"] == "submitted"]
        assert any(s["has_local_feedback"] for a in submitted for s in a["submissions"]), listed
    clock.lap("return and fetch feedback")

    # The LMS export.
    output = c.course / "class-grades.csv"
    c.coursekit("classroom", "export", "--root", str(c.course), "--output", str(output))
    with output.open(newline="") as handle:
        rows = {row["username"]: row for row in csv.DictReader(handle)}
    assert {student: float(rows[student][LESSON.slug]) for student in ANSWERS} == EXPECTED
    assert {student: rows[student]["status"] for student in ANSWERS} == {
        "pyc-an": "complete",
        "pyc-binh": f"{LESSON.slug} late",
        "pyc-chi": "complete",
    }
    clock.lap("export")
    clock.save()


def open_the_way_to_python() -> dict[Path, int]:
    """Let other accounts enter the folders above this environment's Python, until the test ends.

    A Python installed under /root (pyenv as root: this build machine and its CI) cannot be run
    by any other account, so no student's server could start. The test adds only o+x (enter,
    not list) to those folders and restores their modes afterwards; a class server should build
    its environment with a Python outside /root instead (`coursekit classroom setup` warns).
    """
    opened = {}
    for path in {Path(sys.executable).resolve(), Path(sys.prefix), Path(sys.base_prefix)}:
        for folder in classroom.closed_ancestors(path):
            opened.setdefault(folder, folder.stat().st_mode & 0o7777)
            folder.chmod(opened[folder] | 0o001)
    return opened


def forget_the_class() -> None:
    """Remove the test course's folders from the test accounts' homes (fetched work, caches)."""
    for user in [INSTRUCTOR, *ANSWERS]:
        try:
            home = Path(pwd.getpwnam(user).pw_dir)
        except KeyError:
            continue
        shutil.rmtree(home / COURSE, ignore_errors=True)
        shutil.rmtree(home / ".local" / "share" / "jupyter" / "nbgrader_cache" / COURSE, ignore_errors=True)


def run_root(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def check_roles(c: Class) -> None:
    """Students: Assignments panel, no Formgrader. Instructor: Formgrader on the course folder."""

    def page_config(user: str) -> dict:
        page = c.api("GET", f"/user/{user}/lab").text
        start = page.index('id="jupyter-config-data"')
        body = page[page.index(">", start) + 1 : page.index("</script>", start)]
        return json.loads(body)

    for student in ANSWERS:
        assert c.api("GET", f"/user/{student}/formgrader/api/status").status_code == 404
        disabled = page_config(student)["disabledExtensions"]
        assert (
            "@jupyter/nbgrader:formgrader" in disabled and "@jupyter/nbgrader:assignment-list" not in disabled
        )
    status = c.api("GET", f"/user/{INSTRUCTOR}/formgrader/api/status")
    assert status.status_code == 200, status.text
    manage = c.api("GET", f"/user/{INSTRUCTOR}/formgrader/manage_assignments")
    assert manage.status_code == 200, "the Formgrader finds the course under the instructor's root"
    disabled = page_config(INSTRUCTOR)["disabledExtensions"]
    assert "@jupyter/nbgrader:formgrader" not in disabled
