"""ForcedAlignment files in the Sphinx-3 format IEMOCAP ships (docs/datasets.md §1)."""

import pytest

from sertext.data.alignment import AlignmentError, alignment_path, parse_segments, read_segments

WDSEG = """ SFrm  EFrm    SegAScr Word
    0    20     -85000 <s>
   21    31     -45000 THE
   32    49     -73000 ++LAUGHTER++
  124   162    -157000 </s>
 Total score: -660000
"""
PHSEG = """ SFrm  EFrm    SegAScr Phone
    0    21     -89000 SIL
   22    26     -21000 DH(SIL,AH) b
"""


def test_words_and_phones_with_inclusive_end_frames():
    words = parse_segments(WDSEG)
    assert [w.label for w in words] == ["<s>", "THE", "++LAUGHTER++", "</s>"]
    assert (words[1].start_s, words[1].end_s) == pytest.approx((0.21, 0.32))
    phones = parse_segments(PHSEG)
    assert phones[1].label == "DH(SIL,AH) b" and phones[0].end_s == pytest.approx(0.22)


def test_a_bad_line_names_file_and_line():
    with pytest.raises(AlignmentError, match=r"x\.wdseg, line 3"):
        parse_segments(WDSEG.replace("   21    31", "   21    xx"), "x.wdseg")


def test_path_beside_the_wav_and_the_demo_corpus_files(demo_root):
    wav = demo_root / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav"
    path = alignment_path(wav, "wdseg")
    assert path == demo_root / "Session1/sentences/ForcedAlignment/Ses01F_impro01/Ses01F_impro01_F000.wdseg"
    words = read_segments(path)
    assert words[0].label == "<s>" and words[-1].label == "</s>"
    assert all(a.end_s <= b.start_s + 1e-9 for a, b in zip(words, words[1:], strict=False))
    assert read_segments(alignment_path(wav, "phseg"))[0].label == "SIL"
