"""What a sweep's and a trial's MLflow runs carry: the definition whole, and the models each trial read."""

from sertext.config import TrialConfig
from sertext.record import SweepRecord, models_label, trial_tags
from sertext.sweep import SweepConfig, expand


def test_a_trial_is_tagged_with_its_place_and_the_models_it_read():
    sweep = SweepConfig("s", root="/data", archs=("text", "cnn14"), seeds=(1,), folds=("Ses01F",),
                        fixed={"data.asr_model": "pocketsphinx"}, per_arch={"text": {"model.text_model": "/m/bert"}})
    text, cnn14 = (one for run in expand(sweep, root="/data", folds=("Ses01F",)) for c in run.candidates
                   for one in c.trials)
    tags = trial_tags(text, TrialConfig.from_dict(text.config))
    assert tags == {"arch": "text", "fold": "Ses01F", "seed": 1, "task": "categorical", "corpus": "iemocap",
                    "protocol": "iemocap-loso", "variant": "-", "setting": "-", "text_model": "/m/bert",
                    "asr_model": "pocketsphinx"}
    assert models_label(tags) == "bert, ASR pocketsphinx"
    audio = trial_tags(cnn14, TrialConfig.from_dict(cnn14.config))  # reads no text: no recogniser either
    assert "text_model" not in audio and "asr_model" not in audio and models_label(audio) == ""


def test_the_record_promises_every_trial_of_the_definition():
    sweep = SweepConfig("s", root="/data", archs=("cnn14", "text"), seeds=(0, 1),
                        variants=({"model.dropout": 0.1}, {"model.dropout": 0.3}), variant_archs=("cnn14",))
    record = SweepRecord(sweep, "/data", ("Ses01F", "Ses01M"))
    expected = record.expected_trials()
    assert len(expected) == (2 + 1) * 2 * 2 and ("cnn14", "dropout=0.3", "Ses01M", 1) in expected
    again = SweepRecord.from_json(record.to_json())
    assert again == record and again.expected_trials() == expected
