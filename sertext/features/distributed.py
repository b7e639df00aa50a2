"""Feature extraction as Ray tasks, wherever the cluster has room: the utterances still missing from
the shared cache, split into chunks, each chunk one task that computes and stores its entries.

The driver only reads the inputs to find what is missing and shows one progress bar; the tasks
run on every node with a free CPU (and, for the transformer, wav2vec and transformers-ASR features,
a GPU share when the cluster has GPUs), so a cluster's workers extract in parallel instead of its
head alone.  On one machine the tasks use its local cores.  Extraction is resumable by construction: a task writes
each entry as it goes (atomically, :class:`sertext.features.FeatureCache`), and a relaunch after a
kill finds those entries and computes only the rest.  The cache folder must be one every node
sees (a shared filesystem on a cluster, as the sweep's cache already is).

A feature trained per fold (wavfusion's semantic space) is trained in the driver first, once,
and stored in the cache; the tasks then load it from there.
"""

from __future__ import annotations

import pandas as pd
from tqdm import tqdm

from .cache import FeatureCache, content_digest, entry_key

#: Extractors that run a transformer or wav2vec 2.0 and so ask for a GPU share when there is one; an
#: extractor with a ``uses_gpu`` attribute (the transcripts: not for PocketSphinx) decides for itself.
GPU_FEATURES = ("text", "token-states", "wav2vec2")
CHUNK = 64  # utterances per task: big enough to amortise loading a model, small enough to spread


def missing_rows(table: pd.DataFrame, extractor, cache: FeatureCache) -> pd.DataFrame:
    """The rows of ``table`` whose feature is not yet in ``cache``."""
    settings = extractor.settings()
    stored = [cache.path(extractor.name, entry_key(extractor.name, settings, content_digest(extractor.content(row))))
              .is_file() for row in table.itertuples(index=False)]
    return table[[not s for s in stored]]


def extract_on_cluster(table: pd.DataFrame, extractor, cache: FeatureCache, *, chunk: int = CHUNK,
                       gpu_share: float = 0.0, progress: bool = True) -> int:
    """Compute every missing feature of ``table`` as Ray tasks of ``chunk`` utterances; return how
    many utterances were computed.  Ray must be initialised (the sweep's cluster, or a local Ray).

    Args:
        gpu_share: the GPU share each task asks for, for :data:`GPU_FEATURES` or an extractor whose
            ``uses_gpu`` is true (0: CPU only).

    Raises:
        ray.exceptions.RayTaskError: the first task that failed (its message names the file, e.g.
            a bad wav), after every other task has finished: their entries stay, so a relaunch
            computes only what is still missing.
    """
    import ray

    missing = missing_rows(table, extractor, cache)
    if missing.empty:
        return 0
    if hasattr(extractor, "space"):
        extractor.space  # noqa: B018 - train (or load) the fold's space here, once, before the tasks
    gpus = gpu_share if getattr(extractor, "uses_gpu", extractor.name in GPU_FEATURES) else 0.0
    task = ray.remote(_extract_chunk).options(num_cpus=1, num_gpus=gpus)
    pending = [task.remote(missing.iloc[start:start + chunk], extractor, str(cache.root))
               for start in range(0, len(missing), chunk)]
    failures = []
    with tqdm(total=len(missing), desc=f"extracting {extractor.name} on the cluster", unit="utt",
              disable=not progress) as bar:
        while pending:
            (done,), pending = ray.wait(pending)
            try:
                bar.update(ray.get(done))
            except ray.exceptions.RayTaskError as error:  # let the other chunks finish: their entries stay
                failures.append(error)
    if failures:
        raise failures[0]
    return len(missing)


def _extract_chunk(rows: pd.DataFrame, extractor, cache_root: str) -> int:
    """One task: extract ``rows`` into the cache (entries already there are skipped)."""
    from . import extract

    extract(rows, extractor, FeatureCache(cache_root), progress=False)
    return len(rows)
