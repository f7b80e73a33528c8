//! The engine: every HealthImaging operation the MCP tools and the notebook API use, on one
//! shared client. Inputs are checked against the service model before any request; outputs are
//! plain JSON with the original server's snake_case names; errors are `EngineError`.

pub mod attempts;
pub mod config;
pub mod convert;
pub mod copy;
pub mod datastores;
pub mod dicomweb;
pub mod env;
pub mod error;
pub mod frames;
pub mod image_sets;
pub mod imports;
pub mod metadata;
pub mod rate_limit;
pub mod tags;
pub mod validate;

use aws_sdk_medicalimaging::Client;
use tokio::sync::Mutex;

pub use error::{EngineError, EngineResult, ErrorType};

static CLIENT: Mutex<Option<Client>> = Mutex::const_new(None);

/// The process's HealthImaging client, built from the environment on first use.
pub async fn client() -> Client {
    let mut slot = CLIENT.lock().await;
    if let Some(c) = slot.as_ref() {
        return c.clone();
    }
    let c = config::build_client().await;
    *slot = Some(c.clone());
    c
}

/// Forgets the client so the next call builds one from the current environment (for
/// notebooks that switch profile or endpoint).
pub async fn reset_client() {
    *CLIENT.lock().await = None;
}

/// Paging parameters of one list/search call.
#[derive(Debug, Default, Clone)]
pub struct Page {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

impl Page {
    /// Validates and returns `max_results` as the SDK wants it.
    pub fn check(&self) -> EngineResult<Option<i32>> {
        validate::next_token(self.next_token.as_deref())?;
        validate::max_results(self.max_results)
    }
}
