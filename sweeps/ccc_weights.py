"""IEMOCAP session-5 hold-out, dimensional: the acoustic + word-vector LSTM model, single-task
valence vs multitask valence/arousal/dominance with CCC loss weights α·V + β·A + (1−α−β)·D
over a simplex grid of (α, β), × seeds; acoustic-only rows as the baseline.

Table II and Fig. 2 of Atmaja & Akagi: pyAudioAnalysis mean + std statistics (68-d) and word
vectors through LSTM branches, concatenated: one set of rows per --word-vectors file (the paper's
word2vec, GloVe and fastText) and one with BERT's token vectors (the paper's HSF+BERT row; the
text model, bert-base-uncased on a real corpus), beside the acoustic-only rows; the report shows
each text row's relative improvement in valence CCC over the acoustic-only row (Fig. 2) and marks
the weighting dev chooses in each grid; sessions 1–4 train (20 % held out for validation),
session 5 tests, 20 seeds as the paper averages 20 runs (§IV).  The paper's linear search finds
α = 0.7, β = 0.2 for the networks with text, and α = 0.1, β = 0.4 for the acoustic-only ones,
which it trains with Nadam (RMSprop with text); the acoustic-only rows here follow it, at Keras'
default Nadam learning rate (0.002 in Keras 2, the paper's "Keras toolkit with TensorFlow
backend"; tf.keras' is 0.001); the fusion network trains as the registry has it (RMSprop), and
labels are clipped to the 1-5 scale as the paper does.  --optuna N replaces the grid by an Optuna
search of N trials per seed over the same simplex (at steps of 0.05), with the first word-vector
file (else BERT's).  With --demo: the demo corpus, a coarse grid, short training and two seeds.

Run:  python sweeps/ccc_weights.py --demo
      python sweeps/ccc_weights.py --corpus-root /data/IEMOCAP_full_release \\
          --word-vectors GoogleNews-vectors-negative300.txt glove.840B.300d.txt crawl-300d-2M.vec
"""

from sertext.sweep import scripts

STL = {"data.targets": ["valence"], "train.loss": "ccc", "train.loss_weights": [1.0]}
NADAM_LR = 0.002  # Keras 2's default Nadam learning rate (tf.keras: 0.001), for the acoustic-only rows
PAPER_RUNS = tuple(range(20))  # §IV: "an average of 20 experiments"
VAD = ["valence", "arousal", "dominance"]  # the order of the paper's weights α, β, 1 − α − β


def simplex(step: float) -> list[tuple[float, float, float]]:
    """Every (α, β, 1 − α − β) with α, β on a grid of ``step`` and α + β ≤ 1."""
    n = round(1 / step)
    return [(round(a * step, 4), round(b * step, 4), round((n - a - b) * step, 4))
            for a in range(n + 1) for b in range(n + 1 - a)]


def main() -> None:
    parser = scripts.sweep_parser(__doc__)
    parser.add_argument("--step", type=float, default=None,
                        help="grid step of α and β (default 0.1: 66 weightings; --demo 0.5: 6)")
    parser.add_argument("--optuna", type=int, default=0, metavar="N",
                        help="search the weights with Optuna, N trials per seed, instead of the grid")
    parser.add_argument("--word-vectors", nargs="+", default=[], metavar="FILE",
                        help="GloVe / word2vec / fastText text files, one set of rows with text each (Table II's "
                             "embeddings), beside the rows with the text model's token vectors (its BERT row)")
    scripts.add_model_options(parser)
    args = parser.parse_args()
    fixed = {"train.epochs": 10, "train.batch_size": 32} if args.demo else {}
    weightings = simplex(args.step or (0.5 if args.demo else 0.1))
    mtl = [{"data.targets": VAD, "train.loss": "ccc", "train.loss_weights": list(w)} for w in weightings]
    name = args.name or ("iemocap-ccc-weights-demo" if args.demo else "iemocap-ccc-weights")
    common = dict(corpus="iemocap", protocol="iemocap-holdout", task="dimensional", archs=("lstmfusion",),
                  seeds=scripts.seeds(args, paper=PAPER_RUNS), metric="dev/ccc", fixed=fixed)
    if args.optuna:
        choices = [",".join(map(str, w)) for w in simplex(0.05)]
        first = {"model.word_vectors": args.word_vectors[0]} if args.word_vectors else {}
        scripts.run(args, name=f"{name}-optuna", search={"train.loss_weights": ("choice", choices)},
                    num_samples=args.optuna,
                    **{**common, "fixed": {**fixed, **first, "data.targets": VAD, "train.loss": "ccc"}})
        return
    # the acoustic-only baseline as the paper trains it: Nadam, and for MTL its own weights α 0.1, β 0.4
    acoustic = {"model.modalities": "audio", "train.optimizer": "nadam", "train.lr": NADAM_LR}
    paper_acoustic = {"data.targets": VAD, "train.loss": "ccc", "train.loss_weights": [0.1, 0.4, 0.5]}
    # a set of rows per vector file, and BERT's (the text model's token vectors: word_vectors "")
    embeddings = [{"model.word_vectors": path} for path in (*args.word_vectors, "")] if args.word_vectors else [{}]
    with_text = [{**variant, **embedding} for embedding in embeddings for variant in (STL, *mtl)]
    variants = [*with_text, {**STL, **acoustic}, {**paper_acoustic, **acoustic}]
    scripts.run(args, name=name, variants=tuple(variants), **common)


if __name__ == "__main__":
    scripts.run_script(main)
