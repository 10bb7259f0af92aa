#!/usr/bin/env python3
"""Attacks on a release server, measured: the figures of BENCHMARKS.md's "Hardening" section.

    python3 bench/attacks.py signin-memory [--clients 16] [--seconds 60] [--throttle on|off]
    python3 bench/attacks.py idle-sockets [--sockets 2000] [--idle-timeout 5s]

Each starts `target/release/breakglass serve` (or SERVER_BIN) on a free loopback port with a
fresh SQLite directory, attacks it, prints what it measured, and stops it. Python's standard
library only.

signin-memory: CLIENTS threads post wrong passwords for existing accounts to
/api/v1/auth/login as fast as the server answers, for SECONDS; the server's resident memory
(VmRSS) is sampled every 250 ms. With `--throttle off` the sign-in throttle is off, so every
attempt is hashed (the memory bound of password hashing itself); with `on` (the default
limits), most attempts are refused before hashing.

idle-sockets: opens SOCKETS connections that send nothing, then times /healthz and a check on
a fresh connection while they are held, the memory they cost, and how long until the server
has closed them all.

The server starts with the soft open-files limit of 1024 that most shells and services give
(this build raises it to the hard limit itself). `--plain` passes no hardening flags, for an
older build (SERVER_BIN=...).
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-attack-admin-token-0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def soft_nofile_1024():
    """Starts the server with the soft open-files limit most shells and services give: 1024."""
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))


class Server:
    def __init__(self, args):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="breakglass-attack-")
        binary = os.environ.get("SERVER_BIN", os.path.join(ROOT, "target/release/breakglass"))
        env = dict(os.environ, BREAKGLASS_ADMIN_TOKEN=TOKEN, BREAKGLASS_LOG="warn")
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--data-dir", self.dir, "--listen", f"127.0.0.1:{self.port}"] + args,
            env=env, stdout=self.log, stderr=self.log, preexec_fn=soft_nofile_1024)
        deadline = time.time() + 30
        while True:
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"the server did not start; see {self.dir}/server.log")
            time.sleep(0.05)

    def call(self, method, path, body=None, token=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def signin_memory(a):
    throttle = [] if a.throttle == "on" else ["--sign-in-throttle", "false"]
    server = Server([] if a.plain else throttle + ["--password-hash-threads", str(a.hash_threads)])
    try:
        users = [f"victim{n}@example.com" for n in range(a.clients)]
        for u in users:
            status, _ = server.call("POST", "/api/v1/users", {"email": u, "name": u, "password": "the right passphrase"}, TOKEN)
            assert status == 201, status
        baseline = rss_kib(server.proc.pid)
        stop = time.time() + a.seconds
        counts = {}
        lock = threading.Lock()

        def attack(user):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            n = 0
            while time.time() < stop:
                n += 1
                body = json.dumps({"email": user, "password": f"wrong guess {n}"})
                try:
                    conn.request("POST", "/api/v1/auth/login", body=body, headers={"content-type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                    status = resp.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                    status = "error"
                with lock:
                    counts[status] = counts.get(status, 0) + 1
            conn.close()

        threads = [threading.Thread(target=attack, args=(u,)) for u in users]
        for t in threads:
            t.start()
        peak, samples = baseline, []
        while any(t.is_alive() for t in threads):
            r = rss_kib(server.proc.pid)
            peak = max(peak, r)
            samples.append(r)
            time.sleep(0.25)
        for t in threads:
            t.join()
        time.sleep(1)
        after = rss_kib(server.proc.pid)
        started = time.time()
        status, _ = server.call("POST", "/api/v1/auth/login", {"email": users[-1], "password": "the right passphrase"})
        print(json.dumps({
            "attack": "signin-memory",
            "clients": a.clients,
            "seconds": a.seconds,
            "throttle": a.throttle,
            "hash_threads": a.hash_threads,
            "answers": {str(k): v for k, v in sorted(counts.items(), key=lambda kv: str(kv[0]))},
            "attempts_per_second": round(sum(counts.values()) / a.seconds, 1),
            "rss_mib_before": round(baseline / 1024, 1),
            "rss_mib_peak": round(peak / 1024, 1),
            "rss_mib_after": round(after / 1024, 1),
            "right_password_after_attack": status,
            "right_password_ms": round((time.time() - started) * 1000, 1),
        }, indent=2))
    finally:
        server.stop()


def idle_sockets(a):
    server = Server([] if a.plain else ["--idle-timeout", a.idle_timeout, "--max-connections-per-address", "0",
                                        "--max-connections", str(a.sockets + 1000)])
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        before = rss_kib(server.proc.pid)
        socks = []
        opened = time.time()
        failed_to_open = 0
        for n in range(a.sockets):
            try:
                socks.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
            except OSError:
                failed_to_open += 1
                if failed_to_open >= 10:
                    # The server takes no more: count the rest as not accepted either.
                    failed_to_open += a.sockets - n - 1
                    break
        time.sleep(0.5)
        held = rss_kib(server.proc.pid)
        def timed(*args, **kwargs):
            t0 = time.time()
            try:
                status, _ = server.call(*args, **kwargs)
            except OSError as e:
                status = f"no answer ({e.__class__.__name__})"
            return status, (time.time() - t0) * 1000
        health, health_ms = timed("GET", "/healthz", timeout=5)
        check, check_ms = timed("POST", "/api/v1/check", {"user": "admin@localhost", "workspace": "nowhere", "role": "member"}, TOKEN, timeout=5)
        # Wait until the server has closed every idle socket (at most --wait seconds in all).
        deadline = time.time() + a.wait
        closed_at = []
        for s in socks:
            s.settimeout(max(0.01, deadline - time.time()))
            try:
                while s.recv(1024):
                    pass
                closed_at.append(time.time() - opened)
            except socket.timeout:
                closed_at.append(None)
            except OSError:
                closed_at.append(time.time() - opened)
            s.close()
        time.sleep(0.5)
        after = rss_kib(server.proc.pid)
        print(json.dumps({
            "attack": "idle-sockets",
            "sockets": a.sockets,
            "sockets_not_accepted": failed_to_open,
            "idle_timeout": a.idle_timeout,
            "healthz_status": health,
            "healthz_ms_while_held": round(health_ms, 1),
            "check_status": check,
            "check_ms_while_held": round(check_ms, 1),
            "rss_mib_before": round(before / 1024, 1),
            "rss_mib_while_held": round(held / 1024, 1),
            "kib_per_idle_socket": round((held - before) / a.sockets, 1),
            "closed_by_the_server": sum(1 for c in closed_at if c is not None),
            "all_closed_after_s": round(max(c for c in closed_at if c is not None), 2) if all(closed_at) else None,
            "first_closed_after_s": round(min((c for c in closed_at if c is not None), default=0), 2),
            "rss_mib_after": round(after / 1024, 1),
        }, indent=2))
    finally:
        server.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="attack", required=True)
    m = sub.add_parser("signin-memory")
    m.add_argument("--clients", type=int, default=16)
    m.add_argument("--seconds", type=int, default=60)
    m.add_argument("--throttle", choices=["on", "off"], default="on")
    m.add_argument("--hash-threads", type=int, default=2)
    m.add_argument("--plain", action="store_true", help="pass no hardening flags (an older server)")
    i = sub.add_parser("idle-sockets")
    i.add_argument("--sockets", type=int, default=2000)
    i.add_argument("--idle-timeout", default="5s")
    i.add_argument("--wait", type=float, default=60, help="seconds to wait for the server to close them")
    i.add_argument("--plain", action="store_true", help="pass no hardening flags (an older server)")
    a = p.parse_args()
    {"signin-memory": signin_memory, "idle-sockets": idle_sockets}[a.attack](a)


if __name__ == "__main__":
    sys.exit(main())
