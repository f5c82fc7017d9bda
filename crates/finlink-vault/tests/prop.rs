//! Property tests: hostile input never panics; seal/open round-trips anything.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use finlink_vault::{Aad, Keyring, Purpose, envelope_key_id};
use proptest::prelude::*;

fn keyring() -> Keyring {
    Keyring::parse(
        "A:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=,B:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=",
    )
    .unwrap()
}

fn purpose() -> impl Strategy<Value = Purpose> {
    prop::sample::select(Purpose::ALL.to_vec())
}

proptest! {
    #[test]
    fn open_never_panics(p in purpose(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let r = keyring();
        let aad = Aad::new(&["x"]);
        let _ = r.open(p, &aad, &bytes);
        let _ = r.open_string(p, &aad, &bytes);
        let _ = r.needs_reseal(&bytes);
        let _ = r.reseal(p, &aad, &bytes);
        let _ = envelope_key_id(&bytes);
    }

    #[test]
    fn open_never_panics_on_plausible_headers(
        id_len in 0u8..40,
        id in "[A-Za-z0-9_!-]{0,40}",
        rest in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut bytes = vec![0x01, id_len];
        bytes.extend_from_slice(id.as_bytes());
        bytes.extend_from_slice(&rest);
        let r = keyring();
        prop_assert!(r.open(Purpose::Credentials, &Aad::new(&[]), &bytes).is_err());
        let _ = envelope_key_id(&bytes);
    }

    #[test]
    fn parse_never_panics(spec in ".{0,200}") {
        let _ = Keyring::parse(&spec);
    }

    #[test]
    fn parse_never_panics_on_spec_like_input(spec in "[A-Za-z0-9+/=_:, -]{0,120}") {
        let _ = Keyring::parse(&spec);
    }

    #[test]
    fn seal_open_round_trip(
        p in purpose(),
        plain in prop::collection::vec(any::<u8>(), 0..600),
        parts in prop::collection::vec(".{0,20}", 0..5),
    ) {
        let r = keyring();
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let aad = Aad::new(&refs);
        let env = r.seal(p, &aad, &plain).unwrap();
        let id = envelope_key_id(&env).unwrap();
        prop_assert_eq!(id.as_str(), "A");
        let opened = r.open(p, &aad, &env).unwrap();
        prop_assert_eq!(opened.expose(), &plain);
        // One more part is another row.
        let mut more = refs.clone();
        more.push("");
        prop_assert!(r.open(p, &Aad::new(&more), &env).is_err());
    }

    #[test]
    fn seal_open_round_trip_text(p in purpose(), plain in ".{0,200}", part in ".{0,40}") {
        let r = keyring();
        let aad = Aad::new(&[&part, "field"]);
        let env = r.seal_str(p, &aad, &plain).unwrap();
        let opened = r.open_string(p, &aad, &env).unwrap();
        prop_assert_eq!(opened.expose(), &plain);
    }
}
