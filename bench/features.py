"""Feature cache: cold vs warm extraction for the demo corpus, measured side by side.

Extracts log-Mel and MiniLM text embeddings for every utterance of the default demo corpus into
an empty cache (cold), then again from the filled cache (warm), counting how many utterances
each run had to compute: the warm run must compute none.  Writes ``bench/results/features.json``.

Run: python bench/features.py
"""

import json
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from sertext.data import load_corpus
from sertext.data.demo import default_demo_dir, write_demo_corpus
from sertext.features import FeatureCache, LogMelExtractor, TextEmbeddingExtractor, extract


def counting(base):
    """The extractor ``base`` with a counter of computed utterances."""

    @dataclass(frozen=True)
    class Counting(type(base)):
        computed: list = None

        def compute(self, rows, contents):
            self.computed.append(len(rows))
            return super().compute(rows, contents)

    return Counting


def measure(table, extractor_type, kwargs, cache):
    runs = {}
    for label in ("cold", "warm"):
        computed = []
        extractor = extractor_type(**kwargs, computed=computed)
        start = time.perf_counter()
        extract(table, extractor, cache, progress=False)
        runs[label] = {"seconds": time.perf_counter() - start, "computed": sum(computed)}
    return runs


def main() -> dict:
    root = write_demo_corpus(default_demo_dir(), progress=False)
    table = load_corpus("iemocap", root)
    results = {"utterances": len(table), "torch_threads": torch.get_num_threads(),
               "machine": platform.machine()}
    extractors = {"log-mel": (LogMelExtractor(), {}),
                  "text (MiniLM mean)": (TextEmbeddingExtractor(), {})}
    with tempfile.TemporaryDirectory() as folder:
        cache = FeatureCache(folder)
        for name, (base, kwargs) in extractors.items():
            runs = measure(table, counting(base), kwargs, cache)
            ratio = runs["cold"]["seconds"] / runs["warm"]["seconds"]
            results[name] = {**{k: {"seconds": round(v["seconds"], 3), "computed": v["computed"]}
                                for k, v in runs.items()}, "cold_over_warm": round(ratio, 1)}
            print(f"{name:20s} cold {runs['cold']['seconds']:6.2f} s ({runs['cold']['computed']} computed)  "
                  f"warm {runs['warm']['seconds']:6.2f} s ({runs['warm']['computed']} computed)  "
                  f"cold/warm {ratio:5.1f}x")
            assert runs["warm"]["computed"] == 0, "a warm cache must not extract anything"
    return results


if __name__ == "__main__":
    result = main()
    out = Path(__file__).parent / "results" / "features.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
