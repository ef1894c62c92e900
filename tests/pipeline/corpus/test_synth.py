"""The embedded corpus: GSC v2 layout, clip format, speaker-disjoint splits, determinism."""

from __future__ import annotations

import csv
import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline.cli import main as kwsq_main
from pipeline.corpus import synth, voices
from pipeline.data.audio import read_wav
from pipeline.data.loader import check_layout, speaker_of

TINY_SEED = 0  # the seed conftest's tiny_corpus uses


def _all_clips(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*.wav") if not p.parent.name.startswith("_"))


def _lists(root: Path) -> dict[str, set[str]]:
    val = set((root / "validation_list.txt").read_text().split())
    test = set((root / "testing_list.txt").read_text().split())
    every = {f"{p.parent.name}/{p.name}" for p in _all_clips(root)}
    return {"validation": val, "testing": test, "training": every - val - test}


@pytest.fixture(scope="module")
def second_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another tiny corpus with the same seed and a different number of workers."""
    out = tmp_path_factory.mktemp("again") / "kwsq_tiny"
    synth.synthesize(out, size="tiny", seed=TINY_SEED, jobs=1, progress=False)
    return out


def test_tiny_corpus_has_gsc_layout(tiny_corpus: Path) -> None:
    check_layout(tiny_corpus)  # raises if anything is missing
    spec = synth.SIZES["tiny"]
    assert sorted(p.name for p in tiny_corpus.iterdir() if p.is_dir()
                  and not p.name.startswith((".", "_"))) == sorted(spec.words)
    noise = sorted(p.stem for p in (tiny_corpus / synth.NOISE_DIR).glob("*.wav"))
    assert {"white_noise", "pink_noise", "brown_noise", "babble"} <= set(noise)
    for p in (tiny_corpus / synth.NOISE_DIR).glob("*.wav"):
        audio, rate = read_wav(p)
        assert rate == 16000 and audio.size == spec.noise_seconds * 16000
    names = [p.name for p in _all_clips(tiny_corpus)]
    assert all(len(n.split("_nohash_")[0]) == 8 and n.endswith("_nohash_0.wav") for n in names)


def test_every_clip_is_one_second_16k_mono_16bit(tiny_corpus: Path) -> None:
    clips = _all_clips(tiny_corpus)
    assert len(clips) == 20 * len(synth.SIZES["tiny"].words)
    for p in clips:
        with wave.open(str(p)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (
                16000, 1, 2, 16000)


def test_words_sit_at_varied_offsets_inside_the_clip(tiny_corpus: Path) -> None:
    loudest = []
    for p in _all_clips(tiny_corpus):
        audio, _ = read_wav(p)
        assert np.max(np.abs(audio)) < 0.99  # never clipped
        frame_db = 10 * np.log10(np.mean(audio.reshape(100, 160) ** 2, axis=1) + 1e-12)
        # a word stands well above the clip's own noise floor (its quietest frames)
        assert frame_db.max() - np.percentile(frame_db, 10) > 20
        loudest.append(int(np.argmax(frame_db)))
    assert np.std(loudest) > 10  # loudest 10 ms frame spread over the clip (> 0.1 s std)


def test_splits_are_speaker_disjoint(tiny_corpus: Path) -> None:
    lists = _lists(tiny_corpus)
    speakers = {k: {speaker_of(n) for n in v} for k, v in lists.items()}
    assert all(speakers.values())  # every split has speakers
    assert not speakers["training"] & speakers["validation"]
    assert not speakers["training"] & speakers["testing"]
    assert not speakers["validation"] & speakers["testing"]


def test_speaker_table_matches_split_lists(tiny_corpus: Path) -> None:
    with (tiny_corpus / synth.SPEAKERS_FILE).open(newline="") as f:
        rows = {r["hash"]: r for r in csv.DictReader(f)}
    for split, names in _lists(tiny_corpus).items():
        for n in names:
            assert rows[speaker_of(n)]["split"] == split
    families = {r["family"] for r in rows.values()}
    assert families == {"espeak", "flite", "festival"}
    assert all(r["human"] == ("1" if r["family"] != "espeak" else "0") for r in rows.values())


def test_same_seed_gives_same_bytes(tiny_corpus: Path, second_corpus: Path) -> None:
    first = {p.relative_to(tiny_corpus): p.read_bytes() for p in tiny_corpus.rglob("*")
             if p.is_file() and p.name != synth.MANIFEST and ".kwsq_cache" not in p.parts}
    again = {p.relative_to(second_corpus): p.read_bytes() for p in second_corpus.rglob("*")
             if p.is_file() and p.name != synth.MANIFEST}
    assert first.keys() == again.keys()
    assert all(first[k] == again[k] for k in first)


def test_second_run_only_makes_missing_clips(second_corpus: Path, tmp_path: Path,
                                             copy_corpus) -> None:
    corpus = copy_corpus(second_corpus, tmp_path / "c")
    victims = _all_clips(corpus)[:3]
    original = [p.read_bytes() for p in victims]
    for p in victims:
        p.unlink()
    stats = synth.synthesize(corpus, size="tiny", seed=TINY_SEED, progress=False)
    assert stats["made_this_run"] == 3
    assert [p.read_bytes() for p in victims] == original
    assert not list(corpus.rglob("*.tmp"))  # no temporary files left behind


def test_other_settings_in_existing_folder_are_refused(second_corpus: Path) -> None:
    with pytest.raises(synth.KwsqError, match="other settings"):
        synth.synthesize(second_corpus, size="tiny", seed=TINY_SEED + 1, progress=False)


def test_non_corpus_folder_is_not_written_into(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(synth.KwsqError, match="not empty and has no kwsq_synth.json"):
        synth.synthesize(tmp_path, size="tiny", progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_different_seed_gives_different_speakers() -> None:
    inv = voices.discover()
    a = {s.hash for s in voices.speaker_pool({"espeak": 20, "flite": 5}, 0, inv)}
    b = {s.hash for s in voices.speaker_pool({"espeak": 20, "flite": 5}, 1, inv)}
    assert len(a) == 25 and a != b


def test_holdout_family_is_only_in_testing() -> None:
    pool = voices.speaker_pool({"espeak": 30, "flite": 10, "festival": 10}, 0)
    splits = synth.assign_splits(pool, 0, holdout_family="flite")
    assert all(splits[s.hash] == "testing" for s in pool if s.family == "flite")
    others = [splits[s.hash] for s in pool if s.family != "flite"]
    assert others.count("validation") == 4 and others.count("testing") == 4


def test_split_sizes_follow_gsc_fractions() -> None:
    pool = voices.speaker_pool({"espeak": 100, "flite": 50, "festival": 50}, 0)
    splits = list(synth.assign_splits(pool, 0).values())
    assert (splits.count("validation"), splits.count("testing")) == (20, 20)


def test_every_installed_english_voice_is_found() -> None:
    inv = voices.discover()
    assert len(inv.espeak_accents) >= 8 and len(inv.espeak_variants) >= 100
    assert {"kal", "kal16", "awb", "rms", "slt"} <= set(inv.flite)
    assert {"kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"} <= set(inv.festival)


def test_cli_rejects_unknown_holdout_family(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        kwsq_main(["synth", "--holdout-family", "dectalk"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
