"""Feature extraction in the driver alone vs as Ray tasks on a two-node local cluster, side by side.

Extracts the log-Mel spectrograms and the MiniLM text embeddings of the default demo corpus (600
utterances) into an empty cache twice: in this process, as a sweep's driver did before, and with
:func:`sertext.features.distributed.extract_on_cluster` on a ``ray.cluster_utils.Cluster`` of two
nodes (one CPU each, the two cores of this machine as two workers), each chunk one task.  Torch uses
one thread in both, as a trial does, so the comparison is one core against two workers.  Both give
the same entries; the ratio is the speedup.  Chunks are the sweep's (64 utterances a task).

``--scale iemocap`` does the same on the IEMOCAP-shaped demo corpus (10,039 utterances, 12.5 h;
``sertext demo-corpus --scale iemocap``, synthesised first into a temporary folder): whether the
tasks pay for themselves once there is enough work.

Writes ``bench/results/extraction.json`` (``--scale iemocap``: its ``iemocap_scale`` key; each run
keeps the other's results).

Run: python bench/extraction.py [--scale iemocap]
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from sertext.data import load_corpus
from sertext.data.demo import default_demo_dir, write_demo_corpus
from sertext.features import FeatureCache, LogMelExtractor, TextEmbeddingExtractor, extract
from sertext.features.distributed import CHUNK, extract_on_cluster


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def main(scale: str | None) -> dict:
    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"  # the workers' torch too
    with tempfile.TemporaryDirectory(dir=os.environ.get("SERTEXT_BENCH_TMP")) as folder:
        root = (write_demo_corpus(Path(folder) / "corpus", scale=scale, progress=True) if scale
                else write_demo_corpus(default_demo_dir(), progress=False))
        rows = compare(load_corpus("iemocap", root), Path(folder))
    return {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "cluster": "2 nodes × 1 CPU (local)",
            "chunk": CHUNK, "rows": rows}


def compare(table, folder: Path) -> list[dict]:
    """Each feature of ``table`` extracted in this process and on a 2-node local cluster."""
    import ray
    from ray.cluster_utils import Cluster

    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    nodes.add_node(num_cpus=1)
    nodes.wait_for_nodes()
    ray.init(address=nodes.address, log_to_driver=False)
    rows = []
    try:
        for extractor in (LogMelExtractor(), TextEmbeddingExtractor()):
            driver = FeatureCache(folder / extractor.name / "driver")
            cluster = FeatureCache(folder / extractor.name / "cluster")
            driver_s = timed(lambda e=extractor, c=driver: extract(table, e, c, progress=False))
            cluster_s = timed(lambda e=extractor, c=cluster: extract_on_cluster(table, e, c, progress=False))
            same = sorted(p.name for p in driver.root.rglob("*.npy")) == \
                sorted(p.name for p in cluster.root.rglob("*.npy"))
            rows.append({"feature": extractor.name, "utterances": len(table), "driver_s": round(driver_s, 2),
                         "cluster_2_nodes_s": round(cluster_s, 2), "speedup": round(driver_s / cluster_s, 2),
                         "same_entries": same})
            print(rows[-1], flush=True)
    finally:
        ray.shutdown()
        nodes.shutdown()
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["iemocap"], default=None,
                        help="the IEMOCAP-shaped demo corpus instead of the default one")
    args = parser.parse_args()
    out = Path(__file__).parent / "results" / "extraction.json"
    previous = json.loads(out.read_text()) if out.is_file() else {}
    result = main(args.scale)
    if args.scale:
        result = {**previous, "iemocap_scale": result}
    else:
        result |= {k: v for k, v in previous.items() if k == "iemocap_scale"}
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
