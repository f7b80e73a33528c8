//! Starting and stopping the local HealthImaging: configuration, the shared application state,
//! persistence, and the server thread with its own tokio runtime (so Python, the CLI and Rust
//! tests can start and stop it synchronously).

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{oneshot, Notify};

use super::front_door::{AllowedHosts, FrontDoor};
use super::persist;
use super::sigv4::Verifier;
use super::state::{Account, Store};

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
    /// Added to every request, to emulate network latency (and make concurrency observable).
    pub latency: std::time::Duration,
    /// Host header values served besides the bound address and loopback names (for a proxy in
    /// front): `host` (any port) or `host:port`.
    pub allowed_hosts: Vec<String>,
    /// How long a connection may wait for a request's headers (idle or sent slowly) and a
    /// request for its body.
    pub idle_timeout: std::time::Duration,
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
            latency: std::time::Duration::ZERO,
            allowed_hosts: Vec::new(),
            idle_timeout: std::time::Duration::from_secs(60),
        }
    }
}

/// Request counters, for tests that prove concurrency (peak requests in flight).
#[derive(Default)]
pub struct Stats {
    pub in_flight: AtomicUsize,
    pub peak_in_flight: AtomicUsize,
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    /// Requests answered with ConflictException (409).
    pub conflicts: AtomicU64,
    /// The User-Agent of the latest request (clients are expected to identify themselves).
    pub last_user_agent: Mutex<String>,
}

pub struct InFlight<'a>(&'a Stats);

impl Stats {
    pub fn enter(&self) -> InFlight<'_> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct App {
    pub store: Mutex<Store>,
    pub account: Account,
    pub verifier: Verifier,
    pub s3_root: PathBuf,
    pub data_dir: Option<PathBuf>,
    pub stats: Stats,
    throttle_rate: f64,
    pub latency: std::time::Duration,
    dirty: Notify,
}

impl App {
    /// Marks state changed; the persister writes it out shortly after.
    pub fn changed(&self) {
        if self.data_dir.is_some() {
            self.dirty.notify_one();
        }
    }

    pub fn should_throttle(&self) -> bool {
        if self.throttle_rate > 0.0 && rand::random::<f64>() < self.throttle_rate {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        false
    }

    /// Writes state now (used at shutdown and by the persister).
    pub fn save(&self) -> std::io::Result<()> {
        match &self.data_dir {
            Some(dir) => {
                let json = {
                    let store = self.store.lock().expect("store lock");
                    serde_json::to_vec(&*store).map_err(std::io::Error::other)?
                };
                persist::write_state(dir, &json)
            }
            None => Ok(()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot bind {0}: {1}")]
    Bind(String, std::io::Error),
    #[error("cannot prepare {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("cannot load saved state from {0}: {1}")]
    State(PathBuf, String),
    #[error("server thread failed to start: {0}")]
    Thread(String),
    #[error("{0}")]
    Config(String),
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
        let mut store = match &config.data_dir {
            Some(dir) => persist::load(dir).map_err(|e| StartError::State(dir.clone(), e))?,
            None => Store::default(),
        };
        store.transition_delay = config.transition_delay;
        let app = Arc::new(App {
            store: Mutex::new(store),
            account: Account {
                region: config.region.clone(),
                account_id: config.account_id.clone(),
            },
            verifier: Verifier::new(&config.credentials, &config.region),
            s3_root,
            data_dir: config.data_dir.clone(),
            stats: Stats::default(),
            throttle_rate: config.throttle_rate.clamp(0.0, 1.0),
            latency: config.latency,
            dirty: Notify::new(),
        });
        let bind = format!("{}:{}", config.host, config.port);
        let listener = TcpListener::bind(&bind).map_err(|e| StartError::Bind(bind.clone(), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| StartError::Bind(bind.clone(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Bind(bind, e))?;
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
            .map_err(|e| StartError::Thread(e.to_string()))?;
        ready_rx
            .recv()
            .map_err(|_| StartError::Thread("server thread exited".into()))?
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
        hosts: AllowedHosts::new(addr, &config.allowed_hosts).map_err(StartError::Config)?,
        body_timeout: config.idle_timeout,
    })
}

fn serve(
    app: Arc<App>,
    listener: TcpListener,
    shutdown: oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
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
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
                return;
            }
        };
        let persister = tokio::spawn(persist_loop(app.clone()));
        let _ = ready.send(Ok(()));
        let router = super::routes::router(app.clone(), door);
        super::connections::serve(listener, router, shutdown, idle_timeout).await;
        persister.abort();
        if let Err(e) = app.save() {
            tracing::error!("could not save state: {e}");
        }
    });
    // Import jobs still running are dropped with the runtime; their jobs stay IN_PROGRESS.
    rt.shutdown_background();
}

/// Writes state shortly after changes, coalescing bursts of writes into one save.
async fn persist_loop(app: Arc<App>) {
    loop {
        app.dirty.notified().await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let a = app.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = a.save() {
                tracing::error!("could not save state: {e}");
            }
        })
        .await;
    }
}
