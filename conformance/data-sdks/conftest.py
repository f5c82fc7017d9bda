"""Fixtures for the conformance tests of Codat's data SDKs (codat-accounting, codat-banking,
codat-commerce) against a real `finlink serve`, on each storage engine.

These SDKs pin older httpx and pydantic than codat-platform 6.0.0, so they run in their own
virtual environment (``requirements.txt`` here; ``scripts/test`` makes ``.venv-data-sdks``). The
main suite's helpers (``../conftest.py``: servers, tenants, engines, error checks) are loaded from
there as the module ``finlink_conformance``; its Platform SDK parts are unused here (Platform
calls go over plain HTTP).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional

import pytest
import requests

_spec = importlib.util.spec_from_file_location(
    "finlink_conformance", Path(__file__).resolve().parent.parent / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
base = importlib.util.module_from_spec(_spec)
sys.modules["finlink_conformance"] = base
_spec.loader.exec_module(base)

# The engines (sqlite always, postgres with FINLINK_TEST_POSTGRES_URL), as in the main suite.
engine = base.engine

FAST_WORKERS = {"FINLINK_WORKERS__POLL_MS": "50", "FINLINK_WORKERS__LEASE_SECS": "5"}
SYNC_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def data_server(engine) -> "base.FinlinkServer":
    """`finlink serve` with its workers running, so pulls run by themselves."""
    factory = base.ServerFactory(engine)
    try:
        fenv = factory.env()
        fenv.settings.update(FAST_WORKERS)
        key = fenv.cli("keys", "create")
        server = base.start_server(fenv, api_key=key, label="serve-data", workers=True)
        factory._servers.append(server)  # stopped at teardown
        yield server
    finally:
        factory.close()


def call(tenant: "base.Tenant", method: str, path: str, body: Optional[dict] = None, ok=(200,)) -> dict:
    """A Platform API call over HTTP; returns the JSON body (or {})."""
    r = requests.request(method, tenant.base_url + path, json=body, headers=tenant.auth, timeout=30)
    assert r.status_code in ok, f"{method} {path}: {r.status_code} {r.text[:500]}"
    return r.json() if r.content else {}


def sandbox(server: "base.FinlinkServer", method: str, path: str, body: Optional[dict] = None, **kw) -> dict:
    """A call to the built-in sandbox (mounted at /sandbox)."""
    r = requests.request(method, server.url("/sandbox" + path), json=body, timeout=30, **kw)
    assert r.status_code == 200, f"{method} /sandbox{path}: {r.status_code} {r.text[:300]}"
    return r.json()


@dataclass
class Synced:
    """A company with one connection whose data finlink has pulled."""

    company_id: str
    connection_id: str
    owner: dict  # the sandbox grant (accounting) or store (commerce)


def wait_synced(tenant: "base.Tenant", company_id: str, want: int) -> Dict[str, dict]:
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while True:
        status = call(tenant, "GET", f"/companies/{company_id}/dataStatus")
        states = [s["currentStatus"] for s in status.values()]
        if len(states) == want and all(s == "Complete" for s in states):
            return status
        bad = [s for s in status.values() if s["currentStatus"] not in ("Queued", "Fetching", "Mapping", "Complete")]
        assert not bad, f"a pull failed: {bad}"
        assert time.monotonic() < deadline, f"not synced after {SYNC_TIMEOUT_S}s: {status}"
        time.sleep(0.2)


def linked_company(tenant: "base.Tenant", name: str, platform: str, authorization: dict) -> tuple:
    """A company with a connection holding migrated credentials: (company id, connection id)."""
    company = call(tenant, "POST", "/companies", {"name": name})
    conn = call(tenant, "POST", f"/companies/{company['id']}/connections", {"platformKey": platform})
    call(tenant, "PUT", f"/companies/{company['id']}/connections/{conn['id']}/authorization", authorization)
    return company["id"], conn["id"]


def sync_all(tenant: "base.Tenant", company_id: str, types: int) -> None:
    call(tenant, "POST", f"/companies/{company_id}/data/all", ok=(204,))
    wait_synced(tenant, company_id, types)


def accounting_sdk(tenant: "base.Tenant"):
    from codat_accounting import CodatAccounting
    from codat_accounting.models import shared
    from codat_accounting.utils.retries import BackoffStrategy, RetryConfig

    return CodatAccounting(
        security=shared.Security(auth_header=base.basic_auth(tenant.api_key)),
        server_url=tenant.base_url,
        retry_config=RetryConfig("none", BackoffStrategy(0, 0, 1.0, 0), False),
    )


def banking_sdk(tenant: "base.Tenant"):
    from codat_banking import CodatBanking, Security
    from codat_banking.utils.retries import BackoffStrategy, RetryConfig

    return CodatBanking(
        security=Security(auth_header=base.basic_auth(tenant.api_key)),
        server_url=tenant.base_url,
        retry_config=RetryConfig("none", BackoffStrategy(0, 0, 1.0, 0), False),
    )


def commerce_sdk(tenant: "base.Tenant"):
    from codat_commerce import CodatCommerce
    from codat_commerce.utils.retries import BackoffStrategy, RetryConfig

    return CodatCommerce(
        auth_header=base.basic_auth(tenant.api_key),
        server_url=tenant.base_url,
        retry_config=RetryConfig("none", BackoffStrategy(0, 0, 1.0, 0), False),
    )
