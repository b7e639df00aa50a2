"""MSP-Podcast, official splits: CNN14, text, SFCNN14 and MFCNN14 × 5 seeds, with cross-corpus
evaluation on all of IEMOCAP when its root is given.

The MSP-Podcast rows of Tables 1, 2, 5 and 6 of the multistage-conditioning paper: train on
Train, select on Development, test on Test1; cross-corpus results on IEMOCAP are UAR (categorical)
or PCC (dimensional, since the rating scales differ).  ``--task dimensional`` trains single-task
MSE models per dimension (Table 2) and the multitask CCC model (Tables 5 and 6).  The text model
and the fusion models' embeddings are the paper's BERT (bert-base-uncased).  The paper had no
MSP-Podcast transcripts and recognised the speech with DeepSpeech2 (its §4); ``--asr-model`` does
the same with any Hugging Face speech-recognition model (the release's Transcripts/ otherwise;
DeepSpeech2 itself is not a Hugging Face model), and the report gives the recognised text's word
error rate against the release's transcripts.  With --demo: the demo corpus rewritten in the
MSP-Podcast layout, its text recognised by PocketSphinx (offline) as the paper's was by ASR, and
cross-evaluated on the demo corpus itself (the same speech, so a smoke test, not a cross-corpus
result).

Run:  python sweeps/msp_podcast.py --demo
      ray submit cluster/cluster.yaml sweeps/msp_podcast.py -- --corpus-root /data/MSP-Podcast \\
          --iemocap-root /data/IEMOCAP_full_release --asr-model facebook/wav2vec2-large-960h-lv60-self
"""

from sertext.sweep import scripts

DIMENSIONS = ("arousal", "valence", "dominance")


def main() -> None:
    parser = scripts.sweep_parser(__doc__)
    parser.add_argument("--iemocap-root", default="", help="IEMOCAP_full_release for cross-corpus evaluation")
    parser.add_argument("--task", default="categorical", choices=["categorical", "dimensional"],
                        help="four classes, or arousal/valence/dominance: single-task MSE per dimension "
                             "and the multitask CCC loss")
    scripts.add_model_options(parser)
    args = parser.parse_args()
    fixed = scripts.demo_settings(args.task) if args.demo else {}
    if args.demo:
        fixed["data.asr_model"] = "pocketsphinx"  # the demo's text recognised, as the paper's was
    dimensional = args.task == "dimensional"
    variants = (*({"data.targets": [d], "train.loss": "mse"} for d in DIMENSIONS),
                {"data.targets": list(DIMENSIONS), "train.loss": "ccc"}) if dimensional else ()
    scripts.run(
        args,
        name=args.name or f"msp-podcast-{args.task}{'-demo' if args.demo else ''}",
        corpus="msp-podcast",
        protocol="msp-official",
        task=args.task,
        archs=("cnn14", "text", "sfcnn14", "mfcnn14"),
        seeds=scripts.seeds(args),
        variants=variants,
        fixed=fixed,
        per_arch=scripts.demo_per_arch() if args.demo else {},
        **scripts.cross_corpus("iemocap", args.iemocap_root, args.demo),
    )


if __name__ == "__main__":
    scripts.run_script(main)
