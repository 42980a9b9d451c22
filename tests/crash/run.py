#!/usr/bin/env python3
"""Crash safety: several clients post grants and claims while the server is killed with
SIGKILL mid-load, twice; after each restart every request that got a 2xx must be in the
ledger exactly as answered, and `verify` (chains, zero sums, balances = sums of entries)
must be ok. Usage: run.py BINARY sqlite|postgres [PG_ADMIN_URL]"""
import os
import signal
import subprocess
import sys
import tempfile
import time

from harness import Load, Service

BIN, BACKEND = sys.argv[1], sys.argv[2]
PG_ADMIN = sys.argv[3] if len(sys.argv) > 3 else "postgres://postgres@127.0.0.1:5432/postgres"
LOAD_SECONDS, KILLS = 2.0, 2
work = tempfile.mkdtemp()
if BACKEND == "sqlite":
    DB_URL = os.path.join(work, "crash.db")
else:
    name = f"ptt_crash_{os.getpid()}"
    subprocess.run(["psql", "-q", PG_ADMIN, "-c", f"CREATE DATABASE {name}"], check=True)
    DB_URL = PG_ADMIN.rsplit("/", 1)[0] + "/" + name

service = Service(BIN, DB_URL)
service.start()
try:
    load = Load(service)
    for round_no in range(1, KILLS + 1):
        load.start(round_no)
        time.sleep(LOAD_SECONDS)
        service.stop(signal.SIGKILL)
        time.sleep(0.3)
        load.finish()
        service.start()
        load.check(f"round {round_no}")
    assert load.acked_grants and load.acked_claims, "the load produced no acknowledged requests"
    print(f"crash safety ({BACKEND}): ok")
finally:
    service.stop()
    if BACKEND == "postgres":
        subprocess.run(["psql", "-q", PG_ADMIN, "-c", f"DROP DATABASE IF EXISTS {DB_URL.rsplit('/', 1)[1]} WITH (FORCE)"])
