"""Start and stop ``mlflow/server.sh`` from Python (the benchmarks and the tests use it).

The server runs in a session of its own, so that its process group (server.sh exec'ed into
``mlflow server``, and the uvicorn process it starts) is exactly what :func:`stop_server` signals:
SIGTERM first, and SIGKILL to the whole group when it is not gone after a grace period, because a
server stalled on its database may not end on SIGTERM alone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVER_SCRIPT = Path(__file__).resolve().parent.parent / "mlflow" / "server.sh"
STOP_GRACE_S = 15.0  # server.sh gives open requests 10 s after SIGTERM (SERTEXT_MLFLOW_GRACE_S), then 5 s to exit


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def start_server(backend: str, artifacts, port: int, *, host: str = "127.0.0.1", env: dict | None = None,
                 log=subprocess.DEVNULL) -> subprocess.Popen:
    """Run ``mlflow/server.sh`` on ``backend`` in a new session; ``env`` adds to this process' environment
    (``SERTEXT_MLFLOW_*`` settings, ``PGPASSFILE``); ``log`` takes its output."""
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])  # server.sh runs `mlflow`
    command = ["bash", str(SERVER_SCRIPT), "--backend", backend, "--artifacts", str(artifacts),
               "--host", host, "--port", str(port)]
    return subprocess.Popen(command, env={**os.environ, "PATH": path, **(env or {})}, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Return once ``url``/health answers; raise RuntimeError if the server exits or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the MLflow server exited with status {process.returncode} before answering")
        try:
            urllib.request.urlopen(f"{url}/health", timeout=1)
            return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"the MLflow server did not answer on {url} within {timeout_s:.0f} s")


def stop_server(process: subprocess.Popen, grace_s: float = STOP_GRACE_S) -> str:
    """SIGTERM the server's process group; SIGKILL the group if its leader is still there after
    ``grace_s``.  Returns ``"exited"`` (it was gone already), ``"terminated"`` or ``"killed"``."""
    if process.poll() is not None:
        _kill_group(process.pid, signal.SIGKILL)  # a leftover uvicorn child, if any
        return "exited"
    _kill_group(process.pid, signal.SIGTERM)
    try:
        process.wait(grace_s)
        outcome = "terminated"
    except subprocess.TimeoutExpired:
        outcome = "killed"
    _kill_group(process.pid, signal.SIGKILL)  # whatever of the group is left, leader or not
    process.wait()
    return outcome


def _kill_group(group: int, signum: int) -> None:
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass
