//! Jobs: work that outlives one tool call (exports; workflows still running past their
//! deadline). A job is a record (`record`) and a task running it; `runtime` starts, finds,
//! lists and cancels them. The running task reports through a `JobHandle`.

pub mod record;
pub mod runtime;
pub mod store;

pub use record::{JobItem, JobProgress, JobRecord, JobStatus};
pub use runtime::{
    init, runtime, JobFuture, JobHandle, JobPage, ListFilter, NewJob, RunJob, Runtime,
};
pub use store::default_state_dir;
