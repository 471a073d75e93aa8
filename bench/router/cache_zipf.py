#!/usr/bin/env python3
"""Front-end cache hit ratio on a skewed workload, on loopback only.

Starts a cacheable backend (every answer `Cache-Control: public, max-age=600`,
a ~1 KB body), a stand-in for the API's route-table endpoint and the release
router, then sends REQUESTS GETs over CONNS keep-alive connections whose URLs
follow a Zipf law (exponent ZIPF_S over URLS distinct paths, seeded), and reads
the hit ratio from the router's Prometheus /metrics. Runs twice: with the
default per-app quota (everything fits), then with CACHE_APP_BYTES small
enough that LRU eviction matters.

Usage: bench/router/cache_zipf.py   (builds the router with cargo; stops by itself)
Knobs (environment): REQUESTS (50000), URLS (10000), ZIPF_S (1.0), CONNS (32),
SMALL_APP_BYTES (2000000), SEED (13).
"""

import asyncio
import bisect
import itertools
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REQUESTS = int(os.environ.get("REQUESTS", 50_000))
URLS = int(os.environ.get("URLS", 10_000))
ZIPF_S = float(os.environ.get("ZIPF_S", 1.0))
CONNS = int(os.environ.get("CONNS", 32))
SMALL_APP_BYTES = int(os.environ.get("SMALL_APP_BYTES", 2_000_000))
SEED = int(os.environ.get("SEED", 13))
HOST = "zipf.bench"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Backend(BaseHTTPRequestHandler):
    """Cacheable pages; counts what reaches it."""

    protocol_version = "HTTP/1.1"
    seen = itertools.count()
    body = b"x" * 1000

    def do_GET(self):
        next(Backend.seen)
        body = self.path.encode() + b"\n" + Backend.body
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Cache-Control", "public, max-age=600")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def table_api(backend_port):
    table = {
        "version": 1,
        "apps": [{
            "name": "zipf", "hostnames": [HOST], "release": 1,
            "backends": [{"instance_id": "00000000-0000-0000-0000-000000000001",
                          "address": f"127.0.0.1:{backend_port}"}],
        }],
    }
    text = json.dumps(table).encode()

    class Api(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if "after=1" in self.path:
                time.sleep(5)  # unchanged: hold the long poll a while, as the API does
            self.send_response(200)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):
            pass

    return Api


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a router stopping mid long-poll closes its connection: expected


def serve(handler):
    server = QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def zipf_paths(rng):
    weights = [1.0 / (rank ** ZIPF_S) for rank in range(1, URLS + 1)]
    cdf = list(itertools.accumulate(weights))
    total = cdf[-1]
    return [f"/page/{bisect.bisect_left(cdf, rng.random() * total)}" for _ in range(REQUESTS)]


async def client(port, paths, errors):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for path in paths:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAccept-Encoding: gzip\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
        await reader.readexactly(length)
        if status != 200:
            errors.append(status)
    writer.close()


async def drive(port, paths):
    errors = []
    chunks = [paths[i::CONNS] for i in range(CONNS)]
    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(client(port, c, errors) for c in chunks)), timeout=600)
    return time.monotonic() - started, errors


def metric(text, result):
    match = re.search(rf'paas_router_cache_requests_total{{app="zipf",result="{result}"}} (\d+)', text)
    return int(match.group(1)) if match else 0


def run_once(router_bin, api_port, app_bytes):
    port, admin = free_port(), free_port()
    state = tempfile.mkdtemp(prefix="paas-cache-zipf.")
    args = [router_bin, "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin}",
            "--state-dir", state, "--api-url", f"http://127.0.0.1:{api_port}", "--router-token", "bench",
            "--access-log", "false", "--workers", "2"]
    if app_bytes:
        args += ["--cache-app-bytes", str(app_bytes)]
    router = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # bounded: 10 s for the first table
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin}/healthz", timeout=1) as r:
                    if json.load(r)["table_version"] == 1:
                        break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            sys.exit("router never loaded the route table")
        before = next(Backend.seen)
        paths = zipf_paths(random.Random(SEED))
        took, errors = asyncio.run(drive(port, paths))
        backend = next(Backend.seen) - before - 1
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5) as r:
            text = r.read().decode()
        hit, miss, stale = (metric(text, k) for k in ("hit", "miss", "stale"))
        stored = re.search(r'paas_router_cache_bytes{app="zipf"} (\d+)', text)
        evicted = re.search(r'paas_router_cache_evictions_total{app="zipf"} (\d+)', text)
        ratio = (hit + stale) / max(hit + miss + stale, 1)
        quota = f"{app_bytes} B" if app_bytes else "default (32 MiB)"
        print(f"app quota {quota}: {REQUESTS} requests, {len(set(paths))} distinct URLs, "
              f"{took:.1f} s, {REQUESTS / took:.0f} req/s, non-200: {len(errors)}")
        print(f"  hit {hit}  miss {miss}  stale {stale}  -> hit ratio {ratio:.3f}; "
              f"backend saw {backend}; cache bytes {stored.group(1) if stored else 0}, "
              f"evictions {evicted.group(1) if evicted else 0}")
    finally:
        router.terminate()
        router.wait(timeout=30)


def main():
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "paas-router", "--bin", "paas-router"],
                   cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    router_bin = os.path.join(target, "release", "paas-router")
    backend = serve(Backend)
    api = serve(table_api(backend.server_address[1]))
    print(f"Zipf s={ZIPF_S} over {URLS} URLs, seed {SEED}, {CONNS} keep-alive connections")
    run_once(router_bin, api.server_address[1], None)
    run_once(router_bin, api.server_address[1], SMALL_APP_BYTES)


if __name__ == "__main__":
    main()
