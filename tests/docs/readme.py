"""The README's fenced shell blocks, cut into the commands a reader pastes.

A block's info string names its language and, after it, tags: a ``sh tour`` block belongs to
the five-minute tour, which needs a running ``tweestap dev`` (tests/faults/test_readme_tour.py
runs the tour's blocks in order, as one shell session); a plain ``sh`` block needs nothing
running (tests/docs/test_readme_commands.py runs each of its commands).

A command may end in ``# → what it prints``: the test checks that its output holds that text
(parts separated by `` … `` in that order)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SHELL = frozenset({"sh", "bash", "shell"})
FENCE = re.compile(r"^```(\S*)[ \t]*(.*)$")
EXPECT = "→"


@dataclass(frozen=True)
class Block:
    language: str
    tags: tuple[str, ...]
    text: str
    #: The README line of its first line.
    line: int


@dataclass(frozen=True)
class Command:
    #: As written, continuation lines included, without its trailing comment.
    text: str
    #: What its output must hold (after ``# →``), split at `` … ``; empty: nothing said.
    expect: tuple[str, ...]
    block: Block


def blocks(path: Path = README) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        index += 1
        if not match:
            continue
        start, body = index, []
        while index < len(lines) and not lines[index].startswith("```"):
            body.append(lines[index])
            index += 1
        index += 1
        found.append(Block(match[1], tuple(match[2].split()), "\n".join(body), start + 1))
    return found


def shell_blocks(path: Path = README) -> list[Block]:
    return [block for block in blocks(path) if block.language in SHELL]


def _split(line: str, quote: str | None) -> tuple[str, str | None, str | None]:
    """``line`` as code and its comment, and the quote still open at its end (a shell's
    rules, as far as the README needs them: quotes, backslashes, ``#`` after a blank)."""
    escaped = False
    for position, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote is not None:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (position == 0 or line[position - 1].isspace()):
            return line[:position].rstrip(), line[position + 1 :].strip(), None
    return line.rstrip(), None, quote


def commands(block: Block) -> list[Command]:
    found: list[Command] = []
    parts: list[str] = []
    quote: str | None = None
    for line in block.text.splitlines():
        code, comment, quote = _split(line, quote)
        if not parts and not code.strip():
            continue
        parts.append(code)
        if quote is None and not code.endswith("\\"):
            said = comment or ""
            expect = said.removeprefix(EXPECT).strip() if said.startswith(EXPECT) else ""
            found.append(
                Command("\n".join(parts), tuple(expect.split(" … ")) if expect else (), block)
            )
            parts = []
    assert not parts, f"README line {block.line}: an unfinished command: {parts}"
    return found


def unmet(command: Command, output: str) -> str | None:
    """What of ``command``'s ``# →`` is not in ``output`` (in order), or None."""
    at = 0
    for part in command.expect:
        found = output.find(part, at)
        if found < 0:
            return part
        at = found + len(part)
    return None
