"""Word vectors for text models that read a transcript word by word (Atmaja & Akagi's text input).

Two sources of vectors, behind one small interface (:class:`WordVectors`):

* :class:`VectorFile`: a GloVe, word2vec (text format) or fastText ``.vec`` file, the paper's
  GloVe / word2vec / FastText variants.  Out-of-vocabulary words get zeros (counted).
* :class:`TransformerTokenEmbeddings`: a transformer's input word-piece embedding table, a word's
  vector being the mean of its pieces' rows (the paper's "BERT" variant used bert-base-uncased's
  table; the offline default is all-MiniLM-L6-v2's, 384-d).

:class:`WordSequenceExtractor` turns each transcript into a ``(n_words, dim)`` sequence for the
shared feature cache.  Departures from the paper's Keras pipeline:

* The paper indexes words with a Keras ``Tokenizer`` and fine-tunes the embedding matrix; here the
  vectors are frozen features (the "WE" variant, a randomly initialised trained embedding, is not
  provided).
* The paper pre-pads every transcript to 554 words with zeros and does not mask them; sertext keeps
  each transcript's own length and the model packs the sequences (padding cannot change a result).
* Bracketed non-speech tags such as ``[LAUGHTER]`` are dropped (Keras kept them as the word
  "laughter").  A transcript with no words left (empty, or tags only) gives one zero row, so every
  utterance keeps a defined input.
* Transcripts longer than ``max_words`` keep their first words (Keras' ``pad_sequences`` keeps the
  last ones; at 554 no IEMOCAP transcript is cut either way).
* word2vec's OOV words were drawn from N(0, 0.5²) in the paper's code; here all OOV words are zeros,
  as in its fastText variant.
"""

from __future__ import annotations

import functools
import hashlib
import re
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .text import DEFAULT_TEXT_MODEL, load_text_model, resolve_text_model

VECTOR_FILE_SUFFIXES = (".txt", ".vec")
_TAG_RE = re.compile(r"\[[^\]]*\]")
_NOT_WORD_RE = re.compile(r"[^\w\s']|_")  # punctuation except the apostrophe
_IDENTITY_BYTES = 1 << 20


def transcript_words(text: str) -> list[str]:
    """Words of a transcript: bracketed tags dropped, lower-cased, punctuation except apostrophes removed.

    Examples:
        >>> transcript_words("[LAUGHTER] No, I don't -- well-known.")
        ['no', 'i', "don't", 'well', 'known']
        >>> transcript_words("[BREATHING]")
        []
    """
    cleaned = _NOT_WORD_RE.sub(" ", _TAG_RE.sub(" ", text).lower())
    return [word for word in cleaned.split() if any(c.isalnum() for c in word)]


class WordVectors(ABC):
    """A word → vector lookup with an identity for cache keys."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """The vector size."""

    @abstractmethod
    def vectors(self, words: list[str]) -> np.ndarray:
        """``(len(words), dim)`` float32, one row per word."""

    @abstractmethod
    def settings(self) -> dict:
        """What identifies these vectors (part of the feature cache key); cheap, loads nothing."""


class TransformerTokenEmbeddings(WordVectors):
    """A transformer's input token-embedding table; a word's vector is the mean of its word pieces.

    Args:
        model: a Hugging Face model name or local folder (default: the offline all-MiniLM-L6-v2).
            The table is loaded on first use.
    """

    def __init__(self, model: str = DEFAULT_TEXT_MODEL) -> None:
        self.model = model
        self._identity = resolve_text_model(model)[1]

    @functools.cached_property
    def _tokenizer_and_table(self):
        tokenizer, encoder = load_text_model(self.model)
        table = encoder.get_input_embeddings().weight.detach().float().numpy().copy()  # (vocabulary, dim)
        return tokenizer, table

    @property
    def dim(self) -> int:
        return int(self._tokenizer_and_table[1].shape[1])

    def vectors(self, words: list[str]) -> np.ndarray:
        tokenizer, table = self._tokenizer_and_table
        out = np.zeros((len(words), table.shape[1]), dtype=np.float32)
        if not words:
            return out
        for row, pieces in enumerate(tokenizer(list(words), add_special_tokens=False)["input_ids"]):
            if pieces:  # a word the tokenizer drops entirely stays zero
                out[row] = table[pieces].mean(axis=0)
        return out

    def settings(self) -> dict:
        return {"kind": "transformer-input-embeddings", "model": self._identity}


class VectorFileError(ValueError):
    """A word vector file that cannot be read; the message names the file and line."""


class VectorFile(WordVectors):
    """Vectors from a GloVe / word2vec text / fastText ``.vec`` file, looked up lower-cased.

    The word2vec and fastText header line ``N D`` is optional (GloVe has none); when present, the
    dimension and the number of vectors are checked.  Words may contain spaces (a few GloVe 840B
    entries do): the last ``D`` fields of a line are the vector.  Keys are lower-cased; when a file
    has several cases of a word, the lower-case entry wins, else the first one (files are sorted by
    frequency).  Out-of-vocabulary words get zeros and are counted in :attr:`oov` (per word) and
    :attr:`n_lookups`, over this object's lifetime (cached features are not looked up again).
    Binary word2vec files are not read: convert them to text first (e.g. with gensim).

    The file is read into memory on first use (about 1.2 GB for 1M 300-d vectors).

    Raises:
        FileNotFoundError: the file does not exist.
    """

    def __init__(self, path) -> None:
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_file():
            raise FileNotFoundError(f"word vector file {path} does not exist")
        self.oov: Counter = Counter()
        self.n_lookups = 0

    @functools.cached_property
    def _index_and_matrix(self) -> tuple[dict, np.ndarray]:
        return read_vector_file(self.path)

    @property
    def dim(self) -> int:
        return int(self._index_and_matrix[1].shape[1])

    def vectors(self, words: list[str]) -> np.ndarray:
        index, matrix = self._index_and_matrix
        out = np.zeros((len(words), matrix.shape[1]), dtype=np.float32)
        for row, word in enumerate(words):
            found = index.get(word.lower())
            if found is None:
                self.oov[word.lower()] += 1
            else:
                out[row] = matrix[found]
        self.n_lookups += len(words)
        return out

    def settings(self) -> dict:
        """Identity from the size and the first and last MiB, so moving the file keeps the cache."""
        size = self.path.stat().st_size
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            digest.update(handle.read(_IDENTITY_BYTES))
            handle.seek(max(0, size - _IDENTITY_BYTES))
            digest.update(handle.read(_IDENTITY_BYTES))
        return {"kind": "vector-file", "bytes": size, "sha256_head_tail": digest.hexdigest()[:16], "lowercase": True}


def read_vector_file(path) -> tuple[dict[str, int], np.ndarray]:
    """``({lower-cased word: row}, (rows, dim) float32)`` from a text word-vector file.

    Raises:
        VectorFileError: a line without ``dim`` numbers after the word, a header that does not
            match the file, bytes that are not UTF-8, or no vectors at all (file and line named).
    """
    path = Path(path)
    index: dict[str, int] = {}
    matrix, exact, header, n_vectors = None, None, None, 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            fields = _decode(raw, path, number).rstrip().split(" ")
            if fields == [""]:
                continue  # a blank line holds no vector
            if number == 1 and len(fields) == 2 and all(f.isdigit() for f in fields):
                header = (int(fields[0]), int(fields[1]))  # word2vec / fastText: "N D"
                continue
            if matrix is None:
                capacity = _count_lines(path)
                matrix = np.zeros((capacity, header[1] if header else len(fields) - 1), np.float32)
                exact = np.zeros(capacity, bool)  # whether a row came from an all-lower-case entry
            word, values = _parse_line(fields, matrix.shape[1], path, number)
            n_vectors += 1
            key = word.lower()
            if key not in index:
                index[key] = len(index)
            elif exact[index[key]] or word != key:
                continue  # keep the lower-case entry, else the first (most frequent) case
            matrix[index[key]], exact[index[key]] = values, word == key
    if matrix is None:
        raise VectorFileError(f"{path}: no word vectors found")
    if header is not None and header[0] != n_vectors:
        raise VectorFileError(f"{path}: the header announces {header[0]} vectors, the file holds {n_vectors}")
    return index, matrix[: len(index)]


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            count += block.count(b"\n")
    return count + 1  # a last line without a newline


def _decode(raw: bytes, path: Path, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VectorFileError(f"{path}, line {number}: not UTF-8 text ({exc}); binary word2vec files "
                              f"must be converted to text") from exc


def _parse_line(fields: list[str], dim: int, path: Path, number: int) -> tuple[str, np.ndarray]:
    if len(fields) < dim + 1:
        raise VectorFileError(f"{path}, line {number}: expected a word and {dim} numbers, got {len(fields)} fields")
    try:
        values = np.array(fields[-dim:], dtype=np.float32)
    except ValueError as exc:
        raise VectorFileError(f"{path}, line {number}: {exc}") from exc
    return " ".join(fields[:-dim]), values


def load_word_vectors(source: str) -> WordVectors:
    """A ``.txt`` / ``.vec`` path → :class:`VectorFile`; anything else → :class:`TransformerTokenEmbeddings`
    (a Hugging Face model name or local folder).

    Raises:
        FileNotFoundError: a ``.txt`` / ``.vec`` path that does not exist.
        ValueError: an existing file of another kind (e.g. a binary word2vec ``.bin``).
    """
    path = Path(source).expanduser()
    if path.suffix.lower() in VECTOR_FILE_SUFFIXES:
        return VectorFile(path)
    if path.is_file():
        raise ValueError(f"{source}: word vectors must be a text file ending in {' or '.join(VECTOR_FILE_SUFFIXES)} "
                         f"(GloVe, word2vec text, fastText .vec) or a transformer model name or folder")
    return TransformerTokenEmbeddings(source)


@functools.cache
def _word_vectors(source: str) -> WordVectors:
    return load_word_vectors(source)


@dataclass(frozen=True)
class WordSequenceExtractor:
    """The transcript's word vectors, ``(n_words, dim)`` float32 with ``1 <= n_words <= max_words``.

    Args:
        source: a word vector file (``.txt`` / ``.vec``) or a transformer name or folder.
        max_words: longest sequence kept (the paper's 554, its longest IEMOCAP transcript).
    """

    source: str = DEFAULT_TEXT_MODEL
    max_words: int = 554
    batch_size: int = 64
    name: str = field(default="words", init=False)

    def __post_init__(self) -> None:
        if self.max_words < 1:
            raise ValueError(f"max_words must be at least 1, got {self.max_words}")

    @property
    def word_vectors(self) -> WordVectors:
        """The (process-wide shared) vectors of :attr:`source`."""
        return _word_vectors(self.source)

    def settings(self) -> dict:
        return {"vectors": self.word_vectors.settings(), "max_words": self.max_words}

    def content(self, row) -> bytes:
        return str(row.text).encode("utf-8")

    def compute(self, rows: list, contents: list[bytes]) -> list[np.ndarray]:
        word_lists = [transcript_words(c.decode("utf-8"))[: self.max_words] for c in contents]
        vectors = self.word_vectors.vectors([w for words in word_lists for w in words])
        out, start = [], 0
        for words in word_lists:
            sequence = vectors[start:start + len(words)]
            start += len(words)
            out.append(sequence if len(words) else np.zeros((1, vectors.shape[1]), np.float32))
        return out
