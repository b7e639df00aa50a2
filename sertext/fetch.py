"""The stored prediction tables of many runs: fetched in parallel, cached on disk.

A report reads every finished trial's ``predictions/<split>.csv`` (:mod:`sertext.tracking`).
Fetched one table at a time, each costs several round trips to a tracking server (the run, a
listing, the file), and a 1,440-run sweep spent minutes waiting on them.  Here each run's
``predictions/`` folder comes in one call, several runs at once on a bounded thread pool (at most
``workers`` requests in flight, within MLflow's pool of HTTP connections), with one progress bar.

Fetched tables are kept under a cache folder (default ``~/.cache/sertext/predictions``), one
folder per run and version: ``<run id>/<run end time>/``.  A trial writes its tables just before
it ends its run, and a trial that runs again (a retry, a resumed sweep) writes them again and ends
its run again, so changed tables always come with a new end time, which sends the next report
back to the server for them; a run that has not ended is never cached.  A later report of the
same sweep then reads every table from disk without a request.  What the key cannot see is an
artifact replaced by hand in a run that is not ended again: remove the cache folder then
(:meth:`PredictionCache.clear`).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from sertext import tracking

FOLDER = "predictions"  # where a trial run keeps its tables (tracking.TrialRun.finish)
READ_TYPES = {"utt_id": str, "truth": str, "prediction": str}  # as tracking.load_predictions reads them
DEFAULT_WORKERS = 8  # requests in flight; MLflow's HTTP pool holds 10 connections (MLFLOW_HTTP_POOL_MAXSIZE)


def default_cache_dir() -> Path:
    """``~/.cache/sertext/predictions``, beside the feature cache."""
    return Path.home() / ".cache" / "sertext" / "predictions"


@dataclass(frozen=True)
class RunRequest:
    """What to fetch of one run: its id, its end time (ms since the epoch; part of the cache key)
    and the splits whose tables it stored."""

    run_id: str
    end_time: int | None
    splits: tuple[str, ...]


def prediction_requests(runs: pd.DataFrame, splits) -> list[RunRequest]:
    """What to fetch for ``splits``: every FINISHED run with the splits it made (those it logged
    metrics of: a run of a protocol without a dev set has no dev predictions)."""
    finished = runs[runs["status"] == "FINISHED"]
    made = {split: finished[finished.columns[finished.columns.str.startswith(f"{split}/")]].notna().any(axis=1)
            for split in splits}
    end_times = finished["end_time"] if "end_time" in finished.columns else pd.Series(None, index=finished.index)
    return [RunRequest(run_id, None if pd.isna(end) else int(end),
                       tuple(split for split in splits if made[split].loc[index]))
            for index, run_id, end in zip(finished.index, finished["run_id"], end_times, strict=True)]


def fetch_predictions(tracking_uri: str, requests: list[RunRequest], *, cache_dir: Path | None = None,
                      workers: int = DEFAULT_WORKERS, progress: bool = True) -> dict[tuple[str, str], pd.DataFrame]:
    """Every requested table, ``{(run_id, split): table}``, each read as
    :func:`sertext.tracking.load_predictions` reads it.

    Args:
        tracking_uri: the MLflow store or server.
        requests: the runs and the splits wanted of each.
        cache_dir: where fetched tables are kept (default :func:`default_cache_dir`).
        workers: runs fetched at once.
        progress: a progress bar on stderr, one step per run.
    """
    cache = PredictionCache(cache_dir or default_cache_dir())
    wanted = [request for request in requests if request.splits]
    tables = {}
    with ThreadPoolExecutor(max(1, workers)) as pool, tqdm(total=len(wanted), desc="fetching predictions",
                                                           unit="run", file=sys.stderr, disable=not progress,
                                                           dynamic_ncols=True) as bar:
        for request, fetched in zip(wanted, pool.map(lambda r: cache.tables(tracking_uri, r), wanted), strict=True):
            tables.update({(request.run_id, split): table for split, table in fetched.items()})
            bar.update()
    return tables


class PredictionCache:
    """Prediction files on disk: ``<folder>/<run id>/<run end time>/<file name>``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def tables(self, tracking_uri: str, request: RunRequest) -> dict[str, pd.DataFrame]:
        """One run's requested tables: from the cache when this version of the run (its end time)
        is there whole, else fetched (its whole ``predictions/`` folder at once) and kept."""
        names = {split: f"{split}.csv" for split in request.splits}
        version = self._version(request)
        if version is not None and all((version / name).is_file() for name in names.values()):
            return {split: read_table(version / name) for split, name in names.items()}
        with tempfile.TemporaryDirectory(dir=self._scratch_parent()) as scratch:
            client = tracking.client(tracking_uri)
            local = Path(tracking.retry(lambda: client.download_artifacts(request.run_id, FOLDER, scratch)))
            missing = [name for name in names.values() if not (local / name).is_file()]
            if missing:
                raise FileNotFoundError(f"run {request.run_id} has no {FOLDER}/{missing[0]}")
            tables = {split: read_table(local / name) for split, name in names.items()}
            if version is not None:
                self._keep(request.run_id, version, local)
        return tables

    def _version(self, request: RunRequest) -> Path | None:
        """Where this version of the run is kept; ``None`` (never cached) for a run that has not
        ended, whose tables may still change."""
        return None if request.end_time is None else self.folder / request.run_id / str(request.end_time)

    def _scratch_parent(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)  # scratch on the cache's own disk: renames stay atomic
        return self.folder

    def _keep(self, run_id: str, version: Path, fetched: Path) -> None:
        """Move a fetched folder into place as ``version`` and drop the run's older versions; a
        report running beside this one sees either no version or a whole one."""
        for old in (self.folder / run_id).glob("*"):
            if old != version:
                shutil.rmtree(old, ignore_errors=True)
        version.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(fetched, version)
        except OSError:  # another report kept the same version first: its files are the same
            pass

    def clear(self) -> None:
        """Remove every cached file."""
        shutil.rmtree(self.folder, ignore_errors=True)


def read_table(path: Path) -> pd.DataFrame:
    """A stored prediction table, with the column types :func:`sertext.tracking.load_predictions` gives."""
    return pd.read_csv(path, dtype=READ_TYPES)
