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
import json
import os
import time
from pathlib import Path
from typing import Any

from pipeline import tomlio
from pipeline.atomic import atomic_path, write_text
from pipeline.errors import KwsqError
from pipeline.train.presets import PRESETS
from pipeline.train.runs import Run, RunConfig, StageConfig

# ---------------------------------------------------------------------------- config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data",
                   help="corpus in the Speech Commands v2 layout (default: data/kwsq_synth)")
    p.add_argument("--run", required=True, help="run folder to create or resume, e.g. runs/demo")
    p.add_argument("--preset", choices=sorted(PRESETS), help="named starting config")
    p.add_argument("--config", help="TOML run config (keys of RunConfig); overrides the preset")
    p.add_argument("--model", help="model name from the registry (models/)")
    p.add_argument("--scheme", help="quantization scheme (quant_configs.SCHEMES)")
    p.add_argument("--float-epochs", type=int)
    p.add_argument("--qat-epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--label-mode", choices=["12", "35", "wake"])
    p.add_argument("--keyword", help="wake word for --label-mode wake")
    p.add_argument("--strategy", choices=["default", "mirrored", "multiworker"],
                   help="tf.distribute strategy (multiworker reads TF_CONFIG)")
    p.add_argument("--no-naive", action="store_true", help="skip the naive (no-QAT) evaluation")
    p.add_argument("--fresh", action="store_true", help="discard an existing run folder's progress")


def stages_for(scheme_stages: tuple[str, ...], s: dict[str, Any]) -> list[StageConfig]:
    """Float stage plus one QAT stage per scheme stage, with the low-bit QAT paper's decay shape."""
    stages = [StageConfig("float", int(s["float_epochs"]), float(s["learning_rate"]),
                          decay_first=1.0, decay_rest=float(s.get("decay", 1.1)))]
    for name in scheme_stages:
        stages.append(StageConfig(name, int(s["qat_epochs"]), float(s["qat_learning_rate"]),
                                  decay_rest=float(s.get("qat_decay", 1.2))))
    return stages


def resolve_config(args: argparse.Namespace) -> RunConfig:
    """Preset, then a TOML file, then command-line options, later ones winning."""
    import models
    import quant_configs
    from pipeline.data import loader as data_mod
    from pipeline.data.features import FeatureConfig

    s: dict[str, Any] = dict(PRESETS["demo"])
    if args.preset:
        s.update(PRESETS[args.preset])
    file_cfg: dict[str, Any] = {}
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise KwsqError(f"config file {path} does not exist")
        try:
            file_cfg = tomlio.load(path)
        except ValueError as exc:
            raise KwsqError(f"{path} is not valid TOML: {exc}") from exc
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
    features = FeatureConfig.from_dict({**getattr(model_module, "FEATURES", {}),
                                        **file_cfg.get("features", {})}).to_dict()
    data = {**s.get("data", {}), **file_cfg.get("data", {})}
    data["path"] = str(Path(args.data or data.get("path") or "data/kwsq_synth"))
    if args.label_mode:
        data["label_mode"] = args.label_mode
    if args.keyword:
        data["keyword"] = args.keyword
    data = data_mod.DataConfig.from_dict(data).to_dict()
    stages = ([StageConfig(**st) for st in file_cfg["stages"]] if "stages" in file_cfg
              else stages_for(scheme.stages, s))
    return RunConfig(
        name=Path(args.run).name, model=s["model"], scheme=scheme.name,
        model_params=dict(s.get("model_params", {})), data=data, features=features,
        stages=stages, batch_size=int(s["batch_size"]), seed=int(s.get("seed", 0)),
        naive=not args.no_naive and bool(s.get("naive", True)),
        calibration_batches=int(s.get("calibration_batches", 20)),
        strategy=s.get("strategy", "default"),
    )


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


class _Progress:
    """One line per epoch: stage, epoch, learning rate, train and validation metrics."""

    def __init__(self, label: str, stage: StageConfig):
        self.label, self.stage, self.t0 = label, stage, time.monotonic()

    def line(self, epoch: int, logs: dict[str, float]) -> str:
        dt = time.monotonic() - self.t0
        self.t0 = time.monotonic()
        return (f"{self.label} epoch {epoch + 1}/{self.stage.epochs} "
                f"lr {self.stage.lr_at(epoch):.2e} "
                f"loss {logs.get('loss', float('nan')):.4f} acc {logs.get('accuracy', 0):.4f} "
                f"val_acc {logs.get('val_accuracy', 0):.4f} ({dt:.1f} s)")


def _compile(model, lr: float) -> None:
    import tf_keras as keras

    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])


def accuracy(model, x, y, batch_size: int = 500) -> float:
    import numpy as np

    probs = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(probs, axis=-1) == y))


def _read_state(run: Run) -> dict[str, Any]:
    if run.state_path.is_file():
        return json.loads(run.state_path.read_text())
    return {"completed": [], "epoch": {}}


def _write_state(run: Run, state: dict[str, Any]) -> None:
    write_text(run.state_path, json.dumps(state, indent=1))


def _save_weights(model, dest: Path) -> None:
    # Keras picks the format from the suffix, so the temp file keeps it.
    with atomic_path(dest) as tmp:
        tmp_h5 = tmp.with_name(tmp.name + ".weights.h5")
        model.save_weights(str(tmp_h5))
        os.replace(tmp_h5, tmp)


def train(config: RunConfig, run: Run, log=print) -> dict[str, Any]:
    import tensorflow as tf
    import tf_keras as keras

    import models
    import quant_configs
    from pipeline.data import loader as data_mod
    from pipeline.data.features import FeatureConfig, input_shape

    # Same config + seed -> same weights: seeded RNGs and deterministic kernels.
    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
    data_cfg = data_mod.DataConfig.from_dict(config.data)
    feat_cfg = FeatureConfig.from_dict(config.features)
    data_mod.check_layout(data_cfg.path)
    classes = data_mod.class_names(data_cfg)
    shape = input_shape(feat_cfg)
    log(f"train: {config.model} / {config.scheme} on {data_cfg.path}: {len(classes)} classes, "
        f"input {shape}, stages {[s.name for s in config.stages]}")
    train_ds = data_mod.dataset(data_cfg, feat_cfg, "training", config.batch_size,
                                augment=True, shuffle=True)
    x_val, y_val = data_mod.arrays(data_cfg, feat_cfg, "validation")
    x_test, y_test = data_mod.arrays(data_cfg, feat_cfg, "testing")
    log(f"train: {len(y_val)} validation and {len(y_test)} test examples")

    strategy = make_strategy(config.strategy)
    state = _read_state(run)
    metrics: dict[str, Any] = {
        "model": config.model, "scheme": config.scheme, "classes": classes,
        "input_shape": list(shape), "test_examples": int(len(y_test)), "stages": {},
    }
    with strategy.scope():
        float_model = models.builder(config.model)(shape, len(classes), **config.model_params)
    metrics["parameters"] = int(float_model.count_params())
    model = float_model
    for index, stage in enumerate(config.stages):
        label = f"[{index + 1}/{len(config.stages)} {stage.name}]"
        with strategy.scope():
            if stage.name == "float":
                model = float_model
            else:
                if model is not float_model:
                    quant_configs.copy_float_weights(model, float_model)
                model = quant_configs.quantize_model(float_model, config.scheme, stage.name)
            _compile(model, stage.lr_at(0))
        ckpt = run.checkpoint_path(index, stage.name)
        start = int(state["epoch"].get(str(index), 0))
        if start and ckpt.is_file():
            model.load_weights(str(ckpt))
        if index in state["completed"]:
            log(f"{label} done earlier: loaded {ckpt.name}")
        else:
            if start:
                log(f"{label} resuming at epoch {start + 1}")
            progress = _Progress(label, stage)

            def on_epoch_end(epoch, logs, _i=index, _ck=ckpt, _p=progress, _m=model):
                _save_weights(_m, _ck)
                state["epoch"][str(_i)] = epoch + 1
                _write_state(run, state)
                log(_p.line(epoch, logs or {}))

            callbacks = [
                keras.callbacks.LearningRateScheduler(lambda e, _lr, _s=stage: _s.lr_at(e)),
                keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end),
            ]
            model.fit(train_ds, epochs=stage.epochs, initial_epoch=start,
                      validation_data=(x_val, y_val), batch_size=config.batch_size,
                      callbacks=callbacks, verbose=0)
            if not ckpt.is_file():  # zero-epoch stage
                _save_weights(model, ckpt)
            state["completed"].append(index)
            _write_state(run, state)
        acc = accuracy(model, x_test, y_test)
        metrics["stages"][f"{index}_{stage.name}"] = {"test_accuracy": acc, "epochs": stage.epochs}
        log(f"{label} test accuracy {acc:.4f}")
        if stage.name == "float":
            quant_configs.save_model(float_model, run.float_model_path)
            metrics["float_test_accuracy"] = acc
            if config.naive and config.scheme != "float":
                with strategy.scope():
                    naive = quant_configs.quantize_model(float_model, config.scheme, "all")
                quant_configs.calibrate(
                    naive, train_ds.take(config.calibration_batches),
                    strategy if config.strategy != "default" else None)
                metrics["naive_test_accuracy"] = accuracy(naive, x_test, y_test)
                log(f"{label} naive {config.scheme} (no QAT) test accuracy "
                    f"{metrics['naive_test_accuracy']:.4f}")
    metrics["test_accuracy"] = accuracy(model, x_test, y_test)
    if config.scheme != "float":
        metrics["qat_test_accuracy"] = metrics["test_accuracy"]
    quant_configs.save_model(model, run.model_path)
    # Evaluate the saved file, not the in-memory model: conversion starts from it.
    reloaded = quant_configs.load_model(run.model_path)
    metrics["reloaded_test_accuracy"] = accuracy(reloaded, x_test, y_test)
    return run.update_metrics(metrics)


def run(args: argparse.Namespace) -> int:
    run_dir = Run(args.run)
    if args.data:
        if not Path(args.data).exists():
            raise KwsqError(f"dataset path {args.data} does not exist "
                            "(make one with: kwsq synth --out DIR)")
        from pipeline.data import loader as data_mod

        data_mod.check_layout(args.data)
    if run_dir.exists() and not args.fresh:
        config = run_dir.read_config()
        print(f"train: resuming {run_dir.path} from its config.toml (use --fresh to start over)")
    else:
        if run_dir.path.exists() and args.fresh:
            import shutil

            shutil.rmtree(run_dir.path)
        config = resolve_config(args)
        run_dir.write_config(config)
    t0 = time.monotonic()
    metrics = train(config, run_dir)
    print(f"train: done in {time.monotonic() - t0:.0f} s: "
          f"float {metrics.get('float_test_accuracy', 0):.4f}, "
          f"final {metrics['test_accuracy']:.4f} -> {run_dir.path}")
    return 0
