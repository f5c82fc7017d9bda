//! Companies: one per business customer of the client's application.

use std::collections::BTreeMap;

use crate::connection::Connection;
use crate::ids::{ClientId, CompanyId};
use crate::{Error, Result, Timestamp};

pub const MAX_NAME_CHARS: usize = 255;
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_KEY_CHARS: usize = 27;
pub const MAX_TAG_VALUE_CHARS: usize = 100;

pub type Tags = BTreeMap<String, String>;

#[derive(Clone, Debug, PartialEq)]
pub struct Company {
    pub id: CompanyId,
    pub client_id: ClientId,
    pub name: String,
    pub description: Option<String>,
    pub tags: Tags,
    pub created: Timestamp,
    pub modified: Timestamp,
    pub last_sync: Option<Timestamp>,
    pub created_by_user_name: Option<String>,
    pub products: Vec<String>,
    /// The Apideck-style consumer id, unique per client, when the company was created as a consumer.
    pub consumer_id: Option<String>,
    /// The company's connections, oldest first (filled on reads).
    pub connections: Vec<Connection>,
}

/// Whether a character may appear in a company name. Codat's rule is
/// `^[A-Za-z0-9\s\-',&@.,?!]+$`; finlink also keeps letters and digits of every
/// script (a French customer's "Société Générale" keeps its accents).
fn allowed_name_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "-',&@.?!".contains(c)
}

/// Applies Codat's name rules: forbidden characters are removed, not rejected
/// (`Company (Codat[1])` becomes `Company Codat1`); whitespace is collapsed and
/// trimmed; an empty result is an error.
pub fn normalize_name(raw: &str) -> Result<String> {
    let stripped: String = raw.chars().filter(|c| allowed_name_char(*c)).collect();
    let name = stripped.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(Error::invalid(
            "name",
            "CompanyName",
            if raw.trim().is_empty() {
                String::from("The company name is required and must not be empty.")
            } else {
                format!(
                    "The company name '{}' has no allowed characters: use letters, digits, spaces and - ' , & @ . ? !",
                    raw.chars().take(64).collect::<String>()
                )
            },
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(
            "name",
            "CompanyName",
            format!("The company name must be at most {MAX_NAME_CHARS} characters."),
        ));
    }
    Ok(name)
}

pub fn validate_description(d: &str) -> Result<()> {
    if d.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::invalid(
            "description",
            "CompanyDescription",
            format!("The description must be at most {MAX_DESCRIPTION_CHARS} characters."),
        ));
    }
    Ok(())
}

/// Codat's tag limits: at most 10 tags, keys 1 to 27 characters, values up to 100.
pub fn validate_tags(tags: &Tags) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Error::invalid(
            "tags",
            "CompanyTags",
            format!(
                "A company can have at most {MAX_TAGS} tags; {} were given.",
                tags.len()
            ),
        ));
    }
    for (k, v) in tags {
        let klen = k.chars().count();
        if klen == 0 || klen > MAX_TAG_KEY_CHARS {
            return Err(Error::invalid(
                &format!("tags.{k}"),
                "CompanyTags",
                format!("Tag keys must be 1 to {MAX_TAG_KEY_CHARS} characters; '{k}' has {klen}."),
            ));
        }
        if v.chars().count() > MAX_TAG_VALUE_CHARS {
            return Err(Error::invalid(
                &format!("tags.{k}"),
                "CompanyTags",
                format!("The value of tag '{k}' must be at most {MAX_TAG_VALUE_CHARS} characters."),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_forbidden_characters() {
        assert_eq!(
            normalize_name("Company (Codat[1])").unwrap(),
            "Company Codat1"
        );
        assert_eq!(
            normalize_name("  Bob's Burgers & Co.  ").unwrap(),
            "Bob's Burgers & Co."
        );
        assert_eq!(
            normalize_name("Société Générale").unwrap(),
            "Société Générale"
        );
        assert!(normalize_name("()[]").is_err());
        assert!(normalize_name("   ").is_err());
        assert!(normalize_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn tag_limits() {
        let mut t = Tags::new();
        for i in 0..10 {
            t.insert(format!("k{i}"), "v".into());
        }
        assert!(validate_tags(&t).is_ok());
        t.insert("k10".into(), "v".into());
        assert!(validate_tags(&t).is_err());
        let mut t = Tags::new();
        t.insert("a".repeat(28), "v".into());
        assert!(validate_tags(&t).is_err());
        let mut t = Tags::new();
        t.insert("k".into(), "v".repeat(101));
        assert!(validate_tags(&t).is_err());
        let mut t = Tags::new();
        t.insert(String::new(), "v".into());
        assert!(validate_tags(&t).is_err());
    }
}
