"""MSP-Podcast, official splits: CNN14, text, SFCNN14 and MFCNN14 × 5 seeds, with cross-corpus
evaluation on all of IEMOCAP when its root is given.

The MSP-Podcast rows of Tables 1, 2, 5 and 6 of the multistage-conditioning paper: train on
Train, select on Development, test on Test1; cross-corpus results on IEMOCAP are UAR (categorical)
or PCC (dimensional, since the rating scales differ).  ``--task dimensional`` trains single-task
MSE models per dimension (Table 2) and the multitask CCC model (Tables 5 and 6).  With --demo: the
demo corpus rewritten in the MSP-Podcast layout, cross-evaluated on the demo corpus itself (the
same speech, so a smoke test, not a cross-corpus result).

Run:  python sweeps/msp_podcast.py --demo
      ray submit cluster/cluster.yaml sweeps/msp_podcast.py -- --corpus-root /data/MSP-Podcast \\
          --iemocap-root /data/IEMOCAP_full_release
"""

from sertext.sweep import (
    SweepConfig,
    definition_options,
    demo_per_arch,
    demo_root,
    demo_settings,
    run_script,
    run_settings,
    run_sweep,
    seeds,
    sweep_parser,
)

DIMENSIONS = ("arousal", "valence", "dominance")


def main() -> None:
    parser = sweep_parser(__doc__)
    parser.add_argument("--iemocap-root", default="", help="IEMOCAP_full_release for cross-corpus evaluation")
    parser.add_argument("--task", default="categorical", choices=["categorical", "dimensional"],
                        help="four classes, or arousal/valence/dominance: single-task MSE per dimension "
                             "and the multitask CCC loss")
    args = parser.parse_args()
    fixed = demo_settings(args.task) if args.demo else {}
    cross = demo_root("iemocap", not args.quiet) if args.demo else args.iemocap_root
    if cross:
        fixed.update({"data.cross_corpus": "iemocap", "data.cross_root": cross})
    dimensional = args.task == "dimensional"
    variants = (*({"data.targets": [d], "train.loss": "mse"} for d in DIMENSIONS),
                {"data.targets": list(DIMENSIONS), "train.loss": "ccc"}) if dimensional else ()
    run_sweep(SweepConfig(
        name=args.name or f"msp-podcast-{args.task}{'-demo' if args.demo else ''}",
        corpus="msp-podcast",
        protocol="msp-official",
        task=args.task,
        archs=("cnn14", "text", "sfcnn14", "mfcnn14"),
        seeds=seeds(args),
        variants=variants,
        fixed=fixed,
        per_arch=demo_per_arch() if args.demo else {},
        **definition_options(args),
    ), run_settings(args))


if __name__ == "__main__":
    run_script(main)
