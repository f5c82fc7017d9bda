//! `GET /metrics`: Prometheus text. Counters and histograms recorded anywhere in finlink (through
//! the `metrics` facade) are rendered by one process-wide recorder; connection counts by status
//! are read from the database at scrape time, so they are right across every instance.
//!
//! Recorded: `finlink_refreshes_total{integration, outcome}` (refreshed, rejected, transient,
//! error), `finlink_refresh_seconds{integration}` (the token request),
//! `finlink_jobs_total{kind, outcome}` and `finlink_job_seconds{kind}` (jobs run by this
//! process), and from the database `finlink_connections{status}` and `finlink_jobs{state}`
//! (queued, running, done, dead: every process's). No label ever holds a secret or a customer id.

use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::HttpState;

/// The process's recorder (installed once; several servers in one test process share it).
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics: another recorder is installed; /metrics shows database gauges only");
                None
            }
        })
        .as_ref()
}

/// Installs the recorder early, so counters recorded before the first scrape are kept.
pub fn install() {
    let _ = handle();
}

pub async fn metrics(State(s): State<HttpState>) -> Response {
    let mut body = handle().map(PrometheusHandle::render).unwrap_or_default();
    match s.app.store.connection_status_counts().await {
        Ok(counts) => {
            body.push_str("# HELP finlink_connections Connections by status (every client).\n");
            body.push_str("# TYPE finlink_connections gauge\n");
            for (status, n) in counts {
                let _ = writeln!(body, "finlink_connections{{status=\"{status}\"}} {n}");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics: cannot count connections");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response();
        }
    }
    match s.app.store.job_state_counts().await {
        Ok(counts) => {
            body.push_str("# HELP finlink_jobs Background jobs by state (every process).\n");
            body.push_str("# TYPE finlink_jobs gauge\n");
            for state in ["queued", "running", "done", "dead"] {
                let n = counts
                    .iter()
                    .find(|(s, _)| s == state)
                    .map_or(0, |(_, n)| *n);
                let _ = writeln!(body, "finlink_jobs{{state=\"{state}\"}} {n}");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics: cannot count jobs");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response();
        }
    }
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}
