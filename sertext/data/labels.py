"""Label schemes: from the corpus' raw emotion codes to the classes a task trains on.

Readers keep the raw codes (``neu``, ``exc``, ``N`` …); a scheme is an explicit, logged step.
"""

from __future__ import annotations

import pandas as pd

#: The four classes of the standard IEMOCAP / MSP-Podcast categorical task, in label order.
FOUR_CLASSES = ("angry", "happy", "neutral", "sad")

#: Raw code -> class, per corpus.  ``exc`` is handled by ``merge_excited``.
_FOUR_CLASS_CODES = {
    "iemocap": {"ang": "angry", "hap": "happy", "neu": "neutral", "sad": "sad"},
    "msp-podcast": {"A": "angry", "H": "happy", "N": "neutral", "S": "sad"},
}


def four_class(table: pd.DataFrame, *, merge_excited: bool = True) -> pd.DataFrame:
    """Keep angry / happy / neutral / sad utterances and add their class as ``label``.

    Args:
        table: an utterance table (any mix of corpora).
        merge_excited: count IEMOCAP ``exc`` as happy (the usual 5,531-utterance set); when
            False, ``exc`` utterances are dropped.

    Returns:
        A copy with the kept rows and a ``label`` column (values from :data:`FOUR_CLASSES`).

    Examples:
        >>> t = pd.DataFrame({"corpus": ["iemocap"] * 4, "emotion": ["exc", "fru", "neu", "xxx"]})
        >>> four_class(t)["label"].tolist()
        ['happy', 'neutral']
    """
    unknown = set(table["corpus"].dropna().unique()) - set(_FOUR_CLASS_CODES)
    if unknown:
        raise ValueError(f"no four-class mapping for corpus {sorted(unknown)}")
    labels = pd.Series(pd.NA, index=table.index, dtype="string")
    for corpus, codes in _FOUR_CLASS_CODES.items():
        if corpus == "iemocap" and merge_excited:
            codes = {**codes, "exc": "happy"}
        rows = table["corpus"] == corpus
        labels[rows] = table.loc[rows, "emotion"].map(codes)
    kept = table.loc[labels.notna()].copy()
    kept["label"] = labels[labels.notna()]
    return kept
