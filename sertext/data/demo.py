"""The synthetic demo corpus: real speech (eSpeak NG) in the IEMOCAP_full_release format.

Ten synthetic actors (one F and one M per session, each with its own eSpeak voice and pitch,
rate and loudness offsets) perform improvised and scripted dialogs; scripts are reused across
sessions as in IEMOCAP.  Emotion is split across the two streams on purpose:

* **prosody** (speaking rate, loudness, pitch level and range) carries mostly *arousal*:
  angry/happy/excited are fast, loud and high, sad is slow, quiet and low, neutral in between;
* **words** carry mostly *valence*: happy utterances use positive words, angry and sad ones
  negative words (with only a weak lean between the two), neutral ones neutral content.

Neither stream alone separates the four classes (audio confuses angry with happy, text angry
with sad), and neutral-content sentences, per-utterance prosody jitter and simulated rater
disagreement (which yields ``xxx``, ``fru`` and mislabelled utterances) add noise, so fusion helps,
as in the papers.  Header V/A/D values are means of simulated raters on the 1–5 scale.

Written files: ``SessionN/dialog/EmoEvaluation/<dialog>.txt``,
``SessionN/dialog/transcriptions/<dialog>.txt``, ``SessionN/sentences/wav/<dialog>/<utt>.wav``
(16 kHz, 16-bit), ``SessionN/sentences/ForcedAlignment/<dialog>/<utt>.{wdseg,phseg}`` (word and
phone segments from the synthesiser), ``EMOTyDA/iemocap_session{N}.csv`` (dialogue acts) and
``sertext-demo.json`` (the settings).  Format quirks included: ``xxx`` and ``fru`` labels,
multi-category ``C-`` lines, ``dom  N`` double spaces, a tag-only ``[LAUGHTER]`` utterance, ``XX``
transcript lines, the dialog names ``Ses03M_impro05a`` and ``Ses05M_script01_1b``, and dialogue
acts missing for part of sessions 2–4.  Not written: dialog-level wavs, video and motion capture.

**IEMOCAP shape** (``scale="iemocap"``, ``sertext demo-corpus --scale iemocap``), for scale runs and
benchmarks: the same actors, voices, words and file formats at IEMOCAP_full_release's size and
shape.  10,039 utterances (or IEMOCAP's shape scaled to ``utterances`` by largest remainder) in
IEMOCAP's 151 dialogs (28, 30, 32, 30 and 31 per session: eight improvisations per actor, none
``impro08`` in session 1, and seven script takes, with ``Ses03M_impro05a/b``,
``Ses03M_impro08a/b`` and ``Ses05M_script01_1b``); exactly IEMOCAP's header codes per session;
about its gender (52 % male turns) and scripted/improvised split; turns of one or more sentences,
4.5 s on average (12.5 h).  It is planned first, in pure Python (:func:`plan_iemocap_shape`):
each turn draws its header code from what is left of its session's codes, weighted by its
dialog's scenario, so improvisations keep their flavour and the counts come out exact; the
intended emotion is the code (for ``xxx`` one drawn from the scenario), and the simulated raters
are drawn until their majority is the code, so the ``C-`` lines agree with the header.  Then the
dialogs are synthesised in parallel, one worker process per core, each dialog with its own
random stream seeded by the seed and its name: the files do not depend on the number of workers.
The default corpus does not use any of this; its files are unchanged.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly
from tqdm import tqdm

from .espeak import Segment, Synthesiser, synthesiser

DEMO_VERSION = 1
DEFAULT_UTTERANCES = 600
SAMPLE_RATE_HZ = 16_000
FRAME_S = 0.01  # ForcedAlignment frames are 10 ms

# --- the actors ---------------------------------------------------------------------------------
#: (voice, base pitch) per session and gender: distinct eSpeak accents and variants.
_VOICES = {
    1: {"F": ("en-us+f1", 68), "M": ("en-us+m1", 38)},
    2: {"F": ("en+f2", 62), "M": ("en+m3", 32)},
    3: {"F": ("en-us-nyc+f3", 72), "M": ("en-gb-x-gbclan+m2", 42)},
    4: {"F": ("en-029+f4", 58), "M": ("en-029+m4", 30)},
    5: {"F": ("en-gb-x-rp+f5", 65), "M": ("en-gb-x-rp+m6", 36)},
}

# --- the emotions -------------------------------------------------------------------------------
#: Prosody offsets per intended emotion: (rate wpm, volume, pitch, pitch range).  Mostly arousal.
_PROSODY = {
    "neu": (0, 0, 0, 0), "hap": (32, 38, 9, 18), "exc": (40, 44, 11, 22), "ang": (36, 42, 8, 16),
    "sad": (-45, -35, -10, -25), "fru": (12, 18, 2, 4), "sur": (30, 30, 15, 32),
    "fea": (20, -5, 12, 10), "dis": (-10, 10, -4, 0), "oth": (0, 5, 2, 5),
}
_JITTER = (24, 18, 6, 12)  # per-utterance standard deviation of each prosody setting

#: Latent (valence, arousal, dominance) per intended emotion, 1–5 scale.
_VAD = {
    "neu": (3.0, 2.4, 2.8), "hap": (4.1, 3.3, 3.2), "exc": (4.2, 3.9, 3.5), "sad": (1.9, 1.9, 2.1),
    "ang": (1.7, 4.1, 4.0), "fru": (2.0, 3.2, 3.3), "sur": (3.5, 3.9, 3.0), "fea": (1.8, 3.6, 2.0),
    "dis": (1.8, 3.1, 3.3), "oth": (3.0, 3.0, 3.0),
}
_CATEGORY_NAMES = {
    "neu": "Neutral", "hap": "Happiness", "exc": "Excited", "sad": "Sadness", "ang": "Anger",
    "fru": "Frustration", "sur": "Surprise", "fea": "Fear", "dis": "Disgust", "oth": "Other",
}
_CODES = {name: code for code, name in _CATEGORY_NAMES.items()}
#: What a rater who misperceives an emotion says instead.
_CONFUSIONS = {
    "neu": ("fru", "sad", "hap"), "hap": ("exc", "neu"), "exc": ("hap", "sur"),
    "sad": ("neu", "fru"), "ang": ("fru", "neu"), "fru": ("ang", "neu"), "sur": ("exc", "hap"),
    "fea": ("sad", "sur"), "dis": ("ang", "fru"), "oth": ("neu",),
}
_RATER_ACCURACY = 0.75
_RATING_TRIES = 1000  # rater draws per utterance to reach a planned header code (each hits >= 11 %)

#: Words: the valence class of the text given the intended emotion (improvised dialogs).
_TEXT_GIVEN_EMOTION = {
    "neu": {"neutral": 0.74, "positive": 0.1, "angry": 0.08, "sad": 0.08},
    "hap": {"positive": 0.78, "neutral": 0.18, "sad": 0.04},
    "exc": {"positive": 0.78, "neutral": 0.18, "angry": 0.04},
    "ang": {"angry": 0.48, "sad": 0.3, "neutral": 0.18, "positive": 0.04},
    "sad": {"sad": 0.48, "angry": 0.3, "neutral": 0.18, "positive": 0.04},
    "fru": {"angry": 0.4, "neutral": 0.5, "sad": 0.1},
    "sur": {"positive": 0.4, "neutral": 0.6}, "fea": {"sad": 0.5, "neutral": 0.5},
    "dis": {"angry": 0.5, "neutral": 0.5}, "oth": {"neutral": 1.0},
}
#: The intended emotion given a scripted line's valence class (the actor chooses the arousal).
_EMOTION_GIVEN_TEXT = {
    "positive": {"hap": 0.45, "exc": 0.45, "neu": 0.1},
    "angry": {"ang": 0.55, "fru": 0.25, "sad": 0.15, "neu": 0.05},
    "sad": {"sad": 0.55, "ang": 0.2, "fru": 0.1, "neu": 0.15},
    "neutral": {"neu": 0.7, "fru": 0.1, "sad": 0.1, "hap": 0.1},
}

# --- the dialogs --------------------------------------------------------------------------------
#: Improvised scenarios: relative weights of intended emotions.
_SCENARIOS = {
    "impro01": {"neu": 4, "ang": 3, "fru": 2, "hap": 1, "sad": 1},  # paperwork at an office
    "impro02": {"sad": 4, "neu": 3, "ang": 1, "hap": 1, "fea": 0.3},  # a loss
    "impro03": {"hap": 3, "exc": 3, "neu": 2, "sur": 0.5, "sad": 1, "ang": 1},  # good news
    "impro05": {"neu": 2, "ang": 2, "sad": 2, "hap": 1, "exc": 1, "dis": 0.3, "oth": 0.2},
    # Only in the IEMOCAP-shaped corpus (scale="iemocap"):
    "impro04": {"fru": 4, "neu": 3, "ang": 2, "sad": 1, "hap": 0.5},  # a rejected application
    "impro06": {"sad": 5, "neu": 3, "fru": 1, "fea": 0.5, "hap": 0.5},  # a friend's death
    "impro07": {"exc": 4, "hap": 3, "neu": 2, "sur": 1, "fru": 0.5},  # accepted at a university
    "impro08": {"fru": 4, "ang": 3, "neu": 3, "sad": 1, "sur": 0.3},  # lost baggage at an airport
}
#: Scripts, shared by every session: their lines' valence classes.
_SCRIPTS = {
    "script01": {"angry": 0.35, "sad": 0.3, "neutral": 0.3, "positive": 0.05},  # a quarrel
    "script02": {"positive": 0.55, "neutral": 0.3, "sad": 0.15},  # a reunion
    "script03": {"angry": 0.3, "positive": 0.3, "neutral": 0.3, "sad": 0.1},  # a fight, then making up
}
_SCRIPT_LINES = 40  # lines per script (dialogs use a prefix of them)


def _kind(dialog: str) -> str:
    """The scenario or script a dialog performs: ``Ses03M_impro05a`` -> ``impro05``."""
    return dialog.split("_")[1].rstrip("ab")


def _dialogs(session: int) -> list[str]:
    """The dialogs of one session, with IEMOCAP's unusual names where they occur."""
    names = [f"Ses{session:02d}F_impro01", f"Ses{session:02d}M_impro01", f"Ses{session:02d}F_impro02",
             f"Ses{session:02d}M_impro03", f"Ses{session:02d}F_script01_1", f"Ses{session:02d}M_script02_1"]
    if session == 3:
        names[3:4] = ["Ses03M_impro05a", "Ses03M_impro05b"]
    if session == 5:
        names.append("Ses05M_script01_1b")
    return names


# --- the words ----------------------------------------------------------------------------------
_SLOTS = {
    "pos_adj": ["wonderful", "amazing", "fantastic", "great", "lovely", "perfect", "brilliant", "beautiful"],
    "pos_feel": ["happy", "thrilled", "delighted", "glad", "excited", "grateful", "proud"],
    "pos_event": ["won the prize", "got the job", "are getting married", "passed the exam",
                  "found a house", "are going on holiday"],
    "pos_verb": ["love", "adore", "really enjoy", "like"],
    "ang_adj": ["ridiculous", "unfair", "outrageous", "unacceptable", "stupid", "absurd"],
    "ang_verb": ["hate", "can't stand", "am fed up with", "despise"],
    "ang_event": ["lied to me again", "ruined everything", "broke your promise", "wasted my time",
                  "ignored me"],
    "sad_adj": ["empty", "hopeless", "lonely", "grey", "pointless"],
    "sad_feel": ["lonely", "lost", "hopeless", "heartbroken", "miserable", "tired"],
    "sad_event": ["funeral", "accident", "breakup", "divorce", "hospital visit"],
    "neg_thing": ["mess", "lies", "excuses", "attitude", "shouting"],
    "thing": ["car", "house", "report", "meeting", "letter", "phone", "dinner", "job", "garden"],
    "doc": ["form", "application", "receipt", "license", "ticket", "document"],
    "place": ["counter", "second floor", "office", "table", "station", "front desk"],
    "time": ["three o'clock", "noon", "nine thirty", "half past four", "Monday morning"],
    "vehicle": ["bus", "train", "early flight", "ferry"],
}
#: (dialogue act, template) per valence class of the text.
_TEMPLATES = {
    "positive": [
        ("s", "I got the {thing} today, it is {pos_adj}."), ("o", "I think the {thing} is {pos_adj}."),
        ("q", "Isn't it {pos_adj} that we {pos_event}?"), ("s", "We {pos_event} and I am so {pos_feel}."),
        ("ag", "Yes, that sounds {pos_adj}!"), ("o", "I {pos_verb} the {thing} so much."),
        ("s", "I am {pos_feel}, everything is {pos_adj}."),
    ],
    "angry": [
        ("o", "This is {ang_adj}, you {ang_event}."), ("dag", "No, I am sick of your {neg_thing}!"),
        ("q", "Why do you always bring your {neg_thing} here?"), ("c", "Stop the {neg_thing} right now."),
        ("s", "I {ang_verb} this {thing}."), ("o", "It is {ang_adj} and I {ang_verb} it."),
        ("dag", "No, you {ang_event} and it is {ang_adj}."),
    ],
    "sad": [
        ("s", "I miss the old {thing} so much."), ("s", "Everything feels {sad_adj} since the {sad_event}."),
        ("o", "I feel so {sad_feel} without you."), ("q", "Why did the {sad_event} have to happen?"),
        ("ap", "I'm sorry, I just can't stop crying."), ("s", "I am {sad_feel} and the house is {sad_adj}."),
        ("o", "Nothing matters since the {sad_event}, it is {ang_adj}."),
    ],
    "neutral": [
        ("s", "The {thing} is on the {place}."), ("q", "Do you have the {doc}?"),
        ("c", "Please fill out the {doc} and take it to the {place}."),
        ("s", "I will take the {vehicle} at {time}."), ("ans", "It is at {time}, next to the {place}."),
        ("q", "Where is the {place}?"), ("b", "Okay."), ("a", "Right, I see."),
        ("g", "Hello, how are you?"), ("ans", "The {doc} is in the {thing}."),
    ],
}


@dataclass(frozen=True)
class _Line:
    text: str
    act: str
    valence: str


def _sentence(valence: str, rng: np.random.Generator) -> _Line:
    act, template = _TEMPLATES[valence][rng.integers(len(_TEMPLATES[valence]))]
    slots = {name: words[rng.integers(len(words))] for name, words in _SLOTS.items()}
    return _Line(template.format(**slots), act, valence)


def _choice(weights: dict, rng: np.random.Generator) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[rng.choice(len(keys), p=p / p.sum())]


@functools.cache
def _script(name: str, n_lines: int = _SCRIPT_LINES) -> tuple[_Line, ...]:
    """A script's lines: fixed by its name alone, so every session and seed performs the same
    (a longer script starts with the lines of a shorter one)."""
    rng = np.random.default_rng(int.from_bytes(name.encode(), "big") % 2**32)
    return tuple(_sentence(_choice(_SCRIPTS[name], rng), rng) for _ in range(n_lines))


# --- one utterance ------------------------------------------------------------------------------
@dataclass
class _Utterance:
    utt_id: str
    line: _Line
    emotion: str  # intended
    speaker: dict
    spoken_text: str = ""
    code: str | None = None  # the planned header code (IEMOCAP shape); None: the raters decide


def _ratings(emotion: str, gender: str, rng: np.random.Generator) -> dict:
    """Simulated raters: three external categorical raters, two external attribute raters and
    the actor's self-evaluation; the header code is the majority category or ``xxx``."""
    categorical = []
    for rater in rng.choice(["E1", "E2", "E3", "E4"], size=3, replace=False):
        perceived = emotion if rng.random() < _RATER_ACCURACY else _CONFUSIONS[emotion][
            rng.integers(len(_CONFUSIONS[emotion]))]
        chosen = [perceived]
        if rng.random() < 0.15:  # one rater may give several categories
            extra = _CONFUSIONS[perceived][rng.integers(len(_CONFUSIONS[perceived]))]
            if extra not in chosen:
                chosen.append(extra)
        categorical.append((str(rater), chosen))
    counts: dict = {}
    for _, chosen in categorical:
        for code in chosen:
            counts[code] = counts.get(code, 0) + 1
    best = max(counts.values())
    winners = [c for c, n in counts.items() if n == best]
    code = winners[0] if best >= 2 and len(winners) == 1 else "xxx"
    latent = np.array(_VAD[emotion]) + rng.normal(0, 0.35, size=3)
    attribute = [(str(r), np.clip(np.rint(latent + rng.normal(0, 0.6, size=3)), 1, 5).astype(int))
                 for r in sorted(rng.choice(["E1", "E2", "E3", "E4"], size=2, replace=False))]
    mean = np.mean([values for _, values in attribute], axis=0)
    self_values = np.clip(np.rint(latent), 1, 5).astype(int)
    return {"code": code, "categorical": categorical, "attribute": attribute, "vad": mean,
            "self": (f"{gender}1", [emotion], self_values)}


def _rate(utterance: _Utterance, gender: str, rng: np.random.Generator) -> dict:
    """The utterance's ratings; with a planned header code, raters are drawn again until their
    majority is that code, so that the ``C-`` lines agree with the header."""
    for _ in range(_RATING_TRIES):
        ratings = _ratings(utterance.emotion, gender, rng)
        if utterance.code in (None, ratings["code"]):
            return ratings
    raise RuntimeError(f"{utterance.utt_id}: simulated raters of intended {utterance.emotion!r} gave no "
                       f"majority {utterance.code!r} in {_RATING_TRIES} tries")


def _synthesise(utterance: _Utterance, synth: Synthesiser, rng: np.random.Generator):
    """Waveform at 16 kHz with silence around it, and word/phone segments shifted to match."""
    speaker = utterance.speaker
    offsets = np.array(_PROSODY[utterance.emotion]) * speaker["expressiveness"]
    settings = np.array([speaker["rate"], speaker["volume"], speaker["pitch"], speaker["range"]])
    rate, volume, pitch, pitch_range = settings + offsets + rng.normal(0, _JITTER)
    speech = synth.synthesise(
        utterance.spoken_text, voice=speaker["voice"], rate=int(np.clip(rate, 90, 400)),
        volume=int(np.clip(volume, 20, 200)), pitch=int(np.clip(pitch, 0, 99)),
        pitch_range=int(np.clip(pitch_range, 0, 99)), seed=int(rng.integers(2**31)),
    )
    divisor = np.gcd(speech.sample_rate_hz, SAMPLE_RATE_HZ)
    audio = resample_poly(speech.samples, SAMPLE_RATE_HZ // divisor, speech.sample_rate_hz // divisor)
    lead_s, tail_s = rng.uniform(0.15, 0.4), rng.uniform(0.15, 0.4)
    audio = np.concatenate([np.zeros(int(lead_s * SAMPLE_RATE_HZ)), audio,
                            np.zeros(int(tail_s * SAMPLE_RATE_HZ))])
    audio = audio * speaker["gain"] + rng.normal(0, 10 ** (-58 / 20), size=audio.shape)
    audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
    shift = lambda segs: [Segment(s.label, s.start_s + lead_s, s.end_s + lead_s) for s in segs]  # noqa: E731
    return audio, shift(speech.words), shift(speech.phones)


# --- file formats -------------------------------------------------------------------------------
def _header_line(start_s: float, end_s: float, utt_id: str, code: str, vad) -> str:
    v, a, d = vad
    return f"[{start_s:.4f} - {end_s:.4f}]\t{utt_id}\t{code}\t[{v:.4f}, {a:.4f}, {d:.4f}]"


def _emo_block(utt_id: str, start_s: float, end_s: float, ratings: dict) -> list[str]:
    lines = [_header_line(start_s, end_s, utt_id, ratings["code"], ratings["vad"])]
    self_rater, self_codes, self_values = ratings["self"]
    for rater, codes in sorted(ratings["categorical"]) + [(self_rater, self_codes)]:
        names = "; ".join(_CATEGORY_NAMES[c] for c in codes)
        lines.append(f"C-{rater}:\t{names};\t()")
    for rater, (v, a, d) in ratings["attribute"] + [(self_rater, self_values)]:
        lines.append(f"A-{rater}:\tval {v}; act {a}; dom  {d};\t()")
    return lines


def _segment_lines(segments: list, duration_s: float, header: str, labels: list[str]) -> str:
    rows = [f" SFrm  EFrm    SegAScr {header}"]
    total = 0
    last_frame = max(int(round(duration_s / FRAME_S)) - 1, 0)
    for segment, label in zip(segments, labels, strict=True):
        start = int(round(segment.start_s / FRAME_S))
        end = min(max(int(round(segment.end_s / FRAME_S)) - 1, start), last_frame)
        score = -4000 * (end - start + 1) - 1000
        total += score
        rows.append(f"{start:>5} {end:>5} {score:>10} {label}")
    rows.append(f" Total score: {total}")
    return "\n".join(rows) + "\n"


def _with_silences(segments: list, duration_s: float, silence: str, first: str, last: str) -> list:
    """Fill the gaps around and between segments with silence labels, as Sphinx alignments do."""
    filled, cursor = [], 0.0
    for segment in segments:
        if segment.start_s - cursor >= FRAME_S:
            filled.append(Segment(first if not filled else silence, cursor, segment.start_s))
        filled.append(segment)
        cursor = segment.end_s
    filled.append(Segment(last, cursor, max(duration_s, cursor + FRAME_S)))
    return filled


def _word_alignment(words: list, duration_s: float, tag: str | None) -> str:
    if tag is not None:  # a tag-only utterance: the aligner sees one filler word
        speech = [Segment(f"++{tag}++", words[0].start_s, words[-1].end_s)] if words else []
    else:
        speech = [Segment("".join(ch for ch in w.label.upper() if ch.isalnum() or ch == "'"),
                          w.start_s, w.end_s) for w in words]
    segments = _with_silences(speech, duration_s, "<sil>", "<s>", "</s>")
    return _segment_lines(segments, duration_s, "Word", [s.label for s in segments])


def _phone_alignment(phones: list, words: list, duration_s: float) -> str:
    speech = [p for p in phones if p.label != "SIL"]
    segments = _with_silences(speech, duration_s, "SIL", "SIL", "SIL")
    positions = _positions(speech, words)
    labels = []
    for i, seg in enumerate(segments):
        if seg.label == "SIL":
            labels.append("SIL")
            continue
        left = segments[i - 1].label if i > 0 else "SIL"
        right = segments[i + 1].label if i + 1 < len(segments) else "SIL"
        labels.append(f"{seg.label}({left},{right}) {positions[seg]}")
    return _segment_lines(segments, duration_s, "Phone", labels)


def _positions(phones: list, words: list) -> dict:
    """Sphinx word-position code per phone: b(egin), i(nternal), e(nd) or s(ingle)."""
    groups: dict = {}
    for phone in phones:
        word = next((i for i, w in enumerate(words) if w.start_s - 1e-3 <= phone.start_s < w.end_s), None)
        groups.setdefault(word, []).append(phone)
    positions = {}
    for members in groups.values():
        for i, phone in enumerate(members):
            last = i == len(members) - 1
            positions[phone] = "s" if len(members) == 1 else "b" if i == 0 else "e" if last else "i"
    return positions


# --- the corpus ---------------------------------------------------------------------------------
def _actors(rng: np.random.Generator) -> dict:
    actors = {}
    for session, voices in _VOICES.items():
        for gender, (voice, pitch) in voices.items():
            actors[(session, gender)] = {
                "voice": voice, "pitch": pitch + rng.uniform(-4, 4), "rate": rng.uniform(150, 185),
                "volume": rng.uniform(85, 115), "range": rng.uniform(40, 60),
                "expressiveness": rng.uniform(0.8, 1.2), "gain": 10 ** (rng.uniform(-4, 2) / 20),
            }
    return actors


def _plan_dialog(dialog: str, n_turns: int, actors: dict, rng: np.random.Generator) -> list[_Utterance]:
    session = int(dialog[3:5])
    kind = _kind(dialog)
    script = _script(kind) if kind.startswith("script") else None
    counters = {"F": 0, "M": 0}
    gender = "F" if rng.random() < 0.5 else "M"
    utterances = []
    for turn in range(n_turns):
        if script is not None:
            line = script[turn % len(script)]
            emotion = _choice(_EMOTION_GIVEN_TEXT[line.valence], rng)
        else:
            emotion = _choice(_SCENARIOS[kind], rng)
            line = _sentence(_choice(_TEXT_GIVEN_EMOTION[emotion], rng), rng)
        utt_id = f"{dialog}_{gender}{counters[gender]:03d}"
        counters[gender] += 1
        utterances.append(_Utterance(utt_id, line, emotion, actors[(session, gender)], line.text))
        gender = "M" if gender == "F" else "F"
    return utterances


def _plan_default(n_utterances: int, rng: np.random.Generator) -> dict:
    """The default corpus's utterances per dialog: the same number in every session."""
    actors = _actors(rng)
    dialogs = {}
    for session in range(1, 6):
        names = _dialogs(session)
        per_dialog = np.diff(np.linspace(0, n_utterances / 5, len(names) + 1).round().astype(int))
        for name, n_turns in zip(names, per_dialog, strict=True):
            dialogs[name] = _plan_dialog(name, int(n_turns), actors, rng)
    laughing = dialogs["Ses01M_impro03"][0]
    laughing.emotion = "hap"
    _add_tag_utterances(dialogs, laughing)
    return dialogs


def _add_tag_utterances(dialogs: dict, laughing: _Utterance | None) -> None:
    """One tag-only ``[LAUGHTER]`` utterance (``laughing``) and a few inline tags (spoken as laughter)."""
    if laughing is not None:
        laughing.line = _Line("[LAUGHTER]", "oth", laughing.line.valence)
        laughing.spoken_text = "ha ha ha ha."
    for utterance in dialogs.get("Ses02F_impro01", [])[1:2] + dialogs.get("Ses04M_impro03", [])[2:3]:
        utterance.line = _Line(f"[LAUGHTER] {utterance.line.text}", utterance.line.act,
                               utterance.line.valence)
        utterance.spoken_text = f"ha ha. {utterance.spoken_text}"


# --- the IEMOCAP shape (scale="iemocap") --------------------------------------------------------
SCALES = ("iemocap",)
IEMOCAP_UTTERANCES = 10_039
_IEMOCAP_CODES = ("neu", "hap", "exc", "sad", "ang", "fru", "sur", "fea", "dis", "oth", "xxx")
#: IEMOCAP_full_release's header codes per session, in ``_IEMOCAP_CODES`` order (verified counts).
_IEMOCAP_COUNTS = {
    1: (384, 135, 143, 194, 229, 280, 25, 12, 1, 1, 415),
    2: (362, 117, 210, 197, 137, 325, 17, 9, 0, 1, 436),
    3: (320, 135, 151, 305, 240, 382, 28, 2, 1, 0, 572),
    4: (258, 65, 238, 143, 327, 481, 19, 7, 0, 1, 564),
    5: (384, 143, 299, 245, 170, 381, 18, 10, 0, 0, 520),
}
#: IEMOCAP's dialogs with unusual names: a performance split in two, and a repeated take.
_SPLIT_DIALOGS = {
    "Ses03M_impro05": ("Ses03M_impro05a", "Ses03M_impro05b"),
    "Ses03M_impro08": ("Ses03M_impro08a", "Ses03M_impro08b"),
    "Ses05M_script01_1": ("Ses05M_script01_1", "Ses05M_script01_1b"),
}
#: IEMOCAP's mean utterances per dialog: 4784 in 80 improvised, 5255 in 71 scripted dialogs.
_UTTERANCES_PER_DIALOG = {"impro": 4784 / 80, "script": 5255 / 71}
#: Chance that a speaker also takes the next turn; men keep it more often, so that they speak
#: about 52 % of the turns, as in IEMOCAP (M 5239, F 4800).
_KEEPS_TURN = {"F": 0.10, "M": 0.18}
#: Sentences per turn: geometric, at most 10.  Tuned on full corpora (0.355 s of audio per word
#: planned) to IEMOCAP's mean utterance of 4.46 s; the longest turns take 30–40 s (IEMOCAP: 34 s).
_SENTENCE_P, _MAX_SENTENCES = 0.52, 10
_XXX_AFFINITY = 0.25  # no-majority (xxx) turns occur in every dialog
_AFFINITY_FLOOR = 0.02  # any emotion can occur in any dialog
_SCALE_SCRIPT_LINES = 200  # scripted dialogs of ~75 turns read a longer script than the default


def _iemocap_dialogs(session: int) -> list[str]:
    """IEMOCAP's dialogs of one session: per actor eight improvisations (seven in session 1) and
    seven script takes, with the unusual names where they occur (28, 30, 32, 30, 31 dialogs)."""
    names = []
    for letter in "FM":
        prefix = f"Ses{session:02d}{letter}"
        names += [f"{prefix}_impro{k:02d}" for k in range(1, 8 if session == 1 else 9)]
        names += [f"{prefix}_script{k:02d}_{take}" for k, takes in ((1, 3), (2, 2), (3, 2))
                  for take in range(1, takes + 1)]
    return [split for name in names for split in _SPLIT_DIALOGS.get(name, (name,))]


def _largest_remainder(weights, total: int) -> np.ndarray:
    """Whole numbers proportional to ``weights`` that sum to ``total`` (ties: the earlier one)."""
    quotas = np.asarray(weights, dtype=float) * total / np.sum(weights)
    counts = np.floor(quotas).astype(int)
    order = np.argsort(-(quotas - counts), kind="stable")
    counts[order[:total - counts.sum()]] += 1
    return counts


def _iemocap_counts(n_utterances: int) -> dict[int, dict[str, int]]:
    """IEMOCAP's session x header-code table scaled to ``n_utterances`` (exact at 10,039)."""
    cells = [(session, code) for session in _IEMOCAP_COUNTS for code in _IEMOCAP_CODES]
    full = [n for counts in _IEMOCAP_COUNTS.values() for n in counts]
    table: dict = {session: {} for session in _IEMOCAP_COUNTS}
    for (session, code), n in zip(cells, _largest_remainder(full, n_utterances), strict=True):
        table[session][code] = int(n)
    return table


def _is_scripted(kind: str) -> bool:
    return kind.startswith("script")


def _emotions(kind: str) -> dict:
    """Weights of the intended emotions in a dialog: its scenario, or what its script's lines suggest."""
    if not _is_scripted(kind):
        return _SCENARIOS[kind]
    weights: dict = {}
    for valence, p in _SCRIPTS[kind].items():
        for emotion, q in _EMOTION_GIVEN_TEXT[valence].items():
            weights[emotion] = weights.get(emotion, 0) + p * q
    return weights


def _affinity(kind: str) -> np.ndarray:
    """How strongly a dialog attracts each header code (``_IEMOCAP_CODES`` order)."""
    emotions = _emotions(kind)
    total = sum(emotions.values())
    return np.array([_XXX_AFFINITY if code == "xxx" else emotions.get(code, 0) / total + _AFFINITY_FLOOR
                     for code in _IEMOCAP_CODES])


def _header_codes(sizes: dict, counts: dict, rng: np.random.Generator) -> dict:
    """Header codes for every turn of one session's dialogs, exactly ``counts`` of them in all.

    The turns, in a random order over the whole session, draw from the codes left, weighted by
    their dialog's affinity: improvisations keep their flavour, and the codes left over at the
    end fall on random dialogs rather than on the last ones.
    """
    left = np.array([counts[code] for code in _IEMOCAP_CODES], dtype=float)
    affinity = {dialog: _affinity(_kind(dialog)) for dialog in sizes}
    slots = [dialog for dialog, n in sizes.items() for _ in range(n)]
    codes: dict = {dialog: [] for dialog in sizes}
    for slot in rng.permutation(len(slots)):
        weights = left * affinity[slots[slot]]
        chosen = rng.choice(len(weights), p=weights / weights.sum())
        left[chosen] -= 1
        codes[slots[slot]].append(_IEMOCAP_CODES[chosen])
    return codes


@functools.cache
def _script_valences(kind: str) -> tuple[str, ...]:
    return tuple(sorted({line.valence for line in _script(kind, _SCALE_SCRIPT_LINES)}))


def _script_line(kind: str, cursor: int, emotion: str, rng: np.random.Generator) -> int:
    """The position of the next script line an actor delivers with ``emotion``: the next one from
    ``cursor`` whose valence suits the emotion (counted on past the script's end)."""
    script = _script(kind, _SCALE_SCRIPT_LINES)
    weights = {v: _TEXT_GIVEN_EMOTION[emotion].get(v, 0) + 0.01 for v in _script_valences(kind)}  # any, if need be
    valence = _choice(weights, rng)
    return next(i for i in range(cursor, cursor + len(script)) if script[i % len(script)].valence == valence)


def _turn_lines(kind: str, emotion: str, cursor: int, rng: np.random.Generator) -> tuple[_Line, int]:
    """One turn's text (one or more sentences) for ``emotion``, and the script cursor after it."""
    sentences = []
    for _ in range(min(rng.geometric(_SENTENCE_P), _MAX_SENTENCES)):
        if _is_scripted(kind):
            position = _script_line(kind, cursor, emotion, rng)
            sentences.append(_script(kind, _SCALE_SCRIPT_LINES)[position % _SCALE_SCRIPT_LINES])
            cursor = position + 1
        else:
            sentences.append(_sentence(_choice(_TEXT_GIVEN_EMOTION[emotion], rng), rng))
    first = sentences[0]
    return _Line(" ".join(s.text for s in sentences), first.act, first.valence), cursor


def _plan_iemocap_dialog(dialog: str, codes: list, actors: dict, rng: np.random.Generator) -> list[_Utterance]:
    """A dialog's turns with their planned header codes; an ``xxx`` turn's intended emotion is
    drawn from the dialog's scenario, the others' is their code."""
    session, kind = int(dialog[3:5]), _kind(dialog)
    counters = {"F": 0, "M": 0}
    gender = "F" if rng.random() < 0.5 else "M"
    cursor, utterances = 0, []
    for code in codes:
        emotion = _choice(_emotions(kind), rng) if code == "xxx" else code
        line, cursor = _turn_lines(kind, emotion, cursor, rng)
        utt_id = f"{dialog}_{gender}{counters[gender]:03d}"
        counters[gender] += 1
        utterances.append(_Utterance(utt_id, line, emotion, actors[(session, gender)], line.text, code))
        if rng.random() >= _KEEPS_TURN[gender]:
            gender = "M" if gender == "F" else "F"
    return utterances


def plan_iemocap_shape(utterances: int = IEMOCAP_UTTERANCES, seed: int = 0) -> dict:
    """The IEMOCAP-shaped corpus without its audio: dialog name -> its utterances (id, text,
    speaker, intended emotion and header ``code``), in order.  Fast: nothing is synthesised.

    The header codes per session are IEMOCAP's (scaled to ``utterances`` by largest remainder),
    spread over IEMOCAP's 151 dialogs; dialogs that get no utterance are left out.
    """
    rng = np.random.default_rng(seed)
    actors = _actors(rng)
    dialogs = {}
    for session, counts in _iemocap_counts(utterances).items():
        names = _iemocap_dialogs(session)
        weights = [_UTTERANCES_PER_DIALOG["script" if _is_scripted(_kind(name)) else "impro"]
                   * rng.uniform(0.7, 1.3) for name in names]
        sizes = {name: int(n) for name, n in zip(names, _largest_remainder(weights, sum(counts.values())),
                                                   strict=True) if n}
        for name, codes in _header_codes(sizes, counts, rng).items():
            dialogs[name] = _plan_iemocap_dialog(name, codes, actors, rng)
    _add_tag_utterances(dialogs, next((u for turns in dialogs.values() for u in turns if u.code == "hap"), None))
    return dialogs


# --- writing ------------------------------------------------------------------------------------
def default_demo_dir() -> Path:
    """Where ``--demo`` runs keep the default demo corpus: ``~/.cache/sertext/demo-corpus``."""
    return Path.home() / ".cache" / "sertext" / "demo-corpus"


def write_demo_corpus(out, *, utterances: int | None = None, seed: int = 0, scale: str | None = None,
                      workers: int | None = None, progress: bool = True) -> Path:
    """Write the demo corpus to ``out`` (an IEMOCAP_full_release-style folder) and return it.

    ``utterances`` defaults to 600, or with ``scale="iemocap"`` to IEMOCAP's 10,039 (any other
    number scales IEMOCAP's shape to it).  With ``scale``, ``workers`` spawned processes (default:
    one per usable core) synthesise the dialogs in parallel; their number does not change the
    files.  Spawned workers import the caller's main module, so a script that calls this with
    ``scale`` must guard its entry point with ``if __name__ == "__main__":``.

    If ``out`` already holds a demo corpus with the same settings, nothing is written; a
    non-empty ``out`` that is not a demo corpus is refused.  The corpus is written to a
    temporary sibling folder first and moved into place, so an interrupted run leaves no half
    corpus behind.  The same settings always give the same files.
    """
    if scale not in (None, *SCALES):
        raise ValueError(f"unknown demo corpus scale {scale!r}; choose one of {', '.join(SCALES)}")
    if utterances is None:
        utterances = DEFAULT_UTTERANCES if scale is None else IEMOCAP_UTTERANCES
    out = Path(out).expanduser().resolve()
    settings = {"version": DEMO_VERSION, "utterances": utterances, "seed": seed}
    if scale is not None:
        settings["scale"] = scale
    if utterances < 60:
        raise ValueError(f"the demo corpus needs at least 60 utterances, got {utterances}")
    marker = out / "sertext-demo.json"
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return out
    if out.exists() and any(out.iterdir()) and not marker.is_file():
        raise FileExistsError(f"{out} exists and is not a sertext demo corpus; choose an empty folder")
    staging = _staging(out)
    _write(staging, utterances, seed, scale, workers or _usable_cores(), progress)
    return _publish(staging, out, settings)


def _staging(out: Path) -> Path:
    """An empty folder beside ``out`` to write into, so that a half-written corpus never appears
    under ``out``."""
    staging = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _publish(staging: Path, out: Path, settings: dict) -> Path:
    """Mark ``staging`` with the settings it was written with and move it to ``out``."""
    (staging / "sertext-demo.json").write_text(json.dumps(settings, indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return out


def _write(root: Path, n_utterances: int, seed: int, scale: str | None, workers: int, progress: bool) -> None:
    """Plan the corpus, synthesise its dialogs, then write the dialogue acts and a README."""
    if scale is None:  # one random stream through planning and synthesis: the published corpus
        rng = np.random.default_rng(seed)
        dialogs = _plan_default(n_utterances, rng)
        rows = _synthesise_in_turn(root, dialogs, rng, progress)
    else:
        dialogs = plan_iemocap_shape(n_utterances, seed)
        rows = _synthesise_in_parallel(root, dialogs, seed, workers, progress)
        rng = np.random.default_rng([seed, _name_seed("EMOTyDA")])
    _write_dialogue_acts(root / "EMOTyDA", _by_session(rows), rng)
    (root / "README.txt").write_text(
        "sertext demo corpus: synthetic speech (eSpeak NG) in the IEMOCAP_full_release format.\n"
        "Generated by `sertext demo-corpus`; see sertext/data/demo.py for its design.\n"
    )


def _progress_bar(dialogs: dict, progress: bool) -> tqdm:
    return tqdm(total=sum(len(turns) for turns in dialogs.values()), desc="demo corpus", unit="utt",
                disable=not progress)


def _synthesise_in_turn(root: Path, dialogs: dict, rng: np.random.Generator, progress: bool) -> dict:
    """Write the dialogs one after the other, drawing from ``rng``; their dialogue-act rows."""
    synth = synthesiser()
    rows = {}
    with _progress_bar(dialogs, progress) as bar:
        for dialog, utterances in dialogs.items():
            rows[dialog] = _write_dialog(root, dialog, utterances, synth, rng)
            bar.update(len(utterances))
    return rows


def _synthesise_in_parallel(root: Path, dialogs: dict, seed: int, workers: int, progress: bool) -> dict:
    """Write the dialogs in ``workers`` processes, each dialog with its own random stream (seeded
    by ``seed`` and its name), so the files do not depend on the number of workers.

    Each worker process loads its own eSpeak engine (:func:`synthesiser` is per process); the
    workers are spawned, not forked, so none inherits the parent's engine or threads.
    """
    jobs = [(root, dialog, utterances, seed) for dialog, utterances in dialogs.items()]
    rows = {}
    with _progress_bar(dialogs, progress) as bar, \
            ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        for (_, dialog, utterances, _), dialog_rows in zip(jobs, pool.map(_write_seeded_dialog, jobs),
                                                            strict=True):
            rows[dialog] = dialog_rows
            bar.update(len(utterances))
    return rows


def _write_seeded_dialog(job: tuple) -> list:
    """Write one dialog with the random stream of (seed, its name); a worker-process task."""
    root, dialog, utterances, seed = job
    return _write_dialog(root, dialog, utterances, synthesiser(), np.random.default_rng([seed, _name_seed(dialog)]))


def _name_seed(name: str) -> int:
    """A seed fixed by a name (``hash`` of a string changes from one process to the next)."""
    return zlib.crc32(name.encode())


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _by_session(rows: dict) -> dict:
    """Dialogue-act rows per session, in dialog order."""
    acts: dict = {session: [] for session in range(1, 6)}
    for dialog, dialog_rows in rows.items():
        acts[int(dialog[3:5])] += dialog_rows
    return acts


def _write_dialog(root: Path, dialog: str, utterances: list, synth: Synthesiser,
                  rng: np.random.Generator) -> list:
    session_dir = root / f"Session{int(dialog[3:5])}"
    wav_dir = session_dir / "sentences" / "wav" / dialog
    align_dir = session_dir / "sentences" / "ForcedAlignment" / dialog
    for folder in (wav_dir, align_dir, session_dir / "dialog" / "transcriptions",
                   *(session_dir / "dialog" / "EmoEvaluation" / sub
                     for sub in ("Categorical", "Attribute", "Self-evaluation"))):
        folder.mkdir(parents=True, exist_ok=True)
    emo_lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
    transcript_lines, act_rows = [], []
    cursor = rng.uniform(2.0, 8.0)
    for number, utterance in enumerate(utterances):
        audio, words, phones = _synthesise(utterance, synth, rng)
        sf.write(wav_dir / f"{utterance.utt_id}.wav", audio, SAMPLE_RATE_HZ, subtype="PCM_16")
        duration_s = len(audio) / SAMPLE_RATE_HZ
        start_s, end_s = cursor, cursor + duration_s
        cursor = end_s + rng.uniform(0.2, 1.5)
        gender = utterance.utt_id.rsplit("_", 1)[1][0]
        ratings = _rate(utterance, gender, rng)
        emo_lines += _emo_block(utterance.utt_id, start_s, end_s, ratings) + [""]
        transcript_lines.append(f"{utterance.utt_id} [{start_s:08.4f}-{end_s:08.4f}]: {utterance.line.text}")
        if number == 1 and dialog.endswith("impro01"):  # an XX line: no wav, no label
            xx_id = f"{dialog}_{gender}XX0"
            transcript_lines.append(f"{xx_id} [{end_s:08.4f}-{end_s + 0.5:08.4f}]: Yeah.")
            act_rows.append((xx_id, "Yeah.", "b", "-"))
        tag = utterance.line.text.strip("[]") if utterance.line.text.startswith("[") and \
            utterance.line.text.endswith("]") else None
        (align_dir / f"{utterance.utt_id}.wdseg").write_text(_word_alignment(words, duration_s, tag))
        (align_dir / f"{utterance.utt_id}.phseg").write_text(_phone_alignment(phones, words, duration_s))
        act_rows.append((utterance.utt_id, utterance.line.text, utterance.line.act, ratings["code"]))
    (session_dir / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text("\n".join(emo_lines))
    (session_dir / "dialog" / "transcriptions" / f"{dialog}.txt").write_text("\n".join(transcript_lines) + "\n")
    return act_rows


def _write_dialogue_acts(folder: Path, acts: dict, rng: np.random.Generator) -> None:
    """EMOTyDA CSVs (CRLF); like the real ones, sessions 2–4 miss some labelled utterances."""
    folder.mkdir(parents=True, exist_ok=True)
    for session, rows in acts.items():
        with (folder / f"iemocap_session{session}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\r\n")
            writer.writerow(["TURN", "UTTERANCE", "DA", "EMOTION"])
            for row in rows:
                if session in (2, 3, 4) and "XX" not in row[0] and rng.random() < 0.08:
                    continue
                writer.writerow(row)


#: IEMOCAP code -> MSP-Podcast EmoClass (frustration has no MSP class: "O", other).
_MSP_CODES = {"neu": "N", "hap": "H", "exc": "H", "sad": "S", "ang": "A", "fru": "O", "sur": "U",
              "fea": "F", "dis": "D", "oth": "O", "xxx": "X"}
#: Demo sessions -> MSP-Podcast partitions (speaker-disjoint, as MSP-Podcast's are).
_MSP_SPLITS = {1: "Train", 2: "Train", 3: "Train", 4: "Development", 5: "Test1"}


def write_demo_msp_podcast(out, source) -> Path:
    """Write the demo corpus at ``source`` again in the MSP-Podcast layout, for MSP sweeps.

    ``Audios/MSP-PODCAST_<speaker>_<turn>.wav`` (hard links where possible),
    ``Labels/labels_consensus.csv`` with attributes rescaled from 1–5 to MSP's 1–7, speakers as
    numeric ``SpkrID``, sessions 1–3 as Train, 4 as Development and 5 as Test1, and one
    ``Transcripts/<stem>.txt`` per turn.  Existing output with the same source is reused.
    """
    from .iemocap import read_iemocap

    out, source = Path(out).expanduser().resolve(), Path(source).expanduser().resolve()
    marker = out / "sertext-demo.json"
    settings = {"msp-podcast-from": str(source), "version": DEMO_VERSION,
                "source": json.loads((source / "sertext-demo.json").read_text())}
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return out
    table = read_iemocap(source)
    staging = _staging(out)
    for folder in ("Audios", "Labels", "Transcripts"):
        (staging / folder).mkdir(parents=True)
    speakers = {s: 100 + i for i, s in enumerate(sorted(table["speaker"].unique()))}
    rows, turns = [], {}
    for row in table.itertuples(index=False):
        speaker = speakers[row.speaker]
        turns[speaker] = turns.get(speaker, 0) + 1
        stem = f"MSP-PODCAST_{speaker:04d}_{turns[speaker]:04d}"
        _link_or_copy(Path(row.path), staging / "Audios" / f"{stem}.wav")
        (staging / "Transcripts" / f"{stem}.txt").write_text(row.text + "\n")
        scale = lambda v: round(1 + (v - 1) * 1.5, 6)  # noqa: E731  1–5 -> 1–7
        rows.append([f"{stem}.wav", _MSP_CODES[row.emotion], scale(row.arousal), scale(row.valence),
                     scale(row.dominance), speaker, "Female" if row.gender == "F" else "Male",
                     _MSP_SPLITS[row.session]])
    with (staging / "Labels" / "labels_consensus.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set"])
        writer.writerows(rows)
    return _publish(staging, out, settings)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
