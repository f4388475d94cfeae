"""``python -m bench.profiled OUT ARG…``: ``tweestap ARG…`` under cProfile, its statistics
written to OUT when the command ends (a server: on SIGINT, once aiohttp has stopped).

It times the main thread's CPU (``time.thread_time``), not the wall clock: a server's event
loop spends most of its wall time waiting, which is no cost, and argon2id's hashing threads
are left out (``tweestap_argon2_cpu_seconds_total`` counts them)."""

from __future__ import annotations

import cProfile
import sys
import time

from services.cli import main


def run(out: str, argv: list[str]) -> int:
    profiler = cProfile.Profile(time.thread_time)
    try:
        code: int = profiler.runcall(main, argv)
    finally:
        profiler.dump_stats(out)
    return code


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], sys.argv[2:]))
