"""What a corpus' utterances hold, as plain JSON-able counts: the four classes per split and per
scripted/improvised mode, and the dimension ratings' distributions per mode.

A sweep describes the utterances its trials read and keeps the description in its MLflow record,
so a report draws the multistage-conditioning paper's Fig. 2 (the class distributions of both
corpora) and Fig. 6 (scripted vs improvised: the classes and the arousal, valence and dominance
ratings) from the same utterance table the trials read, without the corpus at hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .labels import four_class

DIMENSIONS = ("arousal", "valence", "dominance")
RATING_BIN = 0.25  # histogram bin width on the rating scale (IEMOCAP's means of 1-5 ratings, MSP's of 1-7)


def describe_corpus(table: pd.DataFrame) -> dict:
    """``{"utterances", "classes": {group: {class: count}}, "ratings": {"edges": [...],
    "counts": {mode: {dimension: [...]}}}}`` of an utterance table.

    Class groups are ``"all"``, ``"split=<split>"`` (MSP-Podcast) and ``"mode=<mode>"`` (IEMOCAP),
    over the four-class set (excited merged into happy); ratings are histograms with bins of
    :data:`RATING_BIN` over every utterance with a rating, per mode (``"all"`` where the corpus has
    none).

    Examples:
        >>> table = pd.DataFrame({"corpus": "iemocap", "emotion": ["ang", "exc", "neu"],
        ...                       "mode": ["scripted", "improvised", None],
        ...                       "split": [None] * 3, "arousal": [4.0, 3.5, 2.0],
        ...                       "valence": [1.5, 4.0, 3.0], "dominance": [4.0, 3.0, 2.5]})
        >>> description = describe_corpus(table)
        >>> description["classes"]["all"], description["classes"]["mode=scripted"]
        ({'angry': 1, 'happy': 1, 'neutral': 1}, {'angry': 1})
    """
    labelled = four_class(table)
    classes = {"all": _counts(labelled["label"])}
    for column in ("split", "mode"):
        if column in labelled and labelled[column].notna().any():
            classes.update({f"{column}={value}": _counts(group["label"])
                            for value, group in labelled.groupby(column, sort=True)})
    return {"utterances": len(table), "classes": classes, "ratings": _rating_histograms(table)}


def _counts(labels: pd.Series) -> dict:
    return {str(k): int(v) for k, v in labels.value_counts().sort_index().items()}


def _rating_histograms(table: pd.DataFrame) -> dict:
    dimensions = [d for d in DIMENSIONS if d in table and table[d].notna().any()]
    if not dimensions:
        return {}
    values = table[dimensions].to_numpy(float)
    low, high = np.floor(np.nanmin(values)), np.ceil(np.nanmax(values))
    edges = np.arange(low, high + RATING_BIN / 2, RATING_BIN)
    modes = table["mode"].fillna("all") if "mode" in table and table["mode"].notna().any() else \
        pd.Series("all", index=table.index)
    counts = {str(mode): {d: np.histogram(group[d].dropna(), bins=edges)[0].tolist() for d in dimensions}
              for mode, group in table.groupby(modes, sort=True)}
    return {"edges": edges.tolist(), "counts": counts}
