"""CNN14 training throughput: samples/s at batch 64 with 5 s crops (500 log-Mel frames), side by side.

For each width, the same model trains in four variants: fp32 or mixed precision (bf16 autocast) ×
log-Mel from cached features (random 500-frame crops of in-memory log-Mels, as the trainer feeds
them) or computed on the fly inside each step from random 5 s waveform crops with sertext's own
front end (:class:`sertext.features.log_mel.LogMel`, PANNs 16 kHz settings).  On CUDA, bf16 with
channels-last is a third precision.  The variants are interleaved (A, B, C, D, A, B, …) for
``--repeats`` rounds, so that load from other processes hits them alike, and the median is
reported; each measurement runs steps until ``--min-seconds`` have passed (at least one), after one
warm-up step per model and precision.

FLOPs per training sample (forward + backward: the convolutions and matrix products that
``torch.utils.flop_counter.FlopCounterMode`` counts, on the meta device so nothing runs; the
log-Mel front end is not counted) give the achieved GFLOP/s, and on CUDA the TFLOP/s and their
share of the card's bf16 dense peak (bf16 rows).  A CPU without native bf16 (AVX512-BF16 or AMX)
emulates it, many times slower than fp32, so on CPU bf16 is measured only up to
``--cpu-bf16-max-width``.  Writes ``bench/results/train_step_<cpu|gpu>.json``.

Run: python bench/train_step.py [--widths 0.0625 0.125 0.25 1.0] [--repeats 3] [--min-seconds 6]
"""

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from sertext.features.log_mel import LogMel, LogMelConfig
from sertext.models import build
from sertext.precision import cpu_description, native_cpu_bf16

BATCH = 64
FRAMES = 500  # 5 s at a 10 ms hop
N_MELS = LogMelConfig().n_mels
CROP_SAMPLES = (FRAMES - 1) * LogMelConfig().hop_length  # centred frames: 1 + samples // hop = 500
UTTERANCE_S = 6  # longer than the crop, so crops start at random places
# bf16 dense tensor-core peaks (NVIDIA datasheets, TFLOP/s); the first name found in the device's wins
BF16_PEAK_TFLOPS = {"H100 PCIe": 756, "H100 NVL": 835, "H200 NVL": 835, "H100": 989, "H200": 989}


@dataclass(frozen=True)
class Variant:
    """One measured setting of a width."""

    precision: str  # "fp32", "bf16" (autocast) or "bf16+channels-last" (CUDA)
    input: str  # "cached" or "on-the-fly"

    @property
    def channels_last(self) -> bool:
        return self.precision.endswith("channels-last")


class Inputs:
    """Batches of log-Mel crops: from in-memory log-Mels, or computed from waveform crops."""

    def __init__(self, device: torch.device, rng: np.random.Generator) -> None:
        self.device, self.rng = device, rng
        sample_rate = LogMelConfig().sample_rate_hz
        self.waveforms = (0.1 * rng.standard_normal((BATCH, UTTERANCE_S * sample_rate))).astype(np.float32)
        self.front_end = LogMel().to(device)
        with torch.no_grad():
            self.log_mels = LogMel()(torch.from_numpy(self.waveforms)).numpy()  # (B, frames, mels)

    def _crops(self, arrays: np.ndarray, length: int) -> torch.Tensor:
        starts = self.rng.integers(0, arrays.shape[1] - length + 1, size=len(arrays))
        return torch.from_numpy(np.stack([a[s:s + length] for a, s in zip(arrays, starts, strict=True)]))

    def cached(self) -> torch.Tensor:
        return self._crops(self.log_mels, FRAMES).to(self.device)

    @torch.no_grad()
    def on_the_fly(self) -> torch.Tensor:
        return self.front_end(self._crops(self.waveforms, CROP_SAMPLES).to(self.device))


def flops_per_sample(width: float) -> float:
    """FLOPs of one training sample (forward + backward) of CNN14 at ``width``, counted on meta tensors."""
    with torch.device("meta"):
        model = build("cnn14", n_outputs=4, width=width).train()
        x, y = torch.empty(BATCH, FRAMES, N_MELS), torch.zeros(BATCH, dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / BATCH


def make_step(width: float, variant: Variant, inputs: Inputs, models: dict):
    """A function running one training step (SGD, Nesterov 0.9, as the paper) of the variant; models
    are shared by the variants of a width with the same memory format."""
    key = (width, variant.channels_last)
    if key not in models:
        torch.manual_seed(0)
        model = build("cnn14", n_outputs=4, width=width).to(inputs.device).train()
        if variant.channels_last:
            model = model.to(memory_format=torch.channels_last)
        models[key] = model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    model, optimizer = models[key]
    batch = inputs.cached if variant.input == "cached" else inputs.on_the_fly
    y = torch.arange(BATCH, device=inputs.device) % 4

    def step() -> None:
        x = batch()
        with torch.autocast(inputs.device.type, dtype=torch.bfloat16, enabled=variant.precision != "fp32"):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def samples_per_second(step, device: torch.device, min_seconds: float) -> tuple[float, int]:
    """Samples/s over as many steps as fill ``min_seconds`` (at least one), and the step count."""
    steps, start = 0, time.perf_counter()
    while True:
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return BATCH * steps / elapsed, steps


def plan(widths: list, device: torch.device, cpu_bf16_max_width: float) -> tuple[dict, list]:
    """``{width: [Variant]}`` to measure, and the variants left out with the reason."""
    precisions = ("fp32", "bf16", "bf16+channels-last") if device.type == "cuda" else ("fp32", "bf16")
    measured, skipped = {}, []
    for width in widths:
        measured[width] = []
        for precision in precisions:
            for source in ("cached", "on-the-fly"):
                if device.type == "cpu" and precision == "bf16" and width > cpu_bf16_max_width:
                    skipped.append({"width": width, "precision": precision, "input": source,
                                    "reason": f"wider than --cpu-bf16-max-width {cpu_bf16_max_width:g}: a CPU without "
                                              "native bf16 emulates it (see bf16 / fp32 at the narrower widths)"})
                else:
                    measured[width].append(Variant(precision, source))
    return measured, skipped


def measure(widths: list, device: torch.device, repeats: int, min_seconds: float,
            cpu_bf16_max_width: float) -> tuple[list, list]:
    """Rows per (width, variant) with the median of interleaved repeats, and the skipped variants."""
    variants, skipped = plan(widths, device, cpu_bf16_max_width)
    inputs, models = Inputs(device, np.random.default_rng(0)), {}
    steps = {(w, v): make_step(w, v, inputs, models) for w in widths for v in variants[w]}
    warmed = set()
    for (width, variant), step in steps.items():
        if (width, variant.precision) not in warmed:
            step()
            warmed.add((width, variant.precision))
    rates = {key: [] for key in steps}
    counts = {key: [] for key in steps}
    for repeat in range(repeats):
        for key, step in steps.items():
            rate, n = samples_per_second(step, device, min_seconds)
            rates[key].append(round(rate, 2))
            counts[key].append(n)
            print(f"repeat {repeat + 1}/{repeats}  width {key[0]:<6g} {key[1].precision:18s} {key[1].input:10s} "
                  f"{rate:8.2f} samples/s ({n} steps)", flush=True)
    rows = [{"width": w, "precision": v.precision, "input": v.input, "samples_per_s": statistics.median(rates[w, v]),
             "per_repeat": rates[w, v], "steps_per_repeat": counts[w, v]} for w, v in steps]
    return rows, skipped


def add_flops(rows: list, device_name: str, cuda: bool) -> dict:
    """Add achieved GFLOP/s (and on CUDA TFLOP/s and share of the bf16 peak) to ``rows``; the FLOPs
    per sample by width."""
    per_sample = {w: flops_per_sample(w) for w in sorted({r["width"] for r in rows})}
    peak = next((p for name, p in BF16_PEAK_TFLOPS.items() if name in device_name), None) if cuda else None
    for row in rows:
        achieved = per_sample[row["width"]] * row["samples_per_s"]
        row["gflop_per_s"] = round(achieved / 1e9, 2)
        if cuda:
            row["tflop_per_s"] = round(achieved / 1e12, 2)
            if peak and row["precision"] != "fp32":
                row["share_of_bf16_peak"] = round(achieved / 1e12 / peak, 3)
    return {str(w): round(f / 1e9, 3) for w, f in per_sample.items()}


def ratios(rows: list) -> list:
    """Per width: bf16 / fp32 for each input, and cached / on-the-fly for each precision."""
    rate = {(r["width"], r["precision"], r["input"]): r["samples_per_s"] for r in rows}
    out = []
    for width in sorted({r["width"] for r in rows}):
        entry = {"width": width}
        for a, b, name in (("bf16", "fp32", "bf16_over_fp32"), ("bf16+channels-last", "fp32", "bf16_cl_over_fp32")):
            entry[name] = {s: round(rate[width, a, s] / rate[width, b, s], 3) for s in ("cached", "on-the-fly")
                           if (width, a, s) in rate and (width, b, s) in rate}
        entry["cached_over_on_the_fly"] = {
            p: round(rate[width, p, "cached"] / rate[width, p, "on-the-fly"], 3)
            for p in ("fp32", "bf16", "bf16+channels-last") if (width, p, "cached") in rate}
        out.append({k: v for k, v in entry.items() if v != {}})
    return out


def by_width(rows: list) -> list:
    """fp32 samples/s on cached features by width, relative to the first width (the older table)."""
    fp32 = [r for r in rows if r["precision"] == "fp32" and r["input"] == "cached"]
    return [{"width": r["width"], "samples_per_s": r["samples_per_s"],
             "relative_to_first": round(r["samples_per_s"] / fp32[0]["samples_per_s"], 3)} for r in fp32]


def print_table(result: dict) -> None:
    cuda = result["device_type"] == "cuda"
    print(f"\n{'width':>7} {'precision':18s} {'input':10s} {'samples/s':>10} {'GFLOP/s':>9}"
          + (f" {'TFLOP/s':>8} {'of peak':>8}" if cuda else ""))
    for r in result["runs"]:
        extra = f" {r['tflop_per_s']:8.2f} {r.get('share_of_bf16_peak', float('nan')):8.1%}" if cuda else ""
        print(f"{r['width']:7g} {r['precision']:18s} {r['input']:10s} {r['samples_per_s']:10.2f} "
              f"{r['gflop_per_s']:9.2f}{extra}")
    print(f"\nGFLOP per training sample (forward + backward): {result['gflop_per_sample']}")
    print(f"\n{'width':>7} {'ratio':24s} {'cached':>8} {'on-the-fly':>10}   {'ratio':24s} {'fp32':>6} {'bf16':>6}")
    for r in result["ratios"]:
        low = r.get("bf16_over_fp32", {})
        high = r["cached_over_on_the_fly"]
        print(f"{r['width']:7g} {'bf16 / fp32':24s} {_ratio(low, 'cached'):>8} {_ratio(low, 'on-the-fly'):>10}   "
              f"{'cached / on-the-fly':24s} {_ratio(high, 'fp32'):>6} {_ratio(high, 'bf16'):>6}")
        if "bf16_cl_over_fp32" in r:
            print(f"{'':7} {'bf16+channels-last / fp32':24s} {_ratio(r['bf16_cl_over_fp32'], 'cached'):>8} "
                  f"{_ratio(r['bf16_cl_over_fp32'], 'on-the-fly'):>10}")
    for s in result["not_measured"]:
        print(f"not measured: width {s['width']:g} {s['precision']} {s['input']}: {s['reason']}")
    if not cuda:
        print(result["gpu"])


def _ratio(values: dict, key: str) -> str:
    return f"{values[key]:.2f}x" if key in values else "-"


def main(widths: list, repeats: int, min_seconds: float, cpu_bf16_max_width: float) -> dict:
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    name = torch.cuda.get_device_name() if cuda else cpu_description()
    rows, skipped = measure(widths, device, repeats, min_seconds, cpu_bf16_max_width)
    result = {"device": name, "device_type": device.type, "torch_threads": torch.get_num_threads(),
              "batch": BATCH, "frames": FRAMES, "repeats": repeats, "min_seconds_per_measurement": min_seconds,
              "statistic": "median of the repeats; variants interleaved within each repeat",
              "gflop_per_sample": add_flops(rows, name, cuda), "runs": rows, "by_width": by_width(rows),
              "ratios": ratios(rows), "not_measured": skipped}
    if not cuda:
        result["gpu"] = ("GPU rows (bf16, bf16 + channels-last, TFLOP/s against the bf16 peak) NOT measured: no "
                         "CUDA device on this machine; run this script on a GPU machine for them")
    return result


def results_suffix(device_type: str) -> str:
    """``gpu``; ``cpu_native_bf16`` or ``cpu_<capability>`` (e.g. ``cpu_avx2``): one file per kind of
    CPU, since bf16 is several times faster or slower than fp32 depending on it."""
    if device_type == "cuda":
        return "gpu"
    return "cpu_native_bf16" if native_cpu_bf16() else f"cpu_{torch.backends.cpu.get_cpu_capability().lower()}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=float, nargs="+", default=[0.0625, 0.125, 0.25, 1.0])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds; the median is reported")
    parser.add_argument("--min-seconds", type=float, default=6.0, help="each measurement runs at least this long")
    parser.add_argument("--cpu-bf16-max-width", type=float, default=0.25, help="widest CPU model measured in bf16")
    args = parser.parse_args()
    result = main(args.widths, args.repeats, args.min_seconds, args.cpu_bf16_max_width)
    print_table(result)
    out = Path(__file__).parent / "results" / f"train_step_{results_suffix(result['device_type'])}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
