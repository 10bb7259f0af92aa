//! Password hashing (argon2id) on a fixed pool of threads, each reusing one memory area for
//! every hash it computes: the memory hashing may hold is `threads × m_cost` (19 MiB each with
//! the default parameters), whatever the number of sign-ins.
//!
//! Why a pool of its own: argon2 needs its whole memory cost at once. Allocated afresh per hash
//! on tokio's blocking threads, each of up to hundreds of threads kept freed 19 MiB areas in
//! its own malloc arena, and a flood of wrong passwords left the process at 850 MB resident.
//! A bounded queue in front refuses work beyond it (503 `auth.busy`) instead of piling it up.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash as Phc, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use axum::http::StatusCode;
use breakglass_core::model::PasswordHash;
use tokio::sync::oneshot;

use crate::error::ApiError;

/// Threads that hash passwords by default.
pub const DEFAULT_THREADS: usize = 2;

/// Hashes that may wait for a thread; beyond, sign-ins are refused for a moment.
const QUEUE: usize = 256;

/// The largest memory cost (in 1 KiB blocks) a stored hash may ask for: four times the
/// default. A hash asking for more is refused rather than allowed to grow the pool's memory.
const MAX_BLOCKS: usize = 4 * Params::DEFAULT_M_COST as usize;

enum Job {
    Hash(String, oneshot::Sender<Result<String, String>>),
    /// A password and the stored hash to check it against (none: a dummy, for the same cost).
    Verify(String, Option<String>, oneshot::Sender<bool>),
}

struct Pool {
    jobs: SyncSender<Job>,
    threads: usize,
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// Starts the pool with `threads` threads (at least 1). Only the first call in a process
/// counts; returns the number of threads in use.
pub fn start(threads: usize) -> usize {
    pool_with(threads).threads
}

fn pool() -> &'static Pool {
    pool_with(DEFAULT_THREADS)
}

fn pool_with(threads: usize) -> &'static Pool {
    POOL.get_or_init(|| {
        let threads = threads.max(1);
        let (jobs, rx) = sync_channel(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads {
            let rx = rx.clone();
            let spawned =
                std::thread::Builder::new().name(format!("password-hash-{n}")).spawn(move || work(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Pool { jobs, threads }
    })
}

/// The bytes of memory the pool may hold at most: `threads × default memory cost`.
pub fn memory_bound() -> usize {
    pool().threads * Params::DEFAULT_M_COST as usize * 1024
}

fn work(rx: &Mutex<Receiver<Job>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        match job {
            Job::Hash(password, reply) => {
                let _ = reply.send(hash(&password, &mut memory));
            }
            Job::Verify(password, stored, reply) => {
                let known = stored.is_some();
                let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
                let _ = reply.send(verify(&password, &stored, &mut memory) && known);
            }
        }
    }
}

/// The blocks for `params`, from the thread's own memory (grown only up to [`MAX_BLOCKS`]).
fn blocks<'m>(memory: &'m mut Vec<Block>, params: &Params) -> Option<&'m mut [Block]> {
    let n = params.block_count();
    if n > MAX_BLOCKS {
        tracing::error!(blocks = n, "a password hash asks for more memory than allowed; refusing it");
        return None;
    }
    if memory.len() < n {
        memory.resize(n, Block::default());
    }
    Some(&mut memory[..n])
}

fn hash(password: &str, memory: &mut Vec<Block>) -> Result<String, String> {
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut OsRng);
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.as_salt().decode_b64(&mut raw_salt).map_err(|e| e.to_string())?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let area = blocks(memory, &params).ok_or("memory cost too high")?;
    argon
        .hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, area)
        .map_err(|e| e.to_string())?;
    let phc = Phc {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

fn verify(password: &str, stored: &str, memory: &mut Vec<Block>) -> bool {
    let mut check = || -> Option<bool> {
        let phc = Phc::new(stored).ok()?;
        let algorithm = Algorithm::try_from(phc.algorithm).ok()?;
        let version = phc.version.map(Version::try_from).transpose().ok()?.unwrap_or_default();
        let params = Params::try_from(&phc).ok()?;
        let expected = phc.hash?;
        let mut raw_salt = [0u8; 64];
        let raw_salt = phc.salt?.decode_b64(&mut raw_salt).ok()?;
        let mut out = vec![0u8; expected.len()];
        let area = blocks(memory, &params)?;
        Argon2::new(algorithm, version, params)
            .hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, area)
            .ok()?;
        // `Output`'s equality is constant-time.
        Some(Output::new(&out).ok()? == expected)
    };
    check().unwrap_or(false)
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "auth.busy",
        "too many sign-ins are being checked at once; try again in a moment",
    )
    .with_retry_after(1)
}

fn submit(job: Job) -> Result<(), ApiError> {
    pool().jobs.try_send(job).map_err(|e| match e {
        TrySendError::Full(_) => busy(),
        TrySendError::Disconnected(_) => {
            tracing::error!("no password hashing thread is running");
            ApiError::internal()
        }
    })
}

/// Hashes a new password.
pub async fn hash_password(password: String) -> Result<PasswordHash, ApiError> {
    let (tx, rx) = oneshot::channel();
    submit(Job::Hash(password, tx))?;
    match rx.await {
        Ok(Ok(phc)) => Ok(PasswordHash(phc)),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "password hashing failed");
            Err(ApiError::internal())
        }
        Err(_) => Err(ApiError::internal()),
    }
}

/// A hash of a random password nobody knows, so that a sign-in for an unknown e-mail costs
/// the same time as one with a wrong password. Made on a hashing thread, the first time.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut memory = Vec::new();
        hash(&crate::auth::new_secret(""), &mut memory).unwrap_or_default()
    })
}

/// Verifies a password against a stored hash (or against a dummy one when there is none, so
/// that an unknown account costs the same time).
pub async fn verify_password(password: String, stored: Option<PasswordHash>) -> Result<bool, ApiError> {
    let (tx, rx) = oneshot::channel();
    submit(Job::Verify(password, stored.map(|h| h.0), tx))?;
    rx.await.map_err(|_| ApiError::internal())
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_and_reuse_one_memory_area() {
        let mut memory = Vec::new();
        let ours = hash("correct horse battery", &mut memory).unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
        assert_eq!(memory.len(), Params::DEFAULT_M_COST as usize);
        let parsed = Phc::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong", &parsed).is_err());
        // Hashes stored by earlier versions (the crate's own hasher) verify here.
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default().hash_password(b"a long passphrase", &salt).unwrap().to_string();
        assert!(verify("a long passphrase", &theirs, &mut memory));
        assert!(!verify("a long passphrasf", &theirs, &mut memory));
        assert!(!verify("x", "not a hash", &mut memory));
        assert_eq!(memory.len(), Params::DEFAULT_M_COST as usize, "the area was reused, not grown");
    }
}
