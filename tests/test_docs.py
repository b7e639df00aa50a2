"""The documentation keeps up with what it documents: every results item of the four papers has
a verdict in docs/reproduction.md."""

import re
from pathlib import Path

import pytest

REPRODUCTION = Path(__file__).resolve().parent.parent / "docs" / "reproduction.md"

# Every table and figure of the four papers (shared/seeds), by the heading of its section in the doc.
PAPER_ITEMS = {
    "Triantafyllopoulos et al.": ["Fig. 1", "Fig. 2", "Fig. 3", "Fig. 4", "Fig. 5", "Fig. 6", "Table 1", "Table 2",
                                  "Table 3", "Table 4", "Table 5", "Table 6", "Table 7", "Table 8"],
    "Makiuchi et al.": ["Fig. 1", "Table 1", "Table 2", "Table 3", "Table 4", "Table 5", "Table 6"],
    "Tzirakis et al.": ["Fig. 1", "Table 1", "Table 2", "Table 3", "Table 4"],
    "Atmaja and Akagi": ["Table I", "Fig. 1", "Table II", "Fig. 2"],
}


def _rows(paper: str) -> list[tuple[str, str]]:
    """``(item, verdict)`` of each row of the paper's table in the doc."""
    text = REPRODUCTION.read_text()
    section = text[text.index(f"## {paper}"):]
    section = section[:section.index("\n## ", 1)]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| ") and " | " in line]
    return [(cells[0].lstrip("| "), cells[1]) for cells in rows[1:]]  # past the header


@pytest.mark.parametrize("paper", sorted(PAPER_ITEMS))
def test_every_item_of_the_paper_has_a_verdict(paper):
    rows = _rows(paper)
    for item in PAPER_ITEMS[paper]:
        pattern = re.compile(rf"(^|[ ,]){re.escape(item)}(?![0-9I])")
        verdicts = [verdict for label, verdict in rows if pattern.search(label.split(":")[0])]
        assert verdicts, f"{paper}: {item} is not listed in docs/reproduction.md"
        assert all(v.startswith(("as the paper", "deviates: ")) for v in verdicts), f"{paper}: {item}: {verdicts}"
