//! Replays every seed in `fuzz/corpus/<target>/` and every kept crasher in
//! `fuzz/regressions/<target>/` through its target, so the normal test suite catches a
//! regression without a nightly toolchain or libFuzzer.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of a folder, sorted; hidden files (`.gitkeep`) and READMEs are not inputs.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.') && name != "README.md"
        })
        .collect();
    files.sort();
    files
}

/// Runs each file through `run`; returns the files that panicked, with the message.
fn replay(run: fn(&[u8]), files: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for file in files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| run(&data))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {message}", file.display()));
        }
    }
    failures
}

#[test]
fn every_seed_and_every_kept_crasher_runs_without_a_panic() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (name, run) in loa_fuzzing::TARGETS {
        let seeds = inputs(&fuzz_dir().join("corpus").join(name));
        assert!(!seeds.is_empty(), "fuzz/corpus/{name} has no seeds");
        let kept = fuzz_dir().join("regressions").join(name);
        let kept = if kept.is_dir() {
            inputs(&kept)
        } else {
            Vec::new()
        };
        replayed += seeds.len() + kept.len();
        failures.extend(replay(*run, &seeds));
        failures.extend(replay(*run, &kept));
    }
    assert!(
        failures.is_empty(),
        "{} of {replayed} inputs panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_regressions_folder_belongs_to_a_target_and_holds_a_crasher() {
    let dir = fuzz_dir().join("regressions");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if !path.is_dir() {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            loa_fuzzing::TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/regressions/{name} is not a target: its crashers would never be replayed"
        );
        assert!(
            !inputs(&path).is_empty(),
            "fuzz/regressions/{name} is empty"
        );
    }
}
