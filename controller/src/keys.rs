//! The controller's signing keys: the current one (`controller.key`) that signs plans and
//! acks, and during a rotation the next one (`controller.next.key`), announced in every plan
//! until it takes over.
//!
//! Rotation in two steps, without visiting the villages: `begin` makes the next key and plans
//! announce it (signed by the current key, which nodes trust); once the nodes have seen it
//! (their state lists it), `commit` makes it the current key, and plans signed by it make the
//! nodes drop the old one. The old key is kept as `controller.key.retired-{time}`.

use ed25519_dalek::SigningKey;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

pub struct Keys {
    dir: PathBuf,
    pair: RwLock<Pair>,
}

#[derive(Clone)]
struct Pair {
    current: SigningKey,
    next: Option<SigningKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("no key rotation has begun")]
    NoRotation,
}

impl Keys {
    /// Loads the keys from `data_dir`, creating the current one (mode 0600) on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<Keys, KeyError> {
        let current = match read_key(&data_dir.join(CURRENT))? {
            Some(k) => k,
            None => {
                let k = loa_protocol::generate_key();
                write_key(&data_dir.join(CURRENT), &k)?;
                k
            }
        };
        let next = read_key(&data_dir.join(NEXT))?;
        Ok(Keys {
            dir: data_dir.to_path_buf(),
            pair: RwLock::new(Pair { current, next }),
        })
    }

    /// The key plans and acks are signed with now.
    pub fn current(&self) -> SigningKey {
        self.pair.read().expect("keys lock").current.clone()
    }

    /// The current key's public half, base64: what node configs pin.
    pub fn public(&self) -> String {
        loa_protocol::public_key_b64(&self.pair.read().expect("keys lock").current)
    }

    /// The next key's public half while a rotation is under way.
    pub fn next_public(&self) -> Option<String> {
        let pair = self.pair.read().expect("keys lock");
        pair.next.as_ref().map(loa_protocol::public_key_b64)
    }

    /// Begins a rotation: makes the next key (or keeps the one already made). Returns its
    /// public half.
    pub fn begin(&self) -> Result<String, KeyError> {
        let mut pair = self.pair.write().expect("keys lock");
        if pair.next.is_none() {
            let k = loa_protocol::generate_key();
            write_key(&self.dir.join(NEXT), &k)?;
            pair.next = Some(k);
        }
        Ok(loa_protocol::public_key_b64(
            pair.next.as_ref().expect("just made"),
        ))
    }

    /// Ends a rotation: the next key becomes the current one. Returns its public half.
    pub fn commit(&self) -> Result<String, KeyError> {
        let mut pair = self.pair.write().expect("keys lock");
        let next = pair.next.clone().ok_or(KeyError::NoRotation)?;
        let retired = self.dir.join(format!(
            "{CURRENT}.retired-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        let file_error = |path: &Path, e: std::io::Error| KeyError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        std::fs::rename(self.dir.join(CURRENT), &retired).map_err(|e| file_error(&retired, e))?;
        std::fs::rename(self.dir.join(NEXT), self.dir.join(CURRENT))
            .map_err(|e| file_error(&self.dir.join(CURRENT), e))?;
        *pair = Pair {
            current: next,
            next: None,
        };
        Ok(loa_protocol::public_key_b64(&pair.current))
    }
}

const CURRENT: &str = "controller.key";
const NEXT: &str = "controller.next.key";

pub(crate) fn read_key(path: &Path) -> Result<Option<SigningKey>, KeyError> {
    match std::fs::read_to_string(path) {
        Ok(text) => loa_protocol::signing_key_from_b64(&text)
            .map(Some)
            .map_err(|e| KeyError::File {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(KeyError::File {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
    }
}

pub(crate) fn write_key(path: &Path, key: &SigningKey) -> Result<(), KeyError> {
    let write = || -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(path)?;
        writeln!(f, "{}", loa_protocol::envelope::secret_key_b64(key))?;
        f.sync_all()
    };
    write().map_err(|e| KeyError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let k1 = Keys::load_or_create(dir.path()).unwrap().current();
        let k2 = Keys::load_or_create(dir.path()).unwrap().current();
        assert_eq!(k1.to_bytes(), k2.to_bytes());
    }

    #[test]
    fn a_rotation_announces_then_takes_over_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Keys::load_or_create(dir.path()).unwrap();
        let old = keys.public();
        assert!(matches!(keys.commit(), Err(KeyError::NoRotation)));
        let next = keys.begin().unwrap();
        assert_eq!(
            keys.begin().unwrap(),
            next,
            "begin twice keeps one next key"
        );
        let keys = Keys::load_or_create(dir.path()).unwrap();
        assert_eq!(
            (keys.public(), keys.next_public()),
            (old.clone(), Some(next.clone()))
        );
        assert_eq!(keys.commit().unwrap(), next);
        let keys = Keys::load_or_create(dir.path()).unwrap();
        assert_eq!((keys.public(), keys.next_public()), (next, None));
        let retired = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("controller.key.retired-")
            })
            .count();
        assert_eq!(retired, 1);
    }
}
