"""CNN14 training throughput: samples/s at batch 64 with 5 s crops (500 log-Mel frames).

On CPU, small widths in fp32 (width 1.0 takes minutes per step on two cores).  With a GPU, also
width 1.0 in fp32 and with mixed precision (bf16 autocast), side by side.  Writes
``bench/results/train_step_<device>.json``.

Run: python bench/train_step.py [--widths 0.0625 0.125 0.25] [--steps 5]
"""

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from sertext.models import build

BATCH = 64
FRAMES = 500  # 5 s at a 10 ms hop


def samples_per_second(width: float, device: torch.device, amp: bool, steps: int) -> float:
    torch.manual_seed(0)
    model = build("cnn14", n_outputs=4, width=width).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(BATCH, FRAMES, 64, device=device)
    y = torch.randint(0, 4, (BATCH,), device=device)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return BATCH * steps / (time.perf_counter() - start)


def main(widths: list, steps: int) -> dict:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    settings = [(w, False) for w in widths]
    if device.type == "cuda":
        settings += [(1.0, False), (1.0, True)]
    results = {"device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
               "torch_threads": torch.get_num_threads(), "batch": BATCH, "frames": FRAMES, "runs": []}
    for width, amp in settings:
        rate = samples_per_second(width, device, amp, steps)
        results["runs"].append({"width": width, "amp": amp, "samples_per_s": round(rate, 1)})
        print(f"width {width:<7g} {'bf16 autocast' if amp else 'fp32':14s} {rate:8.1f} samples/s")
    base = results["runs"][0]["samples_per_s"]
    for run in results["runs"]:
        run["relative_to_first"] = round(run["samples_per_s"] / base, 3)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=float, nargs="+", default=[0.0625, 0.125, 0.25])
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    result = main(args.widths, args.steps)
    kind = "gpu" if torch.cuda.is_available() else "cpu"
    out = Path(__file__).parent / "results" / f"train_step_{kind}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
