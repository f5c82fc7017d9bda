"""Raw HTTP checks (requests, not the SDK): health, body handling, routing, errors."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from codat_platform.models import errors

from conftest import assert_error_body, make_sdk

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def company_id(tenant) -> str:
    r = requests.post(tenant.base_url + "/companies", json={"name": "Raw Co"}, headers=tenant.auth, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_health(server):
    for path in ("/healthz", "/readyz"):
        r = requests.get(server.url(path), timeout=10)
        assert r.status_code == 200, (path, r.status_code, r.text)


def test_json_content_type(tenant):
    r = requests.get(tenant.base_url + "/companies", headers=tenant.auth, timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0].strip() == "application/json"
    body = r.json()
    for k in ("results", "pageNumber", "pageSize", "totalResults", "_links"):
        assert k in body, body
    assert body["_links"]["self"]["href"] and body["_links"]["current"]["href"]


def test_empty_json_body_means_no_body(tenant, company_id):
    url = f"{tenant.base_url}/companies/{company_id}/connections"
    r = requests.post(url, data=b"", headers={**tenant.auth, **JSON}, timeout=10)
    body = assert_error_body(r, 400)
    assert "platformKey" in r.text, body
    # POST /companies needs a name, so an empty body is a 400 too, but not a JSON syntax error.
    r = requests.post(tenant.base_url + "/companies", data=b"", headers={**tenant.auth, **JSON}, timeout=10)
    body = assert_error_body(r, 400)
    assert "syntax" not in body["error"].lower() and "eof" not in body["error"].lower(), body


def test_malformed_json_is_400_with_message(tenant, company_id):
    for path, payload in (
        ("/companies", b'{"name": '),
        ("/companies", b"not json"),
        (f"/companies/{company_id}/connections", b'{"platformKey": "mqjo",}'),
    ):
        r = requests.post(tenant.base_url + path, data=payload, headers={**tenant.auth, **JSON}, timeout=10)
        body = assert_error_body(r, 400)
        assert len(body["error"]) > 10, body


def test_wrong_json_types_are_400(tenant):
    for payload in ({"name": 5}, {"name": "x", "tags": {"a": 1}}, ["name"]):
        r = requests.post(tenant.base_url + "/companies", json=payload, headers=tenant.auth, timeout=10)
        assert_error_body(r, 400)


def _post_raw(url: str, headers: dict, body: bytes):
    """POSTs with http.client, tolerating the server closing early after a 413."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.putrequest("POST", u.path)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        try:
            view = memoryview(body)
            for i in range(0, len(body), 65536):
                conn.sock.sendall(view[i : i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_body_over_2mib_is_413(tenant):
    big = json.dumps({"name": "Big", "description": "x" * (2 * 1024 * 1024 + 100)}).encode()
    status, headers, raw = _post_raw(tenant.base_url + "/companies", {**tenant.auth, **JSON}, big)
    assert status == 413, (status, raw[:300])
    body = json.loads(raw)
    for k in ("statusCode", "service", "error", "correlationId"):
        assert k in body, body
    assert body["statusCode"] == 413


def test_unknown_route_is_404_json(tenant):
    for path in ("/nope", "/companies/x/y/z/nope", "/v2/companies"):
        r = requests.get(tenant.base_url + path, headers=tenant.auth, timeout=10)
        assert_error_body(r, 404)


def test_double_slash_is_normalised(tenant):
    r = requests.get(tenant.base_url + "//companies", headers=tenant.auth, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["totalResults"] == 0
    # An SDK configured with a trailing slash sends //companies.
    sdk = make_sdk(tenant.base_url + "/", tenant.api_key)
    c = sdk.companies.create(request={"name": "Slash Co"})
    assert sdk.companies.get(request={"company_id": c.id}).name == "Slash Co"
    assert sdk.companies.list().total_results == 1


def test_page_size_bounds(tenant):
    sdk = tenant.sdk
    with pytest.raises(errors.ErrorMessage) as ei:
        sdk.companies.list(request={"page_size": 0})
    assert ei.value.status_code == 400
    with pytest.raises(errors.ErrorMessage) as ei:
        sdk.companies.list(request={"page": 0})
    assert ei.value.status_code == 400
    with pytest.raises(errors.ErrorMessage) as ei:
        sdk.companies.list(request={"page_size": 5001})
    assert ei.value.status_code == 400
    assert sdk.companies.list(request={"page_size": 5000}).page_size == 5000


def test_correlation_header_matches_body(tenant):
    r = requests.get(tenant.base_url + "/companies/not-a-uuid", headers=tenant.auth, timeout=10)
    assert r.status_code in (400, 404), r.text
    body = assert_error_body(r, r.status_code)
    header = r.headers.get("X-Correlation-Id")
    if header is not None:
        assert header == body["correlationId"]


def test_method_not_allowed_is_405_json(tenant):
    r = requests.delete(tenant.base_url + "/companies", headers=tenant.auth, timeout=10)
    assert_error_body(r, 405)


def test_sdk_headers_and_query_encoding(tenant):
    """The SDK percent-encodes query values (`=`, `&`, `!`, spaces); the server decodes them."""
    sdk = tenant.sdk
    a = sdk.companies.create(request={"name": "Acme & Co"})
    b = sdk.companies.create(request={"name": "Acme Two"})
    r = sdk.companies.list(request={"query": f"name~Acme && id!={b.id}"})
    assert [c.id for c in r.results] == [a.id]
    assert a.name == "Acme & Co"
