"""Which torch + torchaudio pair to pin: each candidate installed into its own fresh virtual
environment and measured side by side in one run.

For every pair: the install (seconds, size of the environment), whether ``import torchaudio``
works, sertext's own log-Mel front end on a fixed signal (its checksum must agree between pairs)
and CNN14 training throughput (samples/s, width 1/16, batch 16, 5 s crops, forward + backward +
SGD step, 8 s per measurement; the median of ``--repeats`` rounds that visit the pairs in turn)
through sertext's own model code.  The pair sertext pins must import, agree and be no
slower.  CUDA wheels come from PyPI (their Linux default); a CPU-only torch build is measured where
pip can find one (``--cpu-torch``; PyTorch's CPU index, or a local wheel).  On a machine with a
GPU the check also runs one CNN14 step on it.  Writes ``bench/results/torch_pairs.json``.

Run: python bench/torch_pairs.py [--pair 2.14.1 2.11.1 --pair 2.11.0 2.11.0 ...] [--cpu-torch 2.13.0+cpu]
"""

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "torch_pairs.json"
# (torch, torchaudio): the pair that fails for users today, the matching 2.11 pair, and the newest
# torch under the development machines' cap with each torchaudio 2.11 release.
PAIRS = [("2.11.0", "2.11.1"), ("2.11.0", "2.11.0"), ("2.14.1", "2.11.0"), ("2.14.1", "2.11.1")]

# Runs inside each pair's environment: sertext's log-Mel and CNN14 files loaded by path, so the
# environment needs only torch, torchaudio and numpy.
CHECK = r'''
import importlib, json, sys, time, types
out = {}
start = time.perf_counter()
try:
    import torch, torchaudio
except Exception as error:
    out["import_error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
    print(json.dumps(out)); sys.exit(0)
out["import_s"] = round(time.perf_counter() - start, 2)
out["torch"], out["torchaudio"], out["cuda_build"] = torch.__version__, torchaudio.__version__, torch.version.cuda
import numpy as np
repo = sys.argv[1]
for package, folder in (("sx_features", "features"), ("sx_models", "models")):
    module = types.ModuleType(package); module.__path__ = [f"{repo}/sertext/{folder}"]; sys.modules[package] = module
log_mel = importlib.import_module("sx_features.log_mel")
CNN14 = importlib.import_module("sx_models.cnn14").CNN14
t = np.arange(16000 * 3) / 16000
signal = (0.3 * np.sin(2 * np.pi * 220 * t) * np.sin(2 * np.pi * 3 * t)).astype(np.float32)
out["log_mel_checksum"] = round(float(np.abs(log_mel.log_mel(signal)).sum()), 2)
torch.manual_seed(0); torch.set_num_threads(2)
model = CNN14(4, width=0.0625)
optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
batch, labels = torch.randn(16, 500, 64), torch.randint(0, 4, (16,))
def step(device):
    optimiser.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(batch.to(device)), labels.to(device))
    loss.backward(); optimiser.step()
    return loss
step("cpu")
steps, start = 0, time.perf_counter()
while time.perf_counter() - start < 8:
    step("cpu"); steps += 1
out["cnn14_cpu_samples_per_s"] = round(16 * steps / (time.perf_counter() - start), 1)
if torch.cuda.is_available():
    model.cuda(); step("cuda"); torch.cuda.synchronize()
    out["gpu"] = torch.cuda.get_device_name(0)
print(json.dumps(out))
'''


def install(torch_version: str, audio_version: str, work: Path) -> tuple[dict, Path]:
    """Install one pair into a fresh environment; return its row and the environment."""
    venv = work / f"torch{torch_version}-audio{audio_version}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    start = time.perf_counter()
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", f"torch=={torch_version}",
                           f"torchaudio=={audio_version}", "numpy"], capture_output=True, text=True)
    row = {"torch": torch_version, "torchaudio": audio_version, "install_s": round(time.perf_counter() - start, 1),
           "venv_mb": round(sum(f.stat().st_size for f in venv.rglob("*") if f.is_file()) / 2**20)}
    if done.returncode:
        row["install_error"] = done.stderr.strip().splitlines()[-1][:300]
    return row, venv


def check(venv: Path) -> dict:
    """Run the check in one pair's environment."""
    run = subprocess.run([str(venv / "bin" / "python"), "-c", CHECK, str(REPO)], capture_output=True, text=True)
    return json.loads(run.stdout) if run.returncode == 0 else {"check_error": run.stderr[-300:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pair", nargs=2, action="append", metavar=("TORCH", "TORCHAUDIO"),
                        help="a candidate pair (repeatable; default: the four pairs of 2.11 and 2.14)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds of the checks (default 3)")
    parser.add_argument("--cpu-torch", nargs="*", default=[], metavar="VERSION",
                        help="CPU-only torch builds to try with each torchaudio of the pairs, e.g. 2.13.0+cpu")
    args = parser.parse_args()
    pairs = [tuple(pair) for pair in args.pair] if args.pair else PAIRS
    pairs += [(cpu, audio) for cpu in args.cpu_torch for audio in sorted({audio for _, audio in pairs})]
    rows, venvs = [], []
    with tempfile.TemporaryDirectory(prefix="torch-pairs-") as work:
        for torch_version, audio_version in pairs:
            print(f"installing torch {torch_version} + torchaudio {audio_version} ...", flush=True)
            row, venv = install(torch_version, audio_version, Path(work))
            rows.append(row)
            venvs.append(None if "install_error" in row else venv)
        # The checks run in interleaved rounds (A, B, C, A, B, C, …) so that load from other
        # processes hits every pair alike; the throughput is the median over the rounds.
        speeds = [[] for _ in rows]
        for _ in range(args.repeats):
            for row, venv, speed in zip(rows, venvs, speeds, strict=True):
                if venv is not None and "import_error" not in row and "check_error" not in row:
                    found = check(venv)
                    speed.append(found.pop("cnn14_cpu_samples_per_s", None))
                    row.update(found)
        for row, speed in zip(rows, speeds, strict=True):
            if speed and None not in speed:
                row["cnn14_cpu_samples_per_s"] = statistics.median(speed)
                row["cnn14_rounds"] = speed
            print("   ", json.dumps(row), flush=True)
    print(f"\n{'torch':12s} {'torchaudio':11s} {'install':>8s} {'size':>8s}  result")
    for row in rows:
        result = (row.get("install_error") or row.get("import_error") or row.get("check_error")
                  or f"works: log-Mel checksum {row['log_mel_checksum']}, CNN14 {row['cnn14_cpu_samples_per_s']} "
                     f"samples/s on the CPU ({'CUDA ' + row['cuda_build'] if row.get('cuda_build') else 'CPU'} build)")
        print(f"{row['torch']:12s} {row['torchaudio']:11s} {row['install_s']:7.0f}s {row['venv_mb']:6d}MB  {result}")
    RESULTS.write_text(json.dumps({"machine": platform.machine(), "python": platform.python_version(),
                                   "pairs": rows}, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
