"""One worker of the two-process MultiWorkerMirroredStrategy test (run as a subprocess).

``python multiworker_worker.py CORPUS RUN_DIR OUT_JSON`` with ``TF_CONFIG`` set (or unset
for the single-process reference): records which examples of the first global batch this
worker receives from the loader's training dataset, then trains the smoke run with
``kwsq train``'s own function and writes the per-epoch losses.
"""

from __future__ import annotations

import json
import os
import sys

import pipeline  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)


def main(corpus: str, run_dir: str, out_json: str) -> None:
    import argparse

    from pipeline.train import training
    from pipeline.train.runs import Run

    name = "multiworker" if "TF_CONFIG" in os.environ else "default"
    strategy = training.make_strategy(name)  # first: collectives are configured at start-up
    import tensorflow as tf

    from pipeline.data import loader
    from pipeline.data.features import FeatureConfig

    args = argparse.Namespace(
        data=corpus, run=run_dir, preset="smoke", config=None, model=None, scheme="float",
        float_epochs=3, qat_epochs=None, batch_size=32, seed=0, label_mode=None,
        keyword=None, strategy=name, no_naive=True)
    config = training.resolve_config(args)
    data_cfg = loader.DataConfig.from_dict(config.data)
    feat_cfg = FeatureConfig.from_dict(config.features)
    ds = loader.dataset(data_cfg, feat_cfg, "training", config.batch_size, augment=True,
                        shuffle=True)
    # tag every example with its position in the single-process batch: the features of the
    # first batch, summed per example, identify the examples each worker gets
    dist = strategy.experimental_distribute_dataset(ds)
    x, _ = next(iter(dist))
    local = [t for t in strategy.experimental_local_results(x)]
    sums = tf.concat([tf.reduce_sum(tf.reshape(t, [tf.shape(t)[0], -1]), axis=1)
                      for t in local], axis=0).numpy().tolist()

    losses: list[float] = []

    def log(line: str) -> None:
        print(line, flush=True)
        if " loss " in line:
            losses.append(float(line.split(" loss ")[1].split()[0]))

    training.make_strategy = lambda _name: strategy  # the one made above
    training.train(config, Run(run_dir), log=log)
    with open(out_json, "w") as f:
        json.dump({"first_batch_sums": sums, "losses": losses}, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
