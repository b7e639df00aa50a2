"""cluster/slurm/sweep.sbatch on a real Slurm: Debian's slurmctld, two slurmd and munged on
127.0.0.1 in namespaces of the test's own (tests/slurm_node.py).  The job runs the demo sweep
with its Ray head and MLflow server on the first node and a Ray worker on the second; a second
job is cancelled while its driver runs.  Each test checks Slurm's record of the job and that
nothing the job started is left running.

The job inherits the test session's environment (conftest.py's temporary HOME among it), so the
demo sweep reads the session's demo corpus (``~/.cache/sertext/demo-corpus``) if an earlier test
wrote it, and leaves it for later ones otherwise.
"""

import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.slurm_node import SlurmCluster, missing_tools
from tests.test_cluster import namespaces_allowed

ROOT = Path(__file__).resolve().parent.parent
SBATCH = ROOT / "cluster" / "slurm" / "sweep.sbatch"
SWEEP = "iemocap-loso-demo"
ARCHS = {"cnn14", "text", "sfcnn14", "mfcnn14"}
FOLDS = ("Ses01F", "Ses01M")  # as tests/test_cluster.py: one session, both speakers
# Two nodes of one CPU each (the machine's two cores): the head runs one trial at a time, the worker one.
NODES, CPUS = 2, 1
# What the Slurm test cluster itself runs, besides its daemons and the namespace's init.
DAEMON_PORTS = {6817, 6818, 6819}
SCRIPT_DAEMON = "slurmctld: slurmscriptd"  # slurmctld's helper process


def slurm_skip_reason() -> str:
    missing = missing_tools()
    if missing:
        return f"the Slurm test needs {', '.join(missing)}"
    refused = namespaces_allowed()
    if refused:
        return f"this machine does not allow new PID/mount/network namespaces (unshare: {refused})"
    return ""


@pytest.fixture
def short_tmp():
    """A folder with a short path, for what holds Unix sockets (their paths may not exceed 107
    characters; pytest's tmp_path is too deep): the nodes' spool folders and the job's TMPDIR,
    where Ray keeps its sockets."""
    folder = tempfile.mkdtemp(prefix="slurm-", dir="/tmp")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def slurm(tmp_path, short_tmp):
    reason = slurm_skip_reason()
    if reason:
        pytest.skip(reason)
    with SlurmCluster(tmp_path / "slurm", spool=Path(short_tmp) / "spool", nodes=NODES, cpus=CPUS) as cluster:
        yield cluster


def submit(slurm: SlurmCluster, work: Path, tmp: str, *args: str) -> str:
    """``sbatch cluster/slurm/sweep.sbatch ARGS`` from the repository, as README.md says, with the
    test's resources on the command line (over the file's #SBATCH lines: no GPUs here) and its
    stores under ``work``; returns the job id."""
    env = slurm.environment(SERTEXT_VENV=sys.prefix, SERTEXT_SHARED=str(work), TMPDIR=tmp,
                            SERTEXT_HEAD_ADDRESS="127.0.0.1")  # every node is 127.0.0.1 here
    env.pop("RAY_ADDRESS", None)
    result = slurm.slurm(["sbatch", "--parsable", f"--nodes={NODES}", f"--cpus-per-task={CPUS}", "--gpus-per-task=0",
                          "--time=30", f"--chdir={work}", f"--output={work}/slurm-%j.log", str(SBATCH), *args],
                         cwd=ROOT, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().split(";")[0]


def wait_for_record(slurm: SlurmCluster, job_id: str, timeout: float) -> dict:
    """Slurm's record of the job once it has ended: recorded, and gone from the queue, where it
    stays COMPLETING until its last process has exited (a cancelled job is recorded at once, while
    its exit trap still runs).  Fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (record := slurm.job_record(job_id)) or slurm.job_state(job_id):
        assert time.monotonic() < deadline, f"job {job_id} still {slurm.job_state(job_id)!r}\n{slurm.logs()}"
        time.sleep(1)
    return record


def left_behind(slurm: SlurmCluster) -> tuple[dict, set]:
    """Processes other than the cluster's own daemons, and ports other than theirs, in the
    namespaces; waits up to 10 s for them to go (Slurm reaps a step's processes asynchronously)."""
    deadline = time.monotonic() + 10
    while True:
        own = {slurm.init_pid, *slurm.daemons.values()}
        processes = {pid: cmd for pid, cmd in slurm.processes().items() if pid not in own and cmd != SCRIPT_DAEMON}
        ports = slurm.listening_ports() - DAEMON_PORTS
        if not (processes or ports) or time.monotonic() > deadline:
            return processes, ports
        time.sleep(0.5)


def assert_nothing_left(slurm: SlurmCluster, log: Path) -> None:
    """Nothing of the job (Ray, MLflow, a step) runs after it; then the daemons stop and nothing
    at all runs in the namespaces but their init."""
    processes, ports = left_behind(slurm)
    assert not processes and not ports, f"the job left {processes}, ports {ports}\n{tail(log)}"
    assert slurm.stop_daemons() == {}
    assert set(slurm.processes()) == {slurm.init_pid} and not slurm.listening_ports(), slurm.processes()


def tail(path: Path, chars: int = 6000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else f"(no {path})"


def finished_runs(uri: str) -> tuple[list, list]:
    """(sweep runs, trial runs) of the demo sweep in the store at ``uri``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(SWEEP)
    assert experiment is not None, [e.name for e in client.search_experiments()]
    parents = client.search_runs([experiment.experiment_id], "tags.`sertext.kind` = 'sweep'")
    trials = client.search_runs([experiment.experiment_id], "tags.`sertext.kind` = 'trial'")
    return parents, trials


@pytest.mark.slow
@pytest.mark.ray
def test_sbatch_runs_the_demo_sweep_and_leaves_nothing_running(slurm, short_tmp, tmp_path, record_property):
    """The demo sweep (two folds, one seed, one epoch: 8 trials) on a two-node allocation: every
    trial FINISHED in the MLflow store behind the job's tracking server, with its predictions among
    the server's artifacts; the report written; the features in the shared cache; Slurm's record
    says COMPLETED; nothing of Ray or MLflow is left on either node."""
    work = tmp_path / "work"
    work.mkdir()
    started = time.monotonic()
    job = submit(slurm, work, short_tmp, "sweeps/loso.py", "--demo", "--folds", *FOLDS, "--seeds", "0",
                 "--set", "train.epochs=1", "--quiet")
    record = wait_for_record(slurm, job, timeout=1500)  # a guard against a hang, not a budget
    seconds = round(time.monotonic() - started, 1)
    print(f"sbatch to Slurm's record: {seconds} s", flush=True)
    record_property("job_seconds", seconds)
    log = work / f"slurm-{job}.log"
    assert record["JobState"] == "COMPLETED" and record["ExitCode"] == "0:0", f"{record}\n{tail(log)}"
    assert record["NodeList"] == "sertext-node[1-2]", record

    parents, trials = finished_runs(f"sqlite:///{work}/mlflow/mlflow.db")
    assert [p.info.status for p in parents] == ["FINISHED"], tail(log)
    assert len(trials) == len(ARCHS) * len(FOLDS)
    assert {(t.data.tags["arch"], t.data.tags["fold"]) for t in trials} == {(a, f) for a in ARCHS for f in FOLDS}
    assert {t.info.status for t in trials} == {"FINISHED"}
    for trial in trials:  # uploaded through the server, which keeps them under the job's artifacts folder
        uploaded = list((work / "mlflow" / "artifacts").glob(f"*/{trial.info.run_id}/artifacts/predictions/test.csv"))
        assert uploaded, trial.info.run_id
    assert (work / "reports" / SWEEP / "report.md").is_file()
    assert any((work / "sertext-features").iterdir())  # the cache the script passed (--cache-dir)
    text = log.read_text()
    assert "Ray (127.0.0.1:6379, 2 nodes) and the MLflow server (http://127.0.0.1:5000, log" in text
    assert "GET /health" in (work / f"mlflow-server-{job}.log").read_text()  # its own log, not the job's
    assert "stopped the MLflow server and the Ray nodes (exit status 0)" in text
    assert not (Path(short_tmp) / f"sertext-ray-{job}").exists()  # Ray's files went with it
    assert_nothing_left(slurm, log)


STALL = """
import argparse, os, time
from pathlib import Path

parser = argparse.ArgumentParser(description="waits, as a sweep's driver does for its trials")
parser.add_argument("marker")
Path(parser.parse_args().marker).write_text(os.environ["RAY_ADDRESS"] + " " + os.environ["MLFLOW_TRACKING_URI"])
time.sleep(600)
"""


@pytest.mark.slow
@pytest.mark.ray
def test_scancel_stops_the_server_and_every_ray_node(slurm, short_tmp, tmp_path):
    """scancel while the driver runs (a script that only waits): the trap stops the driver, the
    MLflow server and both Ray nodes before Slurm's KillWait runs out, and the job is CANCELLED."""
    work = tmp_path / "work"
    work.mkdir()
    driver, started = work / "stall.py", work / "driver-started"
    driver.write_text(STALL)
    job = submit(slurm, work, short_tmp, str(driver), str(started))
    log = work / f"slurm-{job}.log"
    deadline = time.monotonic() + 300  # a guard against a hang, not a budget
    while not started.exists():
        state = slurm.job_state(job)
        assert state in ("PENDING", "CONFIGURING", "RUNNING") and time.monotonic() < deadline, \
            f"job {job} {state!r}; {tail(log)}\n{slurm.logs()}"
        time.sleep(0.5)
    assert started.read_text() == "127.0.0.1:6379 http://127.0.0.1:5000"
    assert {5000, 6379} <= slurm.listening_ports()

    result = slurm.slurm(["scancel", job])
    assert result.returncode == 0, result.stderr
    record = wait_for_record(slurm, job, timeout=120)
    assert record["JobState"] == "CANCELLED", record
    text = tail(log)
    assert "received a signal: stopping" in text  # the trap ran: stopped the server and Ray itself
    assert "stopped the MLflow server and the Ray nodes (exit status 143)" in text, text
    assert_nothing_left(slurm, log)
