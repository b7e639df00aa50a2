"""An on-disk feature store shared by every trial, sweep, process and node that sees the folder.

An entry's key is a hash of the extractor's name and settings, :data:`FEATURE_VERSION` and the
content of the input (the wav's bytes or the text), so a feature is computed once per corpus and
setting, and a changed setting or a changed file can never return a stale feature.

Entries are written to a temporary file and moved into place (atomic on POSIX), so concurrent
readers never see half an entry and concurrent writers of the same entry are harmless.  Each
entry carries a SHA-256 of its payload: a corrupt entry is detected, deleted and recomputed, never
loaded.  An entry verified once can then be memory-mapped (:meth:`FeatureCache.map`), so a reader
reads only the part of the array it uses.
"""

from __future__ import annotations

import hashlib
import io
import json
import mmap
import os
import tempfile
from pathlib import Path

import numpy as np

from sertext.errors import FeatureCacheError

#: Bump when extraction code changes in a way that changes features.
FEATURE_VERSION = 1
_MAGIC = b"SERTEXT-FEATURE-1\n"
_DIGEST_BYTES = 32


def entry_key(extractor: str, settings: dict, content_digest: str) -> str:
    """The cache key of one input under one extractor setting."""
    described = json.dumps({"extractor": extractor, "settings": settings, "version": FEATURE_VERSION,
                            "content": content_digest}, sort_keys=True, default=str)
    return hashlib.sha256(described.encode()).hexdigest()


def content_digest(data: bytes) -> str:
    """SHA-256 of an input's bytes (a wav file, an utf-8 text)."""
    return hashlib.sha256(data).hexdigest()


class FeatureCache:
    """Arrays stored under ``root/<extractor>/<key[:2]>/<key>.npy``.

    Args:
        root: the cache folder (created when first written).
    """

    def __init__(self, root) -> None:
        self.root = Path(root).expanduser().resolve()

    def path(self, extractor: str, key: str) -> Path:
        return self.root / extractor / key[:2] / f"{key}.npy"

    def load(self, extractor: str, key: str) -> np.ndarray | None:
        """The stored array, or ``None`` when absent or corrupt (a corrupt entry is deleted)."""
        path = self.path(extractor, key)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        header = len(_MAGIC) + _DIGEST_BYTES
        payload = blob[header:]
        if blob[: len(_MAGIC)] != _MAGIC or hashlib.sha256(payload).digest() != blob[len(_MAGIC):header]:
            path.unlink(missing_ok=True)
            return None
        try:
            return np.load(io.BytesIO(payload), allow_pickle=False)
        except ValueError:
            path.unlink(missing_ok=True)
            return None

    def map(self, extractor: str, key: str, shape: tuple, dtype) -> np.ndarray | None:
        """An entry that :meth:`load` has verified, as a read-only array over a memory map of its
        file, or ``None`` when absent or no longer of that size.

        ``shape`` and ``dtype`` are the verified array's: an entry's data are the last bytes of its
        file (stored C-contiguous), so nothing is parsed, and pages are read only when touched.
        The checksum is not checked again (that would read the whole entry).
        """
        dtype, count = np.dtype(dtype), int(np.prod(shape))
        if count == 0:  # mmap cannot map nothing
            return np.empty(shape, dtype)
        try:
            with self.path(extractor, key).open("rb") as handle:
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (FileNotFoundError, ValueError):  # ValueError: an empty file
            return None
        offset = len(mapped) - count * dtype.itemsize
        return np.frombuffer(mapped, dtype, count, offset).reshape(shape) if offset >= 0 else None

    def store(self, extractor: str, key: str, array: np.ndarray) -> None:
        """Write an entry atomically.

        Raises:
            FeatureCacheError: if the folder cannot be written; no partial entry is left behind.
        """
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        payload = buffer.getvalue()
        path = self.path(extractor, key)
        temporary = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
            with os.fdopen(handle, "wb") as out:
                out.write(_MAGIC + hashlib.sha256(payload).digest() + payload)
            os.replace(temporary, path)
        except OSError as exc:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            raise FeatureCacheError(f"cannot write feature cache entry under {path.parent}: {exc}") from exc
