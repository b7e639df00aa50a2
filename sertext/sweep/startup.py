"""What a sweep spends before its first trial, stage by stage.

The driver times each stage (reading the corpus, checking inputs, joining or starting Ray, the
feature cache, the MLflow set-up) and prints one line, e.g.
``start-up 9.8 s: corpus 0.3 s, checks 0.2 s, Ray 4.1 s, features 0.6 s, MLflow 0.6 s (alongside:
MLflow store 2.9 s)``, so a user waiting for the first trial sees where the seconds went; work done
in a background thread meanwhile (creating the MLflow store while Ray starts) is listed after
"alongside", as it adds to no stage.  ``bench/startup.py`` reads the same line.
"""

from __future__ import annotations

import re
import time

LINE_START = "start-up "


class StartUp:
    """Stage timings of one sweep's start-up: call :meth:`done` as each stage ends."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.alongside: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, stage: str) -> None:
        """Record the seconds since the previous stage ended (or since this timer began)."""
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now

    def timed(self, task: str, call, *args):
        """``call(*args)``, its seconds recorded as work done alongside the stages (in a thread)."""
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            self.alongside[task] = time.perf_counter() - started

    def line(self) -> str:
        """The one line a sweep prints: the total, each stage, then what ran alongside them."""
        line = f"{LINE_START}{sum(self.seconds.values()):.1f} s: {_listed(self.seconds)}"
        return f"{line} (alongside: {_listed(self.alongside)})" if self.alongside else line


def _listed(seconds: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())


def parse_line(text: str) -> tuple[dict[str, float], dict[str, float]]:
    """The stages and seconds of the start-up line in a sweep's output, and what ran alongside
    them (two empty dicts where there is no such line).

    >>> parse_line("...\\nstart-up 2.5 s: corpus 0.5 s, Ray 2.0 s (alongside: MLflow store 1.5 s)\\n...")
    ({'corpus': 0.5, 'Ray': 2.0}, {'MLflow store': 1.5})
    """
    for line in text.splitlines():
        if line.startswith(LINE_START):
            stages, _, alongside = line.partition(": ")[2].partition(" (alongside: ")
            return _parsed(stages), _parsed(alongside.removesuffix(")"))
    return {}, {}


def _parsed(listed: str) -> dict[str, float]:
    """``{"corpus": 0.5, ...}`` from ``"corpus 0.5 s, ..."``."""
    return {name: float(value) for name, value in re.findall(r"\s*([^,]+?) ([\d.]+) s(?=,|$)", listed.strip())}
