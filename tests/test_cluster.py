"""The cluster launcher configs: Ray's own validation, what their ``rsync_exclude`` lets through to
the nodes, the locked install, and (slow) the whole path with Ray's real launcher: ``ray up``,
``ray submit`` of the demo sweep, ``ray up`` again and ``ray down`` of ``cluster/local.yaml``
against an SSH host on this machine (tests/cluster_node.py), whose MLflow server keeps its runs
in the distribution's PostgreSQL (cluster/head-postgres.sh, in the node's own PostgreSQL folders).
"""

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.command_runner import SSHCommandRunner
from ray.autoscaler._private.util import prepare_config, validate_config

from tests.cluster_node import Node, missing_tools
from tests.postgres import POSTGRES_FOLDERS, head_postgres_missing, password_seen

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = ROOT / "cluster"
CONFIGS = ["cluster.yaml", "local.yaml"]


def load(name: str) -> dict:
    return yaml.safe_load((CLUSTER / name).read_text())


@pytest.mark.parametrize("name", CONFIGS)
def test_cluster_config_validates(name):
    config = load(name)
    validate_config(prepare_config(copy.deepcopy(config)))
    assert "~/sertext" in config["file_mounts"]
    starts = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in starts and "cluster/head-mlflow.sh" in starts
    assert "mlflow/server.sh" in (CLUSTER / "head-mlflow.sh").read_text()
    # PostgreSQL installed in the head's setup, started before the MLflow server that uses it.
    assert "bash ~/sertext/cluster/head-postgres.sh install" in config["head_setup_commands"]
    postgres = starts.index("bash ~/sertext/cluster/head-postgres.sh start")
    assert postgres < starts.index('--backend "$(bash ~/sertext/cluster/head-postgres.sh uri)"')
    assert "RAY_AUTH_MODE=disabled" in " ".join(config["worker_start_ray_commands"])


def test_cloud_head_runs_no_trials():
    config = load("cluster.yaml")
    assert config["available_node_types"]["head"]["resources"] == {"CPU": 0}
    assert config["available_node_types"]["gpu_worker"]["resources"]["GPU"] == 1


@pytest.mark.parametrize("name", CONFIGS)
def test_nodes_install_with_the_lock(name):
    """The nodes install as README.md does, with the versions CI tested (the lock itself reaches
    the nodes with the rest of the repository: test_rsync_exclude_keeps_the_package)."""
    installs = [c for c in load(name)["setup_commands"] if "install" in c and "-e ~/sertext" in c]
    assert len(installs) == 1 and "-c ~/sertext/requirements.lock -e ~/sertext" in installs[0]
    assert (ROOT / "requirements.lock").is_file()


# --- rsync_exclude --------------------------------------------------------------------------------
# Files a checkout may hold that must stay on the laptop; the package's own sertext/data/ and
# tests/data/ must not be caught by the same patterns (issue 12).
LOCAL_ONLY = [
    "data/IEMOCAP_full_release/Session1/sentences/wav/a.wav",
    "ray_results/iemocap-loso/experiment_state.json",
    ".venv/bin/python",
    "mlflow/mlflow.db",
    "mlflow/artifacts/1/abc/artifacts/predictions/test.csv",
    "reports/iemocap-loso/report.md",
    "sertext/__pycache__/trial.cpython-311.pyc",
    "sertext/data/__pycache__/iemocap.cpython-311.pyc",
]


def repository_files() -> set[str]:
    """Every file of the repository that git does not ignore (tracked or new), and every file of
    the package and the sweep scripts."""
    files = set()
    try:
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.splitlines()
        files.update(f for f in listed if (ROOT / f).is_file())
    except (OSError, subprocess.CalledProcessError):
        pass
    for folder in ("sertext", "sweeps"):
        files.update(p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*")
                     if p.is_file() and "__pycache__" not in p.parts)
    return files


def ray_rsync_command(excludes: list, source: str, target: str) -> list[str]:
    """The rsync command Ray's SSHCommandRunner.run_rsync_up builds for a file mount, made local
    (no ``--rsh``, the target a local folder) but otherwise as Ray runs it."""
    captured = []
    runner = SSHCommandRunner(log_prefix="", node_id="node", provider=None, auth_config={"ssh_user": "root"},
                              cluster_name="sertext", process_runner=subprocess, use_internal_ip=False)
    runner._get_ssh_target = lambda: "node"
    runner._run_helper = lambda command, **kwargs: captured.append(list(command))
    runner.run_rsync_up(source, target, options={"rsync_exclude": excludes})
    (command,) = captured
    assert command[0] == "rsync" and command[-1] == f"root@node:{target}", command
    rsh = command.index("--rsh")
    return command[:rsh] + command[rsh + 2:-1] + [target]


@pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed")
@pytest.mark.parametrize("name", CONFIGS)
def test_rsync_exclude_keeps_the_package(name, tmp_path):
    """A checkout with every repository file and the usual local-only folders, synced with the
    config's rsync_exclude exactly as Ray syncs the ``~/sertext: .`` file mount ("./" → "~/sertext/")."""
    files = repository_files()
    assert "sertext/data/__init__.py" in files and "sertext/trial.py" in files
    source, target = tmp_path / "checkout", tmp_path / "node"
    for path in files | set(LOCAL_ONLY):
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).touch()
    result = subprocess.run(ray_rsync_command(load(name)["rsync_exclude"], f"{source}/", f"{target}/"),
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    synced = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert not sorted(files - synced), f"{name}: rsync_exclude drops repository files"
    assert not sorted(synced & set(LOCAL_ONLY)), f"{name}: rsync_exclude lets local-only files through"


# --- the launcher, for real -------------------------------------------------------------------
HEAD = "127.0.0.1"
SWEEP = "iemocap-loso-demo"
ARCHS = {"cnn14", "text", "sfcnn14", "mfcnn14"}
FOLDS = ("Ses01F", "Ses01M")
POSTGRES_URI = "postgresql+psycopg2://sertext@127.0.0.1:5432/sertext"
POSTGRES_PROCESSES = ("/usr/lib/postgresql/", "postgres: ")  # the postmaster, its children
# As the head's user: the runs by status, then the README's backup and the runs table in it.
POSTGRES_CHECK = ("psql -h 127.0.0.1 -U sertext -d sertext -Atc 'SELECT status, count(*) FROM runs GROUP BY status'"
                  " && pg_dump --format=custom --host=127.0.0.1 --username=sertext --file=sertext.dump sertext"
                  " && pg_restore --list sertext.dump | grep -c 'TABLE DATA public runs '")

CHECK_RUNS = """
import json, sys
from mlflow.tracking import MlflowClient

client = MlflowClient(sys.argv[1])
experiment = client.get_experiment_by_name(sys.argv[2])
found = {"parents": [], "trials": []}
for parent in client.search_runs([experiment.experiment_id], "tags.`sertext.kind` = 'sweep'"):
    found["parents"].append({"id": parent.info.run_id, "status": parent.info.status,
                             "report": sorted(a.path for a in client.list_artifacts(parent.info.run_id, "report"))})
    for run in client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"):
        run_id = run.info.run_id
        found["trials"].append({
            "status": run.info.status, "arch": run.data.tags.get("arch"), "fold": run.data.tags.get("fold"),
            "kind": run.data.tags.get("sertext.kind"),
            "artifacts": sorted(a.path for a in client.list_artifacts(run_id))
                         + sorted(a.path for a in client.list_artifacts(run_id, "predictions"))})
print(json.dumps(found))
"""


def localhost_config(key: Path) -> dict:
    """cluster/local.yaml for the test's SSH host: the same file with only the addresses, the SSH
    user and the key changed.

    No workers: a worker on the same machine would run its ``ray stop`` and end the head.  The
    file's ``min_workers``/``max_workers`` (2) stay as they are: Ray's local provider caps both
    at the number of ``worker_ips`` (0; it prints a warning).  The SSH port stays 22, which the
    launcher cannot change (it has no ssh_port); the host listens on 22 in its own network.
    """
    text = (CLUSTER / "local.yaml").read_text()
    original = yaml.safe_load(text)
    config = yaml.safe_load(text.replace(original["provider"]["head_ip"], HEAD))
    assert HEAD in " ".join(config["head_start_ray_commands"])  # the MLflow server binds the head's address
    config["provider"]["worker_ips"] = []
    config["auth"] = {"ssh_user": "root", "ssh_private_key": str(key)}
    return config


def namespaces_allowed() -> str:
    """Why new PID, mount and network namespaces cannot be made here ('' if they can)."""
    try:
        result = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "--net", "true"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    return "" if result.returncode == 0 else result.stderr.strip()


def launcher_skip_reason() -> str:
    missing = missing_tools()
    if missing:
        return f"the launcher test needs {', '.join(missing)}"
    refused = namespaces_allowed()
    if refused:
        return f"this machine does not allow new PID/mount/network namespaces (unshare: {refused})"
    return ""


@pytest.fixture
def ssh_node(tmp_path_factory):
    reason = launcher_skip_reason()
    if reason:
        pytest.skip(reason)
    node = Node(tmp_path_factory.mktemp("node"), private=tuple(f for f in POSTGRES_FOLDERS if os.path.isdir(f)))
    started = None
    try:
        with node:
            yield node
            started = time.monotonic()
    finally:  # the node's install (GB of torch and CUDA wheels), checkpoints and caches; logs stay
        for bulk in ("sertext-venv", "ray_results", ".cache"):
            shutil.rmtree(node.home / bulk, ignore_errors=True)
        shutil.rmtree(node.folder / "private", ignore_errors=True)  # a PostgreSQL cluster
        if started is not None:
            print(f"node stopped and cleaned up in {time.monotonic() - started:.1f} s", flush=True)


def leftovers(node: Node) -> dict:
    """The node's processes other than its init, sshd and SSH clients (pid → command line)."""
    return {pid: cmd for pid, cmd in node.processes().items()
            if pid != node.init_pid and not cmd.startswith(("sshd:", "ssh "))}


def tail(path: Path, chars: int = 6000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


def mlflow_servers(node: Node) -> dict:
    """The MLflow servers running on the node (pid → command line)."""
    return {pid: cmd for pid, cmd in node.processes().items() if "mlflow server --backend-store-uri" in cmd}


def wait_until(condition, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


@pytest.mark.slow
@pytest.mark.ray
def test_head_mlflow_follows_the_heads_ray(ssh_node):
    """cluster/head-mlflow.sh with this machine's Ray and MLflow on the SSH node: it needs a
    running head, replaces the server it started before, ends the server when Ray stops, and
    refuses to start a second server where something else holds the port."""
    node = ssh_node
    venv = f"source {Path(sys.executable).parent / 'activate'} && "
    start_ray = venv + "RAY_AUTH_MODE=disabled ray start --head --port=6379 --disable-usage-stats > /dev/null 2>&1"
    start_mlflow = venv + (f"bash {CLUSTER / 'head-mlflow.sh'} --host {HEAD} "
                           "--backend sqlite:///$HOME/mlflow/mlflow.db --artifacts $HOME/mlflow/artifacts")

    result = node.ssh(start_mlflow)
    assert result.returncode == 1 and "no running Ray head" in result.stderr and not mlflow_servers(node)

    assert node.ssh(start_ray).returncode == 0
    result = node.ssh(start_mlflow)
    assert result.returncode == 0, result.stdout + result.stderr
    first = mlflow_servers(node)
    assert len(first) == 1 and 5000 in node.listening_ports()
    result = node.ssh(start_mlflow)  # as a repeated `ray up` does, Ray still running
    assert result.returncode == 0 and "stopping the MLflow server an earlier start left" in result.stdout
    second = mlflow_servers(node)
    assert len(second) == 1 and not set(first) & set(second)

    assert node.ssh(venv + "ray stop").returncode == 0
    assert wait_until(lambda: not [c for c in node.processes().values() if "mlflow" in c]), node.processes()
    assert 5000 not in node.listening_ports()
    assert not (node.home / "mlflow" / "server.pid").exists()

    # A server this script did not start holds the port: an error, not a second server.
    foreign = node.ssh(f"cd /tmp; setsid nohup {sys.executable} -m http.server 5000 --bind {HEAD} "
                       "> /dev/null 2>&1 < /dev/null & sleep 0.1")
    assert foreign.returncode == 0 and wait_until(lambda: 5000 in node.listening_ports())
    assert node.ssh(start_ray).returncode == 0
    result = node.ssh(start_mlflow)
    assert result.returncode == 1 and "port 5000 on 127.0.0.1 is taken" in result.stderr
    assert not mlflow_servers(node)
    assert node.ssh(venv + "ray stop").returncode == 0


@pytest.mark.slow
@pytest.mark.ray
def test_ray_up_submit_and_down_over_ssh(ssh_node, record_property):
    """`ray up` installs the node and starts PostgreSQL (loopback only, password in ~/.pgpass only),
    Ray and the MLflow server on it; `ray submit` of the demo sweep (two folds, one seed: 8 trials)
    logs every trial and the report to that server; a second `ray up` replaces the server instead of
    adding one and keeps the password; `ray down` leaves nothing running but PostgreSQL, the system
    service that keeps the runs (cluster/README.md), which head-postgres.sh then stops."""
    reason = head_postgres_missing()
    if reason:
        pytest.skip(reason)
    node = ssh_node
    config = node.folder / "client" / "local.yaml"
    config.write_text(yaml.safe_dump(localhost_config(node.key), sort_keys=False))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_TMPDIR=str(node.client_tmp), TMPDIR=str(node.client_tmp), RAY_USAGE_STATS_ENABLED="0",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    ray = str(Path(sys.executable).parent / "ray")
    seconds = {}

    def ray_cli(phase: str, *args, timeout: float) -> None:
        log = node.folder / f"{phase.replace(' ', '-')}.log"
        started = time.monotonic()
        result = node.run([ray, *args], cwd=ROOT, env=env, timeout=timeout, log=log)
        seconds[phase] = round(time.monotonic() - started, 1)
        print(f"{phase}: {seconds[phase]} s", flush=True)
        assert result.returncode == 0, f"{phase} failed (exit {result.returncode}); {log}:\n{tail(log)}"

    def runs() -> dict:
        result = node.run([sys.executable, "-c", CHECK_RUNS, f"http://{HEAD}:5000", SWEEP], env=env,
                          namespaces=("--net",), timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.splitlines()[-1])

    try:
        ray_cli("ray up", "up", "-y", config, timeout=1200)
        servers = mlflow_servers(node)
        assert len(servers) == 1, servers
        assert f"--backend-store-uri {POSTGRES_URI} " in f"{next(iter(servers.values()))} "
        assert {22, 5000, 5432, 6379} <= node.listening_ports()
        assert {address for address, port in node.listening_sockets() if port == 5432} <= {"127.0.0.1", "::1"}
        pgpass = node.home / ".pgpass"
        assert pgpass.stat().st_mode & 0o777 == 0o600
        (login,) = pgpass.read_text().splitlines()
        assert login.startswith("127.0.0.1:5432:sertext:sertext:") and len(login.rsplit(":", 1)[1]) == 48
        # The node got the whole package (sertext/data/ was lost to rsync_exclude "data", issue 12).
        assert (node.home / "sertext" / "sertext" / "data" / "__init__.py").is_file()
        assert not (node.home / "sertext" / ".venv").exists()

        ray_cli("ray submit", "submit", config, "sweeps/loso.py", "--", "--demo", "--folds", *FOLDS, "--seeds", "0",
                timeout=1200)
        started = time.monotonic()
        found = runs()
        seconds["checks"] = round(time.monotonic() - started, 1)
        (parent,) = found["parents"]
        assert parent["status"] == "FINISHED"
        assert {"report/report.md", "report/report.html"} <= set(parent["report"])
        trials = found["trials"]
        assert len(trials) == len(ARCHS) * len(FOLDS)
        assert {(t["arch"], t["fold"]) for t in trials} == {(a, f) for a in ARCHS for f in FOLDS}
        for trial in trials:
            assert trial["status"] == "FINISHED" and trial["kind"] == "trial", trial
            assert {"predictions/dev.csv", "predictions/test.csv", "confusion_matrix.png"} <= set(trial["artifacts"])
        assert (node.home / "reports" / SWEEP / "report.md").is_file()  # the driver ran in the node's home
        # The runs are rows of the head's PostgreSQL, and the README's backup (pg_dump) has them.
        in_postgres = node.ssh(POSTGRES_CHECK)
        assert in_postgres.stdout.split() == ["FINISHED|9", "1"], in_postgres.stdout + in_postgres.stderr

        # The head's setup once more (`ray up` skips it while the node's config is unchanged): a no-op.
        setup = node.ssh(" && ".join(localhost_config(node.key)["head_setup_commands"]))
        assert setup.returncode == 0 and "PostgreSQL is installed" in setup.stderr, setup.stdout + setup.stderr
        assert not any(step in setup.stderr for step in ("installing", "creating")), setup.stderr

        # Again: `ray stop` first, so the watcher ends the old server; the new start replaces it.
        ray_cli("ray up again", "up", "-y", config, timeout=600)
        again = mlflow_servers(node)
        assert len(again) == 1 and not set(again) & set(servers), (servers, again)
        assert [p["id"] for p in runs()["parents"]] == [parent["id"]]  # the same store behind it
        assert pgpass.read_text().splitlines() == [login]  # the same password
        assert not password_seen(node, login.rsplit(":", 1)[1])

        ray_cli("ray down", "down", "-y", config, timeout=300)
        started = time.monotonic()
        while True:  # the server goes a second or two after `ray down` has stopped Ray
            left = {pid: cmd for pid, cmd in leftovers(node).items() if not cmd.startswith(POSTGRES_PROCESSES)}
            ports = node.listening_ports() - {22, 3128, 5432}
            if not (left or ports) or time.monotonic() - started > 60:
                break
            time.sleep(0.5)
        seconds["ray down until only PostgreSQL is left"] = round(seconds["ray down"] + time.monotonic() - started, 1)
        assert not left, f"ray down left processes on the head: {left}"
        assert not ports, f"ray down left ports open on the head: {ports}"
        assert 5432 in node.listening_ports()  # PostgreSQL outlives `ray down` (cluster/README.md)
        assert node.ssh("bash ~/sertext/cluster/head-postgres.sh stop").returncode == 0
        assert wait_until(lambda: not leftovers(node)), f"PostgreSQL did not stop: {leftovers(node)}"
        assert node.listening_ports() <= {22, 3128}
    finally:
        print(f"phase times (s): {json.dumps(seconds)}", flush=True)
        record_property("phase_seconds", json.dumps(seconds))
