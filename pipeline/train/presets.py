"""Named starting points for ``kwsq train`` (``--preset``), so ``make demo`` and the
tests share one definition of what a demo run is."""

from __future__ import annotations

from typing import Any

# Values a preset may set; anything else comes from the model's FEATURES and defaults.
# svd_dnn's cross-family schedule (svd_cross and svd_frames): a float model trained 400 epochs
# over 16 augmented copies with a slow learning-rate decay.
_SVD_SCHEDULE: dict[str, Any] = {
    "model": "svd_dnn",
    "scheme": "float",
    "float_epochs": 400,
    "qat_epochs": 6,
    "learning_rate": 3e-3,
    "decay": 1.005,
    "qat_learning_rate": 5e-4,
    "augment_copies": 16,
}

PRESETS: dict[str, dict[str, Any]] = {
    # make demo: the seed-003 SVD DNN, float pre-training then 8-bit QAT, on the small corpus.
    "demo": {
        "model": "svd_dnn",
        "scheme": "int8",
        "float_epochs": 40,
        "qat_epochs": 6,
        "learning_rate": 3e-3,
        "qat_learning_rate": 5e-4,
        "batch_size": 100,
        # Milder noise than the loader's default (80% of clips at 0-30 dB SNR): on the small
        # corpus the 50K sigmoid DNN underfits that (48.5% vs 53.5% test after 30 epochs).
        "data": {"noise_prob": 0.5, "snr_min_db": 5.0},
    },
    # The low-bit QAT paper's recipe (docs/references.md): a full-rank DNN trained first,
    # factored by truncated SVD into the bottleneck pairs and fine-tuned, then QAT; learning
    # rate 1.25e-4 halved per epoch for the first epochs, then divided by 1.2; 20 epochs per
    # stage. The paper's full-rank stages start from ASR pre-training with multi-target loss
    # (data kwsq does not have), so kwsq's full-rank stage trains from scratch at the demo's
    # learning rate instead.
    "paper": {
        "model": "svd_dnn",
        "scheme": "dyn-w4",
        "full_rank_epochs": 20,
        "full_rank_learning_rate": 3e-3,
        "float_epochs": 20,
        "qat_epochs": 20,
        "learning_rate": 1.25e-4,
        "qat_learning_rate": 1.25e-4,
        "decay_first": 2.0,
        "decay_first_epochs": 3,
        "decay": 1.2,
        "qat_decay": 1.2,
        "batch_size": 100,
        "data": {"noise_prob": 0.5, "snr_min_db": 5.0},
    },
    # kwsq generalize --model svd_dnn --preset svd_cross: the fully connected DNN on voices
    # it was not trained on (issue 14; figures in docs/data.md). Every word clip centred on
    # its energy centroid (a DNN has no shift invariance; centring took the compact
    # corpus's in-distribution accuracy from 67 % to 93 % without augmentation), speed and
    # EQ augmentation, and many more optimizer steps than the demo's (batch 32, 400 epochs,
    # slow decay: 20 epochs of batch 100 stopped at train accuracy 0.30). The augmented
    # pipeline runs 16 epochs and later epochs reshuffle those (augment_copies): svd_dnn's
    # step is ~9x faster than the augmentation, so 400 epochs cost about what 60 fresh ones
    # would (~2 CPU-minutes per fold of the compact corpus).
    "svd_cross": {
        **_SVD_SCHEDULE,
        "batch_size": 32,
        "data": {"noise_prob": 0.5, "snr_min_db": 5.0, "centre": "energy",
                 "speed_min": 0.85, "speed_max": 1.15, "filter_prob": 0.5},
    },
    # kwsq generalize --model svd_dnn --preset svd_frames: the low-bit QAT paper's own input,
    # 31 consecutive frames (0.31 s) with frame-level targets, scored per clip by sliding the
    # window over it as a device runs it (pipeline/train/generalize.py). The small window is
    # translation invariant, which the whole-clip input of svd_cross is not (issue 14,
    # svd_cross -> frames31: flite left out 63.2 -> 76.9 %, festival 66.1 -> 69.6 %, espeak
    # 46.9 -> 45.1 %, in-distribution up). One frequency mask of <= 3 LFBE bins per example
    # (SpecAugment) then took espeak to 52.5 %, and per-channel mean normalization of the
    # LFBE over the clip (as ds_cnn_cross) to 57.3 / 56.2 % (seeds 0 / 1; festival 71.9,
    # flite 73.0 %, within a seed's noise of before; in-distribution 95.8 / 87.9 / 91.7 %,
    # up 0 / 3.4 / 4.5 points). Each word warped in time (tempo 0.7-1.3 around the word's
    # centre and a knot moved by up to 0.2 of the word: espeak-ng holds "up", "no", "go"
    # longer than any training voice) then took espeak-ng left out of the people corpus from
    # 66.3 / 63.6 to 68.7 / 65.3 % (seeds 0 / 1; in-distribution 91.7 / 91.7 -> 91.3 /
    # 93.6 %), festival 70.4 -> 74.0 % (87.2 -> 88.6 %), flite 78.7 -> 80.6 % (89.8 ->
    # 87.5 %). svd_cross's schedule; a batch is 16 clips x 8 positions.
    "svd_frames": {
        **_SVD_SCHEDULE,
        "batch_size": 128,
        "data": {"noise_prob": 0.5, "snr_min_db": 5.0, "filter_prob": 0.5,
                 "freq_masks": 1, "freq_mask_max": 3, "targets": "frames",
                 "tempo_min": 0.7, "tempo_max": 1.3, "time_warp": 0.2},
        "features": {"stack_stride": 1, "normalize": "channel"},
    },
    # kwsq generalize --preset ds_cnn_cross: DS-CNN on voices it was not trained on (issue
    # 14; figures in docs/data.md, "Cross-family test"). Per-channel mean normalization of
    # the MFCC, random EQ, speed perturbation, VTLP, tempo perturbation and narrow
    # SpecAugment masks (10 MFCC only take one mask of <= 2); the augmented model under-fits
    # in 30 epochs, so 60 with the learning rate divided by 1.05 per epoch (~4 CPU-minutes
    # per fold of the compact corpus). Frequency-wise MixStyle (each MFCC coefficient's
    # spread over the clip mixed with another example's, Beta(0.3, 0.3), 40 % of the
    # examples; docs/data.md, session 8) kept espeak-ng left out of the twins corpus where it
    # was (69.7 / 69.1 % at seeds 0 / 1 against 66.2 / 72.2 %) and took the unseen neural
    # voice (Piper) from 77.6 / 77.5 to 87.1 / 83.9 %, in distribution 92.8 / 92.4 % (93.9 /
    # 92.0 %); flite left out 86.7 -> 87.9 % (plain speakers 88.2 -> 89.4 %). mixup (the
    # mixup_alpha option) lifted Piper as much but cost 1.2 points in distribution.
    "ds_cnn_cross": {
        "model": "ds_cnn",
        "scheme": "float",
        "float_epochs": 60,
        "qat_epochs": 2,
        "learning_rate": 3e-3,
        "decay": 1.05,
        "qat_learning_rate": 5e-4,
        "batch_size": 50,
        "data": {"noise_prob": 0.5, "snr_min_db": 5.0, "filter_prob": 0.5,
                 "speed_min": 0.85, "speed_max": 1.15, "vtlp_min": 0.85, "vtlp_max": 1.15,
                 "tempo_min": 0.7, "tempo_max": 1.3, "time_masks": 2, "time_mask_max": 4,
                 "freq_masks": 1, "freq_mask_max": 2, "mixstyle_prob": 0.4,
                 "mixstyle_alpha": 0.3},
        "features": {"normalize": "channel"},
    },
    # tests: the same pipeline in seconds on the tiny corpus.
    "smoke": {
        "model": "svd_dnn",
        "scheme": "int8",
        "float_epochs": 2,
        "qat_epochs": 1,
        "learning_rate": 3e-3,
        "qat_learning_rate": 5e-4,
        "batch_size": 32,
        "calibration_batches": 2,
    },
}
