//! Plaintext credentials exist only here, only while a function uses them: sealed
//! before they reach the store, opened right where a token is needed.

use std::collections::BTreeMap;

use finlink_domain::credentials::SealedCredentials;
use finlink_domain::ids::{ClientId, ConnectionId};
use finlink_domain::{Error, Result};
use finlink_vault::{Aad, Keyring, Purpose, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

/// The secret fields of one connection's credentials, by wire name (`accessToken`,
/// `refreshToken`, `apiKey`, `password`, ...). Redacted in `Debug`; zeroized on drop.
#[derive(Default)]
pub struct SecretFields(pub BTreeMap<String, SecretString>);

impl std::fmt::Debug for SecretFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl SecretFields {
    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.0.get(name)
    }

    pub fn set(&mut self, name: &str, value: SecretString) {
        self.0.insert(name.to_owned(), value);
    }
}

/// The JSON sealed inside the envelope. Lives only for the length of a seal or an open.
#[derive(Serialize, Deserialize, Default)]
struct Plain {
    #[serde(flatten)]
    fields: BTreeMap<String, String>,
}

impl Drop for Plain {
    fn drop(&mut self) {
        for v in self.fields.values_mut() {
            v.zeroize();
        }
    }
}

/// Binds an envelope to its row: client, connection, and what it holds.
pub fn aad(client: ClientId, connection: ConnectionId) -> Aad {
    Aad::new(&[&client.to_string(), &connection.to_string(), "credentials"])
}

pub fn seal(
    keyring: &Keyring,
    client: ClientId,
    connection: ConnectionId,
    fields: &SecretFields,
) -> Result<Vec<u8>> {
    let plain = Plain {
        fields: fields
            .0
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().clone()))
            .collect(),
    };
    let mut json = serde_json::to_vec(&plain)
        .map_err(|e| Error::internal(format!("serialising credentials: {e}")))?;
    let sealed = keyring
        .seal(Purpose::Credentials, &aad(client, connection), &json)
        .map_err(|e| Error::internal(format!("sealing credentials: {e}")));
    json.zeroize();
    sealed
}

pub fn open(keyring: &Keyring, sealed: &SealedCredentials) -> Result<SecretFields> {
    let bytes = keyring
        .open(
            Purpose::Credentials,
            &aad(sealed.client_id, sealed.connection_id),
            &sealed.sealed,
        )
        .map_err(|e| {
            Error::internal(format!(
                "opening the credentials of connection {}: {e}",
                sealed.connection_id
            ))
        })?;
    let plain: Plain = serde_json::from_slice(bytes.expose()).map_err(|_| {
        Error::internal(format!(
            "the credentials of connection {} are not readable",
            sealed.connection_id
        ))
    })?;
    Ok(SecretFields(
        plain
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), SecretString::from(v.clone())))
            .collect(),
    ))
}
