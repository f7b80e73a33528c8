//! Building the one HealthImaging client: aws-config's default chain (environment keys,
//! profiles incl. SSO, container and instance roles), region from AWS_REGION /
//! AWS_DEFAULT_REGION / the profile, endpoint from AWS_ENDPOINT_URL_MEDICAL_IMAGING or
//! AWS_ENDPOINT_URL, retry mode and attempts from AWS_RETRY_MODE / AWS_MAX_ATTEMPTS.
//! Two interceptors: our user-agent metadata, and (when AWS_DISABLE_HOST_PREFIX_INJECTION is
//! set, as botocore honours it) removal of the `runtime-` host prefix.

use aws_config::BehaviorVersion;
use aws_sdk_medicalimaging::Client;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{tls, Connector, ConnectorBuilder};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::endpoint::EndpointPrefix;
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpClient};
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use super::{env, rate_limit};

/// `md/awslabs#mcp#healthimaging-mcp-server#<version>`, as the original server announced itself.
pub const USER_AGENT_METADATA: &str = concat!(
    "md/awslabs#mcp#healthimaging-mcp-server#",
    env!("CARGO_PKG_VERSION")
);

/// Removes the `runtime-` host prefix the SDK applies to data-plane operations, even with a
/// custom endpoint (the Rust SDK has no setting for it).
#[derive(Debug)]
pub struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }
    // Before the endpoint is applied, so the request (and its signature) targets the real host.
    fn modify_before_retry_loop(
        &self,
        _ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().unset::<EndpointPrefix>();
        Ok(())
    }
}

#[derive(Debug)]
struct UserAgentMetadata;

impl Intercept for UserAgentMetadata {
    fn name(&self) -> &'static str {
        "UserAgentMetadata"
    }
    fn modify_before_signing(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let headers = ctx.request_mut().headers_mut();
        for name in ["user-agent", "x-amz-user-agent"] {
            if let Some(v) = headers.get(name) {
                let updated = format!("{v} {USER_AGENT_METADATA}");
                headers.insert(name, updated);
            }
        }
        Ok(())
    }
}

/// Whether data-plane calls skip the `runtime-` host prefix (botocore's setting).
pub fn host_prefix_disabled() -> bool {
    env::flag("AWS_DISABLE_HOST_PREFIX_INJECTION")
}

/// Whether requests go to an endpoint other than AWS's (AWS_ENDPOINT_URL_MEDICAL_IMAGING,
/// AWS_ENDPOINT_URL or a profile's endpoint_url), where HealthImaging's quotas do not apply.
fn custom_endpoint(sdk: &aws_config::SdkConfig) -> bool {
    sdk.endpoint_url().is_some()
        || env::var("AWS_ENDPOINT_URL_MEDICAL_IMAGING").is_some()
        || env::var("AWS_ENDPOINT_URL").is_some()
}

/// The HTTPS connector the SDK would choose by default: rustls with aws-lc, proxies from the
/// environment (also the DICOMweb client's, engine/dicomweb).
pub fn https_connector(
    settings: Option<&HttpConnectorSettings>,
    components: Option<&RuntimeComponents>,
) -> Connector {
    let mut conn = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::AwsLc,
    ));
    conn.set_connector_settings(settings.cloned());
    if let Some(components) = components {
        conn.set_sleep_impl(components.sleep_impl());
    }
    conn.set_proxy_config(Some(ProxyConfig::from_env()));
    conn.build()
}

/// The SDK's default HTTPS client, built here so the rate limit can wrap it.
fn default_https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(https_connector)
}

/// The configuration the current client was built from (credentials chain, region, endpoint,
/// retry settings), which the DICOMweb client shares.
static LOADED: std::sync::RwLock<Option<aws_config::SdkConfig>> = std::sync::RwLock::new(None);

pub fn loaded() -> Option<aws_config::SdkConfig> {
    LOADED.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Builds the client from the environment. Cheap to call once; the client is then shared.
/// Retries are the SDK's (standard or adaptive, with jitter and its token bucket); every
/// request, retries included, goes through the per-operation rate limit (`rate_limit`).
pub async fn build_client() -> Client {
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    *LOADED.write().unwrap_or_else(|e| e.into_inner()) = Some(sdk.clone());
    let limiter = rate_limit::install(custom_endpoint(&sdk));
    let mut conf = aws_sdk_medicalimaging::config::Builder::from(&sdk)
        .interceptor(UserAgentMetadata)
        .interceptor(rate_limit::TagOperation);
    let inner = sdk.http_client().unwrap_or_else(default_https_client);
    conf = conf.http_client(rate_limit::Limited { inner, limiter });
    if host_prefix_disabled() {
        conf = conf.interceptor(NoHostPrefix);
    }
    Client::from_conf(conf.build())
}
