//! Optional persistence: `state.json` (data stores, image sets and their versions, jobs, tags)
//! written atomically, and one file per frame under `frames/`.

use std::path::Path;
use std::sync::Arc;

use super::state::Store;

const STATE: &str = "state.json";
const FRAMES: &str = "frames";

pub fn write_state(dir: &Path, json: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{STATE}.tmp"));
    std::fs::write(&tmp, json)?;
    std::fs::rename(tmp, dir.join(STATE))
}

pub fn write_frame(dir: &Path, id: &str, bytes: &[u8]) -> std::io::Result<()> {
    let frames = dir.join(FRAMES);
    std::fs::create_dir_all(&frames)?;
    std::fs::write(frames.join(id), bytes)
}

/// Loads saved state (an empty store if the folder holds none yet).
pub fn load(dir: &Path) -> Result<Store, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join(STATE);
    let mut store: Store = match std::fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Store::default(),
        Err(e) => return Err(e.to_string()),
    };
    if let Ok(entries) = std::fs::read_dir(dir.join(FRAMES)) {
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(entry.path()).map_err(|e| e.to_string())?;
            store.insert_frame(id, Arc::new(bytes));
        }
    }
    Ok(store)
}
