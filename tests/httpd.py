#!/usr/bin/env python3
"""httpd.py - the test suite's own scripted HTTP(S) server (a real server,
not a mock): tests start it on 127.0.0.1 with a free port and read what it
was asked.

    httpd.py --config FILE --log FILE --port-file FILE [--port N] [--cert PEM --key PEM]

FILE (--config) is JSON: {"/path": [RESPONSE, ...], ...}. Each request to a
path takes the next RESPONSE of its list; the last one repeats. A key may
include the query ("/q?x=1"), which is tried first. Paths not configured
answer 404. The file is read again whenever it changes (write a new one and
rename it into place), and then every path starts its list from the top.

RESPONSE fields (all optional):
  status   int (default 200)
  body     text (default "")
  headers  {name: value}
  delay    seconds to wait before answering
  mode     "drip": announce 100 bytes, then send one byte a second
           "hang": accept the request and never answer
           "big":  a body of `size` bytes (default 5 MiB), streamed
           "redirect": 302 to `location`
  prom     a Prometheus instant-query answer: a number (one sample), null
           (empty result) or "error" (an error payload)
  switch   PATH: answer by the body last sent to PATH: `cases` maps that body
           to a RESPONSE, `default` is the RESPONSE otherwise (so a metric
           can follow a setting, as a real system would)

Every request is appended to --log as one JSON line: time, peer (the
client's port: the same port means the same kept-alive connection),
method, path (with query), headers, body.
"""
import argparse
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Script:
    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.routes = {}
        self.counts = {}
        self.bodies = {}
        self.lock = threading.Lock()

    def remember(self, path, body):
        with self.lock:
            self.bodies[path] = body

    def pick(self, r):
        with self.lock:
            last = self.bodies.get(r["switch"])
        return r.get("cases", {}).get(last, r.get("default", {"status": 404}))

    def next(self, full, bare):
        with self.lock:
            try:
                st = os.stat(self.path)
                stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
            except OSError:
                stamp = None
            if stamp != self.mtime:
                self.mtime = stamp
                try:
                    with open(self.path) as f:
                        self.routes = json.load(f)
                except (OSError, ValueError):
                    self.routes = {}
                self.counts = {}
            key = full if full in self.routes else bare
            seq = self.routes.get(key)
            if not seq:
                return {"status": 404, "body": "not configured\n"}
            n = self.counts.get(key, 0)
            self.counts[key] = n + 1
            return seq[min(n, len(seq) - 1)]


def prom_body(v):
    if v == "error":
        return json.dumps({"status": "error", "errorType": "bad_data",
                           "error": "parse error at char 1"})
    result = []
    if v is not None:
        result = [{"metric": {}, "value": [time.time(), str(v)]}]
    return json.dumps({"status": "success",
                       "data": {"resultType": "vector", "result": result}})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "httpd.py"

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # headers and body leave in separate writes: do not wait for delayed ACKs
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def record(self, body):
        entry = {"time": time.time(), "peer": self.client_address[1],
                 "method": self.command, "path": self.path,
                 "headers": {k: v for k, v in self.headers.items()},
                 "body": body.decode("utf-8", "replace")}
        with self.server.log_lock:
            with open(self.server.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        self.record(body)
        bare = self.path.split("?", 1)[0]
        if body:
            self.server.script.remember(bare, body.decode("utf-8", "replace"))
        r = self.server.script.next(self.path, bare)
        if "switch" in r:
            r = self.server.script.pick(r)
        if r.get("delay"):
            time.sleep(float(r["delay"]))
        mode = r.get("mode")
        if mode == "hang":
            while True:
                time.sleep(3600)
        if mode == "drip":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(1)
            return
        status = int(r.get("status", 200))
        headers = dict(r.get("headers", {}))
        if mode == "redirect":
            status = int(r.get("status", 302))
            headers["Location"] = r["location"]
        if mode == "big":
            size = int(r.get("size", 5 * 1024 * 1024))
            self.send_response(status)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"y" * 65536
            left = size
            while left > 0:
                n = min(left, len(chunk))
                self.wfile.write(chunk[:n])
                left -= n
            return
        if "prom" in r:
            data = prom_body(r["prom"]).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            data = str(r.get("body", "")).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client that gave up (timeout, cancel, SIGKILL) is part of the tests
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0, help="listen on this port (default: a free one)")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()

    srv = Server(("127.0.0.1", a.port), Handler)
    srv.script = Script(a.config)
    srv.log_path = a.log
    srv.log_lock = threading.Lock()
    open(a.log, "a").close()
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
