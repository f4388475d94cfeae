"""The README walkthrough's helpers (``scripts/field.py``) and ``make``'s Python check
(``scripts/check-python.sh``), run as a user runs them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _field(name: str, answer: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["python3", "scripts/field.py", name],
        cwd=ROOT,
        input=answer,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_field_prints_a_text_as_it_is_and_the_rest_as_json() -> None:
    answer = json.dumps({"next": "done", "token": {"token": "eyJ…", "n": 1}, "factors": []})
    assert _field("token.token", answer).stdout == "eyJ…\n"
    assert json.loads(_field("token", answer).stdout) == {"token": "eyJ…", "n": 1}


def test_field_says_which_error_the_answer_is() -> None:
    """Before: a ``KeyError: 'token'`` traceback when a step reused a spent TOTP code."""
    spent = {
        "type": "https://tweestap.nl/problems/code-already-used",
        "title": "Code already used",
        "status": 401,
        "detail": "Each code works once; wait for the next code of the authenticator app.",
    }
    done = _field("token", json.dumps(spent))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(
        "field token: the answer is an error: 401 code-already-used: Each code works once"
    )
    assert "wait for the next 30-second step" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("", "no answer at all (is `make run` running?)"),
        ("<html>502</html>", "the answer is not JSON: <html>502</html>"),
        (
            '{"login_id": "x", "next": "enrol"}',
            "no token in the answer (its fields: login_id, next)",
        ),
        ('{"password": null, "note": "changed; reset-admin"}', "no token: changed; reset-admin"),
    ],
)
def test_field_says_what_the_answer_has_instead(answer: str, said: str) -> None:
    done = _field("token", answer)
    assert done.returncode == 1
    assert done.stderr.strip() == f"field token: {said}"


def _check(python: str, venv: Path, root: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / "scripts" / "check-python.sh"), python, str(venv)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_make_accepts_the_python_it_runs_on(tmp_path: Path) -> None:
    assert _check(sys.executable, tmp_path / "venv").returncode == 0


def test_make_says_what_to_run_without_a_python_it_supports(tmp_path: Path) -> None:
    """Before: pip's resolver error (``requires a different Python``) deep in the install."""
    done = _check("python3.9-not-here", tmp_path / "venv")
    assert done.returncode == 1
    assert "no 'python3.9-not-here' here" in done.stderr
    assert "make run PYTHON=python3.12" in done.stderr
    # A project that supports only the two minor versions after this one.
    minor = sys.version_info.minor
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "check-python.sh", tmp_path / "scripts")
    spec = f'requires-python = ">=3.{minor + 1},<3.{minor + 3}"\n'
    (tmp_path / "pyproject.toml").write_text(spec)
    done = _check(sys.executable, tmp_path / "venv", tmp_path)
    assert done.returncode == 1
    assert f"Tweestap needs Python 3.{minor + 1} to 3.{minor + 2}" in done.stderr, done.stderr
    assert f"Run: make run PYTHON=python3.{minor + 2}" in done.stderr


def test_a_venv_of_another_python_is_made_again(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("#!/bin/sh\necho 3.1\n")
    (venv / "bin" / "python").chmod(0o755)
    done = _check(sys.executable, venv)
    assert done.returncode == 0
    assert "was made with Python 3.1" in done.stderr and not venv.exists()


def test_the_check_and_the_readme_name_the_supported_pythons() -> None:
    with (ROOT / "pyproject.toml").open("rb") as f:
        spec = tomllib.load(f)["project"]["requires-python"]
    low, high = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", spec).groups()  # type: ignore[union-attr]
    names = ", ".join(f"3.{minor}" for minor in range(int(low), int(high)))
    said = names.rsplit(", ", 1)[0] + " or " + names.rsplit(", ", 1)[1]
    assert f"needs Python {said}" in (ROOT / "scripts" / "check-python.sh").read_text()
    assert f"You need Python {said} and `make`" in (ROOT / "README.md").read_text()
