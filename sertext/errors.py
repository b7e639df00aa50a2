"""The errors that mean a bad input or a bad definition, not a bug: the ``sertext`` command and
the sweep scripts show them as one line naming the file (and line) or the key, never as a
traceback (docs/bad-input.md lists them).  Light to import: no torch."""

from sertext.data.audio import AudioError


class FeatureCacheError(OSError):
    """The cache folder cannot be written (read-only, full, …); the message names the path."""


USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, AudioError, FeatureCacheError)
