"""IEMOCAP leave-one-speaker-out, categorical: one hyperparameter setting per architecture, searched
over the whole protocol.

Each Optuna candidate (learning rate and dropout; the text model: its learning rate) trains on
every fold and seed and is scored by its mean dev UAR, so the sweep reports one chosen setting per
architecture for the whole protocol, not a different best per fold; ASHA stops a poor candidate
after a few of its trials.  The report names the chosen setting, tests it like any sweep, and lists
the candidates ASHA stopped apart from failures.  ``--scope cell`` searches each (fold, seed) on its
own instead (the best run per cell, chosen on dev).

Run:  python sweeps/search.py --demo
      python sweeps/search.py --corpus-root /data/IEMOCAP_full_release --archs cnn14 mfcnn14 --samples 30
"""

from sertext.sweep import scripts

SPACES = {  # what Optuna searches per architecture family
    "cnn": {"train.lr": ("loguniform", 1e-3, 0.1), "model.dropout": ("uniform", 0.0, 0.5)},
    "text": {"train.lr": ("loguniform", 1e-5, 1e-3)},
}


def main() -> None:
    parser = scripts.sweep_parser(__doc__)
    parser.add_argument("--archs", nargs="+", default=["mfcnn14"], choices=["cnn14", "sfcnn14", "mfcnn14", "text"],
                        help="architectures to tune (default mfcnn14; a CNN14 family and the text model need "
                             "separate launches, their spaces differ)")
    scripts.add_model_options(parser)
    parser.add_argument("--samples", type=int, default=None, help="Optuna candidates (default 30; --demo 6)")
    parser.add_argument("--scope", default="protocol", choices=["protocol", "cell"],
                        help="protocol: one setting for every fold and seed (default); cell: one per fold and seed")
    parser.add_argument("--grace-period", type=int, default=None,
                        help="ASHA lets a candidate run this many trials (--scope cell: epochs) before it may "
                             "stop it (default: 3; --demo 2); 0 turns ASHA off")
    args = parser.parse_args()
    families = {"text" if arch == "text" else "cnn" for arch in args.archs}
    if len(families) > 1:
        raise ValueError("tune the text model and the CNN14 family in separate launches: their search spaces differ")
    grace = args.grace_period if args.grace_period is not None else 2 if args.demo else 3
    scripts.run(
        args,
        name=args.name or ("iemocap-search-demo" if args.demo else "iemocap-search"),
        corpus="iemocap",
        protocol="iemocap-loso",
        task="categorical",
        archs=tuple(args.archs),
        seeds=scripts.seeds(args, demo=(0,)),
        fixed=scripts.demo_settings() if args.demo else {},
        search=SPACES[families.pop()],
        num_samples=args.samples or (6 if args.demo else 30),
        scope=args.scope,
        scheduler="asha" if grace else "",
        grace_period=max(grace, 1),
        **scripts.demo_folds(args, ("Ses01F", "Ses01M", "Ses02F", "Ses02M")),
    )


if __name__ == "__main__":
    scripts.run_script(main)
