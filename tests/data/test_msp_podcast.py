"""MSP-Podcast reader on fixtures in the release formats (1.6–2.0 quirks)."""

import pandas as pd
import pytest

from sertext.data import CorpusError, count_problems, load_corpus
from tests.fixtures import MSP_ROWS, write_msp


def test_reads_labels_audio_and_transcripts(msp_root):
    table = load_corpus("msp-podcast", msp_root)
    assert len(table) == len(MSP_ROWS)
    row = table.set_index("utt_id").loc["MSP-PODCAST_0001_0009"]
    assert row["emotion"] == "N"
    assert row["arousal"] == pytest.approx(3.777778)
    assert row["valence"] == pytest.approx(3.555556)
    assert (row["speaker"], row["gender"], row["split"]) == ("39", "M", "Test1")
    assert row["text"] == "text of MSP-PODCAST_0001_0009"
    assert row["path"] == str(msp_root.resolve() / "Audios" / "MSP-PODCAST_0001_0009.wav")
    assert table["session"].isna().all() and table["mode"].isna().all()


def test_unknown_speaker_and_gender_are_missing(msp_root):
    row = load_corpus("msp-podcast", msp_root).set_index("utt_id").loc["MSP-PODCAST_0003_0001"]
    assert pd.isna(row["speaker"]) and pd.isna(row["gender"])


def test_unlabelled_test3_rows_are_kept(msp_root):
    table = load_corpus("msp-podcast", msp_root)
    row = table.set_index("utt_id").loc["MSP-PODCAST_0005_0001"]
    assert row["split"] == "Test3"
    assert pd.isna(row["emotion"]) and pd.isna(row["arousal"])
    assert row["text"] == ""
    assert count_problems(table.attrs["problems"])[("note", "missing_transcript")] == 1


def test_old_release_misspelled_labels_validation_split_and_nested_audio(tmp_path):
    rows = [r.replace("Development", "Validation") for r in MSP_ROWS]
    write_msp(tmp_path, label_name="labels_concensus.csv", nested=True, rows=rows)
    table = load_corpus("msp-podcast", tmp_path)
    assert len(table) == len(rows)
    assert (table["split"] == "Validation").sum() == 2
    assert table["path"].str.contains("Audios/Audios/").all()


def test_unknown_split_is_kept_as_data(tmp_path):
    write_msp(tmp_path, rows=MSP_ROWS + ["MSP-PODCAST_0007_0001.wav,N,3,3,3,60,Male,Test4"])
    table = load_corpus("msp-podcast", tmp_path)
    assert table.set_index("utt_id").loc["MSP-PODCAST_0007_0001", "split"] == "Test4"
    assert count_problems(table.attrs["problems"])[("note", "unknown_split")] == 1


def test_multi_line_transcript_is_joined_and_noted(msp_root):
    (msp_root / "Transcripts" / "MSP-PODCAST_0002_0001.txt").write_text("first line\nsecond line\n")
    table = load_corpus("msp-podcast", msp_root)
    assert table.set_index("utt_id").loc["MSP-PODCAST_0002_0001", "text"] == "first line second line"
    assert count_problems(table.attrs["problems"])[("note", "multi_line_transcript")] == 1


def test_bad_rows_are_errors_with_file_and_line(msp_root):
    labels = msp_root / "Labels" / "labels_consensus.csv"
    lines = labels.read_text().splitlines()
    lines[3] = lines[3].replace("5.0", "high")
    lines.append(lines[1])  # duplicate
    labels.write_text("\n".join(lines) + "\n")
    (msp_root / "Audios" / "MSP-PODCAST_0004_0002.wav").unlink()
    with pytest.raises(CorpusError) as error:
        load_corpus("msp-podcast", msp_root)
    message = str(error.value)
    assert "3 error(s)" in message
    assert "labels_consensus.csv:4: attribute is not a number" in message
    assert f"labels_consensus.csv:{len(lines)}: MSP-PODCAST_0001_0008.wav already listed at line 2" in message
    assert "MSP-PODCAST_0004_0002.wav is not in Audios/" in message


def test_missing_columns_and_missing_label_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="labels_consensus.csv"):
        load_corpus("msp-podcast", tmp_path)
    (tmp_path / "Labels").mkdir()
    (tmp_path / "Labels" / "labels_consensus.csv").write_text("FileName,EmoClass\n")
    with pytest.raises(CorpusError, match="missing columns"):
        load_corpus("msp-podcast", tmp_path)
