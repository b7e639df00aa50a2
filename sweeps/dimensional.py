"""IEMOCAP leave-one-speaker-out, dimensional: single-task MSE per dimension and multitask CCC
with a grid over the loss weights (α, β, γ) for arousal, valence and dominance.

The IEMOCAP rows of Tables 2-4 and 7 of the multistage-conditioning paper (Triantafyllopoulos et
al.): CNN14, the text model (the paper's BERT), SFCNN14 and MFCNN14 trained per dimension with MSE,
and jointly with 1 − Σ wᵢ·CCCᵢ / Σ wᵢ; the report adds their late fusion (LF), each model's best
validation seed (Table 3), its residuals per dialogue act (Fig. 4, Table 4) and against the gold
standard (Fig. 5), and CCC within scripted and improvised dialogs (Table 7).  The text model and
the fusion models' embeddings are the paper's BERT (bert-base-uncased).  --cross-corpus-root also
tests every fold's model on MSP-Podcast's test set, by PCC (the paper's Table 2, IEMOCAP →
MSP-Podcast).  With --demo: the demo corpus, small models, the offline MiniLM, two seeds and the
first four folds, with the cross-corpus evaluation on the demo corpus in its MSP-Podcast layout.

Run:  python sweeps/dimensional.py --demo
      ray submit cluster/cluster.yaml sweeps/dimensional.py -- --corpus-root /data/IEMOCAP_full_release \\
          --cross-corpus-root /data/MSP-Podcast
"""

from sertext.sweep import scripts

DIMENSIONS = ("arousal", "valence", "dominance")
LOSS_WEIGHTS = ((1.0, 1.0, 1.0), (0.7, 0.2, 0.1), (0.2, 0.7, 0.1), (0.1, 0.2, 0.7))


def main() -> None:
    parser = scripts.sweep_parser(__doc__)
    scripts.add_model_options(parser)
    scripts.add_cross_corpus_options(parser)
    parser.add_argument("--loss-weights", nargs="+", default=None, metavar="A,V,D",
                        help="multitask CCC weights to try (default: 1,1,1 0.7,0.2,0.1 0.2,0.7,0.1 0.1,0.2,0.7)")
    args = parser.parse_args()
    weights = [tuple(float(w) for w in item.split(",")) for item in args.loss_weights] if args.loss_weights \
        else LOSS_WEIGHTS[:2] if args.demo else LOSS_WEIGHTS
    variants = [{"data.targets": [d], "train.loss": "mse"} for d in DIMENSIONS]
    variants += [{"data.targets": list(DIMENSIONS), "train.loss": "ccc", "train.loss_weights": list(w)}
                 for w in weights]
    scripts.run(
        args,
        name=args.name or ("iemocap-dimensional-demo" if args.demo else "iemocap-dimensional"),
        corpus="iemocap",
        protocol="iemocap-loso",
        task="dimensional",
        archs=("cnn14", "text", "mfcnn14") if args.demo else ("cnn14", "text", "sfcnn14", "mfcnn14"),
        seeds=scripts.seeds(args),
        variants=tuple(variants),
        metric="dev/ccc",
        fixed=scripts.demo_settings("dimensional") if args.demo else {},
        per_arch=scripts.demo_per_arch() if args.demo else {},
        **scripts.cross_corpus("msp-podcast", args.cross_corpus_root, args.demo),
        **scripts.demo_folds(args, ("Ses01F", "Ses01M", "Ses02F", "Ses02M")),
    )


if __name__ == "__main__":
    scripts.run_script(main)
