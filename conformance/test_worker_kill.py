"""Kill test: a refresh storm with rotating refresh tokens while workers are SIGKILLed.

``finlink serve --no-workers`` serves the API and the built-in sandbox OAuth server, whose
refresh tokens rotate with zero grace (reusing a rotated-away refresh token revokes the whole
grant) and whose access tokens live 2 s: a token that short is refreshed at half its life, so
the workers refresh the same connections about every second (a storm), and every credentials
read refreshes (the credentials endpoint refreshes tokens that expire within 5 minutes).

``CONNECTIONS`` connections are migrated with expired tokens; separate ``finlink worker``
processes (5 s job leases) run the storm while, in several rounds, one of them is SIGKILLed at a
random moment (in the middle of claims, token requests and credential writes) and replaced.

The storm phase (zero grace) proves that finlink itself never burns a refresh token: the sandbox
revokes no grant (no rotated-away refresh token is ever presented, across job takeovers and
fencing), no refresh fails, every connection stays ``Linked``, and the replacement workers keep
the storm going.

A token exchange in flight when its process is SIGKILLed is different: the platform may rotate
the grant (it finishes the request whether or not the client is still there) and the new tokens
die with the process. No client can recover those without the platform's help, so the killed
worker's refresh lease (30 s) runs out and the next refresh presents the previous refresh token
once more; rotating platforms keep a short reuse grace window for exactly this. The recovery
phase restarts ``finlink serve`` (same database, same sandbox grants) with such a window and
proves that then every connection is refreshable: one credentials read per connection refreshes
it with its stored refresh token, and the sandbox revokes no grant.

The storm phase must end (killed worker to workers stopped) within that 30 s refresh lease: past
it, a takeover re-presents an in-flight exchange's old token, which zero grace rightly revokes.
"""

from __future__ import annotations

import queue
import random
import secrets
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import requests

from conftest import FINLINK_BIN, FinlinkEnv, FinlinkError, FinlinkServer, ServerFactory, basic_auth, start_server

CONNECTIONS = 40
KILL_ROUNDS = 4
STARTING_WORKERS = 2
# Refreshed by the workers at half its life (about every second per connection), and below the
# credentials endpoint's 300 s freshness margin (every read refreshes).
ACCESS_TOKEN_TTL_SECS = "2"
STORM_TAIL_S = 4.0
STORM_TAIL_MAX_S = 30.0
WORKER_SETTINGS = {
    "FINLINK_WORKERS__LEASE_SECS": "5",
    "FINLINK_WORKERS__POLL_MS": "100",
    # On SIGTERM a worker waits this long for its running jobs. A job that waits for a killed
    # worker's refresh lease is abandoned then (its job lease runs out; nothing is half done).
    "FINLINK_WORKERS__SHUTDOWN_GRACE_SECS": "5",
}
# The recovery phase's reuse window: longer than the storm plus a refresh lease.
RECOVERY_GRACE_SECS = "300"
WORKER_START_TIMEOUT_S = 30.0
WORKER_STOP_TIMEOUT_S = 30.0
# A read may wait for a killed worker's refresh lease (30 s) to run out.
READ_TIMEOUT_S = 90.0
PENDING_EVENT = "vault.connection.token_refresh.pending"


@dataclass
class TunedEnv(FinlinkEnv):
    """Another view of a FinlinkEnv's database, with settings added to every process's environment."""

    extra: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, base: FinlinkEnv, **extra: str) -> "TunedEnv":
        return cls(
            engine=base.engine, workdir=base.workdir, schema=base.schema, master_key=base.master_key, extra=extra
        )

    def env(self, **extra: str) -> Dict[str, str]:
        return super().env(**{**self.extra, **extra})

    def cleanup(self) -> None:  # the base env owns the database and the workdir
        pass


@dataclass
class Worker:
    """A running `finlink worker` process."""

    proc: subprocess.Popen
    stderr_path: Path
    stdout_lines: List[str]

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WORKER_STOP_TIMEOUT_S)

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self) -> Optional[int]:
        """Waits for the process to exit (SIGKILL after the timeout: None); returns its exit code."""
        try:
            return self.proc.wait(timeout=WORKER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            return None


def start_worker(fenv: FinlinkEnv, label: str) -> Worker:
    """Starts `finlink worker` and waits until it says it is running."""
    stderr_path = fenv.workdir / f"{label}-{secrets.token_hex(3)}.stderr.log"
    with open(stderr_path, "wb") as stderr_file:
        proc = subprocess.Popen(
            [str(FINLINK_BIN), "worker"],
            env=fenv.env(),
            cwd=fenv.workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
            bufsize=1,
        )
    lines: List[str] = []
    running: "queue.Queue[bool]" = queue.Queue()

    def read_stdout() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.append(raw.rstrip("\n"))
            if lines[-1].strip() == "finlink worker running":
                running.put(True)
        running.put(False)

    threading.Thread(target=read_stdout, daemon=True).start()
    worker = Worker(proc=proc, stderr_path=stderr_path, stdout_lines=lines)
    try:
        ok = running.get(timeout=WORKER_START_TIMEOUT_S)
    except queue.Empty:
        ok = False
    if not ok:
        worker.kill()
        raise FinlinkError(f"finlink worker did not start\nstdout: {lines}\nstderr:\n{worker.stderr_text()}")
    return worker


def sandbox_stats(server: FinlinkServer) -> dict:
    r = requests.get(server.url("/sandbox/admin/stats"), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def link_connection(server: FinlinkServer, auth: Dict[str, str], i: int) -> str:
    """A company with one sandbox connection holding a minted grant's tokens, expired an hour
    ago (its refresh is due at once). Returns the connection's path."""
    name = f"Storm {i} Ltd"
    grant = requests.post(server.url("/sandbox/admin/mint"), json={"companyName": name}, timeout=30)
    assert grant.status_code == 200, grant.text
    company = requests.post(server.url("/companies"), json={"name": name}, headers=auth, timeout=30)
    assert company.status_code == 200, company.text
    company_id = company.json()["id"]
    conn = requests.post(
        server.url(f"/companies/{company_id}/connections"), json={"platformKey": "mqjo"}, headers=auth, timeout=30
    )
    assert conn.status_code == 200, conn.text
    path = f"/companies/{company_id}/connections/{conn.json()['id']}"
    migrated = requests.put(
        server.url(path + "/authorization"),
        json={
            "accessToken": grant.json()["access_token"],
            "refreshToken": grant.json()["refresh_token"],
            # expired an hour ago
            "issuedAt": "2026-01-01T00:00:00Z",
            "expiresAt": "2026-01-01T01:00:00Z",
        },
        headers=auth,
        timeout=30,
    )
    assert migrated.status_code == 200, migrated.text
    return path


def pending_events(server: FinlinkServer, auth: Dict[str, str]) -> List[dict]:
    r = requests.get(
        server.url("/events"), params={"eventType": PENDING_EVENT, "pageSize": 5000}, headers=auth, timeout=30
    )
    assert r.status_code == 200, r.text
    return r.json()["results"]


def assert_all_linked(server: FinlinkServer, auth: Dict[str, str], paths: List[str], context: str) -> None:
    for path in paths:
        r = requests.get(server.url(path), headers=auth, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "Linked", f"{path}: {r.json()} {context}"


def storm(workers_env: FinlinkEnv, server: FinlinkServer, rng: random.Random, until_refreshes: int) -> Tuple[int, int]:
    """Runs the workers, SIGKILLing one at a random moment and starting a replacement in each
    round, then stops them all with SIGTERM. The tail lasts STORM_TAIL_S, longer (up to
    STORM_TAIL_MAX_S) on a loaded machine until the sandbox has seen `until_refreshes` refreshes,
    so the storm is a storm however fast the machine is. Returns the sandbox's refresh count at the
    last kill and at the end of the storm."""
    workers: List[Worker] = []
    try:
        workers.extend(start_worker(workers_env, f"worker{n}") for n in range(STARTING_WORKERS))
        for round_ in range(KILL_ROUNDS):
            time.sleep(rng.uniform(0.3, 1.5))
            workers.pop(rng.randrange(len(workers))).kill()
            workers.append(start_worker(workers_env, f"worker-r{round_}"))
        at_last_kill = sandbox_stats(server)["refresh_requests"]
        time.sleep(STORM_TAIL_S)
        tail_end = time.monotonic() + STORM_TAIL_MAX_S - STORM_TAIL_S
        while sandbox_stats(server)["refresh_requests"] < until_refreshes and time.monotonic() < tail_end:
            time.sleep(0.5)
        at_end = sandbox_stats(server)["refresh_requests"]
    finally:
        for w in workers:
            w.terminate()
        codes = [w.wait() for w in workers]
    assert codes == [0] * len(codes), f"workers did not exit cleanly on SIGTERM: {codes}\n" + "\n".join(
        w.stderr_text()[-2000:] for w in workers
    )
    return at_last_kill, at_end


def test_killed_workers_burn_no_refresh_token(server_factory: ServerFactory):
    base = server_factory.env()
    key = base.cli("keys", "create")
    reader = base.cli("keys", "create", "--name", "reader", "--permission", "credentials:read")
    auth = {"Authorization": basic_auth(key)}
    reader_auth = {"Authorization": basic_auth(reader)}
    server = start_server(
        TunedEnv.of(base, FINLINK_SANDBOX__ACCESS_TOKEN_TTL_SECS=ACCESS_TOKEN_TTL_SECS), api_key=key, label="serve"
    )
    server_factory._servers.append(server)  # stopped at teardown

    with ThreadPoolExecutor(max_workers=8) as pool:
        paths = list(pool.map(lambda i: link_connection(server, auth, i), range(CONNECTIONS)))

    # Storm phase: zero grace.
    seed = random.randrange(1 << 32)
    before = sandbox_stats(server)
    workers_env = TunedEnv.of(base, FINLINK_PUBLIC_URL=server.base_url, **WORKER_SETTINGS)
    at_last_kill, at_end = storm(
        workers_env, server, random.Random(seed), before["refresh_requests"] + 5 * CONNECTIONS + 1
    )
    stormed = sandbox_stats(server)
    context = f"(seed {seed}; sandbox before {before}, after the storm {stormed})"
    assert stormed["grants_revoked"] == 0, f"finlink presented a rotated-away refresh token {context}"
    assert stormed["refresh_requests"] - before["refresh_requests"] > 5 * CONNECTIONS, f"no refresh storm {context}"
    assert at_end > at_last_kill, f"the storm stopped with the killed workers {context}"
    assert pending_events(server, auth) == [], f"refreshes failed during the storm {context}"
    assert_all_linked(server, auth, paths, context)
    server.stop()

    # Recovery phase: the same database and grants, the sandbox with a reuse grace window.
    server = start_server(
        TunedEnv.of(
            base,
            FINLINK_SANDBOX__ACCESS_TOKEN_TTL_SECS=ACCESS_TOKEN_TTL_SECS,
            FINLINK_SANDBOX__REFRESH_TOKEN_GRACE_SECS=RECOVERY_GRACE_SECS,
        ),
        api_key=key,
        label="serve-recovery",
    )
    server_factory._servers.append(server)

    def read(path: str) -> Tuple[str, int, dict]:
        r = requests.get(server.url(path + "/credentials"), headers=reader_auth, timeout=READ_TIMEOUT_S)
        return path, r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
        answers = list(pool.map(read, paths))
    bad = [a for a in answers if a[1] != 200 or not a[2].get("refreshed")]
    assert not bad, f"{len(bad)} connection(s) could not be refreshed: {bad[:3]} {context}"
    recovered = sandbox_stats(server)
    assert recovered["grants_revoked"] == 0, f"sandbox after the reads: {recovered} {context}"
    assert recovered["refresh_requests"] == CONNECTIONS, f"one refresh per read: {recovered} {context}"
    assert pending_events(server, auth) == [], context
    assert_all_linked(server, auth, paths, context)
