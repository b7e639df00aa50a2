"""A sweep's own state: the marker beside Ray Tune's state, and the sweep's MLflow parent run.

The marker records the parent run and the definition, so a relaunch reopens the same parent run
and resumes a Tune state only when this very definition wrote it (Tune state is pickled: never
restore someone else's).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .definition import SweepConfig
from .settings import RunSettings

MARKER_FILE = "sertext_parent_run.json"


def check_own_state(sweep: SweepConfig, experiment_dir: Path) -> None:
    """Refuse to resume a Tune state in ``experiment_dir`` that this sweep did not write: one
    without sertext's marker, or one saved under another definition of the same name."""
    marker = experiment_dir / MARKER_FILE
    if not experiment_dir.exists() or not any(experiment_dir.iterdir()):
        return
    advice = "run with --restart to start over, or give the sweep another --name"
    if not marker.is_file():
        raise ValueError(f"{experiment_dir} holds files that no sertext sweep named {sweep.name!r} wrote; {advice}")
    saved = json.loads(marker.read_text()).get("definition", {})
    changed = sorted(k for k, v in sweep.definition().items() if saved.get(k) != v)
    if changed:
        raise ValueError(f"{experiment_dir} holds sweep {sweep.name!r} with other {', '.join(changed)} than this "
                         f"definition; {advice}")


def open_parent_run(sweep: SweepConfig, settings: RunSettings, tracking_uri: str, experiment_id: str,
                    experiment_dir: Path) -> str:
    """The parent run of this sweep: reopened when resuming, else new, with the definition and the
    run settings as its params (the tracking URI without a password)."""
    from sertext import tracking

    marker = experiment_dir / MARKER_FILE
    uri = tracking.redact(tracking_uri)
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if saved.get("tracking_uri") == uri:
            return tracking.start_parent_run(tracking_uri, experiment_id, sweep.name, {}, run_id=saved["run_id"])
    settings_params = {k: v for k, v in dataclasses.asdict(settings).items() if k not in ("progress", "tracking_uri")}
    params = {**sweep.definition(), **settings_params, "tracking_uri": uri}
    run_id = tracking.start_parent_run(tracking_uri, experiment_id, sweep.name, params)
    experiment_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"run_id": run_id, "tracking_uri": uri, "definition": sweep.definition()}))
    return run_id
