"""The errors that mean a bad input or a bad definition, not a bug: the ``sertext`` command and
the sweep scripts show them as one line naming the file (and line) or the key, never as a
traceback (docs/bad-input.md lists them)."""

from sertext.data.audio import AudioError
from sertext.features.cache import FeatureCacheError

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, AudioError, FeatureCacheError)
