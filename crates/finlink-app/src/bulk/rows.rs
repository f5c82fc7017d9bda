//! The rows of a bulk migration file: reading JSON Lines or CSV into one row model, and checking
//! a row with the same rules as the per-connection API (`check_fields`, the catalog, Codat's
//! company name and tag rules, Apideck's consumer ids). Pure: no I/O besides the reader.

use std::collections::BTreeMap;
use std::io::BufRead;

use finlink_domain::company::{Tags, normalize_name, validate_tags};
use finlink_domain::ids::CompanyId;
use finlink_domain::integration::Integration;
use finlink_domain::{Error, Timestamp};
use finlink_providers::Catalog;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::migration::{MigrationInput, check_fields};
use crate::vault::{EXPIRES_IN_MS_THRESHOLD, check_consumer_id, snake_to_camel};

/// A line (JSON Lines) or record (CSV) longer than this is refused.
pub const MAX_ROW_BYTES: usize = 64 * 1024;
/// A single value longer than this is refused (real tokens are a few kilobytes at most).
pub const MAX_VALUE_CHARS: usize = 16 * 1024;

/// The input's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// JSON Lines when the first non-blank byte opens an object, CSV otherwise.
    pub fn detect(head: &[u8]) -> Self {
        let first = head
            .iter()
            .copied()
            .find(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF);
        if first == Some(b'{') {
            Format::Jsonl
        } else {
            Format::Csv
        }
    }
}

/// A row problem: which field, what is wrong and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub field: String,
    pub message: String,
}

impl RowError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    fn from_error(e: &Error) -> Self {
        match e {
            Error::Validation { message, errors } => match errors.first() {
                Some(f) => Self::new(&f.item_id, f.message.clone()),
                None => Self::new("", message.clone()),
            },
            other => Self::new("", other.to_string()),
        }
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// A row as read, before it is checked. Its `Debug` names the body's fields, never their values
/// (they include tokens).
#[derive(Default, Clone)]
pub struct RowInput {
    pub client: Option<String>,
    pub company_id: Option<String>,
    pub company_ref: Option<String>,
    pub company_name: Option<String>,
    pub tags: Tags,
    pub integration: Option<String>,
    pub unified_api: Option<String>,
    /// The flat body of issue 3's migration schema (Codat's `PUT .../authorization`).
    pub body: BTreeMap<String, Value>,
    /// Apideck's connection metadata, kept on the connection.
    pub metadata: Map<String, Value>,
}

impl std::fmt::Debug for RowInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowInput")
            .field("client", &self.client)
            .field("company_id", &self.company_id)
            .field("company_ref", &self.company_ref)
            .field("company_name", &self.company_name)
            .field("tags", &self.tags)
            .field("integration", &self.integration)
            .field("unified_api", &self.unified_api)
            .field("body", &self.body.keys().collect::<Vec<_>>())
            .field("metadata", &self.metadata.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Drop for RowInput {
    fn drop(&mut self) {
        for v in self.body.values_mut() {
            if let Value::String(s) = v {
                zeroize::Zeroize::zeroize(s);
            }
        }
    }
}

/// Which company a row belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CompanyKey {
    /// An existing finlink company.
    Id(CompanyId),
    /// An external reference (kept as the company's consumer id): created on first use.
    Ref(String),
}

impl CompanyKey {
    fn hash_into(&self, h: &mut Sha256) {
        match self {
            CompanyKey::Id(id) => {
                h.update(b"id:");
                h.update(id.to_string().as_bytes());
            }
            CompanyKey::Ref(r) => {
                h.update(b"ref:");
                h.update(r.as_bytes());
            }
        }
    }
}

/// A checked row.
#[derive(Debug)]
pub struct CheckedRow<'c> {
    pub company: CompanyKey,
    /// For a company to create.
    pub company_name: String,
    pub tags: Tags,
    pub integration: &'c Integration,
    pub input: MigrationInput,
    pub metadata: Map<String, Value>,
    /// A digest of the row's credentials and settings (never the values themselves).
    pub token_fingerprint: u64,
}

impl CheckedRow<'_> {
    /// The slot a connection occupies: one per accounting company, else per integration.
    pub fn slot(&self) -> u64 {
        let mut h = Sha256::new();
        self.company.hash_into(&mut h);
        if self.integration.source_type == finlink_domain::connection::SourceType::Accounting {
            h.update(b"|accounting");
        } else {
            h.update(b"|");
            h.update(self.integration.key.as_bytes());
        }
        first_u64(&h.finalize())
    }
}

fn first_u64(d: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in d.iter().take(8).enumerate() {
        if let Some(slot) = b.get_mut(i) {
            *slot = *x;
        }
    }
    u64::from_le_bytes(b)
}

fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn text_field(obj: &Map<String, Value>, names: &[&str]) -> Result<Option<String>, RowError> {
    for n in names {
        if let Some(v) = obj.get(*n) {
            if v.is_null() {
                continue;
            }
            let s = as_text(v).ok_or_else(|| {
                RowError::new(
                    n,
                    format!("'{n}' must be a string; put the value in quotes."),
                )
            })?;
            let s = s.trim().to_owned();
            if !s.is_empty() {
                return Ok(Some(s));
            }
        }
    }
    Ok(None)
}

const COMPANY_ID: [&str; 2] = ["companyId", "company_id"];
const COMPANY_REF: [&str; 8] = [
    "companyRef",
    "company_ref",
    "externalReference",
    "external_reference",
    "consumerId",
    "consumer_id",
    "reference",
    "ref",
];
const COMPANY_NAME: [&str; 3] = ["companyName", "company_name", "name"];
const CLIENT: [&str; 2] = ["client", "clientId"];
const INTEGRATION: [&str; 8] = [
    "integration",
    "platformKey",
    "platform_key",
    "integrationKey",
    "integration_key",
    "serviceId",
    "service_id",
    "slug",
];
const UNIFIED: [&str; 2] = ["unifiedApi", "unified_api"];
/// Keys that are not part of the credentials body.
const RESERVED: [&str; 9] = [
    "tags",
    "credentials",
    "settings",
    "authorization",
    "metadata",
    "row",
    "connectionId",
    "connection_id",
    "id",
];

/// Apideck's snake_case credential names and their finlink (Codat) names.
fn apideck_name(k: &str) -> Option<&'static str> {
    match k {
        "access_token" => Some("accessToken"),
        "refresh_token" => Some("refreshToken"),
        "expires_in" => Some("expiresIn"),
        "expires_at" => Some("expiresAt"),
        "issued_at" => Some("issuedAt"),
        "token_type" => Some("tokenType"),
        _ => None,
    }
}

fn put_body(body: &mut BTreeMap<String, Value>, key: &str, v: &Value) -> Result<(), RowError> {
    let name = apideck_name(key).map_or_else(
        || {
            if key.contains('_') {
                snake_to_camel(key)
            } else {
                key.to_owned()
            }
        },
        str::to_owned,
    );
    let value = match v {
        Value::Null => return Ok(()),
        Value::String(s) if s.trim().is_empty() => return Ok(()),
        Value::String(_) => v.clone(),
        Value::Number(_) | Value::Bool(_) => Value::String(as_text(v).unwrap_or_default()),
        _ => {
            return Err(RowError::new(
                key,
                format!("'{key}' must be a string, number or boolean."),
            ));
        }
    };
    if let Value::String(s) = &value
        && s.chars().count() > MAX_VALUE_CHARS
    {
        return Err(RowError::new(
            key,
            format!("'{key}' is longer than {MAX_VALUE_CHARS} characters; is it the right column?"),
        ));
    }
    if body.contains_key(&name) {
        return Err(RowError::new(
            key,
            format!("'{name}' is given twice in this row; keep one."),
        ));
    }
    body.insert(name, value);
    Ok(())
}

fn parse_tags(v: &Value) -> Result<Tags, RowError> {
    let mut tags = Tags::new();
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, v) in m {
                let s = as_text(v).ok_or_else(|| {
                    RowError::new(&format!("tags.{k}"), "A tag value must be a string.")
                })?;
                tags.insert(k.clone(), s);
            }
        }
        Value::String(s) if s.trim().is_empty() => {}
        Value::String(s) if s.trim_start().starts_with('{') => {
            let parsed: Value = serde_json::from_str(s).map_err(|e| {
                RowError::new(
                    "tags",
                    format!("tags is not a JSON object ({e}); write {{\"k\":\"v\"}} or k=v;k2=v2."),
                )
            })?;
            return parse_tags(&parsed);
        }
        Value::String(s) => {
            for pair in s.split(';').filter(|p| !p.trim().is_empty()) {
                let (k, v) = pair.split_once('=').ok_or_else(|| {
                    RowError::new(
                        "tags",
                        format!(
                            "tag '{}' has no '='; write key=value;key2=value2.",
                            pair.trim()
                        ),
                    )
                })?;
                tags.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
        _ => {
            return Err(RowError::new(
                "tags",
                "tags must be an object of strings, or key=value;key2=value2.",
            ));
        }
    }
    Ok(tags)
}

/// Reads one row object (a JSON Lines line, or a CSV record as an object of its columns) in any of
/// the accepted shapes: finlink's (flat or with `credentials`/`settings`), Codat's
/// `PUT .../authorization` body under `authorization` or flat, Apideck's import body
/// (`consumer_id`, `service_id`, `credentials.access_token`, ...).
pub fn row_from_object(obj: &Map<String, Value>) -> Result<RowInput, RowError> {
    let mut row = RowInput {
        client: text_field(obj, &CLIENT)?,
        company_id: text_field(obj, &COMPANY_ID)?,
        company_ref: text_field(obj, &COMPANY_REF)?,
        company_name: text_field(obj, &COMPANY_NAME)?,
        integration: text_field(obj, &INTEGRATION)?,
        unified_api: text_field(obj, &UNIFIED)?,
        tags: Tags::new(),
        body: BTreeMap::new(),
        metadata: Map::new(),
    };
    if let Some(t) = obj.get("tags") {
        row.tags = parse_tags(t)?;
    }
    if let Some(m) = obj.get("metadata") {
        match m {
            Value::Object(m) => row.metadata = m.clone(),
            Value::Null => {}
            Value::String(s) if s.trim().is_empty() => {}
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => row.metadata = m,
                _ => return Err(RowError::new("metadata", "metadata must be a JSON object.")),
            },
            _ => return Err(RowError::new("metadata", "metadata must be a JSON object.")),
        }
    }
    let mut issued_apideck: Option<String> = None;
    let mut expires_in_apideck: Option<String> = None;
    for nested in ["credentials", "settings", "authorization"] {
        match obj.get(nested) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    match k.as_str() {
                        "issued_at" if nested == "credentials" => issued_apideck = as_text(v),
                        "expires_in" if nested == "credentials" => expires_in_apideck = as_text(v),
                        _ => put_body(&mut row.body, k, v)?,
                    }
                }
            }
            Some(_) => {
                return Err(RowError::new(
                    nested,
                    format!("'{nested}' must be an object of fields."),
                ));
            }
        }
    }
    for (k, v) in obj {
        let k = k.as_str();
        if RESERVED.contains(&k)
            || CLIENT.contains(&k)
            || COMPANY_ID.contains(&k)
            || COMPANY_REF.contains(&k)
            || COMPANY_NAME.contains(&k)
            || INTEGRATION.contains(&k)
            || UNIFIED.contains(&k)
        {
            continue;
        }
        match k {
            "issued_at" => issued_apideck = as_text(v).filter(|s| !s.trim().is_empty()),
            "expires_in" => expires_in_apideck = as_text(v).filter(|s| !s.trim().is_empty()),
            _ => put_body(&mut row.body, k, v)?,
        }
    }
    // Apideck's expiry: `expires_in` (seconds, or milliseconds above the threshold, as the
    // import endpoint reads it) after `issued_at`, or after now without one.
    if let Some(e) = expires_in_apideck {
        let n: i64 = e.trim().parse().map_err(|_| {
            RowError::new(
                "expires_in",
                String::from("expires_in must be a whole number of seconds, e.g. 3600."),
            )
        })?;
        let secs = if n > EXPIRES_IN_MS_THRESHOLD {
            n / 1000
        } else {
            n
        };
        row.body
            .insert("expiresIn".into(), Value::String(secs.to_string()));
    }
    if let Some(i) = issued_apideck {
        row.body.insert("issuedAt".into(), Value::String(i));
    }
    Ok(row)
}

/// Checks a row. `client` is the run's client id (a row naming another is refused).
pub fn check_row<'c>(
    catalog: &'c Catalog,
    row: &RowInput,
    client: &str,
    now: Timestamp,
) -> Result<CheckedRow<'c>, RowError> {
    if let Some(c) = &row.client
        && c != client
    {
        return Err(RowError::new(
            "client",
            format!(
                "this run imports for client {client}, but the row names client {c}; split the file per client (or pass --client)."
            ),
        ));
    }
    let key = row.integration.as_deref().ok_or_else(|| {
        RowError::new(
            "integration",
            "no integration: give its key or slug (e.g. \"integration\": \"gbol\" or \"xero\"); `GET /integrations` lists them.",
        )
    })?;
    let integ = catalog
        .get(key)
        .or_else(|| catalog.by_slug(key))
        .or_else(|| catalog.by_slug(&key.to_ascii_lowercase()))
        .ok_or_else(|| {
            RowError::new(
                "integration",
                format!(
                    "'{key}' is not an integration key or slug; `GET /integrations` lists them."
                ),
            )
        })?;
    if let Some(u) = &row.unified_api {
        let expected = crate::vault::unified_api_of(integ.source_type);
        let given = if u == "commerce" {
            "ecommerce"
        } else {
            u.as_str()
        };
        if given != expected {
            return Err(RowError::new(
                "unified_api",
                format!(
                    "{} belongs to the '{expected}' unified API, not '{u}'.",
                    integ.name
                ),
            ));
        }
    }
    let company = match (&row.company_id, &row.company_ref) {
        (Some(id), _) => CompanyKey::Id(CompanyId::parse(id).map_err(|_| {
            RowError::new(
                "companyId",
                format!("'{id}' is not a finlink company id; to create the company give companyRef (your own reference) and companyName instead."),
            )
        })?),
        (None, Some(r)) => {
            check_consumer_id(r).map_err(|_| {
                RowError::new(
                    "companyRef",
                    "a company reference is 1 to 256 printable characters.",
                )
            })?;
            CompanyKey::Ref(r.clone())
        }
        (None, None) => {
            return Err(RowError::new(
                "companyRef",
                "no company: give companyId (an existing finlink company) or companyRef (your reference for it, with companyName to create it).",
            ));
        }
    };
    let company_name = match (&row.company_name, &company) {
        (Some(n), _) => normalize_name(n).map_err(|e| {
            let mut r = RowError::from_error(&e);
            r.field = String::from("companyName");
            r
        })?,
        (None, CompanyKey::Ref(r)) => {
            normalize_name(r).unwrap_or_else(|_| String::from("Migrated company"))
        }
        (None, CompanyKey::Id(_)) => String::new(),
    };
    validate_tags(&row.tags).map_err(|e| RowError::from_error(&e))?;
    let input = check_fields(integ, &row.body, now).map_err(|e| RowError::from_error(&e))?;
    let mut h = Sha256::new();
    for (k, v) in &row.body {
        h.update(k.as_bytes());
        h.update([0]);
        if let Value::String(s) = v {
            h.update(s.as_bytes());
        }
        h.update([0]);
    }
    Ok(CheckedRow {
        company,
        company_name,
        tags: row.tags.clone(),
        integration: integ,
        input,
        metadata: row.metadata.clone(),
        token_fingerprint: first_u64(&h.finalize()),
    })
}

/// Reads rows one at a time: `(row number, row or the reason it cannot be read)`. Row numbers
/// count data rows from 1 (a CSV header is not a row; blank JSON Lines lines are skipped but
/// counted, so a row number is also its line number in JSON Lines).
pub struct RowReader<R: BufRead> {
    inner: Inner<R>,
    row: u64,
}

enum Inner<R: BufRead> {
    Jsonl {
        reader: R,
        line: String,
    },
    Csv {
        reader: csv::Reader<R>,
        headers: Vec<String>,
        record: csv::StringRecord,
    },
}

impl<R: BufRead> RowReader<R> {
    pub fn new(reader: R, format: Format) -> Result<Self, RowError> {
        let inner = match format {
            Format::Jsonl => Inner::Jsonl {
                reader,
                line: String::new(),
            },
            Format::Csv => {
                let mut r = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .flexible(false)
                    .trim(csv::Trim::Headers)
                    .from_reader(reader);
                let headers = r
                    .headers()
                    .map_err(|e| {
                        RowError::new("header", format!("the CSV header cannot be read: {e}"))
                    })?
                    .iter()
                    .map(|h| h.trim_start_matches('\u{feff}').to_owned())
                    .collect::<Vec<_>>();
                if headers.iter().all(|h| h.is_empty()) {
                    return Err(RowError::new(
                        "header",
                        "the CSV file has no header row; the first row names the columns (companyRef, companyName, integration, accessToken, ...).",
                    ));
                }
                Inner::Csv {
                    reader: r,
                    headers,
                    record: csv::StringRecord::new(),
                }
            }
        };
        Ok(Self { inner, row: 0 })
    }

    /// The next row, None at the end.
    pub fn next_row(&mut self) -> Option<(u64, Result<RowInput, RowError>)> {
        match &mut self.inner {
            Inner::Jsonl { reader, line } => loop {
                line.clear();
                match reader.read_line(line) {
                    Ok(0) => return None,
                    Ok(_) => {}
                    Err(e) => {
                        self.row += 1;
                        return Some((
                            self.row,
                            Err(RowError::new("", format!("the line cannot be read: {e}"))),
                        ));
                    }
                }
                self.row += 1;
                // A byte order mark (U+FEFF) at the start of the file is not part of the row.
                let text = line.trim().trim_start_matches('\u{feff}');
                if text.is_empty() {
                    continue;
                }
                if line.len() > MAX_ROW_BYTES {
                    return Some((
                        self.row,
                        Err(RowError::new(
                            "",
                            format!("the line is longer than {MAX_ROW_BYTES} bytes."),
                        )),
                    ));
                }
                let parsed = match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(m)) => row_from_object(&m),
                    Ok(_) => Err(RowError::new("", "each line must be one JSON object.")),
                    Err(e) => Err(RowError::new(
                        "",
                        format!("the line is not valid JSON ({e}); each line is one JSON object."),
                    )),
                };
                zeroize::Zeroize::zeroize(line);
                return Some((self.row, parsed));
            },
            Inner::Csv {
                reader,
                headers,
                record,
            } => {
                match reader.read_record(record) {
                    Ok(false) => return None,
                    Ok(true) => {}
                    Err(e) => {
                        self.row += 1;
                        return Some((
                            self.row,
                            Err(RowError::new(
                                "",
                                format!("the CSV record cannot be read: {e}"),
                            )),
                        ));
                    }
                }
                self.row += 1;
                if record.as_slice().len() > MAX_ROW_BYTES {
                    return Some((
                        self.row,
                        Err(RowError::new(
                            "",
                            format!("the record is longer than {MAX_ROW_BYTES} bytes."),
                        )),
                    ));
                }
                let mut obj = Map::new();
                for (h, v) in headers.iter().zip(record.iter()) {
                    if h.is_empty() || v.is_empty() {
                        continue;
                    }
                    obj.insert(h.clone(), Value::String(v.to_owned()));
                }
                let parsed = row_from_object(&obj);
                for v in obj.values_mut() {
                    if let Value::String(s) = v {
                        zeroize::Zeroize::zeroize(s);
                    }
                }
                record.clear();
                Some((self.row, parsed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn reads_the_three_shapes_into_one_body() {
        let cat = Catalog::built_in().unwrap();
        let now = Timestamp::from_millis(1_000_000);
        let finlink = row_from_object(&obj(serde_json::json!({
            "companyRef": "crm-1", "companyName": "Acme", "integration": "sandbox",
            "credentials": {"accessToken": "a", "refreshToken": "r"}, "tenantId": "t", "expiresIn": "1800"
        })))
        .unwrap();
        let checked = check_row(&cat, &finlink, "c", now).unwrap();
        assert_eq!(checked.integration.key, "mqjo");
        assert_eq!(checked.input.settings["tenantId"], "t");
        let codat = row_from_object(&obj(serde_json::json!({
            "companyRef": "crm-1", "platformKey": "mqjo",
            "authorization": {"accessToken": "a", "refreshToken": "r", "tenantId": "t", "expiresIn": "1800"}
        })))
        .unwrap();
        let c2 = check_row(&cat, &codat, "c", now).unwrap();
        assert_eq!(c2.token_fingerprint, checked.token_fingerprint);
        assert_eq!(c2.slot(), checked.slot());
        let apideck = row_from_object(&obj(serde_json::json!({
            "consumer_id": "crm-1", "unified_api": "accounting", "service_id": "sandbox",
            "credentials": {"access_token": "a", "refresh_token": "r", "expires_in": 3600, "issued_at": "2026-01-01T00:00:00Z"},
            "settings": {"tenant_id": "t"}
        })))
        .unwrap();
        let c3 = check_row(&cat, &apideck, "c", now).unwrap();
        assert_eq!(
            c3.input.expiry.expires_at,
            Timestamp::parse("2026-01-01T01:00:00Z")
        );
        let wrong = row_from_object(&obj(serde_json::json!({
            "consumer_id": "x", "unified_api": "banking", "service_id": "sandbox",
            "credentials": {"access_token": "a", "refresh_token": "r"}
        })))
        .unwrap();
        assert_eq!(
            check_row(&cat, &wrong, "c", now).unwrap_err().field,
            "unified_api"
        );
    }

    #[test]
    fn csv_and_errors_name_the_field() {
        let cat = Catalog::built_in().unwrap();
        let now = Timestamp::from_millis(1_000_000);
        let text = "companyRef,companyName,integration,accessToken,refreshToken,tags\n\
                    a,Acme,sandbox,tok,ref,region=eu;tier=1\n\
                    b,Bravo,nope,tok,ref,\n\
                    c,Charlie,sandbox,tok,,\n";
        let mut r = RowReader::new(text.as_bytes(), Format::Csv).unwrap();
        let (n, row) = r.next_row().unwrap();
        assert_eq!(n, 1);
        let row = row.unwrap();
        assert_eq!(row.tags.get("tier").map(String::as_str), Some("1"));
        assert!(check_row(&cat, &row, "c", now).is_ok());
        let (n, row) = r.next_row().unwrap();
        assert_eq!(
            (
                n,
                check_row(&cat, &row.unwrap(), "c", now).unwrap_err().field
            ),
            (2, "integration".into())
        );
        let (_, row) = r.next_row().unwrap();
        assert_eq!(
            check_row(&cat, &row.unwrap(), "c", now).unwrap_err().field,
            "refreshToken"
        );
        assert!(r.next_row().is_none());
        assert_eq!(Format::detect(b"  {\"a\":1}"), Format::Jsonl);
        assert_eq!(Format::detect(b"companyRef,x"), Format::Csv);
    }

    #[test]
    fn debug_names_fields_not_tokens() {
        let row = row_from_object(&obj(serde_json::json!({
            "companyRef": "crm-1", "integration": "sandbox",
            "accessToken": "secret-access-value", "refreshToken": "secret-refresh-value"
        })))
        .unwrap();
        let shown = format!("{row:?}");
        assert!(shown.contains("accessToken"), "{shown}");
        assert!(!shown.contains("secret-"), "{shown}");
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_json_line() {
        let text = "\u{feff}{\"companyRef\":\"a\",\"integration\":\"sandbox\",\"accessToken\":\"t\",\"refreshToken\":\"r\"}\n";
        let mut r = RowReader::new(text.as_bytes(), Format::Jsonl).unwrap();
        let (n, row) = r.next_row().unwrap();
        assert_eq!(n, 1);
        assert!(row.is_ok(), "{:?}", row.err().map(|e| e.message));
        assert!(r.next_row().is_none());
    }
}
