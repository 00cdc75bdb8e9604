//! Mosquitto 2.0's password hash, as `mosquitto_passwd` writes it and the broker checks it:
//! `$7$ITERATIONS$SALT$HASH`, where HASH is PBKDF2-HMAC-SHA512 of the password with the raw
//! salt bytes, and SALT and HASH are standard base64 with padding (mosquitto's
//! `password_mosq.c`; 12 salt bytes, 64 hash bytes, 101 iterations by default).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use sha2::Sha512;

/// `mosquitto_passwd`'s default. A node's password is a random 256-bit secret, so a slow hash
/// adds nothing against guessing; the default keeps logins cheap when a whole fleet
/// reconnects after an outage.
const ITERATIONS: u32 = 101;
const SALT_BYTES: usize = 12;
const HASH_BYTES: usize = 64;

/// Mosquitto's hash of `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; SALT_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    hash_with_salt(password, &salt, ITERATIONS)
}

fn hash_with_salt(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut out = [0u8; HASH_BYTES];
    pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), salt, iterations, &mut out);
    format!(
        "$7${iterations}${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(out)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made by Mosquitto 2.0.11's own tool: `mosquitto_passwd -c -b FILE alice secret`.
    const FROM_MOSQUITTO_PASSWD: &str = "$7$101$gdkoW3SiLO/SO3v5$IFPKQIhIX2rLFQetJcaR++b92Rr+\
        glvuE5ypxiVQGzZKAXOxSoD/B52/loYQ7fgVwga6MvIJMpWdJM2+uPDcLQ==";

    #[test]
    fn the_hash_matches_what_mosquitto_passwd_wrote_for_the_same_salt() {
        let salt = STANDARD.decode("gdkoW3SiLO/SO3v5").unwrap();
        assert_eq!(hash_with_salt("secret", &salt, 101), FROM_MOSQUITTO_PASSWD);
    }

    #[test]
    fn each_hash_has_its_own_salt_and_mosquittos_shape() {
        let (a, b) = (hash_password("pw"), hash_password("pw"));
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('$').collect();
        assert_eq!(parts[..3], ["", "7", "101"]);
        assert_eq!(STANDARD.decode(parts[3]).unwrap().len(), SALT_BYTES);
        assert_eq!(STANDARD.decode(parts[4]).unwrap().len(), HASH_BYTES);
    }

    /// Cross-checks with the real tool when it is installed: a file `mosquitto_passwd` wrote
    /// for a password, re-hashed here with its salt, gives the same line.
    #[test]
    fn agrees_with_the_installed_mosquitto_passwd() {
        let tool = std::path::Path::new("/usr/bin/mosquitto_passwd");
        if !tool.is_file() {
            eprintln!("mosquitto_passwd not installed; the fixed vector above still checks");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        let password = crate::secrets::new_secret();
        let ok = std::process::Command::new(tool)
            .args(["-c", "-b"])
            .arg(&file)
            .args(["thon-1", &password])
            .status()
            .unwrap();
        assert!(ok.success());
        let line = std::fs::read_to_string(&file).unwrap();
        let theirs = line.trim().strip_prefix("thon-1:").unwrap();
        let salt = STANDARD.decode(theirs.split('$').nth(3).unwrap()).unwrap();
        assert_eq!(hash_with_salt(&password, &salt, 101), theirs);
    }
}
