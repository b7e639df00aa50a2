"""Evaluation protocols: which utterances train, select (dev) and test in each fold.

Every protocol keeps train and test speaker-disjoint.  Fold lists hold ``utt_id`` values in table
order, so a fold is a pure function of the table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd

PROTOCOLS = ("iemocap-loso", "iemocap-loso-session", "iemocap-holdout", "msp-official")
# protocols whose dev set is held out of the training sessions (``dev_fraction``); the others have a
# natural one (iemocap-loso: the test speaker's session partner; msp-official: Development)
HELD_OUT_DEV = ("iemocap-loso-session", "iemocap-holdout")
DEV_FRACTION = 0.2  # their default share of the training utterances held out as dev
DEV_SPLITS = ("Development", "Validation")


@dataclass(frozen=True)
class Fold:
    """One train / dev / test partition of the utterance table (lists of ``utt_id``)."""

    name: str
    train: list
    dev: list
    test: list


def make_folds(table: pd.DataFrame, protocol: str, *, dev_fraction: float = DEV_FRACTION) -> list[Fold]:
    """Split ``table`` into the folds of ``protocol``.

    Protocols:
        ``iemocap-loso``: 10 folds (Triantafyllopoulos et al.); test = one speaker, dev = the other
        speaker of the same session, train = the other four sessions.
        ``iemocap-loso-session``: 5 folds (Makiuchi et al.); test = one session, train = the other
        four.  The paper has no dev set (it evaluates the last model); by default dev is
        ``dev_fraction`` of each training speaker's utterances, picked by a hash of the utterance id
        (stable, independent of table order), and ``dev_fraction=0`` gives the paper's fold: no dev
        utterances, every training-session utterance trains.
        ``iemocap-holdout``: 1 fold (Atmaja & Akagi); train = sessions 1–4, test = session 5, dev =
        ``dev_fraction`` of the training utterances (the paper's 20 % validation split), as above.
        ``msp-official``: 1 fold; Train / Development (or Validation) / Test1.

    Args:
        table: the utterance table (usually after a label scheme such as ``four_class``).
        protocol: one of :data:`PROTOCOLS`.
        dev_fraction: share of training utterances held out as dev where the protocol has no
            natural dev set (:data:`HELD_OUT_DEV`), in [0, 1); 0: none (an empty ``dev`` list).
            The other protocols ignore it.

    Raises:
        ValueError: for an unknown protocol, or a table that lacks what the protocol needs.
    """
    if protocol == "iemocap-loso":
        folds = _loso(table)
    elif protocol == "iemocap-loso-session":
        folds = [
            _hashed_dev(f"Session{s}", table, table["session"] != s, table["session"] == s, dev_fraction)
            for s in _sessions(table)
        ]
    elif protocol == "iemocap-holdout":
        _sessions(table)
        folds = [_hashed_dev("Session5", table, table["session"] <= 4, table["session"] == 5, dev_fraction)]
    elif protocol == "msp-official":
        folds = [_msp_official(table)]
    else:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")
    for fold in folds:
        _check_fold(table, fold)
    return folds


def cross_corpus_set(table: pd.DataFrame, corpus: str) -> list:
    """The utterances a model trained on another corpus is tested on, as the multistage-conditioning
    paper tests across corpora (its Tables 1 and 2): MSP-Podcast's official test set (Test1), and
    the whole of any other corpus (IEMOCAP).

    Raises:
        ValueError: the set is empty (an MSP-Podcast copy without Test1, say).
    """
    ids = _ids(table, table["split"] == "Test1") if corpus == "msp-podcast" else table["utt_id"].tolist()
    if not ids:
        raise ValueError(f"{corpus} has no utterances to test on across corpora"
                         + (" (its Test1 split is empty)" if corpus == "msp-podcast" else ""))
    return ids


def used_utterances(table: pd.DataFrame, protocol: str) -> list:
    """Every utterance some fold of ``protocol`` trains, selects or tests on, in table order."""
    used = {u for fold in make_folds(table, protocol) for u in (*fold.train, *fold.dev, *fold.test)}
    return [u for u in table["utt_id"] if u in used]


def _sessions(table: pd.DataFrame) -> list[int]:
    sessions = sorted(int(s) for s in table["session"].dropna().unique())
    if len(sessions) < 2:
        raise ValueError(f"IEMOCAP protocols need at least two sessions; the table has {sessions}")
    return sessions


def _ids(table: pd.DataFrame, mask) -> list:
    return table.loc[mask.fillna(False).astype(bool), "utt_id"].tolist()


def _loso(table: pd.DataFrame) -> list[Fold]:
    folds = []
    for session in _sessions(table):
        in_session = table["session"] == session
        for gender, other in (("F", "M"), ("M", "F")):
            speaker = f"Ses{session:02d}{gender}"
            folds.append(Fold(
                name=speaker,
                train=_ids(table, ~in_session),
                dev=_ids(table, in_session & (table["gender"] == other)),
                test=_ids(table, in_session & (table["gender"] == gender)),
            ))
    return folds


def _in_dev(utt_id: str, fraction: float) -> bool:
    digest = hashlib.sha256(utt_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _hashed_dev(name: str, table: pd.DataFrame, train_mask, test_mask, fraction: float) -> Fold:
    if not 0 <= fraction < 1:
        raise ValueError(f"dev_fraction must be in [0, 1) (0: no dev set), got {fraction}")
    train_ids = _ids(table, train_mask)
    dev = [u for u in train_ids if _in_dev(u, fraction)]
    chosen = set(dev)
    return Fold(name, [u for u in train_ids if u not in chosen], dev, _ids(table, test_mask))


def _msp_official(table: pd.DataFrame) -> Fold:
    split = table["split"]
    dev_name = next((s for s in DEV_SPLITS if (split == s).any()), None)
    if not (split == "Train").any() or dev_name is None or not (split == "Test1").any():
        raise ValueError(
            f"msp-official needs Train, Development (or Validation) and Test1 rows; "
            f"the table has splits {sorted(split.dropna().unique())}"
        )
    return Fold("official", _ids(table, split == "Train"), _ids(table, split == dev_name),
                _ids(table, split == "Test1"))


def _check_fold(table: pd.DataFrame, fold: Fold) -> None:
    """Raise if a fold's train or test set is empty (e.g. a speaker missing from the corpus copy)
    or the fold shares a known speaker between train and test."""
    for name, ids in (("train", fold.train), ("test", fold.test)):
        if not ids:
            raise ValueError(f"fold {fold.name} has no {name} utterances; the table has speakers "
                             f"{sorted(table['speaker'].dropna().unique())}")
    speakers = table.set_index("utt_id")["speaker"]
    shared = set(speakers[fold.train].dropna()) & set(speakers[fold.test].dropna())
    if shared:
        raise ValueError(f"fold {fold.name} shares speakers between train and test: {sorted(shared)}")
