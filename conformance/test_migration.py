"""Token migration through the official clients, on both engines.

* Codat: ``connections.update_authorization`` (``PUT /companies/{id}/connections/{id}/authorization``)
  with the official ``codat-platform`` 6.0.0 SDK, plus ``GET /audit`` (a finlink addition).
* Apideck: the official ``apideck-unify`` SDK's Vault import, connection get/list/delete,
  validate, and consumer methods, pointed at finlink.
* The built-in sandbox OAuth server that finlink serves under ``/sandbox``: grants minted with
  ``POST /sandbox/admin/mint`` are migrated, then refreshed through Vault's validate; the sandbox
  rotates refresh tokens and rejects reuse, so a second validate proves the rotated token was stored.
* Secrets: the module's server logs at ``debug``; the last test searches its output and its
  database (the SQLite files, or a dump of the PostgreSQL schema) for every token the tests used.

The module has its own server per engine (the ``server`` fixture is overridden here) so the
log and the database searched at the end hold this module's traffic only.
"""

from __future__ import annotations

import json
import re
import secrets as _secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Dict, Iterable, List, Optional, Set

import pytest
import requests

from apideck_unify import Apideck
from apideck_unify import models as am
from apideck_unify.utils import RetryConfig as ApideckRetryConfig
from codat_platform.models import errors, shared

from conftest import (
    POSTGRES_URL,
    UUID_RE,
    FinlinkEnv,
    FinlinkServer,
    ServerFactory,
    Tenant,
    assert_error_body,
)

MISSING_ID = "00000000-0000-4000-8000-0000000000aa"
HEX32_RE = re.compile(r"^[0-9a-f]{32}$")
MINT_KEYS = {
    "access_token",
    "refresh_token",
    "token_type",
    "expires_in",
    "expires_at",
    "issued_at",
    "scope",
    "tenant_id",
    "company_name",
}


# --------------------------------------------------------------------------------------------
# fixtures


class VerboseEnv(FinlinkEnv):
    """A FinlinkEnv whose processes log at debug: secrets must stay out of even that log."""

    def env(self, **extra: str) -> Dict[str, str]:
        e = super().env(**extra)
        e["FINLINK_LOG"] = "debug"
        return e


@pytest.fixture(scope="module")
def server(engine) -> FinlinkServer:
    """This module's own server per engine, logging at debug (overrides conftest's)."""
    factory = ServerFactory(engine)
    fenv = VerboseEnv.create(engine)
    factory._envs.append(fenv)  # cleaned up (schema dropped, dir removed) with the factory
    try:
        yield factory.start(fenv)
    finally:
        factory.close()


@pytest.fixture(scope="module")
def used_tokens(server) -> Set[str]:
    """Every token value a test of this module sent (or had minted), per server."""
    return set()


@pytest.fixture
def token(used_tokens):
    """Makes a fresh, unmistakable token value and records it for the secrets check."""

    def make(kind: str) -> str:
        value = f"{kind}-{_secrets.token_urlsafe(24)}"
        used_tokens.add(value)
        return value

    return make


class Sandbox:
    """The sandbox's test-control API, served by the running finlink under /sandbox/admin."""

    def __init__(self, base_url: str, used_tokens: Set[str]):
        self.base_url = base_url
        self.used_tokens = used_tokens

    def _check(self, r: requests.Response, what: str) -> dict:
        if r.status_code != 200:
            pytest.fail(
                f"{what} answered {r.status_code} (is the sandbox mounted under /sandbox?): {r.text[:400]}",
                pytrace=False,
            )
        assert r.headers.get("Content-Type", "").startswith("application/json"), (what, r.headers)
        return r.json()

    def mint(self, company_name: str = "Acme") -> dict:
        r = requests.post(self.base_url + "/sandbox/admin/mint", json={"companyName": company_name}, timeout=30)
        g = self._check(r, "POST /sandbox/admin/mint")
        for k in ("access_token", "refresh_token"):
            if isinstance(g.get(k), str) and g[k]:
                self.used_tokens.add(g[k])
        assert MINT_KEYS <= set(g), f"mint response lacks {MINT_KEYS - set(g)}: keys {sorted(g)}"
        assert isinstance(g["access_token"], str) and len(g["access_token"]) >= 16, g.keys()
        assert isinstance(g["refresh_token"], str) and len(g["refresh_token"]) >= 16
        assert g["access_token"] != g["refresh_token"]
        assert str(g["token_type"]).lower() == "bearer", g["token_type"]
        assert isinstance(g["expires_in"], int) and g["expires_in"] > 0, g["expires_in"]
        assert isinstance(g["tenant_id"], str) and g["tenant_id"], g["tenant_id"]
        assert g["company_name"] == company_name, g["company_name"]
        as_datetime(g["issued_at"])
        as_datetime(g["expires_at"])
        return g

    def stats(self) -> dict:
        s = self._check(requests.get(self.base_url + "/sandbox/admin/stats", timeout=30), "GET /sandbox/admin/stats")
        assert isinstance(s.get("refresh_requests"), int), s
        return s

    def refresh_requests(self) -> int:
        return self.stats()["refresh_requests"]

    def inject_failure(self, kind: str, count: int = 1) -> None:
        r = requests.post(
            self.base_url + "/sandbox/admin/failures", json={"kind": kind, "count": count}, timeout=30
        )
        assert r.status_code in (200, 204), f"POST /sandbox/admin/failures answered {r.status_code}: {r.text[:400]}"


@pytest.fixture
def sandbox(server, used_tokens) -> Sandbox:
    return Sandbox(server.base_url, used_tokens)


# --------------------------------------------------------------------------------------------
# helpers


def as_datetime(v) -> datetime:
    """An RFC 3339 string or a unix time (seconds or milliseconds) as an aware datetime."""
    if isinstance(v, str):
        d = datetime.fromisoformat(v.replace("Z", "+00:00"))
        assert d.tzinfo is not None, f"timestamp without a zone: {v!r}"
        return d
    assert isinstance(v, (int, float)) and not isinstance(v, bool), f"not a timestamp: {v!r}"
    return datetime.fromtimestamp(v / 1000 if v > 1e11 else v, tz=timezone.utc)


def assert_no_tokens(text: str, tokens: Iterable[str], where: str) -> None:
    leaked = [t for t in tokens if t and t in text]
    assert not leaked, f"{where} contains token text: {[t[:12] + '...' for t in leaked]}"


def mk_company(sdk, name: str) -> shared.Company:
    return sdk.companies.create(request={"name": name})


def mk_connection(sdk, company_id: str, key: str = "mqjo") -> shared.Connection:
    return sdk.connections.create(request={"company_id": company_id, "request_body": {"platform_key": key}})


def migrate(sdk, company_id: str, connection_id: str, body: Optional[Dict[str, str]]) -> shared.Connection:
    req = {"company_id": company_id, "connection_id": connection_id}
    if body is not None:
        req["request_body"] = body
    return sdk.connections.update_authorization(request=req)


def get_conn(sdk, company_id: str, connection_id: str) -> shared.Connection:
    return sdk.connections.get(request={"company_id": company_id, "connection_id": connection_id})


def expect_migrate_400(sdk, company_id: str, connection_id: str, body, field: Optional[str], tokens=()) -> dict:
    """400 is not listed for update_authorization in SDK 6.0.0: SDKError, with a Codat body naming the field."""
    with pytest.raises(errors.SDKError) as ei:
        migrate(sdk, company_id, connection_id, body)
    e = ei.value
    assert e.status_code == 400, f"expected 400 for {sorted(body or {})}, got {e.status_code}: {e.body}"
    d = json.loads(e.body)
    assert d["statusCode"] == 400 and d["service"] and HEX32_RE.match(d["correlationId"]), d
    if field is not None:
        assert field in d["error"], f"the error does not name {field!r}: {d['error']}"
    assert_no_tokens(e.body, tokens, "the 400 body")
    return d


def expect_error_message(status: int, fn, *args, **kwargs) -> errors.ErrorMessage:
    with pytest.raises(errors.ErrorMessage) as ei:
        fn(*args, **kwargs)
    e = ei.value
    assert e.status_code == status, f"expected {status}, got {e.status_code}: {e.body}"
    assert e.data.status_code == status and e.data.error, e.body
    assert e.data.correlation_id and HEX32_RE.match(e.data.correlation_id), e.body
    return e


def audit(tenant: Tenant) -> requests.Response:
    r = requests.get(tenant.base_url + "/audit", headers=tenant.auth, timeout=30)
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    for k in ("results", "pageNumber", "pageSize", "totalResults", "_links"):
        assert k in body, body
    return r


def audit_records(tenant: Tenant, action: Optional[str] = None, connection_id: Optional[str] = None) -> List[dict]:
    out = []
    for rec in audit(tenant).json()["results"]:
        if action is not None and rec["action"] != action:
            continue
        if connection_id is not None and rec.get("connectionId") != connection_id:
            continue
        out.append(rec)
    return out


def api_key_id(sdk) -> str:
    (key,) = sdk.settings.list_api_keys().results
    return key.id


def apideck(tenant: Tenant, consumer_id: Optional[str] = "account:1", api_key: Optional[str] = None) -> Apideck:
    """The official Apideck SDK pointed at finlink, retries off."""
    return Apideck(
        api_key=api_key or tenant.api_key,
        app_id="x",
        consumer_id=consumer_id,
        server_url=tenant.base_url,
        retry_config=ApideckRetryConfig("none", None, False),
    )


def vault_import(ad: Apideck, access: str, refresh: Optional[str], *, issued_at=None, expires_in=None,
                 settings=None, metadata=None, service_id: str = "sandbox", unified_api: str = "accounting"):
    creds = {"access_token": access}
    if refresh is not None:
        creds["refresh_token"] = refresh
    if issued_at is not None:
        creds["issued_at"] = issued_at
    if expires_in is not None:
        creds["expires_in"] = expires_in
    kwargs = {}
    if settings is not None:
        kwargs["settings"] = settings
    if metadata is not None:
        kwargs["metadata"] = metadata
    return ad.vault.connections.imports(service_id=service_id, unified_api=unified_api, credentials=creds, **kwargs)


def vault_get(ad: Apideck, service_id: str = "sandbox", unified_api: str = "accounting"):
    return ad.vault.connections.get(service_id=service_id, unified_api=unified_api)


def validate_sdk(ad: Apideck) -> dict:
    """Vault's validate through the SDK; returns the raw `data` (finlink adds `refresh` and `message`)."""
    res = ad.vault.validate_connection.state(service_id="sandbox", unified_api="accounting")
    parsed = res.validate_connection_state_response
    assert parsed is not None and parsed.status_code == 200, res
    raw = res.http_meta.response.json()["data"]
    assert parsed.data.id == raw["id"] and parsed.data.state == raw["state"], (parsed, raw)
    return raw


def validate_raw(tenant: Tenant, consumer_id: str) -> requests.Response:
    """Vault's validate with plain requests, the headers an Apideck client sends."""
    return requests.post(
        tenant.base_url + "/vault/connections/accounting/sandbox/validate",
        headers={
            "Authorization": "Bearer " + tenant.api_key,
            "x-apideck-app-id": "x",
            "x-apideck-consumer-id": consumer_id,
        },
        timeout=60,
    )


def expect_apideck_error(status: int, cls, fn, *args, **kwargs):
    with pytest.raises(am.ApideckError) as ei:
        fn(*args, **kwargs)
    e = ei.value
    assert e.status_code == status, f"expected {status}, got {e.status_code}: {e.body}"
    if cls is not None:
        assert isinstance(e, cls), f"expected {cls.__name__}, got {type(e).__name__}: {e.body}"
        assert e.data.message or e.data.error, e.body
    body = json.loads(e.body)
    assert body.get("status_code") == status, body
    assert body.get("error") and body.get("message"), body
    return e


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


# --------------------------------------------------------------------------------------------
# Codat: update_authorization


class TestCodatUpdateAuthorization:
    def test_migrates_links_and_remigration_keeps_the_id(self, tenant, sdk, token):
        company = mk_company(sdk, "Migrate Co")
        conn = mk_connection(sdk, company.id)
        assert conn.status == shared.DataConnectionStatus.PENDING_AUTH
        at, rt = token("at"), token("rt")

        r = migrate(sdk, company.id, conn.id, {"accessToken": at, "refreshToken": rt, "expiresIn": "1800", "tenantId": "tenant-42"})
        assert r.id == conn.id
        assert r.status == shared.DataConnectionStatus.LINKED
        assert r.platform_name == "Sandbox" and r.integration_key in (None, "mqjo")
        assert r.source_type == shared.SourceType.ACCOUNTING
        assert r.created == conn.created and r.link_url == conn.link_url
        assert (r.connection_info or {}).get("tenantId") == "tenant-42", r.connection_info
        assert_no_tokens(r.model_dump_json(), (at, rt), "the migrated Connection")

        g = get_conn(sdk, company.id, conn.id)
        assert (g.id, g.status) == (conn.id, shared.DataConnectionStatus.LINKED)
        assert (g.connection_info or {}).get("tenantId") == "tenant-42"
        assert_no_tokens(g.model_dump_json(), (at, rt), "GET connection")
        c = sdk.companies.get(request={"company_id": company.id})
        assert [(x.id, x.status) for x in c.data_connections] == [(conn.id, shared.DataConnectionStatus.LINKED)]
        linked = sdk.connections.list(request={"company_id": company.id, "query": "status=Linked"})
        assert [x.id for x in linked.results] == [conn.id]

        # Re-migration: new tokens, same connection.
        at2, rt2 = token("at"), token("rt")
        r2 = migrate(sdk, company.id, conn.id, {"accessToken": at2, "refreshToken": rt2, "expiresIn": "3600"})
        assert (r2.id, r2.status) == (conn.id, shared.DataConnectionStatus.LINKED)
        listed = sdk.connections.list(request={"company_id": company.id})
        assert listed.total_results == 1 and [x.id for x in listed.results] == [conn.id]

        # Both migrations are audited, by this API key, without token text.
        resp = audit(tenant)
        assert_no_tokens(resp.text, (at, rt, at2, rt2), "GET /audit")
        recs = audit_records(tenant, "connection.migrate", conn.id)
        assert len(recs) == 2, recs
        key = api_key_id(sdk)
        for rec in recs:
            assert rec["actor"] == f"apiKey:{key}", rec
            assert rec["companyId"] == company.id and rec["outcome"] == "success", rec
            as_datetime(rec["at"])

    def test_optional_oauth_fields(self, sdk, token):
        company = mk_company(sdk, "Fields Co")
        conn = mk_connection(sdk, company.id)
        issued = (now_utc() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        expires = (now_utc() + timedelta(minutes=55)).strftime("%Y-%m-%dT%H:%M:%SZ")
        r = migrate(sdk, company.id, conn.id, {
            "accessToken": token("at"), "refreshToken": token("rt"), "issuedAt": issued, "expiresAt": expires,
            "tokenType": "Bearer", "scope": "accounting.read offline_access",
        })
        assert (r.id, r.status) == (conn.id, shared.DataConnectionStatus.LINKED)
        # No expiry at all is accepted too (the token is refreshed before first use).
        other_company = mk_company(sdk, "No Expiry Co")
        other = mk_connection(sdk, other_company.id)
        r = migrate(sdk, other_company.id, other.id, {"accessToken": token("at"), "refreshToken": token("rt")})
        assert (r.id, r.status) == (other.id, shared.DataConnectionStatus.LINKED)

    def test_bad_input_leaves_a_pending_connection_pending(self, tenant, sdk, token):
        company = mk_company(sdk, "Bad Input Co")
        conn = mk_connection(sdk, company.id)
        at, rt = token("at"), token("rt")
        cases = [
            ({"accessToken": at, "refreshToken": rt, "realmId": "123145"}, "realmId"),
            ({"accessToken": at, "expiresIn": "1800"}, "refreshToken"),
            ({"refreshToken": rt}, "accessToken"),
            ({"accessToken": at, "refreshToken": rt, "expiresIn": "soon"}, "expiresIn"),
            ({"accessToken": at, "refreshToken": rt, "expiresIn": "1800", "expiresAt": "2030-01-01T00:00:00Z"}, "expiresAt"),
            ({"accessToken": at, "refreshToken": rt, "issuedAt": "yesterday"}, "issuedAt"),
        ]
        for body, field in cases:
            expect_migrate_400(sdk, company.id, conn.id, body, field, (at, rt))
        # No body at all (the SDK sends an empty request body) and an empty object.
        expect_migrate_400(sdk, company.id, conn.id, None, None)
        expect_migrate_400(sdk, company.id, conn.id, {}, "accessToken")
        g = get_conn(sdk, company.id, conn.id)
        assert g.status == shared.DataConnectionStatus.PENDING_AUTH, g.status
        assert not g.connection_info, g.connection_info
        assert not audit_records(tenant, "connection.migrate", conn.id)

    def test_bad_input_leaves_a_linked_connection_as_it_was(self, tenant, sdk, token):
        company = mk_company(sdk, "Linked Co")
        conn = mk_connection(sdk, company.id)
        at, rt = token("at"), token("rt")
        migrate(sdk, company.id, conn.id, {"accessToken": at, "refreshToken": rt, "expiresIn": "1800", "tenantId": "orig-tenant"})
        before = get_conn(sdk, company.id, conn.id)
        at2, rt2 = token("at"), token("rt")
        expect_migrate_400(sdk, company.id, conn.id,
                           {"accessToken": at2, "refreshToken": rt2, "tenantId": "evil-tenant", "realmId": "1"}, "realmId", (at2, rt2))
        expect_migrate_400(sdk, company.id, conn.id, {"accessToken": at2, "tenantId": "evil-tenant"}, "refreshToken", (at2,))
        expect_migrate_400(sdk, company.id, conn.id,
                           {"accessToken": at2, "refreshToken": rt2, "tenantId": "evil-tenant", "expiresIn": "0"}, "expiresIn")
        after = get_conn(sdk, company.id, conn.id)
        assert after.status == shared.DataConnectionStatus.LINKED
        assert after.connection_info == before.connection_info, (before.connection_info, after.connection_info)
        assert (after.connection_info or {}).get("tenantId") == "orig-tenant"
        assert len(audit_records(tenant, "connection.migrate", conn.id)) == 1

    def test_unknown_ids_are_404(self, server, tenant, sdk, token):
        company = mk_company(sdk, "Ids Co")
        conn = mk_connection(sdk, company.id)
        body = {"accessToken": token("at"), "refreshToken": token("rt"), "expiresIn": "1800"}
        expect_error_message(404, migrate, sdk, company.id, MISSING_ID, body)
        expect_error_message(404, migrate, sdk, MISSING_ID, conn.id, body)
        # Another client cannot migrate onto this client's connection, even with its own company.
        other = server.new_tenant().sdk
        expect_error_message(404, migrate, other, company.id, conn.id, body)
        own = mk_company(other, "Other Co")
        expect_error_message(404, migrate, other, own.id, conn.id, body)
        assert get_conn(sdk, company.id, conn.id).status == shared.DataConnectionStatus.PENDING_AUTH
        # A deleted connection is gone for migration too.
        sdk.connections.delete(request={"company_id": company.id, "connection_id": conn.id})
        expect_error_message(404, migrate, sdk, company.id, conn.id, body)

    def test_non_string_values_are_400_raw(self, tenant, token):
        """The SDK cannot send a non-string value (Dict[str, str]); a raw client can."""
        h = tenant.auth
        company = requests.post(tenant.base_url + "/companies", json={"name": "Raw Co"}, headers=h, timeout=30).json()
        conn = requests.post(f"{tenant.base_url}/companies/{company['id']}/connections", json={"platformKey": "mqjo"},
                             headers=h, timeout=30).json()
        url = f"{tenant.base_url}/companies/{company['id']}/connections/{conn['id']}/authorization"
        rt = token("rt")
        for payload, field in (({"accessToken": 5, "refreshToken": rt}, "accessToken"),
                               ({"accessToken": token("at"), "refreshToken": rt, "expiresIn": 1800}, "expiresIn")):
            r = requests.put(url, json=payload, headers=h, timeout=30)
            body = assert_error_body(r, 400)
            assert field in body["error"], body
            assert_no_tokens(r.text, (rt,), "the 400 body")
        r = requests.put(url, json=["accessToken"], headers=h, timeout=30)
        assert_error_body(r, 400)
        g = requests.get(f"{tenant.base_url}/companies/{company['id']}/connections/{conn['id']}", headers=h, timeout=30)
        assert g.json()["status"] == "PendingAuth", g.text


# --------------------------------------------------------------------------------------------
# Apideck: the official SDK's Vault import and connection/consumer methods


class TestApideckImport:
    def test_import_get_list_and_reimport(self, tenant, sdk, token):
        ad = apideck(tenant)
        at, rt = token("at"), token("rt")
        issued = (now_utc() - timedelta(seconds=60)).replace(microsecond=0)
        res = vault_import(ad, at, rt, issued_at=issued, expires_in=3600,
                           settings={"tenant_id": "imp-tenant"}, metadata={"plan": "gold"})
        env = res.create_connection_response
        assert env is not None and env.status_code == 200, res
        d = env.data
        assert d.state == "callable", d.state
        assert (d.service_id, d.unified_api, d.auth_type) == ("sandbox", "accounting", "oauth2")
        assert d.id and UUID_RE.match(d.id), d.id
        assert "imp-tenant" in (d.settings or {}).values(), d.settings
        raw = res.http_meta.response.json()["data"]
        assert_no_tokens(res.http_meta.response.text, (at, rt), "the import response")
        # finlink's extra: when the imported token expires (issued_at + expires_in seconds).
        want_ms = int((issued + timedelta(seconds=3600)).timestamp() * 1000)
        assert abs(raw["token_expires_at"] - want_ms) <= 1000, (raw["token_expires_at"], want_ms)

        # The same connection through the Codat API: Linked, on the consumer's company.
        codat = get_conn(sdk, raw["company_id"], d.id)
        assert codat.status == shared.DataConnectionStatus.LINKED and codat.platform_name == "Sandbox"
        assert (codat.connection_info or {}).get("tenantId") == "imp-tenant", codat.connection_info

        got = vault_get(ad).get_connection_response.data
        assert (got.id, got.state, got.service_id) == (d.id, "callable", "sandbox")
        listed = ad.vault.connections.list(api="accounting").get_connections_response.data
        assert [(c.id, c.state) for c in listed] == [(d.id, "callable")]

        # Re-import: new tokens onto the same connection (an upsert per consumer + service).
        at2, rt2 = token("at"), token("rt")
        res2 = vault_import(ad, at2, rt2, issued_at=now_utc().replace(microsecond=0), expires_in=3600)
        d2 = res2.create_connection_response.data
        assert (d2.id, d2.state) == (d.id, "callable")
        assert "imp-tenant" in (d2.settings or {}).values(), "re-import without settings dropped them"
        assert len(ad.vault.connections.list().get_connections_response.data) == 1
        recs = audit_records(tenant, "connection.import", d.id)
        assert len(recs) == 2 and all(r["actor"] == f"apiKey:{api_key_id(sdk)}" for r in recs), recs
        assert_no_tokens(audit(tenant).text, (at, rt, at2, rt2), "GET /audit")

    def test_import_without_expiry_is_callable(self, tenant, token):
        ad = apideck(tenant, consumer_id="account:noexp")
        d = vault_import(ad, token("at"), token("rt")).create_connection_response.data
        assert (d.state, d.service_id) == ("callable", "sandbox")

    def test_bad_import_is_refused_and_leaves_the_connection(self, server, tenant, token):
        ad = apideck(tenant)
        at, rt = token("at"), token("rt")
        issued = now_utc().replace(microsecond=0)
        first = vault_import(ad, at, rt, issued_at=issued, expires_in=3600, settings={"tenant_id": "orig"})
        before = first.http_meta.response.json()["data"]
        at2, rt2 = token("at"), token("rt")

        e = expect_apideck_error(400, am.BadRequestResponse, vault_import, ad, at2, None, settings={"tenant_id": "evil"})
        assert "refresh_token" in e.body, e.body
        assert_no_tokens(e.body, (at2,), "the 400 body")
        e = expect_apideck_error(400, am.BadRequestResponse, vault_import, ad, at2, rt2,
                                 issued_at=issued, expires_in=-5, settings={"tenant_id": "evil"})
        assert "expires_in" in e.body, e.body
        e = expect_apideck_error(400, am.BadRequestResponse, vault_import, ad, at2, rt2,
                                 settings={"tenant_id": {"nested": "object"}})
        assert "tenant_id" in e.body, e.body
        expect_apideck_error(400, am.BadRequestResponse, vault_import, ad, at2, rt2, settings={"realm_id": "1"})
        expect_apideck_error(404, am.NotFoundResponse, vault_import, ad, at2, rt2, service_id="no-such-service")
        expect_apideck_error(400, am.BadRequestResponse, vault_import, ad, at2, rt2, unified_api="crm")
        assert_no_tokens(json.dumps(before), (at, rt, at2, rt2), "the import response")

        after = vault_get(ad).http_meta.response.json()["data"]
        for k in ("id", "state", "settings", "token_expires_at", "updated_at"):
            assert after[k] == before[k], (k, before[k], after[k])

        # No consumer id anywhere: 400 naming the header.
        e = expect_apideck_error(400, am.BadRequestResponse, vault_import, apideck(tenant, consumer_id=None), at2, rt2)
        assert "x-apideck-consumer-id" in e.body, e.body
        # A wrong API key: 401.
        expect_apideck_error(401, am.UnauthorizedResponse, vault_import, apideck(tenant, api_key="A" * 48), at2, rt2)
        # Another client's key sees no such consumer.
        other = apideck(server.new_tenant())
        expect_apideck_error(404, am.NotFoundResponse, vault_get, other)

    def test_consumer_methods(self, tenant, token):
        ad = apideck(tenant, consumer_id="account:7")
        d = vault_import(ad, token("at"), token("rt"), issued_at=now_utc(), expires_in=3600).create_connection_response.data
        c = ad.vault.consumers.get(consumer_id="account:7").get_consumer_response.data
        assert c.consumer_id == "account:7"
        assert [(x.id, x.service_id, x.unified_api) for x in c.connections] == [(d.id, "sandbox", "accounting")]
        made = ad.vault.consumers.create(consumer_id="account:8", metadata={"account_name": "Eight Ltd"})
        m = made.create_consumer_response.data
        assert m.consumer_id == "account:8"
        g = ad.vault.consumers.get(consumer_id="account:8").get_consumer_response.data
        assert g.consumer_id == "account:8" and g.metadata.account_name == "Eight Ltd" and not g.connections
        page = ad.vault.consumers.list()
        ids = {x.consumer_id for x in page.get_consumers_response.data}
        assert ids == {"account:7", "account:8"}, ids
        expect_apideck_error(404, am.NotFoundResponse, ad.vault.consumers.get, consumer_id="account:404")

    def test_consumer_connection_state_uses_apideck_states(self, tenant, token):
        """Consumer.connections[].state is Apideck's ConnectionState (available/added/authorized/callable/invalid)."""
        ad = apideck(tenant, consumer_id="account:9")
        vault_import(ad, token("at"), token("rt"), issued_at=now_utc(), expires_in=3600)
        c = ad.vault.consumers.get(consumer_id="account:9").get_consumer_response.data
        assert [x.state for x in c.connections] == ["callable"], [x.state for x in c.connections]

    def test_delete_connection(self, tenant, sdk, token):
        ad = apideck(tenant)
        res = vault_import(ad, token("at"), token("rt"), issued_at=now_utc(), expires_in=3600)
        d = res.create_connection_response.data
        company_id = res.http_meta.response.json()["data"]["company_id"]
        gone = ad.vault.connections.delete(service_id="sandbox", unified_api="accounting")
        assert gone.http_meta.response.status_code == 204
        expect_apideck_error(404, am.NotFoundResponse, vault_get, ad)
        expect_apideck_error(404, am.NotFoundResponse, ad.vault.connections.delete, service_id="sandbox", unified_api="accounting")
        assert ad.vault.connections.list().get_connections_response.data == []
        expect_error_message(404, get_conn, sdk, company_id, d.id)
        assert audit_records(tenant, "connection.delete", d.id), audit(tenant).text
        # The consumer is still there, and a new import makes a new connection.
        assert ad.vault.consumers.get(consumer_id="account:1").get_consumer_response.data.connections == []
        again = vault_import(ad, token("at"), token("rt"), issued_at=now_utc(), expires_in=3600).create_connection_response.data
        assert again.state == "callable" and again.id != d.id

    def test_delete_consumer(self, tenant, sdk, token):
        """Apideck answers consumer delete with 200 {data: {consumer_id}}; the SDK only accepts that."""
        ad = apideck(tenant, consumer_id="account:del")
        res = vault_import(ad, token("at"), token("rt"), issued_at=now_utc(), expires_in=3600)
        raw = res.http_meta.response.json()["data"]
        try:
            out = ad.vault.consumers.delete(consumer_id="account:del")
        except am.APIError as e:
            pytest.fail(f"consumers.delete: the SDK could not read the answer {e.status_code} "
                        f"{e.raw_response.headers.get('content-type')!r} {e.body!r}", pytrace=False)
        assert out.delete_consumer_response.data.consumer_id == "account:del"
        expect_apideck_error(404, am.NotFoundResponse, ad.vault.consumers.get, consumer_id="account:del")
        expect_apideck_error(404, am.NotFoundResponse, vault_get, ad)
        expect_error_message(404, sdk.companies.get, request={"company_id": raw["company_id"]})


# --------------------------------------------------------------------------------------------
# the sandbox: minted grants, migrated, refreshed through validate


class TestSandboxGrants:
    def test_minted_grant_migrates_through_codat_and_is_audited(self, tenant, sdk, sandbox):
        g = sandbox.mint("Acme")
        company = mk_company(sdk, "Acme")
        conn = mk_connection(sdk, company.id)
        r = migrate(sdk, company.id, conn.id, {
            "accessToken": g["access_token"], "refreshToken": g["refresh_token"],
            "expiresIn": str(g["expires_in"]), "tenantId": g["tenant_id"],
        })
        assert (r.id, r.status) == (conn.id, shared.DataConnectionStatus.LINKED)
        assert (r.connection_info or {}).get("tenantId") == g["tenant_id"]
        resp = audit(tenant)
        assert_no_tokens(resp.text, (g["access_token"], g["refresh_token"]), "GET /audit")
        (rec,) = audit_records(tenant, "connection.migrate", conn.id)
        assert rec["actor"] == f"apiKey:{api_key_id(sdk)}", rec
        assert (rec["companyId"], rec["outcome"]) == (company.id, "success"), rec

    def test_imported_minted_grant_refreshes_rotates_and_is_rejected_when_revoked(self, tenant, sandbox, token):
        g = sandbox.mint("Acme Import")
        ad = apideck(tenant, consumer_id="account:sbx")
        res = vault_import(ad, g["access_token"], g["refresh_token"], issued_at=as_datetime(g["issued_at"]),
                           expires_in=g["expires_in"], settings={"tenant_id": g["tenant_id"]})
        d = res.create_connection_response.data
        assert (d.state, d.service_id) == ("callable", "sandbox")
        expires_before = res.http_meta.response.json()["data"]["token_expires_at"]
        # A refused import must not touch the stored grant (the validate below depends on it).
        bogus_at, bogus_rt = token("at"), token("rt")
        expect_apideck_error(400, am.BadRequestResponse, vault_import, ad, bogus_at, bogus_rt,
                             settings={"tenant_id": {"not": "a string"}})

        n0 = sandbox.refresh_requests()
        v = validate_sdk(ad)
        assert (v["id"], v["state"], v["refresh"]) == (d.id, "callable", "refreshed"), v
        n1 = sandbox.refresh_requests()
        assert n1 == n0 + 1, (n0, n1)
        after = vault_get(ad).http_meta.response.json()["data"]
        assert after["state"] == "callable" and after["token_expires_at"] >= expires_before, (expires_before, after)

        # Again: only works if the rotated refresh token was stored (the sandbox rejects reuse).
        r = validate_raw(tenant, "account:sbx")
        assert r.status_code == 200, r.text
        v2 = r.json()["data"]
        assert (v2["id"], v2["state"], v2["refresh"]) == (d.id, "callable", "refreshed"), v2
        assert sandbox.refresh_requests() == n1 + 1
        refreshes = audit_records(tenant, "connection.refresh", d.id)
        assert [x["outcome"] for x in refreshes] == ["success", "success"], refreshes

        # The provider revokes the grant: the next validate reports it.
        sandbox.inject_failure("invalidGrant", 1)
        r = validate_raw(tenant, "account:sbx")
        assert r.status_code == 200, r.text
        v3 = r.json()["data"]
        assert (v3["refresh"], v3["state"]) == ("rejected", "invalid"), v3
        assert "invalid_grant" in (v3.get("message") or ""), v3
        assert sandbox.refresh_requests() == n1 + 2
        assert any(x["outcome"] == "failure" for x in audit_records(tenant, "connection.refresh", d.id))
        assert_no_tokens(audit(tenant).text, (g["access_token"], g["refresh_token"]), "GET /audit")

    def test_concurrent_validates_never_reuse_a_rotated_refresh_token(self, tenant, sandbox):
        g = sandbox.mint("Acme Race")
        ad = apideck(tenant, consumer_id="account:race")
        vault_import(ad, g["access_token"], g["refresh_token"], issued_at=as_datetime(g["issued_at"]),
                     expires_in=g["expires_in"])
        n0 = sandbox.refresh_requests()
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda _: validate_raw(tenant, "account:race"), range(6)))
        bodies = [(a.status_code, a.json().get("data", a.json())) for a in answers]
        assert all(s == 200 and b["refresh"] == "refreshed" and b["state"] == "callable" for s, b in bodies), bodies
        n1 = sandbox.refresh_requests()
        assert 1 <= n1 - n0 <= 6, (n0, n1)
        # The grant survived (no refresh-token reuse revoked it).
        v = validate_sdk(ad)
        assert (v["refresh"], v["state"]) == ("refreshed", "callable"), v


# --------------------------------------------------------------------------------------------
# secrets: nothing the tests sent may be in the server's output or its database


def _database_text(server: FinlinkServer) -> List[tuple]:
    """(where, bytes) for every place the database keeps data."""
    if server.engine == "sqlite":
        files = [p for p in server.fenv.data_dir.rglob("*") if p.is_file()]
        assert files, f"no files under {server.fenv.data_dir}"
        return [(str(p), p.read_bytes()) for p in files]
    proc = subprocess.run(
        ["pg_dump", "--data-only", f"--schema={server.fenv.schema}", POSTGRES_URL],
        capture_output=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stdout, "empty pg_dump"
    return [(f"pg_dump of schema {server.fenv.schema}", proc.stdout)]


def test_zz_no_token_text_in_server_output_or_database(server, used_tokens):
    if not used_tokens:
        pytest.skip("no test of this module sent a token in this run")
    output = server.output_text()
    assert output.strip(), "the server printed nothing"
    assert_no_tokens(output, used_tokens, f"the server's output ({server.stderr_path})")
    for where, data in _database_text(server):
        leaked = [
            t[:12] + "..."
            for t in used_tokens
            if t.encode() in data or t.encode().hex().encode() in data
        ]
        assert not leaked, f"{where} contains token text: {leaked}"
