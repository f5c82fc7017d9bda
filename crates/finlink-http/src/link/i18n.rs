//! The Link pages' message catalogs: Project Fluent files, one per language
//! (`crates/finlink-http/locales/{en,fr}.ftl`), compiled into the binary. Pages ask a [`Tr`]
//! for each string; a missing message renders as its id (and is logged) rather than failing
//! the page, and a unit test keeps the two files' message ids identical.

use std::sync::OnceLock;

use finlink_domain::Timestamp;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

const SOURCES: [(&str, &str); 2] = [
    ("en", include_str!("../../locales/en.ftl")),
    ("fr", include_str!("../../locales/fr.ftl")),
];

type Bundle = FluentBundle<FluentResource>;

fn bundles() -> &'static Vec<(&'static str, Bundle)> {
    static BUNDLES: OnceLock<Vec<(&'static str, Bundle)>> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        SOURCES
            .iter()
            .filter_map(|(lang, src)| {
                let langid: unic_langid::LanguageIdentifier = match lang.parse() {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(lang, error = %e, "link: bad language id");
                        return None;
                    }
                };
                let resource = match FluentResource::try_new((*src).to_owned()) {
                    Ok(r) => r,
                    Err((r, errors)) => {
                        tracing::error!(lang, errors = ?errors, "link: the message catalog has syntax errors");
                        r
                    }
                };
                let mut bundle = FluentBundle::new_concurrent(vec![langid]);
                // No Unicode isolation marks around arguments: the pages are left-to-right.
                bundle.set_use_isolating(false);
                if let Err(errors) = bundle.add_resource(resource) {
                    tracing::error!(lang, errors = ?errors, "link: duplicate messages in the catalog");
                }
                Some((*lang, bundle))
            })
            .collect()
    })
}

/// The strings of one language.
#[derive(Clone, Copy)]
pub struct Tr {
    pub lang: &'static str,
}

impl Tr {
    pub fn new(lang: &'static str) -> Self {
        Self { lang }
    }

    fn format(&self, id: &str, args: Option<&FluentArgs<'_>>) -> String {
        let Some((_, bundle)) = bundles()
            .iter()
            .find(|(l, _)| *l == self.lang)
            .or_else(|| bundles().first())
        else {
            return id.to_owned();
        };
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            tracing::error!(lang = self.lang, id, "link: missing message");
            return id.to_owned();
        };
        let mut errors = Vec::new();
        let s = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::error!(lang = self.lang, id, errors = ?errors, "link: message formatting failed");
        }
        s.into_owned()
    }

    /// A message without arguments.
    pub fn get(&self, id: &str) -> String {
        self.format(id, None)
    }

    /// A message with one text argument.
    pub fn arg(&self, id: &str, name: &str, value: &str) -> String {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), FluentValue::from(value.to_owned()));
        self.format(id, Some(&args))
    }

    /// A message with two text arguments.
    pub fn arg2(&self, id: &str, n1: &str, v1: &str, n2: &str, v2: &str) -> String {
        let mut args = FluentArgs::new();
        args.set(n1.to_owned(), FluentValue::from(v1.to_owned()));
        args.set(n2.to_owned(), FluentValue::from(v2.to_owned()));
        self.format(id, Some(&args))
    }

    /// A message with a number argument `$count` (plural forms per the language's rules).
    pub fn count(&self, id: &str, count: usize) -> String {
        let mut args = FluentArgs::new();
        args.set("count", FluentValue::from(count));
        self.format(id, Some(&args))
    }

    /// A date in the language's words: "23 November 2026", "23 novembre 2026".
    pub fn date(&self, t: Timestamp) -> String {
        let text = t.to_rfc3339();
        let (y, m, d) = (
            text.get(0..4).unwrap_or("1970"),
            text.get(5..7)
                .and_then(|m| m.parse::<u8>().ok())
                .unwrap_or(1),
            text.get(8..10)
                .and_then(|d| d.parse::<u8>().ok())
                .unwrap_or(1),
        );
        let mut args = FluentArgs::new();
        args.set("day", FluentValue::from(d.to_string()));
        args.set("month", FluentValue::from(self.get(&format!("month-{m}"))));
        args.set("year", FluentValue::from(y.to_owned()));
        self.format("date", Some(&args))
    }
}

/// Every message id of a catalog (for the completeness test): Fluent messages start at the
/// beginning of a line with `id =`.
pub fn message_ids(lang: &str) -> Vec<String> {
    let Some((_, src)) = SOURCES.iter().find(|(l, _)| *l == lang) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = src
        .lines()
        .filter_map(|line| {
            let (id, _) = line.split_once(" =")?;
            (!id.is_empty()
                && id.starts_with(|c: char| c.is_ascii_alphabetic())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .then(|| id.to_owned())
        })
        .collect();
    ids.sort();
    ids
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_message_exists_in_every_language() {
        let en = message_ids("en");
        assert!(en.len() > 50, "the English catalog parsed: {}", en.len());
        for (lang, src) in SOURCES {
            assert!(
                FluentResource::try_new(src.to_owned()).is_ok(),
                "{lang}.ftl has syntax errors"
            );
            let ids = message_ids(lang);
            let missing: Vec<&String> = en.iter().filter(|i| !ids.contains(i)).collect();
            let extra: Vec<&String> = ids.iter().filter(|i| !en.contains(i)).collect();
            assert!(missing.is_empty(), "{lang}.ftl lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{lang}.ftl has messages English lacks: {extra:?}"
            );
        }
    }

    #[test]
    fn every_message_a_template_uses_exists() {
        let ids = message_ids("en");
        let templates = [
            include_str!("../../templates/link/base.html"),
            include_str!("../../templates/link/company.html"),
            include_str!("../../templates/link/shop.html"),
            include_str!("../../templates/link/form.html"),
            include_str!("../../templates/link/onpremise.html"),
            include_str!("../../templates/link/organisation.html"),
            include_str!("../../templates/link/confirm.html"),
            include_str!("../../templates/link/end.html"),
            include_str!("../../templates/link/message.html"),
            include_str!("../../templates/link/return.html"),
        ];
        for t in templates {
            for part in t.split("t.").skip(1) {
                let Some(rest) = ["get(\"", "arg(\"", "arg2(\"", "count(\""]
                    .iter()
                    .find_map(|p| part.strip_prefix(p))
                else {
                    continue;
                };
                let id = rest.split('"').next().unwrap();
                assert!(
                    ids.iter().any(|i| i == id),
                    "templates use '{id}', which en.ftl lacks"
                );
            }
        }
    }

    #[test]
    fn formats_per_language() {
        let t = Timestamp::parse("2026-11-23T10:00:00Z").unwrap();
        assert_eq!(Tr::new("en").date(t), "23 November 2026");
        assert_eq!(Tr::new("fr").date(t), "23 novembre 2026");
        assert_eq!(Tr::new("en").count("platform-count", 1), "1 platform");
        assert_eq!(Tr::new("fr").count("platform-count", 34), "34 plateformes");
        assert_eq!(
            Tr::new("fr").arg("connect-platform", "platform", "Xero"),
            "Connecter Xero"
        );
        assert_eq!(Tr::new("en").get("no-such-message"), "no-such-message");
    }
}
