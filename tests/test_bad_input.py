"""The bad-input matrix of docs/bad-input.md: one test per row.

Each bad input is written in the real corpus format, then the test checks what the user sees: an
error naming the file (and line), or a documented handling counted in ``sertext check-corpus``'s
summary and in ``load_corpus``'s problems.
"""

import ast
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sertext.cli import main
from sertext.config import TrialConfig
from sertext.data import AudioError, CorpusError, count_problems, four_class, load_corpus, make_folds, read_wav
from tests.fixtures import MSP_ROWS, iemocap_files, replace_in_line, write_msp, write_wav

ROOT = Path(__file__).resolve().parents[1]
UTT = "Ses02M_impro02_F000"  # a sad utterance of session 2: in the four-class set, trained on in fold Ses01F


def _check_corpus(capsys, corpus: str, root) -> tuple[int, str]:
    """Exit code and output of ``sertext check-corpus``."""
    code = main(["check-corpus", corpus, str(root)])
    return code, capsys.readouterr().out


def _summary_count(out: str, severity: str, kind: str) -> int:
    """The count check-corpus's summary gives for ``(severity, kind)`` (0 when not listed)."""
    found = re.search(rf"^  {severity}\s+{kind}: (\d+)$", out, flags=re.MULTILINE)
    return int(found.group(1)) if found else 0


def _one_line_error(capsys, argv: list) -> str:
    """The error ``sertext`` prints for ``argv``: exit code 2, no traceback, one line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def _check_wav(capsys, root, severity: str, kind: str) -> str:
    """check-corpus's output on an IEMOCAP copy whose wav of UTT has one problem of ``kind``.

    Checks the exit code, the count in the summary and in ``load_corpus``'s problems, and that an
    error leaves the utterance out while a note keeps it.
    """
    code, out = _check_corpus(capsys, "iemocap", root)
    assert code == (1 if severity == "error" else 0) and _summary_count(out, severity, kind) == 1
    table = load_corpus("iemocap", root, check_audio=True, on_error="collect")
    assert count_problems(table.attrs["problems"])[(severity, kind)] == 1
    assert (UTT in set(table["utt_id"])) == (severity == "note")
    return out


def _tone(seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * 16_000)) / 16_000
    return amplitude * np.sin(2 * np.pi * 220 * t)


# --- audio ---

def test_corrupt_wav(iemocap_root, tmp_path, capsys):
    wav = iemocap_files(iemocap_root, UTT)[0]
    wav.write_bytes(b"RIFF\x24\x00\x00\x00WAVEgarbage")
    with pytest.raises(AudioError, match=f"cannot read wav {re.escape(str(wav))}: Error in WAV file"):
        read_wav(wav)
    out = _check_wav(capsys, iemocap_root, "error", "unreadable_wav")
    assert f"{wav}: cannot read wav: Error in WAV file. No 'data' chunk marker." in out
    # Training without check-corpus first: one line naming the wav, when the trial reads it.
    error = _one_line_error(capsys, ["train", "--root", str(iemocap_root), "--width", "0.1", "--epochs", "1",
                                     "--cache-dir", str(tmp_path / "cache")])
    assert error.startswith(f"sertext train: error: cannot read wav {wav}")


@pytest.mark.parametrize("content, kind, message", [
    ("header only", "empty_wav", "wav has no samples"),
    ("zero bytes", "unreadable_wav", "cannot read wav: Format not recognised"),
])
def test_zero_length_wav(iemocap_root, capsys, content, kind, message):
    wav = iemocap_files(iemocap_root, UTT)[0]
    if content == "header only":
        sf.write(wav, np.zeros(0), 16_000, subtype="PCM_16")
    else:
        wav.write_bytes(b"")
    with pytest.raises(AudioError, match=re.escape(str(wav))):
        read_wav(wav)
    assert f"{wav}: {message}" in _check_wav(capsys, iemocap_root, "error", kind)


def test_wrong_sample_rate(iemocap_root, capsys):
    wav = iemocap_files(iemocap_root, UTT)[0]
    write_wav(wav, seconds=0.25, sample_rate_hz=44_100)
    assert read_wav(wav).shape == (4000,)  # resampled to 16 kHz
    assert f"{wav}: 44100 Hz, resampled to 16000 Hz on read" in _check_wav(capsys, iemocap_root, "note", "sample_rate")


def test_stereo(iemocap_root, capsys):
    wav = iemocap_files(iemocap_root, UTT)[0]
    write_wav(wav, seconds=0.25, channels=2)
    assert read_wav(wav).shape == (4000,)  # averaged to mono
    assert f"{wav}: 2 channels, averaged to mono on read" in _check_wav(capsys, iemocap_root, "note", "channels")


def test_clipped_audio(iemocap_root, capsys):
    wav = iemocap_files(iemocap_root, UTT)[0]
    sf.write(wav, np.clip(_tone(0.25, 2.0), -1, 1), 16_000, subtype="PCM_16")  # flat tops at full scale
    loud = iemocap_files(iemocap_root, "Ses02M_impro02_M000")[0]
    sf.write(loud, _tone(0.25, 1.0), 16_000, subtype="PCM_16")  # touches full scale, no flat tops
    out = _check_wav(capsys, iemocap_root, "note", "clipped_audio")  # one note: the loud tone is not clipped
    assert f"{wav}: 2670 of 4000 samples (66.75%) in runs of 3+ at full scale; kept" in out


def test_nan_audio(iemocap_root, capsys):
    wav = iemocap_files(iemocap_root, UTT)[0]
    samples = _tone(0.25, 0.1)
    samples[100] = np.nan
    sf.write(wav, samples, 16_000, subtype="FLOAT")
    with pytest.raises(AudioError, match=f"wav {re.escape(str(wav))} contains NaN or infinite samples"):
        read_wav(wav)
    assert f"{wav}: wav contains NaN or infinite samples" in _check_wav(capsys, iemocap_root, "error", "nan_audio")


# --- transcripts ---

def test_missing_transcript(iemocap_root, msp_root, capsys):
    transcript = iemocap_files(iemocap_root, UTT)[2]
    transcript.write_text("".join(transcript.read_text().splitlines(keepends=True)[1:]))
    table = load_corpus("iemocap", iemocap_root)
    assert table.set_index("utt_id").loc[UTT, "text"] == ""
    assert count_problems(table.attrs["problems"])[("note", "missing_transcript")] == 1
    code, out = _check_corpus(capsys, "iemocap", iemocap_root)
    assert code == 0 and _summary_count(out, "note", "missing_transcript") == 1
    assert f"{transcript}: no transcript line for {UTT}; text set to ''" in out
    missing = msp_root / "Transcripts" / "MSP-PODCAST_0002_0001.txt"
    missing.unlink()
    code, out = _check_corpus(capsys, "msp-podcast", msp_root)
    assert code == 0 and _summary_count(out, "note", "missing_transcript") == 2  # and the Test3 turn's
    assert f"{missing}: no transcript file; text set to ''" in out


def test_empty_transcript(iemocap_root, msp_root, capsys):
    transcript = iemocap_files(iemocap_root, UTT)[2]
    line = replace_in_line(transcript, b"I miss him.", b"")
    table = load_corpus("iemocap", iemocap_root)
    assert table.set_index("utt_id").loc[UTT, "text"] == ""
    assert count_problems(table.attrs["problems"])[("note", "empty_transcript")] == 1
    code, out = _check_corpus(capsys, "iemocap", iemocap_root)
    assert code == 0 and f"{transcript}:{line}: {UTT} has no text; kept with ''" in out
    empty = msp_root / "Transcripts" / "MSP-PODCAST_0002_0001.txt"
    empty.write_text("\n")
    code, out = _check_corpus(capsys, "msp-podcast", msp_root)
    assert code == 0 and _summary_count(out, "note", "empty_transcript") == 1
    assert f"{empty}: transcript file is empty; text set to ''" in out


def test_non_utf8_transcript(iemocap_root, msp_root, capsys):
    transcript = iemocap_files(iemocap_root, "Ses02M_impro02_M000")[2]
    line = replace_in_line(transcript, b"I know.", b"I kn\xf6w.")  # Latin-1
    table = load_corpus("iemocap", iemocap_root)
    assert table.set_index("utt_id").loc["Ses02M_impro02_M000", "text"] == "I kn\ufffdw."
    code, out = _check_corpus(capsys, "iemocap", iemocap_root)
    assert code == 0 and _summary_count(out, "note", "not_utf8") == 1
    assert f"{transcript}:{line}: line is not UTF-8; undecodable bytes replaced" in out
    msp_transcript = msp_root / "Transcripts" / "MSP-PODCAST_0002_0001.txt"
    msp_transcript.write_bytes("café\n".encode("cp1252"))
    table = load_corpus("msp-podcast", msp_root)
    assert table.set_index("utt_id").loc["MSP-PODCAST_0002_0001", "text"] == "caf\ufffd"
    assert [str(p) for p in table.attrs["problems"] if p.kind == "not_utf8"] == [
        f"{msp_transcript}:1: line is not UTF-8; undecodable bytes replaced"]


# --- labels ---

def test_unknown_emotion_code(iemocap_root, tmp_path, capsys):
    labels = iemocap_files(iemocap_root, UTT)[1]
    line = replace_in_line(labels, b"\tsad\t", b"\tjoy\t")
    code, out = _check_corpus(capsys, "iemocap", iemocap_root)
    assert code == 0 and _summary_count(out, "note", "unknown_emotion") == 1
    assert f"{labels}:{line}: {UTT}: unknown emotion code 'joy' kept as data" in out
    table = load_corpus("iemocap", iemocap_root)
    assert table.set_index("utt_id").loc[UTT, "emotion"] == "joy"
    assert UTT not in set(four_class(table)["utt_id"])
    write_msp(tmp_path / "msp", rows=[*MSP_ROWS, "MSP-PODCAST_0007_0001.wav,Z,3,3,3,60,Male,Train"])
    table = load_corpus("msp-podcast", tmp_path / "msp")
    assert [str(p) for p in table.attrs["problems"] if p.kind == "unknown_emotion"] == [
        f"{tmp_path / 'msp' / 'Labels' / 'labels_consensus.csv'}:11: MSP-PODCAST_0007_0001.wav: "
        "unknown emotion code 'Z' kept as data"]


def test_vad_out_of_range_iemocap(iemocap_root, capsys):
    labels = iemocap_files(iemocap_root, UTT)[1]
    line = replace_in_line(labels, b"[1.5000, 2.0000, 2.0000]", b"[7.0000, 2.0000, 2.0000]")
    with pytest.raises(CorpusError, match=re.escape(f"{labels}:{line}: {UTT}: valence 7 outside 0.5–5.5")):
        load_corpus("iemocap", iemocap_root)
    code, out = _check_corpus(capsys, "iemocap", iemocap_root)
    assert code == 1 and _summary_count(out, "error", "vad_out_of_range") == 1
    table = load_corpus("iemocap", iemocap_root, on_error="collect")
    assert UTT not in set(table["utt_id"])
    counts = count_problems(table.attrs["problems"])
    assert counts[("error", "vad_out_of_range")] == 1
    # The block's rater lines and wav go with it: no notes of unrecognised lines or an unlabelled wav.
    assert not {kind for _, kind in counts} & {"unrecognised_line", "unlabelled_wav"}
    # The corpus' own aggregates 5.5 and 0.5 are kept.
    assert table.set_index("utt_id").loc["Ses03M_impro05a_M003", "valence"] == 5.5


def test_vad_out_of_range_msp(tmp_path):
    rows = [*MSP_ROWS, "MSP-PODCAST_0007_0001.wav,N,3.0,9.5,0.0,60,Male,Train"]
    write_msp(tmp_path, rows=rows)
    with pytest.raises(CorpusError) as error:
        load_corpus("msp-podcast", tmp_path)
    labels = tmp_path / "Labels" / "labels_consensus.csv"
    assert f"{labels}:11: MSP-PODCAST_0007_0001.wav: EmoVal 9.5, EmoDom 0 outside 1–7" in str(error.value)
    table = load_corpus("msp-podcast", tmp_path, on_error="collect")
    assert len(table) == len(MSP_ROWS)
    assert count_problems(table.attrs["problems"])[("error", "vad_out_of_range")] == 1


def test_duplicate_utterance_id(iemocap_root, tmp_path, capsys):
    labels = iemocap_files(iemocap_root, UTT)[1]
    text = labels.read_text()
    labels.write_text(text + text.split("\n\n", 1)[1])  # every block again
    code, out = _check_corpus(capsys, "iemocap", iemocap_root)
    assert code == 1 and _summary_count(out, "error", "duplicate_utt_id") == 2
    assert f"{labels}:13: utterance id {UTT} already defined at line 3" in out
    write_msp(tmp_path / "msp", rows=[*MSP_ROWS, MSP_ROWS[2]])
    with pytest.raises(CorpusError) as error:
        load_corpus("msp-podcast", tmp_path / "msp")
    msp_labels = tmp_path / "msp" / "Labels" / "labels_consensus.csv"
    assert f"{msp_labels}:11: MSP-PODCAST_0002_0001.wav already listed at line 4" in str(error.value)


def test_missing_split(tmp_path, capsys):
    rows = [*MSP_ROWS, "MSP-PODCAST_0007_0001.wav,N,3,3,3,60,Male,", "MSP-PODCAST_0007_0002.wav,A,3,3,3,60,Male,Test4"]
    write_msp(tmp_path, rows=rows)
    code, out = _check_corpus(capsys, "msp-podcast", tmp_path)
    assert code == 0
    assert _summary_count(out, "note", "missing_split") == 1 and _summary_count(out, "note", "unknown_split") == 1
    assert "labels_consensus.csv:11: MSP-PODCAST_0007_0001.wav: no Split_Set; kept, in no msp-official set" in out
    assert ("labels_consensus.csv:12: MSP-PODCAST_0007_0002.wav: split 'Test4' kept as data, "
            "in no msp-official set") in out
    (fold,) = make_folds(load_corpus("msp-podcast", tmp_path), "msp-official")
    assert not {"MSP-PODCAST_0007_0001", "MSP-PODCAST_0007_0002"} & set(fold.train + fold.dev + fold.test)


def test_protocol_fold_absent_from_corpus(iemocap_root, tmp_path, capsys):
    for path in iemocap_root.joinpath("Session3").rglob("*"):
        if path.is_file():
            path.unlink()  # a copy without Session 3 (folders left empty)
    error = _one_line_error(capsys, ["train", "--root", str(iemocap_root), "--fold", "Ses03F",
                                     "--cache-dir", str(tmp_path / "cache")])
    assert error == ("sertext train: error: fold 'Ses03F' is not in protocol iemocap-loso; folds: "
                     "['Ses01F', 'Ses01M', 'Ses02F', 'Ses02M', 'Ses04F', 'Ses04M', 'Ses05F', 'Ses05M']")


def test_protocol_fold_with_an_empty_set(iemocap_root, msp_root):
    table = load_corpus("iemocap", iemocap_root)
    with pytest.raises(ValueError, match=r"fold Ses02M has no test utterances; the table has speakers \['Ses01F'"):
        make_folds(table[table["speaker"] != "Ses02M"], "iemocap-loso")
    with pytest.raises(ValueError, match="fold Session5 has no test utterances"):
        make_folds(table[table["session"] != 5], "iemocap-holdout")
    msp = load_corpus("msp-podcast", msp_root)
    with pytest.raises(ValueError, match=re.escape("msp-official needs Train, Development (or Validation) and "
                                                   "Test1 rows; the table has splits ['Development', 'Test2', 'Test3', "
                                                   "'Train']")):
        make_folds(msp[msp["split"] != "Test1"], "msp-official")


# --- malformed label files ---

def test_msp_labels_missing_column(tmp_path, capsys):
    write_msp(tmp_path)
    labels = tmp_path / "Labels" / "labels_consensus.csv"
    replace_in_line(labels, b",EmoDom", b"")
    code, out = _check_corpus(capsys, "msp-podcast", tmp_path)
    assert code == 1 and _summary_count(out, "error", "malformed_header") == 1
    assert f"{labels}:1: missing columns ['EmoDom']" in out


def test_msp_labels_non_numeric_value(tmp_path):
    write_msp(tmp_path, rows=[*MSP_ROWS, "MSP-PODCAST_0007_0001.wav,N,high,3,3,60,Male,Train"])
    with pytest.raises(CorpusError, match="labels_consensus.csv:11: attribute is not a number: .*'high'"):
        load_corpus("msp-podcast", tmp_path)
    table = load_corpus("msp-podcast", tmp_path, on_error="collect")
    assert count_problems(table.attrs["problems"])[("error", "malformed_row")] == 1 and len(table) == len(MSP_ROWS)


def test_msp_labels_ragged_row(tmp_path):
    rows = [*MSP_ROWS, "MSP-PODCAST_0007_0001.wav,N,3,3,3,60,Male", "MSP-PODCAST_0007_0002.wav,N,3,3,3,60,Male,Train,x"]
    write_msp(tmp_path, rows=rows)
    with pytest.raises(CorpusError) as error:
        load_corpus("msp-podcast", tmp_path)
    assert "labels_consensus.csv:11: 7 fields where the header has 8" in str(error.value)
    assert "labels_consensus.csv:12: 9 fields where the header has 8" in str(error.value)
    table = load_corpus("msp-podcast", tmp_path, on_error="collect")
    assert count_problems(table.attrs["problems"])[("error", "malformed_row")] == 2 and len(table) == len(MSP_ROWS)


def test_non_utf8_label_file(tmp_path):
    write_msp(tmp_path)
    labels = tmp_path / "Labels" / "labels_consensus.csv"
    line = replace_in_line(labels, b",12,Female,Train", b",Jos\xe9,Female,Train")  # Latin-1
    table = load_corpus("msp-podcast", tmp_path)
    assert table.set_index("utt_id").loc["MSP-PODCAST_0002_0001", "speaker"] == "Jos\ufffd"
    assert [str(p) for p in table.attrs["problems"] if p.kind == "not_utf8"] == [
        f"{labels}:{line}: line is not UTF-8; undecodable bytes replaced"]


def test_iemocap_malformed_emo_evaluation_line(iemocap_root, capsys):
    labels = iemocap_files(iemocap_root, UTT)[1]
    rating = replace_in_line(labels, b"A-E1:\tval 3; act 3; dom  3;", b"A-E1:\tval 3; act ?;")  # first block
    header = replace_in_line(labels, b"[3.0000, 2.5000, 3.0000]", b"[3.0000, high, 3.0000]")  # second block
    with pytest.raises(CorpusError, match=re.escape(f"{labels}:{header}: header line does not match")):
        load_corpus("iemocap", iemocap_root)
    code, out = _check_corpus(capsys, "iemocap", iemocap_root)
    assert code == 1 and _summary_count(out, "error", "malformed_header") == 1
    assert _summary_count(out, "note", "malformed_rating") == 1
    assert f"{labels}:{rating}: attribute line without val/act/dom: 'val 3; act ?;'" in out


# --- sweep definitions ---

def test_unknown_architecture(iemocap_root, capsys):
    from sertext.sweep import SweepConfig

    with pytest.raises(ValueError, match=re.escape("unknown architecture(s) ['cnn15']; expected ['cnn14',")):
        SweepConfig(name="x", demo=True, archs=("cnn14", "cnn15"))
    error = _one_line_error(capsys, ["train", "--root", str(iemocap_root), "--set", "model.arch=cnn15"])
    assert error.startswith("sertext train: error: arch must be one of (") and error.endswith("got 'cnn15'")
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--root", str(iemocap_root), "--arch", "cnn15"])
    assert exit_.value.code == 2 and "argument --arch: invalid choice: 'cnn15'" in capsys.readouterr().err


def test_misspelled_hyperparameter(iemocap_root, capsys):
    from sertext.sweep import SweepConfig

    hint = "unknown train config key 'train.learning_rate' (did you mean train.lr?)"
    with pytest.raises(ValueError, match=re.escape(hint)):
        TrialConfig.from_dict({"train.learning_rate": 0.1})
    with pytest.raises(ValueError, match=re.escape(hint)):
        SweepConfig(name="x", demo=True, fixed={"train.learning_rate": 0.1})
    with pytest.raises(ValueError, match=re.escape("unknown model config key 'model.dropuot' (did you mean "
                                                   "model.dropout?)")):
        TrialConfig.from_dict({"model": {"dropuot": 0.1}})
    error = _one_line_error(capsys, ["train", "--root", str(iemocap_root), "--set", "train.learning_rate=0.1"])
    assert error == f"sertext train: error: {hint}"


# --- the table and the tests cannot drift apart ---

def test_every_row_of_the_doc_names_an_existing_test():
    doc = (ROOT / "docs" / "bad-input.md").read_text()
    named = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", doc)
    assert len(named) >= 17
    for module, name in named:
        defined = {node.name for node in ast.parse((ROOT / module).read_text()).body
                   if isinstance(node, ast.FunctionDef)}
        assert name in defined, f"docs/bad-input.md names {module}::{name}, which does not exist"
    here = {node.name for node in ast.parse(Path(__file__).read_text()).body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    unlisted = here - {name for _, name in named} - {"test_every_row_of_the_doc_names_an_existing_test"}
    assert not unlisted, f"tests missing from docs/bad-input.md: {sorted(unlisted)}"
