"""The demo corpus: IEMOCAP format, quirks, determinism, the designed modality split and the
IEMOCAP-shaped corpus (``scale="iemocap"``)."""

import hashlib
import json
from collections import Counter
from itertools import pairwise

import numpy as np
import pytest
from scipy.signal import stft
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sertext.data import count_problems, four_class, load_corpus, make_folds, read_wav
from sertext.data.demo import IEMOCAP_UTTERANCES, plan_iemocap_shape, write_demo_corpus
from sertext.metrics import uar


def _digest(root):
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.relative_to(root).as_posix().encode() + p.read_bytes()
                                   for p in files)).hexdigest()


@pytest.mark.slow
def test_same_seed_same_corpus_other_seed_other_corpus(tmp_path):
    a = write_demo_corpus(tmp_path / "a", utterances=60, seed=3, progress=False)
    b = write_demo_corpus(tmp_path / "b", utterances=60, seed=3, progress=False)
    c = write_demo_corpus(tmp_path / "c", utterances=60, seed=4, progress=False)
    assert _digest(a) == _digest(b) != _digest(c)


@pytest.mark.slow
def test_existing_corpus_is_reused_and_foreign_folders_refused(tmp_path):
    root = write_demo_corpus(tmp_path / "demo", utterances=60, progress=False)
    wav = next(root.rglob("*.wav"))
    mtime = wav.stat().st_mtime_ns
    write_demo_corpus(root, utterances=60, progress=False)
    assert wav.stat().st_mtime_ns == mtime
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a sertext demo corpus"):
        write_demo_corpus(tmp_path / "other", utterances=60, progress=False)


@pytest.mark.slow
def test_reader_reads_the_demo_corpus_with_its_quirks(demo_root):
    table = load_corpus("iemocap", demo_root, check_audio=True, dialogue_acts=demo_root / "EMOTyDA")
    assert len(table) == 600
    assert table["speaker"].nunique() == 10
    assert table.groupby("speaker").size().between(50, 70).all()
    assert set(table["mode"]) == {"improvised", "scripted"}
    assert {"xxx", "fru", "neu", "hap", "exc", "sad", "ang"} <= set(table["emotion"])
    assert (table["text"] == "[LAUGHTER]").sum() == 1
    assert {"Ses03M_impro05a", "Ses05M_script01_1b"} <= set(table["dialog"])
    assert table["rater_emotions"].map(lambda raters: any(len(r) > 1 for r in raters)).any()
    counts = count_problems(table.attrs["problems"])
    assert counts[("note", "xx_transcript_line")] == 10
    assert counts[("note", "no_dialogue_act")] > 0
    assert not [kind for severity, kind in counts if severity == "error"]
    # Scripts are reused across sessions: the same lines in sessions 1 and 2.
    script = table[table["dialog"].str.contains("script01_1")]
    assert set(script.loc[script.session == 1, "text"]) & set(script.loc[script.session == 2, "text"])
    # V/A/D follow the categories.
    means = four_class(table).groupby("label")[["valence", "arousal"]].mean()
    assert means.loc["happy", "valence"] > means.loc["neutral", "valence"] > means.loc["sad", "valence"]
    assert means.loc["angry", "arousal"] > means.loc["neutral", "arousal"] > means.loc["sad", "arousal"]


@pytest.mark.slow
def test_wavs_and_alignments(demo_root):
    wav = demo_root / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav"
    audio = read_wav(wav)
    assert 0.5 < len(audio) / 16000 < 10
    align = demo_root / "Session1/sentences/ForcedAlignment/Ses01F_impro01"
    words = (align / "Ses01F_impro01_F000.wdseg").read_text().splitlines()
    phones = (align / "Ses01F_impro01_F000.phseg").read_text().splitlines()
    assert words[0].split() == ["SFrm", "EFrm", "SegAScr", "Word"]
    assert phones[0].split() == ["SFrm", "EFrm", "SegAScr", "Phone"]
    assert words[-1].startswith(" Total score:")
    frames = [tuple(map(int, line.split()[:2])) for line in phones[1:-1]]
    assert frames[0][0] == 0
    assert all(end + 1 == start for (_, end), (start, _) in pairwise(frames))
    assert frames[-1][1] <= len(audio) // 160
    spoken = [line.split()[3] for line in words[1:-1] if not line.split()[3].startswith("<")]
    text = load_corpus("iemocap", demo_root).set_index("utt_id").loc["Ses01F_impro01_F000", "text"]
    assert " ".join(spoken) == "".join(c for c in text.upper() if c.isalnum() or c in " '").strip()


def _audio_statistics(path):
    """Log band energies and energy statistics over the voiced frames (a cheap acoustic set)."""
    x = read_wav(path)
    f, _, z = stft(x, fs=16000, nperseg=400, noverlap=240)
    power = np.abs(z) ** 2
    edges = np.geomspace(50, 7000, 17)
    bands = np.log(np.stack([power[(f >= lo) & (f < hi)].sum(0) for lo, hi in pairwise(edges)]) + 1e-10)
    energy = np.log(power.sum(0) + 1e-10)
    voiced = energy > energy.max() - 5
    return np.concatenate([bands[:, voiced].mean(1), bands[:, voiced].std(1),
                           [energy[voiced].mean(), energy[voiced].std(), voiced.mean(), len(x) / 16000]])


def _leave_one_session_out_uar(table, features):
    labels = table["label"].to_numpy()
    predictions = np.empty(len(labels), dtype=object)
    for fold in make_folds(table, "iemocap-loso-session"):
        train = table["utt_id"].isin(fold.train + fold.dev).to_numpy()
        test = table["utt_id"].isin(fold.test).to_numpy()
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced"))
        predictions[test] = model.fit(features[train], labels[train]).predict(features[test])
    return uar(labels, predictions)


@pytest.mark.slow
def test_emotion_is_split_across_speech_and_text(demo_root):
    """Audio statistics alone and bag-of-words alone are well above chance (0.25); together
    they beat both: the demo corpus rewards fusion, as the papers' corpora do."""
    table = four_class(load_corpus("iemocap", demo_root)).reset_index(drop=True)
    audio = np.stack([_audio_statistics(p) for p in table["path"]])
    for speaker in table["speaker"].unique():  # per-speaker standardisation, as usual in SER
        rows = (table["speaker"] == speaker).to_numpy()
        audio[rows] = (audio[rows] - audio[rows].mean(0)) / (audio[rows].std(0) + 1e-9)
    words = CountVectorizer().fit_transform(table["text"]).toarray().astype(float)
    audio_uar = _leave_one_session_out_uar(table, audio)
    text_uar = _leave_one_session_out_uar(table, words)
    both_uar = _leave_one_session_out_uar(table, np.hstack([audio, words]))
    print(f"leave-one-session-out UAR: audio {audio_uar:.3f}, text {text_uar:.3f}, both {both_uar:.3f}")
    assert audio_uar > 0.45 and text_uar > 0.45
    assert both_uar > max(audio_uar, text_uar) + 0.05


@pytest.mark.slow
def test_demo_corpus_in_the_msp_podcast_layout(tiny_demo_root, tmp_path):
    from sertext.data.demo import write_demo_msp_podcast

    source = load_corpus("iemocap", tiny_demo_root)
    root = write_demo_msp_podcast(tmp_path / "msp", tiny_demo_root)
    table = load_corpus("msp-podcast", root, check_audio=True)
    assert len(table) == len(source) and not count_problems(table.attrs["problems"])
    assert table.groupby("split")["speaker"].nunique().to_dict() == {"Development": 2, "Test1": 2, "Train": 6}
    assert set(table.groupby("speaker")["split"].nunique()) == {1}  # speaker-disjoint partitions
    assert sorted(table["text"]) == sorted(source["text"])
    assert table["arousal"].between(1, 7).all()
    assert table["arousal"].mean() == pytest.approx(1 + (source["arousal"].mean() - 1) * 1.5)
    assert set(table["emotion"]) <= {"N", "H", "S", "A", "O", "U", "F", "D", "X"}
    assert len(make_folds(four_class(table), "msp-official")) == 1
    wav = next((root / "Audios").iterdir())
    mtime = wav.stat().st_mtime_ns
    write_demo_msp_podcast(tmp_path / "msp", tiny_demo_root)  # reused, not written again
    assert wav.stat().st_mtime_ns == mtime


# --- the IEMOCAP shape (scale="iemocap") -----------------------------------------------------------
_CODES = ("neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth", "xxx")
#: IEMOCAP_full_release's header codes per session (the verified counts of all 10,039 utterances).
_IEMOCAP = {
    1: (384, 135, 143, 194, 229, 280, 25, 12, 1, 1, 415),
    2: (362, 117, 210, 197, 137, 325, 17, 9, 0, 1, 436),
    3: (320, 135, 151, 305, 240, 382, 28, 2, 1, 0, 572),
    4: (258, 65, 238, 143, 327, 481, 19, 7, 0, 1, 564),
    5: (384, 143, 299, 245, 170, 381, 18, 10, 0, 0, 520),
}
_NAMES = {"Neutral": "neu", "Happiness": "hap", "Excited": "exc", "Sadness": "sad", "Anger": "ang",
          "Frustration": "fru", "Surprise": "sur", "Fear": "fea", "Disgust": "dis", "Other": "oth"}


def _iemocap_cells():
    return {(session, code): n for session, row in _IEMOCAP.items() for code, n in zip(_CODES, row, strict=True)}


def test_iemocap_shape_plan_has_iemocap_counts_dialogs_and_names():
    plan = plan_iemocap_shape()  # planning only: nothing is synthesised
    turns = [u for utterances in plan.values() for u in utterances]
    table = Counter((int(u.utt_id[3:5]), u.code) for u in turns)
    assert len(turns) == IEMOCAP_UTTERANCES == 10_039
    assert {cell: table[cell] for cell in _iemocap_cells()} == _iemocap_cells()
    codes = Counter(u.code for u in turns)
    assert (codes["neu"], codes["hap"] + codes["exc"], codes["ang"], codes["sad"]) == (1708, 1636, 1103, 1084)
    assert len(plan) == 151
    assert Counter(int(dialog[3:5]) for dialog in plan) == {1: 28, 2: 30, 3: 32, 4: 30, 5: 31}
    assert {"Ses03M_impro05a", "Ses03M_impro05b", "Ses03M_impro08a", "Ses03M_impro08b",
            "Ses05M_script01_1b", "Ses02F_script03_2", "Ses05F_impro08"} <= set(plan)
    assert not {"Ses03M_impro05", "Ses03M_impro08"} & set(plan)
    assert not [dialog for dialog in plan if dialog.startswith("Ses01") and "impro08" in dialog]
    assert len({u.utt_id for u in turns}) == len(turns)
    assert {u.speaker["voice"] for u in turns} == {"en-us+f1", "en-us+m1", "en+f2", "en+m3", "en-us-nyc+f3",
                                                  "en-gb-x-gbclan+m2", "en-029+f4", "en-029+m4",
                                                  "en-gb-x-rp+f5", "en-gb-x-rp+m6"}
    male = sum(u.utt_id.rsplit("_", 1)[1][0] == "M" for u in turns) / len(turns)
    scripted = sum("_script" in u.utt_id for u in turns) / len(turns)
    assert abs(male - 5239 / 10_039) < 0.02 and abs(scripted - 5255 / 10_039) < 0.02
    assert all(u.emotion == u.code for u in turns if u.code != "xxx")
    assert sum(u.line.text == "[LAUGHTER]" for u in turns) == 1
    # Improvisations keep their scenario's flavour: the loss and the death are sad, the
    # rejected application and the lost baggage frustrating.
    share = lambda code, kinds: (sum(u.code == code for d, us in plan.items() if any(k in d for k in kinds)  # noqa: E731
                                     for u in us) / sum(len(us) for d, us in plan.items()
                                                        if any(k in d for k in kinds)))
    assert share("sad", ["impro02", "impro06"]) > 1.5 * codes["sad"] / len(turns)
    assert share("fru", ["impro04", "impro08"]) > 1.5 * codes["fru"] / len(turns)


def test_iemocap_shape_scales_down_by_largest_remainder():
    plan = plan_iemocap_shape(120, seed=5)
    table = Counter((int(u.utt_id[3:5]), u.code) for utterances in plan.values() for u in utterances)
    assert sum(table.values()) == 120
    assert all(abs(table[cell] - n * 120 / 10_039) < 1 for cell, n in _iemocap_cells().items())
    assert all(plan.values())  # dialogs that got no utterance are left out


@pytest.fixture(scope="module")
def iemocap_shaped_root(tmp_path_factory):
    """A 120-utterance corpus in IEMOCAP's shape, synthesised by two worker processes."""
    return write_demo_corpus(tmp_path_factory.mktemp("shaped") / "corpus", utterances=120, seed=1,
                             scale="iemocap", workers=2, progress=False)


def test_iemocap_shaped_corpus_reads_back_with_its_planned_codes(iemocap_shaped_root):
    root = iemocap_shaped_root
    table = load_corpus("iemocap", root, check_audio=True, dialogue_acts=root / "EMOTyDA")
    assert not [kind for severity, kind in count_problems(table.attrs["problems"]) if severity == "error"]
    planned = {u.utt_id: u.code for us in plan_iemocap_shape(120, seed=1).values() for u in us}
    assert dict(zip(table["utt_id"], table["emotion"], strict=True)) == planned
    assert table["speaker"].nunique() == 10 and set(table["mode"]) == {"improvised", "scripted"}
    # The C- lines agree with the header: their majority category is the code, or none is (xxx).
    for raters, code in zip(table["rater_emotions"], table["emotion"], strict=True):
        votes = Counter(_NAMES[name] for categories in raters for name in categories).most_common()
        majority = votes[0][0] if votes[0][1] >= 2 and (len(votes) == 1 or votes[1][1] < votes[0][1]) else "xxx"
        assert majority == code
    durations = table["end_s"] - table["start_s"]
    assert durations.between(0.5, 60).all() and 2.5 < durations.mean() < 7
    assert json.loads((root / "sertext-demo.json").read_text()) == {
        "version": 1, "utterances": 120, "seed": 1, "scale": "iemocap"}


def test_iemocap_shaped_corpus_does_not_depend_on_the_worker_count(iemocap_shaped_root, tmp_path):
    one = write_demo_corpus(tmp_path / "one", utterances=120, seed=1, scale="iemocap", workers=1, progress=False)
    assert _digest(one) == _digest(iemocap_shaped_root)


def test_scale_refuses_unknown_shapes_and_tiny_corpora(tmp_path):
    with pytest.raises(ValueError, match="unknown demo corpus scale"):
        write_demo_corpus(tmp_path, scale="msp")
    with pytest.raises(ValueError, match="at least 60 utterances"):
        write_demo_corpus(tmp_path, utterances=59, scale="iemocap")
