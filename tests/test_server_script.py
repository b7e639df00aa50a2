"""mlflow/server.sh: SIGTERM stops it, and a password never shows in its output or command line."""

import os
import subprocess
import time
import urllib.request

import pytest

from sertext.tracking_server import free_port, start_server, stop_server


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.mark.slow
def test_sigterm_alone_stops_the_server_and_all_its_processes(mlflow_server):
    urllib.request.urlopen(f"{mlflow_server.url}/api/2.0/mlflow/experiments/search?max_results=1", timeout=30)
    group = mlflow_server.process.pid
    assert mlflow_server.stop() == "terminated"  # not "killed": SIGTERM was enough
    assert not _group_alive(group)


def test_a_password_in_the_backend_is_redacted_and_kept_off_the_command_line(tmp_path):
    """Nothing listens on the database port, so the server never comes up; what it printed and how it
    started mlflow is what is checked, then SIGTERM ends it."""
    secret = "s3cr%40t"  # %-escaped "s3cr@t"
    backend = f"postgresql://ana:{secret}@127.0.0.1:{free_port()}/mlflow"
    log = tmp_path / "server.log"
    with open(log, "wb") as sink:
        server = start_server(backend, tmp_path / "artifacts", free_port(), log=sink)
    try:
        for _ in range(200):  # until server.sh has exec'ed mlflow
            command = (f"/proc/{server.pid}/cmdline", f"/proc/{server.pid}/environ")
            arguments = open(command[0], "rb").read().split(b"\0")
            if b"server" in arguments:
                break
            time.sleep(0.05)
        assert b"postgresql+psycopg2://ana@127.0.0.1" in b" ".join(arguments)  # the driver sertext installs
        assert b"s3cr" not in b" ".join(arguments)
        assert b"PGPASSWORD=s3cr@t" in open(command[1], "rb").read().split(b"\0")  # where libpq reads it
    finally:
        outcome = stop_server(server, grace_s=20)
    printed = log.read_text()
    assert "postgresql://ana:***@127.0.0.1" in printed and "~/.pgpass" in printed
    assert "s3cr" not in printed
    assert outcome in ("terminated", "exited")


def test_server_script_help_lists_the_load_settings():
    script = os.path.join(os.path.dirname(__file__), "..", "mlflow", "server.sh")
    shown = subprocess.run(["bash", script, "--help"], capture_output=True, text=True, check=True).stdout
    for name in ("SERTEXT_MLFLOW_WORKERS", "SERTEXT_MLFLOW_POOLCLASS", "SERTEXT_MLFLOW_GRACE_S", "PGPASSFILE"):
        assert name in shown
