"""IEMOCAP leave-one-speaker-out, categorical: CNN14, text, SFCNN14 and MFCNN14 × 5 seeds.

The setting of Table 1 of the multistage-conditioning paper (Triantafyllopoulos et al.): 10 folds
(test = one speaker, dev = the other speaker of the session), four classes with excited merged
into happy, best epoch by dev UAR, and the paper's BERT (bert-base-uncased, its §4.2) as the text
model and the fusion models' embeddings.  --cross-corpus-root also tests every fold's model on
MSP-Podcast's test set (the paper's IEMOCAP → MSP-Podcast column).  With --demo: the synthetic
demo corpus, small models, the offline MiniLM text model and two seeds, on a laptop in minutes,
with the cross-corpus evaluation on the demo corpus in its MSP-Podcast layout (the same speech:
a smoke test of that path, not a cross-corpus result).

Run:  python sweeps/loso.py --demo
      ray submit cluster/cluster.yaml sweeps/loso.py -- --corpus-root /data/IEMOCAP_full_release \\
          --cross-corpus-root /data/MSP-Podcast --cross-asr-model facebook/wav2vec2-large-960h-lv60-self
"""

from sertext.sweep import scripts


def main() -> None:
    parser = scripts.sweep_parser(__doc__)
    scripts.add_model_options(parser)
    scripts.add_cross_corpus_options(parser)
    args = parser.parse_args()
    scripts.run(
        args,
        name=args.name or ("iemocap-loso-demo" if args.demo else "iemocap-loso"),
        corpus="iemocap",
        protocol="iemocap-loso",
        task="categorical",
        archs=("cnn14", "text", "sfcnn14", "mfcnn14"),
        seeds=scripts.seeds(args),
        fixed=scripts.demo_settings() if args.demo else {},
        per_arch=scripts.demo_per_arch() if args.demo else {},
        **scripts.cross_corpus("msp-podcast", args.cross_corpus_root, args.demo),
    )


if __name__ == "__main__":
    scripts.run_script(main)
