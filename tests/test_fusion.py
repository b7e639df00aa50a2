"""Post-hoc fusion on hand-computed prediction tables."""

import numpy as np
import pandas as pd
import pytest

from sertext.fusion import best_weight, fuse, fuse_fold, fuse_sweep, selection_score, weight_grid

CLASSES = ["angry", "happy", "neutral", "sad"]


def _categorical(truth, probabilities, ids=None):
    probabilities = np.asarray(probabilities, dtype=float)
    table = pd.DataFrame({"utt_id": ids or [f"u{i}" for i in range(len(truth))], "truth": truth,
                          "prediction": [CLASSES[i] for i in probabilities.argmax(axis=1)]})
    for i, c in enumerate(CLASSES):
        table[f"prob_{c}"] = probabilities[:, i]
    return table


AUDIO = _categorical(["angry", "sad", "happy"], [[.6, .1, .2, .1], [.1, .2, .2, .5], [.5, .3, .1, .1]])
TEXT = _categorical(["angry", "sad", "happy"], [[.2, .2, .5, .1], [.3, .1, .3, .3], [.1, .8, .05, .05]])


def test_late_fusion_averages_posteriors():
    fused = fuse(AUDIO, TEXT)
    assert fused["prob_angry"].tolist() == pytest.approx([0.4, 0.2, 0.3])
    assert fused["prob_happy"].tolist() == pytest.approx([0.15, 0.15, 0.55])
    assert fused["prediction"].tolist() == ["angry", "sad", "happy"]  # audio alone missed utterance u2
    assert selection_score(fused) == pytest.approx(1.0)
    assert selection_score(AUDIO) == pytest.approx(2 / 3)


def test_weights_pick_one_model_at_the_ends_of_the_grid():
    assert fuse(AUDIO, TEXT, 1.0)["prediction"].tolist() == AUDIO["prediction"].tolist()
    assert fuse(AUDIO, TEXT, 0.0)["prediction"].tolist() == TEXT["prediction"].tolist()
    # u0: angry wins while 0.6w + 0.2(1-w) > 0.2w + 0.5(1-w), i.e. w > 3/7; u2: happy while w < 5/9.
    weight, score = best_weight(AUDIO, TEXT, weight_grid(11))
    assert weight == 0.5 and score == pytest.approx(1.0)  # 0.5 is within (3/7, 5/9) and preferred
    assert best_weight(AUDIO, TEXT, np.array([0.0, 0.3, 0.45, 0.9]))[0] == 0.45


def test_rows_are_matched_by_utterance_not_by_position():
    shuffled = TEXT.iloc[[2, 0, 1]]
    assert fuse(AUDIO, shuffled)["prob_angry"].tolist() == pytest.approx([0.4, 0.2, 0.3])


def test_utterances_missing_from_one_model_are_an_error():
    with pytest.raises(ValueError, match="cover different utterances: 1 only in audio .*'u2'"):
        fuse(AUDIO, TEXT.iloc[:2])
    with pytest.raises(ValueError, match="disagree on the truth"):
        fuse(AUDIO, TEXT.assign(truth=["sad", "sad", "happy"]))
    with pytest.raises(ValueError, match="twice"):
        fuse(pd.concat([AUDIO, AUDIO.iloc[:1]]), TEXT)


def test_regression_outputs_are_fused_and_scored_by_mean_ccc():
    truth = [1.0, 2.0, 3.0]
    audio = pd.DataFrame({"utt_id": ["a", "b", "c"], "valence": truth, "pred_valence": [1.5, 2.5, 3.5]})
    text = audio.assign(pred_valence=[0.5, 1.5, 2.5])
    assert fuse(audio, text, 0.25)["pred_valence"].tolist() == pytest.approx([0.75, 1.75, 2.75])
    weight, score = best_weight(audio, text, weight_grid(101))
    assert weight == pytest.approx(0.5) and score == pytest.approx(1.0)  # the biases cancel
    with pytest.raises(ValueError, match="predict different things"):
        fuse(audio, AUDIO)


def test_fold_fusion_chooses_on_dev_and_reports_the_oracle_apart():
    # On dev the text model is wrong on every utterance: u0 right only for w > 2/3, u1 for w > 5/7.
    dev_text = _categorical(["angry", "sad", "happy"], [[0, 0, 0, 1], [1, 0, 0, 0], [1, 0, 0, 0]])
    result = fuse_fold(AUDIO, dev_text, AUDIO, TEXT, grid=weight_grid(11))
    assert result.w_audio == 0.8  # 0.8, 0.9 and 1.0 tie on dev; the one closest to 0.5 is kept
    assert result.weighted["prediction"].tolist() == ["angry", "sad", "angry"]  # u2: 0.42 angry vs 0.40 happy
    assert result.oracle_w_audio == 0.5 and result.oracle_score == pytest.approx(1.0)  # test would prefer LF
    assert result.late["prediction"].tolist() == ["angry", "sad", "happy"]


def test_a_whole_sweep_is_fused_per_fold_and_seed():
    def stacked(arch, table, fold, seed):
        return table.assign(arch=arch, variant="-", fold=fold, seed=seed)

    runs = [stacked(arch, table, fold, seed) for fold in ("F1", "F2") for seed in (0, 1)
            for arch, table in (("cnn14", AUDIO), ("text", TEXT), ("mfcnn14", AUDIO))
            if (arch, fold, seed) != ("text", "F2", 1)]  # a failed text trial
    predictions = pd.concat(runs, ignore_index=True)
    fused, weights = fuse_sweep(predictions, predictions, grid=weight_grid(11))
    assert sorted(set(fused["arch"])) == ["LF", "LF-weighted"]
    assert len(weights) == 3 and ("F2", 1) not in set(zip(weights.fold, weights.seed, strict=True))
    late = fused[(fused.arch == "LF") & (fused.fold == "F1") & (fused.seed == 0)]
    assert late["prob_angry"].tolist() == pytest.approx([0.4, 0.2, 0.3])
    assert weights["w_audio"].tolist() == [0.5] * 3 and weights["oracle_score"].tolist() == pytest.approx([1.0] * 3)
    with pytest.raises(ValueError, match="no fold and seed"):
        fuse_sweep(predictions, predictions, text="bert")
    fixed, _ = fuse_sweep(predictions, predictions, grid=weight_grid(11), fixed=(0.6, 1.0))
    published = fixed[(fixed.arch == "LF-fixed") & (fixed.fold == "F1") & (fixed.seed == 0)]
    expected = fuse(AUDIO, TEXT, 0.6 / 1.6)  # 0.6·p_audio + 1·p_text has the same argmax
    assert published["prob_angry"].tolist() == pytest.approx(expected["prob_angry"].tolist())
    assert published["prediction"].tolist() == expected["prediction"].tolist()
    assert (fixed.arch == "LF-fixed").sum() == 3 * len(AUDIO)


@pytest.mark.parametrize("seed", range(5))
def test_array_grid_search_scores_as_fused_tables_do(seed):
    """best_weight scores on arrays for speed; it must agree with fusing tables and scoring them."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(CLASSES, 40).tolist()
    audio, text = _categorical(truth, rng.random((40, 4))), _categorical(truth, rng.random((40, 4)))
    grid = weight_grid(21)
    weight, score = best_weight(audio, text, grid)
    scores = [selection_score(fuse(audio, text, w)) for w in grid]
    assert score == pytest.approx(max(scores)) and scores[list(grid).index(weight)] == pytest.approx(score)
    values = pd.DataFrame({"utt_id": [f"u{i}" for i in range(40)], "valence": rng.random(40),
                           "pred_valence": rng.random(40)})
    other = values.assign(pred_valence=rng.random(40))
    weight, score = best_weight(values, other, grid)
    assert score == pytest.approx(max(selection_score(fuse(values, other, w)) for w in grid))


def test_every_weight_of_the_grid_scores_as_the_metrics_do_on_its_fused_table():
    """The grid is scored all at once; each weight's score must equal sertext.metrics' UAR (ties in
    the posteriors included) and mean CCC on that weight's fused table, not only the best one."""
    from sertext import metrics as M
    from sertext.fusion import _ccc_per_weight, _uar_per_weight

    rng = np.random.default_rng(7)
    grid = weight_grid(11)
    truth = np.array(rng.choice(CLASSES[:3], 30))  # one class never occurs: skipped, as M.uar skips it
    a, t = rng.integers(0, 3, (30, 4)) / 4, rng.integers(0, 3, (30, 4)) / 4  # coarse values: many ties
    fused = grid[:, None, None] * a[None] + (1 - grid)[:, None, None] * t[None]
    expected = [M.uar(truth, np.asarray(CLASSES, dtype=object)[(w * a + (1 - w) * t).argmax(axis=1)], labels=CLASSES)
                for w in grid]
    assert _uar_per_weight(fused, truth, CLASSES).tolist() == expected
    targets, a, t = rng.random((30, 2)), rng.random((30, 2)), rng.random((30, 2))
    fused = grid[:, None, None] * a[None] + (1 - grid)[:, None, None] * t[None]
    expected = [np.mean([M.ccc(targets[:, i], (w * a + (1 - w) * t)[:, i]) for i in range(2)]) for w in grid]
    assert _ccc_per_weight(fused, targets) == pytest.approx(expected, abs=1e-12)


def test_single_task_variants_of_a_stack_fuse_on_their_own_targets():
    """Stacked runs of single-task variants leave the other targets' columns empty (NaN); each pair
    fuses on the targets its runs predict."""
    def run(arch, target, fold):
        truth = np.random.default_rng([ord(target[0]), int(fold[1])]).uniform(1, 5, 6)  # the same for both models
        noise = np.random.default_rng([ord(arch[0]), ord(target[0])]).normal(0, 0.5, 6)
        return pd.DataFrame({"utt_id": [f"{fold}-{i}" for i in range(6)], target: truth,
                             f"pred_{target}": truth + noise}).assign(
            arch=arch, variant=f"targets={target}", fold=fold, seed=0)

    stack = pd.concat([run(arch, target, fold) for arch in ("cnn14", "text") for target in ("arousal", "valence")
                       for fold in ("F1", "F2")], ignore_index=True)
    fused, weights = fuse_sweep(stack, stack, grid=weight_grid(5))
    assert len(weights) == 4 and np.isfinite(weights["dev_score"]).all()
    arousal = fused[(fused.arch == "LF") & (fused.variant == "targets=arousal")]
    assert arousal["pred_valence"].isna().all() and arousal["pred_arousal"].notna().all()
