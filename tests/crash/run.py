#!/usr/bin/env python3
"""Crash safety: several clients post grants and claims while the server is killed with
SIGKILL mid-load, twice; after each restart every request that got a 2xx must be in the
ledger exactly as answered, and `verify` (chains, zero sums, balances = sums of entries)
must be ok. Usage: run.py BINARY sqlite|postgres [PG_ADMIN_URL]"""
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

BIN, BACKEND = sys.argv[1], sys.argv[2]
PG_ADMIN = sys.argv[3] if len(sys.argv) > 3 else "postgres://postgres@127.0.0.1:5432/postgres"
CLIENTS, WORKERS, LOAD_SECONDS, KILLS = 4, 12, 2.0, 2
SECRET = "crash-test-" + secrets.token_hex(16)
work = tempfile.mkdtemp()
if BACKEND == "sqlite":
    DB_URL = os.path.join(work, "crash.db")
else:
    name = f"ptt_crash_{os.getpid()}"
    subprocess.run(["psql", "-q", PG_ADMIN, "-c", f"CREATE DATABASE {name}"], check=True)
    DB_URL = PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"
env = dict(os.environ, PTT_JWT_SECRET=SECRET, DATABASE_URL=DB_URL, RUST_LOG="warn")


def start():
    proc = subprocess.Popen([BIN, "serve", "--bind", f"127.0.0.1:{PORT}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            urllib.request.urlopen(BASE + "/healthz", timeout=1)
            return proc
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.05)
    raise SystemExit("server did not start")


def token(*args):
    return subprocess.run([BIN, "token", *args], env=env, check=True, capture_output=True, text=True).stdout.strip()


def call(method, path, tok, body=None, key=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + tok)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


server = start()
admin = token("--role", "platform_admin")
status, fund = call("POST", "/v1/funds", admin, {"code": "crash", "name": "Crash"})
bo = token("--role", "fund_admin", "--fund", fund["id"])
_, scheme = call("POST", f"/v1/funds/{fund['id']}/schemes", bo, {
    "code": "ptt", "name": "PTT", "annual_amount": "100.00", "max_balance": "1000000.00", "validity_years": 3,
    "eligible_categories": ["vakopleiding"], "max_claim_amount": "1000.00", "effective_from": "2020-01-01"})
_, employer = call("POST", f"/v1/funds/{fund['id']}/employers", bo, {"kvk_number": "12345678", "name": "W", "sector": "metaal"})
workers = []
for i in range(WORKERS):
    _, w = call("POST", f"/v1/funds/{fund['id']}/workers", bo, {"participant_number": f"C-{i}", "employer_id": employer["id"]})
    workers.append(w["id"])
year = time.gmtime().tm_year
acked_grants, acked_claims, lock = [], [], threading.Lock()
stop = threading.Event()


def client(n):
    rng = random.Random(n)
    i = 0
    while not stop.is_set():
        i += 1
        worker = rng.choice(workers)
        try:
            if rng.random() < 0.4:
                cents = rng.randint(100, 1000)
                body = {"worker_id": worker, "scheme_id": scheme["id"], "amount": f"{cents // 100}.{cents % 100:02d}", "grant_year": year}
                status, reply = call("POST", f"/v1/funds/{fund['id']}/grants", bo, body, key=f"g-{n}-{i}")
                if 200 <= status < 300:
                    with lock:
                        acked_grants.append((worker, reply["id"], reply["amount"]))
            else:
                cents = rng.randint(100, 800)
                body = {"worker_id": worker, "scheme_id": scheme["id"], "amount": f"{cents // 100}.{cents % 100:02d}",
                        "category": "vakopleiding", "course": "C", "provider": "P", "invoice_reference": f"INV-{n}-{i}-{rng.random()}",
                        "training_start": time.strftime("%Y-%m-%d", time.gmtime(time.time() - 20 * 86400)),
                        "training_end": time.strftime("%Y-%m-%d", time.gmtime(time.time() - 10 * 86400))}
                status, reply = call("POST", f"/v1/funds/{fund['id']}/claims", bo, body, key=f"c-{n}-{i}")
                if 200 <= status < 300:
                    with lock:
                        acked_claims.append((reply["id"], reply["status"], reply["approved_amount"]))
        except (urllib.error.URLError, ConnectionError, OSError, ValueError):
            time.sleep(0.02)


def check(round_no):
    lots_by_worker = {}
    for w in workers:
        status, budget = call("GET", f"/v1/funds/{fund['id']}/workers/{w}/budget", bo)
        assert status == 200, budget
        lots_by_worker[w] = {lot["id"]: lot["amount"] for a in budget["accounts"] for lot in a["lots"]}
    for worker, lot_id, amount in acked_grants:
        assert lots_by_worker[worker].get(lot_id) == amount, f"acknowledged grant {lot_id} missing or changed"
    for claim_id, claim_status, approved in acked_claims:
        status, claim = call("GET", f"/v1/funds/{fund['id']}/claims/{claim_id}", bo)
        assert status == 200, f"acknowledged claim {claim_id} missing"
        assert (claim["status"], claim["approved_amount"]) == (claim_status, approved), claim
    status, report = call("GET", f"/v1/funds/{fund['id']}/ledger/verify", bo)
    assert status == 200 and report["ok"], report
    print(f"round {round_no}: {len(acked_grants)} grants and {len(acked_claims)} claims acknowledged, all present; "
          f"verify ok over {report['transactions_checked']} transactions")


try:
    for round_no in range(1, KILLS + 1):
        stop.clear()
        threads = [threading.Thread(target=client, args=(round_no * 100 + n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(LOAD_SECONDS)
        server.send_signal(signal.SIGKILL)
        server.wait()
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        server = start()
        check(round_no)
    assert acked_grants and acked_claims, "the load produced no acknowledged requests"
    print(f"crash safety ({BACKEND}): ok")
finally:
    server.kill()
    server.wait()
    if BACKEND == "postgres":
        subprocess.run(["psql", "-q", PG_ADMIN, "-c", f"DROP DATABASE IF EXISTS {DB_URL.rsplit('/', 1)[1]} WITH (FORCE)"])
