"""What the crash and fault scenarios share: a server process of the release binary, tokens,
JSON calls, a small fund, client threads that post grants and claims and remember every
acknowledged one, and the check that every acknowledged write is in the ledger as answered and
`verify` is ok."""
import json
import os
import random
import secrets
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Service:
    def __init__(self, binary, db_url, cwd=None, user=None):
        self.bin = binary
        self.user = user
        self.log = tempfile.NamedTemporaryFile(prefix="ptt-serve-", suffix=".log", delete=False)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, PTT_JWT_SECRET="crash-test-" + secrets.token_hex(16), DATABASE_URL=db_url, RUST_LOG="warn")
        self.cwd = cwd
        self.proc = None

    def start(self, wait=True):
        # setpriv execs the server itself (runuser would stay its parent, and killing it would
        # leave the server running).
        run_as = ["setpriv", f"--reuid={self.user}", f"--regid={self.user}", "--clear-groups", "--"] if self.user is not None else []
        # The log goes to a file: a pipe nobody reads would stop the server once it is full.
        self.proc = subprocess.Popen([*run_as, self.bin, "serve", "--bind", f"127.0.0.1:{self.port}"], env=self.env, cwd=self.cwd,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        if not wait:
            return
        for _ in range(200):
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1)
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.proc.poll() is not None:
                    raise SystemExit("server exited: " + self.log_text())
                time.sleep(0.05)
        raise SystemExit("server did not start")

    def log_text(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, sig=None):
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.kill()
            else:
                self.proc.send_signal(sig)
            self.proc.wait()

    def token(self, *args):
        return subprocess.run([self.bin, "token", *args], env=self.env, check=True, capture_output=True, text=True).stdout.strip()

    def call(self, method, path, tok, body=None, key=None, timeout=10):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if tok:
            req.add_header("Authorization", "Bearer " + tok)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if key:
            req.add_header("Idempotency-Key", key)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw or b"null")
            except ValueError:
                return e.code, raw.decode(errors="replace")

    def ready(self):
        try:
            with urllib.request.urlopen(self.base + "/readyz", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False


class Load:
    """A fund with workers, and client threads posting grants and claims with idempotency keys."""

    def __init__(self, service, workers=12, clients=4, retry=False):
        self.s = service
        self.clients = clients
        # Retry a 503 or a lost answer with the same key until it is answered 2xx (at most a
        # minute): then every request is booked exactly once, which `check` counts.
        self.retry = retry
        admin = service.token("--role", "platform_admin")
        _, fund = service.call("POST", "/v1/funds", admin, {"code": "crash" + secrets.token_hex(3), "name": "Crash"})
        self.fund = fund["id"]
        self.bo = service.token("--role", "fund_admin", "--fund", self.fund)
        _, scheme = service.call("POST", f"/v1/funds/{self.fund}/schemes", self.bo, {
            "code": "ptt", "name": "PTT", "annual_amount": "100.00", "max_balance": "1000000.00", "validity_years": 3,
            "eligible_categories": ["vakopleiding"], "max_claim_amount": "1000.00", "effective_from": "2020-01-01"})
        self.scheme = scheme["id"]
        _, employer = service.call("POST", f"/v1/funds/{self.fund}/employers", self.bo,
                                   {"kvk_number": "12345678", "name": "W", "sector": "metaal"})
        self.workers = []
        for i in range(workers):
            _, w = service.call("POST", f"/v1/funds/{self.fund}/workers", self.bo,
                                {"participant_number": f"C-{i}", "employer_id": employer["id"]})
            self.workers.append(w["id"])
        self.acked_grants, self.acked_claims = [], []
        self.statuses = {}
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = []

    def _client(self, n):
        rng = random.Random(n)
        year = time.gmtime().tm_year
        i = 0
        while not self.stop_event.is_set():
            i += 1
            worker = rng.choice(self.workers)
            try:
                if rng.random() < 0.4:
                    cents = rng.randint(100, 1000)
                    body = {"worker_id": worker, "scheme_id": self.scheme, "amount": f"{cents // 100}.{cents % 100:02d}", "grant_year": year}
                    status, reply = self._send(f"/v1/funds/{self.fund}/grants", body, f"g-{n}-{i}")
                    if 200 <= status < 300:
                        with self.lock:
                            self.acked_grants.append((worker, reply["id"], reply["amount"]))
                else:
                    cents = rng.randint(100, 800)
                    body = {"worker_id": worker, "scheme_id": self.scheme, "amount": f"{cents // 100}.{cents % 100:02d}",
                            "category": "vakopleiding", "course": "C", "provider": "P", "invoice_reference": f"INV-{n}-{i}-{rng.random()}",
                            "training_start": time.strftime("%Y-%m-%d", time.gmtime(time.time() - 20 * 86400)),
                            "training_end": time.strftime("%Y-%m-%d", time.gmtime(time.time() - 10 * 86400))}
                    status, reply = self._send(f"/v1/funds/{self.fund}/claims", body, f"c-{n}-{i}")
                    if 200 <= status < 300:
                        with self.lock:
                            self.acked_claims.append((reply["id"], reply["status"], reply["approved_amount"]))
                with self.lock:
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                    if status >= 500 and status != 503:
                        print(f"unexpected {status}: {reply}")
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                with self.lock:
                    self.statuses["no answer"] = self.statuses.get("no answer", 0) + 1
                time.sleep(0.02)

    def _send(self, path, body, key):
        deadline = time.time() + 60
        while True:
            try:
                status, reply = self.s.call("POST", path, self.bo, body, key=key)
            except (urllib.error.URLError, ConnectionError, OSError, ValueError):
                if not self.retry or time.time() > deadline:
                    raise
                with self.lock:
                    self.statuses["no answer"] = self.statuses.get("no answer", 0) + 1
                time.sleep(0.1)
                continue
            if status == 503 and self.retry and time.time() < deadline:
                with self.lock:
                    self.statuses[503] = self.statuses.get(503, 0) + 1
                time.sleep(0.1)
                continue
            return status, reply

    def start(self, round_no):
        self.stop_event.clear()
        self.threads = [threading.Thread(target=self._client, args=(round_no * 100 + n,)) for n in range(self.clients)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop_event.set()
        for t in self.threads:
            t.join()

    def acknowledged(self):
        with self.lock:
            return len(self.acked_grants) + len(self.acked_claims)

    def check(self, label):
        """Every acknowledged write is there as answered, and verify is ok."""
        lots_by_worker = {}
        for w in self.workers:
            status, budget = self.s.call("GET", f"/v1/funds/{self.fund}/workers/{w}/budget", self.bo)
            assert status == 200, budget
            lots_by_worker[w] = {lot["id"]: lot["amount"] for a in budget["accounts"] for lot in a["lots"]}
        for worker, lot_id, amount in self.acked_grants:
            assert lots_by_worker[worker].get(lot_id) == amount, f"acknowledged grant {lot_id} missing or changed"
        for claim_id, claim_status, approved in self.acked_claims:
            status, claim = self.s.call("GET", f"/v1/funds/{self.fund}/claims/{claim_id}", self.bo)
            assert status == 200, f"acknowledged claim {claim_id} missing"
            assert (claim["status"], claim["approved_amount"]) == (claim_status, approved), claim
        status, report = self.s.call("GET", f"/v1/funds/{self.fund}/ledger/verify", self.bo)
        assert status == 200 and report["ok"], report
        print(f"{label}: {len(self.acked_grants)} grants and {len(self.acked_claims)} claims acknowledged, all present; "
              f"verify ok over {report['transactions_checked']} transactions; answers {self.statuses}")

    def no_server_errors(self):
        bad = {k: v for k, v in self.statuses.items() if k == "no answer" or (isinstance(k, int) and k >= 500 and k != 503)}
        assert not bad, f"answers other than 2xx/503 during the fault: {self.statuses}"

    def booked_exactly_once(self):
        """With retries, every request was answered 2xx once: the fund holds exactly the
        acknowledged claims and lots, no retry booked twice."""
        claims, after = 0, None
        while True:
            query = f"?limit=500" + (f"&after={after}" if after else "")
            status, page = self.s.call("GET", f"/v1/funds/{self.fund}/claims{query}", self.bo)
            assert status == 200, page
            claims += len(page["items"])
            after = page.get("next_cursor")
            if not after:
                break
        lots = 0
        for w in self.workers:
            _, budget = self.s.call("GET", f"/v1/funds/{self.fund}/workers/{w}/budget", self.bo)
            lots += sum(len(a["lots"]) for a in budget["accounts"])
        assert claims == len(self.acked_claims), f"{claims} claims stored for {len(self.acked_claims)} requests"
        assert lots == len(self.acked_grants), f"{lots} lots stored for {len(self.acked_grants)} grant requests"
        print(f"booked exactly once: {claims} claims, {lots} lots")
