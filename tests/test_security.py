"""Security defaults: loopback-only services, no credentials stored, safe checkpoint loading, and
Tune state resumed only from the sweep's own folder."""

import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sertext import tracking
from sertext.config import TrialConfig
from sertext.sweep import RunSettings, SweepConfig, state
from sertext.sweep import tune as tune_module
from sertext.sweep.state import MARKER_FILE

PROJECT = Path(__file__).resolve().parent.parent


def test_mlflow_server_script_binds_loopback_by_default():
    script = (PROJECT / "mlflow" / "server.sh").read_text()
    assert re.search(r'^host="\$\{SERTEXT_MLFLOW_HOST:-127\.0\.0\.1\}"$', script, re.MULTILINE)
    assert '--host "$host"' in script


@pytest.mark.parametrize(("ray_address", "addresses"), [(None, ["auto", "local"]), ("local", ["local"])])
def test_a_local_ray_starts_without_dashboard(monkeypatch, ray_address, addresses):
    """No cluster to join (or ``RAY_ADDRESS=local``): a local Ray without the dashboard."""
    calls = []

    class FakeRay:
        @staticmethod
        def is_initialized():
            return False

        @staticmethod
        def init(**kwargs):
            calls.append(kwargs)
            if kwargs["address"] != "local":
                raise ConnectionError("no cluster here")

    if ray_address is None:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("RAY_ADDRESS", ray_address)
    monkeypatch.setattr(tune_module, "ray", FakeRay)
    tune_module._init_ray()
    assert [call["address"] for call in calls] == addresses and calls[-1]["include_dashboard"] is False


CREDENTIAL = re.compile(r"(aws_secret_access_key|aws_access_key_id|password|passwd|secret|token)\s*[:=]\s*\S+"
                        r"|AKIA[0-9A-Z]{16}|://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)


def test_no_credentials_in_any_config():
    files = [*PROJECT.glob("cluster/*"), *PROJECT.glob("mlflow/*.sh"), *PROJECT.glob("mlflow/*.md"),
             *PROJECT.glob("sweeps/*.py"), PROJECT / "pyproject.toml", PROJECT / ".ci" / "run"]
    found = {str(f.relative_to(PROJECT)): CREDENTIAL.findall(f.read_text()) for f in files if f.is_file()}
    assert {f: hits for f, hits in found.items() if hits} == {}
    assert len(found) >= 10


def test_credentials_in_a_tracking_uri_are_never_printed_or_logged(tmp_path, monkeypatch):
    assert tracking.redact("http://ana:s3cret@mlflow.lab:5000/x") == "http://ana:***@mlflow.lab:5000/x"
    assert tracking.redact("http://mlflow.lab:5000") == "http://mlflow.lab:5000"
    assert "s3cret" not in tracking.ui_command("https://ana:s3cret@mlflow.lab")
    sweep, uri = SweepConfig(name="creds", demo=True), "http://ana:s3cret@mlflow.lab:5000"
    logged = {}
    monkeypatch.setattr(tracking, "start_parent_run",
                        lambda uri, experiment, name, params, run_id=None: logged.update(params) or "r1")
    state.open_parent_run(sweep, RunSettings(tracking_uri=uri), uri, "1", tmp_path / "creds")
    assert logged["tracking_uri"] == "http://ana:***@mlflow.lab:5000"
    assert "s3cret" not in (tmp_path / "creds" / MARKER_FILE).read_text()


class _Payload:
    """Pickles to a call that writes a file: what a malicious checkpoint would run on load."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def test_checkpoints_are_loaded_without_running_pickled_code(tmp_path):
    from sertext.models.cnn14 import CNN14, load_panns_checkpoint
    from sertext.trial import CHECKPOINT_FILE, _load_checkpoint

    marker = tmp_path / "ran"
    torch.save({"model": _Payload(marker)}, tmp_path / CHECKPOINT_FILE)
    config = TrialConfig.from_dict({"data.root": "x", "data.fold": "f", "checkpoint_dir": str(tmp_path)})
    model = CNN14(4, width=0.0625)
    with pytest.raises(pickle.UnpicklingError):
        _load_checkpoint(config, model, None, None, torch.Generator())
    with pytest.raises(pickle.UnpicklingError):
        load_panns_checkpoint(model, str(tmp_path / CHECKPOINT_FILE))
    assert not marker.exists()


def _own_state(**fields):
    return SweepConfig(**{"name": "mine", "demo": True, "archs": ("cnn14",), "seeds": (0, 1), **fields})


def test_tune_state_is_resumed_only_by_the_sweep_that_wrote_it(tmp_path):
    folder = tmp_path / "mine"
    sweep = _own_state()
    state.check_own_state(sweep, folder)  # nothing there yet
    folder.mkdir()
    (folder / "tuner.pkl").write_bytes(b"someone else's state")
    with pytest.raises(ValueError, match="no sertext sweep named 'mine' wrote; run with --restart"):
        state.check_own_state(sweep, folder)
    (folder / MARKER_FILE).write_text(json.dumps({"run_id": "r", "definition": sweep.definition()}))
    state.check_own_state(sweep, folder)  # its own state: resumed
    assert not set(RunSettings.__dataclass_fields__) & set(sweep.definition())  # how it runs does not define it
    with pytest.raises(ValueError, match="other archs, seeds than this definition"):
        state.check_own_state(_own_state(archs=("text",), seeds=(0,)), folder)


@pytest.mark.parametrize("name", ["../elsewhere", "/tmp/x", "a/b", ".hidden", ""])
def test_sweep_names_cannot_point_outside_the_storage_path(name):
    with pytest.raises(ValueError, match="sweep name"):
        SweepConfig(name=name, demo=True)


def test_sweep_scripts_report_a_bad_definition_in_one_line():
    result = subprocess.run([sys.executable, str(PROJECT / "sweeps" / "loso.py"), "--demo", "--name", "../x"],
                            capture_output=True, text=True, env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "loso.py: error: sweep name '../x': use letters, digits, '.', '_' and '-' (it names a folder under the "
        "storage path and the MLflow experiment)"]
