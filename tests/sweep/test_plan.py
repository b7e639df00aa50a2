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
