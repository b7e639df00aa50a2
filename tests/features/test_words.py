"""Word vectors: transcript words, vector files, transformer token tables, the cached sequence extractor."""


import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import load_file
from transformers import AutoTokenizer

from sertext.features import FeatureCache, extract
from sertext.features.text import DEFAULT_TEXT_MODEL, resolve_text_model
from sertext.features.words import (
    TransformerTokenEmbeddings,
    VectorFile,
    VectorFileError,
    WordSequenceExtractor,
    load_word_vectors,
    transcript_words,
)
from tests.fixtures import CountingExtractor

GLOVE = "the 0.1 0.2 0.3\nHello 1 2 3\nhello 4 5 6\nWorld 7 8 9\nworld 0 0 1\ndon't -1 -2 -3\nat home 5 5 5\n"


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_transcript_words_drop_tags_and_punctuation_but_keep_apostrophes():
    assert transcript_words("Hello!! [garbage] It's 5 o'clock, ok?") == ["hello", "it's", "5", "o'clock", "ok"]
    assert transcript_words("snake_case ' -- ...") == ["snake", "case"]
    assert transcript_words("") == []


def test_glove_file_lookup_is_lower_cased_and_prefers_the_lower_case_entry(tmp_path):
    vectors = VectorFile(_write(tmp_path / "glove.txt", GLOVE))
    got = vectors.vectors(["hello", "HELLO", "world", "don't", "at home"])
    assert vectors.dim == 3 and got.dtype == np.float32
    np.testing.assert_array_equal(got, [[4, 5, 6], [4, 5, 6], [0, 0, 1], [-1, -2, -3], [5, 5, 5]])


def test_first_case_wins_when_there_is_no_lower_case_entry(tmp_path):
    vectors = VectorFile(_write(tmp_path / "cased.txt", "Paris 1 1\nPARIS 2 2\n"))
    np.testing.assert_array_equal(vectors.vectors(["paris"]), [[1, 1]])


def test_out_of_vocabulary_words_are_zero_and_counted(tmp_path):
    vectors = VectorFile(_write(tmp_path / "glove.txt", GLOVE))
    got = vectors.vectors(["the", "zyzzyva", "Zyzzyva", "qux"])
    np.testing.assert_array_equal(got[1:], np.zeros((3, 3)))
    assert vectors.oov == {"zyzzyva": 2, "qux": 1}
    assert vectors.n_lookups == 4


def test_word2vec_and_fasttext_headers_and_trailing_spaces(tmp_path):
    fasttext = VectorFile(_write(tmp_path / "crawl.vec", "2 3\nthe 1 2 3 \n, 4 5 6 \n"))
    np.testing.assert_array_equal(fasttext.vectors([",", "the"]), [[4, 5, 6], [1, 2, 3]])
    short = VectorFile(_write(tmp_path / "short.vec", "3 3\nthe 1 2 3\n"))
    with pytest.raises(VectorFileError, match="announces 3 vectors, the file holds 1"):
        short.vectors(["the"])


@pytest.mark.parametrize("bad_line", ["cat 1 2", "cat 1 two 3"])
def test_a_bad_line_is_an_error_naming_file_and_line(tmp_path, bad_line):
    path = _write(tmp_path / "bad.txt", f"the 1 2 3\ndog 4 5 6\n{bad_line}\n")
    with pytest.raises(VectorFileError, match=f"{path}, line 3"):
        VectorFile(path).vectors(["dog"])


def test_load_word_vectors_picks_the_source_kind(tmp_path):
    assert isinstance(load_word_vectors(str(_write(tmp_path / "g.txt", GLOVE))), VectorFile)
    with pytest.raises(FileNotFoundError, match="missing.vec"):
        load_word_vectors(str(tmp_path / "missing.vec"))
    (tmp_path / "w2v.bin").write_bytes(b"\x00\x01")
    with pytest.raises(ValueError, match="text file"):
        load_word_vectors(str(tmp_path / "w2v.bin"))
    assert isinstance(load_word_vectors(DEFAULT_TEXT_MODEL), TransformerTokenEmbeddings)


def test_transformer_word_vector_is_the_mean_of_its_word_piece_rows():
    folder, _ = resolve_text_model(DEFAULT_TEXT_MODEL)
    table = load_file(f"{folder}/model.safetensors")["embeddings.word_embeddings.weight"]  # read directly
    tokenizer = AutoTokenizer.from_pretrained(folder)
    pieces = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("heartbroken"))
    assert len(pieces) > 1
    embeddings = TransformerTokenEmbeddings()
    got = embeddings.vectors(["heartbroken", "the"])
    assert embeddings.dim == 384 and got.shape == (2, 384)
    np.testing.assert_allclose(got[0], table[pieces].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(got[1], table[tokenizer.convert_tokens_to_ids("the")], rtol=1e-6)


def test_sequences_keep_their_length_and_are_cached(tmp_path):
    source = str(_write(tmp_path / "glove.txt", GLOVE))
    texts = ["Hello, world!", "[LAUGHTER]", "", "the " * 10 + "hello"]
    table = pd.DataFrame({"utt_id": ["a", "b", "c", "d"], "text": texts})
    cache, calls = FeatureCache(tmp_path / "cache"), []
    cold = extract(table, CountingExtractor(WordSequenceExtractor(source, max_words=4), calls), cache, progress=False)
    np.testing.assert_array_equal(cold["a"], [[4, 5, 6], [0, 0, 1]])
    for empty in ("b", "c"):  # no words: one zero row
        np.testing.assert_array_equal(cold[empty], np.zeros((1, 3)))
    assert cold["d"].shape == (4, 3)
    warm = extract(table, CountingExtractor(WordSequenceExtractor(source, max_words=4), calls), cache, progress=False)
    assert calls == [4] and all(np.array_equal(cold[u], warm[u]) for u in cold)
    extract(table, CountingExtractor(WordSequenceExtractor(source, max_words=5), calls), cache, progress=False)
    assert calls == [4, 4]  # another max_words is another cache key


def test_settings_identify_the_vectors_without_loading_them(tmp_path):
    first = WordSequenceExtractor(str(_write(tmp_path / "a.txt", GLOVE)))
    moved = WordSequenceExtractor(str(_write(tmp_path / "b.txt", GLOVE)))
    edited = WordSequenceExtractor(str(_write(tmp_path / "c.txt", GLOVE.replace("0.3", "0.4"))))
    assert first.settings() == moved.settings() != edited.settings()
    assert "_index_and_matrix" not in vars(first.word_vectors)
    with pytest.raises(ValueError, match="max_words"):
        WordSequenceExtractor(max_words=0)
