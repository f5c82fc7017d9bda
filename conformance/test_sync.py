"""Syncs through the official Codat SDK (codat-platform 6.0.0), against the built-in sandbox.

* The seed's "View data" workflow after a token migration: no pull starts on migration;
  ``refresh_data.all`` queues every data type; ``refresh_data.get`` (dataStatus) is followed to
  ``Complete``; the pull history (``list_pull_operations`` / ``get_pull_operation``);
  ``GET /companies/{id}/data/info`` gives the sandbox company's name, which replaces the dummy
  name through ``companies.update`` / ``companies.replace``.
* Faults injected in the sandbox's data API on the running server: a 429 with Retry-After and a
  500 are retried on their page; a grant revoked mid-pull (the next page is ``invalid_token``
  and the refresh ``invalid_grant``) ends the pull in ``AuthError`` and the connection
  ``Deauthorized``.
* ``finlink worker`` SIGKILLed in the middle of a big pull: a restarted worker resumes from the
  last stored page; every record is stored exactly once and the pages stored before the kill
  are not fetched again (the sandbox's request counters say).

Workers run in the background here (``serve`` with workers, or ``finlink worker`` processes), so
the tests poll until the datasets end.
"""

from __future__ import annotations

import secrets
import sqlite3
import subprocess
import time
from typing import Dict, List, Optional

import pytest
import requests

from codat_platform.models import errors, shared
from codat_platform.models.shared.readcompletedwebhookpayload import ReadCompletedWebhookPayload

from conftest import (
    POSTGRES_URL,
    UUID_RE,
    FinlinkEnv,
    FinlinkServer,
    ServerFactory,
    Tenant,
    assert_error_body,
    basic_auth,
    make_sdk,
    start_server,
)
from test_worker_kill import TunedEnv, Worker, start_worker

# The accounting sandbox (mqjo) provides 12 accounting and 2 banking data types.
SANDBOX_TYPES = {
    "company", "chartOfAccounts", "taxRates", "customers", "suppliers", "invoices", "bills",
    "payments", "creditNotes", "journalEntries", "bankAccounts", "bankTransactions",
    "banking-accounts", "banking-transactions",
}
SYNC_TIMEOUT_S = 120.0
FAST_WORKERS = {"FINLINK_WORKERS__POLL_MS": "50", "FINLINK_WORKERS__LEASE_SECS": "5"}
SANDBOX_CLIENT = ("finlink-sandbox", "sandbox-secret")


# --------------------------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture(scope="module")
def sync_server(engine) -> FinlinkServer:
    """`finlink serve` with its workers running (the pulls run by themselves)."""
    factory = ServerFactory(engine)
    try:
        fenv = factory.env()
        key = fenv.cli("keys", "create")
        server = start_server(TunedEnv.of(fenv, **FAST_WORKERS), api_key=key, label="serve-sync", workers=True)
        factory._servers.append(server)  # stopped at teardown
        yield server
    finally:
        factory.close()


@pytest.fixture
def tenant(sync_server) -> Tenant:
    return sync_server.new_tenant()


@pytest.fixture
def sdk(tenant):
    return tenant.sdk


def admin(server: FinlinkServer, method: str, path: str, body: Optional[dict] = None) -> dict:
    r = requests.request(method, server.url("/sandbox" + path), json=body, timeout=30)
    assert r.status_code in (200, 204), f"{method} /sandbox{path}: {r.status_code} {r.text[:300]}"
    return r.json() if r.status_code == 200 else {}


def stats(server: FinlinkServer) -> dict:
    return admin(server, "GET", "/admin/stats")


def requests_of(server: FinlinkServer, data_type: str) -> int:
    return stats(server)["data_requests_by_type"].get(data_type, 0)


def mint(server: FinlinkServer, name: str, data: Optional[Dict[str, int]] = None) -> dict:
    body = {"companyName": name}
    if data:
        body["data"] = data
    return admin(server, "POST", "/admin/mint", body)


def migrated_company(sdk, grant: dict, name: str = "Dummy name") -> tuple:
    """A company holding the grant's tokens through Codat's token migration: (company, connection)."""
    company = sdk.companies.create(request={"name": name})
    conn = sdk.connections.create(request={"company_id": company.id, "request_body": {"platform_key": "mqjo"}})
    linked = sdk.connections.update_authorization(request={
        "company_id": company.id,
        "connection_id": conn.id,
        "request_body": {
            "accessToken": grant["access_token"],
            "refreshToken": grant["refresh_token"],
            "expiresIn": str(grant["expires_in"]),
            "tenantId": grant["tenant_id"],
        },
    })
    assert linked.status == shared.DataConnectionStatus.LINKED
    return company, conn


def statuses(sdk, company_id: str) -> Dict[str, shared.DataStatus]:
    """dataStatus through the SDK, as {dataType: DataStatus}."""
    got = sdk.refresh_data.get(request={"company_id": company_id})
    out = {}
    for name in shared.DataStatuses.model_fields:
        st = getattr(got, name)
        if st is not None:
            out[str(getattr(st.data_type, "value", st.data_type))] = st
    return out


def status_value(s) -> str:
    return str(getattr(s, "value", s))


def wait_for(what: str, check, timeout: float = SYNC_TIMEOUT_S, every: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})", pytrace=False)


def wait_operation(sdk, company_id: str, dataset_id: str, timeout: float = SYNC_TIMEOUT_S) -> shared.PullOperation:
    def ended():
        op = sdk.refresh_data.get_pull_operation(request={"company_id": company_id, "dataset_id": dataset_id})
        return op if (op.is_completed or op.is_errored) else None

    return wait_for(f"pull operation {dataset_id} to end", ended, timeout)


def stored_rows(fenv: FinlinkEnv, sql: str) -> List[tuple]:
    """Rows of a query on finlink's own database (SQLite file or PostgreSQL schema)."""
    if fenv.engine == "sqlite":
        db = sqlite3.connect(f"file:{fenv.data_dir / 'finlink.db'}?mode=ro", uri=True)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()
    out = subprocess.run(
        ["psql", POSTGRES_URL, "-At", "-F", "|", "-c", f'SET search_path TO "{fenv.schema}"; {sql}'],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = [l for l in out.stdout.splitlines() if l and l != "SET"]
    return [tuple(int(x) if x.lstrip("-").isdigit() else x for x in l.split("|")) for l in lines]


# --------------------------------------------------------------------------------------------
# the "View data" workflow


class TestViewData:
    def test_migrated_company_refreshes_to_complete_and_takes_the_platform_name(self, sync_server, tenant, sdk):
        grant = mint(sync_server, "Harbour Lights Trading Ltd")
        company, conn = migrated_company(sdk, grant)

        # A token migration starts no pull.
        time.sleep(0.5)
        assert statuses(sdk, company.id) == {}
        hist = sdk.refresh_data.list_pull_operations(request={"company_id": company.id})
        assert (hist.total_results, hist.results or []) == (0, [])
        r = requests.get(sync_server.url(f"/companies/{company.id}/data/info"), headers=tenant.auth, timeout=30)
        assert_error_body(r, 409)

        assert sdk.refresh_data.all(request={"company_id": company.id}) is None

        def all_complete():
            st = statuses(sdk, company.id)
            done = set(st) == SANDBOX_TYPES and all(
                status_value(s.current_status) == "Complete" for s in st.values()
            )
            return st if done else None

        st = wait_for("every data type Complete", all_complete)
        for t, s in st.items():
            assert s.latest_sync_id and UUID_RE.match(s.latest_sync_id), (t, s)
            assert s.latest_successful_sync_id == s.latest_sync_id, (t, s)
            assert s.last_successful_sync, (t, s)

        hist = sdk.refresh_data.list_pull_operations(request={"company_id": company.id, "page_size": 100})
        assert hist.total_results == len(SANDBOX_TYPES)
        assert {op.data_type for op in hist.results} == SANDBOX_TYPES
        for op in hist.results:
            assert (op.company_id, op.connection_id) == (company.id, conn.id)
            assert status_value(op.status) == "Complete" and op.is_completed and not op.is_errored, op
            assert op.progress == 100 and op.completed, op
        one = sdk.refresh_data.get_pull_operation(
            request={"company_id": company.id, "dataset_id": hist.results[0].id}
        )
        assert one.id == hist.results[0].id and one.data_type == hist.results[0].data_type
        page = sdk.refresh_data.list_pull_operations(request={
            "company_id": company.id, "page": 2, "page_size": 5, "query": "status=Complete", "order_by": "dataType",
        })
        assert page.total_results == len(SANDBOX_TYPES) and len(page.results) == 5
        assert {op.data_type for op in page.results} <= SANDBOX_TYPES
        with pytest.raises(errors.ErrorMessage) as ei:
            sdk.refresh_data.list_pull_operations(request={"company_id": company.id, "query": "isCompleted=true"})
        assert ei.value.status_code == 400 and "isCompleted" in ei.value.data.error

        # data/info gives the platform's name; it replaces the dummy one.
        r = requests.get(sync_server.url(f"/companies/{company.id}/data/info"), headers=tenant.auth, timeout=30)
        assert r.status_code == 200, r.text
        info = r.json()
        assert info["companyName"] == "Harbour Lights Trading Ltd", info
        assert info.get("baseCurrency"), info
        renamed = sdk.companies.update(
            request={"company_id": company.id, "company_update_request": {"name": info["companyName"]}}
        )
        assert renamed.name == "Harbour Lights Trading Ltd" and renamed.last_sync
        replaced = sdk.companies.replace(
            request={"company_id": company.id, "company_request_body": {"name": info["companyName"]}}
        )
        assert replaced.name == info["companyName"]

        # One data type on its own: a PullOperation at once, then Complete (incremental).
        op = sdk.refresh_data.by_data_type(request={
            "company_id": company.id, "data_type": shared.SchemaDataType.INVOICES, "connection_id": conn.id,
        })
        assert (op.data_type, op.company_id, op.connection_id) == ("invoices", company.id, conn.id)
        assert isinstance(op.progress, int) and not op.is_completed
        assert status_value(wait_operation(sdk, company.id, op.id).status) == "Complete"

        # The events, in the shape of the SDK's ReadCompletedWebhookPayload.
        ev = requests.get(
            sync_server.url("/events"), params={"eventType": "read.completed", "pageSize": 10},
            headers=tenant.auth, timeout=30,
        ).json()["results"]
        assert len(ev) == 2, ev
        payloads = [ReadCompletedWebhookPayload.model_validate(e["payload"]) for e in ev]
        newest, first = payloads
        assert {d.data_type for d in first.data_types} == SANDBOX_TYPES
        assert [d.data_type for d in newest.data_types] == ["invoices"]
        assert newest.reference_company.id == company.id and newest.modified_from_date
        assert all(status_value(d.status) == "Complete" for d in first.data_types)

    def test_bad_requests(self, sync_server, tenant, sdk):
        company = sdk.companies.create(request={"name": "No Links Ltd"})
        # No Linked connection: 400, listed for data/all and data/queue.
        with pytest.raises(errors.ErrorMessage) as ei:
            sdk.refresh_data.all(request={"company_id": company.id})
        assert ei.value.status_code == 400 and "no Linked connection" in ei.value.data.error
        with pytest.raises(errors.ErrorMessage) as ei:
            sdk.refresh_data.by_data_type(request={"company_id": company.id, "data_type": "invoices"})
        assert ei.value.status_code == 400
        missing = "00000000-0000-4000-8000-000000000000"
        for call, req in [
            (sdk.refresh_data.all, {"company_id": missing}),
            (sdk.refresh_data.get, {"company_id": missing}),
            (sdk.refresh_data.list_pull_operations, {"company_id": missing}),
            (sdk.refresh_data.get_pull_operation, {"company_id": company.id, "dataset_id": missing}),
        ]:
            with pytest.raises(errors.ErrorMessage) as ei:
                call(request=req)
            assert ei.value.status_code == 404, (call, ei.value.body)

        # A platform without the data type; an unknown data type (raw: the SDK checks its enum).
        grant = mint(sync_server, "Items Ltd")
        linked, _ = migrated_company(sdk, grant)
        with pytest.raises(errors.ErrorMessage) as ei:
            sdk.refresh_data.by_data_type(request={"company_id": linked.id, "data_type": "items"})
        assert ei.value.status_code == 400 and "not supported" in ei.value.data.error
        r = requests.post(
            sync_server.url(f"/companies/{linked.id}/data/queue/widgets"), headers=tenant.auth, timeout=30
        )
        assert "not a data type" in assert_error_body(r, 400)["error"]

        # A data type already queued or running: Codat's DatasetAlreadyInProgressException. The
        # sandbox is made slow to answer (rate limited for a while) so the first pull is still on.
        admin(sync_server, "POST", "/admin/data-failures",
              {"kind": "rateLimited", "type": "suppliers", "count": 3, "retryAfter": 1})
        op = sdk.refresh_data.by_data_type(request={"company_id": linked.id, "data_type": "suppliers"})
        with pytest.raises(errors.ErrorMessage) as ei:
            sdk.refresh_data.by_data_type(request={"company_id": linked.id, "data_type": "suppliers"})
        assert ei.value.status_code == 400, ei.value.body
        assert "DatasetAlreadyInProgressException" in ei.value.data.error and op.id in ei.value.data.error
        assert status_value(wait_operation(sdk, linked.id, op.id).status) == "Complete"


# --------------------------------------------------------------------------------------------
# faults


class TestFaults:
    def test_rate_limited_and_failing_pages_are_retried(self, sync_server, tenant, sdk):
        grant = mint(sync_server, "Faulty Ltd", {"invoices": 3500, "bills": 3500})
        company, conn = migrated_company(sdk, grant)
        admin(sync_server, "POST", "/admin/data-failures",
              {"kind": "rateLimited", "type": "invoices", "page": 2, "retryAfter": 1})
        before = requests_of(sync_server, "invoices")
        started = time.monotonic()
        op = sdk.refresh_data.by_data_type(request={"company_id": company.id, "data_type": "invoices"})
        done = wait_operation(sdk, company.id, op.id)
        assert status_value(done.status) == "Complete" and done.progress == 100, done
        assert time.monotonic() - started >= 1.0, "Retry-After was waited"
        assert requests_of(sync_server, "invoices") - before == 5, "4 pages, page 2 twice"

        admin(sync_server, "POST", "/admin/data-failures", {"kind": "serverError", "type": "bills", "page": 3})
        before = requests_of(sync_server, "bills")
        op = sdk.refresh_data.by_data_type(request={"company_id": company.id, "data_type": "bills"})
        done = wait_operation(sdk, company.id, op.id)
        assert status_value(done.status) == "Complete", done
        assert requests_of(sync_server, "bills") - before == 5, "4 pages, page 3 twice"
        rows = stored_rows(sync_server.fenv,
                           f"SELECT COUNT(*) FROM data_records WHERE connection_id = '{conn.id}' "
                           f"AND data_type IN ('invoices', 'bills')")
        assert rows == [(7000,)], rows

    def test_grant_revoked_mid_pull_is_an_auth_error_and_deauthorizes(self, sync_server, tenant, sdk):
        grant = mint(sync_server, "Revoked Ltd", {"invoices": 40000})
        company, conn = migrated_company(sdk, grant)
        op = sdk.refresh_data.by_data_type(request={"company_id": company.id, "data_type": "invoices"})

        def fetching():
            o = sdk.refresh_data.get_pull_operation(request={"company_id": company.id, "dataset_id": op.id})
            return o if o.progress > 0 else None

        mid = wait_for("the pull to have stored a page", fetching, every=0.02)
        assert not mid.is_completed, mid
        # The business revokes finlink's access at the platform.
        r = requests.post(
            sync_server.url("/sandbox/oauth/revoke"),
            data={"token": grant["refresh_token"], "token_type_hint": "refresh_token"},
            auth=SANDBOX_CLIENT, timeout=30,
        )
        assert r.status_code == 200, r.text
        done = wait_operation(sdk, company.id, op.id)
        assert status_value(done.status) == "AuthError" and done.is_errored, done
        assert "invalid_grant" in (done.error_message or ""), done
        c = sdk.connections.get(request={"company_id": company.id, "connection_id": conn.id})
        assert c.status == shared.DataConnectionStatus.DEAUTHORIZED, c
        rows = stored_rows(sync_server.fenv,
                           f"SELECT COUNT(*) FROM data_records WHERE connection_id = '{conn.id}'")
        assert 0 < rows[0][0] < 40000, f"the pages before the revocation are kept: {rows}"
        failed = requests.get(
            sync_server.url("/events"), params={"eventType": "connection.failed"}, headers=tenant.auth, timeout=30
        ).json()
        assert failed["totalResults"] == 1, failed
        for t in (grant["access_token"], grant["refresh_token"]):
            assert t not in (done.error_message or "")


# --------------------------------------------------------------------------------------------
# a worker killed mid-pull


BIG_INVOICES = 120_000  # 120 pages of 1000


def test_killed_worker_resumes_from_the_last_stored_page(server_factory: ServerFactory):
    base = server_factory.env()
    key = base.cli("keys", "create")
    server = start_server(base, api_key=key, label="serve-kill")  # no workers in serve
    server_factory._servers.append(server)
    sdk = make_sdk(server.base_url, key)
    grant = mint(server, "Big Books Ltd", {"invoices": BIG_INVOICES})
    company, conn = migrated_company(sdk, grant)
    workers_env = TunedEnv.of(base, FINLINK_PUBLIC_URL=server.base_url, **FAST_WORKERS)

    before = requests_of(server, "invoices")
    op = sdk.refresh_data.by_data_type(request={"company_id": company.id, "data_type": "invoices"})
    workers: List[Worker] = [start_worker(workers_env, "worker-a")]
    try:
        def progressed():
            o = sdk.refresh_data.get_pull_operation(request={"company_id": company.id, "dataset_id": op.id})
            return o if o.progress >= 15 else None

        mid = wait_for("the pull to be well under way", progressed, every=0.02)
        assert not mid.is_completed, "the pull ended before the kill: make it bigger"
        workers.pop().kill()  # SIGKILL
        (resume_page, records_at_kill), = stored_rows(
            base, f"SELECT resume_page, records FROM datasets WHERE id = '{op.id}'")
        fetched_at_kill = requests_of(server, "invoices") - before
        assert resume_page > 1 and records_at_kill == (resume_page - 1) * 1000, (resume_page, records_at_kill)
        assert fetched_at_kill in (resume_page - 1, resume_page), (fetched_at_kill, resume_page)

        workers.append(start_worker(workers_env, "worker-b"))
        done = wait_operation(sdk, company.id, op.id, timeout=300)
        assert status_value(done.status) == "Complete", done
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait()

    pages = BIG_INVOICES // 1000
    fetched = requests_of(server, "invoices") - before
    # Every page once, and the one in flight at the kill at most twice: the pages stored before
    # the kill are not fetched again.
    assert pages <= fetched <= pages + 1, (fetched, pages, resume_page)
    assert fetched - fetched_at_kill == pages - (resume_page - 1), (fetched, fetched_at_kill, resume_page)
    rows = stored_rows(base, f"SELECT COUNT(*), COUNT(DISTINCT record_id) FROM data_records "
                             f"WHERE connection_id = '{conn.id}' AND data_type = 'invoices'")
    assert rows == [(BIG_INVOICES, BIG_INVOICES)], rows
    (records,), = stored_rows(base, f"SELECT records FROM datasets WHERE id = '{op.id}'")
    assert records == BIG_INVOICES, "every page counted once"
