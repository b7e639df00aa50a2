"""The ``sertext`` command: corpus tools now, training and reports as they land.

Run ``sertext --help`` or ``sertext COMMAND --help`` for the options of each command.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd


def _demo_corpus(args: argparse.Namespace) -> int:
    from sertext.data.demo import write_demo_corpus

    root = write_demo_corpus(args.out, utterances=args.utterances, seed=args.seed,
                             progress=not args.quiet)
    print(f"Demo corpus ready at {root} ({args.utterances} utterances, seed {args.seed}).")
    print(f"Check it with:  sertext check-corpus iemocap {root} --dialogue-acts {root / 'EMOTyDA'}")
    return 0


def _check_corpus(args: argparse.Namespace) -> int:
    from sertext.data import count_problems, four_class, load_corpus, problems_of

    table = load_corpus(args.corpus, args.root, on_error="collect", check_audio=not args.no_audio,
                        dialogue_acts=args.dialogue_acts)
    problems = problems_of(table)
    group = "session" if args.corpus == "iemocap" else "split"
    print(f"{args.corpus} at {Path(args.root).resolve()}: {len(table)} utterances, "
          f"{table['speaker'].nunique()} speakers\n")
    print(_count_table(table, group).to_string())
    kept = four_class(table)
    per_class = ", ".join(f"{label} {n}" for label, n in kept["label"].value_counts().sort_index().items())
    print(f"\nfour-class set (excited merged into happy): {len(kept)} utterances ({per_class})")
    print(_speaker_line(table))
    if "dialogue_act" in table.columns:
        print(f"dialogue acts: {table['dialogue_act'].notna().sum()} of {len(table)} utterances")
    print()
    _print_problems(problems, count_problems(problems), args.all)
    errors = sum(n for (severity, _), n in count_problems(problems).items() if severity == "error")
    return 1 if errors else 0


def _count_table(table: pd.DataFrame, group: str) -> pd.DataFrame:
    """Utterances per session (or split) × emotion code, with totals."""
    counts = pd.crosstab(table[group].astype("object").fillna("(none)"),
                         table["emotion"].astype("object").fillna("(none)"),
                         margins=True, margins_name="total")
    return counts


def _speaker_line(table: pd.DataFrame) -> str:
    genders = table.drop_duplicates("speaker")["gender"].value_counts(dropna=False)
    described = ", ".join(f"{'missing' if pd.isna(g) else g} {n}" for g, n in genders.items())
    return f"speakers: {table['speaker'].nunique()} ({described}); utterances without speaker: " \
           f"{table['speaker'].isna().sum()}"


def _print_problems(problems, counts, show_all: bool) -> None:
    if not problems:
        print("No problems found.")
        return
    print("Problems (severity, kind: count):")
    for (severity, kind), n in sorted(counts.items()):
        print(f"  {severity:5s} {kind}: {n}")
    by_kind = defaultdict(list)
    for problem in problems:
        by_kind[(problem.severity, problem.kind)].append(problem)
    for (severity, kind), found in sorted(by_kind.items()):
        shown = found if show_all or severity == "error" else found[:5]
        print(f"\n{severity} {kind}:")
        for problem in shown:
            print(f"  {problem}")
        if len(shown) < len(found):
            print(f"  ... and {len(found) - len(shown)} more (--all shows every one)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``sertext`` command."""
    parser = argparse.ArgumentParser(
        prog="sertext",
        description="Speech + text emotion recognition sweeps: corpora, training, sweeps, reports.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo-corpus", help="write the synthetic demo corpus (IEMOCAP format)",
        description="Synthesise the demo corpus with eSpeak NG in the IEMOCAP_full_release format, "
                    "with EMOTyDA-style dialogue acts. The same seed gives the same corpus; an "
                    "existing demo corpus with the same settings is reused.",
    )
    demo.add_argument("--out", required=True, type=Path, help="folder to write (created)")
    demo.add_argument("--utterances", type=int, default=600, help="labelled utterances (default 600)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(run=_demo_corpus)

    check = commands.add_parser(
        "check-corpus", help="summarise a corpus and list every problem found",
        description="Read a corpus as sertext does and print utterances per session (IEMOCAP) or "
                    "split (MSP-Podcast) and emotion, the four-class total, the speakers and every "
                    "problem found. Exits with 1 when there are errors.",
    )
    check.add_argument("corpus", choices=["iemocap", "msp-podcast"], help="corpus format")
    check.add_argument("root", type=Path, help="corpus folder (e.g. IEMOCAP_full_release)")
    check.add_argument("--dialogue-acts", type=Path, default=None,
                       help="EMOTyDA CSV file or folder (IEMOCAP only)")
    check.add_argument("--no-audio", action="store_true", help="skip opening every wav header")
    check.add_argument("--all", action="store_true", help="list every note, not the first five per kind")
    check.set_defaults(run=_check_corpus)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``sertext`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"sertext {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
