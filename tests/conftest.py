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

from tests.fixtures import write_emotyda, write_iemocap, write_msp


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
