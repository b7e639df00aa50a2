"""IEMOCAP leave-one-speaker-out, categorical: CNN14, text, SFCNN14 and MFCNN14 × 5 seeds.

The setting of Table 1 of the multistage-conditioning paper (Triantafyllopoulos et al.): 10 folds
(test = one speaker, dev = the other speaker of the session), four classes with excited merged
into happy, best epoch by dev UAR.  With --demo: the synthetic demo corpus, small models and two
seeds, on a laptop in minutes.

Run:  python sweeps/loso.py --demo
      ray submit cluster/cluster.yaml sweeps/loso.py -- --corpus-root /data/IEMOCAP_full_release
"""

from sertext.sweep import (
    SweepConfig,
    definition_options,
    demo_per_arch,
    demo_settings,
    run_script,
    run_settings,
    run_sweep,
    seeds,
    sweep_parser,
)


def main() -> None:
    args = sweep_parser(__doc__).parse_args()
    run_sweep(SweepConfig(
        name=args.name or ("iemocap-loso-demo" if args.demo else "iemocap-loso"),
        corpus="iemocap",
        protocol="iemocap-loso",
        task="categorical",
        archs=("cnn14", "text", "sfcnn14", "mfcnn14"),
        seeds=seeds(args),
        fixed=demo_settings() if args.demo else {},
        per_arch=demo_per_arch() if args.demo else {},
        **definition_options(args),
    ), run_settings(args))


if __name__ == "__main__":
    run_script(main)
