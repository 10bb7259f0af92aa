//! SSH certificates and revocation lists read by OpenSSH's own tool: `ssh-keygen -L` shows a
//! certificate's principals, validity, serial and key id as signed; `ssh-keygen -Q` finds a
//! certificate revoked by serial or by key id in the KRL, and not another one.

use std::path::Path;
use std::process::Command;

use breakglass_connect::ssh::{sshd_config, Authority, CertificateSpec};

fn keygen(args: &[&str]) -> Option<(bool, String)> {
    let out = Command::new("ssh-keygen").args(args).output().ok()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Some((out.status.success(), text))
}

fn user_key(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let (ok, text) =
        keygen(&["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path.to_str().unwrap()]).unwrap();
    assert!(ok, "{text}");
    std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap()
}

#[test]
fn certificates_and_revocation_lists_read_as_signed_by_openssh() {
    if Command::new("ssh-keygen").arg("-?").output().is_err() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI needs ssh-keygen (openssh-client)");
        eprintln!("skipped: no ssh-keygen");
        return;
    }
    let dir = std::env::temp_dir().join(format!("bg-ssh-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ca = Authority::generate().unwrap();
    let reopened = Authority::from_openssh(&ca.to_openssh().unwrap()).unwrap();
    assert_eq!(reopened.public_line("x"), ca.public_line("x"), "the sealed form opens to the same key");
    assert!(ca.public_line("breakglass-ca:hosts").starts_with("ssh-ed25519 "));

    let (al, mo) = (user_key(&dir, "al"), user_key(&dir, "mo"));
    let principals = vec!["ledger-read".to_owned(), "ledger-admin".to_owned()];
    let (after, before) = (1_900_000_000, 1_900_003_600);
    let sign = |key: &str, serial, key_id| {
        ca.sign(&CertificateSpec {
            public_key: key,
            principals: &principals,
            valid_after: after,
            valid_before: before,
            serial,
            key_id,
        })
        .unwrap()
    };
    let al_cert = dir.join("al-cert.pub");
    std::fs::write(&al_cert, sign(&al, 41, "bg:al:1")).unwrap();
    let mo_cert = dir.join("mo-cert.pub");
    std::fs::write(&mo_cert, sign(&mo, 42, "bg:mo:1")).unwrap();

    let (ok, shown) = keygen(&["-L", "-f", al_cert.to_str().unwrap()]).unwrap();
    assert!(ok, "{shown}");
    for want in
        ["user certificate", "Serial: 41", "Key ID: \"bg:al:1\"", "ledger-read", "ledger-admin", "permit-pty"]
    {
        assert!(shown.contains(want), "{want} missing from:\n{shown}");
    }
    assert!(!shown.contains("permit-X11-forwarding"), "only the extensions it was given:\n{shown}");
    assert!(ca
        .sign(&CertificateSpec {
            public_key: "not a key",
            principals: &principals,
            valid_after: after,
            valid_before: before,
            serial: 1,
            key_id: "x"
        })
        .is_err());

    let check = |krl: &[u8], cert: &Path| {
        let path = dir.join("krl");
        std::fs::write(&path, krl).unwrap();
        let (ok, text) = keygen(&["-Q", "-f", path.to_str().unwrap(), cert.to_str().unwrap()]).unwrap();
        assert!(
            !text.contains("invalid") && !text.contains("format"),
            "ssh-keygen could not read the KRL: {text}"
        );
        (ok, text)
    };
    // Nothing revoked: both pass.
    let empty = ca.krl(&[], &[], 1, 1_900_000_100).unwrap();
    assert!(check(&empty, &al_cert).0 && check(&empty, &mo_cert).0);
    // By serial: al's is revoked, mo's is not.
    let by_serial = ca.krl(&[41], &[], 2, 1_900_000_200).unwrap();
    let (ok, text) = check(&by_serial, &al_cert);
    assert!(!ok && text.contains("REVOKED"), "{text}");
    assert!(check(&by_serial, &mo_cert).0);
    // By key id.
    let by_id = ca.krl(&[], &["bg:mo:1".to_owned()], 3, 1_900_000_300).unwrap();
    assert!(!check(&by_id, &mo_cert).0);
    assert!(check(&by_id, &al_cert).0);
    // Another authority's list revokes nothing of this one's.
    let other = Authority::generate().unwrap().krl(&[41, 42], &[], 4, 1_900_000_400).unwrap();
    assert!(check(&other, &al_cert).0);

    let config =
        sshd_config("/etc/ssh/breakglass-ca.pub", "/etc/ssh/principals/%u", "/etc/ssh/breakglass.krl");
    assert!(
        config.contains("TrustedUserCAKeys /etc/ssh/breakglass-ca.pub\n") && config.contains("RevokedKeys ")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn principals_come_from_the_mapping_with_the_tenant_filled_in() {
    use breakglass_connect::ssh::principals;
    assert_eq!(principals("{tenant}-read", "ledger").unwrap(), ["ledger-read"]);
    assert_eq!(principals("ops, {tenant}-admin  root", "db").unwrap(), ["ops", "db-admin", "root"]);
    use breakglass_connect::Kind;
    let kind = breakglass_connect::ssh::SshKind;
    assert!(kind.check_mapping("{tenant}-ro {tenant}-ops").is_ok());
    assert!(kind.check_mapping("{tenant}-ro root").unwrap_err().contains("'root' names no tenant"));
    for bad in ["", " , ", "a b\tc,d e f g h i j k l m n o p q", "{tenant}-x"] {
        let tenant = if bad == "{tenant}-x" { "two words" } else { "t" };
        assert!(principals(bad, tenant).is_err(), "{bad:?} on {tenant:?}");
    }
}

#[test]
fn fingerprints_match_openssh_and_weak_keys_are_refused() {
    use breakglass_connect::ssh::fingerprint;
    if Command::new("ssh-keygen").arg("-?").output().is_err() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI needs ssh-keygen (openssh-client)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("bg-ssh-fp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key = user_key(&dir, "fp");
    let (ok, listed) = keygen(&["-l", "-E", "sha256", "-f", dir.join("fp.pub").to_str().unwrap()]).unwrap();
    assert!(ok, "{listed}");
    let fp = fingerprint(&key).unwrap();
    assert!(fp.starts_with("SHA256:") && listed.contains(&fp), "{fp} in {listed}");
    let path = dir.join("weak");
    let (ok, text) =
        keygen(&["-q", "-t", "rsa", "-b", "1024", "-N", "", "-f", path.to_str().unwrap()]).unwrap();
    assert!(ok, "{text}");
    let weak = std::fs::read_to_string(dir.join("weak.pub")).unwrap();
    assert!(fingerprint(&weak).unwrap_err().to_string().contains("2048"));
    assert!(fingerprint("ssh-ed25519 AAAAnot-base64").is_err());
    assert!(fingerprint("").is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
