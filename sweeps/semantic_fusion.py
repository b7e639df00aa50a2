"""IEMOCAP leave-one-speaker-out, dimensional: Tzirakis et al.'s semantic and paralinguistic networks
alone (Table 2) and fused three ways (Table 3), × folds × seeds.

The paralinguistic network is a 1-D CNN on the raw waveform (0.1 s frames); the semantic one reads
a word vector per frame: Word2Vec on the fold's training transcripts, Speech2Vec on its training
word segments, or Speech2Vec mapped onto Word2Vec (the paper's model: speech only at evaluation),
each fold's trained on its training utterances alone.  Table 2: the semantic network alone with
each of the three, and the paralinguistic network alone.  Table 3: both networks with the semantic
input of --semantic, fused by concatenation, by one attention over the two modalities (Eq. 5) or by
the paper's hierarchical ("disentangled") attention (Eq. 4-7).  An LSTM and tanh outputs follow,
trained with the CCC loss on arousal, valence and dominance (IEMOCAP has dominance where SEWA has
liking).  With --demo: the demo corpus, two folds, a narrow waveform CNN, short training, two seeds.

Run:  python sweeps/semantic_fusion.py --demo
      python sweeps/semantic_fusion.py --corpus-root /data/IEMOCAP_full_release
"""

from sertext.config import SEMANTICS
from sertext.sweep import scripts

FUSIONS = ("concat", "attention", "hierarchical")
TRAINED = ("word2vec", "speech2vec", "aligned_speech2vec")  # Table 2's semantic rows


def main() -> None:
    parser = scripts.sweep_parser(__doc__)
    parser.add_argument("--semantic", default="aligned_speech2vec", choices=SEMANTICS,
                        help="the semantic input of the fusion rows (Table 3): the paper's aligned Speech2Vec "
                             "(default), Speech2Vec, Word2Vec, or 'vectors' (--word-vectors, else the text "
                             "model's token embeddings, of the transcript's words)")
    parser.add_argument("--word-vectors", default="",
                        help="GloVe / word2vec / fastText text file for --semantic vectors")
    scripts.add_model_options(parser, text_help="the transformer whose token embeddings '--semantic vectors' reads "
                                                "without --word-vectors (default: the offline MiniLM; the paper "
                                                "trains its own Word2Vec per fold)")
    args = parser.parse_args()
    fixed = {"model.word_vectors": args.word_vectors} if args.word_vectors else {}
    if args.demo:
        fixed.update({"train.epochs": 2, "train.batch_size": 8, "model.width": 0.125})
    alone = (*({"model.modalities": "text", "model.semantic": semantic} for semantic in TRAINED),
             {"model.modalities": "audio"})
    fused = tuple({"model.fusion": fusion, "model.semantic": args.semantic} for fusion in FUSIONS)
    scripts.run(
        args,
        name=args.name or ("iemocap-semantic-fusion-demo" if args.demo else "iemocap-semantic-fusion"),
        corpus="iemocap",
        protocol="iemocap-loso",
        task="dimensional",
        archs=("wavfusion",),
        seeds=scripts.seeds(args),
        variants=(*alone, *fused),
        metric="dev/ccc",
        fixed=fixed,
        **scripts.demo_folds(args, ("Ses01F", "Ses01M")),
    )


if __name__ == "__main__":
    scripts.run_script(main)
