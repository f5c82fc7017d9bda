"""Fixtures for the finlink conformance suite.

Every test runs against a real `finlink` process, on each storage engine:

* ``sqlite``   always (a fresh temp data dir per server);
* ``postgres`` only when ``FINLINK_TEST_POSTGRES_URL`` is set (a fresh schema
  ``conf_<hex>`` per server, dropped at teardown).

The binary is ``$FINLINK_BIN`` (default ``target/debug/finlink`` under the repo root).

Servers are started once per test module (``server``); tests that need a clean
tenant call ``server.new_tenant()`` (a new client + API key made with the CLI),
and tests that need a clean process use the ``server_factory`` fixture.
"""

from __future__ import annotations

import base64
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
import requests

try:
    from codat_platform import CodatPlatform
    from codat_platform.models import shared
    from codat_platform.utils.retries import RetryConfig
except ImportError:  # conformance/data-sdks runs in its own venv, whose SDKs' pins clash with these
    CodatPlatform = shared = RetryConfig = None  # type: ignore[assignment,misc]

REPO_ROOT = Path(__file__).resolve().parent.parent
FINLINK_BIN = Path(os.environ.get("FINLINK_BIN", "target/debug/finlink"))
if not FINLINK_BIN.is_absolute():
    FINLINK_BIN = REPO_ROOT / FINLINK_BIN
POSTGRES_URL = os.environ.get("FINLINK_TEST_POSTGRES_URL", "")

LISTEN_RE = re.compile(r"^finlink listening on (http://127\.0\.0\.1:\d+)\s*$")
KEY_RE = re.compile(r"^[A-Za-z0-9]{48}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CLI_TIMEOUT_S = 60.0

ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=pytest.mark.skipif(
            not POSTGRES_URL,
            reason="FINLINK_TEST_POSTGRES_URL is not set: PostgreSQL engine not tested",
        ),
    ),
]


def basic_auth(key: str) -> str:
    """Codat's Authorization value: `Basic ` + base64(api key)."""
    return "Basic " + base64.b64encode(key.encode()).decode()


def make_sdk(base_url: str, key: Optional[str]) -> CodatPlatform:
    """An SDK client with retries off (a 5xx must fail fast, not retry for an hour)."""
    security = shared.Security(auth_header=basic_auth(key)) if key is not None else None
    return CodatPlatform(server_url=base_url, security=security, retry_config=RetryConfig("none"))


class FinlinkError(AssertionError):
    pass


def new_master_key() -> str:
    """A fresh `ID:BASE64` master key from `finlink encryption new-key`."""
    proc = subprocess.run(
        [str(FINLINK_BIN), "encryption", "new-key"],
        env={k: v for k, v in os.environ.items() if not k.startswith("FINLINK_")},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )
    key = proc.stdout.strip()
    if proc.returncode != 0 or not re.fullmatch(r"[0-9A-Za-z_-]+:[A-Za-z0-9+/=]+", key):
        raise FinlinkError(
            f"`finlink encryption new-key` exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
    return key


@dataclass
class Tenant:
    """A client of the server, with one API key."""

    client_id: Optional[str]
    api_key: str
    base_url: str

    @property
    def auth(self) -> Dict[str, str]:
        return {"Authorization": basic_auth(self.api_key)}

    @property
    def sdk(self) -> CodatPlatform:
        return make_sdk(self.base_url, self.api_key)


@dataclass
class FinlinkEnv:
    """One database (a SQLite dir or a PostgreSQL schema) and the env that points at it."""

    engine: str
    workdir: Path
    schema: Optional[str] = None
    # PostgreSQL refuses to store credentials without a configured master key (SQLite makes a
    # development key file in the data dir), so each PostgreSQL env gets its own.
    master_key: Optional[str] = None
    # Settings added to every process's environment (FINLINK_...).
    settings: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, engine: str) -> "FinlinkEnv":
        if not FINLINK_BIN.exists():
            pytest.fail(
                f"finlink binary not found at {FINLINK_BIN}: run `cargo build -p finlink` "
                "or set FINLINK_BIN",
                pytrace=False,
            )
        workdir = Path(tempfile.mkdtemp(prefix=f"finlink-conf-{engine}-"))
        schema = None
        master_key = None
        if engine == "postgres":
            if not POSTGRES_URL:
                pytest.skip("FINLINK_TEST_POSTGRES_URL is not set")
            schema = "conf_" + secrets.token_hex(8)
            master_key = new_master_key()
        return cls(engine=engine, workdir=workdir, schema=schema, master_key=master_key)

    @property
    def data_dir(self) -> Path:
        d = self.workdir / "data"
        d.mkdir(exist_ok=True)
        return d

    def env(self, **extra: str) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FINLINK_")}
        env["FINLINK_DATA_DIR"] = str(self.data_dir)
        env["FINLINK_LOG"] = "warn"
        env["NO_COLOR"] = "1"
        if self.engine == "postgres":
            env["FINLINK_DATABASE_URL"] = POSTGRES_URL
            env["FINLINK_DATABASE_SCHEMA"] = self.schema or ""
        if self.master_key:
            env["FINLINK_MASTER_KEYS"] = self.master_key
        env.update(self.settings)
        env.update(extra)
        return env

    def run_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(FINLINK_BIN), *args],
            env=self.env(),
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
        )
        if check and proc.returncode != 0:
            raise FinlinkError(
                f"`finlink {' '.join(args)}` exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    def cli(self, *args: str) -> str:
        """Runs a CLI command that must succeed; returns its stdout, stripped."""
        return self.run_cli(*args).stdout.strip()

    def cleanup(self) -> None:
        if self.schema:
            subprocess.run(
                ["psql", POSTGRES_URL, "-q", "-c", f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'],
                capture_output=True,
                text=True,
                timeout=60,
            )
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass
class FinlinkServer:
    """A running `finlink serve` process."""

    fenv: FinlinkEnv
    proc: subprocess.Popen
    base_url: str
    stderr_path: Path
    stdout_lines: List[str] = field(default_factory=list)
    api_key: Optional[str] = None
    _reader: Optional[threading.Thread] = None

    @property
    def engine(self) -> str:
        return self.fenv.engine

    @property
    def tenant(self) -> Tenant:
        assert self.api_key, "this server was started without a first API key"
        return Tenant(client_id=None, api_key=self.api_key, base_url=self.base_url)

    @property
    def sdk(self) -> CodatPlatform:
        return self.tenant.sdk

    @property
    def auth(self) -> Dict[str, str]:
        return self.tenant.auth

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def output_text(self) -> str:
        """Everything the process printed so far (stdout, then stderr)."""
        return "\n".join(self.stdout_lines) + "\n" + self.stderr_text()

    def new_tenant(self, name: Optional[str] = None) -> Tenant:
        """A new client (CLI `clients create`) with one new API key (CLI `keys create --client`)."""
        name = name or "conf-" + secrets.token_hex(4)
        client_id = self.fenv.cli("clients", "create", "--name", name)
        assert UUID_RE.match(client_id), f"clients create printed {client_id!r}, not a UUID"
        key = self.fenv.cli("keys", "create", "--client", client_id, "--name", "k-" + name)
        assert KEY_RE.match(key), f"keys create printed {key!r}, not a 48-char key"
        return Tenant(client_id=client_id, api_key=key, base_url=self.base_url)

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        if self._reader is not None:
            self._reader.join(timeout=5)
        return self.proc.returncode


def start_server(
    fenv: FinlinkEnv, api_key: Optional[str] = None, label: str = "serve", workers: bool = False
) -> FinlinkServer:
    """Starts `finlink serve --listen 127.0.0.1:0` and waits for its listening line.

    Background workers are off unless asked for (``workers=True``): most tests check tokens they
    migrated, which a proactive refresh of an unknown-expiry token would replace under them.
    """
    stderr_path = fenv.workdir / f"{label}-{secrets.token_hex(3)}.stderr.log"
    stderr_file = open(stderr_path, "wb")
    proc = subprocess.Popen(
        [str(FINLINK_BIN), "serve", "--listen", "127.0.0.1:0", *([] if workers else ["--no-workers"])],
        env=fenv.env(),
        cwd=fenv.workdir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        text=True,
        bufsize=1,
    )
    stderr_file.close()
    lines: List[str] = []
    found: "queue.Queue[Optional[str]]" = queue.Queue()

    def read_stdout() -> None:
        assert proc.stdout is not None
        announced = False
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            m = LISTEN_RE.match(line)
            if m and not announced:
                announced = True
                found.put(m.group(1))
        if not announced:
            found.put(None)

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    server = FinlinkServer(
        fenv=fenv, proc=proc, base_url="", stderr_path=stderr_path, stdout_lines=lines, api_key=api_key, _reader=reader
    )
    try:
        base = found.get(timeout=START_TIMEOUT_S)
    except queue.Empty:
        server.stop()
        raise FinlinkError(
            f"finlink serve did not print its listening line within {START_TIMEOUT_S:.0f}s\n"
            f"stdout: {lines}\nstderr:\n{server.stderr_text()}"
        )
    if base is None:
        code = server.stop()
        raise FinlinkError(
            f"finlink serve exited ({code}) before listening\nstdout: {lines}\nstderr:\n{server.stderr_text()}"
        )
    server.base_url = base
    return server


class ServerFactory:
    """Creates servers (each on its own fresh database) and stops them at teardown."""

    def __init__(self, engine: str):
        self.engine = engine
        self._servers: List[FinlinkServer] = []
        self._envs: List[FinlinkEnv] = []

    def env(self) -> FinlinkEnv:
        fenv = FinlinkEnv.create(self.engine)
        self._envs.append(fenv)
        return fenv

    def start(self, fenv: Optional[FinlinkEnv] = None, with_key: bool = True) -> FinlinkServer:
        """A running server. with_key: create the first API key with the CLI before starting."""
        fenv = fenv or self.env()
        key = None
        if with_key:
            key = fenv.cli("keys", "create")
            assert KEY_RE.match(key), f"`finlink keys create` printed {key!r}, not a 48-char key alone"
        server = start_server(fenv, api_key=key)
        self._servers.append(server)
        return server

    def close(self) -> None:
        for s in self._servers:
            try:
                s.stop()
            except Exception:  # pragma: no cover - best effort teardown
                pass
        for e in self._envs:
            e.cleanup()


@pytest.fixture(scope="module", params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def server(engine) -> FinlinkServer:
    """One finlink server per test module and engine, with a first API key."""
    factory = ServerFactory(engine)
    try:
        yield factory.start()
    finally:
        factory.close()


@pytest.fixture
def server_factory(engine) -> ServerFactory:
    """For tests that need their own server process(es)."""
    factory = ServerFactory(engine)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def tenant(server) -> Tenant:
    """A fresh client (with an empty company list) on the module's server."""
    return server.new_tenant()


@pytest.fixture
def sdk(tenant) -> CodatPlatform:
    return tenant.sdk


@pytest.fixture
def base_url(server) -> str:
    return server.base_url


def assert_error_body(resp: requests.Response, status: int) -> dict:
    """A finlink error response: the status and a Codat ErrorMessage body."""
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text[:500]}"
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), f"error Content-Type {ctype!r}, body {resp.text[:300]!r}"
    body = resp.json()
    for k in ("statusCode", "service", "error", "correlationId"):
        assert k in body, f"error body lacks {k}: {body}"
    assert body["statusCode"] == status, body
    assert isinstance(body["service"], str) and body["service"], body
    assert isinstance(body["error"], str) and body["error"], body
    assert re.fullmatch(r"[0-9a-f]{32}", body["correlationId"]), body
    if "canBeRetried" in body and body["canBeRetried"] is not None:
        assert isinstance(body["canBeRetried"], str), body
    return body
