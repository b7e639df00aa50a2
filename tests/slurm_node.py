"""A throwaway Slurm cluster for the sbatch test (tests/test_slurm.py).

:class:`SlurmCluster` runs Debian's ``munged``, ``slurmctld`` and one ``slurmd`` per node on
127.0.0.1 inside new PID, mount, network and UTS namespaces (as tests/cluster_node.py runs its SSH
host), with its own ``slurm.conf``, munge key and socket, and its state, spool and log folders in
the test's folder.  So Slurm's fixed ports (6817, 6818…), what the batch job starts (Ray's 6379,
MLflow's 5000) and its process table are the test's own: killing the namespace's init ends
everything that is left.

Several nodes: each ``slurmd`` is started with ``-N <node>``, on its own port and spool folder
(``%n`` in slurm.conf), all on 127.0.0.1; the namespace's host name is the first node's, which is
also the controller's (``SlurmctldHost``).  Nothing needs cgroups: processes are tracked by
``proctrack/linuxproc``, tasks are not bound (``task/none``), and, with no accounting daemon, Slurm
records each finished job in a ``jobcomp/filetxt`` log (:meth:`SlurmCluster.job_record`).

Client commands (``sbatch``, ``squeue``, ``scontrol``) run inside the namespaces with
``SLURM_CONF`` pointing at the test's slurm.conf (:meth:`SlurmCluster.slurm`).

Run as a script (``python slurm_node.py init FOLDER``), this file is the namespace's init.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # as the init script, too

from tests.cluster_node import Node, _child_of, _loopback_up, reap_forever  # noqa: E402

DAEMONS = {"munged": "/usr/sbin/munged", "slurmctld": "/usr/sbin/slurmctld", "slurmd": "/usr/sbin/slurmd"}
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "srun", "sinfo", "mungekey", "unshare", "nsenter", "mount")
NODE_PREFIX = "sertext-node"
CONTROLLER_PORT = 6817
FIRST_SLURMD_PORT = 6818


def missing_tools() -> list[str]:
    """What this machine lacks to run a :class:`SlurmCluster` (empty: nothing)."""
    missing = [f"{path} ({name})" for name, path in DAEMONS.items() if not os.access(path, os.X_OK)]
    missing += [tool for tool in CLIENTS if not shutil.which(tool)]
    if os.geteuid() != 0:
        missing.append("root (namespaces, mounts, and Slurm's daemons as SlurmUser root)")
    return missing


def slurm_conf(folder: Path, spool: Path, nodes: list[str], cpus: int) -> str:
    """slurm.conf of a cluster of ``nodes`` with ``cpus`` CPUs each, the spool folders (which
    hold Unix sockets) under ``spool`` and everything else under ``folder``."""
    lines = [
        "ClusterName=sertext-test",
        f"SlurmctldHost={nodes[0]}(127.0.0.1)",
        "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={folder / 'munge' / 'munge.sock'}",
        f"SlurmctldPort={CONTROLLER_PORT}",
        f"StateSaveLocation={folder / 'state'}",
        f"SlurmdSpoolDir={spool / '%n'}",
        f"SlurmctldPidFile={folder / 'run' / 'slurmctld.pid'}",
        f"SlurmdPidFile={folder / 'run' / 'slurmd-%n.pid'}",
        f"SlurmctldLogFile={folder / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={folder / 'log' / 'slurmd-%n.log'}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/filetxt", f"JobCompLoc={folder / 'log' / 'jobcomp.txt'}",
        "SchedulerType=sched/builtin", "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",
        "MpiDefault=none", "ReturnToService=2", "SlurmdTimeout=60", "InactiveLimit=0",
        "KillWait=30", "MinJobAge=300",
    ]
    lines += [f"NodeName={node} NodeAddr=127.0.0.1 Port={FIRST_SLURMD_PORT + i} CPUs={cpus} State=UNKNOWN"
              for i, node in enumerate(nodes)]
    lines.append(f"PartitionName=test Nodes={','.join(nodes)} Default=YES MaxTime=INFINITE State=UP")
    return "\n".join(lines) + "\n"


class SlurmCluster(Node):
    """Slurm on ``nodes`` nodes of ``cpus`` CPUs in namespaces of its own, its files under
    ``folder`` but for the nodes' spool folders under ``spool`` (a short path: they hold Unix
    sockets); use as a context manager.  :meth:`processes`, :meth:`listening_ports`,
    :meth:`command` and :meth:`run` are :class:`tests.cluster_node.Node`'s."""

    def __init__(self, folder: Path, *, spool: Path, nodes: int = 1, cpus: int = 2) -> None:
        super().__init__(folder)
        self.spool = Path(spool)
        self.nodes = [f"{NODE_PREFIX}{i + 1}" for i in range(nodes)]
        self.cpus = cpus
        self.conf = self.folder / "slurm.conf"
        self.daemons: dict[str, int] = {}  # name → pid on this machine, once started

    def start(self, timeout: float = 60) -> None:
        for sub in ("munge", "state", "run", "log"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        for node in self.nodes:
            (self.spool / node).mkdir(parents=True, exist_ok=True)
        # slurmstepd's sockets: <spool>/<node>/<node>_<job>.<step>, at most 107 characters
        if len(str(self.spool / self.nodes[-1] / f"{self.nodes[-1]}_4294967295.4294967295")) > 107:
            raise RuntimeError(f"{self.spool}: too long a path for slurmstepd's Unix sockets")
        if len(str(self.folder / "munge" / "munge.sock")) > 107:
            raise RuntimeError(f"{self.folder}: too long a path for munge's Unix socket")
        subprocess.run(["mungekey", "--create", "--keyfile", str(self.folder / "munge" / "munge.key")], check=True,
                       capture_output=True)
        self.conf.write_text(slurm_conf(self.folder, self.spool, self.nodes, self.cpus))
        (self.folder / "hosts").write_text(f"127.0.0.1 localhost {' '.join(self.nodes)}\n::1 localhost\n")
        (self.folder / "init.json").write_text(json.dumps({
            "hostname": self.nodes[0], "nodes": self.nodes, "conf": str(self.conf), "hosts": str(self.folder / "hosts"),
            "munge": str(self.folder / "munge"), "log": str(self.folder / "log"), "ready": str(self.folder / "ready")}))
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--mount-proc", "--net", "--uts", "--", sys.executable, __file__, "init",
                 str(self.folder)], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not (self.folder / "ready").exists():
            self._check_alive(deadline, "the namespace's init did not start the daemons")
            time.sleep(0.1)
        self.init_pid = _child_of(self.process.pid)
        self.daemons = self._daemon_pids()
        while not self._nodes_idle():
            self._check_alive(deadline, "the Slurm nodes did not become idle")
            time.sleep(0.5)

    def _daemon_pids(self) -> dict[str, int]:
        """The daemons the init started (name → pid on this machine), found by command line."""
        found = {}
        for pid, command in self.processes().items():
            words = command.split()
            if words and words[0] in DAEMONS.values():
                node = words[words.index("-N") + 1] if "-N" in words else ""
                found[f"{Path(words[0]).name} {node}".strip()] = pid
        expected = {"munged", "slurmctld", *(f"slurmd {node}" for node in self.nodes)}
        if set(found) != expected:
            raise RuntimeError(f"expected the daemons {sorted(expected)}, found {found}")
        return found

    def _check_alive(self, deadline: float, problem: str) -> None:
        if self.process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{problem}; {self.log}:\n{self.log.read_text()[-3000:]}\n{self.logs()}")

    def _nodes_idle(self) -> bool:
        result = self.slurm(["sinfo", "--noheader", "--Node", "--format=%N %t"], timeout=30)
        states = dict(line.split() for line in result.stdout.splitlines() if line.strip())
        return result.returncode == 0 and all(states.get(node) == "idle" for node in self.nodes)

    def stop_daemons(self, timeout: float = 30) -> dict[str, int]:
        """SIGTERM the daemons this cluster started (slurmd, slurmctld, then munged), by the pids
        their init recorded; wait until they are gone.  Returns those still alive (none, normally)."""
        for name in sorted(self.daemons, key=lambda n: ("slurmd" not in n, n == "munged")):
            try:
                os.kill(self.daemons[name], signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + timeout
            while _alive(self.daemons[name]) and time.monotonic() < deadline:
                time.sleep(0.1)
        return {name: pid for name, pid in self.daemons.items() if _alive(pid)}

    # --- clients ------------------------------------------------------------------------------
    def environment(self, **extra: str) -> dict:
        """This process's environment for Slurm's clients (and, through ``sbatch``, a job)."""
        return {**os.environ, "SLURM_CONF": str(self.conf), **extra}

    def slurm(self, args: list[str], *, cwd: str | Path = "/", env: dict | None = None, timeout: float = 60
              ) -> subprocess.CompletedProcess:
        """Run a Slurm client command inside the namespaces, its output captured."""
        return self.run(args, cwd=cwd, env=env or self.environment(), timeout=timeout,
                        namespaces=("--pid", "--mount", "--net", "--uts"))

    def job_state(self, job_id: str) -> str:
        """The job's state as ``squeue`` shows it ('' once it has left the queue)."""
        result = self.slurm(["squeue", "--noheader", "--jobs", job_id, "--format=%T"])
        return result.stdout.strip() if result.returncode == 0 else ""

    def job_record(self, job_id: str) -> dict[str, str]:
        """Slurm's own record of a finished job: its line in the jobcomp/filetxt log, as a dict
        (``JobState``, ``ExitCode``, ``NodeList``, …); empty until the job has finished."""
        log = self.folder / "log" / "jobcomp.txt"
        for line in (log.read_text().splitlines() if log.exists() else []):
            fields = dict(field.split("=", 1) for field in line.split() if "=" in field)
            if fields.get("JobId") == job_id:
                return fields
        return {}

    def logs(self, chars: int = 2000) -> str:
        """The end of every Slurm and munge log, for a failure message."""
        return "\n".join(f"--- {path.name}:\n{path.read_text(errors='replace')[-chars:]}"
                         for path in sorted((self.folder / "log").glob("*.log")))


def _alive(pid: int) -> bool:
    """Process ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


# --- the namespace's init ----------------------------------------------------------------------------
def _start(name: str, args: list[str], log_folder: str) -> int:
    with open(Path(log_folder) / f"{name}.out", "ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).pid


def _wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear")
        time.sleep(0.05)


def _second_loopback_address(address: str = "127.0.0.2") -> None:
    """Give ``lo`` a second address.  Slurm resolves its listening address with ``AI_ADDRCONFIG``,
    for which glibc counts every IPv4 address but 127.0.0.1: with that one alone, slurmctld and
    slurmd fail with "Unable to resolve (null)"."""
    import fcntl
    import socket
    import struct

    siocsifaddr = 0x8916
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, siocsifaddr, struct.pack("16sH2s4s8x", b"lo:1", socket.AF_INET, b"", socket.inet_aton(address)))


def _init(folder: Path) -> None:
    """PID 1 of the namespace: loopback up (with a second address), the first node's host name, a private /etc/hosts
    (every node is 127.0.0.1); munged, slurmctld and each node's slurmd in the foreground (their
    pids, as this machine numbers them, go into the ready file); then reap orphans until killed."""
    config = json.loads((folder / "init.json").read_text())
    _loopback_up()
    _second_loopback_address()
    socket.sethostname(config["hostname"])
    subprocess.run(["mount", "--bind", config["hosts"], "/etc/hosts"], check=True)
    munge = Path(config["munge"])
    pids = {"munged": _start("munged", [
        DAEMONS["munged"], "--foreground", "--force", f"--socket={munge / 'munge.sock'}",
        f"--key-file={munge / 'munge.key'}", f"--pid-file={munge / 'munged.pid'}",
        f"--seed-file={munge / 'munged.seed'}"], config["log"])}
    _wait_for(munge / "munge.sock")
    pids["slurmctld"] = _start("slurmctld", [DAEMONS["slurmctld"], "-D", "-f", config["conf"]], config["log"])
    for node in config["nodes"]:
        pids[f"slurmd {node}"] = _start(f"slurmd-{node}", [DAEMONS["slurmd"], "-D", "-f", config["conf"], "-N", node],
                                        config["log"])
    Path(config["ready"]).write_text(json.dumps(pids))
    reap_forever()


if __name__ == "__main__" and sys.argv[1:2] == ["init"]:
    _init(Path(sys.argv[2]))
