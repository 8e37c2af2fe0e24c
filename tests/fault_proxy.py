"""A proxy in front of a real registry that fails a seeded fraction of requests, in chosen ways.

It also records every tag written (to check what the registry showed at each moment) and can
call a hook before forwarding a request (to kill a publish at an exact point of the protocol), or
pause a publish there (`pause`: the chosen request and every one after it wait until the test releases them).
It counts what it receives (`counts()`: requests by method, blob uploads, manifest PUTs, bytes of
request bodies), which is how bench/publish.py measures a publish. Chunked request bodies (as
`docker push` sends them) are read whole and forwarded with a Content-Length, and so are chunked
responses (Go's registry chunks a long tag list); a TLS handshake is
answered as a plain-HTTP server written in Go answers it, so `docker manifest --insecure` works.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import struct
import threading
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATUS_FAULTS = ("408", "429", "429-seconds", "429-date", "500", "502", "503", "504")
ANY_FAULTS = STATUS_FAULTS + ("reset", "timeout")
ALL_FAULTS = ANY_FAULTS + ("upload-unknown-after-commit", "manifest-lag")
# Refusals: never to be retried.
REFUSALS = {"DENIED": 403, "UNAUTHORIZED": 401, "NAME_INVALID": 400, "MANIFEST_INVALID": 400, "DIGEST_INVALID": 400}
MANIFEST = re.compile(r"^/v2/(?P<repo>.+)/manifests/(?P<ref>[^/?]+)$")
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


class FaultProxy:
    poll_interval = 0.5  # seconds stop() may wait for the serving thread to notice

    def __init__(self, upstream: str, fraction: float = 0.0, kinds=ALL_FAULTS, seed: int = 1, hang: float = 3.0):
        self.upstream, self.fraction, self.kinds = upstream, fraction, tuple(kinds)
        self.rng, self.lock, self.hang = random.Random(seed), threading.Lock(), hang
        self.faults: list[tuple[str, str, str]] = []  # (fault, method, path)
        self.tag_writes: list[tuple[str, str, str]] = []  # (repository path, tag, digest), in order
        self.pushed: set[str] = set()  # manifest refs written, for read-after-write lag
        self.hook = None
        self.active = 0  # requests past the hook and not yet answered (a paused request is not one)
        self.idle = threading.Condition()
        self.mounts = True  # False: a mount request opens a plain upload session, as registries without mounts do
        self.refused_types: set[str] = set()  # manifest media types answered with 400 MANIFEST_INVALID
        self.requests: Counter = Counter()  # requests received, by method
        self.blob_uploads = 0  # PUT .../blobs/uploads/...?digest=: one per blob committed
        self.manifest_puts = 0  # PUT .../manifests/<ref>: by digest or by tag
        self.bytes_received = 0  # bytes of request bodies: blobs, chunks, manifests
        self.stopping = threading.Event()
        handler = type("Handler", (self.handler_base(),), {"proxy": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(self.poll_interval,), daemon=True).start()

    def handler_base(self) -> type:
        """The request handler class: a subclass of FaultProxy may return a subclass of _Handler."""
        return _Handler

    def quiet(self, timeout: float = 60) -> bool:
        """Wait until no request is being forwarded: what a paused publisher sent before the pause has landed."""
        with self.idle:
            return self.idle.wait_for(lambda: self.active == 0, timeout)

    def pause(self, condition) -> Pause:
        """Hold the first request `condition(method, path)` picks, and every one after it, until `release()`."""
        self.hook = Pause(condition)
        return self.hook

    def stop(self) -> None:
        if isinstance(self.hook, Pause):
            self.hook.release()
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def count(self, method: str, path: str, body: bytes) -> None:
        with self.lock:
            self.requests[method] += 1
            self.bytes_received += len(body)
            if method == "PUT" and "/blobs/uploads/" in path and "digest=" in path:
                self.blob_uploads += 1
            elif method == "PUT" and MANIFEST.match(path.split("?")[0]):
                self.manifest_puts += 1

    def counts(self) -> dict:
        """A snapshot of the counters: subtract two snapshots to measure one run."""
        with self.lock:
            return {"requests": dict(self.requests), "blob_uploads": self.blob_uploads,
                    "manifest_puts": self.manifest_puts, "bytes_received": self.bytes_received}

    def choose(self, method: str, path: str) -> str | None:
        applicable = [k for k in self.kinds if _applies(k, method, path, self.pushed)]
        with self.lock:
            if not applicable or self.rng.random() >= self.fraction:
                return None
            fault = self.rng.choice(applicable)
            self.faults.append((fault, method, path))
            return fault


class Pause:
    """A publisher held at one point of its protocol: `reached` is set when it gets there, `release()` lets it go on."""

    def __init__(self, condition):
        self.condition, self.lock = condition, threading.Lock()
        self.reached, self.go = threading.Event(), threading.Event()

    def __call__(self, method: str, path: str) -> None:
        with self.lock:
            if not self.reached.is_set() and not self.go.is_set() and self.condition(method, path):
                self.reached.set()
        if self.reached.is_set():
            self.go.wait()

    def release(self) -> None:
        self.go.set()


def tag_put(tags, n: int = 1):
    """A condition: the `n`th manifest PUT by tag whose tag is one of `tags`."""
    seen = []

    def condition(method: str, path: str) -> bool:
        m = MANIFEST.match(path.split("?")[0])
        if method == "PUT" and m and m["ref"] in tags:
            seen.append(m["ref"])
        return len(seen) >= n

    return condition


def read_after_put(put_tags, read_tags):
    """A condition: the first HEAD or GET of one of `read_tags` after a manifest PUT of one of `put_tags`."""
    put = tag_put(put_tags)
    done = []

    def condition(method: str, path: str) -> bool:
        m = MANIFEST.match(path.split("?")[0])
        if done and method in ("HEAD", "GET") and m and m["ref"] in read_tags:
            return True
        if put(method, path):
            done.append(path)
        return False

    return condition


def _applies(kind: str, method: str, path: str, pushed: set[str]) -> bool:
    if kind == "upload-unknown-after-commit":
        return method == "PUT" and "/blobs/uploads/" in path and "digest=" in path
    if kind == "manifest-lag":
        m = MANIFEST.match(path.split("?")[0])
        return method in ("GET", "HEAD") and bool(m) and m["ref"] in pushed
    return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: FaultProxy

    def log_message(self, *args) -> None:
        pass

    def handle(self) -> None:
        # A TLS handshake (the docker CLI tries https first) gets the answer Go servers give, which
        # makes `docker manifest --insecure` fall back to plain HTTP.
        if self.rfile.peek(1)[:1] == b"\x16":
            self.wfile.write(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
            self.close_connection = True
            return
        super().handle()

    def do_GET(self):
        self._handle()

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        body = self._read_body()
        proxy = self.proxy
        proxy.count(self.command, self.path, body)
        if proxy.hook:
            proxy.hook(self.command, self.path)
        with proxy.idle:
            proxy.active += 1
        try:
            self._answer_request(body)
        finally:
            with proxy.idle:
                proxy.active -= 1
                proxy.idle.notify_all()

    def _answer_request(self, body: bytes) -> None:
        proxy = self.proxy
        fault = proxy.choose(self.command, self.path)
        if fault in ANY_FAULTS:
            return self._fail(fault)
        if fault in REFUSALS:
            return self._answer(REFUSALS[fault], {"errors": [{"code": fault, "message": f"injected {fault}"}]})
        if fault == "manifest-lag":
            return self._answer(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})
        if self.command == "PUT" and self.headers.get("Content-Type") in proxy.refused_types:
            return self._answer(400, {"errors": [{"code": "MANIFEST_INVALID", "message": "manifest invalid"}]})
        if not proxy.mounts and self.command == "POST" and "mount=" in self.path:
            self.path = self.path.split("?")[0]
        status, headers, data = self._forward(body)
        if fault == "upload-unknown-after-commit":
            return self._answer(404, {"errors": [{"code": "BLOB_UPLOAD_UNKNOWN", "message": "blob upload unknown"}]})
        self._record(status, headers)
        self.send_response(status)
        for name, value in headers:
            # the body was read whole: it goes with its length, whether the registry chunked it or not
            if name.lower() not in HOP and (self.command == "HEAD" or name.lower() != "content-length"):
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _read_body(self) -> bytes:
        if "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after each chunk
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers, up to the blank line
            pass
        return b"".join(parts)

    def _forward(self, body: bytes):
        connection = http.client.HTTPConnection(self.proxy.upstream, timeout=60)
        headers: dict[str, str] = {}
        for k, v in self.headers.items():  # a repeated header (Go clients send several Accept) is joined
            if k.lower() not in HOP:
                headers[k] = f"{headers[k]}, {v}" if k in headers else v
        connection.request(self.command, self.path, body=body or None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, response.getheaders(), data

    def _record(self, status: int, headers) -> None:
        m = MANIFEST.match(self.path.split("?")[0])
        if not m or self.command != "PUT" or status != 201:
            return
        digest = dict((k.lower(), v) for k, v in headers).get("docker-content-digest", "")
        self.proxy.pushed.update({m["ref"], digest})
        if not m["ref"].startswith("sha256:"):
            self.proxy.tag_writes.append((m["repo"], m["ref"], digest))

    def _fail(self, fault: str) -> None:
        if fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault == "timeout":
            self.proxy.stopping.wait(self.proxy.hang)  # longer than the client's timeout
            self.close_connection = True
            return
        extra = {"429-seconds": {"Retry-After": "1"}, "429-date": {"Retry-After": formatdate(usegmt=True)}}
        self._answer(int(fault[:3]), {"errors": [{"code": "UNAVAILABLE", "message": f"injected {fault}"}]}, extra.get(fault, {}))

    def _answer(self, status: int, document: dict, headers: dict | None = None) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
