"""What the scripts in ``sweeps/`` share: their options, the demo settings and the one-line errors."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sertext.config import parse_set
from sertext.errors import USER_ERRORS
from sertext.models.registry import ARCHITECTURES

from .definition import RESERVED, SweepConfig
from .settings import RunSettings

#: Command-line options that name a model, and the trial-config key each sets.
MODEL_OPTIONS = {"text_model": "model.text_model", "speech_model": "model.speech_model",
                 "asr_model": "data.asr_model", "cross_asr_model": "data.cross_asr_model"}


def sweep_parser(description: str) -> argparse.ArgumentParser:
    """The options every sweep script shares."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true",
                        help="self-contained run: the demo corpus (created once), small models, local Ray")
    parser.add_argument("--corpus-root", default="", help="the corpus folder (e.g. IEMOCAP_full_release)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="random seeds (default: the paper's 0 1 2 3 4; with --demo 0 1)")
    parser.add_argument("--folds", nargs="+", default=[], help="only these folds (default: all)")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs per trial (default 1)")
    parser.add_argument("--gpus-per-trial", type=float, default=0.5,
                        help="GPU share per trial, used only when the cluster has GPUs (default 0.5)")
    parser.add_argument("--max-concurrent", type=int, default=0, help="at most this many trials at once")
    parser.add_argument("--max-failures", type=int, default=2, help="retries of a failing trial (default 2)")
    parser.add_argument("--tracking-uri", default="",
                        help="MLflow store or server (default: $MLFLOW_TRACKING_URI, else SQLite in mlflow/)")
    parser.add_argument("--storage-path", default="", help="Ray Tune results (default ./ray_results)")
    parser.add_argument("--report-dir", default="reports",
                        help="the sweep's report goes to REPORT_DIR/NAME (default reports; '' for none)")
    parser.add_argument("--cache-dir", default="", help="feature cache (default ~/.cache/sertext/features)")
    parser.add_argument("--dialogue-acts", default=None, metavar="DIR",
                        help="EMOTyDA CSV folder: dialogue acts for the report (IEMOCAP; --demo uses its own)")
    parser.add_argument("--name", default="", help="sweep / MLflow experiment name")
    parser.add_argument("--restart", action="store_true", help="start over instead of resuming this sweep")
    parser.add_argument("--quiet", action="store_true", help="no progress output from Ray Tune")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the trials, the models and whether they load here, the features to extract "
                             "(count, cache size) and an estimate of the training time from one timed step per "
                             "architecture on this machine; run nothing")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any trial setting for every trial, over the script's own (repeatable), as in "
                             "'sertext train --set': e.g. --set train.epochs=30 --set model.width=0.5")
    parser.add_argument("--asr-model", default="", metavar="NAME",
                        help="transcribe the corpus by speech recognition instead of reading its transcripts: any "
                             "Hugging Face speech-recognition model id or folder (Whisper, wav2vec 2.0 CTC, ...) or "
                             "'pocketsphinx' (offline, English); the transcripts are cached like features")
    return parser


def add_model_options(parser: argparse.ArgumentParser, *, text: bool = True, speech: bool = False,
                      text_help: str = "") -> None:
    """``--text-model`` and ``--speech-model``, for sweeps whose models read one."""
    if text:
        parser.add_argument("--text-model", default="", metavar="NAME",
                            help=text_help or "the transformer the text-reading models use: a Hugging Face id or "
                                              "local folder (default: the paper's, by its Hugging Face id; with "
                                              "--demo the offline MiniLM)")
    if speech:
        parser.add_argument("--speech-model", default="", metavar="NAME",
                            help="the wav2vec 2.0 model: a Hugging Face id or local folder (default: the paper's, "
                                 "facebook/wav2vec2-large-lv60)")


def add_cross_corpus_options(parser: argparse.ArgumentParser) -> None:
    """``--cross-corpus-root`` and ``--cross-asr-model``: the IEMOCAP sweeps' evaluation on MSP-Podcast."""
    parser.add_argument("--cross-corpus-root", default="", metavar="DIR",
                        help="an MSP-Podcast release: also test every fold's model on its official test set "
                             "(Test1), the paper's IEMOCAP → MSP-Podcast columns (UAR; PCC for dimensions), "
                             "averaged over the folds per seed (with --demo: the demo corpus in the MSP-Podcast "
                             "layout)")
    parser.add_argument("--cross-asr-model", default="", metavar="NAME",
                        help="transcribe that test set by speech recognition, as the paper did (MSP-Podcast had "
                             "no transcripts then): a Hugging Face speech-recognition model or 'pocketsphinx'")


def cross_corpus(corpus: str, root: str, demo: bool) -> dict:
    """The :class:`SweepConfig` fields that also test each fold's model on ``corpus`` at ``root``
    (with ``demo`` and no root, the demo corpus in that corpus' layout); none otherwise."""
    return {"cross_corpus": corpus, "cross_root": root} if root or demo else {}


def command_line_sweep(args: argparse.Namespace, **fields) -> SweepConfig:
    """The :class:`SweepConfig` of a script's ``fields`` as the command line asks for it: on a real
    corpus every architecture reads its paper's models (:attr:`sertext.models.registry.Architecture.paper_models`,
    in ``per_arch``); the model options and ``--set`` then go into ``fixed`` over the script's own
    settings, taking the same keys out of ``per_arch``, so that what the user asks for wins.  A key
    the sweep varies (a grid axis, a variant, a searched value) or sets itself (the fold, the seed,
    …) is refused."""
    asked = {key: getattr(args, option) for option, key in MODEL_OPTIONS.items() if getattr(args, option, "")}
    asked.update(parse_set(item) for item in getattr(args, "set", []))
    varied = {"grid": set(fields.get("grid", {})), "search": set(fields.get("search", {})),
              "variants": set().union(*(set(v) for v in fields.get("variants", ())))}
    for key in asked:
        if key in RESERVED:
            raise ValueError(f"--set {key}: the sweep sets it from {RESERVED[key]}")
        source = next((name for name, keys in varied.items() if key in keys), None)
        if source:
            raise ValueError(f"{key}: the sweep varies it ({source}), so one value for every trial would be "
                             "overridden; change the sweep's own options instead (see --help)")
    demo, own = fields.get("demo", False), fields.get("per_arch", {})
    per_arch = {arch: {**({} if demo else paper_models(arch)), **own.get(arch, {})} for arch in fields["archs"]}
    per_arch = {arch: kept for arch, values in per_arch.items()
                if (kept := {k: v for k, v in values.items() if k not in asked})}
    return SweepConfig(**{**fields, "fixed": {**fields.get("fixed", {}), **asked}, "per_arch": per_arch})


def run(args: argparse.Namespace, **fields):
    """Run the sweep a script defines by ``fields`` (over the shared options' corpus and folds,
    :func:`definition_options`) as the command line asks (:func:`command_line_sweep`, :func:`run_settings`)."""
    from . import run_sweep

    return run_sweep(command_line_sweep(args, **{**definition_options(args), **fields}), run_settings(args))


def paper_models(arch: str) -> dict:
    """The pretrained models ``arch``'s paper used, as trial-config values
    (``{"model.text_model": "bert-base-uncased"}`` for the multistage paper's models)."""
    return {f"model.{key}": name for key, name in ARCHITECTURES[arch].paper_models.items()}


def definition_options(args: argparse.Namespace) -> dict:
    """The :class:`.definition.SweepConfig` fields of the shared options: which corpus and folds."""
    return {"root": args.corpus_root, "demo": args.demo, "folds": tuple(args.folds),
            "dialogue_acts": args.dialogue_acts}


def run_settings(args: argparse.Namespace) -> RunSettings:
    """The :class:`.settings.RunSettings` of the shared options (reads ``MLFLOW_TRACKING_URI`` once, here)."""
    return RunSettings(
        cpus_per_trial=args.cpus_per_trial, gpus_per_trial=args.gpus_per_trial, max_concurrent=args.max_concurrent,
        max_failures=args.max_failures, tracking_uri=args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", ""),
        storage_path=args.storage_path, cache_dir=args.cache_dir, report_dir=args.report_dir, restart=args.restart,
        progress=not args.quiet, dry_run=args.dry_run)


def seeds(args: argparse.Namespace, paper: tuple = (0, 1, 2, 3, 4), demo: tuple = (0, 1)) -> tuple:
    """The seeds asked for, else the paper's (or, with --demo, two)."""
    if args.seeds:
        return tuple(args.seeds)
    return demo if args.demo else paper


def demo_folds(args: argparse.Namespace, folds: tuple) -> dict:
    """The folds a demo trains when ``--folds`` does not say (a subset, to finish in minutes)."""
    return {"folds": folds} if args.demo and not args.folds else {}


def demo_settings(task: str = "categorical") -> dict:
    """Trial settings that make a demo sweep finish in minutes on two CPU cores.

    Small CNN14 widths, few epochs and short crops; per-speaker log-Mel normalisation and BatchNorm
    recalibration, which a few hundred utterances need for stable evaluation (see
    :mod:`sertext.trial`); and PANNs' average pooling in the CNN14 blocks: at these sizes the
    paper's max pooling leaves CNN14 at chance (demo UAR 0.26 against 0.42 at 57bd5f9).

    Dimensional demos standardise the targets (in three epochs a head starting near 0 does not
    reach labels around 3: multitask test CCC 0.12 against 0.43 on fold Ses01F) and train on 3 s
    crops, which hold most demo utterances whole (median 2.4 s), as the paper's 5 s crops hold
    IEMOCAP's: CNN14's max over time grows with the input's length, so a CCC-trained model that
    saw 0.75 s crops misplaces full utterances (arousal CCC -0.02 with 0.75 s, 0.05 with 1.5 s,
    0.54 with 3 s crops, seed 1 on Ses01F), at SGD lr 1e-3 instead of the paper's 1e-2, at which
    single-task MSE models of the CNN14 family diverge (training loss NaN: SFCNN14 and MFCNN14 on
    the MSP-Podcast demo).  None of this is the papers' setting.
    """
    settings = {"model.width": 0.0625, "train.epochs": 3, "train.batch_size": 32, "train.crop_s": 0.75,
                "data.normalise": "speaker", "train.bn_recalibration": True, "model.max_tokens": 32,
                "model.pooling": "avg"}
    dimensional = {"train.standardise_targets": True, "train.crop_s": 3.0, "train.lr": 0.001}
    return settings | dimensional if task == "dimensional" else settings


def demo_per_arch() -> dict:
    """The text model fine-tunes for one demo epoch at lr 1e-4 (its paper setting is four epochs at
    2e-5): on the demo corpus that reaches the test UAR of two epochs at 2e-5 in half the time.  It
    uses AdamW with warm-up over its own steps: the paper's BERT Adam schedule warms up over 100
    steps, more than the demo's one epoch of about 15."""
    return {"text": {"train.epochs": 1, "train.lr": 1e-4, "train.optimizer": "adamw"}}


def run_script(main) -> None:
    """Run a sweep script's ``main``; a bad definition or input (an unknown architecture, a
    misspelled key, a corrupt wav, an unwritable cache) ends with one clear line and exit code 2."""
    try:
        main()
    except USER_ERRORS as error:
        print(f"{Path(sys.argv[0]).name}: error: {error}", file=sys.stderr)
        sys.exit(2)
