"""Single-flight refresh across processes: three ``finlink serve`` processes share one database
(and the sandbox's grant file), a sandbox whose refresh tokens rotate with zero grace (reuse
revokes the grant), and an expired access token. 200 concurrent credentials reads spread over
the three processes make exactly one refresh request; every read returns the same new token;
the connection stays ``Linked``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import ServerFactory, basic_auth, start_server

READS = 200


def sandbox_refreshes(servers) -> int:
    total = 0
    for s in servers:
        r = requests.get(s.url("/sandbox/admin/stats"), timeout=30)
        assert r.status_code == 200, r.text
        total += r.json()["refresh_requests"]
    return total


def test_three_processes_one_refresh(server_factory: ServerFactory):
    fenv = server_factory.env()
    first = server_factory.start(fenv)
    others = [start_server(fenv, label=f"serve{i}") for i in (2, 3)]
    server_factory._servers.extend(others)  # stopped at teardown
    servers = [first, *others]
    reader = fenv.cli("keys", "create", "--name", "reader", "--permission", "credentials:read")
    auth = {"Authorization": basic_auth(first.api_key)}

    grant = requests.post(first.url("/sandbox/admin/mint"), json={"companyName": "Race Ltd"}, timeout=30).json()
    company = requests.post(first.url("/companies"), json={"name": "Race Ltd"}, headers=auth, timeout=30).json()
    conn = requests.post(
        first.url(f"/companies/{company['id']}/connections"), json={"platformKey": "mqjo"}, headers=auth, timeout=30
    ).json()
    migrated = requests.put(
        first.url(f"/companies/{company['id']}/connections/{conn['id']}/authorization"),
        json={
            "accessToken": grant["access_token"],
            "refreshToken": grant["refresh_token"],
            # expired an hour ago
            "issuedAt": "2026-01-01T00:00:00Z",
            "expiresAt": "2026-01-01T01:00:00Z",
        },
        headers=auth,
        timeout=30,
    )
    assert migrated.status_code == 200, migrated.text
    before = sandbox_refreshes(servers)

    path = f"/companies/{company['id']}/connections/{conn['id']}/credentials"
    reader_auth = {"Authorization": basic_auth(reader)}

    def read(i: int):
        s = servers[i % len(servers)]
        r = requests.get(s.url(path), headers=reader_auth, timeout=120)
        return r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=48) as pool:
        answers = list(pool.map(read, range(READS)))

    bad = [a for a in answers if a[0] != 200]
    assert not bad, bad[:3]
    tokens = {body["accessToken"] for _, body in answers}
    assert len(tokens) == 1, f"{len(tokens)} different access tokens handed out"
    assert grant["access_token"] not in tokens
    assert sandbox_refreshes(servers) - before == 1, "exactly one refresh request reached the sandbox"
    status = requests.get(first.url(f"/companies/{company['id']}/connections/{conn['id']}"), headers=auth, timeout=30)
    assert status.json()["status"] == "Linked"
    # The rotated refresh token was kept: one more refresh works (the old one would revoke the grant).
    again = requests.get(others[0].url(path + "?includeRefreshToken=true"), headers=reader_auth, timeout=60).json()
    assert again["refreshToken"] != grant["refresh_token"]
