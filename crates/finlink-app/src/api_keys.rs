//! API keys: created here, shown once, stored as a SHA-256 hash, verified in constant time.

use finlink_domain::api_key::{
    ApiKey, KEY_LEN, KNOWN_PERMISSIONS, LOOKUP_LEN, MAX_KEYS_PER_CLIENT, MAX_NAME_CHARS,
    looks_like_key,
};
use finlink_domain::ids::{ApiKeyId, ClientId};
use finlink_domain::{Error, Result};
use finlink_store::ApiKeyInsert;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::App;

/// How long a looked-up key record is reused without asking the database again. A
/// deleted key stops working at once in the process that deleted it, and within this
/// window in other processes sharing the database. The presented key is still hashed
/// and compared on every request; only the lookup is saved.
pub const KEY_CACHE_MS: i64 = 2_000;
const KEY_CACHE_MAX: usize = 10_000;

/// Recently looked-up key records, by lookup prefix.
#[derive(Default)]
pub(crate) struct KeyCache {
    entries:
        std::sync::Mutex<std::collections::HashMap<String, (ApiKey, finlink_domain::Timestamp)>>,
}

impl KeyCache {
    fn get(&self, lookup: &str, now: finlink_domain::Timestamp) -> Option<ApiKey> {
        let map = self.entries.lock().ok()?;
        let (key, at) = map.get(lookup)?;
        (now.as_millis().saturating_sub(at.as_millis()) < KEY_CACHE_MS).then(|| key.clone())
    }

    fn put(&self, key: ApiKey, now: finlink_domain::Timestamp) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= KEY_CACHE_MAX {
                map.clear();
            }
            map.insert(key.lookup.clone(), (key, now));
        }
    }

    fn forget(&self, id: ApiKeyId) {
        if let Ok(mut map) = self.entries.lock() {
            map.retain(|_, (k, _)| k.id != id);
        }
    }
}

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A newly created key: the record and the key itself, which exists only here.
pub struct NewApiKey {
    pub record: ApiKey,
    pub key: String,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("record", &self.record)
            .field("key", &"<redacted>")
            .finish()
    }
}

fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn generate() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..KEY_LEN)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

impl App {
    pub async fn create_api_key(
        &self,
        client: ClientId,
        name: Option<String>,
        permissions: Vec<String>,
    ) -> Result<NewApiKey> {
        let name = name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if let Some(n) = &name
            && n.chars().count() > MAX_NAME_CHARS
        {
            return Err(Error::invalid(
                "name",
                "CreateApiKey",
                format!("An API key name must be at most {MAX_NAME_CHARS} characters."),
            ));
        }
        for p in &permissions {
            if !KNOWN_PERMISSIONS.contains(&p.as_str()) {
                return Err(Error::invalid(
                    "permissions",
                    "CreateApiKey",
                    format!(
                        "Unknown permission '{p}'; known permissions: {}.",
                        KNOWN_PERMISSIONS.join(", ")
                    ),
                ));
            }
        }
        let now = self.clock.now();
        let key = generate();
        let record = ApiKey {
            id: ApiKeyId::new_v7(now),
            client_id: client,
            name,
            lookup: key.get(..LOOKUP_LEN).unwrap_or_default().to_owned(),
            hash: hash(&key),
            permissions,
            created: now,
        };
        match self
            .store
            .insert_api_key(&record, MAX_KEYS_PER_CLIENT)
            .await?
        {
            ApiKeyInsert::Inserted => Ok(NewApiKey { record, key }),
            ApiKeyInsert::LimitReached => Err(Error::Conflict(format!(
                "This client already has {MAX_KEYS_PER_CLIENT} API keys, the most it can have: the request exceeds the permitted number of values. Delete a key you no longer use (DELETE /apiKeys/{{apiKeyId}}) and try again."
            ))),
        }
    }

    /// Finds the key a request presents. Unknown, malformed and wrong keys all give the
    /// same answer; the hash comparison takes the same time whatever the key.
    pub async fn authenticate(&self, presented: &str) -> Result<ApiKey> {
        let unauthorized = || {
            Error::Unauthorized(String::from(
                "Unauthorized: the API key is missing or not valid. Send it as 'Authorization: Basic <base64 of the key>' or 'Authorization: Bearer <key>'.",
            ))
        };
        if !looks_like_key(presented) {
            return Err(unauthorized());
        }
        let lookup = presented.get(..LOOKUP_LEN).unwrap_or_default();
        let now = self.clock.now();
        let stored = match self.key_cache.get(lookup, now) {
            Some(k) => k,
            None => {
                let Some(k) = self.store.find_api_key(lookup).await? else {
                    return Err(unauthorized());
                };
                self.key_cache.put(k.clone(), now);
                k
            }
        };
        if bool::from(stored.hash.ct_eq(&hash(presented))) {
            Ok(stored)
        } else {
            Err(unauthorized())
        }
    }

    pub async fn list_api_keys(&self, client: ClientId) -> Result<Vec<ApiKey>> {
        self.store.list_api_keys(client).await
    }

    /// Deletes a key (any key, including the one making the request, as Codat's API allows;
    /// `finlink keys create` makes a new one if the last is gone).
    pub async fn delete_api_key(&self, client: ClientId, id: ApiKeyId) -> Result<()> {
        self.key_cache.forget(id);
        if self.store.delete_api_key(client, id).await? {
            Ok(())
        } else {
            Err(Error::not_found("API key", id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_well_formed() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(looks_like_key(&a));
        assert_ne!(hash(&a), hash(&b));
    }
}
