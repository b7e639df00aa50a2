"""Which precision a trial computes in: detected per device, overridden by ``train.amp``."""

import pytest
import torch

from sertext import precision
from sertext.config import TrialConfig

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.fixture
def native(monkeypatch):
    """Pretend the CPU has (True) or lacks (False) native bf16."""

    def set_native(value: bool) -> None:
        monkeypatch.setattr(precision, "native_cpu_bf16", lambda: value)

    return set_native


@pytest.mark.parametrize(("has_native", "expected"), [(True, torch.bfloat16), (False, None)])
def test_a_cpu_trial_takes_bf16_by_default_only_where_it_is_native(native, has_native, expected):
    native(has_native)
    assert precision.autocast_dtype(None, CPU) is expected


@pytest.mark.parametrize("has_native", [True, False])
def test_train_amp_decides_on_the_cpu_when_given(native, has_native):
    native(has_native)
    assert precision.autocast_dtype(True, CPU) is torch.bfloat16
    assert precision.autocast_dtype(False, CPU) is None


@pytest.mark.parametrize(("bf16_card", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_cuda_trains_in_mixed_precision_unless_turned_off(monkeypatch, bf16_card, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16_card)
    assert precision.autocast_dtype(None, CUDA) is expected
    assert precision.autocast_dtype(True, CUDA) is expected
    assert precision.autocast_dtype(False, CUDA) is None


def test_the_run_records_the_precision_it_computed_in(native):
    native(True)
    assert precision.precision_name(None, "cpu") == "bf16"
    assert precision.precision_name(False, "cpu") == "fp32"
    native(False)
    assert precision.precision_name(None, "cpu") == "fp32"


@pytest.mark.parametrize(("flags", "expected"), [
    ("fpu sse2 avx2 avx512f avx512_bf16", True),  # AMD Zen 4, Cooper Lake
    ("fpu sse2 avx2 avx512f amx_bf16 amx_tile", True),  # Sapphire Rapids and later
    ("fpu sse2 avx2 fma", False),  # AVX2 only: bf16 is emulated
])
def test_without_torchs_check_the_cpu_flags_decide(monkeypatch, tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    monkeypatch.setattr(precision, "CPUINFO", cpuinfo)
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    precision.native_cpu_bf16.cache_clear()
    try:
        assert precision.native_cpu_bf16() is expected
        assert precision.cpu_description().startswith("Some CPU, ")
    finally:
        precision.native_cpu_bf16.cache_clear()


def test_train_amp_defaults_to_detection_and_parses_from_set():
    assert TrialConfig().train.amp is None
    assert TrialConfig.from_dict({"train.amp": False}).train.amp is False
