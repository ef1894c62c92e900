"""The speakers of the embedded corpus: every installed English voice x prosody perturbations.

A "speaker" is a (voice, prosody) identity: an engine voice (espeak-ng accent + variant,
a flite voice, a festival voice) with its own speaking rate, pitch, duration stretch,
sox pitch shift and recording room. Its hash, like Speech Commands' speaker hash, names
its files and decides its split. flite and festival voices are built from recordings of
real people ("human" voices, 5 distinct persons); espeak-ng is a formant synthesizer
whose many variants are easy to tell apart but far from real speech, so results on the
human subset are reported separately (docs/data.md).

Everything here is discovered from the installed engines and derived from a seed, so the
same seed gives the same speakers on any machine with the same Debian packages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

FAMILIES = ("espeak", "flite", "festival")
HUMAN_FAMILIES = ("flite", "festival")

ESPEAK_DATA_CANDIDATES = (
    Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data"),
    Path("/usr/lib/aarch64-linux-gnu/espeak-ng-data"),
    Path("/usr/share/espeak-ng-data"),
)
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
FLITE_F0_VOICES = {"kal": 105.0, "slt": 165.0}  # voices whose int_f0_target_mean works
FESTIVAL_ROOT = Path("/usr/share/festival/voices")
FESTIVAL_DIPHONE = ("kal_diphone", "ked_diphone")  # Duration_Stretch works for these


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker; ``key`` is its identity, ``hash`` its GSC-style name."""

    family: str
    voice: str
    rate: int = 0  # espeak-ng words per minute (0: not used)
    pitch: int = 0  # espeak-ng pitch 0-99
    stretch: float = 1.0  # flite/festival duration stretch
    f0: float = 0.0  # flite int_f0_target_mean in Hz (0: voice default)
    cents: int = 0  # sox pitch shift
    tempo: float = 1.0  # sox tempo (duration change without pitch change)
    reverb: int = 0  # sox reverberance 0-100 (0: dry)
    room: int = 50  # sox room scale
    level_db: float = -6.0  # typical peak level of this speaker's recordings
    floor_db: float = -70.0  # microphone noise floor (dBFS RMS), set relative to level_db
    extra: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @property
    def key(self) -> str:
        parts = [f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self)]
        return ";".join(parts)

    @property
    def hash(self) -> str:
        return hashlib.sha1(self.key.encode()).hexdigest()[:8]

    @property
    def human(self) -> bool:
        return self.family in HUMAN_FAMILIES

    @property
    def base_voice(self) -> str:
        return f"{self.family}:{self.voice}"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["extra"] = dict(self.extra)
        d["hash"] = self.hash
        d["human"] = self.human
        return d


@dataclass(frozen=True)
class VoiceInventory:
    espeak_accents: tuple[str, ...]
    espeak_variants: tuple[str, ...]
    flite: tuple[str, ...]
    festival: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        return {
            "espeak": len(self.espeak_accents) * (len(self.espeak_variants) + 1),
            "flite": len(self.flite),
            "festival": len(self.festival),
        }


def espeak_data_dir() -> Path | None:
    for d in ESPEAK_DATA_CANDIDATES:
        if (d / "voices").is_dir():
            return d
    return None


def discover() -> VoiceInventory:
    """The English voices the installed engines really have (empty if an engine is absent)."""
    accents: list[str] = []
    variants: list[str] = []
    if shutil.which("espeak-ng"):
        out = subprocess.run(["espeak-ng", "--voices=en"], capture_output=True, text=True).stdout
        for line in out.splitlines()[1:]:
            cols = line.split()
            # MBROLA voices (mb/...) are listed but their data is not in Debian main.
            if len(cols) >= 5 and cols[4].startswith("gmw/") and cols[1].startswith("en"):
                accents.append(cols[1])
        data = espeak_data_dir()
        if data is not None and (data / "voices" / "!v").is_dir():
            variants = sorted(p.name for p in (data / "voices" / "!v").iterdir() if p.is_file())
    flite: list[str] = []
    if shutil.which("flite"):
        out = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
        listed = set(out.replace("Voices available:", "").split())
        flite = [v for v in FLITE_VOICES if v in listed]
        # any extra .flitevox voices shipped on the system are used by path
        for root in (Path("/usr/share/flite"), Path("/usr/lib/flite"),
                     Path("/usr/local/share/flite")):
            if root.is_dir():
                flite += sorted(str(p) for p in root.rglob("*.flitevox"))
    festival: list[str] = []
    if shutil.which("festival") and FESTIVAL_ROOT.is_dir():
        for lang in sorted(FESTIVAL_ROOT.iterdir()):
            if lang.is_dir():
                festival += sorted(p.name for p in lang.iterdir() if p.is_dir())
    return VoiceInventory(tuple(sorted(set(accents))), tuple(variants), tuple(flite),
                          tuple(festival))


def _common(rng: random.Random, human: bool) -> dict:
    reverb = rng.choice([0, 0, 0, rng.randint(10, 60)])
    level = round(rng.uniform(-24.0, -2.0), 1)
    return {
        "reverb": reverb,
        "room": rng.randint(20, 100),
        "level_db": level,
        # microphone/room floor 40-65 dB under the word's peak (about 25-50 dB SNR)
        "floor_db": round(level - rng.uniform(40.0, 65.0), 1),
        "tempo": round(rng.uniform(0.9, 1.1), 2) if human else 1.0,
    }


def make_speaker(family: str, inv: VoiceInventory, rng: random.Random) -> Speaker:
    """One random (voice, prosody) identity of ``family``."""
    if family == "espeak":
        accent = rng.choice(inv.espeak_accents)
        variant = rng.choice(("",) + inv.espeak_variants)
        voice = f"{accent}+{variant}" if variant else accent
        # engine default is 175 wpm: single words come out short (0.45 s), so speak slower
        return Speaker("espeak", voice, rate=rng.randint(95, 165), pitch=rng.randint(15, 85),
                       cents=rng.choice([0, 0, rng.randint(-200, 200)]), **_common(rng, False))
    if family == "flite":
        voice = rng.choice(inv.flite)
        f0 = 0.0
        if voice in FLITE_F0_VOICES:
            f0 = round(FLITE_F0_VOICES[voice] * rng.uniform(0.8, 1.3), 1)
        return Speaker("flite", voice, stretch=round(rng.uniform(1.0, 1.6), 2), f0=f0,
                       cents=rng.randint(-300, 300), **_common(rng, True))
    if family == "festival":
        voice = rng.choice(inv.festival)
        stretch = round(rng.uniform(1.0, 1.5), 2) if voice in FESTIVAL_DIPHONE else 1.0
        return Speaker("festival", voice, stretch=stretch, cents=rng.randint(-300, 300),
                       **_common(rng, True))
    raise ValueError(f"unknown speaker family {family}")


def speaker_pool(counts: dict[str, int], seed: int, inv: VoiceInventory | None = None
                 ) -> list[Speaker]:
    """``counts[family]`` distinct speakers per family, deterministic for a seed.

    Families whose engine is not installed are skipped (the caller reports it).
    """
    inv = discover() if inv is None else inv
    available = {"espeak": bool(inv.espeak_accents), "flite": bool(inv.flite),
                 "festival": bool(inv.festival)}
    pool: list[Speaker] = []
    seen: set[str] = set()
    for family in FAMILIES:
        if not available[family]:
            continue
        rng = random.Random(f"{seed}:{family}")
        made = 0
        tries = 0
        while made < counts.get(family, 0) and tries < 100 * counts[family] + 100:
            tries += 1
            s = make_speaker(family, inv, rng)
            if s.hash in seen:
                continue
            seen.add(s.hash)
            pool.append(s)
            made += 1
    return pool
