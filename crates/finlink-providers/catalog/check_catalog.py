#!/usr/bin/env python3
"""Checks the built-in integration catalog (integrations/*.toml and logos/*.svg).

Usage:
    python3 check_catalog.py [--platform-keys PATH/TO/platform-keys.md]

Without --platform-keys the files are checked against each other and against the format rules in
README.md. With it, the keys, slugs, names and source types must also match the table in that file
exactly (one catalog file per row, nothing more). Exits non-zero and lists every problem found.
Needs only the Python 3.11+ standard library.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
INTEGRATIONS = HERE / "integrations"
LOGOS = HERE / "logos"

TOP_LEVEL = {
    "key", "slug", "name", "source_type", "auth_type", "is_beta", "data_provided_by", "website",
    "api_base_url", "allowed_hosts", "brand_color", "oauth", "fields", "data_types", "built_in",
    "credential_check",
}
REQUIRED_TOP_LEVEL = {"key", "slug", "name", "source_type", "auth_type"}
OAUTH_KEYS = {
    "authorize_url", "token_url", "revoke_url", "identity_url", "scopes", "scope_separator",
    "client_auth", "pkce", "rotating_refresh_tokens", "refresh_token_idle_days",
    "refresh_token_max_days", "default_token_lifetime_secs", "refresh_margin_secs", "callback_params", "tenant_selection",
    "per_shop_urls", "extra_authorize_params", "identity_id_field", "identity_name_field",
    "shop_pattern",
}
REQUIRED_OAUTH = {"authorize_url", "token_url"}
FIELD_KEYS = {"name", "label", "help", "kind", "secret", "required"}
REQUIRED_FIELD = {"name", "label", "kind"}

SOURCE_TYPES = {"Accounting", "Banking", "Commerce"}
AUTH_TYPES = {"oauth2", "apiKey", "basic", "onPremise"}
CLIENT_AUTH = {"client_secret_basic", "client_secret_post"}
FIELD_KINDS = {"credential", "setting"}
BUILT_IN_KEYS = {"mqjo", "aiwb"}

DATA_TYPES = {
    "Accounting": {
        "accountTransactions", "balanceSheet", "bankAccounts", "bankTransactions",
        "billCreditNotes", "billPayments", "bills", "cashFlowStatement", "chartOfAccounts",
        "company", "creditNotes", "customers", "directCosts", "directIncomes", "invoices",
        "itemReceipts", "items", "journalEntries", "journals", "paymentMethods", "payments",
        "profitAndLoss", "purchaseOrders", "salesOrders", "suppliers", "taxRates",
        "trackingCategories", "transfers",
    },
    "Banking": {
        "banking-accountBalances", "banking-accounts", "banking-transactionCategories",
        "banking-transactions",
    },
    "Commerce": {
        "commerce-companyInfo", "commerce-customers", "commerce-disputes", "commerce-locations",
        "commerce-orders", "commerce-paymentMethods", "commerce-payments",
        "commerce-productCategories", "commerce-products", "commerce-taxComponents",
        "commerce-transactions",
    },
}

TYPES = {
    "key": str, "slug": str, "name": str, "source_type": str, "auth_type": str, "is_beta": bool,
    "data_provided_by": str, "website": str, "api_base_url": str, "allowed_hosts": list,
    "brand_color": str, "oauth": dict, "fields": list, "data_types": list, "built_in": bool,
    "credential_check": dict,
}
OAUTH_TYPES = {
    "authorize_url": str, "token_url": str, "revoke_url": str, "identity_url": str, "scopes": list,
    "scope_separator": str, "client_auth": str, "pkce": bool, "rotating_refresh_tokens": bool,
    "refresh_token_idle_days": int, "refresh_token_max_days": int,
    "default_token_lifetime_secs": int, "refresh_margin_secs": int, "callback_params": list, "tenant_selection": bool,
    "per_shop_urls": bool, "extra_authorize_params": dict, "identity_id_field": str,
    "identity_name_field": str, "shop_pattern": str,
}
FIELD_TYPES = {"name": str, "label": str, "help": str, "kind": str, "secret": bool, "required": bool}

SVG_NS = "{http://www.w3.org/2000/svg}"
MAX_LOGO_BYTES = 2048
ALLOWED_FONT = "system-ui, sans-serif"


def parse_platform_keys(path: Path) -> list[dict[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.fullmatch(r"[a-z]{4}", cells[2]):
            continue
        rows.append({"source_type": cells[0], "platform": cells[1], "key": cells[2], "slug": cells[3]})
    return rows


def expected_name(platform: str) -> str:
    """The table's platform column, without explanatory parentheses such as "(on-premise)"."""
    for note in ("(finlink's built-in test platform)", "(finlink's built-in)", "(on-premise)"):
        platform = platform.replace(note, "")
    return " ".join(platform.replace("(UK, on-premise)", "(UK)").split())


def check_types(where: str, table: dict, types: dict, errors: list[str]) -> None:
    for k, v in table.items():
        want = types.get(k)
        if want is None:
            continue
        # bool is a subclass of int in Python; keep integers and booleans apart.
        if want is int and (isinstance(v, bool) or not isinstance(v, int)):
            errors.append(f"{where}: {k} must be an integer")
        elif want is not int and not isinstance(v, want):
            errors.append(f"{where}: {k} must be a {want.__name__}")


def check_url(where: str, url: str, built_in: bool, errors: list[str]) -> None:
    if built_in and url.startswith("/"):
        return
    if not url.startswith("https://"):
        errors.append(f"{where}: {url!r} must be an https:// URL" + (" or a /path" if built_in else ""))


def check_integration(path: Path, errors: list[str]) -> dict | None:
    where = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        errors.append(f"{where}: does not parse: {exc}")
        return None

    for k in sorted(set(data) - TOP_LEVEL):
        errors.append(f"{where}: unknown top-level key {k!r}")
    for k in sorted(REQUIRED_TOP_LEVEL - set(data)):
        errors.append(f"{where}: missing required key {k!r}")
    check_types(where, data, TYPES, errors)
    if any(k not in data or not isinstance(data[k], str) for k in REQUIRED_TOP_LEVEL):
        return None

    key, slug, auth, source = data["key"], data["slug"], data["auth_type"], data["source_type"]
    built_in = data.get("built_in", False)
    if path.stem != slug:
        errors.append(f"{where}: file name must be <slug>.toml (slug is {slug!r})")
    if not re.fullmatch(r"[a-z]{4}", key):
        errors.append(f"{where}: key {key!r} must be four lower-case letters")
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug):
        errors.append(f"{where}: slug {slug!r} must be lower-case kebab-case")
    if source not in SOURCE_TYPES:
        errors.append(f"{where}: source_type {source!r} not in {sorted(SOURCE_TYPES)}")
    if auth not in AUTH_TYPES:
        errors.append(f"{where}: auth_type {auth!r} not in {sorted(AUTH_TYPES)}")
    if built_in != (key in BUILT_IN_KEYS):
        errors.append(f"{where}: built_in must be true exactly for {sorted(BUILT_IN_KEYS)}")
    if "brand_color" in data and not re.fullmatch(r"#[0-9A-Fa-f]{6}", str(data["brand_color"])):
        errors.append(f"{where}: brand_color must look like #13B5EA")
    for k in ("website", "api_base_url"):
        if isinstance(data.get(k), str):
            check_url(f"{where}: {k}", data[k], built_in and k == "api_base_url", errors)
    for host in data.get("allowed_hosts", []):
        if not isinstance(host, str) or not re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", host):
            errors.append(f"{where}: allowed_hosts entry {host!r} must be a bare host name")

    dts = data.get("data_types", [])
    if not dts:
        errors.append(f"{where}: data_types is empty")
    for dt in dts if source in DATA_TYPES else []:
        if dt not in DATA_TYPES[source]:
            errors.append(f"{where}: data type {dt!r} is not a {source} data type")
    if len(set(map(str, dts))) != len(dts):
        errors.append(f"{where}: data_types has duplicates")

    # Fields.
    fields = data.get("fields", [])
    names = []
    for i, f in enumerate(fields if isinstance(fields, list) else []):
        fw = f"{where}: fields[{i}]"
        if not isinstance(f, dict):
            errors.append(f"{fw}: must be a table")
            continue
        for k in sorted(set(f) - FIELD_KEYS):
            errors.append(f"{fw}: unknown key {k!r}")
        for k in sorted(REQUIRED_FIELD - set(f)):
            errors.append(f"{fw}: missing {k!r}")
        check_types(fw, f, FIELD_TYPES, errors)
        name = f.get("name", "")
        names.append(name)
        if not re.fullmatch(r"[a-z][A-Za-z0-9]*", str(name)):
            errors.append(f"{fw}: name {name!r} must be camelCase")
        if f.get("kind") not in FIELD_KINDS:
            errors.append(f"{fw}: kind {f.get('kind')!r} not in {sorted(FIELD_KINDS)}")
        if f.get("secret") and f.get("kind") != "credential":
            errors.append(f"{fw}: only credential fields can be secret")
        if name in {"tokenType", "scope", "expiresAt"}:
            errors.append(f"{fw}: {name} is handled generically and must not be listed")
    if len(set(names)) != len(names):
        errors.append(f"{where}: duplicate field names")
    by_name = {f.get("name"): f for f in fields if isinstance(f, dict)}

    # OAuth table.
    oauth = data.get("oauth")
    if auth == "oauth2":
        if not isinstance(oauth, dict):
            errors.append(f"{where}: oauth2 integrations need an [oauth] table")
        at = by_name.get("accessToken")
        if not at or at.get("kind") != "credential" or not at.get("secret") or not at.get("required"):
            errors.append(f"{where}: oauth2 integrations need accessToken (credential, secret, required)")
        rt = by_name.get("refreshToken")
        if rt and (rt.get("kind") != "credential" or not rt.get("secret")):
            errors.append(f"{where}: refreshToken must be a secret credential")
    elif oauth is not None:
        errors.append(f"{where}: only oauth2 integrations may have an [oauth] table")
    if auth == "onPremise" and fields:
        errors.append(f"{where}: onPremise integrations have no fields")
    if auth in {"apiKey", "basic"} and not any(
        isinstance(f, dict) and f.get("kind") == "credential" and f.get("required") for f in fields
    ):
        errors.append(f"{where}: {auth} integrations need at least one required credential field")
    if auth == "basic":
        for n in ("username", "password"):
            if n not in by_name:
                errors.append(f"{where}: basic integrations need a {n} field")

    if isinstance(oauth, dict):
        ow = f"{where}: [oauth]"
        for k in sorted(set(oauth) - OAUTH_KEYS):
            errors.append(f"{ow}: unknown key {k!r}")
        for k in sorted(REQUIRED_OAUTH - set(oauth)):
            errors.append(f"{ow}: missing {k!r}")
        check_types(ow, oauth, OAUTH_TYPES, errors)
        if oauth.get("client_auth", "client_secret_basic") not in CLIENT_AUTH:
            errors.append(f"{ow}: client_auth {oauth.get('client_auth')!r} not in {sorted(CLIENT_AUTH)}")
        if oauth.get("scope_separator", " ") == "":
            errors.append(f"{ow}: scope_separator must not be empty")
        urls = {k: oauth[k] for k in ("authorize_url", "token_url", "revoke_url", "identity_url")
                if isinstance(oauth.get(k), str)}
        for k, u in urls.items():
            check_url(f"{ow} {k}", u, built_in, errors)
        for k, v in oauth.get("extra_authorize_params", {}).items():
            if not isinstance(v, str):
                errors.append(f"{ow}: extra_authorize_params.{k} must be a string")
        for lst in ("scopes", "callback_params"):
            if not all(isinstance(s, str) and s for s in oauth.get(lst, [])):
                errors.append(f"{ow}: {lst} must be non-empty strings")
        per_shop = oauth.get("per_shop_urls", False)
        shop_in_urls = any("{shop}" in u for u in urls.values())
        if per_shop and not ("{shop}" in urls.get("authorize_url", "") or "{shop}" in urls.get("token_url", "")
                             or any("{shop}" in s for s in oauth.get("scopes", []))):
            errors.append(f"{ow}: per_shop_urls is set but no URL or scope contains {{shop}}")
        if shop_in_urls and not per_shop:
            errors.append(f"{ow}: a URL contains {{shop}} but per_shop_urls is not set")
        if per_shop and not any(isinstance(f, dict) and f.get("kind") == "setting" and f.get("required")
                                for f in fields):
            errors.append(f"{ow}: per_shop_urls needs a required setting that supplies {{shop}}")
        if per_shop and not (oauth.get("shop_pattern") == "*" or str(oauth.get("shop_pattern", "")).startswith("*.")):
            errors.append(f"{ow}: per_shop_urls needs shop_pattern (\"*.domain\" or \"*\")")
        idle, mx = oauth.get("refresh_token_idle_days"), oauth.get("refresh_token_max_days")
        if isinstance(idle, int) and isinstance(mx, int) and idle > mx:
            errors.append(f"{ow}: refresh_token_idle_days exceeds refresh_token_max_days")
    if "{shop}" in str(data.get("api_base_url", "")) and not (isinstance(oauth, dict) and oauth.get("per_shop_urls")):
        errors.append(f"{where}: api_base_url contains {{shop}} but per_shop_urls is not set")

    text = path.read_text(encoding="utf-8")
    if "Sources" not in "\n".join(text.splitlines()[:8]):
        errors.append(f"{where}: the header comment must list its sources")
    return data


def check_logo(slug: str, name: str, errors: list[str]) -> None:
    path = LOGOS / f"{slug}.svg"
    where = f"logos/{slug}.svg"
    if not path.exists():
        errors.append(f"{where}: missing")
        return
    raw = path.read_bytes()
    if len(raw) >= MAX_LOGO_BYTES:
        errors.append(f"{where}: {len(raw)} bytes, must stay under {MAX_LOGO_BYTES}")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        errors.append(f"{where}: not well-formed XML: {exc}")
        return
    if root.tag != f"{SVG_NS}svg":
        errors.append(f"{where}: root element must be an SVG <svg>")
    if root.get("viewBox") != "0 0 64 64":
        errors.append(f"{where}: viewBox must be '0 0 64 64'")
    if root.get("role") != "img":
        errors.append(f"{where}: role must be 'img'")
    title = root.find(f"{SVG_NS}title")
    if title is None or (title.text or "").strip() != name:
        errors.append(f"{where}: <title> must be the platform name {name!r}")
    for el in root.iter():
        tag = el.tag.replace(SVG_NS, "")
        if tag in {"script", "foreignObject", "image", "use", "style", "a", "iframe"}:
            errors.append(f"{where}: <{tag}> is not allowed")
        for attr, value in el.attrib.items():
            local = attr.split("}")[-1]
            if local.startswith("on"):
                errors.append(f"{where}: event handler attribute {local} is not allowed")
            if local == "href" or "url(" in value or "http://" in value.replace(
                    "http://www.w3.org/2000/svg", "") or "https://" in value:
                errors.append(f"{where}: external reference in {local}={value!r}")
            if local == "font-family" and value != ALLOWED_FONT:
                errors.append(f"{where}: font-family must be {ALLOWED_FONT!r}")
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        errors.append(f"{where}: DOCTYPE / entities are not allowed")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--platform-keys", type=Path, help="path to reference/platform-keys.md")
    args = ap.parse_args()

    errors: list[str] = []
    entries: dict[str, dict] = {}
    files = sorted(INTEGRATIONS.glob("*.toml"))
    if not files:
        errors.append("integrations/: no .toml files")
    for path in files:
        data = check_integration(path, errors)
        if data is not None:
            entries[path.stem] = data

    for field in ("key", "slug", "name"):
        seen: dict[str, str] = {}
        for stem, d in entries.items():
            v = d.get(field)
            if v in seen:
                errors.append(f"{stem}.toml: {field} {v!r} also used by {seen[v]}.toml")
            seen[v] = stem

    for stem, d in entries.items():
        check_logo(d["slug"], d["name"], errors)
    slugs = {d["slug"] for d in entries.values()}
    for logo in sorted(LOGOS.glob("*")):
        if logo.suffix != ".svg" or logo.stem not in slugs:
            errors.append(f"logos/{logo.name}: no integration with that slug")

    if args.platform_keys:
        rows = parse_platform_keys(args.platform_keys)
        if not rows:
            errors.append(f"{args.platform_keys}: no platform rows found")
        by_key = {d["key"]: d for d in entries.values()}
        for row in rows:
            d = by_key.get(row["key"])
            if d is None:
                errors.append(f"platform-keys: {row['key']} ({row['slug']}) has no catalog file")
                continue
            if d["slug"] != row["slug"]:
                errors.append(f"{d['slug']}.toml: slug should be {row['slug']!r} for key {row['key']}")
            if d["source_type"] != row["source_type"]:
                errors.append(f"{d['slug']}.toml: source_type should be {row['source_type']!r}")
            if d["name"] != expected_name(row["platform"]):
                errors.append(f"{d['slug']}.toml: name {d['name']!r} should be {expected_name(row['platform'])!r}")
        extra = set(by_key) - {r["key"] for r in rows}
        for k in sorted(extra):
            errors.append(f"{by_key[k]['slug']}.toml: key {k} is not in platform-keys.md")
        print(f"checked against {len(rows)} rows of {args.platform_keys}")

    for e in errors:
        print(f"error: {e}")
    print(f"{len(entries)} integrations, {len(list(LOGOS.glob('*.svg')))} logos, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
