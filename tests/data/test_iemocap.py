"""IEMOCAP reader on a fixture in the real format with every documented quirk."""

import pandas as pd
import pytest

from sertext.data import COLUMNS, CorpusError, count_problems, load_corpus
from tests.fixtures import IEMOCAP_UTTERANCES, write_wav


def test_reads_every_labelled_utterance_with_contract_columns(iemocap_root):
    table = load_corpus("iemocap", iemocap_root)
    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert sorted(table["utt_id"]) == sorted(u[2] for u in IEMOCAP_UTTERANCES)
    assert table["corpus"].eq("iemocap").all()
    assert table["split"].isna().all()
    row = table.set_index("utt_id").loc["Ses01F_impro01_F000"]
    assert row["path"] == str(iemocap_root.resolve() / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav")
    assert (row["emotion"], row["valence"], row["arousal"], row["dominance"]) == ("neu", 2.5, 2.5, 2.5)
    assert (row["start_s"], row["end_s"]) == (6.2901, 8.2357)


def test_speaker_and_gender_come_from_the_letter_before_the_index(iemocap_root):
    table = load_corpus("iemocap", iemocap_root).set_index("utt_id")
    # Dialog letter F, speaker letter M: the speaker is the male actor of session 1.
    assert table.loc["Ses01F_impro01_M000", ["speaker", "gender", "session"]].tolist() == ["Ses01M", "M", 1]
    assert table.loc["Ses03M_impro05a_F000", ["speaker", "gender"]].tolist() == ["Ses03F", "F"]
    assert table["speaker"].nunique() == 10
    assert table.groupby("gender").size().to_dict() == {"F": 9, "M": 9}


def test_modes_and_odd_dialog_names(iemocap_root):
    table = load_corpus("iemocap", iemocap_root).set_index("utt_id")
    assert table.loc["Ses05M_script01_1b_F000", "mode"] == "scripted"
    assert table.loc["Ses05M_script01_1b_F000", "dialog"] == "Ses05M_script01_1b"
    assert table.loc["Ses03M_impro05a_M003", "mode"] == "improvised"
    assert table["mode"].value_counts().to_dict() == {"improvised": 12, "scripted": 6}


def test_values_outside_one_to_five_are_kept(iemocap_root):
    table = load_corpus("iemocap", iemocap_root).set_index("utt_id")
    assert table.loc["Ses03M_impro05a_M003", "valence"] == 5.5
    assert table.loc["Ses04F_script02_1_M000", "dominance"] == 0.5


def test_rater_lines_multi_category_and_double_space(iemocap_root):
    table = load_corpus("iemocap", iemocap_root).set_index("utt_id")
    assert table.loc["Ses01F_impro01_M000", "rater_emotions"] == (
        ("Neutral",), ("Frustration", "Anger"), ("Frustration",))
    assert table.loc["Ses01F_impro01_M000", "self_emotions"] == (("Frustration",),)
    # Header V/A/D is the mean of the external A- lines (self-rating excluded).
    assert table.loc["Ses01F_impro01_F000", "rater_vad"] == ((3.0, 2.0, 2.0), (2.0, 3.0, 3.0))


def test_transcripts_keep_tags_and_skip_xx_and_bare_lines(iemocap_root):
    table = load_corpus("iemocap", iemocap_root)
    texts = table.set_index("utt_id")["text"]
    assert texts["Ses01F_script01_2_M012"] == "[BREATHING]"
    assert texts["Ses01F_impro01_F001"] == "[LAUGHTER] No, I don't."
    assert not table["utt_id"].str.contains("XX").any()
    counts = count_problems(table.attrs["problems"])
    assert counts[("note", "xx_transcript_line")] == 3
    assert counts[("note", "unmatched_transcript_line")] == 1
    assert not any(severity == "error" for severity, _ in counts)


def test_dialogue_acts_joined_with_missing_rows_counted(iemocap_root, emotyda_dir):
    table = load_corpus("iemocap", iemocap_root, dialogue_acts=emotyda_dir).set_index("utt_id")
    assert table.loc["Ses01F_impro01_F000", "dialogue_act"] == "s"
    assert pd.isna(table.loc["Ses02M_impro02_M000", "dialogue_act"])
    counts = count_problems(table.attrs["problems"])
    assert counts[("note", "no_dialogue_act")] == 2
    assert counts[("note", "dialogue_act_without_utterance")] == 1  # the XX row


def test_dialogue_act_file_with_wrong_header_is_an_error(iemocap_root, tmp_path):
    bad = tmp_path / "acts.csv"
    bad.write_text("ID,TEXT,ACT\r\n")
    with pytest.raises(CorpusError, match="acts.csv:1"):
        load_corpus("iemocap", iemocap_root, dialogue_acts=bad)


def test_missing_wav_is_an_error_naming_file_and_label_line(iemocap_root):
    wav = iemocap_root / "Session2/sentences/wav/Ses02M_impro02/Ses02M_impro02_F000.wav"
    wav.unlink()
    with pytest.raises(CorpusError) as error:
        load_corpus("iemocap", iemocap_root)
    assert str(wav) in str(error.value)
    assert "Ses02M_impro02.txt:3" in str(error.value)
    table = load_corpus("iemocap", iemocap_root, on_error="collect")
    assert len(table) == len(IEMOCAP_UTTERANCES) - 1
    assert count_problems(table.attrs["problems"])[("error", "missing_wav")] == 1


def test_malformed_header_is_an_error_with_file_and_line(iemocap_root):
    path = iemocap_root / "Session2/dialog/EmoEvaluation/Ses02M_impro02.txt"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("\t", " ")  # spaces instead of tabs
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CorpusError, match=r"Ses02M_impro02\.txt:3: header line does not match"):
        load_corpus("iemocap", iemocap_root)


def test_duplicate_utterance_ids_are_an_error(iemocap_root):
    path = iemocap_root / "Session2/dialog/EmoEvaluation/Ses02M_impro02.txt"
    text = path.read_text()
    path.write_text(text + text.split("\n\n", 1)[1])
    with pytest.raises(CorpusError, match="already defined at line 3"):
        load_corpus("iemocap", iemocap_root)


def test_labelled_utterance_without_transcript_gets_empty_text(iemocap_root):
    path = iemocap_root / "Session2/dialog/transcriptions/Ses02M_impro02.txt"
    path.write_text(path.read_text().splitlines()[1] + "\n")
    table = load_corpus("iemocap", iemocap_root)
    assert table.set_index("utt_id").loc["Ses02M_impro02_F000", "text"] == ""
    assert count_problems(table.attrs["problems"])[("note", "missing_transcript")] == 1


def test_non_utf8_transcript_is_read_and_noted(iemocap_root):
    path = iemocap_root / "Session2/dialog/transcriptions/Ses02M_impro02.txt"
    path.write_bytes(path.read_bytes().replace(b"I know.", b"I kn\xf6w."))
    table = load_corpus("iemocap", iemocap_root)
    assert table.set_index("utt_id").loc["Ses02M_impro02_M000", "text"] == "I kn\ufffdw."
    assert count_problems(table.attrs["problems"])[("note", "not_utf8")] == 1


def test_check_audio_reports_unreadable_and_converted_wavs(iemocap_root):
    broken = iemocap_root / "Session2/sentences/wav/Ses02M_impro02/Ses02M_impro02_F000.wav"
    broken.write_bytes(b"RIFF garbage")
    write_wav(iemocap_root / "Session2/sentences/wav/Ses02M_impro02/Ses02M_impro02_M000.wav",
              sample_rate_hz=8000, channels=2)
    with pytest.raises(CorpusError, match="Ses02M_impro02_F000.wav: cannot read wav"):
        load_corpus("iemocap", iemocap_root, check_audio=True)
    table = load_corpus("iemocap", iemocap_root, check_audio=True, on_error="collect")
    counts = count_problems(table.attrs["problems"])
    assert counts[("error", "unreadable_wav")] == 1
    assert counts[("note", "sample_rate")] == 1
    assert "Ses02M_impro02_F000" not in set(table["utt_id"])


def test_missing_sessions_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No Session1..Session5 folders"):
        load_corpus("iemocap", tmp_path)


def test_unknown_corpus_name():
    with pytest.raises(ValueError, match="unknown corpus"):
        load_corpus("ravdess", ".")
