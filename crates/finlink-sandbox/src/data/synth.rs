//! Generation primitives: a counter-based random stream per record, invertible id
//! permutations, fixed-capacity strings, money and calendar values that serialise without
//! allocating. Everything here is a pure function of its inputs.

use std::fmt::{self, Write as _};

use serde::{Serialize, Serializer};

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const M1: u64 = 0xBF58_476D_1CE4_E5B9;
const M2: u64 = 0x94D0_49BB_1331_11EB;

/// The splitmix64 finaliser: a fast, well-mixing bijection on `u64`.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(M1);
    z = (z ^ (z >> 27)).wrapping_mul(M2);
    z ^ (z >> 31)
}

/// The multiplicative inverse of an odd number modulo 2^64 (Newton's iteration).
const fn inverse(a: u64) -> u64 {
    let mut x = a;
    let mut i = 0;
    while i < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        i += 1;
    }
    x
}

const M1_INV: u64 = inverse(M1);
const M2_INV: u64 = inverse(M2);

/// Undoes `x ^= x >> shift`.
const fn unxorshift(y: u64, shift: u32) -> u64 {
    let mut x = y;
    let mut s = shift;
    while s < 64 {
        x = y ^ (x >> shift);
        s += shift;
    }
    x
}

/// A keyed bijection on `u64`: record indexes become ids that look random and can be turned
/// back into indexes ([`unpermute`]).
pub(crate) const fn permute(key: u64, x: u64) -> u64 {
    mix(x ^ key)
}

/// The inverse of [`permute`] under the same key.
pub(crate) const fn unpermute(key: u64, y: u64) -> u64 {
    let mut z = unxorshift(y, 31);
    z = z.wrapping_mul(M2_INV);
    z = unxorshift(z, 27);
    z = z.wrapping_mul(M1_INV);
    unxorshift(z, 30) ^ key
}

/// A seed from a string (an organisation's tenant id, a store id): FNV-1a, then mixed.
pub(crate) fn seed_of(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h)
}

/// The random stream of one record: a function of (seed, data type tag, index) only.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, tag: u64, index: u64) -> Self {
        Self(mix(seed
            ^ mix(
                tag.wrapping_mul(GOLDEN) ^ mix(index.wrapping_add(tag))
            )))
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.saturating_sub(lo).saturating_add(1).max(1) as u64;
        lo.saturating_add(self.below(span) as i64)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of a non-empty table.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        let i = self.below(items.len() as u64) as usize;
        items[i.min(items.len().saturating_sub(1))]
    }
}

/// A string of at most `N` bytes built with `write!`, kept on the stack. Longer text is cut at
/// a character boundary (generated text is far below the capacities used).
#[derive(Clone, Copy)]
pub(crate) struct SmallStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> SmallStr<N> {
    pub const EMPTY: Self = Self {
        buf: [0; N],
        len: 0,
    };

    pub fn new() -> Self {
        Self::EMPTY
    }

    pub fn from_fmt(args: fmt::Arguments<'_>) -> Self {
        let mut s = Self::new();
        let _ = s.write_fmt(args);
        s
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_str(&self) -> &str {
        // Only whole characters are ever copied in (see write_str).
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl<const N: usize> fmt::Write for SmallStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

impl<const N: usize> Serialize for SmallStr<N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for SmallStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for SmallStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `format!` onto the stack.
macro_rules! small {
    ($n:literal, $($arg:tt)*) => {
        $crate::data::synth::SmallStr::<$n>::from_fmt(format_args!($($arg)*))
    };
}
pub(crate) use small;

/// An amount in minor units (cents), serialised as a JSON number with up to two decimals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Money(pub i64);

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0 as f64 / 100.0)
    }
}

/// An amount in minor units serialised as a decimal string (`"19.99"`), as shop platforms do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MoneyStr(pub i64);

impl fmt::Display for MoneyStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for MoneyStr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `amount * basis_points / 10_000`, rounded half away from zero.
pub(crate) fn percent_of(amount: i64, basis_points: i64) -> i64 {
    let p = i128::from(amount) * i128::from(basis_points);
    let q = (p.abs() + 5_000) / 10_000;
    (if p < 0 { -q } else { q }) as i64
}

pub(crate) const DAY_MS: i64 = 86_400_000;

/// `(year, month, day)` of a day number (days since 1970-01-01), proleptic Gregorian.
pub(crate) fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Writes `v` as `width` decimal digits (zero-padded, the lowest digits kept).
fn put_digits(buf: &mut [u8], at: usize, width: usize, mut v: u64) {
    for i in (at..at + width).rev() {
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + (v % 10) as u8;
        }
        v /= 10;
    }
}

/// `YYYY-MM-DD` of a day number (years 0 to 9999).
fn date_bytes(days: i64) -> [u8; 10] {
    let (y, m, d) = civil(days);
    let mut b = *b"0000-00-00";
    put_digits(&mut b, 0, 4, y.clamp(0, 9999) as u64);
    put_digits(&mut b, 5, 2, u64::from(m));
    put_digits(&mut b, 8, 2, u64::from(d));
    b
}

/// `YYYY-MM-DDTHH:MM:SS` of an instant in milliseconds, and the milliseconds left.
fn datetime_bytes(ms: i64) -> ([u8; 19], u64) {
    let mut b = *b"0000-00-00T00:00:00";
    b[..10].copy_from_slice(&date_bytes(ms.div_euclid(DAY_MS)));
    let r = ms.rem_euclid(DAY_MS) as u64;
    put_digits(&mut b, 11, 2, r / 3_600_000);
    put_digits(&mut b, 14, 2, r / 60_000 % 60);
    put_digits(&mut b, 17, 2, r / 1000 % 60);
    (b, r % 1000)
}

fn serialize_ascii<S: Serializer>(s: S, bytes: &[u8]) -> Result<S::Ok, S::Error> {
    s.serialize_str(std::str::from_utf8(bytes).unwrap_or_default())
}

/// A calendar date, serialised `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Date(pub i64);

impl Date {
    pub fn of_ms(ms: i64) -> Self {
        Self(ms.div_euclid(DAY_MS))
    }

    pub fn plus_days(self, days: i64) -> Self {
        Self(self.0 + days)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&date_bytes(self.0)).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_ascii(s, &date_bytes(self.0))
    }
}

/// An instant, serialised `YYYY-MM-DDTHH:MM:SS.mmmZ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DateTime(pub i64);

impl DateTime {
    fn bytes(self) -> [u8; 24] {
        let (head, ms) = datetime_bytes(self.0);
        let mut b = *b"0000-00-00T00:00:00.000Z";
        b[..19].copy_from_slice(&head);
        put_digits(&mut b, 20, 3, ms);
        b
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.bytes()).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_ascii(s, &self.bytes())
    }
}

/// An instant to the second with an explicit offset, `YYYY-MM-DDTHH:MM:SS+00:00` (shop style).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShopTime(pub i64);

impl ShopTime {
    fn bytes(self) -> [u8; 25] {
        let (head, _) = datetime_bytes(self.0);
        let mut b = *b"0000-00-00T00:00:00+00:00";
        b[..19].copy_from_slice(&head);
        b
    }
}

impl fmt::Display for ShopTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.bytes()).map_err(|_| fmt::Error)?)
    }
}

impl Serialize for ShopTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_ascii(s, &self.bytes())
    }
}

/// A UUID-shaped id serialised lowercase and hyphenated, without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Guid(pub uuid::Uuid);

impl Guid {
    pub fn new(hi: u64, lo: u64) -> Self {
        Self(uuid::Uuid::from_u64_pair(hi, lo))
    }
}

impl Serialize for Guid {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = uuid::Uuid::encode_buffer();
        s.serialize_str(self.0.hyphenated().encode_lower(&mut buf))
    }
}

/// A fixed-capacity list serialised as a JSON array of its first `len` items.
#[derive(Clone, Copy)]
pub(crate) struct Lines<T, const N: usize> {
    items: [T; N],
    len: usize,
}

impl<T: Copy, const N: usize> Lines<T, N> {
    pub fn new(empty: T) -> Self {
        Self {
            items: [empty; N],
            len: 0,
        }
    }

    pub fn push(&mut self, item: T) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = item;
            self.len += 1;
        }
    }
}

impl<T: Serialize, const N: usize> Serialize for Lines<T, N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(&self.items[..self.len])
    }
}

/// A list of zero or one item, serialised as a JSON array.
pub(crate) struct ZeroOrOne<T>(pub Option<T>);

impl<T: Serialize> Serialize for ZeroOrOne<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

/// Appends the ASCII letters and digits of `part`, lowercased (for e-mail domains, handles).
pub(crate) fn push_slug<const N: usize>(s: &mut SmallStr<N>, part: &str) {
    for c in part.chars().filter(char::is_ascii_alphanumeric) {
        let _ = s.write_char(c.to_ascii_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_inverts() {
        for key in [0, 1, 0xdead_beef, u64::MAX] {
            for x in [0, 1, 2, 999, 1 << 40, u64::MAX - 3] {
                assert_eq!(unpermute(key, permute(key, x)), x);
            }
        }
        assert_ne!(permute(1, 0), permute(2, 0));
    }

    #[test]
    fn rng_is_a_pure_function() {
        let a: Vec<u64> = (0..5)
            .map(|_| 0)
            .scan(Rng::new(7, 3, 11), |r, _| Some(r.next()))
            .collect();
        let b: Vec<u64> = (0..5)
            .map(|_| 0)
            .scan(Rng::new(7, 3, 11), |r, _| Some(r.next()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(Rng::new(7, 3, 12).next(), a[0]);
        assert_ne!(Rng::new(7, 4, 11).next(), a[0]);
        let mut r = Rng::new(1, 1, 1);
        for _ in 0..1000 {
            let v = r.range(-3, 3);
            assert!((-3..=3).contains(&v));
            assert!(r.below(7) < 7);
        }
        assert_eq!(r.below(0), 0);
    }

    #[test]
    fn calendar_and_formats() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_723), (2024, 1, 1));
        assert_eq!(civil(19_782), (2024, 2, 29));
        assert_eq!(civil(-1), (1969, 12, 31));
        assert_eq!(Date(19_782).to_string(), "2024-02-29");
        assert_eq!(
            DateTime(1_704_067_200_000 + 3_723_045).to_string(),
            "2024-01-01T01:02:03.045Z"
        );
        assert_eq!(
            ShopTime(1_704_067_200_999).to_string(),
            "2024-01-01T00:00:00+00:00"
        );
        assert_eq!(MoneyStr(1999).to_string(), "19.99");
        assert_eq!(MoneyStr(-5).to_string(), "-0.05");
        assert_eq!(serde_json::to_string(&Money(123_450)).unwrap(), "1234.5");
        assert_eq!(serde_json::to_string(&Money(7)).unwrap(), "0.07");
        assert_eq!(percent_of(1000, 2000), 200);
        assert_eq!(percent_of(333, 2000), 67);
        assert_eq!(percent_of(-333, 2000), -67);
        assert_eq!(percent_of(1, 1350), 0);
    }

    #[test]
    fn small_strings_cut_at_char_boundaries() {
        let s = small!(8, "{}-{:04}", "INV", 42);
        assert_eq!(s.as_str(), "INV-0042");
        let cut = small!(4, "ab\u{e9}cd");
        assert_eq!(cut.as_str(), "ab\u{e9}");
        assert_eq!(
            serde_json::to_string(&small!(16, "a\"b")).unwrap(),
            "\"a\\\"b\""
        );
        let g = Guid::new(1, 2);
        assert_eq!(
            serde_json::to_string(&g).unwrap(),
            "\"00000000-0000-0001-0000-000000000002\""
        );
    }
}
