"""The link a sweep prints opens its runs table in the real MLflow UI (headless Chromium).

MLflow 3.17's UI opens on its GenAI pages: the bare address is the home page and
``#/experiments/<id>`` the experiment's GenAI overview (traces, token usage), neither of which
shows a run.  The link from ``tracking.look_at_runs`` must land on the runs table, grouped by
``arch``.
"""

import html
import re
import shutil
import subprocess
import tempfile

import pytest

from sertext import tracking

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)
RUN_NAMES = [f"{arch}-{fold}-seed0" for arch in ("cnn14", "text") for fold in ("Ses01F", "Ses01M")]


def rendered_text(url: str, budget_ms: int = 20000) -> str:
    """The visible text of ``url`` after its scripts ran, as headless Chromium renders it."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        dom = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
             f"--user-data-dir={profile}", "--window-size=1400,900", f"--virtual-time-budget={budget_ms}",
             "--dump-dom", url],
            capture_output=True, text=True, timeout=180, check=True).stdout
    dom = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


def shows_runs(url: str, attempts: int = 3) -> str:
    """Rendered text of ``url`` once every trial run's name is in it, or after ``attempts`` tries
    (a slow server may answer after the virtual time budget)."""
    for _ in range(attempts):
        text = rendered_text(url)
        if all(name in text for name in RUN_NAMES):
            break
    return text


@pytest.fixture
def sweep_on_server(mlflow_server):
    """A sweep's experiment on a tracking server: a parent run and four trial runs (two archs,
    two folds, one seed) tagged as a sweep tags them."""
    uri = mlflow_server.url
    experiment = tracking.prepare_experiment(uri, "ui-demo")
    parent = tracking.start_parent_run(uri, experiment, "ui-demo", {"archs": ["cnn14", "text"]})
    for name in RUN_NAMES:
        arch, fold, seed = name.split("-")
        run = tracking.TrialRun(uri, experiment, parent, name, name,
                                {"arch": arch, "fold": fold, "seed": seed[len("seed"):], "task": "categorical",
                                 "corpus": "iemocap", "protocol": "iemocap-loso"}, {"train.lr": 0.01})
        for epoch in range(3):
            run.log_metrics({"dev/uar": 0.3 + 0.05 * epoch}, step=epoch)
        run.log_metrics({"dev/uar": 0.4, "test/uar": 0.5 if arch == "cnn14" else 0.6}, step=3)
        tracking.end_run(uri, run.run_id)
    tracking.end_run(uri, parent)
    return uri, experiment


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian: apt-get install chromium) to render the UI")
def test_the_printed_link_opens_the_runs_table_grouped_by_arch(sweep_on_server):
    uri, experiment = sweep_on_server
    printed = tracking.look_at_runs(uri, experiment)
    assert printed.count("\n") == 0 and "mlflow ui" not in printed  # a server: the link alone
    link = printed.split()[-1]
    assert link.startswith(f"{uri}/#/experiments/{experiment}/runs?")

    text = shows_runs(link)
    assert [name for name in RUN_NAMES if name not in text] == [], text[:3000]
    assert "Group by: arch" in text and "Group: cnn14" in text and "Group: text" in text, text[:3000]
    assert "test/uar" in text  # the saved view's metric columns
    assert "Token Usage" not in text  # not the GenAI overview

    # What was printed before, the bare address, shows no run at all: the check above is not vacuous.
    assert not any(name in rendered_text(f"{uri}/") for name in RUN_NAMES)
