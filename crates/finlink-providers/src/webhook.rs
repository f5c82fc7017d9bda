//! Sending webhooks: Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), and a sender that only
//! reaches public addresses unless the operator allows private ones. The address check runs when
//! a consumer is created and again at every delivery, inside the HTTP client's own DNS
//! resolution (a custom `reqwest` resolver), so a name that starts resolving to a private address
//! after creation is still refused, and the address checked is the address connected to.
//!
//! HMAC is from RustCrypto (`hmac`, `sha2`); the Standard Webhooks framing is a few lines and
//! written here because the Rust `standardwebhooks` crate pins its own HTTP types.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// A new `whsec_` secret: 24 random bytes, base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", B64.encode(bytes))
}

/// The `v1,<signature>` of one secret over `id.timestamp.body`. None when the secret is not a
/// `whsec_` base64 secret.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = B64
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

/// Whether finlink may send to this address without the operator allowing private targets:
/// not loopback, private, link-local (cloud metadata lives there), shared (CGNAT), unspecified,
/// broadcast, multicast or documentation space, in IPv4 or IPv6 (mapped addresses included).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg = v6.segments();
            // Forms that embed an IPv4 address (NAT64, 6to4, IPv4-compatible): judge that address.
            let embedded = |hi: u16, lo: u16| {
                Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)
            };
            if (seg[0] == 0x64 && seg[1] == 0xff9b) || seg[..6] == [0, 0, 0, 0, 0, 0] {
                return is_public_v4(embedded(seg[6], seg[7]))
                    && !v6.is_loopback()
                    && !v6.is_unspecified();
            }
            if seg[0] == 0x2002 {
                return is_public_v4(embedded(seg[1], seg[2]));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local
                || (seg[0] & 0xffc0) == 0xfe80 // link local
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)) // documentation
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space (CGNAT)
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || o[0] >= 240)
}

/// Why a target URL is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("the URL is not valid: {0}")]
    Invalid(String),
    #[error("only https URLs are allowed (the operator can allow http)")]
    NotHttps,
    #[error(
        "{0} resolves to a private, loopback or link-local address, which webhooks may not reach"
    )]
    Private(String),
    #[error("{0} does not resolve")]
    Unresolvable(String),
}

/// Where webhooks may go.
#[derive(Clone, Copy, Debug, Default)]
pub struct TargetPolicy {
    pub allow_http: bool,
    pub allow_private: bool,
}

/// Resolves like the system, keeping only addresses the policy allows.
#[derive(Clone, Copy)]
struct PolicyResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(TargetError::Private(host))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What a delivery attempt came to.
#[derive(Debug)]
pub struct SendOutcome {
    /// The status, when the receiver answered.
    pub status: Option<u16>,
    /// The first 1 kB of the answer, or why there was none.
    pub body: String,
}

/// Sends webhooks: no redirects, a 15 s deadline, at most 64 kB of the answer read.
#[derive(Clone)]
pub struct WebhookSender {
    http: reqwest::Client,
    policy: TargetPolicy,
}

/// How much of an answer is read (the rest is dropped) and kept in the delivery log.
const READ_LIMIT: usize = 64 * 1024;
const KEEP: usize = 1024;

impl WebhookSender {
    pub fn new(policy: TargetPolicy) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(5))
            .dns_resolver(Arc::new(PolicyResolver {
                allow_private: policy.allow_private,
            }))
            .user_agent("finlink-webhooks")
            // A proxy would resolve names itself, past the resolver's address check.
            .no_proxy()
            .build()?;
        Ok(Self { http, policy })
    }

    pub fn policy(&self) -> TargetPolicy {
        self.policy
    }

    /// Checks a consumer URL: scheme, and every address its host resolves to.
    pub async fn check_target(&self, url: &str) -> Result<url::Url, TargetError> {
        let parsed = url::Url::parse(url).map_err(|e| TargetError::Invalid(e.to_string()))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.policy.allow_http => {}
            "http" => return Err(TargetError::NotHttps),
            other => return Err(TargetError::Invalid(format!("scheme '{other}'"))),
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| TargetError::Invalid(String::from("no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if self.policy.allow_private {
            return Ok(parsed);
        }
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|_| TargetError::Unresolvable(host.clone()))?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(TargetError::Unresolvable(host));
        }
        if addrs.iter().any(|a| !is_public(a.ip())) {
            return Err(TargetError::Private(host));
        }
        Ok(parsed)
    }

    /// POSTs `body` with the given headers. The target is checked first (IP literals here; names
    /// in the resolver); refused targets come back as an outcome without a status.
    pub async fn send(&self, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> SendOutcome {
        let parsed = match url::Url::parse(url) {
            Ok(u) => u,
            Err(e) => {
                return SendOutcome {
                    status: None,
                    body: format!("not sent: {e}"),
                };
            }
        };
        if let Some(ip) = parsed
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .and_then(|h| h.parse::<IpAddr>().ok())
            && !self.policy.allow_private
            && !is_public(ip)
        {
            return SendOutcome {
                status: None,
                body: format!("not sent: {}", TargetError::Private(ip.to_string())),
            };
        }
        if parsed.scheme() == "http" && !self.policy.allow_http {
            return SendOutcome {
                status: None,
                body: format!("not sent: {}", TargetError::NotHttps),
            };
        }
        let mut req = self
            .http
            .post(parsed)
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        match req.body(body).send().await {
            Ok(mut res) => {
                let status = res.status().as_u16();
                let mut got: Vec<u8> = Vec::new();
                while got.len() < READ_LIMIT {
                    match res.chunk().await {
                        Ok(Some(c)) => got.extend_from_slice(&c),
                        _ => break,
                    }
                }
                got.truncate(KEEP);
                SendOutcome {
                    status: Some(status),
                    body: String::from_utf8_lossy(&got).into_owned(),
                }
            }
            Err(e) => SendOutcome {
                status: None,
                body: if e.is_timeout() {
                    String::from("no answer within 15 s")
                } else {
                    format!("not delivered: {}", error_chain(&e))
                },
            },
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_specification_example() {
        // The Standard Webhooks specification's example.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            sig.as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    /// At delivery time too: a name that resolves to a private address is refused inside the
    /// client's resolver, and so is an IP literal.
    #[tokio::test]
    async fn delivery_refuses_private_targets() {
        let sender = WebhookSender::new(TargetPolicy {
            allow_http: true,
            allow_private: false,
        })
        .unwrap();
        for url in [
            "http://localhost:9/hook",
            "http://127.0.0.1:9/hook",
            "http://[::1]:9/hook",
        ] {
            let out = sender.send(url, &[], b"{}".to_vec()).await;
            assert_eq!(out.status, None, "{url}");
            assert!(out.body.contains("private"), "{url}: {}", out.body);
        }
        let strict = WebhookSender::new(TargetPolicy::default()).unwrap();
        let out = strict
            .send("http://93.184.216.34/hook", &[], Vec::new())
            .await;
        assert!(out.body.contains("https"), "{}", out.body);
    }

    #[test]
    fn private_addresses_are_not_public() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "::7f00:1",
            "198.18.0.1",
        ] {
            assert!(!is_public(a.parse().unwrap()), "{a}");
        }
        for a in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "8.8.8.8",
        ] {
            assert!(is_public(a.parse().unwrap()), "{a}");
        }
    }
}
