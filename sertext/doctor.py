"""``sertext doctor``: is this installation whole, and is it the one CI tested?

Imports every heavy dependency one by one (so a broken one is named, not buried in a traceback
from deep inside a sweep), then runs sertext's own smallest path through them: eSpeak NG speech →
log-Mel (torch, torchaudio) → one CNN14 step, and a sentence through the offline text encoder.
It also compares the installed versions with ``requirements.lock`` when the lock is beside the
package (an install from the repository).  ``.ci/run`` runs it right after the install, so a
broken pair of compiled packages fails CI in seconds instead of after the test suite.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# (import name, distribution name) of every dependency with compiled code or a slow import.
HEAVY = (
    ("torch", "torch"),
    ("torchaudio", "torchaudio"),
    ("transformers", "transformers"),
    ("ray.tune", "ray"),
    ("mlflow", "mlflow"),
    ("optuna", "optuna"),
    ("resemblyzer", "resemblyzer"),
    ("pyAudioAnalysis.ShortTermFeatures", "pyAudioAnalysis"),
)
LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"
REINSTALL = "pip install -c requirements.lock -e .   (in the sertext folder)"


@dataclass
class Outcome:
    """One check: its name, whether it passed, what it found (or why it failed), seconds."""

    name: str
    ok: bool
    detail: str
    seconds: float


def version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``"not installed"``."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def pinned_pair() -> dict[str, str]:
    """The exact torch and torchaudio versions sertext's own metadata pins (``{}`` if unpinned)."""
    pins = {}
    for requirement in importlib.metadata.requires("sertext") or []:
        name, _, pinned = requirement.partition("==")
        if name.strip() in ("torch", "torchaudio") and pinned:
            pins[name.strip()] = pinned.split(";")[0].strip()
    return pins


def check_import(module: str, distribution: str) -> Outcome:
    """Import ``module``; on failure say which package broke and, for the compiled pair, which
    versions are installed and which sertext was tested with."""
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():  # e.g. webrtcvad's pkg_resources deprecation: not a finding
            warnings.simplefilter("ignore")
            importlib.import_module(module)
    except Exception as error:  # noqa: BLE001 - any import failure is the finding
        reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        detail = f"{distribution} {version(distribution)} does not import ({reason[:300]})"
        pins = pinned_pair()
        if distribution in pins:
            installed = ", ".join(f"{name} {version(name)}" for name in pins)
            tested = " + ".join(f"{name} {pin}" for name, pin in pins.items())
            detail += f"; installed: {installed}; sertext is tested with {tested}"
        return Outcome(distribution, False, f"{detail}. Reinstall: {REINSTALL}", time.perf_counter() - start)
    return Outcome(distribution, True, version(distribution), time.perf_counter() - start)


def locked_versions(lock: Path = LOCK) -> dict[str, str]:
    """``{distribution: version}`` of a pip-freeze style lock file (comments skipped)."""
    pins = {}
    for line in lock.read_text().splitlines():
        name, _, pinned = line.split("#")[0].strip().partition("==")
        if pinned:
            pins[_normal(name)] = pinned.strip()
    return pins


def lock_differences(lock: Path = LOCK) -> list[str]:
    """``name: installed X, locked Y`` for every locked package installed at another version."""
    installed = {}
    # setuptools puts its vendored packages (with their own metadata) on sys.path once
    # pkg_resources is imported; those are not what pip installed.
    for dist in importlib.metadata.distributions(path=[p for p in sys.path if "_vendor" not in p]):
        installed.setdefault(_normal(dist.metadata["Name"]), dist.version)
    return [f"{name}: installed {installed[name]}, locked {pinned}"
            for name, pinned in sorted(locked_versions(lock).items())
            if name in installed and installed[name] != pinned]


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def check_speech_path() -> str:
    """Speech from eSpeak NG → 16 kHz (torchaudio) → log-Mel → one CNN14 training step."""
    import torch
    import torchaudio

    from sertext.data.espeak import synthesiser
    from sertext.features.log_mel import log_mel
    from sertext.models.cnn14 import CNN14

    speech = synthesiser().synthesise("is this working", voice="en-us", rate=175, volume=100, pitch=50,
                                      pitch_range=50)
    audio = torchaudio.functional.resample(torch.from_numpy(speech.samples), speech.sample_rate_hz, 16_000)
    mel = torch.from_numpy(log_mel(audio.numpy()))
    torch.manual_seed(0)
    loss = torch.nn.functional.cross_entropy(CNN14(4, width=0.0625)(mel[None]), torch.tensor([0]))
    loss.backward()
    if not torch.isfinite(loss):
        raise RuntimeError(f"CNN14 loss is {float(loss)}")
    return f"{len(audio) / 16_000:.1f} s of eSpeak NG speech → log-Mel {tuple(mel.shape)} → a CNN14 step"


def check_text_path() -> str:
    """One sentence through the offline default text encoder; returns the embedding size."""
    from transformers.utils import logging

    from sertext.features.text import TextEncoder

    logging.disable_progress_bar()  # the weights load in a blink; a bar would only clutter the report
    embedding = TextEncoder().encode(["is this working"])[0]
    return f"text embedding of {embedding.shape[0]} dimensions (offline MiniLM)"


def run_check(name: str, check: Callable[[], str]) -> Outcome:
    start = time.perf_counter()
    try:
        detail = check()
    except Exception as error:  # noqa: BLE001 - any failure is the finding
        return Outcome(name, False, f"{type(error).__name__}: {str(error)[:300]}", time.perf_counter() - start)
    return Outcome(name, True, detail, time.perf_counter() - start)


def diagnose(say: Callable[[str], None] = print) -> bool:
    """Run every check, printing a line each; return whether all passed.  Stops after the first
    failed import (what follows would fail for the same reason)."""
    say(f"sertext {version('sertext')} on Python {platform.python_version()}, {platform.system()} "
        f"{platform.machine()}")
    for module, distribution in HEAVY:
        outcome = check_import(module, distribution)
        say(_line(outcome))
        if not outcome.ok:
            return False
    say(_line(run_check("torch device", _device)))
    results = [run_check("speech path", check_speech_path), run_check("text path", check_text_path)]
    for outcome in results:
        say(_line(outcome))
    if LOCK.is_file():
        say(_lock_line(lock_differences()))
    return all(outcome.ok for outcome in results)


def _device() -> str:
    import torch

    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU build"
    if torch.cuda.is_available():
        return f"{build}; GPU: {torch.cuda.get_device_name(0)} (and {torch.cuda.device_count() - 1} more)"
    return f"{build}; no GPU visible, trials run on the CPU"


def _line(outcome: Outcome) -> str:
    mark = "ok" if outcome.ok else "FAILED"
    return f"  {outcome.name:16s} {mark:6s} {outcome.detail}  ({outcome.seconds:.1f} s)"


def _lock_line(differences: list[str]) -> str:
    """``lock ok`` or ``lock DIFFERS`` with the first ten differing packages (a warning: sertext
    may well work, but not on the versions its tests ran on)."""
    if not differences:
        return f"  {'lock':16s} {'ok':6s} every installed package is at its requirements.lock version"
    shown = "".join(f"\n      {difference}" for difference in differences[:10])
    more = f"\n      … and {len(differences) - 10} more" if len(differences) > 10 else ""
    return (f"  {'lock':16s} DIFFERS from requirements.lock in {len(differences)} package(s):{shown}{more}"
            f"\n      the tests ran on the locked versions; to match them: {REINSTALL}")
