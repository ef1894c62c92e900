"""A run folder ``runs/<name>/``: its config, models, checkpoints and metrics.

Everything needed to reproduce a run is in ``config.toml``; every later stage
(convert, verify, eval, report) finds its inputs through :class:`Run` so file
names live in one place.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.atomic import write_text
from pipeline.config import load_section, read_toml, write_toml
from pipeline.errors import KwsqError


@dataclass
class StageConfig:
    """One training stage: float pre-training or one QAT stage of the scheme.

    The learning rate decays exponentially per epoch as the low-bit QAT paper describes
    (docs/references.md): divided by ``decay_first`` for the first ``decay_first_epochs`` epochs,
    then by ``decay_rest``.
    """

    name: str  # "float", or the scheme stage it trains ("weights", "all")
    epochs: int
    learning_rate: float = 1e-3
    decay_first: float = 1.0
    decay_first_epochs: int = 0
    decay_rest: float = 1.0

    def __post_init__(self) -> None:
        if self.epochs < 0:
            raise ValueError(f"epochs must be >= 0, not {self.epochs}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, not {self.learning_rate}")
        if self.decay_first <= 0 or self.decay_rest <= 0 or self.decay_first_epochs < 0:
            raise ValueError("decay_first and decay_rest must be > 0, decay_first_epochs >= 0")

    def lr_at(self, epoch: int) -> float:
        first = min(epoch, self.decay_first_epochs)
        rest = max(0, epoch - self.decay_first_epochs)
        return self.learning_rate / (self.decay_first**first) / (self.decay_rest**rest)


@dataclass
class RunConfig:
    name: str
    model: str = "svd_dnn"
    scheme: str = "int8"
    model_params: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # pipeline.data.loader.DataConfig.to_dict()
    features: dict[str, Any] = field(default_factory=dict)  # FeatureConfig.to_dict()
    stages: list[StageConfig] = field(default_factory=list)
    batch_size: int = 100
    seed: int = 0
    naive: bool = True  # also evaluate the scheme applied without QAT (the papers' "naive")
    calibration_batches: int = 20
    strategy: str = "default"  # default | mirrored | multiworker
    # > 0: the augmented training pipeline runs for this many epochs only; their features
    # are kept in memory and every later epoch reshuffles one of them (pipeline/train/
    # training.py, CopiedSplit): for models whose training step is much faster than the
    # augmentation (svd_dnn). 0: fresh augmentation every epoch (left out of the config).
    augment_copies: int = 0

    def __post_init__(self) -> None:
        if self.augment_copies < 0:
            raise KwsqError(f"augment_copies must be >= 0, not {self.augment_copies}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["stages"] = [dataclasses.asdict(s) for s in self.stages]
        if not d["augment_copies"]:  # configs made before the option keep their keys
            del d["augment_copies"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "the run config") -> RunConfig:
        """Strictly: an unknown key or a malformed stage is a one-line error."""
        d = dict(d)
        stages = d.pop("stages", [])
        if not isinstance(stages, list):
            raise KwsqError(f"stages in {where} must be an array of tables ([[stages]])")
        config = load_section(cls, d, where)
        config.stages = [load_section(StageConfig, s, f"[[stages]] entry {i + 1} of {where}")
                         for i, s in enumerate(stages)]
        return config


class Run:
    """Paths and metadata of one run folder."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    # --- files -------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    @property
    def state_path(self) -> Path:
        return self.path / "checkpoints" / "state.json"

    @property
    def float_model_path(self) -> Path:
        return self.path / "float.keras"

    @property
    def model_path(self) -> Path:
        """The final trained model (QAT-wrapped unless the scheme is float)."""
        return self.path / "model.keras"

    @property
    def tflite_path(self) -> Path:
        return self.path / "model.tflite"

    def checkpoint_path(self, stage_index: int, stage_name: str) -> Path:
        return self.path / "checkpoints" / f"stage{stage_index}_{stage_name}.weights.h5"

    # --- config and metrics ------------------------------------------------------
    def exists(self) -> bool:
        return self.config_path.is_file()

    def require(self) -> Run:
        if not self.path.is_dir():
            raise KwsqError(f"run folder {self.path} does not exist (train it with kwsq train)")
        if not self.config_path.is_file():
            raise KwsqError(f"{self.path} is not a run folder: no config.toml")
        return self

    def require_model(self) -> Path:
        self.require()
        if not self.model_path.is_file():
            raise KwsqError(
                f"{self.path} has no trained model ({self.model_path.name}); "
                "finish training with kwsq train first"
            )
        return self.model_path

    def read_config(self) -> RunConfig:
        self.require()
        return RunConfig.from_dict(read_toml(self.config_path), str(self.config_path))

    def write_config(self, config: RunConfig) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_toml(self.config_path, config.to_dict())

    def read_metrics(self) -> dict[str, Any]:
        if not self.metrics_path.is_file():
            return {}
        return json.loads(self.metrics_path.read_text())

    def update_metrics(self, updates: dict[str, Any]) -> dict[str, Any]:
        """Merge ``updates`` into metrics.json (top-level keys replaced) atomically."""
        metrics = self.read_metrics()
        metrics.update(updates)
        write_text(self.metrics_path, json.dumps(metrics, indent=2, sort_keys=True) + "\n")
        return metrics

    # --- models ------------------------------------------------------------------
    def load_model(self):
        """The final model, loaded with the quantization classes in scope."""
        import quant_configs

        return quant_configs.load_model(self.require_model())
