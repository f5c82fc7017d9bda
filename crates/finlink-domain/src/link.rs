//! Hosted Link journeys: one [`LinkFlow`] per attempt to authorise a connection through the
//! browser. A flow is bound to its company, connection and browser; it starts with a single-use
//! OAuth `state` and can pause after the callback (pick an organisation, confirm the company
//! name) before the connection becomes `Linked`. Everything secret about a flow (the PKCE
//! verifier, tokens received but not yet committed) is sealed in `sealed`.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::ids::{ClientId, CompanyId, ConnectionId};

/// How long a flow (and its `state`) lives: 10 minutes.
pub const FLOW_TTL_MS: i64 = 10 * 60 * 1000;

/// Where a flow stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LinkStage {
    /// The browser was sent to the platform; the `state` has not come back yet.
    Authorizing,
    /// The callback arrived; the code is being exchanged (the `state` is spent).
    Exchanging,
    /// Tokens are held; the business picks one of several organisations.
    ChooseOrganisation,
    /// Tokens are held; the business confirms the company name.
    ConfirmCompany,
    /// The connection is `Linked`.
    Done,
    /// The attempt ended without a connection (denied, failed, or "not this company").
    Failed,
}

impl LinkStage {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkStage::Authorizing => "authorizing",
            LinkStage::Exchanging => "exchanging",
            LinkStage::ChooseOrganisation => "chooseOrganisation",
            LinkStage::ConfirmCompany => "confirmCompany",
            LinkStage::Done => "done",
            LinkStage::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "authorizing" => LinkStage::Authorizing,
            "exchanging" => LinkStage::Exchanging,
            "chooseOrganisation" => LinkStage::ChooseOrganisation,
            "confirmCompany" => LinkStage::ConfirmCompany,
            "done" => LinkStage::Done,
            "failed" => LinkStage::Failed,
            _ => return None,
        })
    }
}

/// One Link attempt, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkFlow {
    /// Random, URL-safe; names the flow in `/link/flows/{id}/...` pages.
    pub id: String,
    /// Hex SHA-256 of the OAuth `state` (the state itself is never stored). Unique.
    pub state_hash: String,
    /// Hex SHA-256 of the browser's Link cookie: only that browser may continue the flow.
    pub browser_hash: String,
    pub client_id: ClientId,
    pub company_id: CompanyId,
    pub connection_id: ConnectionId,
    pub integration_key: String,
    /// The page language chosen when the flow started (`en`, `fr`).
    pub lang: String,
    pub stage: LinkStage,
    /// A vault envelope (purpose: link session) of the flow's secrets.
    pub sealed: Vec<u8>,
    /// Compare-and-swap counter: every update bumps it.
    pub version: i64,
    pub created: Timestamp,
    pub expires: Timestamp,
}

/// An operator's OAuth app at one platform, set by a client through the API (it overrides the
/// configuration file's app for that client).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrationCredentials {
    pub client_id: ClientId,
    pub integration_key: String,
    /// The OAuth client id (not secret).
    pub oauth_client_id: String,
    /// A vault envelope (purpose: client secret) of the OAuth client secret, when there is one.
    pub sealed_secret: Option<Vec<u8>>,
    /// The master key `sealed_secret` is under.
    pub key_id: Option<String>,
    pub updated: Timestamp,
}
