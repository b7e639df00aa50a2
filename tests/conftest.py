"""Shared pytest fixtures (the corpus writers live in tests/fixtures.py).

Ray writes ~/.ray/auth_token and MLflow a telemetry file under ~/.config, so the whole test
session runs with a temporary HOME, Ray token auth off and MLflow telemetry off.
"""

import os
import tempfile

import pytest

os.environ["HOME"] = tempfile.mkdtemp(prefix="sertext-test-home-")
os.environ["RAY_AUTH_MODE"] = "disabled"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
os.environ["RAY_DEDUP_LOGS"] = "0"

from sertext.tracking_server import free_port, start_server, stop_server, wait_until_up
from tests.fixtures import write_emotyda, write_iemocap, write_msp


@pytest.fixture
def one_thread():
    """Tiny models run faster on one thread on the shared 2-core machine; restored afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def iemocap_root(tmp_path):
    root = tmp_path / "IEMOCAP_full_release"
    write_iemocap(root)
    return root


@pytest.fixture
def emotyda_dir(tmp_path):
    folder = tmp_path / "EMOTyDA"
    write_emotyda(folder)
    return folder


@pytest.fixture
def msp_root(tmp_path):
    root = tmp_path / "MSP-Podcast"
    write_msp(root)
    return root


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory):
    """The default demo corpus, generated once per test session."""
    from sertext.data.demo import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("demo") / "corpus", progress=False)


@pytest.fixture(scope="session")
def tiny_demo_root(tmp_path_factory):
    """A 60-utterance demo corpus (6 per speaker) for quick training tests."""
    from sertext.data.demo import write_demo_corpus

    return write_demo_corpus(tmp_path_factory.mktemp("tiny") / "corpus", utterances=60, progress=False)


@pytest.fixture
def cluster():
    """A head and a worker node, one CPU each, owned by this test (``cluster.worker_nodes``)."""
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    nodes.add_node(num_cpus=1)
    nodes.wait_for_nodes()
    ray.init(address=nodes.address, log_to_driver=False)
    yield nodes
    ray.shutdown()
    nodes.shutdown()


class MlflowServer:
    """A real MLflow server over SQLite, started through ``mlflow/server.sh`` (so tests run the real
    settings) on 127.0.0.1, which a test may stop and start again on the same port and store; only its
    own process group is ever signalled (SIGTERM, then SIGKILL after a grace period)."""

    def __init__(self, folder) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.artifacts = folder / "server-artifacts"
        self.backend = f"sqlite:///{folder}/server.db"
        self.process = None

    def start(self) -> None:
        self.process = start_server(self.backend, self.artifacts, self.port)
        try:
            wait_until_up(self.url, self.process, timeout_s=60)
        except RuntimeError as error:
            self.stop()
            pytest.fail(str(error))

    def stop(self) -> str:
        """SIGTERM, a grace period, then SIGKILL for the whole group; how it ended."""
        return stop_server(self.process)


@pytest.fixture
def mlflow_server(tmp_path):
    server = MlflowServer(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()
