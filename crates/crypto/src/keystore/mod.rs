//! Encrypted key files under the data directory: never a plaintext key on disk.
//!
//! One JSON file per account, named `UTC--<unix seconds>--<address>` like geth's, so a geth or
//! ethers keystore directory of `eth` keys can be pointed at directly. Files are written to a
//! temporary name and renamed, with mode 0600, so a crash never leaves half a key file.

mod file;
mod kdf;

use std::{
    fs,
    io::Write as _,
    path::{Path, PathBuf},
};

pub use file::{CipherParams, CryptoSection, KeyFile};
pub use kdf::{KdfParams, ScryptParams};

use crate::{Address, CryptoError, SecretKey, Suite};

/// What can go wrong reading or writing key files.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("wrong password (the key file's integrity check failed)")]
    WrongPassword,
    #[error("malformed key file: {0}")]
    Format(String),
    #[error("no account {0} in the keystore")]
    NotFound(String),
    #[error("account {0} is already in the keystore")]
    AlreadyExists(Address),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// One account found in the keystore directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountEntry {
    pub address: Address,
    pub suite: Suite,
    pub path: PathBuf,
}

/// A directory of key files.
#[derive(Clone, Debug)]
pub struct Keystore {
    dir: PathBuf,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeystoreError + '_ {
    move |source| KeystoreError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Keystore {
    /// Opens (creating, mode 0700) the directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, KeystoreError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(io_err(&dir))?;
        }
        Ok(Keystore { dir })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every readable key file, sorted by address. Files that are not key files are skipped.
    pub fn list(&self) -> Result<Vec<AccountEntry>, KeystoreError> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let path = entry.map_err(io_err(&self.dir))?.path();
            if !path.is_file() || path.extension().is_some_and(|e| e == "tmp") {
                continue;
            }
            if let Ok(file) = read_key_file(&path)
                && let (Ok(Some(address)), Ok(suite)) = (file.address(), file.suite())
            {
                out.push(AccountEntry {
                    address,
                    suite,
                    path,
                });
            }
        }
        out.sort_by(|a, b| a.address.cmp(&b.address).then(a.path.cmp(&b.path)));
        Ok(out)
    }

    /// Finds an account by address (any case, with or without `0x`).
    pub fn find(&self, address: &Address) -> Result<AccountEntry, KeystoreError> {
        self.list()?
            .into_iter()
            .find(|e| e.address == *address)
            .ok_or_else(|| KeystoreError::NotFound(address.to_string()))
    }

    /// Encrypts and stores `key`; refuses a second copy of an account already present.
    pub fn store(
        &self,
        key: &SecretKey,
        password: &[u8],
        cost: ScryptParams,
    ) -> Result<AccountEntry, KeystoreError> {
        let address = key.public_key().address();
        if self.find(&address).is_ok() {
            return Err(KeystoreError::AlreadyExists(address));
        }
        let file = KeyFile::encrypt(key, password, cost)?;
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let path = self
            .dir
            .join(format!("UTC--{seconds}--{}", hex::encode(address.0)));
        write_private(
            &path,
            &serde_json::to_vec_pretty(&file).expect("serialisable"),
        )?;
        Ok(AccountEntry {
            address,
            suite: key.suite(),
            path,
        })
    }

    /// Loads and decrypts the account's key.
    pub fn unlock(&self, address: &Address, password: &[u8]) -> Result<SecretKey, KeystoreError> {
        let entry = self.find(address)?;
        read_key_file(&entry.path)?.decrypt(password)
    }
}

/// Reads and parses one key file (any path, e.g. a geth keystore file).
pub fn read_key_file(path: &Path) -> Result<KeyFile, KeystoreError> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| KeystoreError::Format(format!("{}: {e}", path.display())))
}

/// Writes `bytes` to `path` atomically with owner-only permissions.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeystoreError> {
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mm-keystore-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn store_list_unlock_in_both_suites() {
        let ks = Keystore::open(temp_dir("both")).unwrap();
        for suite in Suite::ALL {
            let key = SecretKey::generate(suite).unwrap();
            let entry = ks.store(&key, b"pw", ScryptParams::LIGHT).unwrap();
            assert_eq!(entry.suite, suite);
            let back = ks.unlock(&entry.address, b"pw").unwrap();
            assert_eq!(*back.to_bytes(), *key.to_bytes());
            assert!(matches!(
                ks.unlock(&entry.address, b"nope"),
                Err(KeystoreError::WrongPassword)
            ));
            assert!(matches!(
                ks.store(&key, b"pw", ScryptParams::LIGHT),
                Err(KeystoreError::AlreadyExists(_))
            ));
            let text = fs::read_to_string(&entry.path).unwrap();
            assert!(!text.contains(&hex::encode(*key.to_bytes())));
        }
        assert_eq!(ks.list().unwrap().len(), 2);
        fs::remove_dir_all(ks.dir()).unwrap();
    }
}
