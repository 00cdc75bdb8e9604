//! The standing programme from files: at start, every `*.toml` in the schedules directory is
//! read (see [`crate::schedule::file`]) and the file-defined schedules in the store are brought
//! in line: new ones created, changed ones updated, vanished ones cancelled. An error names the
//! file and line; the controller logs it, skips that file, and keeps running.

use std::path::Path;

use crate::media::{probe, sha256_file, MediaStore};
use crate::schedule::file::{self, FileError, ProgrammeSpec};
use crate::store::media::MediaRow;
use crate::store::schedules::{ScheduleSpec, Source, Status};
use crate::store::Store;

/// Loads the directory; returns the errors found (already logged) and the nodes whose plans
/// change.
pub async fn sync(store: &Store, media: &MediaStore, dir: &Path) -> (Vec<FileError>, Vec<String>) {
    let mut errors = Vec::new();
    let mut touched = Vec::new();
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect(),
        Err(e) => {
            let err = FileError {
                file: dir.to_path_buf(),
                line: 0,
                message: format!("cannot read the schedules directory: {e}"),
            };
            tracing::error!("{err}");
            return (vec![err], touched);
        }
    };
    files.sort();
    for path in files {
        let specs = match file::load_file(&path) {
            Ok(specs) => specs,
            Err(errs) => {
                for e in &errs {
                    tracing::error!("{e}");
                }
                errors.extend(errs);
                continue;
            }
        };
        for spec in specs {
            let key = (spec.file.display().to_string(), spec.name.clone());
            match apply(store, media, &spec).await {
                Ok(nodes) => {
                    touched.extend(nodes);
                    seen.push(key);
                }
                Err(e) => {
                    tracing::error!("{e}");
                    errors.push(e);
                    seen.push(key); // keep what the store has rather than cancel it
                }
            }
        }
    }
    // File schedules whose programme is gone from the files end.
    if let Ok(all) = store.schedules().await {
        for s in all
            .into_iter()
            .filter(|s| s.source == Source::File && s.status != Status::Cancelled)
        {
            let key = (s.source_file.clone().unwrap_or_default(), s.name.clone());
            let in_dir = s
                .source_file
                .as_deref()
                .is_some_and(|f| Path::new(f).starts_with(dir));
            if in_dir && !seen.contains(&key) {
                tracing::info!(schedule = s.id, name = %s.name, "programme no longer in its file; cancelling");
                if let Ok(nodes) = store.set_schedule_status(s.id, Status::Cancelled).await {
                    touched.extend(nodes);
                }
            }
        }
    }
    (errors, touched)
}

/// Creates or updates the store's schedule for one programme.
async fn apply(
    store: &Store,
    media: &MediaStore,
    spec: &ProgrammeSpec,
) -> Result<Vec<String>, FileError> {
    let err = |line: usize, message: String| FileError {
        file: spec.file.clone(),
        line,
        message,
    };
    let mut zone_ids = Vec::new();
    for (name, line) in &spec.zones {
        let z = store
            .zone_by_name(name)
            .await
            .map_err(|e| err(*line, e.to_string()))?;
        zone_ids.push(z.id);
    }
    let sha = store_media(store, media, &spec.announcement)
        .await
        .map_err(|m| err(spec.line, m))?;
    let a = store
        .find_or_create_announcement(&spec.name, &sha)
        .await
        .map_err(|e| err(spec.line, e.to_string()))?;
    let wanted = ScheduleSpec {
        name: spec.name.clone(),
        announcement_id: a.id,
        priority: spec.priority,
        recurrence: spec.recurrence.clone(),
        expires_in_minutes: spec.expires_in_minutes,
        zone_ids,
    };
    let file = spec.file.display().to_string();
    let to_err = |e: crate::store::StoreError| err(spec.line, e.to_string());
    match store
        .file_schedule(&file, &spec.name)
        .await
        .map_err(to_err)?
    {
        None => {
            let row = store
                .create_schedule(
                    &wanted,
                    Status::Active,
                    Source::File,
                    Some((&file, spec.line as i64)),
                    None,
                )
                .await
                .map_err(to_err)?;
            tracing::info!(schedule = row.id, name = %row.name, file = %file, "programme loaded from file");
            Ok(Vec::new())
        }
        Some(cur) => {
            let same = cur.announcement_id == wanted.announcement_id
                && cur.priority == wanted.priority
                && cur.recurrence == wanted.recurrence
                && cur.expires_in_minutes == wanted.expires_in_minutes
                && cur.zone_ids == sorted(wanted.zone_ids.clone());
            if same || cur.status == Status::Cancelled {
                return Ok(Vec::new());
            }
            tracing::info!(schedule = cur.id, name = %cur.name, file = %file, "programme changed in its file");
            store.update_schedule(cur.id, &wanted).await.map_err(to_err)
        }
    }
}

fn sorted(mut v: Vec<i64>) -> Vec<i64> {
    v.sort_unstable();
    v.dedup();
    v
}

/// Probes a recording and keeps it in the media store; its SHA-256.
async fn store_media(store: &Store, media: &MediaStore, path: &Path) -> Result<String, String> {
    let p = path.to_path_buf();
    let name = path.file_name().map(|n| n.to_string_lossy().to_string());
    let hint = name.clone();
    let (sha, probed, size) = tokio::task::spawn_blocking(move || {
        let probed = probe(&p, hint.as_deref()).map_err(|e| format!("{}: {e}", p.display()))?;
        let sha = sha256_file(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let size = std::fs::metadata(&p).map_err(|e| e.to_string())?.len();
        Ok::<_, String>((sha, probed, size))
    })
    .await
    .map_err(|e| e.to_string())??;
    let incoming = media.incoming();
    std::fs::copy(path, &incoming).map_err(|e| format!("cannot store {}: {e}", path.display()))?;
    media.commit(&incoming, &sha).map_err(|e| e.to_string())?;
    store
        .insert_media(&MediaRow::probed(sha.clone(), size, probed, name))
        .await
        .map_err(|e| e.to_string())?;
    Ok(sha)
}
