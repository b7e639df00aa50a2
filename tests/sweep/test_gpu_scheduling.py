"""GPU scheduling proven without a GPU: a Ray cluster that declares GPUs packs half-GPU trials two
per GPU, tells each trial its own GPU, and a trial whose GPU torch cannot use stops with one line.

The cluster is this test's own (``ray.cluster_utils.Cluster``: two nodes declaring one GPU each),
stopped at the end.
"""

import os
import time

import pandas as pd
import pytest

from sertext.sweep.settings import RunSettings


@pytest.fixture
def gpu_cluster():
    """Two nodes of two CPUs and one declared (fake) GPU each, owned by this test."""
    import ray
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "num_gpus": 1, "include_dashboard": False})
    nodes.add_node(num_cpus=2, num_gpus=1)
    nodes.wait_for_nodes()
    ray.init(address=nodes.address, log_to_driver=False)
    yield nodes
    ray.shutdown()
    nodes.shutdown()


def _probe(config):
    import ray
    from ray import tune

    started = time.time()
    time.sleep(4)
    tune.report({"started": started, "ended": time.time(), "gpus": ",".join(map(str, ray.get_gpu_ids())),
                 "visible": os.environ.get("CUDA_VISIBLE_DEVICES", ""),
                 "node": ray.get_runtime_context().get_node_id()})


def _checked(config):
    from sertext.sweep.tune import check_assigned_gpus

    check_assigned_gpus()


def _fit(function, resources, n, tmp_path):
    from ray import tune

    return tune.Tuner(tune.with_resources(function, resources), param_space={"i": tune.grid_search(list(range(n)))},
                      run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0)).fit()


@pytest.mark.slow
@pytest.mark.ray
def test_half_gpu_trials_run_two_per_declared_gpu_each_on_its_own(gpu_cluster, tmp_path):
    from sertext.sweep.tune import trial_resources

    resources = trial_resources(RunSettings(cpus_per_trial=0.5, gpus_per_trial=0.5))
    assert resources == {"cpu": 0.5, "gpu": 0.5}
    results = _fit(_probe, resources, 6, tmp_path)
    frame = pd.DataFrame([result.metrics for result in results])
    assert len(frame) == 6 and (frame["gpus"] != "").all()
    assert (frame["visible"] == frame["gpus"]).all()  # each trial sees exactly the GPU it was given
    for _, gpu in frame.groupby(["node", "gpus"]):  # at most two trials on one GPU at any moment
        assert max(((gpu["started"] <= t) & (gpu["ended"] > t)).sum() for t in gpu["started"]) <= 2
    busiest = max(((frame["started"] <= t) & (frame["ended"] > t)).sum() for t in frame["started"])
    assert busiest == 4  # two GPUs × two trials: the CPUs (4 × 0.5 of 4) are not what limits them


@pytest.mark.slow
@pytest.mark.ray
def test_a_trial_given_a_gpu_torch_cannot_use_stops_with_one_line(gpu_cluster, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a usable GPU")
    results = _fit(_checked, {"cpu": 1, "gpu": 1}, 1, tmp_path)
    assert results.num_errors == 1
    message = str(results.errors[0])
    assert "Ray assigned GPU 0 to this trial (CUDA_VISIBLE_DEVICES='0')" in message
    assert "refusing to train on the CPU" in message
