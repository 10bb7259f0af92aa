//! `ssh`: have your public key signed by an SSH platform's authority for a project's hosts
//! (a certificate with the principals of your roles there, valid until that access ends), and
//! fetch a platform's key revocation list for hosts.

use std::path::{Path, PathBuf};

use breakglass_api::SshCertificate;
use clap::Subcommand;

use crate::commands::tenant::TenantRef;
use crate::commands::{Ctx, Done, Fail, Result, Status};
use crate::render::fields;

/// `ssh` verbs.
#[derive(Debug, Subcommand)]
pub enum SshCommand {
    /// Sign your SSH public key for a project's hosts: the certificate carries the principals
    /// of your roles there and ends with the first of those accesses (at most the platform's
    /// lifetime). It is written beside the key as KEY-cert.pub, where ssh finds it.
    #[command(
        after_help = "Examples:\n  breakglass ssh sign --workspace acme --project ledger --platform hosts\n  \
                            breakglass ssh sign --workspace acme --project ledger --platform hosts \
                            --public-key ~/.ssh/work.pub --out -"
    )]
    Sign {
        /// The tenant: project and platform.
        #[command(flatten)]
        tenant: TenantRef,
        /// The public key to sign (default: ~/.ssh/id_ed25519.pub, id_ecdsa.pub or id_rsa.pub,
        /// the first that exists).
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// Where to write the certificate (`-`: standard output; default: beside the key).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write an SSH platform's key revocation list (OpenSSH's format) to standard output, for a
    /// host's `RevokedKeys` file. Needs no credential.
    #[command(
        after_help = "Example: breakglass ssh krl --platform hosts > /etc/ssh/breakglass-hosts.krl.new"
    )]
    Krl {
        /// Platform identifier.
        #[arg(long, value_name = "PLATFORM")]
        platform: String,
    },
}

/// Runs an `ssh` command.
pub async fn run(ctx: &Ctx, cmd: SshCommand) -> Result<Done> {
    match cmd {
        SshCommand::Sign { tenant: t, public_key, out } => {
            let key_file = match public_key {
                Some(f) => f,
                None => default_key().ok_or_else(|| {
                    Fail::Usage(
                        "no public key in ~/.ssh (id_ed25519.pub, id_ecdsa.pub, id_rsa.pub): make one with \
                         ssh-keygen -t ed25519, or pass --public-key FILE"
                            .into(),
                    )
                })?,
            };
            let public = std::fs::read_to_string(&key_file)
                .map_err(|e| Fail::Usage(format!("cannot read {}: {e}", key_file.display())))?;
            // Never send a private key to the server, even by mistake.
            if public.contains("PRIVATE KEY") {
                return Err(Fail::Usage(format!(
                    "{} is a private key: pass the public one (the .pub file beside it)",
                    key_file.display()
                )));
            }
            let (ws, p) = (&t.project.workspace, &t.project.project);
            let cert = ctx.client.sign_ssh_key(ws, p, &t.platform, &public).await?;
            let target = out.unwrap_or_else(|| cert_path(&key_file));
            if target == Path::new("-") {
                let mut text = cert.certificate.clone();
                text.push('\n');
                return Ok(Done { out: text.into_bytes(), status: Status::Success });
            }
            std::fs::write(&target, format!("{}\n", cert.certificate))
                .map_err(|e| Fail::Usage(format!("cannot write {}: {e}", target.display())))?;
            Ok(ctx.show(&cert, |c| signed_text(c, &target, &key_file)))
        }
        SshCommand::Krl { platform } => {
            let krl = ctx.client.ssh_krl(&platform).await?;
            Ok(Done { out: krl, status: Status::Success })
        }
    }
}

/// The first usual public key in `~/.ssh` that exists.
fn default_key() -> Option<PathBuf> {
    let home = PathBuf::from(std::env::var_os("HOME")?);
    ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"]
        .into_iter()
        .map(|name| home.join(".ssh").join(name))
        .find(|p| p.is_file())
}

/// Where ssh looks for the certificate of a key: `KEY-cert.pub` beside the private key.
fn cert_path(public_key: &Path) -> PathBuf {
    let name = public_key.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".pub").unwrap_or(&name);
    public_key.with_file_name(format!("{stem}-cert.pub"))
}

/// A signed certificate: what it carries, until when, where it went and how to use it.
fn signed_text(c: &SshCertificate, written: &Path, key: &Path) -> String {
    let mut out = fields(&[
        ("platform", c.platform.clone()),
        ("tenant", format!("{}/{} (hosts: {})", c.workspace, c.project, c.external_id)),
        ("principals", c.principals.join(", ")),
        ("roles", c.roles.join(", ")),
        ("serial", c.serial.clone()),
        ("expires", c.expires_at.clone()),
        ("certificate", written.display().to_string()),
    ]);
    let private = key.with_extension("");
    out.push_str(&format!(
        "\nHosts that trust the platform accept it until {} (they refuse it after that by \
         themselves):\n\n    ssh -i {} LOGIN@HOST\n",
        c.expires_at,
        private.display()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_goes_where_ssh_looks_for_it() {
        assert_eq!(cert_path(Path::new("/h/.ssh/id_ed25519.pub")), Path::new("/h/.ssh/id_ed25519-cert.pub"));
        assert_eq!(cert_path(Path::new("work")), Path::new("work-cert.pub"));
    }
}
