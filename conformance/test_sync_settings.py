"""Sync settings through the official Codat SDK (codat-platform 6.0.0), retries off.

* The client's settings: ``settings.get_sync_settings`` answers finlink's defaults for every data
  type until ``settings.update_sync_settings`` (204) replaces them; a body that is not valid is a
  400 (not listed for that operation in the SDK, so ``SDKError``, with Codat's body naming the
  field) and another client's ``clientId`` a 403 (``ErrorMessage``).
* A company's: ``companies.get_company_sync_settings`` answers the client's settings until
  ``companies.set_company_sync_settings`` (204) overrides them; 400 and 404 are ``ErrorMessage``.
* ``refresh_data.all`` queues only the data types with ``fetchOnFirstLink`` (the company's
  settings over the client's).
* A data type the SDK's enum does not know can only be sent without it: raw HTTP, 400.
"""

from __future__ import annotations

import uuid

import pytest
import requests

from codat_platform.models import errors, shared

from conftest import UUID_RE, assert_error_body
from test_sync import SANDBOX_TYPES, migrated_company, mint, statuses, sync_server  # noqa: F401

ALL_TYPES = 43


def value(v) -> str:
    return str(getattr(v, "value", v))


def by_type(settings) -> dict:
    return {value(s.data_type): s for s in settings}


def setting(data_type: str, fetch: bool = True, schedule: int = 24, order: int = 0, **extra) -> dict:
    return {"data_type": data_type, "fetch_on_first_link": fetch, "sync_schedule": schedule, "sync_order": order, **extra}


@pytest.fixture
def tenant(sync_server):
    return sync_server.new_tenant()


@pytest.fixture
def sdk(tenant):
    return tenant.sdk


class TestClientSettings:
    def test_defaults_update_and_get(self, sdk):
        got = sdk.settings.get_sync_settings()
        assert isinstance(got, shared.SyncSettings)
        assert UUID_RE.match(got.client_id)
        assert got.overrides_defaults is False
        defaults = by_type(got.settings)
        assert len(defaults) == ALL_TYPES
        assert defaults["invoices"].fetch_on_first_link is True
        assert defaults["invoices"].sync_schedule == 24
        assert defaults["balanceSheet"].fetch_on_first_link is False
        assert [defaults[t].sync_order for t in ("company", "chartOfAccounts", "taxRates")] == [0, 1, 2]

        assert sdk.settings.update_sync_settings(request={
            "client_id": got.client_id,
            "settings": [
                setting("invoices", schedule=1, order=3, sync_from_window=6),
                setting("bills", fetch=False, schedule=720, sync_from_utc="2021-01-01T00:00:00Z", is_locked=True),
            ],
        }) is None
        after = sdk.settings.get_sync_settings()
        assert after.overrides_defaults is True  # the SDK's default
        s = by_type(after.settings)
        assert len(s) == ALL_TYPES
        assert (s["invoices"].sync_schedule, s["invoices"].sync_order, s["invoices"].sync_from_window) == (1, 3, 6)
        assert s["invoices"].sync_from_utc is None
        assert (s["bills"].fetch_on_first_link, s["bills"].sync_schedule) == (False, 720)
        assert s["bills"].sync_from_utc == "2021-01-01T00:00:00.000Z"
        assert s["bills"].is_locked is True
        assert s["customers"] == defaults["customers"]

    def test_invalid_bodies(self, sync_server, sdk, tenant):
        client_id = sdk.settings.get_sync_settings().client_id
        for bad in (
            setting("invoices", schedule=0),
            setting("invoices", schedule=721),
            setting("invoices", sync_from_utc="2020-01-01T00:00:00Z", sync_from_window=12),
        ):
            # 400 is not listed for update-profile-syncSettings in SDK 6.0.0.
            with pytest.raises(errors.SDKError) as ei:
                sdk.settings.update_sync_settings(request={"client_id": client_id, "settings": [bad]})
            assert ei.value.status_code == 400, ei.value.body
            assert "settings[0]" in ei.value.body
        with pytest.raises(errors.ErrorMessage) as ei:
            sdk.settings.update_sync_settings(request={"client_id": str(uuid.uuid4()), "settings": []})
        assert ei.value.status_code == 403
        assert ei.value.data.correlation_id
        # An unknown data type (the SDK's enum refuses to send it).
        r = requests.post(
            sync_server.url("/profile/syncSettings"),
            json={"clientId": client_id, "settings": [{"dataType": "widgets", "fetchOnFirstLink": True, "syncSchedule": 24, "syncOrder": 0}]},
            headers=tenant.auth,
            timeout=30,
        )
        body = assert_error_body(r, 400)
        assert body["validation"]["errors"][0]["itemId"] == "settings[0].dataType"
        assert sdk.settings.get_sync_settings().overrides_defaults is False, "nothing changed"


class TestCompanySettings:
    def test_company_over_client(self, sdk):
        client_id = sdk.settings.get_sync_settings().client_id
        sdk.settings.update_sync_settings(request={"client_id": client_id, "settings": [setting("invoices", schedule=168)]})
        company = sdk.companies.create(request={"name": "Sync Settings Co"})
        got = sdk.companies.get_company_sync_settings(request={"company_id": company.id})
        assert isinstance(got, shared.CompanySyncSettings)
        assert got.company_id == company.id
        assert got.overrides_defaults is False
        assert by_type(got.settings)["invoices"].sync_schedule == 168, "the client's"

        assert sdk.companies.set_company_sync_settings(request={
            "company_id": company.id,
            "request_body": {"company_id": company.id, "settings": [setting("invoices", schedule=2, order=9)]},
        }) is None
        got = sdk.companies.get_company_sync_settings(request={"company_id": company.id})
        assert got.overrides_defaults is True
        s = by_type(got.settings)
        assert (s["invoices"].sync_schedule, s["invoices"].sync_order) == (2, 9)
        assert len(s) == ALL_TYPES
        assert by_type(sdk.settings.get_sync_settings().settings)["invoices"].sync_schedule == 168

    def test_errors(self, sdk):
        company = sdk.companies.create(request={"name": "Sync Settings Errors"})
        for bad in (setting("invoices", schedule=721), setting("bills", sync_from_utc="2020-01-01", sync_from_window=1)):
            with pytest.raises(errors.ErrorMessage) as ei:
                sdk.companies.set_company_sync_settings(request={
                    "company_id": company.id,
                    "request_body": {"company_id": company.id, "settings": [bad]},
                })
            assert ei.value.status_code == 400
            assert ei.value.data.validation.errors[0].item_id.startswith("settings[0].")
        with pytest.raises(errors.ErrorMessage) as ei:
            sdk.companies.set_company_sync_settings(request={
                "company_id": company.id,
                "request_body": {"company_id": str(uuid.uuid4()), "settings": []},
            })
        assert ei.value.status_code == 400
        missing = str(uuid.uuid4())
        with pytest.raises(errors.ErrorMessage) as ei:
            sdk.companies.get_company_sync_settings(request={"company_id": missing})
        assert ei.value.status_code == 404
        with pytest.raises(errors.ErrorMessage) as ei:
            sdk.companies.set_company_sync_settings(request={
                "company_id": missing,
                "request_body": {"company_id": missing, "settings": []},
            })
        assert ei.value.status_code == 404


class TestRefreshFollowsTheSettings:
    def test_data_all_queues_only_fetch_on_first_link_types(self, sync_server, sdk):
        client_id = sdk.settings.get_sync_settings().client_id
        sdk.settings.update_sync_settings(request={"client_id": client_id, "settings": [setting("bills", fetch=False)]})
        company, _conn = migrated_company(sdk, mint(sync_server, "Settings Follow Ltd"))
        sdk.companies.set_company_sync_settings(request={
            "company_id": company.id,
            "request_body": {"company_id": company.id, "settings": [setting("chartOfAccounts", fetch=False)]},
        })
        assert statuses(sdk, company.id) == {}, "a migration pulls nothing"
        assert sdk.refresh_data.all(request={"company_id": company.id}) is None
        assert set(statuses(sdk, company.id)) == SANDBOX_TYPES - {"bills", "chartOfAccounts"}
