"""Helpers for the `kite serve` end-to-end tests: start the real server on stories260K on a free port,
plain-HTTP and SSE helpers, and response validation against OpenAI's official OpenAPI schemas (the
approach of shared/openai/validate.py, whose functions are imported)."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

SOURCE_DIR = os.environ.get("KITE_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
SHARED_DIR = os.environ.get("KITE_SHARED_DIR", os.path.join(SOURCE_DIR, "..", "shared"))
KITE_BINARY = os.environ.get("KITE_BINARY", os.path.join(SOURCE_DIR, "build", "kite"))
MODEL_DIR = os.path.join(SHARED_DIR, "models", "stories260K")
CHATML = os.path.join(SOURCE_DIR, "tests", "data", "server_chatml.jinja")

sys.path.insert(0, os.path.join(SHARED_DIR, "openai"))
import validate as _openapi  # noqa: E402  (shared/openai/validate.py)

_SPEC = None
_VALIDATORS = {}


def check_schema(name, instance):
    """Asserts that `instance` is valid against components.schemas[name] of OpenAI's spec."""
    global _SPEC
    if _SPEC is None:
        _SPEC = _openapi.load_spec()
    if name not in _VALIDATORS:
        _VALIDATORS[name] = _openapi.make_validator(_SPEC, name)
    reason = _openapi.check(_VALIDATORS[name], instance)
    assert reason is None, f"{name}: {reason}\n{json.dumps(instance)[:2000]}"


def reference():
    with open(os.path.join(MODEL_DIR, "reference.json")) as f:
        return json.load(f)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# KITE_VIA_ROUTER=1 runs the same suites against `kite router` over two `kite serve` backends
# (tests/CMakeLists.txt registers the OpenAI and native suites that way too).
VIA_ROUTER = os.environ.get("KITE_VIA_ROUTER") == "1"


class KiteServer:
    """`kite serve` on stories260K in a child process; stderr (the access log) goes to a file.
    With KITE_VIA_ROUTER=1: two such backends behind a `kite router`, whose address is `base`."""

    def __init__(self, *extra_args, env=None, log_name="server", direct=False, model=None):
        self.backends = []
        if VIA_ROUTER and not direct:
            self.backends = [KiteServer(*extra_args, env=env, log_name=f"{log_name}_b{i}", direct=True, model=model)
                             for i in range(2)]
            cmd = [KITE_BINARY, "router", "--host", "127.0.0.1", "--health-interval-ms", "200"]
            for b in self.backends:
                cmd += ["--backend", b.base]
            self._start(cmd, env, log_name + "_router")
            return
        cmd = [KITE_BINARY, "serve", "--model", model or MODEL_DIR, "--host", "127.0.0.1"] + list(extra_args)
        self._start(cmd, env, log_name)

    def _start(self, cmd, env, log_name):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"kite_{log_name}_{self.port}.log")
        cmd = cmd + ["--port", str(self.port)]
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=full_env)
        self.wait_ready()

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.proc.args[1]} exited with {self.proc.returncode}: {self.log_text()}")
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("kite serve did not become ready: " + self.log_text())

    def log_text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        codes = [self.proc.returncode] + [b.stop(sig, timeout) for b in self.backends]
        return next((c for c in codes if c != 0), 0)

    def metrics(self):
        """The Prometheus exposition as {"name{labels}": value}."""
        with urllib.request.urlopen(self.base + "/metrics", timeout=10) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
        return out


def http(method, url, body=None, headers=None, timeout=60):
    """(status, headers, body bytes) for one request; never raises on HTTP errors."""
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        data = data.encode() if isinstance(data, str) else data
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None and "Content-Type" not in req.headers:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def post_json(url, body, **kw):
    status, _, raw = http("POST", url, body, **kw)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def sse_events(raw, native=False):
    """The JSON payloads of a server-sent-events body; asserts the terminator comes last."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    events = [e for e in text.split("\n\n") if e.strip()]
    done = "data:[done]" if native else "data: [DONE]"
    assert events and events[-1].strip() == done, f"stream does not end with {done!r}: {text[-200:]!r}"
    out = []
    for e in events[:-1]:
        assert re.match(r"^data:", e), e
        out.append(json.loads(e[5:]))
    return out
