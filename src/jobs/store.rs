//! Job records on disk, in the state folder's `jobs/`: per job a snapshot `<id>.json` (written
//! to a temporary file, synced, then renamed over the old one, so a crash leaves the old or the
//! new snapshot, never half of one) and, while it runs, an append-only item journal
//! `<id>.items.jsonl` (one line per item outcome, so a 2,000-item job appends 2,000 short lines
//! instead of rewriting its record each time). A running job's snapshot leaves its items out;
//! loading merges the journal over the snapshot (a torn last line is ignored). When a job ends
//! its snapshot is written with the items and the journal removed. Records hold the request
//! arguments, never credentials; the folder is private to the user (0700).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::record::{JobItem, JobRecord};

/// The state folder: `HEALTHIMAGING_MCP_STATE_DIR`, else `$XDG_STATE_HOME/awslabs-healthimaging-mcp-server`,
/// else `~/.local/state/awslabs-healthimaging-mcp-server`.
pub fn default_state_dir() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = set("HEALTHIMAGING_MCP_STATE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = set("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|h| Path::new(&h).join(".local").join("state")))?;
    Some(base.join("awslabs-healthimaging-mcp-server"))
}

#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
}

/// Job IDs are lowercase hex (`runtime::new_job_id`); anything else is not a file of ours.
fn is_job_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Store {
    /// The `jobs/` folder of `state_dir`, created (private to the user) if missing.
    pub fn open(state_dir: &Path) -> io::Result<Self> {
        let dir = state_dir.join("jobs");
        fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(Self { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn snapshot_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn journal_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.items.jsonl"))
    }

    /// Writes `record` as the job's snapshot, crash-safely (temp file, fsync, rename).
    pub fn save(&self, record: &JobRecord) -> io::Result<()> {
        let path = self.snapshot_path(&record.job_id);
        let tmp = self.dir.join(format!(".{}.json.tmp", record.job_id));
        let body = serde_json::to_vec(record).map_err(io::Error::other)?;
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &path)?;
        // The rename itself survives a power loss once the folder is synced.
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Appends one item outcome to the job's journal (one short line; no rewrite).
    pub fn append_item(&self, job_id: &str, item: &JobItem) -> io::Result<()> {
        let mut line = serde_json::to_vec(item).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.journal_path(job_id))?;
        f.write_all(&line)
    }

    /// The final snapshot of an ended job, items included; the journal is no longer needed.
    pub fn compact(&self, record: &JobRecord) -> io::Result<()> {
        self.save(record)?;
        match fs::remove_file(self.journal_path(&record.job_id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub fn remove(&self, job_id: &str) {
        let _ = fs::remove_file(self.snapshot_path(job_id));
        let _ = fs::remove_file(self.journal_path(job_id));
    }

    /// Every record in the folder, each with its journal merged in (later outcomes of a key
    /// replace earlier ones; counts and `progress.done` recomputed). Unreadable snapshots are
    /// skipped with a warning.
    pub fn load_all(&self) -> Vec<JobRecord> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if !is_job_id(id) {
                continue;
            }
            let record = fs::read(entry.path())
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<JobRecord>(&b).map_err(|e| e.to_string()));
            match record {
                Ok(mut rec) => {
                    self.merge_journal(&mut rec);
                    out.push(rec);
                }
                Err(e) => tracing::warn!(
                    target: "healthimaging_mcp::jobs",
                    "skipping unreadable job record {id}: {e}"
                ),
            }
        }
        out
    }

    fn merge_journal(&self, rec: &mut JobRecord) {
        if let Ok(f) = File::open(self.journal_path(&rec.job_id)) {
            for line in BufReader::new(f).lines() {
                let Ok(line) = line else { break };
                // A torn last line (crash mid-append) is not an item.
                let Ok(item) = serde_json::from_str::<JobItem>(&line) else {
                    continue;
                };
                match rec.items.iter_mut().find(|i| i.key == item.key) {
                    Some(old) => *old = item,
                    None => rec.items.push(item),
                }
            }
        }
        rec.recount();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::record::{JobProgress, JobStatus};
    use serde_json::json;

    fn record(id: &str) -> JobRecord {
        JobRecord {
            job_id: id.into(),
            kind: "test".into(),
            job_name: None,
            datastore_id: "ds".into(),
            client_token: Some("tok".into()),
            status: JobStatus::InProgress,
            request: json!({"x": 1}),
            submitted_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
            ended_at: None,
            progress: JobProgress {
                done: 0,
                total: Some(3),
                message: None,
            },
            counts: Default::default(),
            items: Vec::new(),
            summary: None,
            message: None,
        }
    }

    #[test]
    fn a_snapshot_and_its_journal_load_back_as_one_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.save(&record("ab12")).unwrap();
        store
            .append_item("ab12", &JobItem::new("a", "done"))
            .unwrap();
        store
            .append_item("ab12", &JobItem::new("b", "failed").reason("boom"))
            .unwrap();
        // A later outcome of the same key replaces the earlier one.
        store
            .append_item("ab12", &JobItem::new("b", "done"))
            .unwrap();
        let loaded = store.load_all();
        assert_eq!(loaded.len(), 1);
        let rec = &loaded[0];
        assert_eq!(rec.items.len(), 2);
        assert_eq!(rec.progress.done, 2);
        assert_eq!(rec.counts["done"], 2);
        assert_eq!(rec.client_token.as_deref(), Some("tok"));
    }

    #[test]
    fn a_torn_journal_line_and_a_stray_temp_file_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store.save(&record("cd34")).unwrap();
        store
            .append_item("cd34", &JobItem::new("a", "done"))
            .unwrap();
        // A crash mid-append and mid-snapshot: half a line, half a temp file.
        let mut f = OpenOptions::new()
            .append(true)
            .open(store.journal_path("cd34"))
            .unwrap();
        f.write_all(br#"{"key":"b","outc"#).unwrap();
        fs::write(store.dir().join(".cd34.json.tmp"), b"{\"job_id\":").unwrap();
        let loaded = store.load_all();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].items, vec![JobItem::new("a", "done")]);
    }

    #[test]
    fn compacting_keeps_the_items_and_drops_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut rec = record("ef56");
        store.save(&rec).unwrap();
        store
            .append_item("ef56", &JobItem::new("a", "done"))
            .unwrap();
        rec.items.push(JobItem::new("a", "done"));
        rec.status = JobStatus::Completed;
        store.compact(&rec).unwrap();
        assert!(!store.journal_path("ef56").exists());
        let loaded = store.load_all();
        assert_eq!(loaded[0].status, JobStatus::Completed);
        assert_eq!(loaded[0].items.len(), 1);
    }
}
