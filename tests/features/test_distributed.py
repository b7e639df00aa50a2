"""Feature extraction as Ray tasks on a two-node cluster (the ``cluster`` fixture: this test's own,
stopped at the end): every missing entry computed once, nothing again when warm, and after a
failed launch a relaunch computes exactly what is still missing."""

import pytest

from sertext.data import load_corpus
from sertext.features import FeatureCache, LogMelExtractor, extract
from sertext.features.distributed import extract_on_cluster, missing_rows


def entries(cache):
    return sorted(cache.root.rglob("*.npy"))


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
