"""Demo corpus: synthesis speed and corpus-reading cost, measured side by side.

Prints the real-time factor of generating the default demo corpus (seconds of audio written per
second of wall time) and the cost of reading it with and without opening every wav header
(``check_audio``), as a ratio.  Writes ``bench/results/demo_corpus.json``.

Run: python bench/demo_corpus.py [--utterances 600]
"""

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import soundfile as sf

from sertext.data import load_corpus
from sertext.data.demo import write_demo_corpus


def _timed(function, repeats: int = 1):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


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
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
    }
    print(f"generated {utterances} utterances ({audio_s / 60:.1f} min of audio) in {generate_s:.1f} s: "
          f"{result['real_time_factor']}x real time")
    print(f"read in {plain_s * 1000:.0f} ms; with every wav header checked {checked_s * 1000:.0f} ms "
          f"({result['audio_check_cost_ratio']}x)")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utterances", type=int, default=600)
    result = main(parser.parse_args().utterances)
    out = Path(__file__).parent / "results" / "demo_corpus.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
