"""``--diversity people``: WORLD voice conversion and other-language voices reading English.

Checked on measured audio: the converted spectrum's centroid moves by the warp factor, F0 by
its ratio; a mapped voice says the mapped phones (festival's own segmentation of the
utterance), every mapped phone exists in the voice's phone set; absent voices are skipped
with a message.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from pipeline.corpus import acoustics, phonemap, synth, voices

RATE = 16000
TINY_SEED = 0  # the seed conftest's tiny_corpus uses
needs_festival = pytest.mark.skipif(shutil.which("festival") is None,
                                    reason="festival is not installed (make setup)")


def _centroid(x: np.ndarray) -> float:
    f, p = signal.welch(x, RATE, nperseg=512)
    return float((f * p).sum() / p.sum())


def _fricative(lo: float = 1500.0, hi: float = 2200.0) -> np.ndarray:
    """Band-limited noise: an unvoiced fricative with its energy between ``lo`` and ``hi``."""
    noise = np.random.default_rng(0).standard_normal(RATE)
    b, a = signal.butter(4, [lo, hi], btype="band", fs=RATE)
    return (0.3 * signal.lfilter(b, a, noise)).astype(np.float32)


def _vowel(f0: float = 120.0, formant: float = 1000.0) -> np.ndarray:
    n = RATE // 2
    pulses = np.zeros(n)
    pulses[:: int(RATE / f0)] = 1.0
    r, theta = 0.97, 2 * np.pi * formant / RATE
    x = signal.lfilter([1.0], [1.0, -2 * r * np.cos(theta), r * r], pulses)
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def _pitch_hz(x: np.ndarray) -> float:
    x = x[RATE // 10 : -RATE // 10] - x.mean()
    ac = np.correlate(x, x, mode="full")[x.size - 1 :]
    lo, hi = RATE // 400, RATE // 60
    return RATE / (lo + int(np.argmax(ac[lo:hi])))


@pytest.mark.parametrize("warp", [0.85, 1.3])
def test_world_warp_moves_a_fricative_centroid_by_the_factor(warp: float) -> None:
    x = _fricative()
    y = acoustics.world_convert(x, {"warp": warp})
    assert y.shape == x.shape
    assert np.max(np.abs(y)) == pytest.approx(np.max(np.abs(x)), rel=1e-5)
    # the centroid of the resynthesized noise (1.86 kHz before) follows the warp
    assert _centroid(y) / _centroid(x) == pytest.approx(warp, rel=0.05)
    # a 1.8 kHz "ft" becomes a 2.4 kHz one at 1.3 (the espeak-ng rendering's)
    if warp == 1.3:
        assert _centroid(y) > 2300


def test_world_f0_ratio_moves_the_pitch_and_warp_the_formant() -> None:
    x = _vowel(f0=120.0, formant=1000.0)
    y = acoustics.world_convert(x, {"f0_ratio": 1.5, "warp": 1.2})
    assert _pitch_hz(x) == pytest.approx(120.0, rel=0.03)
    assert _pitch_hz(y) == pytest.approx(180.0, rel=0.05)
    assert _centroid(y) / _centroid(x) == pytest.approx(1.2, rel=0.1)


def test_world_noise_warp_moves_only_the_unvoiced_frames() -> None:
    fricative, vowel = _fricative(), _vowel(f0=120.0, formant=1000.0)
    y = acoustics.world_convert(fricative, {"noise_warp": 1.8})
    assert _centroid(y) / _centroid(fricative) == pytest.approx(1.8, rel=0.05)
    z = acoustics.world_convert(vowel, {"noise_warp": 1.8})
    assert _centroid(z) == pytest.approx(_centroid(vowel), rel=0.03)


def test_world_breath_adds_noise_between_the_harmonics() -> None:
    x = _vowel(f0=150.0, formant=800.0)

    def harmonic_to_gap_db(z: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(z * np.hanning(z.size))) ** 2
        f = np.fft.rfftfreq(z.size, 1 / RATE)
        band = (f > 300) & (f < 3000)
        on = band & (np.abs((f / 150.0) - np.round(f / 150.0)) < 0.1)
        gap = band & (np.abs((f / 150.0) - np.round(f / 150.0)) > 0.35)
        return float(10 * np.log10(spec[on].mean() / spec[gap].mean()))

    plain = acoustics.world_convert(x, {})
    breathy = acoustics.world_convert(x, {"breath": 0.6})
    assert harmonic_to_gap_db(breathy) < harmonic_to_gap_db(plain) - 3


def test_world_rejects_unknown_or_bad_settings() -> None:
    with pytest.raises(ValueError, match="unknown WORLD conversion setting 'pitch'"):
        acoustics.world_convert(_vowel(), {"pitch": 1.0})
    with pytest.raises(ValueError, match="out of range"):
        acoustics.world_convert(_vowel(), {"breath": 1.0})


def test_people_pool_is_the_plain_pool_plus_mapped_and_converted_speakers() -> None:
    inv = voices.VoiceInventory(("en-us",), ("m1",), ("kal", "slt"),
                                ("kal_diphone", "ked_diphone"),
                                festival_mapped=("czech_dita", "lp_diphone"))
    counts = {"espeak": 6, "flite": 4, "festival": 4}
    plain = voices.speaker_pool(counts, 3, inv, "plain")
    people = voices.speaker_pool(counts, 3, inv, "people")
    assert [s.hash for s in people[: len(plain)]] == [s.hash for s in plain]
    extra = people[len(plain):]
    mapped = [s for s in extra if s.mapped]
    world = [s for s in extra if s.world]
    assert len(mapped) == 4 and {s.voice for s in mapped} == {"czech_dita", "lp_diphone"}
    assert all(s.family == "festival" and not s.world for s in mapped)
    assert len(world) == 4 and {s.family for s in world} == {"flite", "festival"}
    for s in world:
        settings = dict(s.world)
        for key, (lo, hi) in voices.WORLD_RANGES.items():
            assert lo <= settings[key] <= hi
        assert s.cents == 0  # the conversion sets the pitch
        assert voices.Speaker.from_dict(s.to_dict()) == s
    assert len({s.hash for s in people}) == len(people)


def test_people_pool_without_mapped_voices_skips_them_with_a_message() -> None:
    inv = voices.VoiceInventory(("en-us",), (), ("kal",), ("kal_diphone",))
    counts = {"espeak": 2, "flite": 2, "festival": 2}
    people = voices.speaker_pool(counts, 0, inv, "people")
    assert not any(s.mapped for s in people)
    assert sum(1 for s in people if s.world) == 2
    notes = synth.missing_voices(inv, "people", counts)
    assert len(notes) == 1 and "no festival voice of another language" in notes[0]
    some = voices.VoiceInventory(("en-us",), (), ("kal",), ("kal_diphone",),
                                 festival_mapped=("czech_dita",))
    (note,) = synth.missing_voices(some, "people", counts)
    assert note.startswith("mapped festival voices not installed, skipped:")
    assert "czech_krb" in note and "czech_dita" not in note
    assert synth.missing_voices(inv, "plain", counts) == []


def test_an_absent_mapped_voice_is_skipped_with_a_message(tmp_path: Path) -> None:
    s = voices.Speaker("festival", "no_such_voice_diphone", mapped=True)
    res = synth._speaker_task((str(tmp_path), s, ("left",), 1, 1, 0))
    assert res["made"] == 0
    assert "no_such_voice_diphone has no phone map to English" in res["errors"][0]


def test_every_table_maps_every_english_phone() -> None:
    for language, table in phonemap.TABLES.items():
        assert set(phonemap.ENGLISH_PHONES) <= set(table), language
    sylls = [(["b", "ae1"], 1), (["k", "w", "er0", "d"], 0)]
    assert phonemap.map_syllables(sylls, "italian") == [(["b", "E1"], 1),
                                                        (["k", "w", "e", "r", "d"], 0)]
    assert (phonemap.lexicon_entry("backward", [(["b", "e"], 1)])
            == "(lex.add.entry '(\"backward\" nil (((b e) 1))))")


def _festival(lines: list[str]) -> str:
    script = "\n".join(lines) + "\n"
    res = subprocess.run(["festival", "--pipe"], input=script, capture_output=True, text=True,
                         timeout=120)
    return res.stdout


def _segments(out: str) -> list[str]:
    """The phones of festival's printed Segment list, pauses left out."""
    line = next(x for x in out.splitlines() if x.startswith("SEGS"))
    segs = [s.strip('"') for s in line[len("SEGS ("):-1].split()]
    return [s for s in segs if s not in ("#", "pau", "_")]


@needs_festival
def test_english_pronunciations_come_from_festivals_lexicon() -> None:
    prons = phonemap.english_pronunciations(("right", "backward"))
    assert prons["right"] == [(["r", "ay", "t"], 1)]
    assert [s for _, s in prons["backward"]] == [1, 0]


@needs_festival
def test_mapped_phones_exist_in_each_installed_voices_phone_set() -> None:
    inv = voices.discover()
    if not inv.festival_mapped:
        pytest.skip("no other-language festival voice installed (make setup)")
    checked = 0
    for language in phonemap.TABLES:
        voice = next((v for v in inv.festival_mapped
                      if voices.festival_language(v) == language), None)
        if voice is None:
            continue
        out = _festival([f"(voice_{voice})", "(format t \"PHONES %l\\n\" (mapcar car (cadr "
                         "(assoc 'phones (PhoneSet.description)))))"])
        line = next(x for x in out.splitlines() if x.startswith("PHONES"))
        phones = set(line[len("PHONES ("):-1].split())
        used = {p for pair in phonemap.TABLES[language].values() for v in pair for p in v.split()}
        assert used <= phones, (voice, sorted(used - phones))
        checked += 1
    assert checked >= 1


@needs_festival
@pytest.mark.parametrize("voice,expected", [("czech_dita", ["r", "a", "j", "t"]),
                                            ("msu_ru_nsh_clunits", ["r", "aa", "j", "t"]),
                                            ("lp_diphone", ["r", "a1", "i", "t"]),
                                            ("hy_fi_mv_diphone", ["r", "a", "i", "t"]),
                                            ("upc_ca_ona_hts", ["r", "a1", "j", "t"])])
def test_a_mapped_voice_says_the_english_word(voice: str, expected: list[str]) -> None:
    if voice not in voices.discover().festival_mapped:
        pytest.skip(f"{voice} is not installed (make setup)")
    lines = [f"(voice_{voice})", *synth.mapped_lexicon(voice, ["right"]),
             '(set! u (utt.synth (Utterance Text "right")))',
             "(format t \"SEGS %l\\n\" (mapcar item.name (utt.relation.items u 'Segment)))"]
    out = _festival(lines)
    assert _segments(out) == expected
    # read through its own letter-to-sound rules, the Czech voice says a non-word
    if voice == "czech_dita":
        lts = _festival([f"(voice_{voice})", '(set! u (utt.synth (Utterance Text "right")))',
                         "(format t \"SEGS %l\\n\" (mapcar item.name "
                         "(utt.relation.items u 'Segment)))"])
        assert _segments(lts) == ["r", "i", "k", "ch", "t"]


@needs_festival
def test_a_festival_crash_on_one_word_skips_only_that_word(tmp_path: Path) -> None:
    # festival's Italian pc_diphone voice dies (segmentation fault) saying "no" at a
    # duration stretch of 1.24: the speaker's other words are still made
    if "pc_diphone" not in voices.discover().festival_mapped:
        pytest.skip("pc_diphone is not installed (make setup)")
    s = voices.Speaker("festival", "pc_diphone", stretch=1.24, mapped=True)
    res = synth._speaker_task((str(tmp_path), s, ("left", "no", "yes"), 1, 1, 0))
    assert res["made"] == 2
    assert res["errors"] == ["festival:pc_diphone made no audio for 'no'"]
    assert (tmp_path / synth.clip_name(s, "left", 0)).is_file()
    assert not (tmp_path / synth.clip_name(s, "no", 0)).exists()


def test_a_people_corpus_is_its_plain_twin_plus_the_added_speakers(tiny_corpus: Path,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "people"
    stats = synth.synthesize(out, size="tiny", seed=TINY_SEED, diversity="people",
                             progress=False, jobs=2)
    rows = {r["hash"]: r for r in csv.DictReader(open(out / "speakers.csv"))}
    plain = {r["hash"]: r for r in csv.DictReader(open(tiny_corpus / "speakers.csv"))}
    assert set(plain) < set(rows)
    added = [json.loads(rows[h]["params"]) for h in set(rows) - set(plain)]
    n_mapped = sum(1 for p in added if p["mapped"])
    n_world = sum(1 for p in added if p["world"])
    spec = synth.SIZES["tiny"].speakers
    assert n_world == spec["flite"] // 2 + spec["festival"] // 2
    assert n_mapped == (spec["festival"] if voices.discover().festival_mapped else 0)
    assert stats["missing_voices"] == synth.missing_voices(voices.discover(), "people", spec)
    # the plain speakers' clips are the plain corpus's, byte for byte
    for name in sorted((tiny_corpus / "left").glob("*.wav"))[:5]:
        assert (out / "left" / name.name).read_bytes() == name.read_bytes()
    # every added speaker has its clips (festival crashes aside: none on these words)
    for h in set(rows) - set(plain):
        assert int(rows[h]["clips"]) > 0, rows[h]


def test_wide_corpora_never_draw_a_voice_that_reads_english_as_non_words() -> None:
    """Czech's letter-to-sound rules say "right" as r i k ch t: its voices read English only
    through the phone map ("people"), never as a "wide" corpus's accent."""
    inv = voices.discover()
    czech = [v for v in inv.festival_mapped if voices.festival_language(v) == "czech"]
    if not czech:
        pytest.skip("no festvox-czech voice installed (make setup)")
    assert not set(czech) & set(inv.festival_foreign)
    assert all(voices.festival_language(v) in voices.FESTIVAL_FOREIGN
               for v in inv.festival_foreign)
