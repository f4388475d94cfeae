"""Rebuild shared/password_lists/nl from the zxcvbn-ts language packages (see NOTICE there).

    cd /tmp && npm pack @zxcvbn-ts/language-nl-be@3.0.2 @zxcvbn-ts/language-common@4.1.3 \\
        @zxcvbn-ts/language-en@4.1.1
    for p in nl-be common en; do mkdir -p $p && tar xzf zxcvbn-ts-language-$p-*.tgz -C $p; done
    python shared/password_lists/build_nl.py /tmp/nl-be/package /tmp/common/package \\
        /tmp/en/package

The nl-be lists are copied in their order (rank = line number), gzipped without a timestamp so
a rebuild gives the same bytes. ``passwords.txt`` is derived: the entries of language-common's
ranked password list whose letters are a word of nl-be's ``commonWords`` and of none of
language-en's word and name lists, in their order there — what people choose in Dutch, ranked
by use. Run by hand when the source packages change."""

from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

COPIED = {
    "commonWords": "words",
    "wikipedia": "wikipedia",
    "boysFirstnames": "first_names_boys",
    "girlsFirstnames": "first_names_girls",
    "lastnames": "surnames",
}
ENGLISH = ("commonWords", "wikipedia", "firstnames", "lastnames")
#: A password that is a word with digits or symbols after it ("welkom01", "lieve27").
_STEM = re.compile(r"^([a-z]+)[^a-z]*$")


def _list(path: Path) -> list[str]:
    words = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(words, list)
    return [str(word) for word in words]


def dutch_passwords(nl_words: set[str], common: list[str], english: set[str]) -> list[str]:
    picked = []
    for password in common:
        stem = _STEM.match(password)
        if stem and len(stem[1]) >= 4 and stem[1] in nl_words and stem[1] not in english:
            picked.append(password)
    return picked


def main(nl_be: Path, common: Path, en: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for source, name in COPIED.items():
        text = "\n".join(_list(nl_be / "src" / f"{source}.json")) + "\n"
        (out / f"{name}.txt.gz").write_bytes(gzip.compress(text.encode(), 9, mtime=0))
    english = {word for name in ENGLISH for word in _list(en / "src" / f"{name}.json")}
    passwords = dutch_passwords(
        set(_list(nl_be / "src" / "commonWords.json")),
        _list(common / "src" / "passwords.json"),
        english,
    )
    (out / "passwords.txt").write_text("\n".join(passwords) + "\n", encoding="utf-8")


if __name__ == "__main__":
    nl_be, common, en = (Path(arg) for arg in sys.argv[1:4])
    main(nl_be, common, en, Path(__file__).parent / "nl")
