//! Seal/open throughput of the vault next to a bare XChaCha20-Poly1305 loop measured in the same
//! run (`bench/vault.sh`). Single thread; 200-byte secrets, 32 bytes of associated data.
//!
//! Both sides draw a random 24-byte nonce from the OS per seal, so the ratio shows what the vault
//! adds on top of the cipher (envelope header, key lookup, one allocation), not the RNG.
//! `VAULT_BENCH_N` overrides the number of operations (default 1,000,000); each measurement is
//! taken 3 times, interleaved, and the fastest is printed.

use std::error::Error;
use std::hint::black_box;
use std::time::Duration;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use finlink_vault::{Aad, Keyring, Purpose};
use rand::RngCore;
use rand::rngs::OsRng;

const ROUNDS: usize = 3;

/// Runs `op` `n` times and returns the elapsed wall time.
// The benchmark's job is to read the wall clock; nothing else in the crate may.
#[allow(clippy::disallowed_methods)]
fn time(n: usize, mut op: impl FnMut() -> Result<(), String>) -> Result<Duration, String> {
    let start = std::time::Instant::now();
    for _ in 0..n {
        op()?;
    }
    Ok(start.elapsed())
}

fn ops_per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() -> Result<(), Box<dyn Error>> {
    let n: usize = match std::env::var("VAULT_BENCH_N") {
        Ok(v) => v.parse()?,
        Err(_) => 1_000_000,
    };
    let plaintext = [0x5au8; 200];
    // One 24-character part: 8-byte length prefix + 24 bytes = 32 bytes of associated data.
    let aad = Aad::new(&["client-0001/conn-0000001"]);
    assert_eq!(aad.as_bytes().len(), 32);

    // (a) baseline: the bare AEAD, a fixed key, a random nonce per seal.
    let raw = XChaCha20Poly1305::new(&[7u8; 32].into());
    let raw_seal = || -> Result<Vec<u8>, String> {
        let mut nonce = [0u8; 24];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|e| e.to_string())?;
        let ct = raw
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| "encrypt failed".to_string())?;
        Ok(black_box(ct))
    };
    let raw_nonce = [9u8; 24];
    let raw_ct = raw
        .encrypt(
            XNonce::from_slice(&raw_nonce),
            Payload {
                msg: &plaintext,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| "encrypt failed")?;
    let raw_open = || -> Result<(), String> {
        let pt = raw
            .decrypt(
                XNonce::from_slice(black_box(&raw_nonce)),
                Payload {
                    msg: black_box(&raw_ct),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| "decrypt failed".to_string())?;
        black_box(pt);
        Ok(())
    };

    // (b) the vault.
    let (ring, _spec) = Keyring::generate();
    let vault_seal = || -> Result<(), String> {
        let env = ring
            .seal(Purpose::Credentials, &aad, black_box(&plaintext))
            .map_err(|e| e.to_string())?;
        black_box(env);
        Ok(())
    };
    let envelope = ring.seal(Purpose::Credentials, &aad, &plaintext)?;
    let vault_open = || -> Result<(), String> {
        let pt = ring
            .open(Purpose::Credentials, &aad, black_box(&envelope))
            .map_err(|e| e.to_string())?;
        black_box(pt);
        Ok(())
    };

    println!(
        "vault: {n} ops per measurement, 200-byte secrets, 32-byte AAD, 1 thread, best of {ROUNDS}"
    );
    // Warm up caches and the CPU clock.
    time(n / 10, || raw_seal().map(drop))?;
    let mut best = [Duration::MAX; 4];
    for _ in 0..ROUNDS {
        let runs = [
            time(n, || raw_seal().map(drop))?,
            time(n, vault_seal)?,
            time(n, raw_open)?,
            time(n, vault_open)?,
        ];
        for (b, r) in best.iter_mut().zip(runs) {
            *b = (*b).min(r);
        }
    }
    let [raw_s, vault_s, raw_o, vault_o] = best.map(|d| ops_per_sec(n, d));
    let line = |name: &str, ops: f64, base: Option<f64>| {
        let ratio = base.map(|b| format!("   ratio to the baseline: {:.2}", ops / b));
        println!(
            "{name:<46} {:>12.0} ops/s  {:>7.0} ns/op{}",
            ops,
            1e9 / ops,
            ratio.unwrap_or_default()
        );
    };
    line("baseline: raw XChaCha20-Poly1305 seal", raw_s, None);
    line("Keyring::seal", vault_s, Some(raw_s));
    line("baseline: raw XChaCha20-Poly1305 open", raw_o, None);
    line("Keyring::open", vault_o, Some(raw_o));
    Ok(())
}
