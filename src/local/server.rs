//! Starting and stopping the local HealthImaging: configuration, opening the data folder, and
//! the server thread with its own tokio runtime (so Python, the CLI and Rust tests can start and
//! stop it synchronously).

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::app::App;
use super::error::ApiError;
use super::faults::FaultPlan;
use super::front_door::{AllowedHosts, BadAllowedHost, FrontDoor};
use super::persist::{OpenError, Persistence};
use super::quotas::QuotaMode;
use super::sigv4::Verifier;
use super::state::{Account, Store, WriteTiming};

#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub host: String,
    /// 0 = any free port.
    pub port: u16,
    /// The folder standing in for S3: `s3://bucket/key` is `<s3_root>/bucket/key`.
    pub s3_root: Option<PathBuf>,
    /// Where state survives restarts; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    pub credentials: Vec<(String, String)>,
    pub region: String,
    pub account_id: String,
    /// Share (0.0..=1.0) of requests answered with ThrottlingException, for resilience tests.
    pub throttle_rate: f64,
    /// Seconds a data store spends CREATING / DELETING.
    pub transition_delay: f64,
    /// How long UpdateImageSetMetadata, CopyImageSet and DeleteImageSet keep the image set
    /// LOCKED before they complete (zero = at once).
    pub write_delay: std::time::Duration,
    /// Share (0.0..=1.0) of updates and copies that end UPDATE_FAILED / COPY_FAILED.
    pub write_fail_rate: f64,
    /// Added to every request, to emulate network latency (and make concurrency observable).
    pub latency: std::time::Duration,
    /// Host header values served besides the bound address and loopback names (for a proxy in
    /// front): `host` (any port) or `host:port`.
    pub allowed_hosts: Vec<String>,
    /// How long a connection may wait for a request's headers (idle or sent slowly) and a
    /// request for its body.
    pub idle_timeout: std::time::Duration,
    /// The service's per-operation throttle table, enforced (off by default).
    pub quotas: QuotaMode,
    /// Injected faults (none by default); both can be changed while the server runs.
    pub faults: FaultPlan,
    /// Largest DICOMweb STOW-RS request body (the service's documented 1 GB by default; the
    /// whole body is held in memory while it is checked and stored).
    pub stow_max_body: usize,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 0,
            s3_root: None,
            data_dir: None,
            credentials: vec![("test".into(), "test".into())],
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            throttle_rate: 0.0,
            transition_delay: 0.0,
            write_delay: std::time::Duration::ZERO,
            write_fail_rate: 0.0,
            latency: std::time::Duration::ZERO,
            allowed_hosts: Vec::new(),
            idle_timeout: std::time::Duration::from_secs(60),
            quotas: QuotaMode::Off,
            faults: FaultPlan::default(),
            stow_max_body: super::front_door::DEFAULT_STOW_MAX_BODY,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("cannot prepare {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("cannot open data folder {0}: {1}")]
    State(PathBuf, OpenError),
    #[error("cannot record the import jobs interrupted by the last shutdown: {0}")]
    Journal(ApiError),
    #[error("server thread failed to start: {0}")]
    Thread(std::io::Error),
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    AllowedHost(#[from] BadAllowedHost),
}

/// The well-known pair every example uses: fine on loopback, not on a reachable address.
const DEFAULT_CREDENTIALS: (&str, &str) = ("test", "test");

pub struct LocalServer {
    pub app: Arc<App>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    _temp_s3: Option<TempDir>,
}

/// A folder removed when dropped (S3 stand-in when none was given).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl LocalServer {
    /// Binds, loads state, and serves on a background thread until `stop` (or drop).
    pub fn start(config: LocalConfig) -> Result<Self, StartError> {
        let (s3_root, temp) = match (&config.s3_root, &config.data_dir) {
            (Some(root), _) => (root.clone(), None),
            (None, Some(data)) => (data.join("s3"), None),
            (None, None) => {
                let dir = std::env::temp_dir()
                    .join(format!("healthimaging-local-{}", super::state::new_id()));
                (dir.clone(), Some(TempDir(dir)))
            }
        };
        std::fs::create_dir_all(&s3_root).map_err(|e| StartError::Io(s3_root.clone(), e))?;
        let (persistence, mut store) = match &config.data_dir {
            Some(dir) => {
                let (p, store) =
                    Persistence::open(dir).map_err(|e| StartError::State(dir.clone(), e))?;
                (Some(p), store)
            }
            None => (None, Store::default()),
        };
        store.transition_delay = config.transition_delay;
        store.write_timing = WriteTiming {
            delay: config.write_delay.as_secs_f64(),
            fail_rate: config.write_fail_rate.clamp(0.0, 1.0),
        };
        let mut app = App::new(
            store,
            Account {
                region: config.region.clone(),
                account_id: config.account_id.clone(),
            },
            Verifier::new(&config.credentials, &config.region),
            s3_root,
            persistence,
        );
        app.throttle_rate = config.throttle_rate.clamp(0.0, 1.0);
        app.latency = config.latency;
        app.quotas.set(config.quotas);
        app.faults.set(config.faults.clone());
        let app = Arc::new(app);
        // Jobs the previous process was running when it died will never finish.
        let interrupted = app
            .write(|s| Ok(s.fail_interrupted_jobs()))
            .map_err(StartError::Journal)?;
        if interrupted > 0 {
            tracing::warn!(
                "{interrupted} import job(s) interrupted by the last shutdown marked FAILED"
            );
        }
        let bind = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&bind).map_err(|e| StartError::Bind(bind.clone(), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| StartError::Bind(bind.clone(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Bind(bind, e))?;
        let _ = app.bound_port.set(addr.port());
        let door = door_for(&config, addr)?;
        let (tx, rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread_app = app.clone();
        let thread = std::thread::Builder::new()
            .name("healthimaging-local".into())
            .spawn(move || {
                serve(
                    thread_app,
                    listener,
                    rx,
                    ready_tx,
                    door,
                    config.idle_timeout,
                )
            })
            .map_err(StartError::Thread)?;
        ready_rx
            .recv()
            .map_err(|_| StartError::Thread(std::io::Error::other("server thread exited")))?
            .map_err(StartError::Thread)?;
        Ok(Self {
            app,
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
            _temp_s3: temp,
        })
    }

    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Stops serving, lets in-flight import jobs be abandoned, writes state. Idempotent.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The front door for a server bound to `addr`. Refuses the well-known default credentials on
/// an address other hosts can reach.
fn door_for(config: &LocalConfig, addr: SocketAddr) -> Result<FrontDoor, StartError> {
    let default = |(k, s): &(String, String)| (k.as_str(), s.as_str()) == DEFAULT_CREDENTIALS;
    if !addr.ip().is_loopback() && config.credentials.iter().any(default) {
        return Err(StartError::Config(format!(
            "refusing to listen on {addr} with the well-known test/test credentials; \
             give your own access key and secret (--access-key-id and --secret-access-key)"
        )));
    }
    Ok(FrontDoor {
        verifier: Verifier::new(&config.credentials, &config.region),
        hosts: AllowedHosts::new(addr, &config.allowed_hosts)?,
        body_timeout: config.idle_timeout,
        stow_max_body: config.stow_max_body,
    })
}

fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<std::io::Result<()>>,
    door: FrontDoor,
    idle_timeout: std::time::Duration,
) {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("healthimaging-local-worker")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        let router = super::routes::router(app.clone(), door);
        super::connections::serve(listener, router, shutdown, idle_timeout).await;
        if let Err(e) = app.save() {
            tracing::error!("could not save state: {e}");
        }
    });
    // Import jobs still running are dropped with the runtime; the next start marks them FAILED.
    rt.shutdown_background();
}
