"""A throwaway PostgreSQL server and an MLflow tracking server on it, for tests; and what the
launcher test (tests/test_cluster.py) needs to check the cluster head's PostgreSQL.

:class:`Postgres` runs Debian's PostgreSQL binaries (``/usr/lib/postgresql/<version>/bin``):
``initdb`` into a fresh folder under the system temp folder, ``pg_ctl`` on a free port of
127.0.0.1 with its Unix socket in that folder, and one database ``sertext`` owned by a login
role ``sertext`` whose random password is only in a pgpass file (mode 600) that libpq, and so
psycopg2 and the MLflow server, read through ``PGPASSFILE``: as on the cluster head
(cluster/head-postgres.sh), the password is never on a command line.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
``postgres`` system user (``runuser``), which gets the folder.  The folder is made with
``tempfile.mkdtemp`` rather than in pytest's ``tmp_path``, whose parents are private to the
invoking user and so out of that user's reach.

:class:`PostgresMlflowServer` runs ``mlflow/server.sh --backend postgresql+psycopg2://...`` in a process
group of its own, which is all it ever signals.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ("initdb", "pg_ctl", "postgres")
# Debian's PostgreSQL: cluster configs, data and logs (postgresql-common's layout), which a test's
# SSH node (tests/cluster_node.py) gets as empty folders of its own.
POSTGRES_FOLDERS = ("/etc/postgresql", "/var/lib/postgresql", "/var/log/postgresql")


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding every program this module runs."""
    found = [folder for folder in Path("/usr/lib/postgresql").glob("*/bin")
             if all((folder / name).is_file() for name in PROGRAMS)]
    return max(found, key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0,
               default=None)


def missing() -> str:
    """Why a :class:`Postgres` cannot run here ('' if it can)."""
    if postgres_bin() is None:
        return ("needs PostgreSQL's server binaries (initdb, pg_ctl, postgres) in /usr/lib/postgresql/*/bin "
                "(Debian: apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "runs as root, and PostgreSQL refuses root: needs the postgres system user (Debian's postgresql)"
        if not shutil.which("runuser"):
            return "runs as root and needs runuser (util-linux) to run PostgreSQL as the postgres user"
    return ""


def head_postgres_missing() -> str:
    """Why a test's SSH node cannot run cluster/head-postgres.sh without installing PostgreSQL on
    this machine ('' if it can: the node's apt-get is then a no-op)."""
    tools = [t for t in ("pg_lsclusters", "pg_ctlcluster", "pg_createcluster", "psql", "pg_dump", "runuser")
             if not shutil.which(t)]
    if tools or not glob.glob("/usr/lib/postgresql/*/bin/postgres") or not all(map(os.path.isdir, POSTGRES_FOLDERS)):
        return ("the head's PostgreSQL needs Debian's postgresql installed here (apt-get install postgresql; "
                f"missing: {', '.join(tools) or 'the server in /usr/lib/postgresql or its folders'})")
    return ""


def process_text(pid: int) -> str:
    """Process ``pid``'s command line and environment, as ``ps e`` shows them ('' once it is gone)."""
    texts = []
    for name in ("cmdline", "environ"):
        try:
            texts.append(Path(f"/proc/{pid}/{name}").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
    return "\n".join(texts)


def password_seen(node, password: str) -> list[str]:
    """Where ``password`` shows on a test's SSH node (tests/cluster_node.py ``Node``) outside the
    head's ~/.pgpass: a command line or environment, a log of the launcher or the MLflow server, the
    node's checkout of the repository."""
    seen = [f"process {pid}: {cmd}" for pid, cmd in node.processes().items() if password in process_text(pid)]
    logs = [*node.folder.glob("*.log"), node.home / "mlflow" / "server.log"]
    seen += [str(log) for log in logs if log.exists() and password in log.read_text(errors="replace")]
    if subprocess.run(["grep", "-rqF", password, str(node.home / "sertext")]).returncode != 1:
        seen.append("~/sertext")
    return seen


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def alive(pid: int) -> bool:
    """Process ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Postgres:
    """A PostgreSQL server of its own, on 127.0.0.1; :meth:`start` it, :meth:`stop` it.

    Attributes once started: ``port``, ``uri`` (no password in it), ``env`` (``PGPASSFILE`` for
    the processes that connect), ``pid`` (the postmaster's).
    """

    user = database = "sertext"

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.folder: Path | None = None
        self.port = 0
        self.pid: int | None = None
        self.password = ""

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    @property
    def pgpass(self) -> Path:
        return self.folder / "pgpass"

    @property
    def uri(self) -> str:
        """The backend URI.  ``+psycopg2`` names the driver the project installs: SQLAlchemy 2.1
        reads a bare ``postgresql://`` as psycopg 3, which it does not."""
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def env(self) -> dict:
        return {"PGPASSFILE": str(self.pgpass)}

    def _as_owner(self, args: list) -> list[str]:
        """``args`` as the server's owner runs them: the postgres user when this is root."""
        args = [str(a) for a in args]
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args

    def _run(self, args: list, timeout: float = 120) -> None:
        result = subprocess.run(self._as_owner(args), capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL, cwd=self.folder)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(map(str, args))} failed (exit {result.returncode}):\n"
                               f"{result.stdout}{result.stderr}{log}")

    def start(self) -> None:
        """initdb, pg_ctl start (waits until it accepts connections), the role, database and pgpass;
        on a failure, whatever it started is stopped."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="sertext-pg-"))
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        # Unix sockets only in the private folder; local connections (the test's own, as the
        # superuser) are trusted there, TCP ones (the MLflow server's) need the password.
        self._run([self.bin / "initdb", "-D", self.data, "-U", "postgres", "-E", "UTF8", "--no-sync",
                   "--auth-local=trust", "--auth-host=scram-sha-256"])
        self.port = free_port()
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run([self.bin / "pg_ctl", "start", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", options])
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        self.password = secrets.token_hex(16)
        self._create_role_and_database()
        self.pgpass.write_text(f"127.0.0.1:{self.port}:{self.database}:{self.user}:{self.password}\n")
        self.pgpass.chmod(0o600)

    def connect(self, database: str = "postgres", user: str = "postgres"):
        """A psycopg2 connection over the Unix socket (trusted), in autocommit mode."""
        import psycopg2

        connection = psycopg2.connect(host=str(self.folder), port=self.port, user=user, dbname=database)
        connection.autocommit = True
        return connection

    def _create_role_and_database(self) -> None:
        from psycopg2 import sql

        connection = self.connect()  # no `with connection`: that opens a transaction, and
        try:                           # CREATE DATABASE refuses to run in one
            with connection.cursor() as cursor:
                cursor.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(self.user)),
                               [self.password])
                cursor.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(self.database),
                                                                              sql.Identifier(self.user)))
        finally:
            connection.close()

    def query(self, statement: str) -> list[tuple]:
        """The rows of ``statement`` in the ``sertext`` database, as its superuser reads them."""
        connection = self.connect(self.database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchall()
        finally:
            connection.close()

    def stop(self) -> None:
        """``pg_ctl stop`` (fast: active sessions are ended), then KILL the postmaster if it is still
        there; the folder goes."""
        if self.folder is None:
            return
        if self.pid is not None and alive(self.pid):
            try:
                self._run([self.bin / "pg_ctl", "stop", "-D", self.data, "-m", "fast", "-w", "-t", "30"], timeout=60)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
            if alive(self.pid):
                os.kill(self.pid, signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None


class PostgresMlflowServer:
    """``mlflow/server.sh --backend <postgres.uri>`` on a free port of 127.0.0.1."""

    def __init__(self, postgres: Postgres, folder: Path) -> None:
        self.postgres = postgres
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.artifacts = folder / "artifacts"
        self.log = folder / "mlflow-server.log"
        self.command = ["bash", str(ROOT / "mlflow" / "server.sh"), "--backend", postgres.uri,
                        "--artifacts", str(self.artifacts), "--host", "127.0.0.1", "--port", str(self.port)]
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.command, env={**os.environ, **self.postgres.env}, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                urllib.request.urlopen(f"{self.url}/health", timeout=2)
                return
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"the MLflow server did not come up; {self.log}:\n"
                           f"{self.log.read_text(errors='replace')[-3000:]}")

    def members(self) -> dict[int, str]:
        """The live processes of the server's process group (pid → command line)."""
        found = {}
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and alive(int(entry.name)) and os.getpgid(int(entry.name)) == self.process.pid:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
        return found

    def stop(self) -> None:
        """TERM the server's process group, KILL what is left of it after 30 s."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 30
        while self.members() and time.monotonic() < deadline:
            time.sleep(0.25)
        if self.members():  # the group still has members, so its id is still this group's
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
