//! Where the node stands: set by the installer with `loa-node check --location LAT,LON`,
//! kept in `location.json` in the data directory, and reported in every state the node
//! publishes (the controller keeps the latest set of the installer's and the centre's).

use chrono::{DateTime, Utc};
use loa_protocol::Location;
use std::path::{Path, PathBuf};

/// The file in the data directory that holds the location.
pub const FILE: &str = "location.json";

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// Reads `LAT,LON` in decimal degrees (`21.0285,105.8542`, as a phone's map shows it).
pub fn parse(text: &str, at: DateTime<Utc>) -> Result<Location, String> {
    let bad = || {
        format!(
            "{text:?} is not a location: give latitude,longitude in decimal degrees, \
             e.g. 21.0285,105.8542 (latitude -90..90, longitude -180..180)"
        )
    };
    let (lat, lon) = text.split_once(',').ok_or_else(bad)?;
    let latitude: f64 = lat.trim().parse().map_err(|_| bad())?;
    let longitude: f64 = lon.trim().parse().map_err(|_| bad())?;
    if !Location::in_range(latitude, longitude) {
        return Err(bad());
    }
    Ok(Location {
        latitude,
        longitude,
        set_at: at,
    })
}

/// Saves the location for the node's next states (written whole or not at all).
pub fn save(data_dir: &Path, location: &Location) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(location).expect("a location serialises");
    crate::disk::write_atomic(&path(data_dir), &bytes)
}

/// The saved location, if there is one that reads and is in range.
pub fn load(data_dir: &Path) -> Option<Location> {
    let bytes = std::fs::read(path(data_dir)).ok()?;
    match serde_json::from_slice::<Location>(&bytes) {
        Ok(l) if Location::in_range(l.latitude, l.longitude) => Some(l),
        _ => {
            tracing::warn!(file = %path(data_dir).display(), "the saved location does not read; not reported");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lat_lon_and_refuses_what_is_not_one() {
        let at = Utc::now();
        let l = parse("21.0285, 105.8542", at).unwrap();
        assert_eq!((l.latitude, l.longitude), (21.0285, 105.8542));
        for bad in ["", "21.0", "north,east", "91,105", "21,181", "NaN,1"] {
            assert!(parse(bad, at).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn saved_location_is_loaded_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()), None);
        let l = parse("10.5,106.25", Utc::now()).unwrap();
        save(dir.path(), &l).unwrap();
        assert_eq!(load(dir.path()), Some(l));
        std::fs::write(dir.path().join(FILE), b"{broken").unwrap();
        assert_eq!(load(dir.path()), None);
    }
}
