"""Hardening II finding 15: ``tweestap client add`` on a removed client id refuses (it used to
reactivate the client silently, with a new secret); ``--reactivate`` registers it again. The
real command in a subprocess, against a real database."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

from services.dev.infra import Postgres
from services.registry import SERVICES
from shared.db import ensure_database
from tests.support.cluster import SEALING


async def tweestap_client(database_url: str, *args: str) -> tuple[int, str, str]:
    """``tweestap client ...`` as an operator runs it: exit code, stdout, stderr."""
    env = {
        **os.environ,
        "TWEESTAP_ZONE": "a",
        "TWEESTAP_DATABASE_URL": database_url,
        "TWEESTAP_SEALING_KEYS": SEALING,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "client",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_adding_a_removed_client_needs_reactivate(postgres: Postgres) -> None:
    settings = SERVICES["auth"].settings(
        zone="a", database_url=postgres.socket_dsn(f"t{uuid.uuid4().hex[:10]}_a")
    )
    url = settings.database_url
    await ensure_database(url)
    code, out, err = await tweestap_client(url, "add", "praktijk-software")
    assert code == 0 and "registered" in out, err
    code, out, err = await tweestap_client(url, "remove", "praktijk-software")
    assert code == 0, err

    code, out, err = await tweestap_client(url, "add", "praktijk-software")
    assert code != 0, ("a removed client came back", out)
    assert "praktijk-software" in err and "--reactivate" in err
    assert "client_secret" not in out
    code, out, _ = await tweestap_client(url, "list")
    assert "praktijk-software" not in out, "still removed"

    code, out, err = await tweestap_client(url, "add", "praktijk-software", "--reactivate")
    assert code == 0 and "reactivated" in out and "client_secret (shown once)" in out, err
    code, out, _ = await tweestap_client(url, "list")
    assert "praktijk-software" in out

    # An active client's new secret (add again) and a new client need no flag; the flag is
    # only for add.
    code, out, err = await tweestap_client(url, "add", "praktijk-software")
    assert code == 0 and "client_secret" in out, err
    code, _, err = await tweestap_client(url, "remove", "praktijk-software", "--reactivate")
    assert code == 2 and "--reactivate" in err
