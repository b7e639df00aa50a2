"""--dry-run: a sweep's trials, features and estimated cost, printed without running anything."""

import re

import pytest

from sertext.sweep import RunSettings, SweepConfig, run_sweep


@pytest.mark.slow
def test_a_dry_run_prints_the_cost_and_runs_nothing(iemocap_root, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sweep = SweepConfig(name="plan", root=str(iemocap_root), archs=("cnn14", "sfcnn14"), seeds=(0, 1),
                        folds=("Ses01F", "Ses01M"), fixed={"model.width": 0.0625, "train.epochs": 3})
    cache = tmp_path / "cache"
    assert run_sweep(sweep, RunSettings(cache_dir=str(cache), dry_run=True, progress=False)) is None
    out = capsys.readouterr().out
    assert "dry run of sweep plan: 8 trials (2 folds)" in out
    corpus_size = int(re.search(r"log-mel: (\d+) of (\d+) utterances to extract, about", out).group(2))
    assert f"log-mel: {corpus_size} of {corpus_size}" in out and "text: " in out
    for arch in ("cnn14", "sfcnn14"):  # one line per architecture
        assert re.search(rf"  {arch}: 4 trials × 3 epochs × \d+ steps × \d+\.\d{{3}} s on cpu = \d+\.\d\d h", out)
    assert re.search(r"estimated training: \d+\.\d\d h of trial time, \d+\.\d\d h with \d+ trials at once", out)
    assert not (tmp_path / "mlflow").exists() and not (tmp_path / "ray_results").exists()
    assert len(list((cache / "log-mel").rglob("*.npy"))) < corpus_size  # only the timed batch was extracted


def test_a_feature_estimate_counts_the_model_load_once_per_worker_not_per_utterance(tmp_path, monkeypatch):
    """A clock that a fake extractor advances: loading its model costs 5 s once, each utterance
    0.5 s; a two-utterance sample timed from a cold start would say 3 s per utterance."""
    import numpy as np
    import pandas as pd

    from sertext.features import FeatureCache
    from sertext.sweep import plan

    clock = {"now": 0.0, "loaded": False}

    class SlowToLoad:
        name = "slow"

        def settings(self):
            return {}

        def content(self, row):
            return row.utt_id.encode()

        def compute(self, rows, contents):
            clock["now"] += (0.0 if clock["loaded"] else 5.0) + 0.5 * len(rows)
            clock["loaded"] = True
            return [np.zeros(256, np.float32) for _ in rows]

    monkeypatch.setattr(plan.time, "perf_counter", lambda: clock["now"])
    table = pd.DataFrame({"utt_id": [f"u{i}" for i in range(240)]})
    line = plan._feature_line(SlowToLoad(), table, FeatureCache(tmp_path))
    assert line == ("slow: 240 of 240 utterances to extract, about 2.0 min (+ 5 s to load its model on each worker) "
                    "and 240.0 KiB")
