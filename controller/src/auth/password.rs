//! Staff passwords: argon2id with a random salt, stored as a PHC string.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Shortest password accepted.
pub const MIN_LEN: usize = 8;

/// Checks the rules a new password must meet.
pub fn check_new(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(format!("a password is at least {MIN_LEN} characters"));
    }
    if n > 200 {
        return Err("a password is at most 200 characters".into());
    }
    Ok(())
}

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any input")
        .to_string()
}

/// Whether `password` matches `stored`; a damaged hash matches nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Spends about as long as a real check, so an unknown user name answers no faster than a
/// wrong password.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("not a password anyone has"));
    let _ = verify(password, stored);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("mật khẩu dài");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("mật khẩu dài", &h));
        assert!(!verify("mật khẩu dai", &h));
        assert!(!verify("anything", "not a hash"));
        assert_ne!(h, hash("mật khẩu dài"), "salted");
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_new("1234567").is_err());
        assert!(check_new("12345678").is_ok());
    }
}
