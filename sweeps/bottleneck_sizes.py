"""IEMOCAP 5-fold leave-one-session-out: the cross-representation speech model at several
bottleneck sizes (d, f), the text CNN and their score fusion, × seeds.

Tables 1–3 and 6 of Makiuchi et al.: the speech model reconstructs the mel from wav2vec 2.0 states
through a BLSTM bottleneck of d units per direction sampled every f frames (Small: d=8, f=48;
Large: d=128, f=2), the text CNN reads token-level transformer states, and the report fuses the
two (p = w1·p_speech + w2·p_text: w1 chosen on dev, and the paper's fixed (0.6, 1) as its own row)
and probes how much speaker identity the codes keep.  ``--text-models A B C`` runs Table 4
instead: the text CNN alone over several transformers (the paper: BERT cased, uncased and
whole-word masking), one variant each.  Without --speech-model the mel-input ablation of the paper runs (no pretrained
speech model needed).  With --demo: the demo corpus, the mel-input ablation, small widths, short
training, three of the five folds and two seeds.

(Not named bottleneck.py: Ray puts the script's folder on the workers' path, where a
bottleneck.py would shadow the ``bottleneck`` package that pandas imports.)

Run:  python sweeps/bottleneck_sizes.py --demo
      python sweeps/bottleneck_sizes.py --corpus-root /data/IEMOCAP_full_release \\
          --speech-model facebook/wav2vec2-large-lv60 --text-model bert-large-uncased
"""

from sertext.sweep import SweepConfig, definition_options, run_script, run_settings, run_sweep, seeds, sweep_parser

BOTTLENECKS = ((8, 48), (128, 2), (16, 16), (32, 8))  # the paper's Small and Large, and two between


def main() -> None:
    parser = sweep_parser(__doc__)
    parser.add_argument("--bottlenecks", nargs="+", default=None, metavar="D,F",
                        help="bottleneck sizes d,f to try (default: 8,48 128,2 16,16 32,8; --demo: 8,48 128,2)")
    parser.add_argument("--speech-model", default="",
                        help="wav2vec 2.0 model name or folder (default: none, the mel-input ablation)")
    parser.add_argument("--text-model", default="",
                        help="transformer for the text CNN's token states (default: the offline MiniLM)")
    parser.add_argument("--text-models", nargs="+", default=[], metavar="MODEL",
                        help="Table 4: train only the text CNN, once per transformer name or folder")
    args = parser.parse_args()
    if args.text_models:
        run_text_models(args)
        return
    sizes = [tuple(int(v) for v in item.split(",")) for item in args.bottlenecks] if args.bottlenecks \
        else BOTTLENECKS[:2] if args.demo else BOTTLENECKS
    speech = "crossrep" if args.speech_model else "crossrep-mel"
    fixed = {"model.speech_model": args.speech_model} if args.speech_model else {}
    if args.text_model:
        fixed["model.text_model"] = args.text_model
    options = definition_options(args)
    if args.demo:
        fixed.update({"model.width": 0.125, "train.batch_size": 16})
        if not args.folds:
            options["folds"] = ("Session1", "Session2", "Session3")
    run_sweep(SweepConfig(
        name=args.name or ("iemocap-bottleneck-demo" if args.demo else "iemocap-bottleneck"),
        corpus="iemocap",
        protocol="iemocap-loso-session",
        task="categorical",
        archs=(speech, "textcnn"),
        seeds=seeds(args),
        variants=tuple({"model.bottleneck": d, "model.downsample": f} for d, f in sizes),
        variant_archs=(speech,),
        audio_baseline=speech,
        text_baseline="textcnn",
        fixed_fusion=(0.6, 1.0),  # the paper's w1, w2
        fixed=fixed,
        per_arch=demo_per_arch(speech) if args.demo else {},
        **options,
    ), run_settings(args))


def run_text_models(args) -> None:
    """Makiuchi et al.'s Table 4: the text CNN over the token states of each transformer."""
    options = definition_options(args)
    if args.demo and not args.folds:
        options["folds"] = ("Session1", "Session2", "Session3")
    run_sweep(SweepConfig(
        name=args.name or ("iemocap-text-models-demo" if args.demo else "iemocap-text-models"),
        corpus="iemocap",
        protocol="iemocap-loso-session",
        task="categorical",
        archs=("textcnn",),
        seeds=seeds(args),
        variants=tuple({"model.text_model": model} for model in args.text_models),
        audio_baseline="textcnn",
        text_baseline="textcnn",
        per_arch={"textcnn": demo_per_arch("crossrep-mel")["textcnn"]} if args.demo else {},
        **options,
    ), run_settings(args))


def demo_per_arch(speech: str) -> dict:
    """Demo training: a few epochs at a higher learning rate than the papers' 1e-4 (they train for
    hundreds of epochs of a 5,531-utterance corpus; the demo corpus has 600), and the linear speaker
    probe (the paper's MLP probe trains one step per segment for ten epochs: minutes per trial on a
    CPU)."""
    return {speech: {"train.epochs": 4, "train.lr": 1e-3, "model.probe": "linear"},
            "textcnn": {"train.epochs": 6, "train.lr": 1e-3}}


if __name__ == "__main__":
    run_script(main)
