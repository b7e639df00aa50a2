"""IEMOCAP leave-one-speaker-out, dimensional: the raw-waveform CNN + frame-aligned word vectors
model with concatenation, attention and hierarchical attention fusion, × folds × seeds.

Table 3 of Tzirakis et al.: a 1-D CNN on the raw waveform (0.1 s frames) and word vectors aligned
to the same frames through the transcript's forced alignment, fused by concatenation, by one
attention over the two modalities (Eq. 5) or by the paper's hierarchical ("disentangled")
attention (Eq. 4-7), then an LSTM and tanh outputs, trained with the CCC
loss on arousal, valence and dominance (IEMOCAP has dominance where SEWA has liking).  With
--demo: the demo corpus, two folds, a narrow waveform CNN, short training and two seeds.

Run:  python sweeps/semantic_fusion.py --demo
      python sweeps/semantic_fusion.py --corpus-root /data/IEMOCAP_full_release --word-vectors wiki.en.vec
"""

from sertext.sweep import SweepConfig, definition_options, run_script, run_settings, run_sweep, seeds, sweep_parser

FUSIONS = ("concat", "attention", "hierarchical")


def main() -> None:
    parser = sweep_parser(__doc__)
    parser.add_argument("--word-vectors", default="",
                        help="GloVe / word2vec / fastText text file (default: the text model's token embeddings)")
    args = parser.parse_args()
    options = definition_options(args)
    fixed = {"model.word_vectors": args.word_vectors} if args.word_vectors else {}
    if args.demo:
        fixed.update({"train.epochs": 2, "train.batch_size": 8, "model.width": 0.125})
        if not args.folds:
            options["folds"] = ("Ses01F", "Ses01M")
    run_sweep(SweepConfig(
        name=args.name or ("iemocap-semantic-fusion-demo" if args.demo else "iemocap-semantic-fusion"),
        corpus="iemocap",
        protocol="iemocap-loso",
        task="dimensional",
        archs=("wavfusion",),
        seeds=seeds(args),
        variants=tuple({"model.fusion": fusion} for fusion in FUSIONS),
        metric="dev/ccc",
        fixed=fixed,
        **options,
    ), run_settings(args))


if __name__ == "__main__":
    run_script(main)
