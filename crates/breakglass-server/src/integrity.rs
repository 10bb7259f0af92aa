//! Anchors of the audit chain's head outside the events table, so that deleting (or replacing)
//! the newest events is noticed even by someone who can rewrite the table and recompute every
//! hash after it:
//!
//! - the change log: every commit writes a change-log row at the sequence it reached, so a
//!   change log that reaches past the events' head means events were deleted;
//! - signed checkpoints: every second (when the head moved) the server appends the head's
//!   sequence and hash, signed with an Ed25519 key kept outside the database, to a file an
//!   operator ships off the machine. A head behind the last checkpoint, or an event at its
//!   sequence with another hash, means the log was truncated or rewritten.
//!
//! A server that finds such a thing at start-up (or sees the head go back while it runs)
//! refuses every write, says why in `/healthz`, and `audit verify` names the truncation.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use breakglass_api::Checkpoint;
use breakglass_core::audit::ChainHead;
use breakglass_core::time::Timestamp;
use breakglass_store::{Store, StoreError};
use ed25519_dalek::{Signer, SigningKey};

/// The checkpoints file in the data directory, by default.
pub const CHECKPOINTS_FILE: &str = "audit-checkpoints.jsonl";
/// The signing key's file in the data directory, by default (32 bytes of seed, hex, mode 0600).
pub const KEY_FILE: &str = "checkpoint-key";

/// Where the signing key comes from and where checkpoints go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The checkpoints file (appended to; created when missing).
    pub file: PathBuf,
    /// The key file, created with a new key when missing (unless `key_hex` is given).
    pub key_file: PathBuf,
    /// The key's seed in hex (`BREAKGLASS_CHECKPOINT_KEY`), instead of the key file.
    pub key_hex: Option<String>,
}

impl Config {
    /// The defaults in `data_dir`.
    pub fn in_dir(data_dir: &Path) -> Self {
        Self { file: data_dir.join(CHECKPOINTS_FILE), key_file: data_dir.join(KEY_FILE), key_hex: None }
    }
}

/// Signs and appends checkpoints.
pub struct Checkpoints {
    key: SigningKey,
    file: PathBuf,
    /// The last checkpoint written or found (with this key).
    last: Mutex<Option<Checkpoint>>,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoints").field("file", &self.file).field("key", &self.public_key()).finish()
    }
}

/// What the file held when it was opened.
#[derive(Debug, Default)]
pub struct Found {
    /// The key came from its file, which existed already (not generated now, not from the
    /// environment): its checkpoints file must exist too.
    pub key_existed: bool,
    /// The checkpoints file does not exist.
    pub file_missing: bool,
    /// The last checkpoint signed by this server's key, if any.
    pub last: Option<Checkpoint>,
    /// Something that makes the anchor itself untrustworthy (a checkpoint signed by another key,
    /// a line that does not verify): a reason to refuse writes.
    pub problem: Option<String>,
}

impl Checkpoints {
    /// Loads (or creates) the key and reads the last checkpoint of the file.
    pub fn open(config: &Config) -> anyhow::Result<(Self, Found)> {
        let (seed, key_existed) = match &config.key_hex {
            Some(h) => (parse_seed(h).context("BREAKGLASS_CHECKPOINT_KEY")?, false),
            None => load_or_create_key(&config.key_file)?,
        };
        let key = SigningKey::from_bytes(&seed);
        let this = Self { key, file: config.file.clone(), last: Mutex::new(None) };
        if config.key_hex.is_none() && !key_existed && !this.file.exists() {
            // Created with its key, so that a missing file later means one was removed.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&this.file)
                .with_context(|| format!("cannot create {}", this.file.display()))?;
        }
        let mut found = this.read_last()?;
        found.key_existed = key_existed;
        found.file_missing = !this.file.exists();
        *this.last.lock().unwrap_or_else(|p| p.into_inner()) = found.last.clone();
        Ok((this, found))
    }

    /// The public key checkpoints are signed with (hex).
    pub fn public_key(&self) -> String {
        hex::encode(self.key.verifying_key().as_bytes())
    }

    /// The checkpoints file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The last checkpoint written or found.
    pub fn last(&self) -> Option<Checkpoint> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn read_last(&self) -> anyhow::Result<Found> {
        let text = match read_tail(&self.file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.file.display())),
        };
        // A crash while appending leaves at most a partial last line: skip it.
        let Some(line) = text.lines().rev().find(|l| l.starts_with('{') && l.ends_with('}')) else {
            return Ok(Found::default());
        };
        let mine = self.public_key();
        let checkpoint = match serde_json::from_str::<Checkpoint>(line) {
            Ok(c) => c,
            Err(e) => {
                return Ok(Found {
                    last: None,
                    problem: Some(format!(
                        "the last line of {} is not a checkpoint: {e}",
                        self.file.display()
                    )),
                    ..Found::default()
                })
            }
        };
        let problem = match checkpoint.verify() {
            Err(why) => {
                Some(format!("the last checkpoint in {} does not verify: {why}", self.file.display()))
            }
            Ok(()) if checkpoint.key != mine => Some(format!(
                "the last checkpoint in {} was signed by another key ({}), not this server's ({mine}): the \
                 key was replaced or the file belongs to another server",
                self.file.display(),
                checkpoint.key
            )),
            Ok(()) => None,
        };
        Ok(Found { last: problem.is_none().then_some(checkpoint), problem, ..Found::default() })
    }

    /// Signs `head` at `at` and appends it to the file (one line, flushed to disk).
    pub fn write(&self, head: ChainHead, at: Timestamp) -> std::io::Result<Checkpoint> {
        let hash = hex::encode(head.hash);
        let at = at.to_rfc3339();
        let sig = self.key.sign(&Checkpoint::message(head.seq, &hash, &at));
        let checkpoint =
            Checkpoint { seq: head.seq, hash, at, key: self.public_key(), sig: hex::encode(sig.to_bytes()) };
        let mut line = serde_json::to_string(&checkpoint).map_err(std::io::Error::other)?;
        line.push('\n');
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.file)?;
        f.write_all(line.as_bytes())?;
        f.sync_data()?;
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(checkpoint.clone());
        Ok(checkpoint)
    }
}

/// The end of a file (the last 8 KiB, whole lines of it): the file grows by a line a second.
fn read_tail(path: &Path) -> std::io::Result<String> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let from = len.saturating_sub(8 * 1024);
    f.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    // Past a partial first line when reading from the middle.
    let start =
        if from > 0 { bytes.iter().position(|b| *b == b'\n').map_or(bytes.len(), |i| i + 1) } else { 0 };
    Ok(String::from_utf8_lossy(&bytes[start..]).into_owned())
}

fn parse_seed(h: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(h.trim()).context("not hex")?;
    bytes.try_into().map_err(|_| anyhow::anyhow!("an Ed25519 key seed is 32 bytes (64 hex digits)"))
}

/// Reads the key (and says it existed), or creates one when there is none yet. A missing key
/// next to existing checkpoints is created anew too: the checkpoints then fail to match it,
/// which refuses writes.
fn load_or_create_key(path: &Path) -> anyhow::Result<([u8; 32], bool)> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let seed =
                parse_seed(&text).with_context(|| format!("the checkpoint key in {}", path.display()))?;
            Ok((seed, true))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            OsRng.fill_bytes(&mut seed);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            crate::write_secret_file(path, &hex::encode(seed))?;
            tracing::info!(path = %path.display(), "created the audit checkpoint signing key");
            Ok((seed, false))
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// A disagreement between the stored chain and one of its anchors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The first sequence affected.
    pub seq: i64,
    /// What is wrong, in words that name a truncation as such.
    pub reason: String,
}

/// Compares the stored chain's head with the change log and with `checkpoint` (taken before
/// the call). The anchors are read before the head: a commit made meanwhile is then in the head
/// whenever it is in an anchor, so writes going on never look like a truncation.
pub async fn check(
    store: &dyn Store,
    checkpoint: Option<&Checkpoint>,
) -> Result<Option<Finding>, StoreError> {
    let logged = store.change_log_head().await?;
    let head = store.head().await?;
    if logged > head.seq {
        return Ok(Some(Finding {
            seq: head.seq + 1,
            reason: format!(
                "the audit log was truncated: it ends at seq {} but the change log records commits up to \
                 seq {logged}, so events {}–{logged} were deleted",
                head.seq,
                head.seq + 1
            ),
        }));
    }
    let Some(cp) = checkpoint else { return Ok(None) };
    if cp.seq > head.seq {
        return Ok(Some(Finding {
            seq: head.seq + 1,
            reason: format!(
                "the audit log was truncated: it ends at seq {} but the signed checkpoint of {} records seq {}, \
                 so events {}–{} were deleted",
                head.seq,
                cp.at,
                cp.seq,
                head.seq + 1,
                cp.seq
            ),
        }));
    }
    if cp.seq > 0 {
        let stored = store.stored_events_after(cp.seq - 1, 1).await?;
        let hash = stored.first().filter(|e| e.seq == cp.seq).map(|e| hex::encode(e.hash));
        if hash.as_deref() != Some(cp.hash.as_str()) {
            return Ok(Some(Finding {
                seq: cp.seq,
                reason: format!(
                    "the audit log was rewritten: event {} differs from the one the signed checkpoint of {} records",
                    cp.seq, cp.at
                ),
            }));
        }
    }
    Ok(None)
}
