"""Which precision a trial trains and evaluates in on its device.

- CUDA: mixed precision unless ``train.amp`` is false: bfloat16 where the card has it, else float16
  (with a gradient scaler).
- CPU: bfloat16 autocast when the CPU computes bfloat16 natively (AVX512-BF16 or AMX: current Xeons,
  AMD Zen 4 and later), where it trains CNN14 faster than float32 (``bench/train_step.py``); float32
  elsewhere, where bfloat16 is emulated and several times slower.  ``train.amp`` true or false
  overrides the detection either way.

:func:`cpu_description` names the CPU and its bfloat16 support beside every figure the benchmarks
write, since results differ in the last digits between CPUs and precisions.
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

import torch

CPUINFO = Path("/proc/cpuinfo")
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpuinfo_field(name: str) -> str:
    """The first value of a field of /proc/cpuinfo ("" where there is none, e.g. on macOS)."""
    try:
        for line in CPUINFO.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return ""


@functools.cache
def native_cpu_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively: torch's own check where this build has it,
    else the CPU flags."""
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if all(check is not None for check in checks):
        return any(check() for check in checks)
    return bool(set(_cpuinfo_field("flags").split()) & set(NATIVE_BF16_FLAGS))


def cpu_description() -> str:
    """E.g. ``"AMD EPYC, 2 cores, AVX512, native bf16"``: the CPU model, cores, torch's vector
    capability and whether bfloat16 is native."""
    model = _cpuinfo_field("model name") or platform.processor() or platform.machine()
    capability = torch.backends.cpu.get_cpu_capability()
    bf16 = "native bf16" if native_cpu_bf16() else "no native bf16"
    return f"{model}, {os.cpu_count()} cores, {capability}, {bf16}"


def trial_device(name: str) -> torch.device:
    """``train.device`` as a torch device: ``"auto"`` is CUDA where there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast_dtype(amp: bool | None, device: torch.device) -> torch.dtype | None:
    """The dtype to autocast to on ``device``, or None for float32.

    Args:
        amp: ``train.amp``: True or False decide; None (the default) takes mixed precision on
            CUDA, and bfloat16 on a CPU only where it is native.
        device: the trial's device.
    """
    if device.type == "cuda":
        if amp is False:
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and (amp if amp is not None else native_cpu_bf16()):
        return torch.bfloat16
    return None


def precision_name(amp: bool | None, device: str = "auto") -> str:
    """``"bf16"``, ``"fp16"`` or ``"fp32"``: the precision a trial with ``train.amp`` and
    ``train.device`` computes in here, as its run records it."""
    dtype = autocast_dtype(amp, trial_device(device))
    return {torch.bfloat16: "bf16", torch.float16: "fp16", None: "fp32"}[dtype]
