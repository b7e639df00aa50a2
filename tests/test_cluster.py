"""The cluster launcher configs pass Ray's own validation."""

import copy
from pathlib import Path

import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

CLUSTER = Path(__file__).resolve().parent.parent / "cluster"


@pytest.mark.parametrize("name", ["cluster.yaml", "local.yaml"])
def test_cluster_config_validates(name):
    config = yaml.safe_load((CLUSTER / name).read_text())
    validate_config(prepare_config(copy.deepcopy(config)))
    assert "~/sertext" in config["file_mounts"]
    starts = " ".join(config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in starts and "mlflow/server.sh" in starts
    assert "RAY_AUTH_MODE=disabled" in " ".join(config["worker_start_ray_commands"])


def test_cloud_head_runs_no_trials():
    config = yaml.safe_load((CLUSTER / "cluster.yaml").read_text())
    assert config["available_node_types"]["head"]["resources"] == {"CPU": 0}
    assert config["available_node_types"]["gpu_worker"]["resources"]["GPU"] == 1
