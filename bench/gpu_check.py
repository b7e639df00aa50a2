"""The one prepared GPU check, for a machine with a CUDA GPU: under 8 minutes, one JSON.

1. **Throughput** of CNN14 at width 1 (the paper's), batch 64, 5 s crops: fp32 against bf16
   autocast and bf16 + channels-last, with the achieved TFLOP/s and their share of the card's
   peak (``bench/train_step.py``'s measurement, two interleaved rounds).
2. **Packing**: 1, 2 and 4 small trials (CNN14 width 0.25, batch 32, bf16) sharing the GPU, each its
   own process as Ray Tune runs trials with ``--gpus-per-trial 0.5`` or 0.25: the summed samples/s,
   the speedup over one trial alone and the efficiency, speedup / N (1.0: packing N trials costs
   nothing; 1/N: no gain over running them one after another).
3. **One paper-size trial**: ``mfcnn14`` at width 1 with the paper's batch, crops and optimiser on
   the demo corpus (fold Ses01F) for a few epochs, through ``sertext.trial.run_trial``: seconds
   per epoch, which ``--dry-run``-style estimates of a paper sweep can be checked against.

On a machine without CUDA it says so and stops, unless ``--cpu`` asks for a tiny run of every
part (sizes cut down) to check that the script works.  Writes ``bench/results/gpu_check.json``
(``gpu_check_cpu.json`` with ``--cpu``).

Run: python bench/gpu_check.py            (on a GPU machine)
     python bench/gpu_check.py --cpu      (a quick check of the script itself)
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parent
PACK_WIDTH, PACK_BATCH, PACK_FRAMES = 0.25, 32, 500


def throughput(cpu: bool) -> dict:
    """Part 1: ``bench/train_step.py`` at width 1 (a narrow width on the CPU)."""
    sys.path.insert(0, str(BENCH))
    import train_step

    widths = [0.0625] if cpu else [1.0]
    return train_step.main(widths, repeats=1 if cpu else 2, min_seconds=1.0 if cpu else 8.0,
                           cpu_bf16_max_width=0.0625)


def pack_worker(seconds: float, device: str, width: float) -> None:
    """One packed trial: train a small CNN14 for ``seconds`` after a warm-up; print samples/s."""
    from sertext.models import build

    model = build("cnn14", n_outputs=4, width=width).to(device)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    log_mel = torch.randn(PACK_BATCH, PACK_FRAMES, 64, device=device)
    labels = torch.randint(0, 4, (PACK_BATCH,), device=device)
    amp = device == "cuda"

    def step() -> None:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(model(log_mel=log_mel), labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    step()
    if amp:
        torch.cuda.synchronize()
    started, steps = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        step()
        steps += 1
    if amp:
        torch.cuda.synchronize()
    print(json.dumps({"samples_per_s": steps * PACK_BATCH / (time.perf_counter() - started)}))


def packing(cpu: bool) -> list:
    """Part 2: 1, 2 and 4 worker processes at once; summed samples/s, speedup and efficiency."""
    seconds, device, width = (3.0, "cpu", 0.0625) if cpu else (30.0, "cuda", PACK_WIDTH)
    rows = []
    for n in (1, 2, 4):
        workers = [subprocess.Popen([sys.executable, __file__, "--pack-worker", str(seconds), device, str(width)],
                                    stdout=subprocess.PIPE, text=True) for _ in range(n)]
        rates = [json.loads(worker.communicate()[0].strip().splitlines()[-1])["samples_per_s"] for worker in workers]
        rows.append({"trials": n, "samples_per_s": round(sum(rates), 1), "per_trial": [round(r, 1) for r in rates]})
    single = rows[0]["samples_per_s"]
    for row in rows:
        row["speedup"] = round(row["samples_per_s"] / single, 3)
        row["efficiency"] = round(row["speedup"] / row["trials"], 3)
    return rows


def paper_trial(cpu: bool) -> dict:
    """Part 3: mfcnn14 at width 1 (0.0625 on the CPU) on the demo corpus, seconds per epoch."""
    from sertext.data.demo import default_demo_dir, write_demo_corpus
    from sertext.trial import run_trial

    root = write_demo_corpus(default_demo_dir(), progress=False)
    epochs = 1 if cpu else 3
    config = {"data.root": str(root), "data.fold": "Ses01F", "model.arch": "mfcnn14", "train.epochs": epochs,
              "model.width": 0.0625 if cpu else 1.0, "data.cache_dir": str(Path(tempfile.gettempdir()) / "gpu-check")}
    marks = [time.perf_counter()]
    result = run_trial(config, reporter=lambda epoch, metrics: marks.append(time.perf_counter()))
    per_epoch = [round(b - a, 2) for a, b in zip(marks[1:], marks[2:], strict=False)]
    return {"arch": "mfcnn14", "width": config["model.width"], "epochs": epochs,
            "batch_size": result.config.train.batch_size, "crop_s": result.config.train.crop_s,
            "first_epoch_and_features_s": round(marks[1] - marks[0], 2), "later_epochs_s": per_epoch,
            "test_uar": round(result.metrics["test/uar"], 4)}


def main(cpu: bool) -> dict:
    started = time.perf_counter()
    result = {"device": torch.cuda.get_device_name() if not cpu else "cpu (script check, sizes cut down)",
              "torch": torch.__version__, "throughput": throughput(cpu), "packing": packing(cpu),
              "paper_trial": paper_trial(cpu)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--pack-worker":
        pack_worker(float(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", action="store_true", help="a tiny run on the CPU, to check the script")
    args = parser.parse_args()
    if not args.cpu and not torch.cuda.is_available():
        sys.exit("gpu_check.py: no CUDA device on this machine; run it on a GPU machine (or --cpu to check the script)")
    outcome = main(args.cpu)
    print(json.dumps(outcome, indent=2))
    out = BENCH / "results" / ("gpu_check_cpu.json" if args.cpu else "gpu_check.json")
    out.write_text(json.dumps(outcome, indent=2) + "\n")
    print(f"wrote {out}")
