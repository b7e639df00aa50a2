"""Speech synthesis with eSpeak NG through ctypes (library and voices from ``espeakng-loader``).

Used by the demo corpus.  Besides the waveform, eSpeak reports where each word and phoneme
starts; :meth:`Synthesiser.synthesise` turns those events into word and phone segments, from
which the demo corpus writes IEMOCAP-style ``ForcedAlignment`` files.

Determinism: eSpeak's voice variants add pitch "flutter" from a counter that carries over from
one utterance to the next, "roughness" noise and an echo whose buffer outlives the utterance, so
the same call gives different audio.  The synthesiser therefore runs on a private copy of the
voice variants with all three off (the rest of the data is linked, not copied) and reseeds
eSpeak's random generator before each utterance.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# speak_lib.h constants.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_PHONEME = 0, 1, 7
_PARAMETERS = {"rate": 1, "volume": 2, "pitch": 3, "range": 4}

#: eSpeak English phoneme mnemonic (stress marks removed) -> CMU/ARPAbet phones.
_ARPABET = {
    "a": "AE", "a#": "AH", "aa": "AA", "A:": "AA", "A@": "AA R", "A": "AA", "aI": "AY",
    "aI@": "AY ER", "aI3": "AY ER", "aU": "AW", "aU@": "AW ER", "@": "AH", "@2": "AH", "@5": "AH",
    "@L": "AH L", "@-": "AH", "3": "ER", "3:": "ER", "e": "EH", "E": "EH", "E2": "EH", "e@": "EH R",
    "eI": "EY", "i": "IY", "i:": "IY", "i@": "IY ER", "i@3": "IY ER", "I": "IH", "I#": "IH",
    "I2": "IH", "0": "AA", "O": "AO", "O:": "AO", "O@": "AO R", "o@": "AO R", "oU": "OW",
    "OI": "OY", "u": "UW", "u:": "UW", "U": "UH", "U@": "UH R", "V": "AH", "b": "B", "d": "D",
    "d#": "D", "D": "DH", "dZ": "JH", "f": "F", "g": "G", "h": "HH", "j": "Y", "k": "K", "l": "L",
    "m": "M", "n": "N", "n-": "N", "N": "NG", "p": "P", "r": "R", "r-": "R", "s": "S", "S": "SH",
    "t": "T", "t#": "T", "T": "TH", "tS": "CH", "v": "V", "w": "W", "z": "Z", "Z": "ZH",
    "?": "T", "x": "K", "l/": "L", "l#": "L", "n#": "N", "m#": "M", "t2": "T", "z#": "Z",
    "IR": "IH R", "O2": "AO", "VR": "AH R", "aI2": "AY", "t[": "T", "w#": "W",
}
_MODIFIERS = (";",)  # palatalisation marks: no sound of their own
_PAUSES = ("_", "_:", "_!", "_^_", "_|", "||", "|")


@dataclass(frozen=True)
class Segment:
    """A labelled stretch of audio, in seconds from the start of the waveform."""

    label: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Speech:
    """A synthesised utterance: mono float32 samples and its word and phone segments."""

    samples: np.ndarray
    sample_rate_hz: int
    words: tuple
    phones: tuple


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int), ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


def _steady_data_dir(real: Path) -> Path:
    """A temporary eSpeak data folder whose voice variants have no flutter, roughness or echo."""
    folder = Path(tempfile.mkdtemp(prefix="sertext-espeak-"))
    data = folder / "espeak-ng-data"
    data.mkdir()
    for entry in real.iterdir():
        if entry.name != "voices":
            os.symlink(entry, data / entry.name)
    variants = data / "voices" / "!v"
    variants.mkdir(parents=True)
    for variant in (real / "voices" / "!v").iterdir():
        text = re.sub(r"(?m)^\s*(flutter|roughness|echo)\b.*$", "", variant.read_text(errors="replace"))
        (variants / variant.name).write_text(text + "\nflutter 0\nroughness 0\necho 0 0\n")
    return folder


@functools.cache
def synthesiser() -> Synthesiser:
    """The process's eSpeak engine.

    eSpeak keeps global state and does not fully reset it when initialised again (a second
    engine in one process gives different audio), so every caller shares this one.
    """
    return Synthesiser()


class Synthesiser:
    """An eSpeak NG engine; use :func:`synthesiser` rather than creating one."""

    def __init__(self) -> None:
        import espeakng_loader

        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        folder = _steady_data_dir(Path(espeakng_loader.get_data_path()))
        weakref.finalize(self, shutil.rmtree, folder, True)
        self.sample_rate_hz = self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, str(folder / "espeak-ng-data").encode(),
            _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT,
        )
        if self.sample_rate_hz <= 0:
            raise RuntimeError("eSpeak NG failed to initialise (espeakng-loader data missing?)")
        self._chunks: list = []
        self._events: list = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: eSpeak calls it later
        self._lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, n_samples, events) -> int:
        if n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            name = bytes(event.id).split(b"\0")[0].decode("ascii", "replace")
            self._events.append((event.type, event.text_position, event.length,
                                 event.audio_position / 1000.0, name))
            i += 1
        return 0

    def synthesise(self, text: str, *, voice: str, rate: int, volume: int, pitch: int,
                   pitch_range: int, seed: int = 0) -> Speech:
        """Speak ``text`` with an eSpeak voice (e.g. ``"en-us+f3"``) and prosody settings.

        The same arguments always give the same samples.

        Args:
            seed: seed of eSpeak's breath noise.
            rate: words per minute (eSpeak: 80–450, default 175).
            volume: amplitude (0–200, default 100).
            pitch: base pitch (0–100, default 50).
            pitch_range: pitch range (0–100, default 50).
        """
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"eSpeak NG has no voice {voice!r}")
        settings = {"rate": rate, "volume": volume, "pitch": pitch, "range": pitch_range}
        for name, value in settings.items():
            self._lib.espeak_SetParameter(_PARAMETERS[name], int(value), 0)
        self._chunks, self._events = [], []
        self._lib.espeak_ng_SetRandSeed(int(seed))
        encoded = text.encode("utf-8")
        self._lib.espeak_Synth(encoded, len(encoded) + 1, 0, 0, 0, _CHARS_UTF8, None, None)
        self._lib.espeak_Synchronize()
        samples = (np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16))
        samples = samples.astype(np.float32) / 32768.0
        duration_s = len(samples) / self.sample_rate_hz
        words, phones = _segments(text, self._events, duration_s)
        return Speech(samples, self.sample_rate_hz, words, phones)


def _segments(text: str, events: list, duration_s: float) -> tuple[tuple, tuple]:
    """Word and phone segments from eSpeak's event list (each ends where the next unit starts).

    eSpeak reports some short words together with their neighbour ("in the" is one unit); such
    a unit's time is shared among its words in proportion to their length.
    """
    encoded = text.encode("utf-8")
    phone_starts = [(e[3], e[4]) for e in events if e[0] == _EVENT_PHONEME]
    boundaries = sorted({start for start, _ in phone_starts} | {duration_s})
    phones = []
    for start, name in phone_starts:
        end = next((b for b in boundaries if b > start), duration_s)
        if end > start:
            phones.extend(_split_phone(name, start, end))
    pauses = [s for s, n in phone_starts if n.strip("'`,") in _PAUSES]
    units = [(e[1], e[3]) for e in events if e[0] == _EVENT_WORD]
    words = []
    for i, (position, start) in enumerate(units):
        next_position, next_start = units[i + 1] if i + 1 < len(units) else (len(encoded) + 1, duration_s)
        end = min([p for p in pauses if p > start][:1] + [next_start])
        chunk = encoded[position - 1:next_position - 1].decode("utf-8", "replace")
        tokens = re.findall(r"[\w']+", chunk)
        if end <= start or not tokens:
            continue
        step = (end - start) / sum(len(t) for t in tokens)
        cursor = start
        for token in tokens:
            words.append(Segment(token, cursor, cursor + step * len(token)))
            cursor += step * len(token)
    return tuple(words), tuple(phones)


def _split_phone(name: str, start: float, end: float) -> list:
    """ARPAbet segments for one eSpeak phoneme (diphthong + r splits its time evenly)."""
    bare = name.strip("'`,")
    if bare in _MODIFIERS:
        return []
    if bare in _PAUSES or not bare:
        return [Segment("SIL", start, end)]
    arpabet = _ARPABET.get(bare) or _ARPABET.get(bare.rstrip("#0123456789"))
    if arpabet is None:
        raise KeyError(f"no ARPAbet mapping for eSpeak phoneme {name!r}")
    parts = arpabet.split()
    step = (end - start) / len(parts)
    return [Segment(p, start + i * step, start + (i + 1) * step) for i, p in enumerate(parts)]
