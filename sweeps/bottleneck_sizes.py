"""IEMOCAP 5-fold leave-one-session-out: the cross-representation speech model at several
bottleneck sizes (d, f), the text CNN and their score fusion, × seeds.

Tables 1–3 and 6 of Makiuchi et al.: the speech model reconstructs the mel from wav2vec 2.0 states
through a BLSTM bottleneck of d units per direction sampled every f frames (Small: d=8, f=48;
Large: d=128, f=2), the text CNN reads token-level transformer states, and the report fuses the two
(p = w1·p_speech + w2·p_text with the paper's fixed (0.6, 1), and the plain average) and probes how
much speaker identity the codes keep.  Each fold trains as the paper's (§5): on all four training
sessions, with no dev set, for a fixed budget (the speech model 1,000,000 steps at batch 2, the
text CNN 412,800 at batch 4), and the last model is evaluated, so no weight is chosen on dev
(``--set train.selection=dev`` holds a hashed 20 % of the training utterances out as dev and keeps
the best epoch on it, the variant that also chooses the fusion weight w1 on dev).  The report names
the metrics the paper's way (its WA is the UAR, its UA the accuracy) and gives every fold.  The
models are the paper's: wav2vec 2.0 large (facebook/wav2vec2-large-lv60, its §3.1.1) and the text
CNN over BERT large uncased (bert-large-uncased, its best in Table 4); --mel-input runs the paper's
mel-input ablation instead (no pretrained speech model).  ``--text-models A B C`` runs Table 4
instead: the text CNN alone over several transformers, one variant each (the paper's seven, all
"large": albert-large-v2 bert-large-cased bert-large-uncased bert-large-uncased-whole-word-masking
google/electra-large-discriminator roberta-large xlnet-large-cased).  With --demo: the demo corpus,
the mel-input ablation and the offline MiniLM, small widths, a short budget in epochs, three of the
five folds and two seeds.

(Not named bottleneck.py: Ray puts the script's folder on the workers' path, where a
bottleneck.py would shadow the ``bottleneck`` package that pandas imports.)

Run:  python sweeps/bottleneck_sizes.py --demo
      python sweeps/bottleneck_sizes.py --corpus-root /data/IEMOCAP_full_release
      python sweeps/bottleneck_sizes.py --corpus-root /data/IEMOCAP_full_release --text-models albert-large-v2 \\
          bert-large-cased bert-large-uncased bert-large-uncased-whole-word-masking \\
          google/electra-large-discriminator roberta-large xlnet-large-cased
"""

from sertext.sweep import scripts

BOTTLENECKS = ((8, 48), (128, 2), (16, 16), (32, 8))  # the paper's Small and Large, and two between
DEMO_FOLDS = ("Session1", "Session2", "Session3")


def main() -> None:
    parser = scripts.sweep_parser(__doc__)
    parser.add_argument("--bottlenecks", nargs="+", default=None, metavar="D,F",
                        help="bottleneck sizes d,f to try (default: 8,48 128,2 16,16 32,8; --demo: 8,48 128,2)")
    scripts.add_model_options(parser, speech=True)
    parser.add_argument("--mel-input", action="store_true",
                        help="the paper's mel-input ablation of the speech model instead of wav2vec 2.0 (the "
                             "default with --demo, which has no wav2vec 2.0 weights offline)")
    parser.add_argument("--text-models", nargs="+", default=[], metavar="MODEL",
                        help="Table 4: train only the text CNN, once per transformer name or folder")
    args = parser.parse_args()
    if args.text_models:
        run_text_models(args)
        return
    sizes = [tuple(int(v) for v in item.split(",")) for item in args.bottlenecks] if args.bottlenecks \
        else BOTTLENECKS[:2] if args.demo else BOTTLENECKS
    mel = args.mel_input or (args.demo and not args.speech_model)
    if mel and args.speech_model:
        raise ValueError("--mel-input trains on the mel spectrogram: it reads no --speech-model")
    speech = "crossrep-mel" if mel else "crossrep"
    fixed = {"model.width": 0.125, "train.batch_size": 16} if args.demo else {}
    scripts.run(
        args,
        name=args.name or ("iemocap-bottleneck-demo" if args.demo else "iemocap-bottleneck"),
        corpus="iemocap",
        protocol="iemocap-loso-session",
        task="categorical",
        archs=(speech, "textcnn"),
        seeds=scripts.seeds(args),
        variants=tuple({"model.bottleneck": d, "model.downsample": f} for d, f in sizes),
        variant_archs=(speech,),
        audio_baseline=speech,
        text_baseline="textcnn",
        fixed_fusion=(0.6, 1.0),  # the paper's w1, w2
        fixed=fixed,
        per_arch=demo_per_arch(speech) if args.demo else {},
        **scripts.demo_folds(args, DEMO_FOLDS),
    )


def run_text_models(args) -> None:
    """Makiuchi et al.'s Table 4: the text CNN over the token states of each transformer."""
    scripts.run(
        args,
        name=args.name or ("iemocap-text-models-demo" if args.demo else "iemocap-text-models"),
        corpus="iemocap",
        protocol="iemocap-loso-session",
        task="categorical",
        archs=("textcnn",),
        seeds=scripts.seeds(args),
        variants=tuple({"model.text_model": model} for model in args.text_models),
        audio_baseline="textcnn",
        text_baseline="textcnn",
        per_arch={"textcnn": demo_per_arch("crossrep-mel")["textcnn"]} if args.demo else {},
        **scripts.demo_folds(args, DEMO_FOLDS),
    )


def demo_per_arch(speech: str) -> dict:
    """Demo training: a few epochs at a higher learning rate than the papers' 1e-4 (they train for
    hundreds of epochs of a 5,531-utterance corpus; the demo corpus has 600), and the linear speaker
    probe (the paper's MLP probe trains one step per segment for ten epochs: minutes per trial on a
    CPU)."""
    return {speech: {"train.epochs": 4, "train.lr": 1e-3, "model.probe": "linear"},
            "textcnn": {"train.epochs": 6, "train.lr": 1e-3}}


if __name__ == "__main__":
    scripts.run_script(main)
