"""The shared feature cache: keys, atomic writes, corruption, concurrency, warm reuse."""

import ctypes
import multiprocessing
import os
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest

from sertext.features import FeatureCache, FeatureCacheError, LogMelConfig, LogMelExtractor, extract
from sertext.features.cache import entry_key
from tests.fixtures import CountingExtractor, wav_table, write_wav


def test_key_changes_with_every_setting_and_the_content():
    base = entry_key("log-mel", LogMelConfig().settings(), "abc")
    assert entry_key("log-mel", LogMelConfig().settings(), "abc") == base
    assert entry_key("log-mel", LogMelConfig().settings(), "abd") != base
    assert entry_key("text", LogMelConfig().settings(), "abc") != base
    for change in ({"n_mels": 80}, {"hop_length": 320}, {"f_min_hz": 0.0}, {"n_fft": 1024}):
        assert entry_key("log-mel", LogMelConfig(**change).settings(), "abc") != base


def test_round_trip_and_corrupt_entry_is_not_loaded(tmp_path):
    cache = FeatureCache(tmp_path)
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    cache.store("x", "ab12", array)
    assert np.array_equal(cache.load("x", "ab12"), array)
    path = cache.path("x", "ab12")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # flip bits in the payload
    path.write_bytes(bytes(data))
    assert cache.load("x", "ab12") is None
    assert not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"truncated")
    assert cache.load("x", "ab12") is None


def _write_many(root, seed):
    cache = FeatureCache(root)
    for i in range(50):
        cache.store("x", "cd34", np.full((100, 64), i % 7, dtype=np.float32))
        loaded = cache.load("x", "cd34")
        assert loaded is not None and loaded.shape == (100, 64) and len(set(loaded.ravel())) == 1


def test_concurrent_writers_and_readers_never_see_half_an_entry(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(tmp_path, s)) for s in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert not list(tmp_path.rglob(".tmp-*"))


def test_unwritable_cache_is_a_clear_error_and_leaves_nothing(tmp_path):
    blocker = tmp_path / "x"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(FeatureCacheError, match="cannot write feature cache entry"):
        FeatureCache(tmp_path).store("x", "ef56", np.zeros(3))
    assert blocker.read_text() == "a file where a folder should be"


def test_warm_extraction_computes_nothing_and_changed_audio_is_recomputed(tmp_path):
    table = wav_table(tmp_path, [0.2, 0.3, 0.4, 0.5, 0.6], text="")
    cache = FeatureCache(tmp_path / "cache")
    calls = []
    cold = extract(table, CountingExtractor(LogMelExtractor(), calls), cache, progress=False)
    assert sum(calls) == 5
    warm = extract(table, CountingExtractor(LogMelExtractor(), calls), cache, progress=False)
    assert sum(calls) == 5
    assert all(np.array_equal(cold[u], warm[u]) for u in cold)
    assert list(warm) == table["utt_id"].tolist()
    write_wav(tmp_path / "u0.wav", seconds=0.9)  # content changed: a new key
    extract(table, CountingExtractor(LogMelExtractor(), calls), cache, progress=False)
    assert sum(calls) == 6


def _features_command(root, cache, preexec):
    """``sertext features`` (log-Mel) in a child process whose file-system limits ``preexec`` sets."""
    return subprocess.run([sys.executable, "-m", "sertext.cli", "features", "iemocap", str(root), "--extractor",
                           "log-mel", "--cache-dir", str(cache), "--quiet"], capture_output=True, text=True,
                          preexec_fn=preexec)


def _without_permission_override():
    """Make root obey file permissions too: drop the capabilities that bypass them from the
    bounding set, so the exec'd process runs without them."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for capability in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
            if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _files(cache):
    return sorted(p.relative_to(cache) for p in cache.rglob("*") if p.is_file())


def _assert_one_clear_line(result, cache, reason):
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"sertext features: error: cannot write feature cache entry under {cache.resolve()}/log-mel/"), lines
    assert reason in lines[0]


def test_a_cache_folder_turned_read_only_is_a_clear_error_and_keeps_its_entries(iemocap_root, tmp_path):
    cache = tmp_path / "cache"
    extract(wav_table(tmp_path, [0.2, 0.3]), LogMelExtractor(), FeatureCache(cache), progress=False)
    before = _files(cache)
    for folder in [cache, *(p for p in cache.rglob("*") if p.is_dir())]:
        folder.chmod(0o555)
    try:
        result = _features_command(iemocap_root, cache, _without_permission_override)
    finally:
        for folder in [cache, *(p for p in cache.rglob("*") if p.is_dir())]:
            folder.chmod(0o755)
    _assert_one_clear_line(result, cache, "Permission denied")
    assert _files(cache) == before and len(before) == 2


def _file_size_limit():
    """A disk that is full after 4 kB per file (a log-Mel entry is larger): writes past it fail
    with EFBIG instead of killing the process."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_a_full_cache_disk_is_a_clear_error_and_leaves_no_half_written_entry(iemocap_root, tmp_path):
    cache = tmp_path / "cache"
    result = _features_command(iemocap_root, cache, _file_size_limit)
    _assert_one_clear_line(result, cache, "File too large")
    assert _files(cache) == []  # neither the entry nor its temporary file
