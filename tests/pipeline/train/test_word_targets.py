"""[data] word_targets: trained on 36 word classes, saved, scored and converted with 12."""

import numpy as np
import pytest

from pipeline.cli import main as kwsq
from pipeline.data import loader
from pipeline.data.gsc import COMMANDS, WORDS
from pipeline.errors import KwsqError
from pipeline.train import word_targets
from pipeline.train.runs import Run


def _reference_sum(p36: np.ndarray) -> np.ndarray:
    """The 12-class posteriors written out by name: silence, the sum over the words that are
    not commands, then each command's own."""
    names = loader.word_class_names()
    col = {n: p36[:, i] for i, n in enumerate(names)}
    others = [w for w in WORDS if w not in COMMANDS]
    return np.stack([col["_silence_"], sum(col[w] for w in others),
                     *(col[c] for c in COMMANDS)], axis=1)


def test_word_classes_are_silence_commands_then_the_other_25():
    names = loader.word_class_names()
    assert len(names) == 36 and names[0] == "_silence_"
    assert names[1:11] == list(COMMANDS)
    assert sorted(names[11:]) == sorted(set(WORDS) - set(COMMANDS))


def test_summed_model_adds_the_other_words_into_unknown():
    import tf_keras as keras

    inp = keras.Input((5,))
    base = keras.Model(inp, keras.layers.Dense(36, activation="softmax")(inp))
    m = word_targets.summing_matrix(loader.word_class_names(),
                                    loader.class_names(loader.DataConfig(path="x")),
                                    loader.UNKNOWN)
    model = word_targets.summed_model(base, m)
    x = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    got = model.predict(x, verbose=0)
    np.testing.assert_allclose(got, _reference_sum(base.predict(x, verbose=0)), atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    assert not model.get_layer(word_targets.SUM_LAYER).trainable_weights


def test_word_targets_needs_label_mode_12_and_clip_targets():
    for kw in ({"label_mode": "35"}, {"targets": "frames"}):
        with pytest.raises(KwsqError, match="word_targets"):
            loader.DataConfig(path="x", word_targets=True, **kw)
    assert "word_targets" not in loader.DataConfig(path="x").to_dict()


def test_word_labels_name_the_word_of_every_row(tiny_corpus):
    cfg = loader.DataConfig(path=str(tiny_corpus), word_targets=True)
    names = loader.word_class_names()
    classes = loader.class_names(cfg)
    for split in ("training", "validation"):
        _, y = loader.cached_audio(cfg, split)
        words = loader.word_labels(cfg, split)
        meta = loader.load_audio(cfg, split)[2]
        assert [names[w] for w in words] == [m["word"] for m in meta]
        for w, label in zip(words, y, strict=True):
            if classes[label] == loader.UNKNOWN:
                assert names[w] not in COMMANDS and names[w] != "_silence_"
            else:
                assert names[w] == classes[label]
        assert np.sum(y == 1) > 0  # the tiny corpus has unknown examples to split


@pytest.fixture(scope="module")
def word_run(tiny_corpus, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("word_targets")
    (tmp / "w.toml").write_text("[data]\nword_targets = true\n")
    run_dir = tmp / "run"
    assert kwsq(["train", "--data", str(tiny_corpus), "--run", str(run_dir), "--preset",
                 "smoke", "--scheme", "float", "--float-epochs", "2",
                 "--config", str(tmp / "w.toml")]) == 0
    return Run(run_dir)


def test_saved_model_has_12_outputs_and_its_recorded_accuracy(word_run):
    from pipeline.data.features import FeatureConfig

    cfg = word_run.read_config()
    m = word_run.read_metrics()
    assert m["training_classes"] == loader.word_class_names()
    assert len(m["classes"]) == 12
    model = word_run.load_model()
    inner = model.get_layer(word_targets.SUM_LAYER).input
    assert inner.shape[-1] == 36 and model.output.shape[-1] == 12
    x, y = loader.arrays(loader.DataConfig.from_dict(cfg.data),
                         FeatureConfig.from_dict(cfg.features), "testing")
    import tf_keras as keras

    p36 = keras.Model(model.input, inner).predict(x, verbose=0)
    p12 = model.predict(x, verbose=0)
    np.testing.assert_allclose(p12, _reference_sum(p36), atol=1e-6)
    assert m["test_accuracy"] == pytest.approx(float(np.mean(p12.argmax(1) == y)))


def test_converted_tflite_has_12_outputs(word_run):
    import tensorflow as tf

    from pipeline.tflite.convert import convert_float

    model = word_run.load_model()
    interp = tf.lite.Interpreter(model_content=convert_float(model))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    assert list(out["shape"]) == [1, 12]
    x = np.random.default_rng(1).normal(size=inp["shape"]).astype(np.float32)
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    np.testing.assert_allclose(interp.get_tensor(out["index"]), model.predict(x, verbose=0),
                               atol=1e-5)


def test_word_targets_refuses_qat_schemes(tiny_corpus, tmp_path, capsys):
    (tmp_path / "w.toml").write_text("[data]\nword_targets = true\n")
    assert kwsq(["train", "--data", str(tiny_corpus), "--run", str(tmp_path / "r"),
                 "--preset", "smoke", "--config", str(tmp_path / "w.toml")]) != 0
    assert "float scheme" in capsys.readouterr().err
