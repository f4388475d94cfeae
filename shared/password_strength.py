"""Password strength 0-100, one rule for auth (which enforces the practice's minimum) and the
web front end (which previews it while an administrator sets the policy) — pure, no I/O
beyond reading the package's word lists once.

Strength is derived from zxcvbn's estimate of the guesses an attacker needs, with the
practice's and employee's names as user inputs (so "Fysio Jansen 2024" is weak at Fysio Jansen):

    strength = min(100, round(100 * log10(guesses) / 14))

so 60 ≈ 10^8.4 guesses (zxcvbn score 3, "safely unguessable" against online attacks and
throttled offline ones) and 100 ≈ 10^14. Only the first 72 characters are scored (zxcvbn's
limit); a longer password is at least as strong.

zxcvbn's own dictionaries are English. An attacker of a Dutch practice tries Dutch first, so
the Dutch lists in ``shared/password_lists/nl`` (words, names, passwords; see its NOTICE) are
added as ranked dictionaries, and so are the years around now (zxcvbn 4.5.0 knows recent years
only up to 2019: "Zomer2024" was a word and four random digits).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

_SEPARATORS = re.compile(r"[\s\-_.,;:/]+")
#: The words of a user input: "p.devries@fysiojansen.nl" → p, devries, fysiojansen, nl.
_WORDS = re.compile(r"[^\W_]+")
_SCORED_LENGTH = 72
#: Words of one user input that count (a name has a few; joined runs grow with the square).
_MAX_INPUT_WORDS = 8
_FULL_STRENGTH_LOG10 = 14.0

#: zxcvbn dictionary name → file in shared/password_lists/nl, one entry a line, most used first.
DUTCH_LISTS = {
    "nl_passwords": "passwords.txt",
    "nl_words": "words.txt.gz",
    "nl_wikipedia": "wikipedia.txt.gz",
    "nl_first_names_boys": "first_names_boys.txt.gz",
    "nl_first_names_girls": "first_names_girls.txt.gz",
    "nl_surnames": "surnames.txt.gz",
}
#: Years tried, around the current one: birth years back to this one, a few ahead.
_OLDEST_YEAR = 1930
_YEARS_AHEAD = 10

Estimator = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Reason:
    """Why a password is guessable, for the person choosing it: a stable ``code`` and the
    sentence in Dutch and English."""

    code: str
    nl: str
    en: str


#: In the order they are told: what the person can most easily avoid first.
REASONS = {
    reason.code: reason
    for reason in (
        Reason("practice-name", "Bevat de naam van de praktijk.", "Contains the practice's name."),
        Reason("own-name", "Bevat uw naam of gebruikersnaam.", "Contains your name or username."),
        Reason(
            "common-password", "Dit is een veelgebruikt wachtwoord.", "This is a common password."
        ),
        Reason("name", "Bevat een veelvoorkomende naam.", "Contains a common name."),
        Reason("word", "Bevat een veelgebruikt woord.", "Contains a common word."),
        Reason("year", "Een jaartal maakt het niet sterker.", "A year does not make it stronger."),
        Reason("date", "Een datum is makkelijk te raden.", "A date is easy to guess."),
        Reason(
            "keyboard",
            "Een rij toetsen is makkelijk te raden.",
            "A row of keys is easy to guess.",
        ),
        Reason(
            "sequence",
            'Een reeks als "abc" of "1234" is makkelijk te raden.',
            'A sequence like "abc" or "1234" is easy to guess.',
        ),
        Reason(
            "repeat",
            'Herhaling als "aaa" maakt het niet sterker.',
            'Repeats like "aaa" do not make it stronger.',
        ),
        Reason(
            "short",
            "Te kort: kies een paar ongewone woorden.",
            "Too short: choose a few uncommon words.",
        ),
    )
}
_DICTIONARY_REASONS = {
    "passwords": "common-password",
    "nl_passwords": "common-password",
    "nl_first_names_boys": "name",
    "nl_first_names_girls": "name",
    "nl_surnames": "name",
    "male_names": "name",
    "female_names": "name",
    "surnames": "name",
    "years": "year",
}


@dataclass(frozen=True)
class Assessment:
    strength: int
    #: Why it is guessable, most avoidable first; what matters is told when it is too weak.
    reasons: tuple[Reason, ...]


def strength(password: str, user_inputs: Iterable[str] = ()) -> int:
    """Scored as written and with separators removed, the weaker counting: zxcvbn treats
    "Fysio Jansen 2024" as brute-force chunks but sees the names in "FysioJansen2024"."""
    return assess(password, personal=user_inputs).strength


def assess(password: str, practice_name: str = "", personal: Iterable[str] = ()) -> Assessment:
    """:func:`strength` with the practice's name and the employee's own (name, username,
    e-mail) as user inputs, and the reasons it is guessable: a name of the practice is told
    apart from the employee's own."""
    if not password:
        return Assessment(0, (REASONS["short"],))
    practice_words = set(_input_words([practice_name]))
    result = _weakest(password, [practice_name, *personal])
    log10 = float(result["guesses_log10"])
    score = max(0, min(100, round(100 * log10 / _FULL_STRENGTH_LOG10)))
    return Assessment(score, _reasons(result["sequence"], practice_words))


def _weakest(password: str, user_inputs: list[str]) -> dict[str, Any]:
    estimate = _estimator()
    inputs = _input_words(user_inputs)
    variants = dict.fromkeys(
        (password[:_SCORED_LENGTH], _SEPARATORS.sub("", password)[:_SCORED_LENGTH])
    )
    results = [estimate(variant, user_inputs=inputs) for variant in variants if variant]
    return min(results, key=lambda result: float(result["guesses_log10"]))


def _input_words(user_inputs: Iterable[str]) -> list[str]:
    """Each input's words, and its runs of adjacent words joined ("Huisartsenpraktijk De
    Linde" → delinde, huisartsenpraktijkdelinde …): a name is written without its spaces."""
    words: list[str] = []
    for value in user_inputs:
        parts = _WORDS.findall(value.lower())[:_MAX_INPUT_WORDS]
        words.extend(parts)
        for length in range(2, len(parts) + 1):
            words.extend("".join(parts[i : i + length]) for i in range(len(parts) - length + 1))
    return list(dict.fromkeys(words))


def _reasons(sequence: list[dict[str, Any]], practice_words: set[str]) -> tuple[Reason, ...]:
    codes = {code for match in sequence if (code := _reason(match, practice_words))}
    if not codes and all(match["pattern"] == "bruteforce" for match in sequence):
        codes.add("short")
    return tuple(reason for code, reason in REASONS.items() if code in codes)


def _reason(match: dict[str, Any], practice_words: set[str]) -> str | None:
    pattern = match["pattern"]
    if pattern == "dictionary":
        name = match["dictionary_name"]
        if name == "user_inputs":
            return "practice-name" if match["matched_word"] in practice_words else "own-name"
        return _DICTIONARY_REASONS.get(name, "word")
    if pattern == "regex":
        return "year" if match.get("regex_name") == "recent_year" else None
    return {"date": "date", "spatial": "keyboard", "sequence": "sequence", "repeat": "repeat"}.get(
        pattern
    )


@cache
def _estimator() -> Estimator:
    """zxcvbn with the Dutch lists and the years added, once per process. Imported when first
    needed: its dictionaries take some 12 MB of a process's memory (the Dutch ones some 10 MB
    more), used only when a password is set or a policy previewed (idle RSS, issue 14)."""
    from zxcvbn import matching, zxcvbn

    lists = {name: _dutch_list(file) for name, file in DUTCH_LISTS.items()}
    lists["years"] = years(datetime.now(UTC).year)
    matching.add_frequency_lists(lists)
    estimate: Estimator = zxcvbn
    return estimate


def _dutch_list(file: str) -> list[str]:
    """One entry a line; a name in two words ("de vries") as the password holds it
    (devries), at its own rank."""
    data = resources.files("shared").joinpath("password_lists", "nl", file).read_bytes()
    if file.endswith(".gz"):
        data = gzip.decompress(data)
    entries = (line.strip().lower().replace(" ", "") for line in data.decode().splitlines())
    return list(dict.fromkeys(entry for entry in entries if entry))


def years(current: int) -> list[str]:
    """The current year first, then outwards: last year, next year, two years ago …, down to
    :data:`_OLDEST_YEAR` and up to :data:`_YEARS_AHEAD` years ahead."""
    ordered = [current]
    for distance in range(1, current - _OLDEST_YEAR + 1):
        ordered.append(current - distance)
        if distance <= _YEARS_AHEAD:
            ordered.append(current + distance)
    return [str(year) for year in ordered]
