"""One line per stage on stderr, so that a long aggregation or report never looks hung.

Stdout stays what it was (the results tables that people and tests read); these lines go to
stderr, each with the seconds since the work began::

    report [  21.4 s] statistics: t-tests over seeds, paired tests over folds, seed power
"""

from __future__ import annotations

import sys
import time


class Stages:
    """Announces the stages of one piece of work (``what``) as they begin.

    Args:
        what: the work, at the start of every line (``sertext report``).
        enabled: ``False`` prints nothing.
        stream: where lines go (default: stderr at the time of each line, which pytest's capsys sees).
    """

    def __init__(self, what: str, *, enabled: bool = True, stream=None) -> None:
        self.what, self.enabled, self.stream = what, enabled, stream
        self.started = time.perf_counter()

    def begin(self, stage: str, detail: str = "") -> None:
        """Print that ``stage`` begins (with what it does, ``detail``)."""
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.started
        line = f"{self.what} [{elapsed:6.1f} s] {stage}" + (f": {detail}" if detail else "")
        print(line, file=self.stream or sys.stderr, flush=True)
