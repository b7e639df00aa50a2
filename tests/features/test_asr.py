"""Speech-recognition transcripts: PocketSphinx on real eSpeak speech, a tiny transformers recogniser
built here, the cache keys, the model checks, the word error rate and ``sertext transcribe``."""

import csv
import json
import math
import re
import shutil
import time

import jiwer
import numpy as np
import pytest

from sertext.cli import main
from sertext.data import load_corpus
from sertext.features import FeatureCache
from sertext.features.asr import (
    POCKETSPHINX,
    TranscriptExtractor,
    check_asr_model,
    normalise_words,
    recognised_text,
    resolve_asr_model,
    transcript_text,
    with_recognised_text,
    word_error_rate,
)
from sertext.features.cache import content_digest, entry_key
from tests.fixtures import iemocap_files, write_msp


@pytest.fixture(scope="module")
def tiny_table(tiny_demo_root):
    return load_corpus("iemocap", tiny_demo_root, dialogue_acts=None)


@pytest.fixture(scope="module")
def tiny_recogniser(tmp_path_factory):
    """A randomly initialised wav2vec 2.0 CTC recogniser over a-z, saved as a Hugging Face folder."""
    import torch
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    folder = tmp_path_factory.mktemp("asr") / "tiny-ctc"
    folder.mkdir()
    vocab = {token: i for i, token in enumerate(["<pad>", "<unk>", "|", *"abcdefghijklmnopqrstuvwxyz"])}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), unk_token="<unk>", pad_token="<pad>",
                                     word_delimiter_token="|")
    features = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16_000, padding_value=0.0, do_normalize=True)
    Wav2Vec2Processor(feature_extractor=features, tokenizer=tokenizer).save_pretrained(folder)
    torch.manual_seed(0)
    config = Wav2Vec2Config(vocab_size=len(vocab), pad_token_id=0, hidden_size=16, num_hidden_layers=1,
                            num_attention_heads=2, intermediate_size=32, conv_dim=(16, 16), conv_stride=(5, 4),
                            conv_kernel=(10, 8), num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
    Wav2Vec2ForCTC(config).save_pretrained(folder)
    return folder


def _entries(cache_dir) -> list:
    return sorted((cache_dir / "transcript").rglob("*.npy"))


def test_pocketsphinx_transcribes_real_speech_once(tiny_table, tmp_path, monkeypatch):
    rows = tiny_table.iloc[:6]
    cache = FeatureCache(tmp_path / "cache")
    texts = recognised_text(rows, POCKETSPHINX, cache, progress=False)
    assert list(texts.index) == list(rows["utt_id"]) and all(isinstance(t, str) for t in texts)
    assert sum(bool(t) for t in texts) >= 5
    scores = word_error_rate(rows["text"], texts)
    assert scores["utterances"] == 6 and 0 < scores["wer"] < 1.0, scores
    assert len(_entries(tmp_path / "cache")) == 6
    # a transcript does not depend on the utterance decoded before it (the cache key holds only the wav)
    second = rows.iloc[1]
    alone = TranscriptExtractor().compute([second], [TranscriptExtractor().content(second)])
    assert transcript_text(alone[0]) == texts[second.utt_id]

    def recognise_again(*args):
        raise AssertionError("recognised again although cached")

    monkeypatch.setattr(TranscriptExtractor, "compute", recognise_again)
    assert recognised_text(rows, POCKETSPHINX, cache, progress=False).equals(texts)
    assert len(_entries(tmp_path / "cache")) == 6


def test_transformers_recogniser_from_a_local_folder(tiny_recogniser, tiny_table, tmp_path, monkeypatch, one_thread):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    check_asr_model(str(tiny_recogniser))
    rows = tiny_table.loc[(tiny_table["end_s"] - tiny_table["start_s"]).nsmallest(2).index]  # the shortest two
    cache = FeatureCache(tmp_path / "cache")
    texts = recognised_text(rows, str(tiny_recogniser), cache, progress=False)
    assert len(texts) == 2 and all(isinstance(t, str) and "\n" not in t for t in texts)
    recognised_text(rows, POCKETSPHINX, cache, progress=False)
    assert len(_entries(tmp_path / "cache")) == 4  # the same wavs under another model: other entries
    assert TranscriptExtractor(str(tiny_recogniser)).uses_gpu and not TranscriptExtractor().uses_gpu


def test_identity_of_a_local_model_does_not_depend_on_its_place(tiny_recogniser, tmp_path):
    path, identity = resolve_asr_model(str(tiny_recogniser))
    assert identity.startswith("local:") and path == str(tiny_recogniser.resolve())
    copy = shutil.copytree(tiny_recogniser, tmp_path / "elsewhere" / "model")
    assert resolve_asr_model(str(copy))[1] == identity
    (copy / "extra.txt").write_text("changed")
    assert resolve_asr_model(str(copy))[1] != identity


def test_cache_keys_name_the_model():
    source, identity = resolve_asr_model(POCKETSPHINX)
    assert re.fullmatch(r"pocketsphinx==[\d.]+/en-us", identity) and (source and source.endswith("en-us"))
    assert TranscriptExtractor().settings() == {"model": identity}
    assert TranscriptExtractor("openai/whisper-small").settings() == {"model": "openai/whisper-small"}
    digest = content_digest(b"the same wav")
    keys = {entry_key("transcript", TranscriptExtractor(m).settings(), digest) for m in (POCKETSPHINX, "a/b", "a/c")}
    assert len(keys) == 3


def test_unloadable_models_are_one_line_errors_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    check_asr_model(POCKETSPHINX)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "model.safetensors").write_bytes(b"")
    import transformers  # noqa: F401 - imported before the clock starts

    for name, reason in [(str(tmp_path / "nowhere"), "no such folder"), (str(empty), "has no config.json"),
                         ("no-such-user/no-such-asr-model", "couldn't")]:
        start = time.perf_counter()
        with pytest.raises(ValueError) as error:
            check_asr_model(name)
        assert time.perf_counter() - start < 5  # offline: no retries against the hub
        message = str(error.value)
        assert "\n" not in message and f"speech-recognition model {name!r}" in message and reason in message
        assert "--asr-model pocketsphinx" in message and len(message) < 500


def test_with_recognised_text_replaces_text_and_keeps_the_reference(tiny_table, tmp_path, monkeypatch):
    table = tiny_table.iloc[:10]
    wavs = [TranscriptExtractor().content(row) for row in table.itertuples(index=False)]
    heard = {wav: ("" if i == 0 else f"heard {i}") for i, wav in enumerate(wavs)}  # the first: no words heard

    def fake_compute(self, rows, contents):
        return [np.frombuffer(heard[wav].encode(), np.uint8) for wav in contents]

    monkeypatch.setattr(TranscriptExtractor, "compute", fake_compute)
    out = with_recognised_text(table, POCKETSPHINX, FeatureCache(tmp_path / "cache"), progress=False)
    assert list(out["reference_text"]) == list(table["text"])
    assert list(out["text"]) == [heard[wav] for wav in wavs] and out["text"].iloc[0] == ""
    assert list(table["text"]) != list(out["text"])  # the input is not changed
    assert out.drop(columns=["text", "reference_text"]).equals(table.drop(columns="text"))


def test_transcripts_round_trip_through_the_cache(tmp_path):
    cache = FeatureCache(tmp_path)
    for i, text in enumerate(["", "okay", "café – naïve, 東京"]):
        cache.store("transcript", f"{i:02d}", np.frombuffer(text.encode("utf-8"), np.uint8))
        stored = cache.load("transcript", f"{i:02d}")
        assert stored.dtype == np.uint8 and stored.ndim == 1 and transcript_text(stored) == text


def test_word_error_rate_by_hand():
    assert normalise_words("[LAUGHTER] No, I DON'T... 'know'!") == "no i don't know"
    references = ["The cat sat on the mat.", "[LAUGHTER] Hello, WORLD!", "[BREATHING]", "", "I don't know."]
    hypotheses = ["a cat sat on mat", "hello there world", "uh", "something", "i don't know"]
    scores = word_error_rate(references, hypotheses)
    # 1 substitution (the -> a) + 1 deletion (the) + 1 insertion (there) over 6 + 2 + 3 reference words
    assert scores == {"wer": pytest.approx(3 / 11), "utterances": 3, "reference_words": 11, "no_reference": 2}
    normalised = (["the cat sat on the mat", "hello world", "i don't know"],
                  ["a cat sat on mat", "hello there world", "i don't know"])
    assert scores["wer"] == pytest.approx(jiwer.wer(*normalised))
    nothing = word_error_rate(["", "[LAUGHTER]"], ["a", "b"])
    assert math.isnan(nothing["wer"]) and nothing["utterances"] == 0 and nothing["no_reference"] == 2


def test_transcribe_command_end_to_end(iemocap_root, tiny_table, tmp_path, capsys):
    speech = tiny_table.set_index("utt_id").loc["Ses01F_impro01_F000", "path"]  # eSpeak saying "Okay."
    shutil.copyfile(speech, iemocap_files(iemocap_root, "Ses01F_impro01_F000")[0])
    args = ["transcribe", "iemocap", str(iemocap_root), "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    assert main([*args, "--out", str(tmp_path / "out" / "transcripts.csv")]) == 0
    out = capsys.readouterr().out
    assert "pocketsphinx: 18 utterances transcribed in" in out and "(18 now, 0 found cached" in out
    assert re.search(r"\d+ came out empty \(no words heard\)", out)
    assert re.search(r"WER \d\.\d{3} over 17 utterances with a transcript \(1 without one left out\)", out)
    with open(tmp_path / "out" / "transcripts.csv", encoding="utf-8", newline="") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 18 and list(written[0]) == ["utt_id", "text", "reference_text"]
    by_id = {row["utt_id"]: row for row in written}
    assert by_id["Ses01F_impro01_F000"]["text"] == "okay"
    assert by_id["Ses01F_impro01_F000"]["reference_text"] == "Excuse me."
    assert main(args) == 0
    assert "(0 now, 18 found cached" in capsys.readouterr().out


def test_transcribe_a_corpus_without_transcripts(tmp_path, capsys):
    root = tmp_path / "MSP-Podcast"
    write_msp(root)
    shutil.rmtree(root / "Transcripts")
    assert main(["transcribe", "msp-podcast", str(root), "--cache-dir", str(tmp_path / "cache"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "9 utterances transcribed" in out and "has no transcripts to score against" in out


def test_transcribe_refuses_an_unloadable_model_first(tmp_path, capsys):
    code = main(["transcribe", "iemocap", str(tmp_path / "no-corpus"), "--asr-model", str(tmp_path / "no-model")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("sertext transcribe: error: speech-recognition model") and err.count("\n") == 1
    assert "no such folder" in err
