//! Fuzzing the media probes: the controller's upload check (decode everything, measure the
//! loudness) and, for what it accepts, the node's decoder. Nodes only ever receive files the
//! controller accepted, so the node's probe sees those, and must accept them too. Both read
//! a path, so the bytes go through a temporary file first.

use std::io::Write;

/// Any bytes as an uploaded or downloaded recording.
pub fn media_probe(data: &[u8]) {
    let mut file = tempfile::Builder::new()
        .prefix("loa-fuzz-")
        .tempfile()
        .expect("a temporary file");
    file.write_all(data).expect("writing the temporary file");
    let Ok(probed) = loa_controller::media::probe(file.path(), None) else {
        return;
    };
    assert!(probed.sample_rate > 0, "a probed file has a sample rate");
    assert!(probed.loudness_lufs.is_none_or(f64::is_finite));
    // Nodes only ever get files the controller accepted (by SHA-256), and each must play.
    let played = loa_node::audio::player::probe(file.path());
    let info = played.unwrap_or_else(|e| panic!("the controller accepts, the node refuses: {e}"));
    assert!(info.rate > 0, "a probed file has a sample rate");
}
