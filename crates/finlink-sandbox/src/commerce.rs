//! The Commerce Sandbox platform's rules (catalog key `aiwb`), independent of HTTP: stores,
//! each reached with one API key. Like every sandbox secret, an API key is stored only as its
//! SHA-256 digest, and a request finds its store by that digest.

use rand::RngCore;
use rand::rngs::OsRng;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use finlink_domain::Timestamp;

use crate::secret::{COMMERCE_API_KEY_PREFIX, digest, random_api_key};

/// The currency every sandbox store trades in.
pub(crate) const STORE_CURRENCY: &str = "GBP";

/// A store as its API key reaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Store {
    pub store_id: String,
    pub store_name: String,
}

/// Checks a store name given to `mint_commerce_store` or `POST /admin/commerce/stores`.
pub(crate) fn store_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Enter a store name.".to_owned());
    }
    if name.chars().count() > 100 {
        return Err("A store name is at most 100 characters long.".to_owned());
    }
    if name.chars().any(char::is_control) {
        return Err("A store name cannot contain control characters.".to_owned());
    }
    Ok(name.to_owned())
}

fn default_store_name(n: i64) -> String {
    format!("Sandbox Store {n}")
}

/// `store_` and 64 random bits in hex.
fn new_store_id() -> String {
    let mut bytes = [0u8; 8];
    OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("store_{hex}")
}

/// Creates a store with a new API key; returns `(api_key, store)`. Without a name the store is
/// "Sandbox Store <n>", `n` one more than the stores so far (counted in the same transaction).
/// `name` must already have passed [`store_name`].
pub(crate) fn create_store(
    conn: &mut Connection,
    now: Timestamp,
    name: Option<String>,
) -> rusqlite::Result<(String, Store)> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let store_name = match name {
        Some(name) => name,
        None => {
            let n: i64 = tx.query_row("SELECT COUNT(*) FROM commerce_stores", [], |r| r.get(0))?;
            default_store_name(n.saturating_add(1))
        }
    };
    let api_key = random_api_key(COMMERCE_API_KEY_PREFIX);
    let store = Store {
        store_id: new_store_id(),
        store_name,
    };
    tx.execute(
        "INSERT INTO commerce_stores (api_key_hash, store_id, store_name, created_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            digest(&api_key),
            store.store_id,
            store.store_name,
            now.as_millis()
        ],
    )?;
    tx.commit()?;
    Ok((api_key, store))
}

/// The store an API key reaches, if the key is known.
pub(crate) fn store_by_api_key(
    conn: &Connection,
    api_key: &str,
) -> rusqlite::Result<Option<Store>> {
    conn.query_row(
        "SELECT store_id, store_name FROM commerce_stores WHERE api_key_hash = ?1",
        params![digest(api_key)],
        |r| {
            Ok(Store {
                store_id: r.get(0)?,
                store_name: r.get(1)?,
            })
        },
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_names() {
        assert_eq!(store_name("  Corner Shop ").unwrap(), "Corner Shop");
        assert!(store_name("   ").is_err());
        assert_eq!(store_name(&"x".repeat(100)).unwrap().len(), 100);
        assert!(store_name(&"x".repeat(101)).is_err());
        assert!(store_name("a\tb").is_err());
    }

    #[test]
    fn stores_are_found_by_their_key_only() {
        let mut conn = crate::db::open(None).unwrap();
        let now = Timestamp::from_millis(1_700_000_000_000);
        let (key, store) = create_store(&mut conn, now, None).unwrap();
        assert_eq!(store.store_name, "Sandbox Store 1");
        assert!(store.store_id.starts_with("store_"));
        assert_eq!(store.store_id.len(), "store_".len() + 16);
        let (key2, store2) = create_store(&mut conn, now, Some("Named".to_owned())).unwrap();
        assert_eq!(store2.store_name, "Named");
        let (_, store3) = create_store(&mut conn, now, None).unwrap();
        assert_eq!(store3.store_name, "Sandbox Store 3");

        assert_eq!(store_by_api_key(&conn, &key).unwrap(), Some(store));
        assert_eq!(store_by_api_key(&conn, &key2).unwrap(), Some(store2));
        assert_eq!(store_by_api_key(&conn, "sk_sandbox_unknown").unwrap(), None);
        assert_eq!(store_by_api_key(&conn, "").unwrap(), None);
    }
}
