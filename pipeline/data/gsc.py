"""The Speech Commands v2 folder layout: vocabulary, file names, splits, speakers, noises.

Shared by the corpus maker, the stream maker and the loader; nothing here needs TensorFlow,
so the corpus tools stay light.
"""

from __future__ import annotations

import csv
import os
import wave
from pathlib import Path

import numpy as np

from pipeline.data.audio import SAMPLE_RATE, read_wav
from pipeline.errors import KwsqError

COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
WORDS = (
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward",
    "four", "go", "happy", "house", "learn", "left", "marvin", "nine", "no", "off", "on",
    "one", "right", "seven", "sheila", "six", "stop", "three", "tree", "two", "up", "visual",
    "wow", "yes", "zero",
)
NOISE_DIR = "_background_noise_"
VALIDATION_LIST = "validation_list.txt"
TESTING_LIST = "testing_list.txt"
SPEAKERS_FILE = "speakers.csv"  # kwsq corpora only: speaker hash -> engine family, voice
SPLITS = ("training", "validation", "testing")


def word_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(("_", ".")))


def check_layout(path: str | os.PathLike[str]) -> None:
    """Raise a one-line KwsqError naming what is missing if ``path`` is not a GSC v2 folder."""
    root = Path(path)
    if not root.is_dir():
        raise KwsqError(f"{root} is not a folder; point --data at a Speech Commands v2 folder "
                        "or make one with 'kwsq synth'")
    missing = []
    noise = root / NOISE_DIR
    if not noise.is_dir():
        missing.append(f"{NOISE_DIR}/")
    elif not any(noise.glob("*.wav")):
        missing.append(f"WAV files in {NOISE_DIR}/")
    for name in (VALIDATION_LIST, TESTING_LIST):
        if not (root / name).is_file():
            missing.append(name)
    words = set(word_dirs(root))
    absent = [w for w in COMMANDS if w not in words]
    if absent:
        missing.append("word folders " + " ".join(absent))
    if missing:
        raise KwsqError(f"{root} is not a Speech Commands v2 layout: missing "
                        f"{', '.join(missing)}")


def read_list(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def split_files(path: str | os.PathLike[str]) -> dict[str, dict[str, list[str]]]:
    """split -> word -> sorted relative file names (``word/file.wav``), GSC rules."""
    root = Path(path)
    lists = {"validation": read_list(root / VALIDATION_LIST),
             "testing": read_list(root / TESTING_LIST)}
    out: dict[str, dict[str, list[str]]] = {s: {} for s in SPLITS}
    for word in word_dirs(root):
        for entry in sorted(os.scandir(root / word), key=lambda e: e.name):
            if not entry.name.endswith(".wav"):
                continue
            rel = f"{word}/{entry.name}"
            split = ("validation" if rel in lists["validation"] else
                     "testing" if rel in lists["testing"] else "training")
            out[split].setdefault(word, []).append(rel)
    return out


def speaker_of(rel: str) -> str:
    """GSC speaker id of ``word/<speaker>_nohash_<n>.wav``."""
    return rel.split("/")[-1].split("_nohash_")[0]


def speaker_table(path: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """speaker hash -> {family, voice, human, split} from a kwsq corpus (empty for real GSC)."""
    p = Path(path) / SPEAKERS_FILE
    if not p.is_file():
        return {}
    with p.open(newline="") as f:
        return {row["hash"]: row for row in csv.DictReader(f)}


def noise_files(path: str | os.PathLike[str]) -> list[Path]:
    return sorted((Path(path) / NOISE_DIR).glob("*.wav"))


# Noise kwsq synth makes from the corpus's own speech (training clips of every engine
# family): a cross-family fold must not hear the left-out family in it (loader.run_noises).
CORPUS_SPEECH_NOISES = ("babble",)


def load_noises(path: str | os.PathLike[str], min_samples: int = 16000,
                skip: tuple[str, ...] = ()) -> list[np.ndarray]:
    """The background noise recordings (16 kHz, at least ``min_samples`` long) as float32,
    without the files named (stem) in ``skip``."""
    out = []
    for p in noise_files(path):
        if p.stem in skip:
            continue
        try:
            audio, rate = read_wav(p)
        except (wave.Error, EOFError, ValueError):
            continue
        if rate == SAMPLE_RATE and audio.size >= min_samples:
            out.append(audio)
    if not out:
        raise KwsqError(f"no usable 16 kHz noise file in {Path(path) / NOISE_DIR}")
    return out
