"""Semantic frames from a fold's own space: trained on training utterances only, kept in the cache,
on the waveform's grid, and (speech-only kinds) blind to the words."""

import numpy as np
import pytest

import sertext.features.semantic as semantic
from sertext.data import load_corpus
from sertext.features import FeatureCache, extract
from sertext.features.frames import WaveformFramesExtractor
from sertext.features.semantic import SemanticFramesExtractor
from sertext.features.words import transcript_words
from sertext.semantic.alignment import AdversarialConfig
from sertext.semantic.space import SemanticConfig
from sertext.semantic.word2vec import Word2VecConfig

TINY = SemanticConfig(dim=8, word2vec=Word2VecConfig(epochs=2), speech2vec_epochs=1,
                      adversarial=AdversarialConfig(steps=10, warmup_steps=2, hidden=16))


@pytest.fixture(scope="module")
def corpus(tiny_demo_root):
    table = load_corpus("iemocap", tiny_demo_root)
    return table, table[table["speaker"] != "Ses01F"], table[table["speaker"] == "Ses01F"]


@pytest.mark.slow
def test_the_space_is_trained_on_the_training_utterances_only_and_kept_in_the_cache(corpus, tmp_path, monkeypatch):
    table, training, _ = corpus
    cache = FeatureCache(tmp_path)
    extractor = SemanticFramesExtractor("aligned_speech2vec", training, cache, TINY, progress=False)
    frames = extract(table, extractor, cache, progress=False)
    assert set(extractor.space.word_vectors) == {w for text in training["text"] for w in transcript_words(text)}
    waveform = extract(table, WaveformFramesExtractor(), cache, progress=False)
    for utt_id, array in frames.items():
        assert array.shape == (len(waveform[utt_id]), 8) and array.dtype == np.float32
    assert all(np.abs(a).sum() > 0 for a in frames.values())  # every demo utterance has words

    def no_training(*args, **kwargs):
        raise AssertionError("the space should come from the cache")

    monkeypatch.setattr(semantic, "train_space", no_training)
    for kind in ("speech2vec", "word2vec"):  # the same space, from the cache, for every kind
        again = SemanticFramesExtractor(kind, training, FeatureCache(tmp_path), TINY, progress=False)
        assert again.space_key == extractor.space_key
        assert again.space.check == extractor.space.check
        extract(table, again, cache, progress=False)
    other = SemanticFramesExtractor("aligned_speech2vec", training.iloc[1:], cache, TINY, progress=False)
    assert other.space_key != extractor.space_key  # another fold, another space


def test_speech_only_kinds_read_no_word(corpus, tmp_path):
    """The content a speech-only kind computes from holds the wav and the speech spans, no label:
    renaming every word of the alignment leaves it unchanged; word2vec's changes."""
    table, training, test = corpus
    row = next(test.itertuples(index=False))
    cache = FeatureCache(tmp_path)
    speech = SemanticFramesExtractor("speech2vec", training, cache, TINY)
    words = SemanticFramesExtractor("word2vec", training, cache, TINY)
    before = speech.content(row), words.content(row)
    wdseg = semantic.alignment_path(row.path, "wdseg")
    text = wdseg.read_text()
    try:
        renamed = [line if "<" in line or not line.split() or not line.split()[0].isdigit()
                   else line.rsplit(" ", 1)[0] + " ELSEWHERE" for line in text.splitlines()]
        wdseg.write_text("\n".join(renamed) + "\n")
        assert speech.content(row) == before[0]
        assert words.content(row) != before[1]
        assert b"ELSEWHERE" not in speech.content(row)
    finally:
        wdseg.write_text(text)


def test_unknown_kinds_and_empty_folds_are_refused(corpus, tmp_path):
    _, training, _ = corpus
    with pytest.raises(ValueError, match="semantic must be one of"):
        SemanticFramesExtractor("glove", training, FeatureCache(tmp_path))
    with pytest.raises(ValueError, match="the fold has none"):
        SemanticFramesExtractor("speech2vec", training.iloc[:0], FeatureCache(tmp_path))
