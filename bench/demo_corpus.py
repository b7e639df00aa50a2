"""Demo corpus: synthesis speed and corpus-reading cost, measured side by side.

Prints the real-time factor of generating the default demo corpus (seconds of audio written per
second of wall time) and the cost of reading it with and without opening every wav header
(``check_audio``), as a ratio.  With ``--scale iemocap`` it measures instead the IEMOCAP-shaped
corpus (10,039 utterances unless ``--utterances`` says otherwise, synthesised on every core):
wall time, hours of speech, size on disk, utterance durations and the time to read it.  Each
case writes its own figures to ``bench/results/demo_corpus.json`` (the IEMOCAP shape under the
key ``iemocap_scale``) and keeps the other's.

Run: python bench/demo_corpus.py [--utterances 600]
     python bench/demo_corpus.py --scale iemocap [--utterances 10039]
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from sertext.data import load_corpus
from sertext.data.demo import write_demo_corpus

RESULTS = Path(__file__).parent / "results" / "demo_corpus.json"


def _timed(function, repeats: int = 1):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def _machine() -> str:
    return f"{platform.machine()}, {platform.processor() or 'cpu'}"


def main(utterances: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "demo"
        generate_s, _ = _timed(lambda: write_demo_corpus(root, utterances=utterances, progress=False))
        audio_s = sum(sf.info(str(p)).duration for p in root.rglob("*.wav"))
        plain_s, table = _timed(lambda: load_corpus("iemocap", root), repeats=3)
        checked_s, _ = _timed(lambda: load_corpus("iemocap", root, check_audio=True), repeats=3)
    result = {
        "utterances": utterances,
        "audio_hours": round(audio_s / 3600, 3),
        "generate_s": round(generate_s, 2),
        "real_time_factor": round(audio_s / generate_s, 1),
        "read_s": round(plain_s, 3),
        "read_with_audio_check_s": round(checked_s, 3),
        "audio_check_cost_ratio": round(checked_s / plain_s, 2),
        "rows": len(table),
        "machine": _machine(),
    }
    print(f"generated {utterances} utterances ({audio_s / 60:.1f} min of audio) in {generate_s:.1f} s: "
          f"{result['real_time_factor']}x real time")
    print(f"read in {plain_s * 1000:.0f} ms; with every wav header checked {checked_s * 1000:.0f} ms "
          f"({result['audio_check_cost_ratio']}x)")
    return result


def iemocap_scale(utterances: int | None) -> dict:
    """Synthesise the IEMOCAP-shaped corpus once (in a temporary folder) and measure it."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "demo"
        generate_s, _ = _timed(lambda: write_demo_corpus(root, utterances=utterances, scale="iemocap"))
        durations = np.array([sf.info(str(p)).duration for p in root.rglob("*.wav")])
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        read_s, table = _timed(lambda: load_corpus("iemocap", root))
    result = {
        "utterances": len(durations),
        "dialogs": int(table["dialog"].nunique()),
        "audio_hours": round(durations.sum() / 3600, 2),
        "utterance_s": {"mean": round(durations.mean(), 2), "median": round(float(np.median(durations)), 2),
                        "min": round(durations.min(), 2), "max": round(durations.max(), 2)},
        "generate_s": round(generate_s, 1),
        "real_time_factor": round(durations.sum() / generate_s, 1),
        "size_gb": round(size / 1e9, 2),
        "read_s": round(read_s, 2),
        "rows": len(table),
        "cores": len(os.sched_getaffinity(0)),
        "machine": _machine(),
    }
    print(f"IEMOCAP shape: {result['utterances']} utterances in {result['dialogs']} dialogs, "
          f"{result['audio_hours']} h of audio (utterances {result['utterance_s']['mean']} s on average, "
          f"{result['utterance_s']['min']}–{result['utterance_s']['max']} s), {result['size_gb']} GB, "
          f"synthesised in {generate_s / 60:.1f} min on {result['cores']} cores "
          f"({result['real_time_factor']}x real time); read in {read_s:.1f} s")
    return result


def _save(figures: dict) -> None:
    """Merge ``figures`` into the results file, keeping the other case's."""
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results.update(figures)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utterances", type=int, default=None, help="default 600, or 10,039 with --scale iemocap")
    parser.add_argument("--scale", choices=["iemocap"], default=None,
                        help="measure the IEMOCAP-shaped corpus instead (about 3 minutes on 2 cores)")
    args = parser.parse_args()
    if args.scale:
        _save({"iemocap_scale": iemocap_scale(args.utterances)})
    else:
        _save(main(args.utterances or 600))
