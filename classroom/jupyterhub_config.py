"""JupyterHub for a class of this course on one Linux server, with the server's own accounts.

Run as root from the course folder: ``sudo make hub`` (README, "A class on JupyterHub").

- Who may log in: members of the instructors' and students' Unix groups (PAM passwords);
  the same two groups appear in the hub (admin page, API).
- Per role (classroom/jupyter/<role>/): instructors get the Formgrader, Create Assignment and
  Course List and open JupyterLab in the course folder; students get the Assignments panel
  (fetch, submit, fetch feedback) and open it in their home, with no Formgrader at all.
- Everyone's nbgrader uses the class exchange (coursekit.exchange.site(): COURSE_EXCHANGE,
  else classroom/site.json written by ``sudo make classroom-setup``).

Settings for another layout (and for tests/test_classroom.py), all optional:
CLASSROOM_BIND_URL (public address, default http://:8000), CLASSROOM_HUB_URL (the hub's
internal API, default http://127.0.0.1:8081), CLASSROOM_PROXY_API_URL (default
http://127.0.0.1:8001), CLASSROOM_STATE (database, cookie secret; default /srv/jupyterhub),
CLASSROOM_COURSE_ROOT (the instructors' course folder, default this repository),
CLASSROOM_ADMIN_TOKEN (a token for a "classroom-admin" service that manages users and servers).
"""

import grp
import os
import pwd
from pathlib import Path

from coursekit.exchange import site

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV_BIN = REPO / ".venv" / "bin"
STATE = Path(os.environ.get("CLASSROOM_STATE", "/srv/jupyterhub"))
COURSE_ROOT = Path(os.environ.get("CLASSROOM_COURSE_ROOT", str(REPO)))
LOCAL_PROXY = REPO / ".venv" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
CLASS = site()

c = get_config()  # noqa: F821 — injected by traitlets when it loads this file


def members(group: str) -> set[str]:
    """Accounts in a Unix group (listed members and those whose primary group it is)."""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return set()
    primary = {user.pw_name for user in pwd.getpwall() if user.pw_gid == entry.gr_gid}
    return set(entry.gr_mem) | primary


def is_instructor(name: str) -> bool:
    return name in members(CLASS.instructors_group)  # read at each start: no hub restart needed


# --------------------------------------------------------------------------- network and state
STATE.mkdir(mode=0o700, parents=True, exist_ok=True)  # the cookie secret lives here
c.JupyterHub.bind_url = os.environ.get("CLASSROOM_BIND_URL", "http://:8000")
c.JupyterHub.hub_bind_url = os.environ.get("CLASSROOM_HUB_URL", "http://127.0.0.1:8081")
c.ConfigurableHTTPProxy.api_url = os.environ.get("CLASSROOM_PROXY_API_URL", "http://127.0.0.1:8001")
c.ConfigurableHTTPProxy.command = [str(LOCAL_PROXY) if LOCAL_PROXY.exists() else "configurable-http-proxy"]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every user's server
c.JupyterHub.cleanup_proxy = True

# --------------------------------------------------------------------------- who
c.JupyterHub.authenticator_class = "pam"
c.LocalAuthenticator.allowed_groups = {CLASS.instructors_group, CLASS.students_group}
c.JupyterHub.load_groups = {
    CLASS.instructors_group: {"users": sorted(members(CLASS.instructors_group))},
    CLASS.students_group: {"users": sorted(members(CLASS.students_group))},
}

# --------------------------------------------------------------------------- each user's server
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.Spawner.environment = {
    "PATH": os.pathsep.join([str(VENV_BIN), "/usr/local/bin", "/usr/bin", "/bin"]),
    "COURSE_ID": CLASS.course_id,
    "COURSE_EXCHANGE": str(CLASS.exchange),
    "COURSE_INSTRUCTORS_GROUP": CLASS.instructors_group,
    "COURSE_STUDENTS_GROUP": CLASS.students_group,
}


def per_role(spawner) -> None:
    """Instructors: Formgrader, in the course folder. Students: Assignments panel, in their home."""
    name = spawner.user.name
    if is_instructor(name):
        paths = [HERE / "jupyter" / "instructor", COURSE_ROOT]  # COURSE_ROOT: its nbgrader_config.py
        spawner.notebook_dir = str(COURSE_ROOT)
    else:
        paths = [HERE / "jupyter" / "student"]
        spawner.notebook_dir = "~"
    spawner.environment["JUPYTER_CONFIG_PATH"] = os.pathsep.join(str(path) for path in paths)


c.Spawner.pre_spawn_hook = per_role

# --------------------------------------------------------------------------- automation (optional)
if os.environ.get("CLASSROOM_ADMIN_TOKEN"):
    c.JupyterHub.services = [{"name": "classroom-admin", "api_token": os.environ["CLASSROOM_ADMIN_TOKEN"]}]
    c.JupyterHub.load_roles = [
        {
            "name": "classroom-admin",
            "scopes": [
                "admin:users",
                "admin:servers",
                "admin:groups",
                "tokens",
                "access:servers",
            ],
            "services": ["classroom-admin"],
        }
    ]
