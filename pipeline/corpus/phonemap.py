"""English words read by festival voices of other languages, through their own phone sets.

A festival voice of another language reads English spelling with its own letter-to-sound
rules: a Czech voice says "right" as [r i k x t], a non-word. Given the English
pronunciation instead (festival's English lexicon, CMU phones), mapped phone by phone onto
the nearest phones of the voice's language, the same voice says [r a j t]: an English word
with that speaker's accent and, above all, that real person's consonants. Each festival
language directory with a table here (``FESTIVAL_ROOT/<language>/<voice>``) gives
"mapped" voices; the pronunciations are put in the voice's lexicon as addenda
(``lex.add.entry``) before the words are synthesized, so the voice's own duration and
intonation models still run.

Tables: English phone -> (phones in a stressed syllable, phones in an unstressed one),
space-separated, "" to drop the phone (Italian and Catalan have no /h/). Phones follow
each voice's phone set as festival reports it (``PhoneSet.description``); vowel length or
stress marks are used where the language has them.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

# English (CMU / radio) phones used by festival's English lexicon
ENGLISH_PHONES = ("aa ae ah ao aw ax axr ay b ch d dh dx eh el em en er ey f g hh hv ih iy "
                  "jh k l m n nx ng ow oy p r s sh t th uh uw v w y z zh").split()

_CONSONANTS_COMMON = {"b": "b", "d": "d", "dh": "d", "dx": "d", "f": "f", "g": "g", "k": "k",
                      "l": "l", "m": "m", "n": "n", "nx": "n", "p": "p", "r": "r", "s": "s",
                      "t": "t", "th": "t", "v": "v", "z": "z", "el": "l", "em": "m", "en": "n"}


def _table(vowels: dict[str, tuple[str, str]], consonants: dict[str, str]
           ) -> dict[str, tuple[str, str]]:
    out = {p: (c, c) for p, c in {**_CONSONANTS_COMMON, **consonants}.items()}
    out.update(vowels)
    missing = set(ENGLISH_PHONES) - set(out)
    assert not missing, f"phone table lacks {sorted(missing)}"
    return out


# keyed by the festival language directory a voice is installed in
TABLES: dict[str, dict[str, tuple[str, str]]] = {
    "czech": _table(
        {"aa": ("a:", "a"), "ae": ("e", "e"), "ah": ("a", "a"), "ao": ("o:", "o"),
         "aw": ("a u", "a u"), "ax": ("e", "e"), "axr": ("e r", "e r"), "ay": ("a j", "a j"),
         "eh": ("e", "e"), "er": ("e r", "e r"), "ey": ("e j", "e j"), "ih": ("i", "i"),
         "iy": ("i:", "i"), "ow": ("o u", "o u"), "oy": ("o j", "o j"), "uh": ("u", "u"),
         "uw": ("u:", "u")},
        {"ch": "c~", "hh": "h", "hv": "h", "jh": "dz~", "ng": "n*", "sh": "s~", "w": "v",
         "y": "j", "zh": "z~"}),
    "russian": _table(
        {"aa": ("aa", "a"), "ae": ("ee", "e"), "ah": ("aa", "a"), "ao": ("oo", "a"),
         "aw": ("aa u", "a u"), "ax": ("a", "a"), "axr": ("a r", "a r"), "ay": ("aa j", "a j"),
         "eh": ("ee", "e"), "er": ("ee r", "e r"), "ey": ("ee j", "e j"), "ih": ("ii", "i"),
         "iy": ("ii", "i"), "ow": ("oo u", "a u"), "oy": ("oo j", "a j"), "uh": ("uu", "u"),
         "uw": ("uu", "u")},
        {"ch": "ch", "dh": "z", "th": "s", "hh": "h", "hv": "h", "jh": "d zh", "ng": "n",
         "sh": "sh", "w": "v", "y": "j", "zh": "zh"}),
    "italian": _table(
        {"aa": ("a1", "a"), "ae": ("E1", "E"), "ah": ("a1", "a"), "ao": ("O1", "O"),
         "aw": ("a1 u", "a u"), "ax": ("e", "e"), "axr": ("e r", "e r"), "ay": ("a1 i", "a i"),
         "eh": ("E1", "E"), "er": ("E1 r", "e r"), "ey": ("e1 i", "e i"), "ih": ("i1", "i"),
         "iy": ("i1", "i"), "ow": ("o1 u", "o u"), "oy": ("O1 i", "o i"), "uh": ("u1", "u"),
         "uw": ("u1", "u")},
        {"ch": "tS", "hh": "", "hv": "", "jh": "dZ", "ng": "ng", "sh": "S", "w": "w",
         "y": "j", "zh": "Z"}),
    "finnish": _table(
        {"aa": ("a:", "a"), "ae": ("e", "e"), "ah": ("a", "a"), "ao": ("o:", "o"),
         "aw": ("a u", "a u"), "ax": ("e", "e"), "axr": ("e r", "e r"), "ay": ("a i", "a i"),
         "eh": ("e", "e"), "er": ("e r", "e r"), "ey": ("e i", "e i"), "ih": ("i", "i"),
         "iy": ("i:", "i"), "ow": ("o u", "o u"), "oy": ("o i", "o i"), "uh": ("u", "u"),
         "uw": ("u:", "u")},
        {"ch": "t S", "hh": "h", "hv": "h", "jh": "t S", "ng": "N", "sh": "S", "w": "v",
         "y": "j", "z": "s", "zh": "S"}),
    "catalan": _table(
        {"aa": ("a1", "a"), "ae": ("E1", "E"), "ah": ("a1", "ax"), "ao": ("O1", "O"),
         "aw": ("a1 w", "a w"), "ax": ("ax", "ax"), "axr": ("ax r", "ax r"),
         "ay": ("a1 j", "a j"), "eh": ("E1", "E"), "er": ("E1 r", "ax r"), "ey": ("e1 j", "e j"),
         "ih": ("i1", "i"), "iy": ("i1", "i"), "ow": ("o1 w", "o w"), "oy": ("O1 j", "O j"),
         "uh": ("u1", "u"), "uw": ("u1", "u")},
        {"ch": "t S", "hh": "", "hv": "", "jh": "d Z", "ng": "n", "sh": "S", "v": "b",
         "w": "w", "y": "j", "zh": "Z"}),
}

# festival's English lexicon (festlex-cmu, a dependency of festival)
ENGLISH_LEXICONS = ("cmu",)
_WORD = re.compile(r"^[a-z']+$")


def map_syllables(syllables: list[tuple[list[str], int]], language: str
                  ) -> list[tuple[list[str], int]]:
    """English syllables ``[(phones, stress), ...]`` -> the language's phones, same stress."""
    table = TABLES[language]
    out = []
    for phones, stress in syllables:
        mapped: list[str] = []
        for p in phones:
            base = p.rstrip("012")
            if base not in table:
                raise ValueError(f"no {language} phone for English phone '{p}'")
            mapped += table[base][0 if stress else 1].split()
        out.append((mapped, stress))
    return out


def lexicon_entry(word: str, syllables: list[tuple[list[str], int]]) -> str:
    """A festival ``lex.add.entry`` call for ``word`` pronounced as ``syllables``."""
    body = " ".join(f"(({' '.join(p)}) {s})" for p, s in syllables if p)
    return f'(lex.add.entry \'("{word}" nil ({body})))'


def _parse_entry(text: str) -> list[tuple[list[str], int]]:
    """``("word" nil (((r ay t) 1)))`` as printed by festival -> ``[(["r","ay","t"], 1)]``."""
    return [(m.group(1).split(), int(m.group(2)))
            for m in re.finditer(r"\(\(([^()]*)\)\s+(\d)\)", text)]


@functools.lru_cache(maxsize=8)
def english_pronunciations(words: tuple[str, ...]) -> dict[str, list[tuple[list[str], int]]]:
    """Each word's syllables in festival's English lexicon (empty dict: no English lexicon).

    One festival process for all the words (start-up ~0.2 s); cached per process.
    """
    words = tuple(w.lower() for w in words if _WORD.match(w.lower()))
    if not words or shutil.which("festival") is None:
        return {}
    # festival's English lexicons are set up by name when a voice needs them; do it here
    setups = " ".join(f"(if (not (member_string \"{n}\" (lex.list))) "
                      f"(if (boundp 'setup_{n}_lex) (setup_{n}_lex)))" for n in ENGLISH_LEXICONS)
    names = " ".join(f'"{n}"' for n in ENGLISH_LEXICONS)
    lines = [setups,
             "(define (kwsq_try_lex names) (cond ((null names) nil) "
             "((member_string (car names) (lex.list)) (lex.select (car names)) t) "
             "(t (kwsq_try_lex (cdr names)))))",
             f"(if (kwsq_try_lex (list {names}))",
             "  (begin"]
    for w in words:
        lines.append(f'    (format t "{w}\\t%l\\n" (lex.lookup "{w}"))')
    lines.append("  ))")
    with tempfile.TemporaryDirectory(prefix="kwsq-lex-") as tmp:
        script = Path(tmp) / "lex.scm"
        script.write_text("\n".join(lines) + "\n")
        res = subprocess.run(["festival", "-b", str(script)], capture_output=True, text=True,
                             check=False)
    out: dict[str, list[tuple[list[str], int]]] = {}
    for line in res.stdout.splitlines():
        word, _, entry = line.partition("\t")
        sylls = _parse_entry(entry)
        if word in words and sylls:
            out[word] = sylls
    return out
