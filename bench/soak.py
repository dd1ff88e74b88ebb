#!/usr/bin/env python3
"""The soak test's load generator, receivers and checker (driven by bench/soak.sh).

  soak.py receivers --aspect PORT --stats PORT --http PORT --out DIR
      TCP receivers for the Aspect RTA and statistics feeds and an HTTP receiver for the
      WFM HTTP POST, Loxysoft and NICE feeds; counts what arrives into DIR/receivers-PID.json.
  soak.py setup --work DIR --base URL --admin-token T --pid PID ...
      Tenants with tokens of every role, feed accounts pointing at the receivers, an AWS
      account on the S3 server and an export job; writes DIR/settings.json.
  soak.py load --work DIR --minutes N [--sample-seconds S] [--rotate-minutes M]
      Mixed API load with every role, event intake (`patchbay simulate`), recordings, export
      runs and master key rotations (`patchbay keys rotate`) for N minutes; samples RSS, fds,
      threads and /metrics every S seconds into DIR/samples.csv; keeps every acknowledged
      write in DIR/acked.json.
  soak.py verify --work DIR
      After the restart: a final export run with the S3 server up, every acknowledged write
      checked, and the report. Exit 1 on a lost write or a 5xx.

Only the standard library. Settings shared with soak.sh live in DIR/settings.json.
"""

import argparse
import csv
import glob
import hashlib
import http.client
import io
import json
import os
import random
import re
import signal
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ASPECT_RECORD_BYTES = 204  # default field sizes, docs/feeds.md
SERVICES = ["Sales", "Support"]  # the export job's services
METRIC_COLUMNS = [
    "patchbay_runtime_tasks_alive",
    "patchbay_http_connections_open",
    "patchbay_http_connections_refused_total",
    "patchbay_http_requests_total",
    "patchbay_events_total",
    "patchbay_feeds_connected",
    "patchbay_feed_messages_sent",
    "patchbay_feed_send_failures",
    "patchbay_recording_export_runs_total",
    "patchbay_recording_export_files_total{outcome=success}",
    "patchbay_recording_export_files_total{outcome=failed}",
]


# ------------------------------------------------------------------ receivers

def receivers(args):
    counts = {"aspect_bytes": 0, "aspect_connections": 0, "stats_lines": 0, "stats_connections": 0, "http_posts": {}}
    lock = threading.Lock()

    class Tcp(socketserver.BaseRequestHandler):
        def handle(self):
            kind = self.server.kind
            with lock:
                counts[kind + "_connections"] += 1
            while True:
                try:
                    data = self.request.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                with lock:
                    if kind == "aspect":
                        counts["aspect_bytes"] += len(data)
                    else:
                        counts["stats_lines"] += data.count(b"\n")

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    class Http(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            json.loads(body)  # a feed that posts something other than JSON ends the connection
            with lock:
                counts["http_posts"][self.path] = counts["http_posts"].get(self.path, 0) + 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    ThreadingHTTPServer.allow_reuse_address = True
    servers = []
    for kind, port in (("aspect", args.aspect), ("stats", args.stats)):
        server = Server(("127.0.0.1", port), Tcp)
        server.kind = kind
        servers.append(server)
    servers.append(ThreadingHTTPServer(("127.0.0.1", args.http), Http))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    out = os.path.join(args.out, f"receivers-{os.getpid()}.json")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while True:
        with lock:
            text = json.dumps(counts)
        with open(out + ".tmp", "w") as f:
            f.write(text)
        os.replace(out + ".tmp", out)
        if stop.wait(2):
            return


# ------------------------------------------------------------------ HTTP client

class Tally:
    """Requests by kind and outcome; every 5xx and unexpected status with a sample body."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_kind = {}
        self.findings = []

    def count(self, kind, outcome, detail=None):
        with self.lock:
            kinds = self.by_kind.setdefault(kind, {})
            kinds[outcome] = kinds.get(outcome, 0) + 1
            if detail is not None and len(self.findings) < 200:
                self.findings.append(detail)


def outcome_of(status, headers, expected):
    if status in expected:
        return "ok" if status < 400 else f"expected {status}"
    if status in (429, 503) and headers.get("retry-after"):
        return f"limit {status}"
    if status >= 500:
        return "5xx"
    return f"unexpected {status}"


class Api:
    # patchbay closes a kept-alive connection that sends no request within its header-read
    # timeout (10 s by default); a request sent just then would meet the close.
    IDLE_S = 5

    def __init__(self, base, token, tally):
        self.netloc = urllib.parse.urlsplit(base).netloc
        self.token = token
        self.tally = tally
        self.conn = None
        self.used = 0.0

    def call(self, kind, method, path, body=None, expected=(200,), headers=None, raw=None, content_type=None):
        """(status, headers, parsed body or bytes); status None on a transport error."""
        h = {"Authorization": f"Bearer {self.token}"}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if content_type:
            h["Content-Type"] = content_type
        h.update(headers or {})
        if self.conn is not None and time.monotonic() - self.used > self.IDLE_S:
            self.conn.close()
            self.conn = None
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.netloc, timeout=60)
            try:
                self.conn.request(method, "/api/v1" + path if path.startswith("/") else path, body=data, headers=h)
                resp = self.conn.getresponse()
                payload = resp.read()
                self.used = time.monotonic()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                # A kept-alive connection the server closed between requests: once more, fresh.
                self.conn.close()
                self.conn = None
                if attempt == 2 or method not in ("GET", "HEAD"):
                    self.tally.count(kind, "transport error", f"{kind} {method} {path}: {e!r}")
                    return None, {}, None
            except OSError as e:
                self.conn.close()
                self.conn = None
                self.tally.count(kind, "transport error", f"{kind} {method} {path}: {e!r}")
                return None, {}, None
        headers = {k.lower(): v for k, v in resp.getheaders()}
        outcome = outcome_of(resp.status, headers, expected)
        detail = None
        if outcome == "5xx" or outcome.startswith("unexpected"):
            detail = f"{kind} {method} {path} -> {resp.status}: {payload[:300]!r}"
        self.tally.count(kind, outcome, detail)
        if headers.get("content-type", "").split(";")[0].endswith("json") and payload:
            try:
                return resp.status, headers, json.loads(payload)
            except ValueError:
                pass
        return resp.status, headers, payload


def metrics_text(base):
    conn = http.client.HTTPConnection(urllib.parse.urlsplit(base).netloc, timeout=30)
    try:
        conn.request("GET", "/metrics")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def metric_sums(text):
    """Sum per metric name, and per name{one label=value} for every label."""
    sums = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)", line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(3) or "", float(m.group(4))
        sums[name] = sums.get(name, 0) + value
        for key, val in re.findall(r'(\w+)="([^"]*)"', labels):
            k = f"{name}{{{key}={val}}}"
            sums[k] = sums.get(k, 0) + value
    return sums


def status_5xx(sums):
    return {k: int(v) for k, v in sums.items() if re.match(r"patchbay_http_requests_total\{status=5\d\d\}$", k) and v}


# ------------------------------------------------------------------ load

class Load:
    def __init__(self, work, settings, deadline):
        self.work = work
        self.s = settings
        self.base = settings["base"]
        self.deadline = deadline
        self.tally = Tally()
        self.lock = threading.Lock()
        self.rng = random.Random(settings["seed"])
        # Acknowledged writes (2xx), and those whose outcome is unknown (transport error).
        self.accounts = {}  # id -> {tenant, version, name, deleted}
        self.tenants = {}  # id -> {version, name, deleted}
        self.tokens = {}  # id -> {token, revoked}
        self.recordings = {}  # id -> {tenant, sha256, size, service}
        self.uncertain = {"accounts": set(), "tenants": set(), "tokens": set(), "recordings": set()}
        self.events = {"runs": 0, "failed_runs": 0, "sent": 0, "accepted": 0, "rejected": 0, "errors": []}
        self.rotations = {"ok": 0, "failed": 0, "errors": []}
        self.export_runs_started = 0

    def api(self, token):
        return Api(self.base, token, self.tally)

    def write(self, store, key, api, kind, method, path, body=None, version=None, extra=None):
        """A create, update (If-Match `version`) or delete of an account or tenant, its answer
        kept: the acknowledged version and name, or deleted; unknown after a transport error.
        Returns the record's key (the new id for a create) on success, else None."""
        expected = (204,) if method == "DELETE" else (201,) if method == "POST" else (200,)
        headers = {"If-Match": f'"{version}"'} if version is not None else None
        status, _, reply = api.call(kind, method, path, body, expected=expected, headers=headers)
        if status is None:
            self.uncertain[store].add(key)
            return None
        if status not in expected:
            return None
        records = getattr(self, store)
        with self.lock:
            if method == "DELETE":
                records[key]["deleted"] = True
            else:
                key = reply["id"]
                records.setdefault(key, dict(extra or {}, deleted=False)).update(version=reply["version"],
                                                                                  name=reply["name"])
        return key

    def running(self):
        return time.time() < self.deadline

    def pause(self, seconds):
        time.sleep(min(seconds, max(0.0, self.deadline - time.time())))

    # -------------------------------------------------------------- tenant admin: accounts
    def accounts_worker(self, tenant, n):
        api = self.api(self.s["tokens"][tenant]["tenant_admin"])
        rng = random.Random(self.s["seed"] * 100 + n)
        mine = []  # live account ids of this worker
        counter = 0
        while self.running():
            op = rng.random()
            if not mine or (op < 0.35 and len(mine) < 150):
                counter += 1
                name = f"soak {n}-{counter}"
                body = {"type": "messenger", "provider": "line", "name": name,
                        "properties": {"token": f"secret-{n}-{counter}-{rng.getrandbits(64):x}"}}
                aid = self.write("accounts", name, api, "accounts.create", "POST",
                                 f"/tenants/{tenant}/integration-accounts", body, extra={"tenant": tenant})
                if aid:
                    mine.append(aid)
            elif op < 0.75:
                aid = rng.choice(mine)
                acc = self.accounts[aid]
                name = f"{acc['name'].split(' v')[0]} v{acc['version'] + 1}"
                body = {"name": name, "enabled": rng.random() < 0.8}
                if rng.random() < 0.3:
                    body["properties"] = {"token": f"replaced-{rng.getrandbits(64):x}"}
                if not self.write("accounts", aid, api, "accounts.update", "PUT",
                                  f"/tenants/{tenant}/integration-accounts/{aid}", body, acc["version"]):
                    mine.remove(aid)
            elif op < 0.82:
                aid = rng.choice(mine)
                acc = self.accounts[aid]
                stale = acc["version"] - 1 if acc["version"] > 1 else acc["version"] + 5
                api.call("accounts.update_stale", "PUT", f"/tenants/{tenant}/integration-accounts/{aid}",
                         {"name": f"never {aid}"}, expected=(412,), headers={"If-Match": f'"{stale}"'})
            elif op < 0.92:
                aid = rng.choice(mine)
                status, _, _ = api.call("accounts.get", "GET", f"/tenants/{tenant}/integration-accounts/{aid}")
            else:
                aid = rng.choice(mine)
                self.write("accounts", aid, api, "accounts.delete", "DELETE",
                           f"/tenants/{tenant}/integration-accounts/{aid}", version=self.accounts[aid]["version"])
                mine.remove(aid)
            self.pause(0.05)

    # -------------------------------------------------------------- viewer: reads
    def viewer_worker(self, tenant):
        api = self.api(self.s["tokens"][tenant]["tenant_viewer"])
        rng = random.Random(self.s["seed"] * 7)
        while self.running():
            op = rng.random()
            if op < 0.2:
                api.call("accounts.list", "GET", f"/tenants/{tenant}/integration-accounts")
            elif op < 0.4:
                before, pages = None, 0
                while pages < 3:
                    q = f"?limit=50&before={before}" if before else "?limit=50"
                    status, _, reply = api.call("audit.page", "GET", f"/tenants/{tenant}/audit{q}")
                    pages += 1
                    before = reply.get("next_before") if status == 200 else None
                    if not before:
                        break
            elif op < 0.5:
                with self.lock:
                    ids = [i for i, a in self.accounts.items() if a["tenant"] == tenant]
                if ids:
                    # May have been deleted meanwhile: 404 is an answer.
                    api.call("accounts.get", "GET", f"/tenants/{tenant}/integration-accounts/{rng.choice(ids)}",
                             expected=(200, 404))
            elif op < 0.6:
                api.call("feeds.health", "GET", f"/tenants/{tenant}/feeds")
                api.call("live", "GET", f"/tenants/{tenant}/live")
            elif op < 0.75:
                api.call("recordings.search", "GET", f"/tenants/{tenant}/recordings?limit=50")
            elif op < 0.9:
                with self.lock:
                    ids = [i for i, r in self.recordings.items() if r["tenant"] == tenant]
                if ids:
                    rid = rng.choice(ids)
                    size = self.recordings[rid]["size"]
                    start = rng.randrange(size)
                    api.call("recordings.playback_range", "GET", f"/tenants/{tenant}/recordings/{rid}/audio",
                             expected=(206,), headers={"Range": f"bytes={start}-{start + 4095}"})
            else:
                api.call("viewer.write_refused", "POST", f"/tenants/{tenant}/integration-accounts",
                         {"type": "messenger", "provider": "line", "name": "viewer", "properties": {"token": "t"}},
                         expected=(403,))
            self.pause(0.1)

    # -------------------------------------------------------------- service provider: tenants, tokens, keys
    def sp_worker(self):
        api = self.api(self.s["admin_token"])
        rng = random.Random(self.s["seed"] * 13)
        live_tenants, live_tokens, counter = [], [], 0
        while self.running():
            op = rng.random()
            if op < 0.2 or not live_tenants:
                counter += 1
                tid = f"churn-{self.s['run_id']}-{counter}"
                if self.write("tenants", tid, api, "tenants.create", "POST", "/tenants",
                              {"id": tid, "name": f"Churn {counter}"}):
                    live_tenants.append(tid)
            elif op < 0.35:
                tid = rng.choice(live_tenants)
                t = self.tenants[tid]
                name = f"Churn {tid} v{t['version'] + 1}"
                if not self.write("tenants", tid, api, "tenants.update", "PUT", f"/tenants/{tid}", {"name": name},
                                  t["version"]):
                    live_tenants.remove(tid)
            elif op < 0.45 and len(live_tenants) > 3:
                tid = live_tenants.pop(0)
                self.write("tenants", tid, api, "tenants.delete", "DELETE", f"/tenants/{tid}")
            elif op < 0.6:
                role = rng.choice(["tenant_admin", "tenant_viewer", "event_producer"])
                status, _, reply = api.call("tokens.create", "POST", "/tokens",
                                            {"name": f"soak {role} {counter}", "role": role, "tenant": self.s["tenants"][0]},
                                            expected=(201,))
                if status == 201:
                    with self.lock:
                        self.tokens[reply["id"]] = {"token": reply["token"], "revoked": False}
                    live_tokens.append(reply["id"])
                    Api(self.base, reply["token"], self.tally).call("tokens.whoami", "GET", "/whoami")
            elif op < 0.7 and len(live_tokens) > 5:
                kid = live_tokens.pop(0)
                status, _, _ = api.call("tokens.revoke", "DELETE", f"/tokens/{kid}", expected=(204,))
                if status == 204:
                    with self.lock:
                        self.tokens[kid]["revoked"] = True
                    Api(self.base, self.tokens[kid]["token"], self.tally).call(
                        "tokens.revoked_refused", "GET", "/whoami", expected=(401,))
                elif status is None:
                    self.uncertain["tokens"].add(kid)
            elif op < 0.8:
                api.call("tokens.list", "GET", "/tokens")
            elif op < 0.9:
                api.call("keys.status", "GET", "/keys")
            else:
                api.call("tenants.list", "GET", "/tenants")
            self.pause(0.2)

    # -------------------------------------------------------------- event producer: recordings
    def recordings_worker(self, tenant):
        api = self.api(self.s["tokens"][tenant]["event_producer"])
        rng = random.Random(self.s["seed"] * 17)
        counter, big_every = 0, 150
        while self.running():
            counter += 1
            rid = f"soak-{self.s['run_id']}-{counter}"
            service = rng.choice(SERVICES)
            meta = {"global_interaction_id": f"gi-{counter}", "call_started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "agent_login": f"agent-{rng.randrange(100):05}", "direction": rng.choice(["inbound", "outbound"]),
                    "service": service, "customer_phone": f"+4930{rng.randrange(10**7):07}"}
            status, _, _ = api.call("recordings.metadata", "PUT", f"/tenants/{tenant}/recordings/{rid}", meta,
                                    expected=(201,))
            if status != 201:
                if status is None:
                    self.uncertain["recordings"].add(rid)
                self.pause(1)
                continue
            # Mostly small calls; every big_every-th one crosses the 8 MiB multipart boundary.
            size = 9 * 1024 * 1024 + 17 if counter % big_every == 0 else rng.randrange(8_000, 400_000)
            audio = rng.randbytes(size)
            sha = hashlib.sha256(audio).hexdigest()
            status, _, reply = api.call("recordings.audio", "PUT", f"/tenants/{tenant}/recordings/{rid}/audio",
                                        raw=audio, content_type="audio/wav", expected=(201,))
            if status == 201:
                told = reply.get("audio", {}).get("sha256") if isinstance(reply, dict) else None
                if told != sha:
                    self.tally.count("recordings.audio", "sha256 mismatch", f"{rid}: server says {told}, sent {sha}")
                with self.lock:
                    self.recordings[rid] = {"tenant": tenant, "sha256": sha, "size": size, "service": service}
            elif status is None:
                self.uncertain["recordings"].add(rid)
            self.pause(1.5)

    # -------------------------------------------------------------- tenant admin: export runs
    def export_worker(self, tenant, job):
        api = self.api(self.s["tokens"][tenant]["tenant_admin"])
        while self.running():
            self.pause(150)
            if not self.running():
                return
            status, _, _ = api.call("export.run_now", "POST", f"/tenants/{tenant}/recording-export-jobs/{job}/run",
                                    expected=(202, 409))
            if status == 202:
                self.export_runs_started += 1
            api.call("export.runs", "GET", f"/tenants/{tenant}/recording-export-jobs/{job}/runs?limit=20")

    # -------------------------------------------------------------- event intake through `patchbay simulate`
    def events_worker(self, tenant, n):
        env = dict(os.environ, PATCHBAY_SERVER=self.base, PATCHBAY_TOKEN=self.s["tokens"][tenant]["event_producer"])
        seed = n * 1000
        while self.running():
            seed += 1
            # One minute of churn at a modest rate; each run starts with logins again.
            cmd = [self.s["patchbay"], "simulate", "--json", "--tenant", tenant, "--agents", "200", "--events",
                   str(self.s["event_rate"] * 60), "--rate", str(self.s["event_rate"]), "--batch", "200",
                   "--concurrency", "2", "--seed", str(seed)]
            p = subprocess.run(cmd, env=env, capture_output=True, text=True)
            with self.lock:
                self.events["runs"] += 1
                try:
                    summary = json.loads(p.stdout.strip().splitlines()[-1])
                    self.events["sent"] += summary["events"]
                    self.events["accepted"] += summary["accepted"]
                    self.events["rejected"] += summary["rejected"]
                except (ValueError, IndexError, KeyError):
                    summary = None
                if p.returncode != 0 or summary is None:
                    self.events["failed_runs"] += 1
                    self.events["errors"].append(f"exit {p.returncode}: {p.stderr.strip()[-300:]}")

    # -------------------------------------------------------------- master key rotation through the CLI
    def rotate_worker(self):
        env = dict(os.environ, PATCHBAY_SERVER=self.base, PATCHBAY_TOKEN=self.s["admin_token"])
        while self.running():
            self.pause(self.s["rotate_minutes"] * 60)
            if not self.running():
                return
            p = subprocess.run([self.s["patchbay"], "keys", "rotate", "--retire-old"], env=env, capture_output=True,
                               text=True)
            with self.lock:
                if p.returncode == 0:
                    self.rotations["ok"] += 1
                else:
                    self.rotations["failed"] += 1
                    self.rotations["errors"].append(f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[-300:]}")

    # -------------------------------------------------------------- samples
    def sample(self, writer, started):
        pid = self.s["pid"]
        status = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                status[key] = value.split()
        row = {"minute": round((time.time() - started) / 60, 2), "rss_kib": int(status["VmRSS"][0]),
               "fds": len(os.listdir(f"/proc/{pid}/fd")), "threads": int(status["Threads"][0])}
        try:
            sums = metric_sums(metrics_text(self.base))
        except OSError:
            sums = {}
        for col in METRIC_COLUMNS:
            # A family with no series (no feed connected, no run finished yet) is 0.
            row[col] = int(sums.get(col, 0)) if sums else ""
        writer.writerow(row)

    def sampler(self, path, started):
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, ["minute", "rss_kib", "fds", "threads"] + METRIC_COLUMNS)
            writer.writeheader()
            while True:
                self.sample(writer, started)
                f.flush()
                left = self.deadline - time.time()
                if left <= 0:
                    return
                time.sleep(min(self.s["sample_seconds"], left))

    def save(self):
        acked = {"accounts": self.accounts, "tenants": self.tenants, "tokens": self.tokens, "recordings": self.recordings,
                 "uncertain": {k: sorted(v) for k, v in self.uncertain.items()}, "events": self.events,
                 "rotations": self.rotations, "export_runs_started": self.export_runs_started,
                 "requests": self.tally.by_kind, "findings": self.tally.findings}
        with open(os.path.join(self.work, "acked.json"), "w") as f:
            json.dump(acked, f)


def setup(args):
    tally = Tally()
    admin = Api(args.base, args.admin_token, tally)
    run_id = f"{int(time.time()):x}"
    a, b, c = (f"soak-{x}-{run_id}" for x in "abc")
    tokens = {}

    def must(kind, method, path, body, expected=(201,), token=None):
        status, _, reply = (Api(args.base, token, tally) if token else admin).call(kind, method, path, body,
                                                                                   expected=expected)
        if status not in expected:
            sys.exit(f"setup: {method} {path} answered {status}: {reply}")
        return reply

    for t, types in ((a, ["aws", "nice"]), (b, []), (c, [])):
        must("setup", "POST", "/tenants", {"id": t, "name": f"Soak {t}", "enabled_types": types})
        tokens[t] = {role: must("setup", "POST", "/tokens", {"name": f"soak {role}", "role": role, "tenant": t})["token"]
                     for role in ("tenant_admin", "tenant_viewer", "event_producer")}
    http = f"http://127.0.0.1:{args.http_port}"
    feeds = {
        a: [{"type": "wfm", "provider": "aspect_tcp", "name": "Aspect RTA",
             "properties": {"host_name": "127.0.0.1", "port": args.aspect_port, "periodic_update_interval": 2,
                            "reason_codes_mapping": {"Lunch": 7, "Break": 8}}},
            {"type": "statistics_receiver", "name": "Statistics",
             "properties": {"host_name": "127.0.0.1", "port": args.stats_port}},
            {"type": "nice", "name": "NICE", "properties": {"url": f"{http}/nice", "username": "soak", "password": "soak-pw",
                                                           "keep_alive_update_interval": 10}}],
        b: [{"type": "wfm", "provider": "http_post", "name": "WFM HTTP",
             "properties": {"url": f"{http}/wfm", "token": "soak-wfm-token", "periodic_update_interval": 2}},
            {"type": "statistics_receiver", "name": "Statistics",
             "properties": {"host_name": "127.0.0.1", "port": args.stats_port}}],
        c: [{"type": "loxysoft", "name": "Loxysoft",
             "properties": {"url": f"{http}/loxysoft", "token": "soak-lx-token", "periodic_update_interval": 2}}],
    }
    for t, accounts in feeds.items():
        for body in accounts:
            must("setup", "POST", f"/tenants/{t}/integration-accounts", body, token=tokens[t]["tenant_admin"])
    aws = must("setup", "POST", f"/tenants/{a}/integration-accounts",
               {"type": "aws", "name": "Recordings", "properties": {
                   "use_private_s3_storage": True, "url": args.s3_url, "access_key_id": args.s3_key,
                   "secret_key": args.s3_secret, "s3_bucket": args.bucket}}, token=tokens[a]["tenant_admin"])
    job = must("setup", "POST", f"/tenants/{a}/recording-export-jobs",
               {"name": "Soak", "account_id": aws["id"], "services": SERVICES, "key_prefix": "soak/",
                "interval_seconds": 60, "concurrency": 4}, token=tokens[a]["tenant_admin"])
    write_settings(args.work, {
        "base": args.base, "admin_token": args.admin_token, "pid": args.pid, "patchbay": args.patchbay,
        "backend": args.backend, "minutes": args.minutes, "seed": args.seed, "run_id": run_id,
        "tenants": [a, b, c], "tokens": tokens, "job": job["id"], "s3_dir": args.s3_dir, "bucket": args.bucket,
    })


def load(args):
    settings = read_settings(args.work)
    started = time.time()
    settings.update(sample_seconds=args.sample_seconds, rotate_minutes=args.rotate_minutes, event_rate=args.event_rate,
                    started=started)
    write_settings(args.work, settings)
    run = Load(args.work, settings, started + args.minutes * 60)
    a, b, c = settings["tenants"]
    workers = [
        (run.accounts_worker, (a, 1)), (run.accounts_worker, (b, 2)), (run.accounts_worker, (c, 3)),
        (run.viewer_worker, (a,)), (run.viewer_worker, (b,)), (run.sp_worker, ()),
        (run.recordings_worker, (a,)), (run.export_worker, (a, settings["job"])),
        (run.events_worker, (a, 1)), (run.events_worker, (b, 2)), (run.events_worker, (c, 3)),
        (run.rotate_worker, ()),
    ]
    threads = [threading.Thread(target=fn, args=fa, daemon=True) for fn, fa in workers]
    for t in threads:
        t.start()
    run.sampler(os.path.join(args.work, "samples.csv"), started)
    for t in threads:
        t.join()
    run.save()
    # The counters of this process life, before soak.sh restarts it.
    with open(os.path.join(args.work, "metrics-before-restart.txt"), "w") as f:
        f.write(metrics_text(settings["base"]))


# ------------------------------------------------------------------ verify and report

def read_settings(work):
    with open(os.path.join(work, "settings.json")) as f:
        return json.load(f)


def write_settings(work, settings):
    with open(os.path.join(work, "settings.json"), "w") as f:
        json.dump(settings, f)


def slope_per_hour(xs_minutes, ys):
    n = len(xs_minutes)
    if n < 2:
        return None
    mx, my = sum(xs_minutes) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs_minutes)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs_minutes, ys)) / sxx * 60, my


def final_export(api, tenant, job, timeout_s):
    """Run the job once more with the S3 server up (after any resumed run) and wait for it."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        status, _, run = api.call("export.final_run", "POST", f"/tenants/{tenant}/recording-export-jobs/{job}/run",
                                  expected=(202, 409))
        if status == 202:
            while time.time() < deadline:
                status, _, view = api.call("export.final_run", "GET",
                                           f"/tenants/{tenant}/recording-export-jobs/{job}/runs/{run['id']}")
                if status == 200 and view["state"] != "running":
                    return view
                time.sleep(1)
        time.sleep(2)
    return None


def csv_rows(api, tenant, job, run_id):
    status, _, body = api.call("export.metadata_csv", "GET",
                               f"/tenants/{tenant}/recording-export-jobs/{job}/runs/{run_id}/metadata.csv",
                               expected=(200, 404))
    if status != 200:
        return []
    text = body.decode() if isinstance(body, bytes) else str(body)
    return list(csv.DictReader(io.StringIO(text)))


def verify(args):
    s = read_settings(args.work)
    with open(os.path.join(args.work, "acked.json")) as f:
        acked = json.load(f)
    tally = Tally()
    admin = Api(s["base"], s["admin_token"], tally)
    tenant, job = s["tenants"][0], s["job"]
    lost = []

    final = final_export(Api(s["base"], s["tokens"][tenant]["tenant_admin"], tally), tenant, job, args.export_timeout)

    for aid, acc in acked["accounts"].items():
        if aid in acked["uncertain"]["accounts"]:
            continue
        status, _, view = admin.call("verify.accounts", "GET", f"/tenants/{acc['tenant']}/integration-accounts/{aid}",
                                     expected=(200, 404))
        if acc["deleted"]:
            if status != 404:
                lost.append(f"account {aid}: deleted (204) but answers {status}")
        elif status != 200:
            lost.append(f"account {aid} of {acc['tenant']}: acknowledged at version {acc['version']}, answers {status}")
        elif view["version"] != acc["version"] or view["name"] != acc["name"]:
            lost.append(f"account {aid}: acknowledged version {acc['version']} '{acc['name']}', "
                        f"found version {view['version']} '{view['name']}'")
    for tid, t in acked["tenants"].items():
        if tid in acked["uncertain"]["tenants"]:
            continue
        status, _, view = admin.call("verify.tenants", "GET", f"/tenants/{tid}", expected=(200, 404))
        if t["deleted"] and status != 404:
            lost.append(f"tenant {tid}: deleted (204) but answers {status}")
        elif not t["deleted"] and (status != 200 or view["version"] != t["version"] or view["name"] != t["name"]):
            lost.append(f"tenant {tid}: acknowledged version {t['version']}, answers {status} "
                        f"{view.get('version') if isinstance(view, dict) else ''}")
    for kid, k in acked["tokens"].items():
        if kid in acked["uncertain"]["tokens"]:
            continue
        status, _, _ = Api(s["base"], k["token"], tally).call("verify.tokens", "GET", "/whoami", expected=(200, 401))
        if status != (401 if k["revoked"] else 200):
            lost.append(f"token {kid}: {'revoked' if k['revoked'] else 'created'} (acknowledged), whoami answers {status}")

    # Recordings: same sha256 after the restart, one object each in the bucket, exported once.
    bucket_dir = os.path.join(s["s3_dir"], s["bucket"])
    objects = {}
    for path in glob.glob(os.path.join(bucket_dir, "**", "*"), recursive=True):
        m = re.search(r"_([A-Za-z0-9-]+)\.[a-z0-9]+$", os.path.basename(path))
        if os.path.isfile(path) and m and not os.path.basename(path).startswith("patchbay-export_"):
            objects.setdefault(m.group(1), []).append(path)
    status, _, runs = admin.call("verify.runs", "GET", f"/tenants/{tenant}/recording-export-jobs/{job}/runs?limit=200")
    runs = runs["items"] if status == 200 else []
    rows = {r["id"]: csv_rows(admin, tenant, job, r["id"]) for r in runs}
    successes = {}
    for r in runs:
        inherited = {row["recording_id"] for row in rows.get(r["resumed_from"] or "", []) if row["status"] == "success"}
        for row in rows[r["id"]]:
            if row["status"] == "success" and row["recording_id"] not in inherited:
                successes[row["recording_id"]] = successes.get(row["recording_id"], 0) + 1
    not_exported = []
    for rid, rec in acked["recordings"].items():
        if rid in acked["recordings"] and rid in acked["uncertain"]["recordings"]:
            continue
        status, _, view = admin.call("verify.recordings", "GET", f"/tenants/{rec['tenant']}/recordings/{rid}")
        if status != 200:
            lost.append(f"recording {rid}: audio acknowledged (sha256 {rec['sha256'][:12]}…), answers {status}")
            continue
        if view["audio"]["sha256"] != rec["sha256"]:
            lost.append(f"recording {rid}: acknowledged sha256 {rec['sha256']}, found {view['audio']['sha256']}")
        found = objects.get(rid, [])
        if len(found) != 1:
            (lost if len(found) > 1 else not_exported).append(
                f"recording {rid}: {len(found)} objects in the bucket {[os.path.relpath(p, bucket_dir) for p in found]}")
        else:
            with open(found[0], "rb") as f:
                got = hashlib.sha256(f.read()).hexdigest()
            if got != rec["sha256"]:
                lost.append(f"recording {rid}: the bucket's object has sha256 {got}, acknowledged {rec['sha256']}")
        if successes.get(rid, 0) > 1:
            lost.append(f"recording {rid}: exported {successes[rid]} times (metadata files of the job's runs)")
    if final is None or final["state"] != "succeeded":
        not_exported.insert(0, f"the final export run did not succeed: {final}")

    status, _, keys = admin.call("verify.keys", "GET", "/keys")
    keys_ok = status == 200 and all(k["in_ring"] for k in keys["keys"])
    after = metric_sums(metrics_text(s["base"]))
    with open(os.path.join(args.work, "metrics-before-restart.txt")) as f:
        before = metric_sums(f.read())

    report(s, args.work, acked, tally, lost, not_exported, final, keys if keys_ok else keys, keys_ok, before, after,
           len(runs))
    fivexx = status_5xx(before) or status_5xx(after) or any(
        "5xx" in kinds for t in (acked["requests"], tally.by_kind) for kinds in t.values())
    return 1 if lost or not_exported or fivexx or not keys_ok else 0


def report(s, work, acked, tally, lost, not_exported, final, keys, keys_ok, before, after, n_runs):
    out = []
    p = out.append
    with open(os.path.join(work, "samples.csv")) as f:
        samples = list(csv.DictReader(f))
    p(f"\n== soak: {s['minutes']} min on {s['backend']}, {os.cpu_count()} cores, samples every {s['sample_seconds']} s "
      f"({os.path.join(work, 'samples.csv')})")
    cols = [("minute", "min"), ("rss_kib", "RSS KiB"), ("fds", "fds"), ("threads", "threads"),
            ("patchbay_runtime_tasks_alive", "tasks"), ("patchbay_http_connections_open", "conns"),
            ("patchbay_http_requests_total", "requests"), ("patchbay_events_total", "events"),
            ("patchbay_feeds_connected", "feeds up"), ("patchbay_recording_export_runs_total", "runs"),
            ("patchbay_recording_export_files_total{outcome=success}", "exported"),
            ("patchbay_recording_export_files_total{outcome=failed}", "export fails")]
    p(" ".join(f"{h:>12}" for _, h in cols))
    for row in samples:
        p(" ".join(f"{row[c]:>12}" for c, _ in cols))
    for title, rows in (("all samples", samples), ("the second half (after warm-up)", samples[len(samples) // 2:])):
        p(f"\nslope per hour, least squares over {title} (goal: flat)")
        for col, label in (("rss_kib", "RSS KiB"), ("fds", "open fds"), ("threads", "threads"),
                           ("patchbay_runtime_tasks_alive", "tokio tasks")):
            points = [(float(r["minute"]), float(r[col])) for r in rows if r[col] != ""]
            fit = slope_per_hour(*zip(*points)) if len(points) == len(rows) > 1 else None
            if fit is None:
                p(f"  {label:12} n/a")
            else:
                slope, mean = fit
                p(f"  {label:12} {slope:+12.1f} /h   {slope / mean * 100 if mean else 0:+8.2f} % of the mean "
                  f"({mean:.1f})")
    p("\nrequests by kind (load generator; 'limit' = 429/503 with Retry-After)")
    merged = {}
    for source in (acked["requests"], tally.by_kind):
        for kind, outcomes in source.items():
            for o, n in outcomes.items():
                merged.setdefault(kind, {})[o] = merged.setdefault(kind, {}).get(o, 0) + n
    total = {}
    for kind in sorted(merged):
        p(f"  {kind:28} " + ", ".join(f"{o}: {n}" for o, n in sorted(merged[kind].items())))
        for o, n in merged[kind].items():
            total[o] = total.get(o, 0) + n
    p("  " + "-" * 40)
    p("  all: " + ", ".join(f"{o}: {n}" for o, n in sorted(total.items())))
    p("server side (/metrics), before the restart: "
      f"{int(before.get('patchbay_http_requests_total', 0))} requests, 5xx by status: {status_5xx(before) or 'none'}, "
      f"429: {int(before.get('patchbay_http_requests_total{status=429}', 0))}, "
      f"503: {int(before.get('patchbay_http_requests_total{status=503}', 0))}, "
      f"connections refused by a limit: {int(before.get('patchbay_http_connections_refused_total', 0))}")
    p(f"  after the restart: {int(after.get('patchbay_http_requests_total', 0))} requests, "
      f"5xx: {status_5xx(after) or 'none'}")
    ev = acked["events"]
    p(f"events (patchbay simulate): {ev['runs']} runs ({ev['failed_runs']} failed), {ev['sent']} sent, "
      f"{ev['accepted']} accepted, {ev['rejected']} rejected; the server counted "
      f"{int(before.get('patchbay_events_total{outcome=accepted}', 0))} accepted")
    for e in ev["errors"][:5]:
        p(f"  simulate: {e}")
    rot = acked["rotations"]
    p(f"key rotations (patchbay keys rotate --retire-old): {rot['ok']} ok, {rot['failed']} failed; after the restart "
      f"{'every key in the ring' if keys_ok else 'KEYS NOT IN THE RING'}: {keys}")
    for e in rot["errors"][:5]:
        p(f"  rotate: {e}")
    flaps = {}
    for path in (os.path.join(work, "flaps.log"),):
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3 and parts[2] == "down":
                        flaps[parts[1]] = flaps.get(parts[1], 0) + 1
    received = {"aspect_bytes": 0, "stats_lines": 0, "aspect_connections": 0, "stats_connections": 0, "http_posts": 0}
    for path in glob.glob(os.path.join(work, "receivers-*.json")):
        with open(path) as f:
            r = json.load(f)
        for k in received:
            received[k] += sum(r[k].values()) if isinstance(r[k], dict) else r[k]
    p(f"flaps: {flaps or 'none'}; receivers got {received['aspect_bytes'] // ASPECT_RECORD_BYTES} Aspect records over "
      f"{received['aspect_connections']} connections, {received['stats_lines']} statistics lines over "
      f"{received['stats_connections']}, {received['http_posts']} HTTP posts")
    p(f"export: {acked['export_runs_started']} manual runs started during the load, {n_runs} runs in all; "
      f"final run after the restart: {final and {k: final[k] for k in ('state', 'total', 'exported', 'failed', 'error')}}")
    p(f"\nacknowledged writes checked after the restart: {sum(not a['deleted'] for a in acked['accounts'].values())} "
      f"accounts (+{sum(a['deleted'] for a in acked['accounts'].values())} deleted), "
      f"{len(acked['tenants'])} tenants, {len(acked['tokens'])} tokens, {len(acked['recordings'])} recordings "
      f"(uncertain, skipped: {sum(len(v) for v in acked['uncertain'].values())})")
    p(f"lost or changed writes: {len(lost)}")
    for line in lost[:50]:
        p(f"  LOST {line}")
    if not_exported:
        p(f"recordings not in the bucket after the final run: {len(not_exported)}")
        for line in not_exported[:20]:
            p(f"  {line}")
    findings = acked["findings"] + tally.findings
    if findings:
        p(f"\n5xx and unexpected answers ({len(findings)}, first 30):")
        for line in findings[:30]:
            p(f"  {line}")
    print("\n".join(out))
    with open(os.path.join(work, "report.txt"), "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("receivers")
    r.add_argument("--aspect", type=int, required=True)
    r.add_argument("--stats", type=int, required=True)
    r.add_argument("--http", type=int, required=True)
    r.add_argument("--out", required=True)
    su = sub.add_parser("setup")
    su.add_argument("--work", required=True)
    for flag in ("base", "admin-token", "patchbay", "backend", "s3-url", "s3-key", "s3-secret", "s3-dir", "bucket"):
        su.add_argument(f"--{flag}", required=True)
    for flag in ("pid", "aspect-port", "stats-port", "http-port"):
        su.add_argument(f"--{flag}", type=int, required=True)
    su.add_argument("--minutes", type=float, required=True)
    su.add_argument("--seed", type=int, default=1)
    ld = sub.add_parser("load")
    ld.add_argument("--work", required=True)
    ld.add_argument("--minutes", type=float, required=True)
    ld.add_argument("--sample-seconds", type=float, default=60)
    ld.add_argument("--rotate-minutes", type=float, default=3)
    ld.add_argument("--event-rate", type=int, default=50, help="events per second per tenant")
    v = sub.add_parser("verify")
    v.add_argument("--work", required=True)
    v.add_argument("--export-timeout", type=float, default=600)
    args = parser.parse_args()
    if args.cmd == "receivers":
        receivers(args)
    elif args.cmd == "setup":
        setup(args)
    elif args.cmd == "load":
        load(args)
    else:
        sys.exit(verify(args))


if __name__ == "__main__":
    main()
