"""Every command in the README is run by a test: the ones that need nothing running here, the
tour's (``sh tour`` blocks) in tests/faults/test_readme_tour.py against a real ``tweestap
dev``, and the few that cannot run in a test are named below with the reason."""

from __future__ import annotations

import subprocess

import pytest

from tests.docs import readme

#: Commands the tests do not run, and why.
EXEMPT = {
    "make run": "it runs until Ctrl-C; tests/faults/test_readme_tour.py starts the same "
    "`tweestap dev` on ports of its own and runs the tour against it",
    "make test": "the whole suite, this test included",
    "make dezi": "it runs until Ctrl-C; tests/integration/test_dezi.py and tests/browser/"
    "test_dezi.py start the same test Dezi (tests/peers/dezi-provider.mjs) on ports of their own",
}
#: The languages a README block may have: a shell command in any other would not be run.
LANGUAGES = readme.SHELL | {"text", "python", "json"}

STANDALONE = [
    command
    for block in readme.shell_blocks()
    if not block.tags
    for command in readme.commands(block)
    if command.text not in EXEMPT
]


def test_every_readme_command_is_run_or_exempt() -> None:
    for block in readme.blocks():
        assert block.language in LANGUAGES, f"README line {block.line}: ```{block.language}"
        assert block.tags in ((), ("tour",)), f"README line {block.line}: tags {block.tags}"
    written = [c.text for b in readme.shell_blocks() for c in readme.commands(b)]
    assert set(EXEMPT) <= set(written), "an exemption for a command the README no longer has"
    tour = [c for b in readme.shell_blocks() if b.tags == ("tour",) for c in readme.commands(b)]
    assert len(tour) >= 10, "the tour (tests/faults/test_readme_tour.py runs it)"
    assert STANDALONE, "run below"


@pytest.mark.parametrize("command", STANDALONE, ids=lambda c: c.text.split("\n")[0][:50])
def test_a_readme_command_that_needs_nothing_running_does_what_it_says(
    command: readme.Command,
) -> None:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command.text],
        cwd=readme.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, f"README line {command.block.line}: {command.text}\n{said}"
    assert readme.unmet(command, said) is None, (
        f"README line {command.block.line}: {command.text}\nsays it prints "
        f"{' … '.join(command.expect)!r}, printed:\n{said}"
    )
