"""Input pipeline speed against the model's training step (a benchmark that prints figures).

Training is input-bound when the augmented ``tf.data`` pipeline delivers fewer examples per
second than the model's training step consumes. Run

    python -m pipeline.data.throughput --data DIR --model ds_cnn [--augment all]

to print, on this machine: examples/s of the cached (not augmented) pipeline, of the
augmented one (time shift, gain, noise, speed, random EQ, VTLP, tempo, SpecAugment: every
option on), and of the model's training step on in-memory batches, plus the verdict. The
augmented pipeline is read the way training reads it, one :meth:`AugmentedSplit.epoch` after
the other, so each epoch's start-up counts. Both are also given per CPU-second of the process
(all its threads): on a shared machine the wall-clock rates follow the load, the CPU cost
per example much less. The pipeline batches first and augments each batch in one vectorized
pass (mapped in parallel with ``AUTOTUNE``, prefetched), from int16 audio held in memory
(decoded once per corpus).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time


def _rate(ds, batches: int, warmup: int = 2) -> tuple[float, float]:
    """(examples per second, examples per CPU-second) over ``batches`` batches."""
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    n = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(batches):
        n += int(next(it)[0].shape[0])  # (x, y) or (x, y, weights)
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def _epochs(split, batch_size: int):
    """The batches of epochs 0, 1, 2, ... as training reads them (a pipeline per epoch)."""
    key = 0
    while True:
        yield from split.epoch(key, batch_size)
        key += 1


def measure(data: str, model_name: str, batch_size: int = 100, batches: int = 20,
            augment: str = "all") -> dict[str, float]:
    """examples/s of the cached pipeline, the augmented pipeline and the model's train step."""
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    import models
    from pipeline.data import loader
    from pipeline.data.features import FeatureConfig, input_shape

    module = models.module(model_name)
    feat_cfg = FeatureConfig.from_dict(getattr(module, "FEATURES", {}))
    cfg = loader.DataConfig(data)
    if augment == "all":
        cfg = dataclasses.replace(cfg, filter_prob=0.5, time_masks=2, freq_masks=2,
                                  speed_min=0.9, speed_max=1.1, vtlp_min=0.9, vtlp_max=1.1,
                                  tempo_min=0.9, tempo_max=1.1)
    keras.utils.set_random_seed(0)  # as training runs: seeded, deterministic kernels
    tf.config.experimental.enable_op_determinism()
    plain = loader.dataset(cfg, feat_cfg, "training", batch_size, augment=False, shuffle=True)
    plain = plain.repeat()
    split = loader.AugmentedSplit(cfg, feat_cfg, "training")
    out: dict[str, float] = {"cached_examples_per_s": _rate(plain, batches)[0]}
    (out["augmented_examples_per_s"],
     out["augmented_examples_per_cpu_s"]) = _rate(_epochs(split, batch_size), batches)
    classes = len(loader.class_names(cfg))
    model = models.builder(model_name)(input_shape(feat_cfg), classes)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy())
    x = tf.constant(np.random.default_rng(0).standard_normal(
        (batch_size, *input_shape(feat_cfg))).astype(np.float32))
    y = tf.constant(np.zeros(batch_size, np.int32))
    for _ in range(3):
        model.train_on_batch(x, y)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(batches):
        model.train_on_batch(x, y)
    step = (time.perf_counter() - t0) / batches
    out["model_step_ms"] = 1000 * step
    out["model_examples_per_s"] = batch_size / step
    out["model_examples_per_cpu_s"] = batch_size * batches / (time.process_time() - c0)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--model", default="ds_cnn")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--augment", choices=["default", "all"], default="all",
                   help="augmentations on: the loader's defaults, or all (default: all)")
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's log lines")
    args = p.parse_args(argv)
    from pipeline import console

    with console.session(args.verbose):  # TensorFlow's C++ lines go to a log, not here
        r = measure(args.data, args.model, args.batch_size, args.batches, args.augment)
    cores = len(os.sched_getaffinity(0))
    print(f"input pipeline ({args.model}, batch {args.batch_size}, {cores} cores, "
          f"load {os.getloadavg()[0]:.1f}):")
    print(f"  cached features      {r['cached_examples_per_s']:9.0f} examples/s")
    print(f"  augmented ({args.augment:7s})  {r['augmented_examples_per_s']:9.0f} examples/s "
          f"{r['augmented_examples_per_cpu_s']:9.0f} examples/CPU-s")
    print(f"  model train step     {r['model_examples_per_s']:9.0f} examples/s "
          f"{r['model_examples_per_cpu_s']:9.0f} examples/CPU-s "
          f"({r['model_step_ms']:.1f} ms per batch)")
    ratio = r["augmented_examples_per_s"] / r["model_examples_per_s"]
    cpu_ratio = r["augmented_examples_per_cpu_s"] / r["model_examples_per_cpu_s"]
    verdict = "not input-bound" if ratio >= 1 else "INPUT-BOUND"
    print(f"  augmented pipeline / model step = {ratio:.2f} wall, {cpu_ratio:.2f} per CPU-s: "
          f"{verdict} (the pipeline runs in parallel with the step; both share the cores)")
    return 0


if __name__ == "__main__":
    import pipeline  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)

    sys.exit(main())
