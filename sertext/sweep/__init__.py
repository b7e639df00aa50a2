"""A sweep: its definition → its trials → Ray Tune → one MLflow run per trial → the report.

- :mod:`.definition`: :class:`SweepConfig`, what a sweep trains and compares (a pure value,
  checked whole when made) and :func:`expand`, its one expansion to trials;
- :mod:`.settings`: :class:`RunSettings`, how it runs (resources, stores, progress);
- :mod:`.prepare`: the corpus, its folds and the features, extracted once before any trial;
- :mod:`.state`: the marker beside Tune's state and the sweep's MLflow parent run;
- :mod:`.plan`: ``--dry-run``, the sweep's trials, features and estimated cost, without running it;
- :mod:`.tune`: the Ray Tune driver, :func:`run_sweep`;
- :mod:`.fusion_sweep`: :func:`run_fusion_sweep`, the late-fusion weight search as a sweep;
- :mod:`.summary`: the results table printed at the end, and the report;
- :mod:`.scripts`: what the scripts in ``sweeps/`` share.

Importing this package is light (no torch, ray or mlflow), so a sweep script's ``--help``
answers at once; :func:`run_sweep` and :func:`run_fusion_sweep` load the driver when called.
"""

from .definition import SweepConfig, Trial, TuneRun, describe, expand, trial_key
from .prepare import demo_root
from .scripts import (
    add_cross_corpus_options,
    add_model_options,
    command_line_sweep,
    cross_corpus,
    definition_options,
    demo_per_arch,
    demo_settings,
    run_script,
    run_settings,
    seeds,
    sweep_parser,
)
from .settings import RunSettings


def run_sweep(sweep: SweepConfig, settings: RunSettings | None = None):
    """Run (or resume) a sweep: :func:`sertext.sweep.tune.run_sweep`; with ``settings.dry_run``
    print its plan instead (:func:`sertext.sweep.plan.print_plan`)."""
    settings = settings or RunSettings()
    if settings.dry_run:
        from .plan import print_plan

        return print_plan(sweep, settings)
    from .tune import run_sweep as run

    return run(sweep, settings)


def run_fusion_sweep(source: str, **options):
    """The late-fusion weight search of a finished sweep: :func:`sertext.sweep.fusion_sweep.run_fusion_sweep`."""
    from .fusion_sweep import run_fusion_sweep as run

    return run(source, **options)


__all__ = ["RunSettings", "SweepConfig", "Trial", "TuneRun", "add_cross_corpus_options", "add_model_options",
           "command_line_sweep", "cross_corpus", "definition_options", "demo_per_arch", "demo_root", "demo_settings",
           "describe", "expand", "run_fusion_sweep", "run_script", "run_settings", "run_sweep", "seeds", "sweep_parser",
           "trial_key"]
