//! The local HealthImaging's modules form no cycle: each top-level module of `src/local` may use
//! the ones below it, never one that (directly or not) uses it back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module of `src/local` → the files it is made of.
fn modules(root: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(root).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let name = first.trim_end_matches(".rs").to_string();
        if name != "mod" {
            out.entry(name).or_default().push(path.to_path_buf());
        }
    }
    out
}

/// The sibling modules a file names (`super::x` from a top-level file, `super::super::x` from
/// one folder down, or `crate::local::x`), outside its tests.
fn uses(file: &Path, depth: usize, known: &BTreeMap<String, Vec<PathBuf>>) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let up = format!("{}::", vec!["super"; depth + 1].join("::"));
    let mut out = BTreeSet::new();
    for prefix in [up.as_str(), "crate::local::"] {
        for (at, _) in code.match_indices(prefix) {
            // `super::super::x` also contains `super::x`; only whole prefixes count.
            let before = &code[..at];
            if prefix.starts_with("super") && before.ends_with("super::") {
                continue;
            }
            let name: String = code[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if known.contains_key(&name) {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn local_modules_form_no_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/local");
    let mods = modules(&root);
    let mut graph: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, files) in &mods {
        for f in files {
            let depth = f.strip_prefix(&root).unwrap().components().count() - 1;
            let mut used = uses(f, depth, &mods);
            used.remove(name);
            graph.entry(name).or_default().extend(used);
        }
    }
    assert!(
        graph["server"].contains("routes"),
        "the scan sees server -> routes"
    );
    // A module reaches itself through its uses: a cycle.
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, vec![start])];
        while let Some((m, path)) = stack.pop() {
            for next in &graph[m] {
                assert_ne!(next, start, "module cycle: {} -> {next}", path.join(" -> "));
                if seen.insert(next.as_str()) {
                    let mut p = path.clone();
                    p.push(next);
                    stack.push((next, p));
                }
            }
        }
    }
}
