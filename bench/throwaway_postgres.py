"""A throwaway PostgreSQL server in a temporary folder, for benchmarks against a real database.

``initdb`` and ``pg_ctl`` from the newest ``/usr/lib/postgresql/*/bin``, on a free port on 127.0.0.1,
with password authentication over TCP as on a cluster head: the password lives in a ``PGPASSFILE``
(mode 600) that :meth:`ThrowawayPostgres.client_env` hands to the client (mlflow/server.sh), never in
a URI.  PostgreSQL refuses to run as root, so as root every server command runs as the ``postgres``
user (``runuser``), who is given the folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from sertext.tracking_server import free_port

USER = "mlflow"  # the database role the tracking server logs in as


class ThrowawayPostgres:
    """``start()``, ``create_database(name) -> URI``, ``client_env()``, ``stop()``.

    The server's files go to a new folder of its own under the system's temporary folder (which the
    ``postgres`` user can reach), the password file into ``passfile_dir``."""

    def __init__(self, passfile_dir: Path) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise FileNotFoundError("no PostgreSQL: /usr/lib/postgresql/*/bin/initdb is missing "
                                    "(Debian: apt-get install postgresql)")
        self.bin = Path(found[-1]).parent
        self.folder, self.port = Path(tempfile.mkdtemp(prefix="throwaway-postgres-")), free_port()
        self.data, self.passfile = self.folder / "data", Path(passfile_dir) / "pgpass"
        self.running = False

    def _run(self, *command: str) -> None:
        """A PostgreSQL command, as ``postgres`` when this process is root."""
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, cwd=self.folder)

    def start(self) -> None:
        secret = secrets.token_hex(16)
        (self.folder / "pw").write_text(secret + "\n")
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            for path in (self.folder, self.folder / "pw"):
                os.chown(path, account.pw_uid, account.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, f"--pwfile={self.folder / 'pw'}",
                  "--auth-host=scram-sha-256", "--auth-local=trust", "--no-sync")
        (self.folder / "pw").unlink()
        self.passfile.write_text(f"127.0.0.1:{self.port}:*:{USER}:{secret}\n")
        self.passfile.chmod(0o600)
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w",
                  "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")
        self.running = True

    def create_database(self, name: str) -> str:
        """A new empty database; its URI, without the password."""
        self._run(str(self.bin / "createdb"), "-h", str(self.folder), "-p", str(self.port), "-U", USER, name)
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"

    def client_env(self) -> dict:
        """Environment for a client of this server: where its password is."""
        return {"PGPASSFILE": str(self.passfile)}

    def stop(self) -> None:
        if self.running:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.running = False
        shutil.rmtree(self.folder, ignore_errors=True)
