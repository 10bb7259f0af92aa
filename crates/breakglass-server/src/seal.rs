//! Secret platform settings at rest. They are sealed with ChaCha20-Poly1305 under a 256-bit key
//! kept outside the database: `BREAKGLASS_PLATFORM_KEY` (64 hex digits), or else the file
//! `<data-dir>/platform-key` (mode 0600, created with a fresh key when missing). A database
//! copied without the key holds no usable secret. Each value is bound to its platform and
//! setting as associated data, so a sealed value moved to another place does not open.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// The prefix of a sealed value (the format's version).
const PREFIX: &str = "v1:";
/// The key file in the data directory.
pub const KEY_FILE: &str = "platform-key";

/// Seals and opens secret settings.
pub struct Sealer {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// Why a sealed value does not open.
#[derive(Debug, thiserror::Error)]
#[error("a sealed setting does not open with this installation's platform key (was the key replaced?)")]
pub struct Unsealable;

impl Sealer {
    /// A sealer with this key.
    pub fn new(key: [u8; 32]) -> Self {
        Self { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)) }
    }

    /// The key from `hex` when given, else from `file` (made with a fresh key when missing).
    pub fn load(hex_key: Option<&str>, file: &Path) -> anyhow::Result<Self> {
        if let Some(h) = hex_key {
            let bytes = hex::decode(h.trim()).context("BREAKGLASS_PLATFORM_KEY is not hexadecimal")?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| anyhow::anyhow!("BREAKGLASS_PLATFORM_KEY must be 64 hex digits"))?;
            return Ok(Self::new(key));
        }
        if !file.exists() {
            let mut key = [0u8; 32];
            OsRng.fill_bytes(&mut key);
            crate::write_secret_file(file, &hex::encode(key))?;
            tracing::info!(path = %file.display(), "created the platform key; keep it with the database's backups, apart from them");
        }
        let text =
            std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        Self::load(Some(text.trim()), file)
            .with_context(|| format!("{} holds no platform key", file.display()))
    }

    /// The default key file of a data directory.
    pub fn key_file(data_dir: &Path) -> PathBuf {
        data_dir.join(KEY_FILE)
    }

    /// Seals `value`, the setting `setting` of platform `platform`.
    pub fn seal(&self, platform: &str, setting: &str, value: &str) -> String {
        let mut nonce = [0u8; 12];
        OsRng.fill_bytes(&mut nonce);
        let aad = format!("{platform}/{setting}");
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: value.as_bytes(), aad: aad.as_bytes() })
            .expect("sealing cannot fail for a value this size");
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{PREFIX}{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes))
    }

    /// Opens what [`Sealer::seal`] sealed for the same platform and setting.
    pub fn open(&self, platform: &str, setting: &str, sealed: &str) -> Result<String, Unsealable> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b).ok())
            .filter(|b| b.len() > 12)
            .ok_or(Unsealable)?;
        let aad = format!("{platform}/{setting}");
        let (nonce, body) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: aad.as_bytes() })
            .map_err(|_| Unsealable)?;
        String::from_utf8(plain).map_err(|_| Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_place_and_with_their_key() {
        let s = Sealer::new([7; 32]);
        let sealed = s.seal("pg", "url", "postgres://a:s3cret@h/db");
        assert!(sealed.starts_with("v1:") && !sealed.contains("s3cret"), "{sealed}");
        assert_eq!(s.open("pg", "url", &sealed).unwrap(), "postgres://a:s3cret@h/db");
        assert_ne!(sealed, s.seal("pg", "url", "postgres://a:s3cret@h/db"), "a fresh nonce each time");
        assert!(s.open("pg2", "url", &sealed).is_err(), "bound to its platform");
        assert!(s.open("pg", "password", &sealed).is_err(), "bound to its setting");
        assert!(Sealer::new([8; 32]).open("pg", "url", &sealed).is_err(), "another key opens nothing");
        assert!(s.open("pg", "url", "v1:AAAA").is_err());
    }

    #[test]
    fn the_key_file_is_made_once_and_kept_private() {
        let dir = std::env::temp_dir().join(format!("bg-seal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = Sealer::key_file(&dir);
        let a = Sealer::load(None, &file).unwrap();
        let sealed = a.seal("pg", "url", "x");
        let b = Sealer::load(None, &file).unwrap();
        assert_eq!(b.open("pg", "url", &sealed).unwrap(), "x", "the same key is read back");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(Sealer::load(Some("abcd"), &file).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
