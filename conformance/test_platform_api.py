"""Codat Platform API conformance, driven through the official SDK (codat-platform 6.0.0).

Each test gets a fresh tenant (a new client with its own API key, made with the CLI)
on the module's server, so lists start empty and limits start at zero.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime
from typing import Iterable, List

import pytest
import requests

from codat_platform.models import errors, shared

from conftest import KEY_RE, UUID_RE, assert_error_body, basic_auth, make_sdk

HEX32_RE = re.compile(r"^[0-9a-f]{32}$")

# platform-keys.md: the 34 built-in integrations.
ALL_PLATFORM_KEYS = {
    "mqjo", "trji", "rqwd", "qudb", "pbbf", "fbrh", "vxvy", "pdvj", "akxx", "pqsw",
    "qhyg", "ndsk", "jcrp", "hbql", "tgff", "knfz", "pbtz", "rvam", "gbol", "rwuv",
    "suuo", "upvr",
    "qkdj", "vqzp", "fqly", "aiwb", "ldgh", "fztf", "zsth", "xcwv", "exgd", "yzth", "ltpp", "ugxp",
}


# --------------------------------------------------------------------------------------------
# helpers


def expect_error_message(status: int, fn, *args, **kwargs) -> errors.ErrorMessage:
    """The call raises the SDK's typed ErrorMessage with this status and a full body."""
    with pytest.raises(errors.ErrorMessage) as ei:
        fn(*args, **kwargs)
    e = ei.value
    assert e.status_code == status, f"expected {status}, got {e.status_code}: {e.body}"
    d = e.data
    assert d.status_code == status, e.body
    assert d.service, e.body
    assert d.error, e.body
    assert d.correlation_id and HEX32_RE.match(d.correlation_id), e.body
    return e


def expect_sdk_error(status: int, fn, *args, **kwargs) -> errors.SDKError:
    """The call raises SDKError (the status is not listed for the operation in the SDK)."""
    with pytest.raises(errors.SDKError) as ei:
        fn(*args, **kwargs)
    e = ei.value
    assert e.status_code == status, f"expected {status}, got {e.status_code}: {e.body}"
    return e


def parse_ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def company_ids(results: Iterable[shared.Company]) -> List[str]:
    return [c.id for c in (results or [])]


def mk_company(sdk, name: str, **body) -> shared.Company:
    return sdk.companies.create(request={"name": name, **body})


def mk_connection(sdk, company_id: str, key: str) -> shared.Connection:
    return sdk.connections.create(request={"company_id": company_id, "request_body": {"platform_key": key}})


@pytest.fixture
def company(sdk) -> shared.Company:
    return mk_company(sdk, "Conn Co")


# --------------------------------------------------------------------------------------------
# companies


class TestCompanies:
    def test_create_strips_name_sets_redirect_and_tags(self, sdk, base_url):
        c = mk_company(sdk, "Company (Codat[1])", description="A desc", tags={"region": "uk", "team": "a"})
        assert UUID_RE.match(c.id), c.id
        assert c.name == "Company Codat1"
        assert c.description == "A desc"
        assert c.tags == {"region": "uk", "team": "a"}
        assert c.redirect == f"{base_url}/link/company/{c.id}"
        assert c.created and parse_ts(c.created)
        assert not c.data_connections

    def test_get(self, sdk, base_url):
        c = mk_company(sdk, "Get Me", description="d1", tags={"k": "v"})
        g = sdk.companies.get(request={"company_id": c.id})
        assert (g.id, g.name, g.description, g.tags, g.redirect) == (c.id, "Get Me", "d1", {"k": "v"}, c.redirect)
        assert g.created == c.created

    def test_get_unknown_is_404(self, sdk):
        expect_error_message(404, sdk.companies.get, request={"company_id": "00000000-0000-4000-8000-000000000000"})

    def test_name_that_strips_to_empty_is_400(self, sdk):
        e = expect_error_message(400, mk_company, sdk, "()[]{}")
        assert "name" in e.body.lower()

    def test_create_without_body_is_400(self, sdk):
        # The SDK sends Content-Type: application/json with an empty body.
        expect_error_message(400, sdk.companies.create)

    def test_list_paging(self, sdk):
        created = [mk_company(sdk, f"Paged {i}").id for i in range(7)]
        p1 = sdk.companies.list(request={"page": 1, "page_size": 3})
        assert (p1.page_number, p1.page_size, p1.total_results) == (1, 3, 7)
        assert len(p1.results) == 3
        assert p1.links.self_.href and "?" not in p1.links.self_.href and p1.links.self_.href.endswith("/companies")
        cur = p1.links.current.href
        assert "page=1" in cur and "pageSize=3" in cur, cur
        assert p1.links.next is not None and "page=2" in p1.links.next.href, p1.links
        assert p1.links.previous is None
        p2 = sdk.companies.list(request={"page": 2, "page_size": 3})
        assert (p2.page_number, p2.page_size, p2.total_results, len(p2.results)) == (2, 3, 7, 3)
        assert p2.links.previous is not None and "page=1" in p2.links.previous.href
        assert p2.links.next is not None and "page=3" in p2.links.next.href
        p3 = sdk.companies.list(request={"page": 3, "page_size": 3})
        assert (p3.page_number, p3.total_results, len(p3.results)) == (3, 7, 1)
        assert p3.links.next is None
        seen = company_ids(p1.results) + company_ids(p2.results) + company_ids(p3.results)
        assert len(seen) == 7 and set(seen) == set(created), "pages overlap or miss companies"
        p4 = sdk.companies.list(request={"page": 4, "page_size": 3})
        assert p4.total_results == 7 and not p4.results
        everything = sdk.companies.list()
        assert (everything.page_number, everything.page_size, everything.total_results) == (1, 100, 7)

    def test_query(self, sdk):
        a = mk_company(sdk, "Acme Alpha")
        b = mk_company(sdk, "Acme Beta")
        mk_company(sdk, "Other Ltd")
        r = sdk.companies.list(request={"query": "name~Acme"})
        assert r.total_results == 2 and set(company_ids(r.results)) == {a.id, b.id}
        r = sdk.companies.list(request={"query": "name=Acme Beta"})
        assert r.total_results == 1 and company_ids(r.results) == [b.id]
        r = sdk.companies.list(request={"query": f"id={a.id}"})
        assert company_ids(r.results) == [a.id]
        r = sdk.companies.list(request={"query": "name~Acme && name!=Acme Alpha"})
        assert company_ids(r.results) == [b.id]

    def test_bad_query_is_400(self, sdk):
        expect_error_message(400, sdk.companies.list, request={"query": "name"})
        expect_error_message(400, sdk.companies.list, request={"query": "noSuchProperty=1"})

    def test_order_by_created(self, sdk):
        ids = []
        for i in range(3):
            ids.append(mk_company(sdk, f"Ordered {i}").id)
            time.sleep(0.05)
        desc = sdk.companies.list(request={"order_by": "-created"}).results
        assert company_ids(desc) == list(reversed(ids))
        stamps = [parse_ts(c.created) for c in desc]
        assert stamps == sorted(stamps, reverse=True)
        asc = sdk.companies.list(request={"order_by": "created"}).results
        assert company_ids(asc) == ids

    def test_tags_filter(self, sdk):
        uk = mk_company(sdk, "UK Co", tags={"region": "uk"})
        mk_company(sdk, "US Co", tags={"region": "us"})
        mk_company(sdk, "Untagged Co")
        r = sdk.companies.list(request={"tags": "region=uk"})
        assert r.total_results == 1 and company_ids(r.results) == [uk.id]
        assert r.results[0].tags == {"region": "uk"}

    def test_replace_clears_omitted_fields(self, sdk):
        c = mk_company(sdk, "Before", description="desc", tags={"a": "b"})
        r = sdk.companies.replace(request={"company_id": c.id, "company_request_body": {"name": "After"}})
        assert r.id == c.id and r.name == "After"
        assert not r.description, r.description
        assert not r.tags, r.tags
        g = sdk.companies.get(request={"company_id": c.id})
        assert g.name == "After" and not g.description and not g.tags
        assert g.redirect == c.redirect
        r = sdk.companies.replace(
            request={"company_id": c.id, "company_request_body": {"name": "Again", "description": "d2", "tags": {"x": "y"}}}
        )
        assert (r.name, r.description, r.tags) == ("Again", "d2", {"x": "y"})

    def test_update_keeps_omitted_fields(self, sdk):
        c = mk_company(sdk, "Patch Me", description="desc", tags={"a": "b"})
        u = sdk.companies.update(request={"company_id": c.id, "company_update_request": {"name": "Patched"}})
        assert (u.name, u.description, u.tags) == ("Patched", "desc", {"a": "b"})
        u = sdk.companies.update(request={"company_id": c.id, "company_update_request": {"description": "new"}})
        assert (u.name, u.description, u.tags) == ("Patched", "new", {"a": "b"})
        u = sdk.companies.update(request={"company_id": c.id, "company_update_request": {"tags": {"c": "d"}}})
        assert (u.name, u.description, u.tags) == ("Patched", "new", {"c": "d"})
        u = sdk.companies.update(request={"company_id": c.id, "company_update_request": {"tags": {}}})
        assert (u.name, u.description) == ("Patched", "new")
        assert not u.tags, u.tags
        g = sdk.companies.get(request={"company_id": c.id})
        assert (g.name, g.description) == ("Patched", "new") and not g.tags

    def test_update_and_replace_unknown_are_404(self, sdk):
        missing = "00000000-0000-4000-8000-000000000001"
        expect_error_message(404, sdk.companies.update, request={"company_id": missing, "company_update_request": {"name": "x"}})
        expect_error_message(404, sdk.companies.replace, request={"company_id": missing, "company_request_body": {"name": "x"}})

    def test_delete(self, sdk):
        c = mk_company(sdk, "Delete Me")
        keep = mk_company(sdk, "Keep Me")
        assert sdk.companies.delete(request={"company_id": c.id}) is None
        e = expect_error_message(404, sdk.companies.get, request={"company_id": c.id})
        assert e.data.status_code == 404
        expect_error_message(404, sdk.companies.delete, request={"company_id": c.id})
        listed = sdk.companies.list()
        assert company_ids(listed.results) == [keep.id] and listed.total_results == 1

    def test_tags_filter_operators(self, sdk):
        uk = mk_company(sdk, "UK Lending", tags={"region": "uk", "team": "lending"})
        uk2 = mk_company(sdk, "UK Other", tags={"region": "uk", "team": "other"})
        us = mk_company(sdk, "US Co", tags={"region": "us", "team": "lending"})
        r = sdk.companies.list(request={"tags": "region=uk && team=lending"})
        assert company_ids(r.results) == [uk.id]
        r = sdk.companies.list(request={"tags": "region!=uk"})
        assert company_ids(r.results) == [us.id]
        r = sdk.companies.list(request={"tags": "team~end"})
        assert set(company_ids(r.results)) == {uk.id, us.id}
        r = sdk.companies.list(request={"tags": "region=uk", "query": "name~Other"})
        assert company_ids(r.results) == [uk2.id]

    def test_query_or_and_braces(self, sdk):
        a = mk_company(sdk, "Alpha")
        b = mk_company(sdk, "Beta")
        mk_company(sdk, "Gamma")
        r = sdk.companies.list(request={"query": "name=Alpha || name=Beta"})
        assert set(company_ids(r.results)) == {a.id, b.id}
        r = sdk.companies.list(request={"query": "{name=Alpha || name=Beta} && name!=Alpha"})
        assert company_ids(r.results) == [b.id]
        r = sdk.companies.list(request={"query": "created>2000-01-01"})
        assert r.total_results == 3

    def test_query_on_connection_status(self, sdk):
        with_conn = mk_company(sdk, "Has Conn")
        mk_company(sdk, "No Conn")
        mk_connection(sdk, with_conn.id, "mqjo")
        r = sdk.companies.list(request={"query": "dataConnections.status=PendingAuth"})
        assert company_ids(r.results) == [with_conn.id]

    def test_tag_limits(self, sdk):
        expect_error_message(400, mk_company, sdk, "Many tags", tags={f"k{i}": "v" for i in range(11)})
        expect_error_message(400, mk_company, sdk, "Long key", tags={"k" * 28: "v"})
        expect_error_message(400, mk_company, sdk, "Long value", tags={"k": "v" * 101})
        ok = mk_company(sdk, "Max tags", tags={f"{i:0>27}": "v" * 100 for i in range(10)})
        assert len(ok.tags) == 10
        assert sdk.companies.list().total_results == 1

    def test_concurrent_creates(self, sdk):
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=10) as pool:
            made = list(pool.map(lambda i: mk_company(sdk, f"Parallel {i}").id, range(30)))
        assert len(set(made)) == 30
        listed = sdk.companies.list()
        assert listed.total_results == 30 and set(company_ids(listed.results)) == set(made)


# --------------------------------------------------------------------------------------------
# connections


class TestConnections:
    def test_create_sandbox_connection(self, sdk, company, base_url):
        conn = mk_connection(sdk, company.id, "mqjo")
        assert UUID_RE.match(conn.id), conn.id
        assert conn.status == shared.DataConnectionStatus.PENDING_AUTH
        assert conn.link_url == f"{base_url}/link/companies/{company.id}/connections/{conn.id}/start"
        assert conn.source_type == shared.SourceType.ACCOUNTING
        assert conn.platform_name == "Sandbox"
        assert conn.integration_key in (None, "mqjo")
        assert conn.integration_id and conn.source_id
        assert conn.created and parse_ts(conn.created)

    def test_second_accounting_connection_is_400_naming_the_existing_one(self, sdk, company):
        first = mk_connection(sdk, company.id, "mqjo")
        e = expect_sdk_error(400, mk_connection, sdk, company.id, "mqjo")
        assert first.id in e.body, e.body

    def test_commerce_alongside_accounting_and_list(self, sdk, company):
        acc = mk_connection(sdk, company.id, "mqjo")
        com = mk_connection(sdk, company.id, "aiwb")
        assert com.source_type == shared.SourceType.COMMERCE
        assert com.platform_name == "Commerce Sandbox"
        assert com.status == shared.DataConnectionStatus.PENDING_AUTH
        all_ = sdk.connections.list(request={"company_id": company.id})
        assert (all_.page_number, all_.page_size, all_.total_results) == (1, 100, 2)
        assert {c.id for c in all_.results} == {acc.id, com.id}
        assert all_.links.self_.href.endswith(f"/companies/{company.id}/connections")
        only = sdk.connections.list(request={"company_id": company.id, "query": "sourceType=Commerce"})
        assert only.total_results == 1 and [c.id for c in only.results] == [com.id]
        paged = sdk.connections.list(request={"company_id": company.id, "page_size": 1, "page": 2})
        assert paged.total_results == 2 and len(paged.results) == 1

    def test_unknown_platform_key_is_404(self, sdk, company):
        expect_error_message(404, mk_connection, sdk, company.id, "zzzz")

    def test_unknown_company_is_404(self, sdk):
        expect_error_message(404, mk_connection, sdk, "00000000-0000-4000-8000-000000000002", "mqjo")
        expect_error_message(404, sdk.connections.list, request={"company_id": "00000000-0000-4000-8000-000000000002"})

    def test_disabled_integration_is_refused(self, sdk, company):
        # gbol (Xero) is not enabled without operator OAuth configuration.
        with pytest.raises((errors.SDKError, errors.ErrorMessage)) as ei:
            mk_connection(sdk, company.id, "gbol")
        assert ei.value.status_code == 400, ei.value.body

    def test_create_without_body_is_400(self, sdk, company):
        # The SDK sends Content-Type: application/json with an empty body: "no body", not bad JSON.
        e = expect_sdk_error(400, sdk.connections.create, request={"company_id": company.id})
        assert "platformKey" in e.body, e.body

    def test_get(self, sdk, company):
        conn = mk_connection(sdk, company.id, "mqjo")
        g = sdk.connections.get(request={"company_id": company.id, "connection_id": conn.id})
        assert (g.id, g.status, g.link_url, g.platform_name, g.source_type, g.created) == (
            conn.id, conn.status, conn.link_url, conn.platform_name, conn.source_type, conn.created
        )
        expect_error_message(
            404, sdk.connections.get, request={"company_id": company.id, "connection_id": "00000000-0000-4000-8000-000000000003"}
        )

    def test_unlink_pending_connection_is_400(self, sdk, company):
        # Only Linked connections can be unlinked (Codat docs). Linking needs the Link flow,
        # so only the refusal is testable here. 400 is not listed for unlink: SDKError.
        conn = mk_connection(sdk, company.id, "mqjo")
        req = {"company_id": company.id, "connection_id": conn.id, "update_connection_status": {"status": "Unlinked"}}
        e = expect_sdk_error(400, sdk.connections.unlink, request=req)
        assert "Linked" in e.body, e.body
        g = sdk.connections.get(request={"company_id": company.id, "connection_id": conn.id})
        assert g.status == shared.DataConnectionStatus.PENDING_AUTH
        # Setting any other status is refused too.
        req["update_connection_status"] = {"status": "Linked"}
        expect_sdk_error(400, sdk.connections.unlink, request=req)
        # Unknown connection: 404.
        req["connection_id"] = "00000000-0000-4000-8000-000000000004"
        req["update_connection_status"] = {"status": "Unlinked"}
        expect_error_message(404, sdk.connections.unlink, request=req)

    def test_delete(self, sdk, company):
        conn = mk_connection(sdk, company.id, "mqjo")
        other = mk_connection(sdk, company.id, "aiwb")
        assert sdk.connections.delete(request={"company_id": company.id, "connection_id": conn.id}) is None
        expect_error_message(404, sdk.connections.get, request={"company_id": company.id, "connection_id": conn.id})
        expect_error_message(404, sdk.connections.delete, request={"company_id": company.id, "connection_id": conn.id})
        listed = sdk.connections.list(request={"company_id": company.id})
        assert [c.id for c in listed.results] == [other.id] and listed.total_results == 1
        g = sdk.companies.get(request={"company_id": company.id})
        assert [c.id for c in (g.data_connections or [])] == [other.id]
        # With the accounting connection gone, a new one may be made.
        again = mk_connection(sdk, company.id, "mqjo")
        assert again.id != conn.id

    def test_company_embeds_connections(self, sdk, company):
        acc = mk_connection(sdk, company.id, "mqjo")
        com = mk_connection(sdk, company.id, "aiwb")
        g = sdk.companies.get(request={"company_id": company.id})
        embedded = {c.id: c for c in (g.data_connections or [])}
        assert set(embedded) == {acc.id, com.id}
        assert embedded[acc.id].link_url == acc.link_url
        assert embedded[acc.id].status == shared.DataConnectionStatus.PENDING_AUTH
        listed = sdk.companies.list(request={"query": f"id={company.id}"}).results
        assert {c.id for c in (listed[0].data_connections or [])} == {acc.id, com.id}

    def test_deleting_company_deletes_its_connections(self, sdk):
        c = mk_company(sdk, "Doomed")
        conn = mk_connection(sdk, c.id, "mqjo")
        sdk.companies.delete(request={"company_id": c.id})
        expect_error_message(404, sdk.connections.get, request={"company_id": c.id, "connection_id": conn.id})
        expect_error_message(404, sdk.connections.list, request={"company_id": c.id})
        expect_error_message(404, sdk.connections.delete, request={"company_id": c.id, "connection_id": conn.id})


    def test_list_query_and_order(self, sdk, company):
        acc = mk_connection(sdk, company.id, "mqjo")
        time.sleep(0.05)
        com = mk_connection(sdk, company.id, "aiwb")
        r = sdk.connections.list(request={"company_id": company.id, "query": "status=PendingAuth", "order_by": "-created"})
        assert [c.id for c in r.results] == [com.id, acc.id]
        r = sdk.connections.list(request={"company_id": company.id, "order_by": "created"})
        assert [c.id for c in r.results] == [acc.id, com.id]
        r = sdk.connections.list(request={"company_id": company.id, "query": "status=Linked"})
        assert r.total_results == 0 and not r.results
        expect_error_message(400, sdk.connections.list, request={"company_id": company.id, "query": "status"})


    def test_concurrent_accounting_connections_one_wins(self, sdk, company):
        from concurrent.futures import ThreadPoolExecutor

        def attempt(_):
            try:
                return mk_connection(sdk, company.id, "mqjo").id
            except errors.SDKError as e:
                assert e.status_code == 400, e.body
                return None

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(attempt, range(8)))
        winners = [r for r in results if r]
        assert len(winners) == 1, results
        listed = sdk.connections.list(request={"company_id": company.id})
        assert [c.id for c in listed.results] == winners


# --------------------------------------------------------------------------------------------
# integrations


def fetch_svg(url: str) -> None:
    assert url.startswith("http://") or url.startswith("https://"), url
    r = requests.get(url, timeout=10)
    assert r.status_code == 200, (url, r.status_code, r.text[:200])
    assert r.headers.get("Content-Type", "").split(";")[0].strip() == "image/svg+xml", (url, r.headers)
    assert b"<svg" in r.content[:2000], url


class TestIntegrations:
    def test_list_all_pages(self, sdk):
        keys = []
        for page in range(1, 5):
            p = sdk.integrations.list(request={"page": page, "page_size": 10})
            assert (p.page_number, p.page_size, p.total_results) == (page, 10, 34)
            assert len(p.results) == (10 if page < 4 else 4)
            keys += [i.key for i in p.results]
        assert len(keys) == 34 and set(keys) == ALL_PLATFORM_KEYS
        whole = sdk.integrations.list()
        assert whole.total_results == 34 and {i.key for i in whole.results} == ALL_PLATFORM_KEYS
        by_key = {i.key: i for i in whole.results}
        assert by_key["mqjo"].enabled is True
        assert by_key["aiwb"].enabled is True
        assert by_key["gbol"].enabled is False
        for i in whole.results:
            assert i.name and i.logo_url and re.fullmatch(r"[a-z]{4}", i.key)

    def test_query_source_type(self, sdk):
        r = sdk.integrations.list(request={"query": "sourceType=Banking"})
        assert r.total_results == 2
        assert {i.name for i in r.results} == {"Plaid", "TrueLayer"}
        assert all(i.source_type == shared.SourceType.BANKING for i in r.results)

    def test_get(self, sdk, base_url):
        x = sdk.integrations.get(request={"platform_key": "gbol"})
        assert (x.key, x.name, x.source_type, x.enabled) == ("gbol", "Xero", shared.SourceType.ACCOUNTING, False)
        assert x.logo_url.startswith(base_url + "/"), x.logo_url
        fetch_svg(x.logo_url)
        s = sdk.integrations.get(request={"platform_key": "mqjo"})
        assert (s.name, s.enabled, s.source_type) == ("Sandbox", True, shared.SourceType.ACCOUNTING)

    def test_get_unknown_is_404(self, sdk):
        expect_error_message(404, sdk.integrations.get, request={"platform_key": "zzzz"})
        expect_error_message(404, sdk.integrations.get_branding, request={"platform_key": "zzzz"})

    def test_branding(self, sdk):
        for key in ("gbol", "mqjo"):
            b = sdk.integrations.get_branding(request={"platform_key": key})
            assert b.logo and b.logo.full and b.logo.full.image and b.logo.full.image.src, b
            assert b.logo.square and b.logo.square.image and b.logo.square.image.src, b
            fetch_svg(b.logo.full.image.src)
            fetch_svg(b.logo.square.image.src)


    def test_counts_by_source_type_and_order(self, sdk):
        counts = {}
        for st in ("Accounting", "Banking", "Commerce"):
            counts[st] = sdk.integrations.list(request={"query": f"sourceType={st}"}).total_results
        assert counts == {"Accounting": 20, "Banking": 2, "Commerce": 12}
        names = [i.name for i in sdk.integrations.list(request={"order_by": "name"}).results]
        assert names == sorted(names, key=str.lower) or names == sorted(names), names
        r = sdk.integrations.list(request={"query": "name~Sandbox"})
        assert {i.key for i in r.results} >= {"mqjo", "aiwb"}
        expect_error_message(400, sdk.integrations.list, request={"query": "nope=1"})


# --------------------------------------------------------------------------------------------
# settings: profile and API keys


def delete_api_key(sdk, key_id: str) -> None:
    """SDK 6.0.0 cannot parse delete-api-key's 204: ResponseValidationError(204) means success."""
    with pytest.raises(errors.ResponseValidationError) as ei:
        sdk.settings.delete_api_key(request={"api_key_id": key_id})
    assert ei.value.status_code == 204, ei.value


class TestSettings:
    def test_get_profile(self, sdk):
        p = sdk.settings.get_profile()
        assert isinstance(p.name, str) and p.name
        assert isinstance(p.redirect_url, str)

    def test_update_profile_round_trip(self, sdk):
        body = {
            "name": "Bob's Burgers",
            "redirect_url": "https://bobs-burgers.{countrySuffix}/{companyId}",
            "logo_url": "https://example.com/logo.png",
            "icon_url": "https://example.com/icon.ico",
            "white_list_urls": ["https://bobs-burgers.com", "https://bobs-burgers.co.uk"],
            "confirm_company_name": True,
        }
        p = sdk.settings.update_profile(request=body)
        got = sdk.settings.get_profile()
        for prof in (p, got):
            assert prof.name == body["name"]
            assert prof.redirect_url == body["redirect_url"]
            assert prof.logo_url == body["logo_url"]
            assert prof.icon_url == body["icon_url"]
            assert prof.white_list_urls == body["white_list_urls"]
            assert prof.confirm_company_name is True
        body.update(confirm_company_name=False, white_list_urls=[], name="Renamed")
        sdk.settings.update_profile(request=body)
        got = sdk.settings.get_profile()
        assert got.name == "Renamed" and got.confirm_company_name is False and not got.white_list_urls

    def test_api_keys_create_list_limit_delete(self, tenant, sdk, base_url):
        before = sdk.settings.list_api_keys().results
        assert len(before) == 1 and before[0].id
        created = sdk.settings.create_api_key(request={"name": "second"})
        assert created.id and created.name == "second"
        assert created.api_key and KEY_RE.match(created.api_key), created.api_key
        assert created.created_date
        # The new key works.
        other = make_sdk(base_url, created.api_key)
        assert other.companies.list().total_results == 0
        listed = sdk.settings.list_api_keys().results
        assert {k.id for k in listed} == {before[0].id, created.id}
        # Up to 10 keys; the 11th is a 409 ErrorMessage.
        for i in range(8):
            sdk.settings.create_api_key(request={"name": f"k{i}"})
        assert len(sdk.settings.list_api_keys().results) == 10
        expect_error_message(409, sdk.settings.create_api_key, request={"name": "eleventh"})
        assert len(sdk.settings.list_api_keys().results) == 10
        # Delete: 204 (which SDK 6.0.0 reports as ResponseValidationError), then the key gets 401.
        delete_api_key(sdk, created.id)
        expect_error_message(401, other.companies.list)
        assert created.id not in {k.id for k in sdk.settings.list_api_keys().results}
        # The tenant's own key still works, and an unknown id is a 404.
        expect_error_message(404, sdk.settings.delete_api_key, request={"api_key_id": "00000000-0000-4000-8000-000000000005"})

    def test_create_api_key_without_name(self, sdk):
        created = sdk.settings.create_api_key()
        assert created.id and KEY_RE.match(created.api_key or "")


    def test_api_key_name_too_long_is_400(self, sdk):
        expect_error_message(400, sdk.settings.create_api_key, request={"name": "n" * 101})

    def test_deleting_the_calling_key(self, tenant, sdk):
        (own,) = sdk.settings.list_api_keys().results
        spare = sdk.settings.create_api_key(request={"name": "spare"})
        delete_api_key(sdk, own.id)
        expect_error_message(401, sdk.companies.list)
        still = make_sdk(tenant.base_url, spare.api_key)
        assert [k.id for k in still.settings.list_api_keys().results] == [spare.id]

    def test_sdk_profile_update_keeps_link_branding(self, tenant, sdk):
        """finlink's Link branding fields survive an SDK update that does not know them."""
        headers = {"Authorization": basic_auth(tenant.api_key)}
        r = requests.put(
            tenant.base_url + "/profile",
            headers=headers,
            json={"name": "Branded", "redirectUrl": "https://app.example/{companyId}",
                  "primaryColor": "#B91C1C", "defaultLanguage": "fr", "supportEmail": "help@app.example"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        sdk.settings.update_profile(request={"name": "Branded again", "redirect_url": "https://app.example/x"})
        got = requests.get(tenant.base_url + "/profile", headers=headers, timeout=30).json()
        assert got["name"] == "Branded again"
        assert got["primaryColor"] == "#B91C1C" and got["defaultLanguage"] == "fr", got
        assert got["supportEmail"] == "help@app.example", got
        # The SDK still parses the profile with the extra fields.
        assert sdk.settings.get_profile().name == "Branded again"
        bad = requests.put(tenant.base_url + "/profile", headers=headers,
                           json={"name": "X", "redirectUrl": "", "primaryColor": "red"}, timeout=30)
        assert bad.status_code == 400 and "primaryColor" in bad.text, bad.text

    def test_profile_rejects_bad_urls(self, sdk):
        body = {"name": "X", "redirect_url": "javascript:alert(1)"}
        with pytest.raises((errors.SDKError, errors.ErrorMessage)) as ei:
            sdk.settings.update_profile(request=body)
        assert ei.value.status_code == 400, ei.value


    def test_concurrent_api_key_creation_respects_the_limit(self, sdk):
        from concurrent.futures import ThreadPoolExecutor

        def attempt(_):
            try:
                return sdk.settings.create_api_key(request={"name": "race"}).id
            except errors.ErrorMessage as e:
                assert e.status_code == 409, e.body
                return None

        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(attempt, range(12)))
        assert len([r for r in results if r]) == 9, results
        assert len(sdk.settings.list_api_keys().results) == 10


# --------------------------------------------------------------------------------------------
# authentication and error bodies


class TestErrors:
    def test_no_auth_header_is_401(self, base_url):
        e = expect_error_message(401, make_sdk(base_url, None).companies.list)
        assert e.status_code == 401
        assert HEX32_RE.match(e.data.correlation_id)
        assert isinstance(e.data.can_be_retried, str)

    def test_wrong_key_is_401(self, base_url):
        bad = make_sdk(base_url, "A" * 48)
        expect_error_message(401, bad.companies.list)
        expect_error_message(401, make_sdk(base_url, "not-a-key").integrations.list)

    def test_raw_auth_failures_have_error_bodies(self, base_url):
        for headers in (
            {},
            {"Authorization": "Basic !!!not-base64"},
            {"Authorization": "Bearer " + "A" * 48},
            {"Authorization": basic_auth("B" * 48)},
            {"Authorization": ""},
        ):
            r = requests.get(base_url + "/companies", headers=headers, timeout=10)
            body = assert_error_body(r, 401)
            assert isinstance(body.get("canBeRetried"), str), body

    def test_error_bodies(self, tenant, base_url):
        r = requests.get(base_url + "/companies/00000000-0000-4000-8000-000000000006", headers=tenant.auth, timeout=10)
        assert_error_body(r, 404)
        r = requests.post(base_url + "/companies", json={"name": "()"}, headers=tenant.auth, timeout=10)
        assert_error_body(r, 400)


# --------------------------------------------------------------------------------------------
# tenant isolation


class TestTenantIsolation:
    def test_second_client_sees_nothing_of_the_first(self, server):
        a = server.new_tenant("tenant-a")
        b = server.new_tenant("tenant-b")
        sa, sb = a.sdk, b.sdk
        c = mk_company(sa, "Private Co", description="mine", tags={"t": "a"})
        conn = mk_connection(sa, c.id, "mqjo")
        cid, nid = c.id, conn.id

        listed = sb.companies.list()
        assert listed.total_results == 0 and not listed.results
        assert sb.companies.list(request={"query": f"id={cid}"}).total_results == 0
        expect_error_message(404, sb.companies.get, request={"company_id": cid})
        expect_error_message(404, sb.companies.update, request={"company_id": cid, "company_update_request": {"name": "Stolen"}})
        expect_error_message(404, sb.companies.replace, request={"company_id": cid, "company_request_body": {"name": "Stolen"}})
        expect_error_message(404, sb.companies.delete, request={"company_id": cid})
        expect_error_message(404, sb.connections.list, request={"company_id": cid})
        expect_error_message(404, sb.connections.get, request={"company_id": cid, "connection_id": nid})
        expect_error_message(404, sb.connections.delete, request={"company_id": cid, "connection_id": nid})
        expect_error_message(
            404,
            sb.connections.unlink,
            request={"company_id": cid, "connection_id": nid, "update_connection_status": {"status": "Unlinked"}},
        )
        expect_error_message(404, mk_connection, sb, cid, "aiwb")
        # B's own company cannot reach A's connection either.
        own = mk_company(sb, "B Co")
        expect_error_message(404, sb.connections.get, request={"company_id": own.id, "connection_id": nid})

        # A's data is untouched.
        g = sa.companies.get(request={"company_id": cid})
        assert (g.name, g.description, g.tags) == ("Private Co", "mine", {"t": "a"})
        assert [x.id for x in (g.data_connections or [])] == [nid]
        assert sa.companies.list().total_results == 1
        # And A's key list does not show B's keys.
        a_keys = {k.id for k in sa.settings.list_api_keys().results}
        b_keys = {k.id for k in sb.settings.list_api_keys().results}
        assert a_keys and b_keys and not (a_keys & b_keys)
