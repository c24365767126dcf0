"""Soak test of `sketchkeras serve`: 64 clients on loopback with stalled connections held open at the same time.

Starts the server (bundled QD-35 model, warmed up) in a child process on a free port of 127.0.0.1, then for
`--seconds` (or until `--requests` answers) runs `--clients` keep-alive clients posting real raw drawings while
`--stalled` sockets send half a request's headers and are reopened whenever the server closes them.
Prints req/s, p50/p99 latency, errors (non-200 answers and failed connections) and the server's RSS growth.

    python benchmarks/serve_soak.py --seconds 30
"""

import argparse
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

QUICKDRAW = Path(__file__).resolve().parents[1].parent / "shared" / "quickdraw" / "raw"
SERVER = """
import socket, sys
from sketchkeras import SketchClassifier, bundled_model_dir
from sketchkeras.serve import create_app, server, warm_up
model = SketchClassifier.from_pretrained(bundled_model_dir())
warm_up(model)
sock = socket.socket(); sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
server(create_app(model), log_level="warning").run(sockets=[sock])
"""


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--stalled", type=int, default=32)
    parser.add_argument("--data", type=Path, default=QUICKDRAW)
    args = parser.parse_args()
    drawings = [
        json.loads(line)["drawing"]
        for path in sorted(args.data.glob("*.ndjson"))
        for line in path.read_text().splitlines()[:20]
    ]
    bodies = [json.dumps({"drawing": d}).encode() for d in drawings]

    child = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(child.stdout.readline())
        rss_start = rss_mib(child.pid)
        latencies, errors, lock = [], [], threading.Lock()
        stop = time.monotonic() + args.seconds

        def client(index):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            i = index
            while time.monotonic() < stop and len(latencies) < args.requests:
                start = time.monotonic()
                try:
                    conn.request("POST", "/api/predict", bodies[i % len(bodies)], {"Content-Type": "application/json"})
                    answer = conn.getresponse()
                    answer.read()
                    status = answer.status
                except OSError as error:
                    status = type(error).__name__
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                with lock:
                    latencies.append(time.monotonic() - start) if status == 200 else errors.append(status)
                i += args.clients
            conn.close()

        def staller():
            while time.monotonic() < stop:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=args.seconds) as sock:
                        sock.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                        sock.recv(1)  # returns when the server closes it
                except OSError:
                    time.sleep(0.1)

        threads = [threading.Thread(target=staller, daemon=True) for _ in range(args.stalled)]
        threads += [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads[args.stalled :]:
            thread.join()
        elapsed = time.monotonic() - began
        latencies.sort()

        def p(q):
            return 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

        print(
            f"{args.clients} clients, {args.stalled} stalled connections, {elapsed:.1f} s: "
            f"{len(latencies) / elapsed:.0f} req/s, p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms, "
            f"errors {len(errors)} {sorted(set(map(str, errors)))}, "
            f"RSS {rss_start:.0f} -> {rss_mib(child.pid):.0f} MiB ({rss_mib(child.pid) - rss_start:+.0f} MiB)"
        )
    finally:
        child.terminate()
        child.wait(10)


if __name__ == "__main__":
    main()
