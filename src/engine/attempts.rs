//! What the requests of one piece of work ran into, including attempts the SDK retried on its
//! own: a workflow item that runs out of time reports the last error seen, not just "timed out".

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// The last failed attempt and the operation in flight, of one traced piece of work.
#[derive(Debug, Default, Clone)]
pub struct Attempts {
    pub last_error: Option<String>,
    pub operation: Option<String>,
}

pub type Trace = Arc<Mutex<Attempts>>;

tokio::task_local! {
    static TRACE: Trace;
}

/// Runs `work` with its requests traced into `trace`.
pub async fn traced<F: std::future::Future>(trace: Trace, work: F) -> F::Output {
    TRACE.scope(trace, work).await
}

fn with(f: impl FnOnce(&mut Attempts)) {
    let _ = TRACE.try_with(|t| f(&mut t.lock().unwrap_or_else(|e| e.into_inner())));
}

/// Records a failed attempt.
pub fn note(op: &str, error: String) {
    with(|a| {
        a.operation = Some(op.to_string());
        a.last_error = Some(error);
    });
}

/// Records that `op` is being sent.
pub fn sending(op: &str) {
    with(|a| a.operation = Some(op.to_string()));
}

/// Records an error response (its status and AWS error code).
pub fn note_response(op: &str, resp: &HttpResponse) {
    let code = resp
        .headers()
        .get("x-amzn-errortype")
        .map(|c| c.split(':').next().unwrap_or(c).to_string())
        .unwrap_or_else(|| "error".into());
    note(
        op,
        format!("{op} answered HTTP {} {code}", resp.status().as_u16()),
    );
}

/// Records a request that got no answer (connection refused, timed out, ...), with the
/// innermost cause.
pub fn note_failure(op: &str, err: &(dyn std::error::Error + 'static)) {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text = e.to_string();
        source = e.source();
    }
    note(op, format!("{op} got no answer: {text}"));
}
