"""Peak memory (max RSS) of one trial process per architecture, at the demo and the paper settings.

Each case runs in a fresh Python process that trains through the trainer's own code (``sertext.trial``:
model, optimiser, loss, cropping, batching, training epoch and prediction) on synthetic inputs shaped
like the cached features: ``STEPS`` training steps and one evaluation batch, on the CPU, then reports
its peak RSS (``VmHWM``; see :func:`peak_mib`).  Two steps reach the peak: the second step's
forward pass runs while the first step's gradients and the optimiser state are held.  A process
that only imports torch and sertext gives the baseline, so the increment of a trial is visible.

Settings: *demo* = the batch size, width, crop and token limit of each family's demo sweep
(``sertext.sweep.demo_settings()`` for the CNN14 family and the text model; the ``--demo`` values of
sweeps/bottleneck_sizes.py, ccc_weights.py and semantic_fusion.py for the others), 3 s utterances
(the demo corpus averages 2.6 s), MiniLM-sized text features; *paper* = each family's paper batch
size (``sertext.models.registry``), 5 s crops, width 1.0, 10 s utterances (a long IEMOCAP
utterance) and the papers' feature sizes.
wav2vec 2.0 weights are not available offline: a trial reads only cached states (built with the
paper's shapes here), and the separate extraction rows load randomly initialised models of the
same size, which use as much memory as the pretrained ones.  The text baseline's paper encoder
(BERT-base) is likewise a random-init BERT-base with MiniLM's (BERT-uncased) tokenizer.

Corpus size (``--corpus-hours 0.5 1 2``): the peak RSS of a whole ``run_trial`` (one epoch, the
demo's width and batch size, fold Ses01F) of ``cnn14`` and of ``crossrep`` on IEMOCAP-shaped demo
corpora of that many hours of audio (``sertext demo-corpus --scale iemocap``; the smaller ones are
subsets of dialogs of the largest, so they share its cache).  crossrep reads wav2vec 2.0 states of
the paper's wav2vec2-large-lv60 shape (25 x 1024, float16, 50 frames/s), written into the cache
under the keys the trial looks up (no weights offline); every other feature is extracted for real
before the trials start.  The goal: a flat line, since a trial reads its cached features per batch.
``--before SRC`` runs the same cases with the sertext package found in folder ``SRC`` (e.g. a
``git worktree`` of an older commit) side by side, for the growth it had.

Writes ``bench/results/memory.json`` (``--corpus-hours`` adds its ``corpus_size`` key to it).

Run: python bench/memory.py [--archs cnn14 text] [--settings demo paper]
     python bench/memory.py --corpus-hours 0.5 1 2 [--before /tmp/sertext-old]
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

STEPS = 2
SETTINGS = {  # input sizes per setting: utterance length, words, and the feature widths
    "demo": {"seconds": 3, "words": 8, "text_dim": 384, "token_dim": 384, "word_dim": 384, "frame_word_dim": 384,
             "wav2vec": (13, 768)},  # MiniLM features everywhere; wav2vec 2.0 base: 12 layers + CNN, 768
    "paper": {"seconds": 10, "words": 25, "text_dim": 768, "token_dim": 1024, "word_dim": 300, "frame_word_dim": 100,
              "wav2vec": (25, 1024)},  # BERT-base mean, BERT-large states, GloVe, 100-d words, wav2vec2-large-lv60
}
WAV2VEC_CONFIGS = {"demo": {}, "paper": {  # Wav2Vec2Config defaults are base size; large-lv60:
    "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
    "feat_extract_norm": "layer", "do_stable_layer_norm": True, "conv_bias": True}}
EXTRACTION = "wav2vec2 extraction"  # the extra row: the sweep driver's wav2vec 2.0 step
TEXT = "so i was thinking we could go there tomorrow and see what they say about it"


def peak_mib() -> float:
    """This process's peak RSS in MiB: ``VmHWM``, the high-water mark of its own address space.

    Not ``ru_maxrss``: Linux carries the parent's RSS at fork into the child's ``ru_maxrss`` across
    exec, so children of a large parent would all report at least the parent's size.
    """
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


# --- the parent: cases, children, table --------------------------------------------------------
def demo_overrides(arch: str) -> dict:
    """The memory-relevant trial settings of the demo sweep that runs ``arch`` (epochs and learning
    rates change no peak and are left out)."""
    from sertext.sweep import demo_settings

    if arch in ("crossrep", "crossrep-mel", "textcnn"):  # sweeps/bottleneck_sizes.py --demo
        return {"model.width": 0.125, "train.batch_size": 16}
    if arch == "lstmfusion":  # sweeps/ccc_weights.py --demo
        return {"train.batch_size": 32}
    if arch == "wavfusion":  # sweeps/semantic_fusion.py --demo
        return {"train.batch_size": 8, "model.width": 0.125}
    return demo_settings()  # sweeps/loso.py, dimensional.py, msp_podcast.py


def case_config(arch: str, setting: str, models: dict) -> tuple[dict, str]:
    """Trial-config values of one case, and a note on what stands in for unavailable weights."""
    config = {"model.arch": arch, "train.device": "cpu", **(demo_overrides(arch) if setting == "demo" else {})}
    if arch in ("lstmfusion", "wavfusion"):  # dimensional in their sweeps: V, A, D with the CCC loss
        config["data.task"] = "dimensional"
    note = ""
    if arch == "crossrep":
        config["model.speech_model"] = "cached states only"
        note = ("reads cached wav2vec 2.0 states " + ("of the paper's wav2vec2-large-lv60 shape (25 x 1024)"
                if setting == "paper" else "of base size (13 x 768); no demo sweep runs crossrep"))
    if arch == "text" and setting == "paper":
        config["model.text_model"] = models["bert-base"]
        note = "BERT-base (the paper's encoder), random init, MiniLM's BERT-uncased tokenizer"
    return config, note


def write_models(folder: Path, archs: list, settings: list) -> dict:
    """Random-init stand-ins, saved in Hugging Face format, for weights not available offline: the
    paper's BERT-base (for the text model's paper case) and wav2vec 2.0 per setting (extraction rows)."""
    import torch
    from transformers import BertConfig, BertModel, Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    from sertext.features.text import DEFAULT_TEXT_MODEL, resolve_text_model

    torch.manual_seed(0)
    paths = {}
    if "text" in archs and "paper" in settings:
        paths["bert-base"] = folder / "bert-base"
        BertModel(BertConfig()).save_pretrained(paths["bert-base"])
        minilm = Path(resolve_text_model(DEFAULT_TEXT_MODEL)[0])
        for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            shutil.copy(minilm / name, paths["bert-base"] / name)
    for setting in settings if "crossrep" in archs else ():
        paths[f"wav2vec-{setting}"] = folder / f"wav2vec-{setting}"
        Wav2Vec2Model(Wav2Vec2Config(**WAV2VEC_CONFIGS[setting])).save_pretrained(paths[f"wav2vec-{setting}"])
        Wav2Vec2FeatureExtractor().save_pretrained(paths[f"wav2vec-{setting}"])
    return {k: str(v) for k, v in paths.items()}


class CaseFailed(RuntimeError):
    """A child process that did not finish its case (``returncode`` -9: killed, e.g. out of memory)."""

    def __init__(self, case: dict, returncode: int, stderr: str) -> None:
        super().__init__(f"case {case} failed with exit code {returncode}:\n{stderr[-3000:]}")
        self.returncode = returncode


def run_child(case: dict, source: str | None = None) -> dict:
    """Run one case in a fresh interpreter (importing sertext from folder ``source`` when given);
    its JSON result (the last line it prints)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])} if source else None
    done = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True,
                          env=env)
    if done.returncode != 0:
        raise CaseFailed(case, done.returncode, done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(result: dict) -> None:
    base = result["baseline_mib"]
    print(f"\nbaseline (import torch + sertext): {base:.0f} MiB\n")
    print(f"{'architecture':24s} {'demo MiB':>9} {'(+trial)':>9} {'paper MiB':>10} {'(+trial)':>9}")
    peaks = {(c["arch"], c["setting"]): c["peak_mib"] for c in result["cases"]}
    for arch in dict.fromkeys(c["arch"] for c in result["cases"]):
        cells = [f"{peaks[arch, s]:9.0f} {peaks[arch, s] - base:+9.0f}" if (arch, s) in peaks else f"{'-':>9} {'':9}"
                 for s in ("demo", "paper")]
        print(f"{arch:24s} {cells[0]} {cells[1]:>20}")


def measure_case(arch: str, setting: str, models: dict, baseline_mib: float) -> dict:
    """One table cell: the child's result with the increment over the baseline and a note."""
    start = time.perf_counter()
    if arch == EXTRACTION:
        case = {"kind": "extraction", "model": models[f"wav2vec-{setting}"], "setting": setting}
        note = ("the sweep driver's feature extraction of one utterance (not a trial); random init, "
                + ("wav2vec2-large-lv60 size" if setting == "paper" else "base size"))
    else:
        config, note = case_config(arch, setting, models)
        case = {"kind": "trial", "config": config, "setting": setting}
    row = {"arch": arch, "setting": setting, **run_child(case)}
    row.update(increment_mib=round(row["peak_mib"] - baseline_mib, 1), wall_s=round(time.perf_counter() - start, 1))
    return {**row, "note": note} if note else row


def main(archs: list, settings: list) -> dict:
    result = {"machine": f"{platform.machine()}, {platform.processor() or 'cpu'}", "device": "cpu",
              "training_steps": STEPS, "evaluation_batches": 1, "settings": SETTINGS,
              "measure": "peak RSS (VmHWM) of a fresh process per case, read at its end",
              "not_included": "the fold's cached features, which a trial reads per batch from the cache (see "
                              "corpus_size); cached_features_mib_per_audio_hour gives their size on disk (wav2vec "
                              "states float16, others float32; per-utterance sizes such as token states scale with "
                              "the setting's utterance length)",
              "baseline": "a process that imports torch and sertext.trial",
              "baseline_mib": run_child({"kind": "baseline"})["peak_mib"], "cases": []}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        models = write_models(Path(folder), archs, settings)
        for arch in archs + ([EXTRACTION] if "crossrep" in archs else []):
            for setting in settings:
                result["cases"].append(measure_case(arch, setting, models, result["baseline_mib"]))
                print(json.dumps(result["cases"][-1]), flush=True)
    result["total_wall_s"] = round(time.perf_counter() - start, 1)
    return result


# --- corpus size: a whole trial on 0.5, 1 and 2 hours of audio ---------------------------------
SCALE_ARCHS = ("cnn14", "crossrep")
MEAN_UTTERANCE_S = 4.46  # IEMOCAP: 12.44 h over 10,039 utterances


def wav_hours(wavs: list) -> float:
    """Hours of audio in ``wavs``."""
    import soundfile as sf

    return sum(sf.info(w).duration for w in wavs) / 3600


def dialog_subset(full: Path, out: Path, hours: float) -> float:
    """Link whole dialogs of ``full`` into ``out``, taking each session's next dialog in turn, until
    ``hours`` of audio; return the hours linked.  Every session and speaker stays represented."""
    per_session = {s.name: sorted((s / "sentences" / "wav").iterdir()) for s in sorted(full.glob("Session*"))}
    chosen, linked = [], 0.0
    for turn in range(max(map(len, per_session.values()))):
        for dialogs in per_session.values():
            if turn < len(dialogs) and linked < hours:
                chosen.append(dialogs[turn].name)
                linked += wav_hours(sorted(dialogs[turn].glob("*.wav")))
    for dialog in chosen:
        session = f"Session{int(dialog[3:5])}"
        for part in (f"dialog/EmoEvaluation/{dialog}.txt", f"dialog/transcriptions/{dialog}.txt",
                     f"sentences/wav/{dialog}", f"sentences/ForcedAlignment/{dialog}"):
            source = full / session / part
            for file in [source] if source.is_file() else sorted(source.iterdir()):
                target = out / session / file.relative_to(full / session)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(file, target)
    return linked


def write_wav2vec_states(root: Path, model: str, cache_dir: Path) -> float:
    """Store wav2vec2-large-shaped states (25 x frames x 1024, float16, the extractor's frame count)
    for every utterance of the corpus at ``root`` under the key its extractor looks up; return the
    GiB written."""
    import soundfile as sf

    from sertext.data import load_corpus
    from sertext.features import FeatureCache
    from sertext.features.autovc_mel import autovc_frame_count
    from sertext.features.cache import content_digest, entry_key
    from sertext.features.wav2vec import Wav2Vec2Extractor

    extractor, cache = Wav2Vec2Extractor(model), FeatureCache(cache_dir)
    settings, layers, width = extractor.settings(), *SETTINGS["paper"]["wav2vec"]
    rows = list(load_corpus("iemocap", root).itertuples(index=False))
    frames = [autovc_frame_count(sf.info(row.path).frames) for row in rows]
    pool = np.random.default_rng(0).standard_normal((layers, max(frames), width), np.float32).astype(np.float16)
    for row, count in zip(rows, frames, strict=True):
        cache.store(extractor.name, entry_key(extractor.name, settings, content_digest(extractor.content(row))),
                    pool[:, :count])
    return sum(frames) * layers * width * 2 / 2**30


def scale_config(arch: str, root: Path, cache_dir: Path, model: str) -> dict:
    """One epoch of ``arch`` at its demo width and batch size on fold Ses01F of the corpus at ``root``."""
    config = {"model.arch": arch, "data.root": str(root), "data.cache_dir": str(cache_dir), "train.epochs": 1,
              "train.device": "cpu", **demo_overrides(arch)}
    if arch == "crossrep":  # the linear speaker probe: the MLP's ten epochs would only add time
        config.update({"model.speech_model": model, "model.probe": "linear"})
    return config


def extract_features(config: dict) -> None:
    """Every feature the trial reads except the written wav2vec states, extracted into its cache."""
    from sertext.config import TrialConfig
    from sertext.data import load_corpus
    from sertext.features import FeatureCache, extract
    from sertext.features.extractors import feature_extractors
    from sertext.trial import fold_training

    resolved = TrialConfig.from_dict(config).resolved()
    table = load_corpus("iemocap", config["data.root"])
    for kind, extractor in feature_extractors(resolved, fold_training(resolved)).items():
        if kind != "wav2vec":
            extract(table, extractor, FeatureCache(config["data.cache_dir"]), progress=True)


def corpus_size(hours: list, before: str | None) -> dict:
    """Peak RSS of a whole trial per architecture and corpus size (and with ``before``'s sertext)."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor

    from sertext.data.demo import write_demo_corpus

    result = {"measure": "peak RSS (VmHWM) of a fresh process running sertext.trial.run_trial: one epoch, "
                         "the demo's width and batch size, fold Ses01F, dev and test predictions",
              "corpus": "sertext demo-corpus --scale iemocap (eSpeak), dialogs linked to the hours wanted",
              "wav2vec_states": "25 x 1024 float16 per 20 ms frame (wav2vec2-large-lv60), written into the cache",
              "cases": []}
    if before:
        result["before"] = subprocess.run(["git", "-C", before, "log", "-1", "--format=%h %s"], capture_output=True,
                                          text=True).stdout.strip() or before
    with tempfile.TemporaryDirectory(dir=os.environ.get("SERTEXT_BENCH_TMP")) as folder:
        folder = Path(folder)
        full = write_demo_corpus(folder / "full", scale="iemocap",
                                 utterances=round(max(hours) * 3600 / MEAN_UTTERANCE_S * 1.02), progress=True)
        model = folder / "wav2vec2-large-config"  # the extractor's identity only: trials read cached states
        Wav2Vec2Config(**WAV2VEC_CONFIGS["paper"]).save_pretrained(model)
        Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(model)
        cache = folder / "cache"
        roots = {h: folder / f"{h}h" for h in sorted(hours)}
        actual = {h: dialog_subset(full, root, h) for h, root in roots.items()}
        result["wav2vec_states_gib"] = round(write_wav2vec_states(roots[max(hours)], str(model), cache), 1)
        for arch in SCALE_ARCHS:
            for root in roots.values():
                extract_features(scale_config(arch, root, cache, str(model)))
        for arch in SCALE_ARCHS:
            for h, root in roots.items():
                for label, source in [("now", None)] + ([("before", before)] if before else []):
                    start = time.perf_counter()
                    case = {"kind": "whole trial", "config": scale_config(arch, root, cache, str(model))}
                    measured = measure_whole_trial(case, source)
                    row = {"arch": arch, "hours": round(actual[h], 3), "code": label, **measured,
                           "wall_s": round(time.perf_counter() - start, 1)}
                    result["cases"].append(row)
                    print(json.dumps(row), flush=True)
    result["growth_of_the_peak"] = growth(result["cases"])
    return result


def measure_whole_trial(case: dict, source: str | None) -> dict:
    """:func:`run_child`; where older code (``source``) fails, e.g. killed for memory on a large
    corpus, the failure is the row's result."""
    try:
        return run_child(case, source)
    except CaseFailed as error:
        if source is None:
            raise
        return {"peak_mib": None, "failed": f"exit code {error.returncode}"}


def growth(cases: list) -> dict:
    """Relative growth of the peak from the smallest to the largest corpus measured, per architecture and code."""
    out = {}
    for arch, code in dict.fromkeys((c["arch"], c["code"]) for c in cases):
        peaks = sorted((c["hours"], c["peak_mib"]) for c in cases
                       if (c["arch"], c["code"]) == (arch, code) and c["peak_mib"] is not None)
        out[f"{arch} ({code}), {peaks[0][0]:.2g} to {peaks[-1][0]:.2g} h"] = round(peaks[-1][1] / peaks[0][1] - 1, 3)
    return out


def print_corpus_size(result: dict) -> None:
    print(f"\n{'architecture':12s} {'code':7s} {'hours':>6s} {'peak MiB':>9s} {'trial s':>8s}")
    for c in result["cases"]:
        peak = f"{c['peak_mib']:9.0f}" if c["peak_mib"] is not None else f"{'-':>9s}  " + c["failed"]
        print(f"{c['arch']:12s} {c['code']:7s} {c['hours']:6.2f} {peak} {c['wall_s']:8.0f}")
    for name, value in result["growth_of_the_peak"].items():
        print(f"growth of the peak, {name}: {value:+.1%}")


# --- the child: one measured case --------------------------------------------------------------
def feature(kind: str, sizes: dict, rng: np.random.Generator):
    """One utterance's cached feature of ``kind``, shaped as its extractor stores it."""
    seconds = sizes["seconds"]
    mel_frames, frames_20ms, frames_100ms = 100 * seconds + 1, 50 * seconds + 1, 10 * seconds
    if kind == "tokens":
        return " ".join((TEXT.split() * 10)[: sizes["words"]])
    if kind == "phones":
        return rng.integers(0, 128, frames_20ms)
    shapes = {"log_mel": (mel_frames, 64), "text_embedding": (sizes["text_dim"],),
              "wav2vec": (sizes["wav2vec"][0], frames_20ms, sizes["wav2vec"][1]), "autovc_mel": (frames_20ms, 80),
              "speaker": (256,), "token_states": (122, sizes["token_dim"]), "acoustic_stats": (68,),
              "word_sequence": (sizes["words"], sizes["word_dim"]), "waveform_frames": (frames_100ms, 2205),
              "semantic_frames": (frames_100ms, sizes["frame_word_dim"])}
    dtype = np.float16 if kind == "wav2vec" else np.float32  # wav2vec states are cached as float16
    return rng.standard_normal(shapes[kind], dtype=np.float32).astype(dtype)


def synthetic_split(config, sizes: dict, n: int, rng: np.random.Generator):
    """A trainer split of ``n`` synthetic utterances with the architecture's inputs."""
    import pandas as pd

    from sertext.models import ARCHITECTURES
    from sertext.trial import _Split

    inputs = {name: [feature(kind, sizes, rng) for _ in range(n)]
              for name, kind in ARCHITECTURES[config.model.arch].inputs.items()}
    if config.data.task == "categorical":
        targets = np.arange(n) % 4  # every class present, as the CE class weights need
    else:
        targets = rng.uniform(1, 5, (n, len(config.data.targets))).astype(np.float32)
    return _Split([f"u{i}" for i in range(n)], inputs, targets, pd.DataFrame(index=range(n)))


def run_trial_steps(case: dict) -> dict:
    """``STEPS`` training steps and one evaluation batch of the case's trial config."""
    import torch

    from sertext import trial
    from sertext.config import TrialConfig
    from sertext.data import FOUR_CLASSES
    from sertext.models import ARCHITECTURES

    config = TrialConfig.from_dict(case["config"]).resolved()
    arch, sizes, device = ARCHITECTURES[config.model.arch], SETTINGS[case["setting"]], torch.device("cpu")
    rng, batch = np.random.default_rng(0), config.train.batch_size
    torch.manual_seed(0)
    train = synthetic_split(config, sizes, STEPS * batch, rng)
    dev = synthetic_split(config, sizes, batch if "tokens" in arch.inputs or arch.lengths else 1, rng)  # one batch
    classes = list(FOUR_CLASSES) if config.data.task == "categorical" else list(config.data.targets)
    model = trial._build_model(config, classes, {"train": train}).to(device)
    optimizer, scheduler = trial._optimiser(model, config, STEPS)
    fit = trial._Fit(model, optimizer, scheduler, trial._loss(config, train.targets, len(classes), device),
                     torch.Generator().manual_seed(0), torch.amp.GradScaler("cuda", enabled=False), device)
    trial._train_epoch(fit, train, config)
    trial._predict(model, dev, config, device)
    stored = sum(np.asarray(values[0]).nbytes for values in train.inputs.values())
    used = {"width": config.model.width} if "width" in arch.options else {}
    used.update({"crop_s": config.train.crop_s} if arch.crop == "seconds" else {})
    return {"batch_size": batch, **used, "parameters": sum(p.numel() for p in model.parameters()),
            "cached_features_mib_per_audio_hour": round(stored / sizes["seconds"] * 3600 / 2**20, 1)}


def run_extraction(case: dict) -> dict:
    """wav2vec 2.0 states of one utterance, as the sweep driver extracts them before trials start."""
    import soundfile as sf

    from sertext.features.wav2vec import Wav2Vec2Extractor

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "utterance.wav"
        rng = np.random.default_rng(0)
        audio = 0.1 * rng.standard_normal(SETTINGS[case["setting"]]["seconds"] * 16_000)
        sf.write(path, audio, 16_000, subtype="PCM_16")
        Wav2Vec2Extractor(case["model"], device="cpu").compute([SimpleNamespace(path=str(path))], [path.read_bytes()])
    return {}


def run_whole_trial(case: dict) -> dict:
    """``sertext.trial.run_trial`` of the case's config: what it trained and scored."""
    import sertext
    from sertext.trial import run_trial

    result = run_trial(case["config"])
    return {"test_uar": round(result.metrics["test/uar"], 3), "sertext_from": str(Path(sertext.__file__).parent)}


def child(case: dict) -> dict:
    import sertext.trial  # noqa: F401  (the baseline: torch and sertext imported)

    measured = {"trial": run_trial_steps, "extraction": run_extraction,
                "whole trial": run_whole_trial}.get(case["kind"], lambda _: {})(case)
    return {**measured, "peak_mib": round(peak_mib(), 1)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", nargs="+", default=None, help="only these architectures (default: all)")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--corpus-hours", nargs="+", type=float, default=None,
                        help="instead: a whole cnn14 and crossrep trial on corpora of these hours of audio")
    parser.add_argument("--before", default=None, metavar="SRC",
                        help="with --corpus-hours: also run each case with the sertext package in folder SRC")
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)  # internal: run one case in this process
    args = parser.parse_args()
    if args.case:
        print(json.dumps(child(json.loads(args.case))))
        sys.exit()
    out = Path(__file__).parent / "results" / "memory.json"
    previous = json.loads(out.read_text()) if out.is_file() else {}
    if args.corpus_hours:  # each mode replaces its own part of the JSON and keeps the other's
        scale = corpus_size(args.corpus_hours, args.before)
        print_corpus_size(scale)
        result = {**previous, "corpus_size": scale}
    else:
        from sertext.models import ARCHITECTURES

        result = main([a for a in ARCHITECTURES if args.archs is None or a in args.archs], args.settings)
        print_table(result)
        result |= {k: v for k, v in previous.items() if k == "corpus_size"}
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
