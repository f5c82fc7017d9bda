"""Full-pull benchmark (issue 8): finlink pulls a sandbox company's invoices and bank
transactions (N each) through its sync engine and stores them, on SQLite and PostgreSQL; next
to the sandbox serving the same pages alone in the same run (the baseline: the rate the platform
side can go at), and finlink's peak RSS.

Run by bench/sync.sh (which builds the release binary and the Python environment).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "conformance"))
from conftest import FinlinkEnv, start_server  # noqa: E402

N = int(os.environ.get("RECORDS", "100000"))
ENGINES = os.environ.get("ENGINES", "sqlite postgres").split()
TIMEOUT_S = float(os.environ.get("SYNC_TIMEOUT", "1800"))
# The read benchmark: invoices stored for one company, then GET /data/invoices?pageSize=5000
# with these queries, READ_REPEAT times each (0 skips it).
READ_RECORDS = int(os.environ.get("READ_RECORDS", "1000000"))
READ_REPEAT = int(os.environ.get("READ_REPEAT", "20"))
QUERIES = [
    ("no query (baseline: the same endpoint, first page)", {}),
    ("query=status=Paid", {"query": "status=Paid"}),
    ("query=amountDue>0&&issueDate>2023-06-30", {"query": "amountDue>0&&issueDate>2023-06-30"}),
    ("orderBy=-issueDate", {"orderBy": "-issueDate"}),
]
TYPES = [("invoices", "invoices", "invoices"), ("bankTransactions", "bank-transactions", "bankTransactions")]


def rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def sandbox_alone(server, grant: dict, path: str) -> tuple:
    """Every page of `path` straight from the sandbox (1,000 per page, one at a time)."""
    headers = {"Authorization": f"Bearer {grant['access_token']}", "X-Tenant-Id": grant["tenant_id"]}
    s = requests.Session()
    t0, page, records = time.monotonic(), 1, 0
    while True:
        r = s.get(server.url(f"/sandbox/api/{path}"), params={"page": page, "pageSize": 1000}, headers=headers, timeout=60)
        r.raise_for_status()
        body = r.json()
        items = next(v for k, v in body.items() if k != "pagination")
        records += len(items)
        if not items or page >= body["pagination"]["pageCount"]:
            break
        page += 1
    return records, time.monotonic() - t0


def pull(server, auth, company_id: str, data_type: str) -> float:
    t0 = time.monotonic()
    r = requests.post(server.url(f"/companies/{company_id}/data/queue/{data_type}"), headers=auth, timeout=60)
    r.raise_for_status()
    ds = r.json()["id"]
    while True:
        op = requests.get(server.url(f"/companies/{company_id}/data/history/{ds}"), headers=auth, timeout=60).json()
        if op["isCompleted"] or op["isErrored"]:
            break
        if time.monotonic() - t0 > TIMEOUT_S:
            raise SystemExit(f"{data_type}: not done after {TIMEOUT_S} s: {op}")
        time.sleep(0.2)
    if op["status"] != "Complete":
        raise SystemExit(f"{data_type}: {op}")
    return time.monotonic() - t0


def read_bench(server, sdk, auth) -> None:
    """READ_RECORDS invoices pulled into a company of their own, then timed reads."""
    grant = requests.post(
        server.url("/sandbox/admin/mint"),
        json={"companyName": "Bench Read Ltd", "data": {"invoices": READ_RECORDS}},
        timeout=60,
    ).json()
    company = sdk.companies.create(request={"name": "Bench Read"})
    conn = sdk.connections.create(request={"company_id": company.id, "request_body": {"platform_key": "mqjo"}})
    sdk.connections.update_authorization(request={
        "company_id": company.id, "connection_id": conn.id,
        "request_body": {"accessToken": grant["access_token"], "refreshToken": grant["refresh_token"],
                         "expiresIn": str(grant["expires_in"]), "tenantId": grant["tenant_id"]},
    })
    secs = pull(server, auth, company.id, "invoices")
    print(f"  read benchmark: {READ_RECORDS} invoices pulled and stored in {secs:.1f} s ({READ_RECORDS / secs:,.0f} records/s); "
          f"GET /companies/{{id}}/data/invoices?pageSize=5000, {READ_REPEAT} times each, one at a time:")
    s = requests.Session()
    for label, params in QUERIES:
        times, total, got = [], None, 0
        for _ in range(READ_REPEAT):
            t0 = time.monotonic()
            r = s.get(server.url(f"/companies/{company.id}/data/invoices"), params={"pageSize": 5000, **params},
                      headers=auth, timeout=120)
            times.append(time.monotonic() - t0)
            r.raise_for_status()
            body = r.json()
            total, got = body["totalResults"], len(body["results"])
        times.sort()
        pct = lambda p: times[min(len(times) - 1, int(p * len(times)))] * 1000  # noqa: E731
        print(f"    {label:<48} p50 {pct(0.5):7.1f} ms  p99 {pct(0.99):7.1f} ms  max {times[-1] * 1000:7.1f} ms"
              f"  ({got} of totalResults {total})")


def run(engine: str) -> None:
    fenv = FinlinkEnv.create(engine)
    fenv.settings.update({"FINLINK_LOG": "warn", "FINLINK_WORKERS__POLL_MS": "100"})
    key = fenv.cli("keys", "create")
    server = start_server(fenv, api_key=key, label=f"bench-sync-{engine}", workers=True)
    try:
        pid = server.proc.pid
        auth = server.auth
        grant = requests.post(
            server.url("/sandbox/admin/mint"),
            json={"companyName": "Bench Pull Ltd", "data": {"invoices": N, "bankTransactions": N}},
            timeout=60,
        ).json()
        rss_start = rss_kb(pid, "VmRSS")
        print(f"== {engine}: {N} invoices and {N} bank transactions; load {loadavg()}; finlink RSS at start {rss_start // 1024} MB")
        base = {}
        for dt, path, _ in TYPES:
            n, secs = sandbox_alone(server, grant, path)
            base[dt] = n / secs
            print(f"  baseline: the sandbox alone serves {path}: {n} records in {secs:.2f} s = {n / secs:,.0f} records/s (1,000 per page, one request at a time)")
        sdk = server.sdk
        company = sdk.companies.create(request={"name": "Bench Pull"})
        conn = sdk.connections.create(request={"company_id": company.id, "request_body": {"platform_key": "mqjo"}})
        sdk.connections.update_authorization(request={
            "company_id": company.id, "connection_id": conn.id,
            "request_body": {"accessToken": grant["access_token"], "refreshToken": grant["refresh_token"],
                             "expiresIn": str(grant["expires_in"]), "tenantId": grant["tenant_id"]},
        })
        for dt, path, _ in TYPES:
            t0 = time.monotonic()
            r = requests.post(server.url(f"/companies/{company.id}/data/queue/{dt}"), headers=auth, timeout=60)
            r.raise_for_status()
            ds = r.json()["id"]
            while True:
                op = requests.get(server.url(f"/companies/{company.id}/data/history/{ds}"), headers=auth, timeout=60).json()
                if op["isCompleted"] or op["isErrored"]:
                    break
                if time.monotonic() - t0 > TIMEOUT_S:
                    raise SystemExit(f"{dt}: not done after {TIMEOUT_S} s: {op}")
                time.sleep(0.05)
            secs = time.monotonic() - t0
            if op["status"] != "Complete":
                raise SystemExit(f"{dt}: {op}")
            rate = N / secs
            print(f"  finlink pulls {dt}: {N} records in {secs:.2f} s = {rate:,.0f} records/s ({rate / base[dt]:.2f} of the sandbox alone); "
                  f"RSS now {rss_kb(pid, 'VmRSS') // 1024} MB")
        print(f"  finlink peak RSS {rss_kb(pid, 'VmHWM') // 1024} MB (at start {rss_start // 1024} MB); load {loadavg()}")
        if READ_RECORDS and READ_REPEAT:
            read_bench(server, sdk, auth)
    finally:
        server.stop()
        fenv.cleanup()


for e in ENGINES:
    if e == "postgres" and not os.environ.get("FINLINK_TEST_POSTGRES_URL"):
        print("(PostgreSQL: FINLINK_TEST_POSTGRES_URL not set: skipped)")
        continue
    run(e)
