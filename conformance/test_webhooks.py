"""Webhooks as a receiver meets them, verified with the official ``standardwebhooks`` library
(not finlink's own code): consumers through the Codat SDK, signatures valid across a secret
rotation, a receiver that is down (503, then not listening at all) catching up exactly once per
``webhook-id``, and ``finlink serve`` SIGKILLed in the middle of a burst of events, restarted,
and delivering every one of them.

The retry schedule itself (5 s, 5 min, 30 min, ...) is tested on an injected clock in the Rust
integration tests (``crates/finlink/tests/it/webhooks.rs``); here time is real, so only the first
retry (5 s) is waited for, and the rest is caught up with ``replay``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Deque, Dict, List, Optional, Set, Tuple

import requests
from codat_platform.models import operations, shared
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conftest import FinlinkEnv, FinlinkServer, ServerFactory, basic_auth, start_server

SETTINGS = {
    "FINLINK_WEBHOOKS__ALLOW_HTTP": "true",
    "FINLINK_WEBHOOKS__ALLOW_PRIVATE_TARGETS": "true",
    "FINLINK_WORKERS__POLL_MS": "100",
    "FINLINK_WORKERS__LEASE_SECS": "5",
}


@dataclass
class Receiver:
    """A webhook receiver on loopback: records every request; answers from a script, then 200."""

    script: Deque[int] = field(default_factory=deque)
    # Answer 503 to the first request of every webhook-id (whatever order they come in).
    fail_first_sends: bool = False
    seen_ids: set = field(default_factory=set)
    # (headers, body, the status answered)
    requests: List[Tuple[Dict[str, str], bytes, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: Optional[ThreadingHTTPServer] = None
    port: int = 0

    def start(self, port: int = 0) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    wid = self.headers.get("webhook-id", "")
                    if receiver.fail_first_sends and wid not in receiver.seen_ids:
                        status = 503
                    else:
                        status = receiver.script.popleft() if receiver.script else 200
                    receiver.seen_ids.add(wid)
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def verified(self, *secrets_: str) -> Dict[str, dict]:
        """Every accepted (2xx) request that one of the secrets verifies, by webhook-id
        (duplicates collapse)."""
        out: Dict[str, dict] = {}
        with self.lock:
            reqs = [(h, b) for h, b, status in self.requests if 200 <= status < 300]
        for headers, body in reqs:
            for s in secrets_:
                try:
                    out[headers["webhook-id"]] = Webhook(s).verify(body, headers)
                    break
                except WebhookVerificationError:
                    continue
        return out


def wait_for(cond, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def tuned_env(server_factory: ServerFactory) -> FinlinkEnv:
    fenv = server_factory.env()
    fenv.settings.update(SETTINGS)
    return fenv


def start_with_workers(server_factory: ServerFactory, fenv: FinlinkEnv, key: str, label: str) -> FinlinkServer:
    server = start_server(fenv, api_key=key, label=label, workers=True)
    server_factory._servers.append(server)  # stopped at teardown
    return server


def secret_of(server: FinlinkServer, consumer_id: str) -> str:
    r = requests.get(server.url(f"/webhooks/{consumer_id}/secret"), headers=server.auth, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["secret"]


def create_companies(server: FinlinkServer, names: List[str]) -> List[str]:
    ids = []
    for n in names:
        r = requests.post(server.url("/companies"), json={"name": n}, headers=server.auth, timeout=30)
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
    return ids


def test_sdk_consumers_signatures_and_rotation(server_factory: ServerFactory):
    fenv = tuned_env(server_factory)
    key = fenv.cli("keys", "create")
    server = start_with_workers(server_factory, fenv, key, "serve")
    rx = Receiver()
    rx.start()
    try:
        sdk = server.sdk
        consumer = sdk.webhooks.create_consumer(
            request=shared.WebhookConsumerPrototype(url=rx.url, event_types=["company.created"])
        )
        assert consumer.url == rx.url and consumer.disabled is False
        listed = sdk.webhooks.list_consumers()
        assert [c.id for c in listed.results] == [consumer.id]
        secret = secret_of(server, consumer.id)

        ids = create_companies(server, ["One Ltd", "Two Ltd", "Three Ltd"])
        wait_for(lambda: len(rx.verified(secret)) == 3, what="three verified deliveries")
        got = rx.verified(secret)
        assert sorted(p["payload"]["id"] for p in got.values()) == sorted(ids)
        assert all(p["eventType"] == "company.created" for p in got.values())

        r = requests.post(server.url(f"/webhooks/{consumer.id}/secret/rotate"), headers=server.auth, timeout=30)
        assert r.status_code == 200, r.text
        new_secret = r.json()["secret"]
        assert new_secret != secret
        create_companies(server, ["Four Ltd"])
        wait_for(lambda: len(rx.verified(new_secret)) == 1, what="a delivery signed with the new secret")
        # For 24 hours the previous secret verifies the same delivery too.
        assert len(rx.verified(secret)) == 4
        with rx.lock:
            assert len(rx.requests) == 4, "one request per event"

        sdk.webhooks.delete_consumer(request=operations.DeleteWebhookConsumerRequest(webhook_id=consumer.id))
        assert sdk.webhooks.list_consumers().results == []
    finally:
        rx.stop()


def test_receiver_down_catches_up_exactly_once(server_factory: ServerFactory):
    fenv = tuned_env(server_factory)
    key = fenv.cli("keys", "create")
    server = start_with_workers(server_factory, fenv, key, "serve")
    rx = Receiver()
    rx.start()
    try:
        r = requests.post(server.url("/webhooks"), json={"url": rx.url}, headers=server.auth, timeout=30)
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        secret = secret_of(server, cid)

        # 503 for the first attempt of each of two events: the 5 s retry delivers them. (By
        # webhook-id, not by arrival: when both companies share a delivery lane, the second is
        # held back until the first's retry, and then comes right after it.)
        rx.fail_first_sends = True
        create_companies(server, ["Busy A", "Busy B"])
        wait_for(lambda: len(rx.verified(secret)) == 2, timeout=40, what="deliveries after a 503")
        rx.fail_first_sends = False
        log = requests.get(server.url(f"/webhooks/{cid}/deliveries"), headers=server.auth, timeout=30).json()
        assert sorted(d["attempts"] for d in log["results"]) == [2, 2], log
        assert all(d["status"] == "succeeded" for d in log["results"]), log

        # Not listening at all: events raised meanwhile fail their first attempts.
        port = rx.port
        rx.stop()
        down_since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
        create_companies(server, [f"Dark {i}" for i in range(5)])
        wait_for(
            lambda: sum(
                1
                for d in requests.get(server.url(f"/webhooks/{cid}/deliveries"), headers=server.auth, timeout=30).json()[
                    "results"
                ]
                if d["attempts"] >= 1 and d["status"] == "pending"
            )
            >= 5,
            what="failed first attempts while the receiver is down",
        )
        # Back on the same port: retries and a replay of everything since it went down.
        rx.start(port)
        r = requests.post(
            server.url(f"/webhooks/{cid}/replay"), params={"since": down_since}, headers=server.auth, timeout=30
        )
        assert r.status_code == 202, r.text
        assert r.json()["deliveries"] == 5
        wait_for(lambda: len(rx.verified(secret)) == 7, timeout=60, what="all seven events after recovery")
        names = sorted(p["payload"]["name"] for p in rx.verified(secret).values())
        assert names == sorted(["Busy A", "Busy B", *[f"Dark {i}" for i in range(5)]])
        # Duplicates (retry and replay of the same event) carry the same webhook-id.
        with rx.lock:
            assert len({h["webhook-id"] for h, _, _ in rx.requests}) == 7
    finally:
        rx.stop()


def test_sigkill_mid_burst_loses_no_event(server_factory: ServerFactory):
    fenv = tuned_env(server_factory)
    key = fenv.cli("keys", "create")
    server = start_with_workers(server_factory, fenv, key, "serve")
    rx = Receiver()
    rx.start()
    try:
        r = requests.post(server.url("/webhooks"), json={"url": rx.url}, headers=server.auth, timeout=30)
        assert r.status_code == 201, r.text
        secret = secret_of(server, r.json()["id"])
        created: List[str] = []
        stop = threading.Event()

        def burst() -> None:
            i = 0
            while not stop.is_set():
                try:
                    r = requests.post(
                        server.url("/companies"), json={"name": f"Burst {i}"}, headers=server.auth, timeout=5
                    )
                except requests.RequestException:
                    return
                if r.status_code == 200:
                    created.append(r.json()["id"])
                i += 1

        t = threading.Thread(target=burst)
        t.start()
        wait_for(lambda: len(created) >= 40, what="a burst under way")
        server.proc.kill()  # SIGKILL: no shutdown, jobs mid-lease
        server.proc.wait(timeout=10)
        stop.set()
        t.join(timeout=10)

        again = start_with_workers(server_factory, fenv, key, "serve-again")
        events = requests.get(
            again.url("/events"),
            params={"eventType": "company.created", "pageSize": 5000},
            headers=again.auth,
            timeout=30,
        ).json()
        expected = {e["payload"]["id"] for e in events["results"]}
        assert set(created) <= expected, "every acknowledged create has its event"
        wait_for(
            lambda: {p["payload"]["id"] for p in rx.verified(secret).values()} >= expected,
            timeout=60,
            what=f"all {len(expected)} events delivered after the restart",
        )
        assert len(rx.verified(secret)) == len(expected)
    finally:
        rx.stop()
