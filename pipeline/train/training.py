"""``kwsq train``: float pre-training, then the scheme's QAT stages, in one run folder.

Stages come from the config: ``float`` trains the plain Keras model; every stage of the
quantization scheme (``weights`` then ``all`` for the two-stage tanh schemes of the sub-8-bit
streaming paper, just ``all`` for the others) wraps the current float weights with that stage's
quantizers and fine-tunes. After the float stage the scheme is also applied *naively*
(calibrated, not trained) so the papers' naive-vs-QAT comparison is in every run's metrics.
Each epoch checkpoints the weights and a small state file, so an interrupted run resumes where
it stopped.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline import console
from pipeline.atomic import write_text
from pipeline.config import allowed_keys, check_keys, load_section, read_toml
from pipeline.errors import KwsqError
from pipeline.train.presets import PRESETS
from pipeline.train.runs import Run, RunConfig, StageConfig

# ---------------------------------------------------------------------------- config


def scheme_names() -> list[str]:
    """The scheme table's names, read without importing TensorFlow (for ``--help``).

    ``quant_configs/schemes.py`` is plain data, but importing it through its package runs
    ``quant_configs/__init__`` (tfmot, TensorFlow: seconds); so the file is loaded alone.
    """
    if "quant_configs" in sys.modules:
        return sorted(sys.modules["quant_configs"].SCHEMES)
    spec = importlib.util.find_spec("quant_configs")
    if spec is None or not spec.submodule_search_locations:
        return []
    path = Path(next(iter(spec.submodule_search_locations))) / "schemes.py"
    name = "_kwsq_scheme_table"
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses look their module up while the file runs
    try:
        module_spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return sorted(module.SCHEMES)


def add_arguments(p: argparse.ArgumentParser) -> None:
    import models

    d = PRESETS["demo"]
    p.add_argument("--data", help="corpus in the Speech Commands v2 layout "
                   "(default: the config's, else data/kwsq_synth)")
    p.add_argument("--run", required=True,
                   help="run folder to create, or to resume if it exists, e.g. runs/demo")
    p.add_argument("--preset", choices=sorted(PRESETS),
                   help="named starting config (default: demo's values)")
    p.add_argument("--config", help="TOML run config (keys of a run's config.toml, or the "
                   f"preset keys {', '.join(PRESET_KEYS)}); overrides the preset (default: none)")
    p.add_argument("--model", choices=models.names(), metavar="MODEL",
                   help=f"model: {', '.join(models.names())} (default: {d['model']})")
    schemes = scheme_names()
    p.add_argument("--scheme", choices=schemes or None, metavar="SCHEME",
                   help=f"quantization scheme: {', '.join(schemes)} (default: {d['scheme']})")
    p.add_argument("--float-epochs", type=int, metavar="N",
                   help=f"epochs of the float stage (default: {d['float_epochs']})")
    p.add_argument("--qat-epochs", type=int, metavar="N",
                   help=f"epochs of each QAT stage (default: {d['qat_epochs']})")
    p.add_argument("--batch-size", type=int, metavar="N",
                   help=f"training batch size (default: {d['batch_size']})")
    p.add_argument("--seed", type=int, help="seed of weights, data order and augmentation "
                   "(default: 0)")
    p.add_argument("--label-mode", choices=["12", "35", "wake"],
                   help="12: silence, unknown + 10 commands; 35: all words; wake: one keyword "
                   "vs the rest (default: 12)")
    p.add_argument("--keyword", help="wake word for --label-mode wake (default: none)")
    p.add_argument("--window", metavar="NAME",
                   help="named input window of the model (svd_dnn, dnn250k: clip3 = 31 frames "
                   "every 3rd frame over the clip, clip labels; frames31 = 31 consecutive "
                   "frames, frame-level targets) (default: the model's FEATURES, clip3)")
    p.add_argument("--strategy", choices=["default", "mirrored", "multiworker"],
                   help="tf.distribute strategy; multiworker reads TF_CONFIG (default: default)")
    p.add_argument("--no-naive", action="store_true",
                   help="skip the naive (no-QAT) evaluation (default: evaluate it)")
    p.add_argument("--stop-after-epoch", type=int, metavar="N",
                   help="stop after N epochs in total over all stages, checkpointed, to "
                   "resume later (default: train to the end)")
    p.add_argument("--fresh", action="store_true",
                   help="discard an existing run folder and start over (default: resume it)")


# Keys a preset or a --config file may set besides the run config's own keys: they shape
# the stages (see stages_for) unless the file gives [[stages]] itself.
PRESET_KEYS = ("float_epochs", "qat_epochs", "learning_rate", "qat_learning_rate", "decay",
               "qat_decay", "decay_first", "decay_first_epochs", "full_rank_epochs",
               "full_rank_learning_rate")
SECTIONS = ("stages", "data", "features", "model_params")


def stages_for(scheme_stages: tuple[str, ...], s: dict[str, Any]) -> list[StageConfig]:
    """Float stage plus one QAT stage per scheme stage, with the low-bit QAT paper's decay
    shape (divided by ``decay_first`` for ``decay_first_epochs`` epochs, then by the
    stage's decay). ``full_rank_epochs`` > 0 first trains the model's full-rank form, which
    the float stage then factors by truncated SVD and fine-tunes (the paper's recipe)."""
    first = float(s.get("decay_first", 1.0))
    first_epochs = int(s.get("decay_first_epochs", 0))
    stages = []
    if int(s.get("full_rank_epochs", 0)) > 0:
        stages.append(StageConfig(
            "full_rank", int(s["full_rank_epochs"]),
            float(s.get("full_rank_learning_rate", s["learning_rate"])),
            decay_rest=float(s.get("decay", 1.1))))
    stages.append(StageConfig("float", int(s["float_epochs"]), float(s["learning_rate"]),
                              decay_first=first, decay_first_epochs=first_epochs,
                              decay_rest=float(s.get("decay", 1.1))))
    for name in scheme_stages:
        stages.append(StageConfig(name, int(s["qat_epochs"]), float(s["qat_learning_rate"]),
                                  decay_first=first, decay_first_epochs=first_epochs,
                                  decay_rest=float(s.get("qat_decay", 1.2))))
    return stages


def _check_model_params(model: str, params: dict[str, Any], where: str) -> None:
    import inspect

    import models

    signature = inspect.signature(models.builder(model))
    named = [n for n, p in signature.parameters.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
             and n not in ("input_shape", "num_classes")]
    if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
        return
    check_keys(params, named, f"[model_params] of {where} (model {model})")


def check_stages(stages: list[StageConfig], scheme: Any, where: str) -> None:
    """Stage names must be ``float`` or stages of the scheme, in the scheme's order."""
    allowed = ["full_rank", "float", *scheme.stages]
    names = [st.name for st in stages]
    if "full_rank" in names and names[:2] != ["full_rank", "float"]:
        raise KwsqError(f"[[stages]] of {where}: a full_rank stage must come first, followed "
                        "by the float stage that factors it")
    stages = [st for st in stages if st.name != "full_rank"]
    for i, st in enumerate(stages):
        if st.name not in allowed:
            raise KwsqError(f"[[stages]] entry {i + 1} of {where}: unknown stage '{st.name}' "
                            f"for scheme {scheme.name}; allowed: {', '.join(allowed)}")
    qat = [st.name for st in stages if st.name != "float"]
    if qat != [n for n in scheme.stages if n in qat]:
        raise KwsqError(f"[[stages]] of {where}: QAT stages {', '.join(qat)} are out of the "
                        f"order of scheme {scheme.name} ({', '.join(scheme.stages)})")
    if "float" in [st.name for st in stages[1:]]:
        raise KwsqError(f"[[stages]] of {where}: the float stage can only be the first")


def resolve_config(args: argparse.Namespace, base: RunConfig | None = None) -> RunConfig:
    """Preset, then a TOML file, then command-line options, later ones winning.

    Every key is checked: an unknown key or a bad value in any section is a one-line
    error. ``base`` (an existing run's config) supplies the data path when none is given.
    """
    s: dict[str, Any] = dict(PRESETS["demo"])
    if args.preset:
        s.update(PRESETS[args.preset])
    file_cfg: dict[str, Any] = {}
    file_stages: list[StageConfig] = []
    where = "the preset"
    if args.config:
        where = str(args.config)
        file_cfg = read_toml(args.config)
        check_keys(file_cfg, [*allowed_keys(RunConfig), *PRESET_KEYS], where)
        for section in SECTIONS:
            if section in file_cfg and not isinstance(file_cfg[section],
                                                      list if section == "stages" else dict):
                kind = "an array of tables [[stages]]" if section == "stages" else "a table"
                raise KwsqError(f"{section} in {where} must be {kind}")
        file_stages = [load_section(StageConfig, st, f"[[stages]] entry {i + 1} of {where}")
                       for i, st in enumerate(file_cfg.get("stages", []))]
    # the checks above need no TensorFlow: a typo is reported in a second
    import models
    import quant_configs
    from pipeline.data import loader as data_mod
    from pipeline.data.features import FeatureConfig

    s.update({k: v for k, v in file_cfg.items() if k not in ("stages", "data", "features")})
    s.setdefault("data", {})
    cli = {
        "model": args.model, "scheme": args.scheme, "float_epochs": args.float_epochs,
        "qat_epochs": args.qat_epochs, "batch_size": args.batch_size, "seed": args.seed,
        "strategy": args.strategy,
    }
    s.update({k: v for k, v in cli.items() if v is not None})

    scheme = quant_configs.get_scheme(s["scheme"])
    model_module = models.module(s["model"])
    window: dict[str, Any] = {"features": {}, "data": {}}
    if getattr(args, "window", None):
        known = models.windows(s["model"])
        if args.window not in known:
            raise KwsqError(f"model {s['model']} has no input window '{args.window}'"
                            + (f"; it has {', '.join(known)}" if known else ""))
        window = known[args.window]
    features = load_section(FeatureConfig, {**getattr(model_module, "FEATURES", {}),
                                            **s.get("features", {}), **window["features"],
                                            **file_cfg.get("features", {})},
                            f"[features] of {where}").to_dict()
    data = {**s.get("data", {}), **window["data"], **file_cfg.get("data", {})}
    default_path = base.data.get("path") if base is not None else "data/kwsq_synth"
    data["path"] = str(Path(args.data or data.get("path") or default_path))
    if args.label_mode:
        data["label_mode"] = args.label_mode
    if args.keyword:
        data["keyword"] = args.keyword
    data = load_section(data_mod.DataConfig, data, f"[data] of {where}").to_dict()
    if "stages" in file_cfg:
        stages = file_stages
    else:
        stages = stages_for(scheme.stages, s)
    check_stages(stages, scheme, where)
    if any(st.name == "full_rank" for st in stages) and not hasattr(
            model_module, "build_full_rank"):
        raise KwsqError(f"model {s['model']} has no full-rank form to factor (a full_rank "
                        "stage needs build_full_rank and factor_full_rank in its model file)")
    model_params = dict(s.get("model_params", {}))
    _check_model_params(s["model"], model_params, where)
    # Refuse a model + scheme pair that cannot mean what it says now, not after training.
    quant_configs.check_applicable(scheme.name, models.builder(s["model"])(**model_params))
    top = {
        "name": Path(args.run).name, "model": s["model"], "scheme": scheme.name,
        "model_params": model_params, "data": data, "features": features,
        "batch_size": s["batch_size"], "seed": s.get("seed", 0),
        "naive": not args.no_naive and s.get("naive", True),
        "calibration_batches": s.get("calibration_batches", 20),
        "strategy": s.get("strategy", "default"),
        "augment_copies": s.get("augment_copies", 0),
    }
    config = load_section(RunConfig, top, where)
    config.stages = stages
    return config


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(d, dict):
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(_flat(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: d}


def contradictions(args: argparse.Namespace, existing: RunConfig) -> list[str]:
    """Settings the given options ask for that differ from an existing run's config."""
    shaping = ("preset", "config", "model", "scheme", "float_epochs", "qat_epochs",
               "batch_size", "seed", "label_mode", "keyword", "strategy", "data", "window")
    if not args.no_naive and all(getattr(args, name, None) is None for name in shaping):
        return []
    given = resolve_config(args, base=existing)
    old = _flat({**existing.to_dict(), "stages": {st.name: asdict(st) for st in existing.stages}})
    new = _flat({**given.to_dict(), "stages": {st.name: asdict(st) for st in given.stages}})
    old.pop("name", None)
    new.pop("name", None)
    if args.preset or args.config:
        keys = [k for k in sorted(set(old) | set(new)) if k != "data.path" or args.data]
    else:  # only what the given options decide
        keys = []
        option_keys = {"model": "model", "scheme": "scheme", "batch_size": "batch_size",
                       "seed": "seed", "strategy": "strategy"}
        keys += [key for opt, key in option_keys.items() if getattr(args, opt) is not None]
        if args.data:
            keys.append("data.path")
        if args.label_mode:
            keys.append("data.label_mode")
        if args.keyword:
            keys.append("data.keyword")
        if getattr(args, "window", None):
            keys += ["features.stack_stride", "data.targets"]
        if args.no_naive:
            keys.append("naive")
        if args.float_epochs is not None:
            keys.append("stages.float.epochs")
        if args.qat_epochs is not None:
            keys += [f"stages.{st.name}.epochs" for st in given.stages if st.name != "float"]
    differ = []
    for key in keys:
        a, b = old.get(key), new.get(key)
        if key == "data.path" and a is not None and b is not None:
            same = Path(a).resolve() == Path(b).resolve()
        else:
            same = a == b
        if not same:
            differ.append(f"{key} {a if a is not None else '(none)'} -> "
                          f"{b if b is not None else '(none)'}")
    return differ


# ---------------------------------------------------------------------------- training


def make_strategy(name: str):
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise KwsqError("--strategy multiworker needs TF_CONFIG describing the cluster")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


class _EpochBar:
    """A Keras callback advancing a progress bar over one epoch's batches."""

    def __init__(self, label: str, epoch: int, stage: StageConfig, batches: int):
        import tf_keras as keras

        outer = self

        class _Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                outer.bar.update(1)
                if logs and "loss" in logs:
                    outer.bar.set_postfix(loss=f"{float(logs['loss']):.4f}", refresh=False)

            def on_train_end(self, logs=None):
                outer.bar.close()

        self.bar = console.bar(batches, desc=f"{label} epoch {epoch + 1}/{stage.epochs}",
                               unit="batch")
        self.callback = _Callback()


def epoch_line(label: str, stage: StageConfig, epoch: int, logs: dict[str, float],
               seconds: float) -> str:
    """One line per epoch: stage, epoch, learning rate, train and validation metrics."""
    return (f"{label} epoch {epoch + 1}/{stage.epochs} "
            f"lr {stage.lr_at(epoch):.2e} "
            f"loss {logs.get('loss', float('nan')):.4f} acc {logs.get('accuracy', 0):.4f} "
            f"val_acc {logs.get('val_accuracy', 0):.4f} ({seconds:.1f} s)")


class CopiedSplit:
    """An augmented training split that runs its pipeline for ``copies`` epochs only.

    Epoch ``key`` serves the features of pipeline epoch ``key mod copies`` (made once, kept
    in memory), reshuffled by ``key``: still a pure function of ``(seed, key)``, so resumed
    runs see the same batches. For a model whose training step is much faster than the
    augmented pipeline (svd_dnn: ~5,300 vs ~600 examples/s on 2 cores), most of the cost
    of an epoch is the augmentation, and ``copies`` of it give most of its variety.
    """

    def __init__(self, split: Any, copies: int):
        if copies < 1:
            raise KwsqError(f"augment_copies must be >= 1, not {copies}")
        self.split, self.copies = split, copies
        self._made: dict[int, tuple] = {}

    def __len__(self) -> int:
        return len(self.split)

    def batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def copy(self, key: int, batch_size: int) -> tuple:
        """The arrays (x, y[, weights]) of pipeline epoch ``key mod copies``."""
        import numpy as np

        k = key % self.copies
        if k not in self._made:
            parts = [tuple(t.numpy() for t in batch)
                     for batch in self.split.epoch(k, batch_size)]
            self._made[k] = tuple(np.concatenate(col) for col in zip(*parts, strict=True))
        return self._made[k]

    def epoch(self, key: int, batch_size: int, shuffle: bool = True):
        import tensorflow as tf

        from pipeline.data import loader as data_mod

        ds = tf.data.Dataset.from_tensor_slices(self.copy(key, batch_size))
        if shuffle:
            ds = ds.shuffle(len(self), seed=data_mod._epoch_seed(self.split.cfg.seed, key))
        return data_mod.sharded_prefetched(ds.batch(batch_size))


def _compile(model, lr: float) -> None:
    import tf_keras as keras

    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])


def accuracy(model, x, y, batch_size: int = 500) -> float:
    import numpy as np

    probs = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(probs, axis=-1) == y))


# ---------------------------------------------------------------------------- checkpoints
#
# A checkpoint is the model's variables *and* the optimizer's (Adam moments, step count),
# written with tf.train.Checkpoint under a name carrying the epoch; state.json, written
# after it, names the checkpoint to resume from. A crash between the two leaves state.json
# naming the previous checkpoint, which is deleted only after state.json moved on. With
# the data order a pure function of (seed, stage, epoch), a resumed run computes exactly
# what an uninterrupted one does.


def _read_state(run: Run) -> dict[str, Any]:
    if run.state_path.is_file():
        state = json.loads(run.state_path.read_text())
        state.setdefault("checkpoint", {})
        return state
    return {"completed": [], "epoch": {}, "checkpoint": {}}


def _write_state(run: Run, state: dict[str, Any]) -> None:
    write_text(run.state_path, json.dumps(state, indent=1))


def _checkpoint(model):
    import tensorflow as tf

    return tf.train.Checkpoint(model=model, optimizer=model.optimizer)


def _save_checkpoint(run: Run, state: dict[str, Any], index: int, stage: StageConfig,
                     model, epochs_done: int, completed: bool = False) -> None:
    folder = run.state_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    name = f"stage{index}_{stage.name}-e{epochs_done}"
    _checkpoint(model).write(str(folder / name))
    previous = state["checkpoint"].get(str(index))
    state["checkpoint"][str(index)] = name
    state["epoch"][str(index)] = epochs_done
    if completed:
        state["completed"].append(index)
    _write_state(run, state)
    if previous and previous != name:
        for old in folder.glob(previous + ".*"):
            old.unlink()


def _restore_checkpoint(run: Run, state: dict[str, Any], index: int, model) -> str | None:
    name = state["checkpoint"].get(str(index))
    if not name:
        return None
    prefix = run.state_path.parent / name
    if not Path(str(prefix) + ".index").is_file():
        raise KwsqError(f"{run.path}: checkpoint {name} named in {run.state_path.name} is "
                        "missing; start over with --fresh")
    model.optimizer.build(model.trainable_variables)  # slots exist before they are restored
    _checkpoint(model).read(str(prefix)).assert_existing_objects_matched()
    return name


def train(config: RunConfig, run: Run, log=print, new: bool = True,
          stop_after_epoch: int | None = None) -> dict[str, Any] | None:
    """Train every stage of ``config`` in ``run``; the metrics, or None when stopped early.

    ``new``: the run folder is (re)made, and its config.toml written, only once the data
    have loaded, so a failed first try leaves no config for a later run to resume from.
    """
    import tensorflow as tf
    import tf_keras as keras

    import models
    import quant_configs
    from pipeline.data import loader as data_mod
    from pipeline.data.features import FeatureConfig, input_shape

    # MultiWorkerMirroredStrategy configures collective ops, which must happen before
    # TensorFlow runs anything (the data pipeline below does): make the strategy first.
    strategy = make_strategy(config.strategy)
    # Same config + seed -> same weights: seeded RNGs and deterministic kernels.
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    data_cfg = data_mod.DataConfig.from_dict(config.data)
    feat_cfg = FeatureConfig.from_dict(config.features)
    data_mod.check_layout(data_cfg.path)
    classes = data_mod.class_names(data_cfg)
    targets = data_mod.target_names(data_cfg)  # the model's outputs while it trains
    if data_cfg.word_targets and config.scheme != "float":
        raise KwsqError("word_targets is measured with the float scheme only (the summing "
                        "layer after the softmax is not part of any QAT scheme)")
    shape = input_shape(feat_cfg)
    log(f"train: {config.model} / {config.scheme} on {data_cfg.path}: {len(classes)} classes"
        + (f" (trained on {len(targets)} word classes)" if targets != classes else "")
        + f", input {shape}, stages {[s.name for s in config.stages]}")
    if data_cfg.targets == "frames":  # a label per window position (frame-level targets)
        from pipeline.data import frame_targets

        train_split = frame_targets.FrameSplit(data_cfg, feat_cfg, "training")
        if config.augment_copies:
            train_split = CopiedSplit(train_split, config.augment_copies)
        x_val, y_val = frame_targets.window_arrays(data_cfg, feat_cfg, "validation")
        x_test, y_test = frame_targets.window_arrays(data_cfg, feat_cfg, "testing")
    else:
        train_split = data_mod.AugmentedSplit(data_cfg, feat_cfg, "training")
        if config.augment_copies:
            train_split = CopiedSplit(train_split, config.augment_copies)
        x_val, y_val = data_mod.arrays(data_cfg, feat_cfg, "validation")
        x_test, y_test = data_mod.arrays(data_cfg, feat_cfg, "testing")
    # Keras validates the model it trains: on the word labels when it trains on them
    y_fit_val = (data_mod.word_labels(data_cfg, "validation") if data_cfg.word_targets
                 else y_val)

    def scored(m):  # the model as the task sees it (12 outputs)
        if not data_cfg.word_targets:
            return m
        from pipeline.train import word_targets

        return word_targets.summed_model(m, word_targets.summing_matrix(
            targets, classes, data_mod.UNKNOWN))

    log(f"train: {len(y_val)} validation and {len(y_test)} test examples")
    if new:
        if run.path.exists():
            shutil.rmtree(run.path)
        run.write_config(config)
    console.use_run_log(run.path)

    state = _read_state(run)
    epochs_done = sum(int(n) for n in state["epoch"].values())
    metrics: dict[str, Any] = {
        "model": config.model, "scheme": config.scheme, "classes": classes,
        "input_shape": list(shape), "test_examples": int(len(y_test)), "stages": {},
    }
    if data_cfg.targets == "frames":  # accuracies below are per window position
        metrics["targets"] = "frames"
    with strategy.scope():
        float_model = models.builder(config.model)(shape, len(targets), **config.model_params)
    metrics["parameters"] = int(float_model.count_params())
    model = float_model
    full_rank = None
    for index, stage in enumerate(config.stages):
        label = f"[{index + 1}/{len(config.stages)} {stage.name}]"
        with strategy.scope():
            if stage.name == "full_rank":
                full_rank = models.module(config.model).build_full_rank(
                    shape, len(targets), **config.model_params)
                model = full_rank
            elif stage.name == "float":
                if full_rank is not None:  # SVD bottlenecks introduced into the trained DNN
                    models.module(config.model).factor_full_rank(full_rank, float_model)
                model = float_model
            else:
                if model is not float_model:
                    quant_configs.copy_float_weights(model, float_model)
                model = quant_configs.quantize_model(float_model, config.scheme, stage.name)
            _compile(model, stage.lr_at(0))
        start = int(state["epoch"].get(str(index), 0))
        restored = _restore_checkpoint(run, state, index, model)
        if index in state["completed"]:
            log(f"{label} done earlier: loaded {restored}")
        else:
            if start:
                log(f"{label} resuming at epoch {start + 1}")
            scheduler = keras.callbacks.LearningRateScheduler(
                lambda e, _lr, _s=stage: _s.lr_at(e))
            for epoch in range(start, stage.epochs):
                if stop_after_epoch is not None and epochs_done >= stop_after_epoch:
                    return None
                t0 = time.monotonic()
                bar = _EpochBar(label, epoch, stage, train_split.batches(config.batch_size))
                history = model.fit(
                    train_split.epoch(index * 1_000_003 + epoch, config.batch_size),
                    epochs=epoch + 1, initial_epoch=epoch, validation_data=(x_val, y_fit_val),
                    batch_size=config.batch_size, callbacks=[scheduler, bar.callback],
                    verbose=0)
                logs = {k: v[-1] for k, v in history.history.items()}
                # per-epoch figures for the report's training curves
                state.setdefault("history", {}).setdefault(f"{index}_{stage.name}", []).append(
                    {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items() if k != "lr"}})
                _save_checkpoint(run, state, index, stage, model, epoch + 1,
                                 completed=epoch + 1 == stage.epochs)
                epochs_done += 1
                log(epoch_line(label, stage, epoch, logs, time.monotonic() - t0))
                if stop_after_epoch is not None and epochs_done >= stop_after_epoch:
                    return None
            if index not in state["completed"]:  # a zero-epoch stage
                _save_checkpoint(run, state, index, stage, model, start, completed=True)
        acc = accuracy(scored(model), x_test, y_test)
        metrics["stages"][f"{index}_{stage.name}"] = {"test_accuracy": acc, "epochs": stage.epochs}
        log(f"{label} test accuracy {acc:.4f}")
        if stage.name == "float":
            quant_configs.save_model(scored(float_model), run.float_model_path)
            metrics["float_test_accuracy"] = acc
            if config.scheme != "float":
                # QAT trains the kernels with batch-norm folded in: the kernels the device
                # stores (quant_configs.fold). Inference output is unchanged.
                with strategy.scope():
                    float_model = quant_configs.fold_batchnorm(float_model)
                model = float_model
            if config.naive and config.scheme != "float":
                with strategy.scope():
                    naive = quant_configs.quantize_model(float_model, config.scheme, "all")
                quant_configs.calibrate(
                    naive, train_split.epoch(-1, config.batch_size).take(
                        config.calibration_batches),
                    strategy if config.strategy != "default" else None)
                metrics["naive_test_accuracy"] = accuracy(naive, x_test, y_test)
                log(f"{label} naive {config.scheme} (no QAT) test accuracy "
                    f"{metrics['naive_test_accuracy']:.4f}")
    if data_cfg.word_targets:
        metrics["training_classes"] = targets
        model = scored(model)
    metrics["test_accuracy"] = accuracy(model, x_test, y_test)
    if config.scheme != "float":
        metrics["qat_test_accuracy"] = metrics["test_accuracy"]
    quant_configs.save_model(model, run.model_path)
    # Evaluate the saved file, not the in-memory model: conversion starts from it.
    reloaded = quant_configs.load_model(run.model_path)
    metrics["reloaded_test_accuracy"] = accuracy(reloaded, x_test, y_test)
    if data_cfg.targets == "frames":  # per clip, the window slid over it as deployed
        from pipeline.train.generalize import clip_test_accuracy

        metrics["clip_test_accuracy"] = clip_test_accuracy(model, data_cfg, feat_cfg)
        log(f"train: test accuracy per clip (sliding window) "
            f"{metrics['clip_test_accuracy']:.4f}")
    return run.update_metrics(metrics)


def run(args: argparse.Namespace) -> int:
    run_dir = Run(args.run)
    if args.data:
        if not Path(args.data).exists():
            raise KwsqError(f"dataset path {args.data} does not exist "
                            "(make one with: kwsq synth --out DIR)")
        from pipeline.data.gsc import check_layout

        check_layout(args.data)
    if args.stop_after_epoch is not None and args.stop_after_epoch < 1:
        raise KwsqError("--stop-after-epoch must be at least 1")
    resume = run_dir.exists() and not args.fresh
    if resume:
        config = run_dir.read_config()
        differ = contradictions(args, config)
        if differ:
            raise KwsqError(f"{run_dir.path} was started with other settings "
                            f"({'; '.join(differ)}): resume it without these options, "
                            "or start over with --fresh")
        print(f"train: resuming {run_dir.path} from its config.toml (use --fresh to start over)")
    else:
        config = resolve_config(args)
    t0 = time.monotonic()
    metrics = train(config, run_dir, new=not resume, stop_after_epoch=args.stop_after_epoch)
    if metrics is None:
        print(f"train: stopped after {args.stop_after_epoch} epochs, checkpointed; continue "
              f"with: kwsq train --run {run_dir.path}")
        return 0
    print(f"train: done in {time.monotonic() - t0:.0f} s: "
          f"float {metrics.get('float_test_accuracy', 0):.4f}, "
          f"final {metrics['test_accuracy']:.4f} -> {run_dir.path}")
    return 0
