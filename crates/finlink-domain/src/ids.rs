//! Typed ids. Every id is a UUID (v7 for the ones finlink creates, so they sort by
//! creation time), carried as its own type so a company id can never be passed
//! where a connection id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($name:ident, $what:literal) => {
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// What this id names, for error messages ("company", "connection", ...).
            pub const WHAT: &'static str = $what;

            pub fn new_v7(ts: crate::Timestamp) -> Self {
                let ms = u64::try_from(ts.as_millis()).unwrap_or(0);
                let uuid_ts = uuid::Timestamp::from_unix(
                    uuid::NoContext,
                    ms / 1000,
                    u32::try_from((ms % 1000) * 1_000_000).unwrap_or(0),
                );
                Self(Uuid::new_v7(uuid_ts))
            }

            pub const fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// Parses a UUID in its hyphenated form (any case).
            pub fn parse(s: &str) -> Result<Self, crate::Error> {
                // Only the canonical 36-character form: Codat ids are always hyphenated.
                if s.len() != 36 {
                    return Err(crate::Error::malformed_id($what, s));
                }
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| crate::Error::malformed_id($what, s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = crate::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

id_type!(ClientId, "client");
id_type!(ApiKeyId, "API key");
id_type!(CompanyId, "company");
id_type!(ConnectionId, "connection");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    #[test]
    fn v7_ids_sort_by_time_and_round_trip() {
        let a = CompanyId::new_v7(Timestamp::from_millis(1_000));
        let b = CompanyId::new_v7(Timestamp::from_millis(2_000));
        assert!(a < b);
        assert_eq!(CompanyId::parse(&a.to_string()).unwrap(), a);
    }

    #[test]
    fn malformed_ids_are_rejected() {
        assert!(CompanyId::parse("abc").is_err());
        assert!(CompanyId::parse("846ed55c-0000-0000-0000-00000000000g").is_err());
        assert!(CompanyId::parse("846ed55c00000000000000000000000000ab").is_err());
    }
}
