//! The `ssh` kind: a platform's certificate authority signs a user's public key with the
//! principals of their roles, valid from now until their access ends, and writes the key
//! revocation list (OpenSSH's KRL format, `PROTOCOL.krl`) that hosts fetch to refuse
//! certificates revoked early. sshd checks validity and the KRL itself, so expiry needs nobody
//! and the engine has nothing to reconcile. A tenant is a group of hosts; the role mapping
//! names the principals of each project role there, `{tenant}` standing for the tenant's
//! external id. Keys and certificates come from RustCrypto's `ssh-key`; the KRL's few fields
//! are written here, as that crate does not write KRLs.

use std::collections::BTreeMap;

use ssh_key::certificate::{Builder, CertType};
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey};

use crate::{ConnectError, Connector, Kind, SettingSpec};

/// The setting that holds the authority's private key (sealed at rest).
pub const CA_KEY: &str = "ca_key";

const SETTINGS: &[SettingSpec] = &[SettingSpec {
    key: CA_KEY,
    secret: true,
    required: false,
    help: "the certificate authority's private key in OpenSSH's format (made at registration when not given)",
}];

/// Most principals one role maps to.
const MAX_PRINCIPALS: usize = 16;

/// The `ssh` kind.
pub struct SshKind;

impl Kind for SshKind {
    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn default_mapping(&self, role: &str) -> &'static str {
        match role {
            "reader" => "{tenant}-read",
            "user" => "{tenant}-user",
            _ => "{tenant}-admin",
        }
    }

    fn check_mapping(&self, mapping: &str) -> Result<(), String> {
        // A principal without the tenant would be one name on every group of hosts.
        if let Some(w) = mapping
            .split(|c: char| c == ',' || c.is_whitespace())
            .find(|w| !w.is_empty() && !w.contains("{tenant}"))
        {
            return Err(format!(
                "'{}' names no tenant: every principal holds {{tenant}}, so that it means one group of hosts",
                w.chars().take(64).collect::<String>()
            ));
        }
        principals(mapping, "tenant").map(drop)
    }

    fn verifier(&self, _password: &str) -> Option<String> {
        None
    }

    fn provisions(&self) -> bool {
        false
    }

    fn check_setting(&self, key: &str, value: &str) -> Result<(), String> {
        if key == CA_KEY {
            let ca = Authority::from_openssh(value).map_err(|e| format!("setting '{CA_KEY}': {e}"))?;
            if ca.key.is_encrypted() {
                return Err(format!("setting '{CA_KEY}': the key is encrypted; give it without a passphrase (it is sealed here)"));
            }
        }
        Ok(())
    }

    fn generated_settings(&self) -> Result<Vec<(&'static str, String)>, String> {
        let ca = Authority::generate().map_err(|e| e.to_string())?;
        Ok(vec![(CA_KEY, ca.to_openssh().map_err(|e| e.to_string())?)])
    }

    fn connect_line(&self, _: &BTreeMap<String, String>, _: &str, _: &str) -> Option<String> {
        None
    }

    fn connect_in(
        &self,
        _platform: &str,
        _settings: &BTreeMap<String, String>,
        _env: &crate::Env,
    ) -> Result<Box<dyn Connector>, ConnectError> {
        Err(ConnectError::Invalid(
            "an SSH platform has nothing to reconcile: hosts check certificates".into(),
        ))
    }
}

/// The principals a role's mapping gives on the tenant `external_id`: its words (separated by
/// spaces or commas) with `{tenant}` replaced. Each is 1 to 64 letters, digits or `._@+-`, so
/// that it is one line of an `AuthorizedPrincipalsFile`.
pub fn principals(mapping: &str, external_id: &str) -> Result<Vec<String>, String> {
    let out: Vec<String> = mapping
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .map(|w| w.replace("{tenant}", external_id))
        .collect();
    if out.is_empty() || out.len() > MAX_PRINCIPALS {
        return Err(format!("name 1 to {MAX_PRINCIPALS} principals, separated by spaces or commas"));
    }
    for p in &out {
        let ok = (1..=64).contains(&p.len())
            && p.bytes().all(|c| c.is_ascii_alphanumeric() || b"._@+-".contains(&c));
        if !ok {
            return Err(format!(
                "'{}' is not a principal: use 1 to 64 letters, digits or ._@+- ({{tenant}} stands for the tenant)",
                p.chars().take(64).collect::<String>()
            ));
        }
    }
    Ok(out)
}

/// The SHA-256 fingerprint of an OpenSSH public key line (`SHA256:...`, as `ssh-keygen -l`
/// prints it); an error when the line is not a public key, or one too weak to sign (DSA,
/// RSA under 2048 bits, a key type OpenSSH does not know).
pub fn fingerprint(public_key: &str) -> Result<String, SshError> {
    let key =
        PublicKey::from_openssh(public_key.trim()).map_err(|e| SshError::BadPublicKey(e.to_string()))?;
    let data = key.key_data();
    let rsa_bits = data.rsa().and_then(|k| k.n.as_positive_bytes()).map_or(0, |n| n.len() * 8);
    if data.is_dsa() || data.is_other() || (data.is_rsa() && rsa_bits < 2048) {
        return Err(SshError::BadPublicKey(format!(
            "{} keys {}are not signed: use Ed25519, ECDSA or RSA of 2048 bits or more",
            data.algorithm(),
            if data.is_rsa() { "under 2048 bits " } else { "" }
        )));
    }
    Ok(key.fingerprint(HashAlg::Sha256).to_string())
}

/// `SSHKRL\n\0`.
const KRL_MAGIC: u64 = 0x5353_484b_524c_0a00;
const KRL_FORMAT_VERSION: u32 = 1;
const KRL_SECTION_CERTIFICATES: u8 = 1;
const KRL_SECTION_CERT_SERIAL_LIST: u8 = 0x20;
const KRL_SECTION_CERT_KEY_ID: u8 = 0x23;

/// Why a key or certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The public key given is not one OpenSSH writes (`ssh-ed25519 AAAA...`).
    #[error("not an OpenSSH public key: {0}")]
    BadPublicKey(String),
    /// The stored authority key does not open.
    #[error("the certificate authority's key does not open: {0}")]
    BadAuthority(String),
    /// Signing failed.
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// A platform's certificate authority.
pub struct Authority {
    key: PrivateKey,
}

/// A certificate to issue.
#[derive(Clone, Debug)]
pub struct CertificateSpec<'a> {
    /// The user's public key, as an `authorized_keys` line.
    pub public_key: &'a str,
    /// The principals (login names on the hosts) it is valid for.
    pub principals: &'a [String],
    /// Valid from (Unix seconds).
    pub valid_after: u64,
    /// Valid until (Unix seconds, exclusive).
    pub valid_before: u64,
    /// Its serial, unique per authority (the KRL names it).
    pub serial: u64,
    /// Its key id, shown in sshd's log (and also revocable by it).
    pub key_id: &'a str,
}

impl Authority {
    /// A new authority with a fresh Ed25519 key.
    pub fn generate() -> Result<Self, SshError> {
        let key =
            PrivateKey::random(&mut OsRng, Algorithm::Ed25519).map_err(|e| SshError::Sign(e.to_string()))?;
        Ok(Self { key })
    }

    /// The authority from its private key in OpenSSH's format (as [`Authority::to_openssh`]
    /// writes it, to be sealed at rest).
    pub fn from_openssh(pem: &str) -> Result<Self, SshError> {
        let key = PrivateKey::from_openssh(pem).map_err(|e| SshError::BadAuthority(e.to_string()))?;
        Ok(Self { key })
    }

    /// Its private key in OpenSSH's format: a secret.
    pub fn to_openssh(&self) -> Result<String, SshError> {
        Ok(self.key.to_openssh(LineEnding::LF).map_err(|e| SshError::Sign(e.to_string()))?.to_string())
    }

    /// Its public key as a line for `TrustedUserCAKeys`.
    pub fn public_line(&self, comment: &str) -> String {
        let mut public = self.key.public_key().clone();
        public.set_comment(comment);
        public.to_openssh().unwrap_or_default()
    }

    /// Signs a user certificate; its `authorized_keys`-style line.
    pub fn sign(&self, spec: &CertificateSpec<'_>) -> Result<String, SshError> {
        let subject = PublicKey::from_openssh(spec.public_key.trim())
            .map_err(|e| SshError::BadPublicKey(e.to_string()))?;
        let mut b = Builder::new_with_random_nonce(
            &mut OsRng,
            subject.key_data().clone(),
            spec.valid_after,
            spec.valid_before,
        )
        .map_err(|e| SshError::Sign(e.to_string()))?;
        let err = |e: ssh_key::Error| SshError::Sign(e.to_string());
        b.serial(spec.serial).map_err(err)?;
        b.key_id(spec.key_id).map_err(err)?;
        b.cert_type(CertType::User).map_err(err)?;
        for p in spec.principals {
            b.valid_principal(p).map_err(err)?;
        }
        for ext in ["permit-pty", "permit-port-forwarding", "permit-agent-forwarding"] {
            b.extension(ext, "").map_err(err)?;
        }
        let cert = b.sign(&self.key).map_err(err)?;
        cert.to_openssh().map_err(err)
    }

    /// The key revocation list that revokes these serials and key ids of this authority's
    /// certificates, in OpenSSH's binary format. `version` must grow with each change (hosts
    /// may compare it); `generated` is Unix seconds.
    pub fn krl(
        &self,
        serials: &[u64],
        key_ids: &[String],
        version: u64,
        generated: u64,
    ) -> Result<Vec<u8>, SshError> {
        let mut out = Vec::new();
        out.extend(KRL_MAGIC.to_be_bytes());
        out.extend(KRL_FORMAT_VERSION.to_be_bytes());
        out.extend(version.to_be_bytes());
        out.extend(generated.to_be_bytes());
        out.extend(0u64.to_be_bytes()); // flags
        string(&mut out, b""); // reserved
        string(&mut out, b"breakglass"); // comment
        let mut section = Vec::new();
        // An empty key here would read as "any authority".
        let ca = self.key.public_key().to_bytes().map_err(|e| SshError::BadAuthority(e.to_string()))?;
        string(&mut section, &ca);
        string(&mut section, b""); // reserved
        if !serials.is_empty() {
            let mut sorted = serials.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            let list: Vec<u8> = sorted.iter().flat_map(|s| s.to_be_bytes()).collect();
            section.push(KRL_SECTION_CERT_SERIAL_LIST);
            string(&mut section, &list);
        }
        if !key_ids.is_empty() {
            let mut ids = Vec::new();
            for id in key_ids {
                string(&mut ids, id.as_bytes());
            }
            section.push(KRL_SECTION_CERT_KEY_ID);
            string(&mut section, &ids);
        }
        out.push(KRL_SECTION_CERTIFICATES);
        string(&mut out, &section);
        Ok(out)
    }
}

/// An SSH wire string: its length (32 bits, big-endian) and its bytes.
fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend(u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend(bytes);
}

/// The `sshd_config` lines a host needs: trust the authority, map principals, fetch the KRL.
pub fn sshd_config(ca_file: &str, principals_file: &str, krl_file: &str) -> String {
    format!(
        "TrustedUserCAKeys {ca_file}\nAuthorizedPrincipalsFile {principals_file}\nRevokedKeys {krl_file}\n"
    )
}
