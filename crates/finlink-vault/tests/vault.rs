//! The vault's behaviour through its public API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use finlink_vault::{
    Aad, KeyId, Keyring, Purpose, SecretString, VaultError, envelope_key_id,
    load_or_create_key_file,
};

/// A fixed key whose base64 (standard) contains '+' and '/', so the URL-safe form differs.
fn key_a() -> [u8; 32] {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37).wrapping_add(0xfb);
    }
    k
}

fn key_b() -> [u8; 32] {
    [0x42; 32]
}

fn spec(id: &str, key: &[u8; 32]) -> String {
    format!("{id}:{}", STANDARD.encode(key))
}

fn ring(s: &str) -> Keyring {
    Keyring::parse(s).unwrap()
}

fn row(conn: &str) -> Aad {
    Aad::new(&["client-1", conn, "accessToken"])
}

#[test]
fn round_trip_for_every_purpose() {
    let r = ring(&spec("A", &key_a()));
    for p in Purpose::ALL {
        let env = r.seal_str(p, &row("c1"), "tok-123").unwrap();
        assert_eq!(
            r.open_string(p, &row("c1"), &env).unwrap().expose(),
            "tok-123"
        );
        assert_eq!(r.open(p, &row("c1"), &env).unwrap().expose(), b"tok-123");
    }
    // Empty plaintext and empty AAD are fine.
    let env = r.seal(Purpose::LinkSession, &Aad::new(&[]), b"").unwrap();
    assert!(
        r.open(Purpose::LinkSession, &Aad::new(&[]), &env)
            .unwrap()
            .expose()
            .is_empty()
    );
}

#[test]
fn envelope_layout() {
    let r = ring(&spec("keyA", &key_a()));
    let env = r.seal(Purpose::Credentials, &row("c1"), b"hello").unwrap();
    assert_eq!(env[0], 0x01);
    assert_eq!(env[1], 4);
    assert_eq!(&env[2..6], b"keyA");
    assert_eq!(env.len(), 2 + 4 + 24 + 5 + 16);
    assert_eq!(envelope_key_id(&env).unwrap().as_str(), "keyA");
    // Random nonces: the same plaintext never seals to the same bytes.
    let again = r.seal(Purpose::Credentials, &row("c1"), b"hello").unwrap();
    assert_ne!(env, again);
    assert_ne!(&env[6..30], &again[6..30]);
}

#[test]
fn wrong_aad_fails() {
    let r = ring(&spec("A", &key_a()));
    let env = r.seal_str(Purpose::Credentials, &row("c1"), "tok").unwrap();
    // Moved to another connection's row, or another field of the same row.
    for other in [
        row("c2"),
        Aad::new(&["client-1", "c1", "refreshToken"]),
        Aad::new(&["client-2", "c1", "accessToken"]),
        Aad::new(&["client-1c1", "accessToken"]),
    ] {
        assert!(matches!(
            r.open(Purpose::Credentials, &other, &env),
            Err(VaultError::Decrypt)
        ));
    }
}

#[test]
fn wrong_purpose_fails() {
    let r = ring(&spec("A", &key_a()));
    let env = r.seal_str(Purpose::Credentials, &row("c1"), "tok").unwrap();
    for p in [
        Purpose::ClientSecret,
        Purpose::WebhookSecret,
        Purpose::LinkSession,
    ] {
        assert!(matches!(
            r.open(p, &row("c1"), &env),
            Err(VaultError::Decrypt)
        ));
    }
}

#[test]
fn every_tampered_byte_fails() {
    let r = ring(&spec("A", &key_a()));
    let env = r
        .seal_str(Purpose::Credentials, &row("c1"), "tok-123")
        .unwrap();
    for i in 0..env.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = env.clone();
            bad[i] ^= bit;
            assert!(
                r.open(Purpose::Credentials, &row("c1"), &bad).is_err(),
                "byte {i} bit {bit:#x}"
            );
        }
    }
}

#[test]
fn truncated_and_malformed_fail() {
    let r = ring(&spec("A", &key_a()));
    let env = r
        .seal_str(Purpose::Credentials, &row("c1"), "tok-123")
        .unwrap();
    for n in 0..env.len() {
        let err = r
            .open(Purpose::Credentials, &row("c1"), &env[..n])
            .unwrap_err();
        assert!(
            matches!(err, VaultError::Malformed(_) | VaultError::Decrypt),
            "{n}: {err:?}"
        );
    }
    let mut longer = env.clone();
    longer.push(0);
    assert!(matches!(
        r.open(Purpose::Credentials, &row("c1"), &longer),
        Err(VaultError::Decrypt)
    ));
    assert!(matches!(
        envelope_key_id(&[]),
        Err(VaultError::Malformed(_))
    ));
    assert!(matches!(
        envelope_key_id(&[0x02, 1, b'A']),
        Err(VaultError::UnsupportedVersion(2))
    ));
    let mut zero_len = env.clone();
    zero_len[1] = 0;
    assert!(matches!(
        envelope_key_id(&zero_len),
        Err(VaultError::Malformed(_))
    ));
    let mut bad_id = env.clone();
    bad_id[2] = b'!';
    assert!(matches!(
        envelope_key_id(&bad_id),
        Err(VaultError::Malformed(_))
    ));
}

#[test]
fn unknown_key_id() {
    let a = ring(&spec("A", &key_a()));
    let b = ring(&spec("B", &key_b()));
    let env = a.seal_str(Purpose::Credentials, &row("c1"), "tok").unwrap();
    match b.open(Purpose::Credentials, &row("c1"), &env) {
        Err(VaultError::UnknownKey(id)) => assert_eq!(id.as_str(), "A"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        b.needs_reseal(&env),
        Err(VaultError::UnknownKey(_))
    ));
    // The same key material under another id is another key: ids are bound into the subkeys.
    let renamed = ring(&spec("A2", &key_a()));
    let mut moved = vec![0x01, 2, b'A', b'2'];
    moved.extend_from_slice(&env[3..]);
    assert!(matches!(
        renamed.open(Purpose::Credentials, &row("c1"), &moved),
        Err(VaultError::Decrypt)
    ));
}

#[test]
fn rotation() {
    let a = ring(&spec("A", &key_a()));
    let env = a.seal_str(Purpose::Credentials, &row("c1"), "tok").unwrap();
    assert!(!a.needs_reseal(&env).unwrap());

    let ba = ring(&format!("{},{}", spec("B", &key_b()), spec("A", &key_a())));
    assert_eq!(ba.active_id().as_str(), "B");
    assert_eq!(
        ba.ids(),
        vec![KeyId::parse("B").unwrap(), KeyId::parse("A").unwrap()]
    );
    assert!(ba.contains(&KeyId::parse("A").unwrap()));
    assert!(!ba.contains(&KeyId::parse("C").unwrap()));
    assert_eq!(
        ba.open_string(Purpose::Credentials, &row("c1"), &env)
            .unwrap()
            .expose(),
        "tok"
    );
    assert!(ba.needs_reseal(&env).unwrap());

    let resealed = ba.reseal(Purpose::Credentials, &row("c1"), &env).unwrap();
    assert_eq!(envelope_key_id(&resealed).unwrap().as_str(), "B");
    assert!(!ba.needs_reseal(&resealed).unwrap());
    // Reseal keeps purpose and row binding.
    assert!(ba.reseal(Purpose::Credentials, &row("c2"), &env).is_err());
    assert!(
        ba.open(Purpose::ClientSecret, &row("c1"), &resealed)
            .is_err()
    );

    let b = ring(&spec("B", &key_b()));
    assert_eq!(
        b.open_string(Purpose::Credentials, &row("c1"), &resealed)
            .unwrap()
            .expose(),
        "tok"
    );
    assert!(matches!(
        b.open(Purpose::Credentials, &row("c1"), &env),
        Err(VaultError::UnknownKey(_))
    ));
}

#[test]
fn parse_forms() {
    let k = key_a();
    let std = STANDARD.encode(k);
    assert!(
        std.contains('+') || std.contains('/'),
        "test key should exercise the alphabets"
    );
    let bare = ring(&std);
    let fp = bare.active_id().clone();
    assert_eq!(fp.as_str().len(), 8);
    assert!(
        fp.as_str()
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );

    // Every encoding of the same key is the same key, with the same fingerprint id.
    for form in [
        STANDARD_NO_PAD.encode(k),
        URL_SAFE.encode(k),
        URL_SAFE_NO_PAD.encode(k),
        format!("  {std}\n"),
    ] {
        let r = ring(&form);
        assert_eq!(r.active_id(), &fp, "{form}");
    }
    // A bare key and FP:key open each other's envelopes.
    let named = ring(&format!(" {fp} : {} ", URL_SAFE_NO_PAD.encode(k)));
    let env = bare.seal(Purpose::WebhookSecret, &row("c1"), b"x").unwrap();
    assert_eq!(
        named
            .open(Purpose::WebhookSecret, &row("c1"), &env)
            .unwrap()
            .expose(),
        b"x"
    );

    // Mixed: named and bare, whitespace around entries.
    let mixed = ring(&format!("new:{} ,\n {std}", STANDARD.encode(key_b())));
    assert_eq!(mixed.ids(), vec![KeyId::parse("new").unwrap(), fp.clone()]);

    // The fingerprint is not a plain hash of the key.
    use sha2::Digest as _;
    let plain = sha2::Sha256::digest(k);
    let hex: String = plain.iter().take(4).map(|b| format!("{b:02x}")).collect();
    assert_ne!(fp.as_str(), hex);
}

#[test]
fn parse_errors_never_show_the_key() {
    let k = key_a();
    let std = STANDARD.encode(k);
    let short = STANDARD.encode(&k[..31]);
    let long = STANDARD.encode([k.as_slice(), &[7u8]].concat());
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "no keys"),
        ("   ".into(), "no keys"),
        (short.clone(), "31 bytes"),
        (format!("A:{short}"), "31 bytes"),
        (long.clone(), "33 bytes"),
        ("QUFB".repeat(30), "longer than 32 bytes"),
        (format!("A:{}*", &std[..40]), "not valid base64"),
        (
            format!("{}+_{}", &std[..20], &std[22..]),
            "not valid base64",
        ),
        (
            format!("A:{std},A:{}", STANDARD.encode(key_b())),
            "duplicate key id A",
        ),
        (format!("{std},{std}"), "duplicate"),
        (
            format!("A:{std},,B:{}", STANDARD.encode(key_b())),
            "entry 2 is empty",
        ),
        (format!("A:{std},"), "entry 2 is empty"),
        (format!("bad id:{std}"), "key id is invalid"),
        (format!(":{std}"), "key id is invalid"),
        (format!("{}:{std}", "x".repeat(33)), "key id is invalid"),
        (format!("A:{}", STANDARD.encode([0u8; 32])), "all zeros"),
    ];
    for (input, expect) in cases {
        let err = Keyring::parse(&input).unwrap_err();
        assert!(
            matches!(err, VaultError::MalformedKeySpec(_)),
            "{input}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(expect), "{input}: {msg}");
        for secret in [&std[..16], &short[..16], &long[..16]] {
            assert!(!msg.contains(secret), "{input}: {msg}");
            assert!(!format!("{err:?}").contains(secret));
        }
    }
}

#[test]
fn debug_never_shows_secrets() {
    let k = key_a();
    let std = STANDARD.encode(k);
    let r = ring(&format!("A:{std},B:{}", STANDARD.encode(key_b())));
    let dbg = format!("{r:?} {r:#?}");
    assert!(dbg.contains("\"A\"") && dbg.contains("\"B\""), "{dbg}");
    for needle in [
        &std[..12],
        &STANDARD.encode(key_b())[..12],
        "251",
        "0x42",
        "66, 66",
    ] {
        assert!(!dbg.contains(needle), "{dbg}");
    }

    let plain = "sk_live_very_secret_token";
    let env = r.seal_str(Purpose::Credentials, &row("c1"), plain).unwrap();
    let opened = r
        .open_string(Purpose::Credentials, &row("c1"), &env)
        .unwrap();
    assert_eq!(opened.expose(), plain);
    for s in [
        format!("{opened:?}"),
        format!("{opened}"),
        format!("{:?}", Ok::<_, ()>(&opened)),
    ] {
        assert!(!s.contains("sk_live"), "{s}");
        assert!(s.contains("<redacted>"));
    }
    let bytes = r.open(Purpose::Credentials, &row("c1"), &env).unwrap();
    assert_eq!(format!("{bytes:?}"), "<redacted>");

    let (gen_ring, gen_spec) = Keyring::generate();
    let shown = format!("{gen_ring:?} {gen_spec:?} {gen_spec}");
    let key_part = gen_spec.expose().split_once(':').unwrap().1;
    assert!(!shown.contains(key_part), "{shown}");
}

#[test]
fn generate_gives_a_parsable_spec() {
    let (r, spec) = Keyring::generate();
    let (id, key) = spec.expose().split_once(':').unwrap();
    assert_eq!(id, r.active_id().as_str());
    assert_eq!(STANDARD.decode(key).unwrap().len(), 32);
    let again = Keyring::parse(spec.expose()).unwrap();
    assert_eq!(again.active_id(), r.active_id());
    // Same key, same fingerprint when given bare.
    assert_eq!(Keyring::parse(key).unwrap().active_id(), r.active_id());
    let env = r.seal(Purpose::ClientSecret, &row("c1"), b"s").unwrap();
    assert_eq!(
        again
            .open(Purpose::ClientSecret, &row("c1"), &env)
            .unwrap()
            .expose(),
        b"s"
    );
    let (other, _) = Keyring::generate();
    assert_ne!(other.active_id(), r.active_id());
}

#[test]
fn open_string_refuses_non_utf8() {
    let r = ring(&spec("A", &key_a()));
    let env = r
        .seal(Purpose::Credentials, &row("c1"), &[0xff, 0xfe])
        .unwrap();
    assert!(matches!(
        r.open_string(Purpose::Credentials, &row("c1"), &env),
        Err(VaultError::NotUtf8)
    ));
}

#[test]
fn secret_string_from_string() {
    let s: SecretString = String::from("abc").into();
    assert_eq!(s.expose(), "abc");
}

#[test]
fn key_file_is_created_0600_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("vault.key");
    let (first, created) = load_or_create_key_file(&path).unwrap();
    assert!(created);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with(&format!("{}:", first.active_id())));
    assert!(text.ends_with('\n'));

    let (second, created) = load_or_create_key_file(&path).unwrap();
    assert!(!created);
    assert_eq!(second.active_id(), first.active_id());
    let env = first
        .seal(Purpose::Credentials, &row("c1"), b"tok")
        .unwrap();
    assert_eq!(
        second
            .open(Purpose::Credentials, &row("c1"), &env)
            .unwrap()
            .expose(),
        b"tok"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn key_file_that_is_not_a_key_spec() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.key");
    std::fs::write(&path, "not a key\n").unwrap();
    let err = load_or_create_key_file(&path).unwrap_err();
    assert!(matches!(err, VaultError::MalformedKeySpec(_)), "{err:?}");
    assert!(err.to_string().contains("vault.key"), "{err}");
    // A directory where the file should be is an I/O error, not a panic.
    let err = load_or_create_key_file(dir.path()).unwrap_err();
    assert!(matches!(err, VaultError::Io(_)), "{err:?}");
}
