//! A redb storage backend in memory whose bytes outlive the database, so a simulator can
//! "crash" a node (copy the bytes as the last write left them, drop the database) and restart it
//! from exactly that image, the way a real node restarts from its file.

use std::sync::{Arc, RwLock};

use redb::StorageBackend;

type BackendIoError = std::io::Error;

/// Shared, cloneable bytes of one database file.
#[derive(Clone, Debug, Default)]
pub struct MemoryBackend {
    bytes: Arc<RwLock<Vec<u8>>>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend starting from a saved image.
    pub fn from_image(image: Vec<u8>) -> Self {
        MemoryBackend {
            bytes: Arc::new(RwLock::new(image)),
        }
    }

    /// The bytes as the last completed write left them: what a crash at this instant keeps.
    pub fn image(&self) -> Vec<u8> {
        self.bytes.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn guard(&self) -> std::sync::RwLockWriteGuard<'_, Vec<u8>> {
        self.bytes.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl StorageBackend for MemoryBackend {
    fn len(&self) -> Result<u64, BackendIoError> {
        Ok(self.guard().len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendIoError> {
        let bytes = self.guard();
        let start = offset as usize;
        let end = start + out.len();
        if end > bytes.len() {
            return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        }
        out.copy_from_slice(&bytes[start..end]);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), BackendIoError> {
        self.guard().resize(len as usize, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), BackendIoError> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BackendIoError> {
        let mut bytes = self.guard();
        let start = offset as usize;
        let end = start + data.len();
        if end > bytes.len() {
            bytes.resize(end, 0);
        }
        bytes[start..end].copy_from_slice(data);
        Ok(())
    }
}
