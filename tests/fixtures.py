"""Tiny corpora written in the real on-disk formats (docs/datasets.md).

The fixtures are written from the format documentation, not from sertext's readers, and carry
every quirk listed in docs/datasets.md §6.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import soundfile as sf

# One entry per labelled IEMOCAP utterance: (session, dialog, utt_id, code, V, A, D, text).
IEMOCAP_UTTERANCES = [
    (1, "Ses01F_impro01", "Ses01F_impro01_F000", "neu", 2.5, 2.5, 2.5, "Excuse me."),
    (1, "Ses01F_impro01", "Ses01F_impro01_M000", "fru", 2.0, 3.5, 3.5, "Do you have your forms?"),
    (1, "Ses01F_impro01", "Ses01F_impro01_F001", "ang", 1.5, 4.0, 4.5, "[LAUGHTER] No, I don't."),
    (1, "Ses01F_impro01", "Ses01F_impro01_M001", "xxx", 2.5, 3.0, 3.0, "Well, okay."),
    (1, "Ses01F_impro01", "Ses01F_impro01_F002", "hap", 4.0, 3.0, 3.0, "That's great."),
    (1, "Ses01F_script01_2", "Ses01F_script01_2_M012", "sad", 2.0, 2.0, 2.0, "[BREATHING]"),
    (1, "Ses01F_script01_2", "Ses01F_script01_2_F000", "exc", 4.0, 4.0, 3.5, "We did it!"),
    (2, "Ses02M_impro02", "Ses02M_impro02_F000", "sad", 1.5, 2.0, 2.0, "I miss him."),
    (2, "Ses02M_impro02", "Ses02M_impro02_M000", "neu", 3.0, 2.5, 3.0, "I know."),
    (3, "Ses03M_impro05a", "Ses03M_impro05a_F000", "ang", 1.5, 4.5, 4.0, "Get out."),
    (3, "Ses03M_impro05a", "Ses03M_impro05a_M000", "neu", 3.0, 2.0, 2.5, "Fine."),
    (3, "Ses03M_impro05a", "Ses03M_impro05a_M003", "hap", 5.5, 3.5, 3.0, "Wonderful!"),
    (4, "Ses04F_script02_1", "Ses04F_script02_1_F000", "exc", 4.5, 4.0, 3.5, "Yes!"),
    (4, "Ses04F_script02_1", "Ses04F_script02_1_M000", "sad", 2.0, 1.5, 0.5, "It's over."),
    (5, "Ses05M_script01_1b", "Ses05M_script01_1b_F000", "neu", 3.0, 2.5, 3.0, "Hello."),
    (5, "Ses05M_script01_1b", "Ses05M_script01_1b_M000", "ang", 1.0, 4.5, 4.5, "Shut up."),
    (5, "Ses05F_impro03", "Ses05F_impro03_F000", "hap", 4.5, 3.5, 3.5, "I got the job."),
    (5, "Ses05F_impro03", "Ses05F_impro03_M000", "sad", 2.0, 2.0, 2.0, "Oh no."),
]

# Rater blocks; the first two quote docs/datasets.md verbatim (a multi-category rater, the
# `dom  N` double space and a self-evaluation).
RATER_LINES = {
    "Ses01F_impro01_F000": [
        "C-E2:\tNeutral;\t()", "C-E3:\tNeutral;\t()", "C-E4:\tNeutral;\t()", "C-F1:\tNeutral;\t(curious)",
        "A-E3:\tval 3; act 2; dom  2;\t()",
        "A-E4:\tval 2; act 3; dom  3;\t(mildly aggravated but staying polite, attitude)",
        "A-F1:\tval 3; act 2; dom  1;\t()",
    ],
    "Ses01F_impro01_M000": [
        "C-E1:\tNeutral;\t()", "C-E2:\tFrustration; Anger;\t()", "C-E3:\tFrustration;\t()",
        "C-M1:\tFrustration;\t()", "A-E1:\tval 2; act 3; dom  3;\t()", "A-E2:\tval 2; act 4; dom  4;\t()",
    ],
}
DEFAULT_RATERS = ["C-E1:\tOther;\t()", "C-E2:\tOther;\t()", "A-E1:\tval 3; act 3; dom  3;\t()"]

# Transcript lines that are not labelled utterances: XX ids (one duplicated) and a bare line.
EXTRA_TRANSCRIPT_LINES = {
    "Ses01F_impro01": ["Ses01F_impro01_MXX0 [009.0000-009.5000]: Yeah.", "M: [BREATHING]"],
    "Ses05F_impro03": ["Ses05F_impro03_FXX3 [020.0000-021.0000]: Mm.",
                       "Ses05F_impro03_FXX3 [022.0000-023.0000]: Hm, yeah."],
}


def write_wav(path, seconds: float = 0.25, sample_rate_hz: int = 16_000, channels: int = 1) -> None:
    """A short tone as 16-bit PCM."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sample_rate_hz)) / sample_rate_hz
    tone = 0.1 * np.sin(2 * np.pi * 220 * t)
    sf.write(path, np.repeat(tone[:, None], channels, axis=1), sample_rate_hz, subtype="PCM_16")


def write_iemocap(root) -> None:
    """A tiny IEMOCAP_full_release tree (see IEMOCAP_UTTERANCES) with every documented quirk."""
    dialogs: dict = {}
    for utterance in IEMOCAP_UTTERANCES:
        dialogs.setdefault((utterance[0], utterance[1]), []).append(utterance)
    for (session, dialog), utterances in dialogs.items():
        base = root / f"Session{session}"
        labels = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        transcript = []
        for i, (_, _, utt_id, code, v, a, d, text) in enumerate(utterances):
            start, end = 6.2901 + 3 * i, 8.2357 + 3 * i
            labels.append(f"[{start:.4f} - {end:.4f}]\t{utt_id}\t{code}\t[{v:.4f}, {a:.4f}, {d:.4f}]")
            labels += RATER_LINES.get(utt_id, DEFAULT_RATERS) + [""]
            transcript.append(f"{utt_id} [{start:08.4f}-{end:08.4f}]: {text}")
            write_wav(base / "sentences" / "wav" / dialog / f"{utt_id}.wav")
        transcript += EXTRA_TRANSCRIPT_LINES.get(dialog, [])
        (base / "dialog" / "EmoEvaluation" / "Categorical").mkdir(parents=True, exist_ok=True)
        (base / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text("\n".join(labels) + "\n")
        (base / "dialog" / "transcriptions").mkdir(parents=True, exist_ok=True)
        (base / "dialog" / "transcriptions" / f"{dialog}.txt").write_text("\n".join(transcript) + "\n")


def iemocap_files(root, utt_id: str) -> tuple:
    """``(wav, EmoEvaluation file, transcription file)`` of an utterance of the IEMOCAP fixture."""
    dialog = utt_id.rsplit("_", 1)[0]
    session = root / f"Session{int(utt_id[3:5])}"
    return (session / "sentences" / "wav" / dialog / f"{utt_id}.wav",
            session / "dialog" / "EmoEvaluation" / f"{dialog}.txt",
            session / "dialog" / "transcriptions" / f"{dialog}.txt")


def replace_in_line(path, old: bytes, new: bytes) -> int:
    """Replace ``old`` by ``new`` in the first line of ``path`` holding it (bytes, so a test can
    write invalid UTF-8); returns that line's 1-based number."""
    lines = path.read_bytes().split(b"\n")
    number = next(i for i, line in enumerate(lines) if old in line)
    lines[number] = lines[number].replace(old, new, 1)
    path.write_bytes(b"\n".join(lines))
    return number + 1


def write_emotyda(folder) -> None:
    """EMOTyDA CSVs (CRLF, quoted where needed): every fixture utterance but two, plus XX rows."""
    folder.mkdir(parents=True, exist_ok=True)
    skipped = {"Ses02M_impro02_M000", "Ses04F_script02_1_F000"}
    for session in range(1, 6):
        rows = ["TURN,UTTERANCE,DA,EMOTION"]
        for s, _, utt_id, code, *_, text in IEMOCAP_UTTERANCES:
            if s == session and utt_id not in skipped:
                quoted = f'"{text}"' if "," in text else text
                rows.append(f"{utt_id},{quoted},s,{code}")
        if session == 5:
            rows.append("Ses05F_impro03_FXX3,Mm.,b,-")
        (folder / f"iemocap_session{session}.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode())


MSP_HEADER = "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"
MSP_ROWS = [
    "MSP-PODCAST_0001_0008.wav,N,2.2,4.0,2.6,30,Male,Test1",
    "MSP-PODCAST_0001_0009.wav,N,3.777778,3.555556,3.777778,39,Male,Test1",
    "MSP-PODCAST_0002_0001.wav,A,5.0,2.0,5.2,12,Female,Train",
    "MSP-PODCAST_0002_0002.wav,H,4.4,5.8,4.0,12,Female,Train",
    "MSP-PODCAST_0003_0001.wav,S,2.0,2.2,2.4,Unknown,Unknown,Train",
    "MSP-PODCAST_0004_0001.wav,X,3.0,3.0,3.0,45,Female,Development",
    "MSP-PODCAST_0004_0002.wav,N,3.2,4.1,3.3,46,Male,Development",
    "MSP-PODCAST_0005_0001.wav,,,,,Unknown,Unknown,Test3",
    "MSP-PODCAST_0006_0001.wav,U,4.0,4.0,4.0,50,Male,Test2",
]


def write_msp(root, *, label_name: str = "labels_consensus.csv", nested: bool = False,
              rows=MSP_ROWS) -> None:
    """A tiny MSP-Podcast release: label CSV, flat (or nested) Audios/, one-line transcripts
    (the Test3 turn has none)."""
    audio = root / "Audios" / "Audios" if nested else root / "Audios"
    (root / "Labels").mkdir(parents=True, exist_ok=True)
    (root / "Labels" / label_name).write_text("\n".join([MSP_HEADER, *rows]) + "\n")
    (root / "Transcripts").mkdir(parents=True, exist_ok=True)
    for row in rows:
        name = row.split(",")[0]
        write_wav(audio / name)
        if "Test3" not in row:
            (root / "Transcripts" / f"{name[:-4]}.txt").write_text(f"text of {name[:-4]}\n")


# --- a tiny wav2vec 2.0 model (no weights can be downloaded here) ---
# The real convolutional front end (kernels 10,3,3,3,3,2,2; strides 5,2,2,2,2,2,2: stride 320) with tiny widths.
TINY_WAV2VEC = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                    conv_dim=(16,) * 7, conv_kernel=(10, 3, 3, 3, 3, 2, 2), conv_stride=(5, 2, 2, 2, 2, 2, 2),
                    num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, feat_extract_norm="layer",
                    do_stable_layer_norm=True)


def write_tiny_wav2vec(folder, *, do_normalize=True, **changes) -> str:
    """A randomly initialised (seed 0) wav2vec 2.0 model saved in Hugging Face format; its folder."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

    torch.manual_seed(0)
    Wav2Vec2Model(Wav2Vec2Config(**{**TINY_WAV2VEC, **changes})).save_pretrained(folder)
    if do_normalize is not None:
        Wav2Vec2FeatureExtractor(do_normalize=do_normalize).save_pretrained(folder)
    return str(folder)


# --- a synthetic sweep in MLflow (aggregation and report tests) ---
SYNTHETIC_CLASSES = ["angry", "happy", "neutral", "sad"]
ARCHS, FOLDS, SEEDS = ("cnn14", "text", "mfcnn14"), ("F1", "F2"), (0, 1, 2)
SKILL = {"cnn14": 0.3, "text": 0.4, "mfcnn14": 0.6}  # chance to predict the truth
FAILED = ("text", "F2", 2)


def synthetic_predictions(arch, fold, seed, *, cross: bool = False):
    """Test predictions of one synthetic run: 20 utterances per fold, skill by architecture.
    ``cross``: its predictions for 20 utterances of another corpus, the same for every fold."""
    truth = np.random.default_rng(99 if cross else FOLDS.index(fold)).choice(SYNTHETIC_CLASSES, 20)
    rng = np.random.default_rng([ARCHS.index(arch), FOLDS.index(fold), seed, int(cross)])
    right = rng.random(20) < SKILL[arch]
    predicted = np.where(right, truth, rng.choice(SYNTHETIC_CLASSES, 20))
    probabilities = rng.random((20, 4)) * 0.2
    probabilities[np.arange(20), [SYNTHETIC_CLASSES.index(p) for p in predicted]] += 1
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return pd.DataFrame({"utt_id": [f"{'other' if cross else fold}_u{i:02d}" for i in range(20)], "truth": truth,
                         "prediction": predicted,
                         **{f"prob_{c}": probabilities[:, i] for i, c in enumerate(SYNTHETIC_CLASSES)},
                         "mode": ["scripted", "improvised"] * 10, "dialogue_act": ["s", "q", "b", None] * 5})


def synthetic_regression(arch, fold, seed):
    """Valence and arousal predictions of one synthetic regression run: shrunk towards the middle
    of the scale by an amount that falls with the architecture's skill."""
    rng = np.random.default_rng([ARCHS.index(arch), FOLDS.index(fold), seed])
    truth = np.random.default_rng(FOLDS.index(fold)).uniform(1, 5, (20, 2))
    predicted = 3 + SKILL[arch] * (truth - 3) + rng.normal(0, 0.4, (20, 2))
    return pd.DataFrame({"utt_id": [f"{fold}_u{i:02d}" for i in range(20)], "valence": truth[:, 0],
                         "arousal": truth[:, 1], "pred_valence": predicted[:, 0], "pred_arousal": predicted[:, 1],
                         "mode": ["scripted", "improvised"] * 10, "dialogue_act": ["s", "q", "b", None] * 5})


def write_synthetic_sweep(uri, task: str = "categorical", *, name: str = "", with_record: bool = False,
                          corpus: str = "iemocap", with_dev: bool = True):
    """A finished sweep in the MLflow store ``uri``: experiment ``synthetic`` (``synthetic-dimensional``
    for ``task="dimensional"``, or ``name``), ARCHS × FOLDS × SEEDS runs with stored dev and test
    predictions (categorical: also cross-corpus ones, on the other corpus), the text-reading runs
    tagged with the text model BERT, and the trial FAILED failed; ``with_record``: its parent run
    keeps its definition of ``corpus``, as a sweep's does (:mod:`sertext.record`); without
    ``with_dev``, its trials had no dev set (Makiuchi et al.'s protocol).  Returns (experiment id,
    parent run id)."""
    from types import SimpleNamespace

    from sertext import record, tracking
    from sertext.metrics import table_metrics
    from sertext.sweep import SweepConfig

    name = name or ("synthetic" if task == "categorical" else "synthetic-dimensional")
    experiment = tracking.prepare_experiment(uri, name)
    parent = tracking.start_parent_run(uri, experiment, name, {})
    if with_record:
        other = "msp-podcast" if corpus == "iemocap" else "iemocap"
        sweep = SweepConfig(name, corpus=corpus, root="/corpus", task=task, archs=ARCHS, seeds=SEEDS, folds=FOLDS,
                            metric="dev/uar" if task == "categorical" else "dev/ccc",
                            cross_corpus=other if task == "categorical" else "", cross_root="/other")
        record.write_sweep_record(uri, parent, record.SweepRecord(sweep, "/corpus", FOLDS))
    for arch, fold, seed in [(a, f, s) for a in ARCHS for f in FOLDS for s in SEEDS]:
        models = {"text_model": "bert-base-uncased"} if arch != "cnn14" else {}
        run = tracking.TrialRun(uri, experiment, parent, f"{arch}-{fold}-{seed}", f"{arch}-{fold}-seed{seed}",
                                {"arch": arch, "fold": fold, "seed": seed, **models}, {})
        if (arch, fold, seed) == FAILED:
            run.fail()
            continue
        if task == "categorical":
            test = synthetic_predictions(arch, fold, seed)
            splits = {"dev": test, "test": test, "cross": synthetic_predictions(arch, fold, seed, cross=True)}
        else:
            test = synthetic_regression(arch, fold, seed)
            splits = {"dev": test, "test": test}
        if not with_dev:
            del splits["dev"]
        metrics = {f"{split}/{k}": v for split, table in splits.items() for k, v in table_metrics(table).items()}
        run.finish(SimpleNamespace(metrics=metrics, best_epoch=0, history=[{}], predictions=splits))
    return experiment, parent


# --- helpers for feature and model tests ---
def wav_table(folder, seconds, **columns) -> pd.DataFrame:
    """Tones u0.wav, u1.wav, … of the given lengths (seconds) written to ``folder``, and their table
    (``utt_id``, ``path`` and any extra ``columns``)."""
    paths = [folder / f"u{i}.wav" for i in range(len(seconds))]
    for path, length in zip(paths, seconds, strict=True):
        write_wav(path, seconds=length)
    return pd.DataFrame({"utt_id": [p.stem for p in paths], "path": [str(p) for p in paths], **columns})


class CountingExtractor:
    """``extractor`` as :func:`sertext.features.extract` sees it, recording the batch size of every
    ``compute`` call in ``calls`` (pass one list to several wrappers to count across them)."""

    def __init__(self, extractor, calls: list | None = None):
        self.extractor = extractor
        self.calls = [] if calls is None else calls
        self.name, self.batch_size = extractor.name, extractor.batch_size

    def settings(self) -> dict:
        return self.extractor.settings()

    def content(self, row) -> bytes:
        return self.extractor.content(row)

    def compute(self, rows, contents):
        self.calls.append(len(rows))
        return self.extractor.compute(rows, contents)


def count_parameters(model) -> int:
    """The number of parameters of a torch module."""
    return sum(p.numel() for p in model.parameters())


# --- sweeps -------------------------------------------------------------------------------------
TINY = {"model.width": 0.0625, "train.epochs": 2, "train.batch_size": 8, "train.crop_s": 1.0}


def sweep_config(name, root, tmp_path, **overrides):
    """A two-trial CNN14 sweep at tiny settings with every store under ``tmp_path``:
    ``(definition, run settings)``, each override going to the one that has the field."""
    import dataclasses

    from sertext.sweep import RunSettings, SweepConfig

    definition = dict(name=name, root=str(root), archs=("cnn14",), seeds=(0,), folds=("Ses01F", "Ses02F"), fixed=TINY)
    settings = dict(storage_path=str(tmp_path / "ray"), cache_dir=str(tmp_path / "cache"),
                    tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", progress=False, max_failures=2,
                    report_dir=str(tmp_path / "reports"))
    settings_fields = {f.name for f in dataclasses.fields(RunSettings)}
    for key, value in overrides.items():
        (settings if key in settings_fields else definition)[key] = value
    return SweepConfig(**definition), RunSettings(**settings)


def sweep_runs(uri, name):
    """``(parent run, child runs)`` of the one launch of sweep ``name``."""
    from mlflow.tracking import MlflowClient

    from sertext import tracking

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    parents = client.search_runs([experiment.experiment_id], "tags.`sertext.kind` = 'sweep'")
    assert len(parents) == 1
    return parents[0], tracking.child_runs(uri, experiment.experiment_id, parents[0].info.run_id)
