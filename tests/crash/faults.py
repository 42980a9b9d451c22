#!/usr/bin/env python3
"""Database faults while the service runs, with clients posting grants and claims (idempotency
keys on every write). In each case: only 2xx and 503 answers (no 500 for a fault that is not a
bug), every acknowledged write is in the ledger as answered, nothing half-written (`verify` ok),
and the service serves again by itself once the database is back.

  faults.py BINARY pg-restart PG_ADMIN_URL   PostgreSQL restarted (pg_ctlcluster) under load
  faults.py BINARY disk-full                 SQLite on a small tmpfs that fills up, then frees
  faults.py BINARY read-only                 SQLite file the service may not write: it refuses
                                             to start, with a message; writable again, it starts

Needs root (mount, pg_ctlcluster, setpriv), as CI has."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from harness import Load, Service

BIN, FAULT = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp()


def wait_until(condition, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return time.time()
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


def pg_restart(admin_url):
    name = f"ptt_fault_{os.getpid()}"
    subprocess.run(["psql", "-q", admin_url, "-c", f"CREATE DATABASE {name}"], check=True)
    service = Service(BIN, admin_url.rsplit("/", 1)[0] + "/" + name)
    cluster = sorted(os.listdir("/etc/postgresql"))[0]
    try:
        service.start()
        load = Load(service, retry=True)
        load.start(1)
        time.sleep(1.5)
        before = load.acknowledged()
        started = time.time()
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "restart"], check=True)
        print(f"PostgreSQL restarted in {time.time() - started:.1f} s with {before} writes acknowledged before")
        back = wait_until(lambda: load.acknowledged() > before + 20, 30, "writes acknowledged again after the restart")
        print(f"writes acknowledged again {back - started:.1f} s after the restart began, without restarting the service")
        time.sleep(1)
        load.finish()
        assert service.ready(), "/readyz after recovery"
        load.no_server_errors()
        load.check("PostgreSQL restart")
        load.booked_exactly_once()
    finally:
        service.stop()
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "start"], capture_output=True)
        wait_until(lambda: subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode == 0, 30, "PostgreSQL up")
        subprocess.run(["psql", "-q", admin_url, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])


def disk_full():
    disk = os.path.join(work, "disk")
    os.makedirs(disk)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", disk], check=True)
    service = Service(BIN, os.path.join(disk, "ledger.db"))
    filler = os.path.join(disk, "filler")
    try:
        service.start()
        load = Load(service, retry=True)
        load.start(1)
        time.sleep(1)
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 65536)
        except OSError:
            pass
        finally:
            os.close(fd)
        full_at = load.acknowledged()
        wait_until(lambda: load.statuses.get(503, 0) > 10, 30, "503s while the disk is full")
        stuck = load.acknowledged()
        time.sleep(1)
        status, _ = service.call("GET", f"/v1/funds/{load.fund}/workers/{load.workers[0]}/budget", load.bo)
        assert status == 200, f"reads go on while the disk is full: {status}"
        print(f"disk full: {load.statuses.get(503, 0)} answers 503, reads still 200; {full_at} writes acknowledged before")
        os.remove(filler)
        wait_until(lambda: load.acknowledged() > stuck + 20, 30, "writes acknowledged again after space was freed")
        load.finish()
        load.no_server_errors()
        load.check("SQLite disk full")
        load.booked_exactly_once()
    finally:
        service.stop()
        subprocess.run(["umount", disk])


def read_only():
    data = os.path.join(work, "data")
    os.makedirs(data)
    shutil.chown(data, "nobody")
    os.chmod(work, 0o755)
    db = os.path.join(data, "ledger.db")
    service = Service(BIN, db, user=65534)
    service.start()
    load = Load(service, workers=3, clients=2)
    load.start(1)
    time.sleep(1)
    load.finish()
    service.stop()
    for path in [db, db + "-wal", db + "-shm"]:
        if os.path.exists(path):
            os.chmod(path, 0o444)
    os.chmod(data, 0o555)
    refused = Service(BIN, db, user=65534)
    refused.start(wait=False)
    code = refused.proc.wait(timeout=30)
    message = refused.log_text()
    assert code == 2 and "does not take writes" in message, f"exit {code}: {message}"
    print(f"read-only file: the service refuses to start (exit {code}): {message.strip().splitlines()[-1]}")
    os.chmod(data, 0o755)
    for path in [db, db + "-wal", db + "-shm"]:
        if os.path.exists(path):
            os.chmod(path, 0o644)
    service.start()
    try:
        load.check("read-only file, writable again")
    finally:
        service.stop()


try:
    {"pg-restart": lambda: pg_restart(sys.argv[3]), "disk-full": disk_full, "read-only": read_only}[FAULT]()
    print(f"fault {FAULT}: ok")
finally:
    shutil.rmtree(work, ignore_errors=True)
