"""The `finlink` command line, run as a process."""

from __future__ import annotations

import json
import re

import requests

from conftest import KEY_RE, UUID_RE, FinlinkEnv, basic_auth, start_server

KEY_ANYWHERE_RE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{48}(?![A-Za-z0-9])")


def test_openapi_prints_the_document(server_factory):
    fenv = server_factory.env()
    out = fenv.cli("openapi")
    doc = json.loads(out)
    assert str(doc.get("openapi", "")).startswith("3."), doc.get("openapi")
    assert "/companies" in doc["paths"]
    assert "/companies/{companyId}" in doc["paths"]
    assert "/companies/{companyId}/connections" in doc["paths"]
    assert "/integrations" in doc["paths"]


def test_clients_create_prints_a_uuid_alone(server_factory):
    fenv = server_factory.env()
    out = fenv.run_cli("clients", "create", "--name", "Acme Lending").stdout
    assert out.endswith("\n") and out.count("\n") == 1, repr(out)
    assert UUID_RE.match(out.strip()), repr(out)
    second = fenv.cli("clients", "create", "--name", "Other")
    assert UUID_RE.match(second) and second != out.strip()


def test_keys_create_prints_a_key_alone(server_factory):
    fenv = server_factory.env()
    out = fenv.run_cli("keys", "create").stdout
    assert out.count("\n") == 1 and KEY_RE.match(out.strip()), repr(out)
    client = fenv.cli("clients", "create", "--name", "Second")
    out2 = fenv.cli("keys", "create", "--client", client, "--name", "ci")
    assert KEY_RE.match(out2) and out2 != out.strip()
    # Both keys work, each for its own client.
    server = server_factory.start(fenv, with_key=False)
    for key in (out.strip(), out2):
        r = requests.get(server.url("/companies"), headers={"Authorization": basic_auth(key)}, timeout=10)
        assert r.status_code == 200, r.text


def test_keys_create_for_unknown_client_fails(server_factory):
    fenv = server_factory.env()
    fenv.cli("keys", "create")
    proc = fenv.run_cli("keys", "create", "--client", "00000000-0000-4000-8000-000000000000", check=False)
    assert proc.returncode != 0, proc.stdout
    assert not KEY_RE.match(proc.stdout.strip())


def test_serve_prints_the_first_key_once(server_factory):
    fenv = server_factory.env()
    first = start_server(fenv, label="first")
    try:
        r = requests.get(first.url("/healthz"), timeout=10)
        assert r.status_code == 200
    finally:
        code = first.stop()
    out = first.output_text()
    keys = set(KEY_ANYWHERE_RE.findall(out))
    assert len(keys) == 1, f"expected exactly one API key in the first start's output (exit {code}):\n{out}"
    key = keys.pop()
    assert out.count(key) == 1, f"the key is printed more than once:\n{out}"

    second = start_server(fenv, api_key=key, label="second")
    try:
        r = requests.get(second.url("/companies"), headers={"Authorization": basic_auth(key)}, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["totalResults"] == 0
    finally:
        second.stop()
    out2 = second.output_text()
    assert key not in out2
    assert not KEY_ANYWHERE_RE.findall(out2), f"second start printed something key-like:\n{out2}"


def test_serve_stops_on_sigterm(server_factory):
    server = server_factory.start()
    assert requests.get(server.url("/readyz"), timeout=10).status_code == 200
    code = server.stop()
    assert code == 0, f"exit code {code}\n{server.stderr_text()}"
