"""How a sweep runs: resources, stores and output.  Nothing here changes what a sweep computes, so
none of it is part of the definition (:class:`.definition.SweepConfig`) or of its fingerprint:
a sweep may resume with more GPUs, another cache folder or without progress output."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunSettings:
    """Attributes:
        cpus_per_trial, gpus_per_trial: resources per Tune trial; the GPU share is requested only
            when the cluster has GPUs (a fraction lets several small trials share one GPU).
        max_concurrent: at most this many trials at once (0: as resources allow).
        max_failures: retries of a failing trial (from its last checkpoint).
        tracking_uri: MLflow store or server (default: SQLite under the project's ``mlflow/``).
        storage_path: Ray Tune's state (default ``./ray_results``; shared storage on clusters).
        cache_dir: the feature cache (default ``~/.cache/sertext/features``).
        report_dir: the report goes to ``report_dir/<name>`` and into the parent run; ``""``: none.
        restart: start over instead of resuming a previous launch of the same sweep.
        progress: progress bars and Ray Tune's status table.
        dry_run: only print what the sweep would do and an estimate of its cost (:mod:`.plan`).
    """

    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.5
    max_concurrent: int = 0
    max_failures: int = 2
    tracking_uri: str = ""
    storage_path: str = ""
    cache_dir: str = ""
    report_dir: str = "reports"
    restart: bool = False
    progress: bool = True
    dry_run: bool = False
