"""Feature extraction as Ray tasks on a two-node cluster (the ``cluster`` fixture: this test's own,
stopped at the end): every missing entry computed once, nothing again when warm, and after a
failed launch or a driver killed mid-way a relaunch computes exactly what is still missing."""

import os
import signal
import subprocess
import sys
import time

import pytest

from sertext.data import load_corpus
from sertext.features import FeatureCache, LogMelExtractor, extract
from sertext.features.distributed import extract_on_cluster, missing_rows


def entries(cache):
    """The cache's finished entries (not the temporary files of a write cut off by a kill)."""
    return sorted(p for p in cache.root.rglob("*.npy") if not p.name.startswith(".tmp-"))


# A sweep driver extracting one utterance per task, slowly enough to be killed mid-way; the extractor
# is defined in __main__, so Ray ships it to the workers by value.
DRIVER = """
import sys, time
from dataclasses import dataclass
import ray
from sertext.data import load_corpus
from sertext.features import FeatureCache, LogMelExtractor
from sertext.features.distributed import extract_on_cluster

@dataclass(frozen=True)
class SlowLogMel(LogMelExtractor):
    def compute(self, rows, contents):
        time.sleep(0.5)
        return super().compute(rows, contents)

address, root, cache = sys.argv[1:]
ray.init(address=address, log_to_driver=False)
extract_on_cluster(load_corpus("iemocap", root), SlowLogMel(), FeatureCache(cache), chunk=1, progress=False)
"""


@pytest.mark.slow
@pytest.mark.ray
def test_extraction_on_the_cluster_fills_the_cache_and_resumes_after_a_failure(tiny_demo_root, tmp_path, cluster):
    import shutil

    import ray

    root = shutil.copytree(tiny_demo_root, tmp_path / "corpus")  # its own copy: one wav gets broken
    table = load_corpus("iemocap", root)
    n = len(table)  # every demo utterance sounds different: one cache entry each
    assert table["path"].map(lambda p: open(p, "rb").read()).nunique() == n
    cache = FeatureCache(tmp_path / "cache")
    bad = table["path"].iloc[2]  # one unreadable wav: its task fails, the others finish and stay
    original = open(bad, "rb").read()
    open(bad, "wb").write(b"RIFF not a wav")
    with pytest.raises(ray.exceptions.RayTaskError, match=str(bad).rsplit("/", 1)[1]):
        extract_on_cluster(table, LogMelExtractor(), cache, chunk=1, progress=False)
    assert len(entries(cache)) == n - 1
    open(bad, "wb").write(original)
    assert len(missing_rows(table, LogMelExtractor(), cache)) == 1
    assert extract_on_cluster(table, LogMelExtractor(), cache, chunk=2, progress=False) == 1  # only the missing one
    assert len(entries(cache)) == n
    assert extract_on_cluster(table, LogMelExtractor(), cache, progress=False) == 0  # warm: nothing to do
    local = FeatureCache(tmp_path / "local")  # the same features as extracting in this process
    mine, theirs = extract(table, LogMelExtractor(), local, progress=False), extract(table, LogMelExtractor(), cache)
    assert all((mine[u] == theirs[u]).all() for u in mine)


def wait_until_steady(count, seconds: float = 3.0, limit: float = 60.0) -> int:
    """``count()`` once it has not changed for ``seconds`` (a killed driver's tasks are ended by Ray)."""
    last, since, start = count(), time.monotonic(), time.monotonic()
    while time.monotonic() - since < seconds and time.monotonic() - start < limit:
        time.sleep(0.2)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
    return last


@pytest.mark.slow
@pytest.mark.ray
def test_a_relaunch_after_the_driver_is_killed_mid_extraction_computes_only_what_is_missing(
        tiny_demo_root, tmp_path, cluster):
    table = load_corpus("iemocap", tiny_demo_root)
    n, cache = len(table), FeatureCache(tmp_path / "cache")
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, cluster.address, str(tiny_demo_root), str(cache.root)])
    try:
        deadline = time.monotonic() + 120
        while len(entries(cache)) < 4 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert driver.poll() is None, "the driver ended before it could be killed mid-way"
    finally:
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    done = wait_until_steady(lambda: len(entries(cache)))
    assert 4 <= done < n
    assert all(cache.load("log-mel", path.stem) is not None for path in entries(cache))  # no half entry
    assert len(missing_rows(table, LogMelExtractor(), cache)) == n - done
    assert extract_on_cluster(table, LogMelExtractor(), cache, progress=False) == n - done
    assert len(entries(cache)) == n
