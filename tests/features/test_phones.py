"""Frame-level phones: a hand-written .phseg, the demo corpus, missing files, token-only transcripts."""


import numpy as np
import pandas as pd
import pytest

import sertext.data as data
from sertext.data.audio import read_wav
from sertext.features import FeatureCache, extract
from sertext.features.autovc_mel import autovc_mel
from sertext.features.phones import (
    ARPABET,
    N_PHONE_IDS,
    MissingAlignmentWarning,
    PhoneExtractor,
    missing_phone_alignments,
    phone_id,
)
from tests.fixtures import CountingExtractor, write_wav

# Sphinx frames are 10 ms, inclusive: "0 4" is 0-50 ms.  20 ms frames below: [0,20) [20,40) …
PHSEG = """ SFrm  EFrm    SegAScr Phone
    0     4     -10000 SIL
    5     5      -1000 HH(SIL,AH) b
    6     8      -3000 AH(HH,L) i
    9    12      -4000 L(AH,OW) i
   13    14      -2000 OW(L,SIL) e
   15    18      -4000 +BREATH+
   19    20      -2000 AY(SIL,SIL) s
   21    21      -1000 +COUGH+
 Total score: -27000
"""
CLEAN_PHSEG = PHSEG.replace("+COUGH+", "SIL")


def _utterance(root, utt_id="Ses01F_impro01_F000", *, seconds=0.5, phseg=CLEAN_PHSEG, text="Hello."):
    dialog = utt_id.rsplit("_", 1)[0]
    wav = root / "Session1" / "sentences" / "wav" / dialog / f"{utt_id}.wav"
    write_wav(wav, seconds=seconds)
    if phseg is not None:
        folder = root / "Session1" / "sentences" / "ForcedAlignment" / dialog
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{utt_id}.phseg").write_text(phseg)
    return {"utt_id": utt_id, "path": str(wav), "text": text}


CMU_PHONES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z "
              "ZH").split()


def _expected_id(phone, position):
    """The documented mapping, written out: 6 + 3 × alphabetical index + (B, I, E) index."""
    return 6 + 3 * CMU_PHONES.index(phone) + "BIE".index(position)


def test_hand_written_alignment(tmp_path):
    table = pd.DataFrame([_utterance(tmp_path, phseg=PHSEG)])
    with pytest.warns(UserWarning, match=r"\+COUGH\+"):
        phones = extract(table, PhoneExtractor(), FeatureCache(tmp_path / "c"), progress=False)["Ses01F_impro01_F000"]
    hh, ah, ll, ow, ay = (_expected_id("HH", "B"), _expected_id("AH", "I"), _expected_id("L", "I"),
                          _expected_id("OW", "E"), _expected_id("AY", "B"))
    # 0.5 s = 8000 samples → 8000 // 320 + 1 = 26 frames.  Per frame (10 ms segment cells):
    # f0,f1: SIL; f2: SIL 10 | HH 10 → SIL (tie: earlier); f3: AH 20; f4: AH 10 | L 10 → AH;
    # f5: L 20; f6: L 10 | OW 10 → L; f7: OW 10 | BREATH 10 → OW; f8: BREATH;
    # f9: BREATH 10 | AY 10 → BREATH; f10: AY 10 | COUGH 10 → AY; f11..: nothing → silence.
    expected = [0, 0, 0, ah, ah, ll, ll, ow, 3, 3, ay] + [0] * 15
    assert phones.dtype == np.int64 and phones.tolist() == expected
    assert hh not in phones.tolist()  # a 10 ms phone never wins a frame against an equal earlier one


def test_label_mapping_is_fixed_and_within_the_inventory():
    assert sorted(ARPABET) == CMU_PHONES
    ids = [phone_id(f"{p}(SIL,SIL) {pos}") for p in CMU_PHONES for pos in "bie"]
    assert ids == list(range(6, 6 + 3 * 39)) and max(ids) < N_PHONE_IDS
    assert phone_id("AA1(SIL,SIL) s") == phone_id("AA(SIL,SIL) b") == _expected_id("AA", "B")
    assert phone_id("AX(SIL,SIL) e") == _expected_id("AH", "E")
    assert [phone_id(x) for x in ("++LAUGHTER++", "+LAUGH+", "+BREATH+", "++GARBAGE++", "+SMACK+")] == [2, 2, 3, 4, 5]
    assert phone_id("+UM+") is None and phone_id("sil") == 0


def test_demo_corpus_phones_match_mel_frames_and_cache_is_reused(tiny_demo_root, tmp_path):
    corpus = data.load_corpus("iemocap", tiny_demo_root)
    tag_only = corpus.text.str.fullmatch(r"\[[A-Z]+\]")
    table = corpus[(corpus.index < 10) | tag_only]
    assert tag_only.any()
    cache, calls = FeatureCache(tmp_path / "c"), []
    phones = extract(table, CountingExtractor(PhoneExtractor(), calls), cache, progress=False)
    again = extract(table, CountingExtractor(PhoneExtractor(), calls), cache, progress=False)
    assert sum(calls) == len(table)
    for row in table.itertuples():
        ids = phones[row.utt_id]
        assert np.array_equal(ids, again[row.utt_id])
        assert len(ids) == autovc_mel(read_wav(row.path)).shape[0]
        if tag_only[row.Index]:  # a constant sequence of the token's id
            assert set(ids.tolist()) == {["LAUGHTER", "BREATHING", "GARBAGE", "LIPSMACK"].index(row.text[1:-1]) + 2}
            continue
        assert ids[0] == 0 and 0 <= ids.min() and ids.max() < 123
        assert (ids >= 6).mean() > 0.3  # speech, not just silence


def test_missing_alignment_is_all_unknown_and_warned_every_time(tmp_path):
    table = pd.DataFrame([_utterance(tmp_path, phseg=None), _utterance(tmp_path, "Ses01F_impro01_M000")])
    assert missing_phone_alignments(table) == ["Ses01F_impro01_F000"]
    cache, calls = FeatureCache(tmp_path / "c"), []
    for _ in range(2):  # cached or not, never silent
        with pytest.warns(MissingAlignmentWarning, match="Ses01F_impro01_F000"):
            phones = extract(table, CountingExtractor(PhoneExtractor(), calls), cache, progress=False)
    assert sum(calls) == 2
    assert phones["Ses01F_impro01_F000"].tolist() == [1] * 26


def test_token_only_transcript_is_constant_and_alignment_changes_invalidate(tmp_path):
    row = _utterance(tmp_path, "Ses01F_impro01_M001", phseg=None, text="[LAUGHTER]")
    table = pd.DataFrame([row, _utterance(tmp_path)])
    cache, calls = FeatureCache(tmp_path / "c"), []
    phones = extract(table, CountingExtractor(PhoneExtractor(), calls), cache, progress=False)
    assert phones["Ses01F_impro01_M001"].tolist() == [2] * 26
    phseg = tmp_path / "Session1/sentences/ForcedAlignment/Ses01F_impro01/Ses01F_impro01_F000.phseg"
    assert phones["Ses01F_impro01_F000"][10] == _expected_id("AY", "B")
    phseg.write_text(CLEAN_PHSEG.replace("AY(SIL,SIL) s", "EY(SIL,SIL) s"))
    changed = extract(table, CountingExtractor(PhoneExtractor(), calls), cache, progress=False)
    assert sum(calls) == 3  # only the changed alignment is recomputed
    assert changed["Ses01F_impro01_F000"][10] == _expected_id("EY", "B")
