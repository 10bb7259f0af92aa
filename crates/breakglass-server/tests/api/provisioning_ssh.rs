//! SSH certificates against a real OpenSSH server (a throwaway `sshd` per test trusting the
//! platform's authority): a certificate signed for a project's tenant logs in with the
//! principals of the holder's roles there; sshd refuses it after the access ends, after an early
//! revocation once the host fetched the revocation list, and on a host of another project. The
//! authority's private key never shows.

use std::time::Duration;

use breakglass_client::api::{CreateTenant, RegisterPlatform, SetMember, UpdatePlatform};

use crate::common::Body;
use crate::provisioning::{member, system_clock, with_platform};
use crate::sshd::Sshd;

fn ssh_platform() -> RegisterPlatform {
    RegisterPlatform {
        identifier: "hosts".into(),
        kind: "ssh".into(),
        name: "Production hosts".into(),
        credential_lifetime: Some("1h".into()),
        ..Default::default()
    }
}

/// The revocation list as a host fetches it: without a credential.
async fn fetch_krl(t: &crate::common::TestApp) -> Vec<u8> {
    let resp = reqwest::get(format!("{}/api/v1/platforms/hosts/ssh/krl", t.url)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    resp.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn a_certificate_logs_in_with_its_roles_principals_until_its_access_ends_or_is_revoked() {
    let (t, admin, dev) = with_platform(&ssh_platform(), "acme", "ledger", system_clock).await;
    let platform = admin.platform("hosts").await.unwrap();
    let setup = platform.ssh.clone().expect("an SSH platform shows how hosts trust it");
    assert!(!platform.provisioned, "the engine has nothing to place on an SSH platform");
    assert_eq!(platform.secret_settings, ["ca_key"], "the authority was made at registration and sealed");
    for line in ["TrustedUserCAKeys ", "AuthorizedPrincipalsFile ", "RevokedKeys "] {
        assert!(setup.sshd_config.contains(line), "{line} in {}", setup.sshd_config);
    }
    assert_eq!(platform.mapping["admin"], "{tenant}-admin");
    let Some(sshd) = Sshd::start("certs", &setup.ca_public_key) else { return };
    sshd.allow(&["ledger-user", "ledger-admin"]);
    sshd.set_krl(&fetch_krl(&t).await);
    let (key, public) = sshd.user_key("dev");

    // No access: nothing signed (the workspace is not even visible).
    let refused = dev.sign_ssh_key("acme", "web", "hosts", &public).await.unwrap_err();
    assert_eq!(refused.status(), Some(404), "{refused}");

    admin
        .set_project_member("acme", "web", "dev@example.com", &member("user"))
        .await
        .unwrap()
        .expect_binding();
    let cert = dev.sign_ssh_key("acme", "web", "hosts", &public).await.unwrap();
    assert_eq!(
        (cert.principals.clone(), cert.roles.clone()),
        (vec!["ledger-user".to_owned()], vec!["user".to_owned()])
    );
    assert!(cert.certificate.starts_with("ssh-ed25519-cert-v01@openssh.com "), "{}", cert.certificate);
    assert!(sshd.logs_in(&key, &cert.certificate), "the certificate logs in: {}", sshd.log());
    assert!(sshd.log().contains(&format!("serial {}", cert.serial)), "sshd logs the serial");
    let issued = t.events_of("SSH_CERTIFICATE_ISSUED").await;
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].details["serial"], cert.serial.as_str());
    assert_eq!(issued[0].details["fingerprint"], cert.fingerprint.as_str());

    // Another project's hosts: its principals are not the ones this host lets in.
    t.project("acme", "billing").await;
    let tenant = CreateTenant { platform: "hosts".into(), external_id: "billing".into() };
    admin.create_tenant("acme", "billing", &tenant).await.unwrap();
    admin
        .set_project_member("acme", "billing", "dev@example.com", &member("admin"))
        .await
        .unwrap()
        .expect_binding();
    let other = dev.sign_ssh_key("acme", "billing", "hosts", &public).await.unwrap();
    assert_eq!(other.principals, ["billing-admin"]);
    assert!(!sshd.logs_in(&key, &other.certificate), "the wrong project's principals are refused");

    // Early revocation: the access ends; hosts refuse the certificate once they fetch the list.
    admin.remove_project_member("acme", "web", "dev@example.com").await.unwrap();
    assert!(sshd.logs_in(&key, &cert.certificate), "until the host fetches the list, sshd cannot know");
    let krl = fetch_krl(&t).await;
    sshd.set_krl(&krl);
    assert!(!sshd.logs_in(&key, &cert.certificate), "revoked and refused: {}", sshd.log());
    let shown = admin.platform("hosts").await.unwrap().ssh.unwrap();
    assert_eq!((shown.certificates_valid, shown.certificates_revoked), (2, 1));
    // The revocation is recorded for good: access given back does not revive the certificate.
    crate::provisioning::eventually("the revocation is recorded", || async {
        !t.events_of("SSH_CERTIFICATE_REVOKED").await.is_empty()
    })
    .await;
    admin
        .set_project_member("acme", "web", "dev@example.com", &member("user"))
        .await
        .unwrap()
        .expect_binding();
    sshd.set_krl(&fetch_krl(&t).await);
    assert!(!sshd.logs_in(&key, &cert.certificate), "still refused once access is back");
    admin.remove_project_member("acme", "web", "dev@example.com").await.unwrap();

    // Expiry: a temporary role's certificate ends with it, and sshd refuses it by itself.
    let temporary = SetMember { role: "user".into(), expires_in: Some("3s".into()), ..Default::default() };
    admin.set_project_member("acme", "web", "dev@example.com", &temporary).await.unwrap().expect_binding();
    let short = dev.sign_ssh_key("acme", "web", "hosts", &public).await.unwrap();
    let ends = chrono_like(&short.expires_at);
    assert!(ends - now_secs() <= 3, "it ends with the access: {}", short.expires_at);
    assert!(sshd.logs_in(&key, &short.certificate), "valid until then: {}", sshd.log());
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!sshd.logs_in(&key, &short.certificate), "expired and refused with no one acting");
    // Expired certificates leave the list: sshd refuses them anyway.
    assert!(fetch_krl(&t).await.len() <= krl.len());
    t.stop().await;
}

/// Seconds since the epoch of an RFC 3339 instant.
fn chrono_like(rfc3339: &str) -> i64 {
    breakglass_core::time::Timestamp::parse_rfc3339(rfc3339).unwrap().as_micros() / 1_000_000
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn bad_keys_other_kinds_and_bad_mappings_are_refused_and_the_list_is_public() {
    let (t, admin, dev) = with_platform(&ssh_platform(), "acme", "ledger", system_clock).await;
    admin
        .set_project_member("acme", "web", "dev@example.com", &member("reader"))
        .await
        .unwrap()
        .expect_binding();
    let before = t.seq().await;
    for bad in ["", "ssh-ed25519 AAAAnot-a-key", "-----BEGIN OPENSSH PRIVATE KEY-----"] {
        let e = dev.sign_ssh_key("acme", "web", "hosts", bad).await.unwrap_err();
        assert_eq!(
            (e.status(), e.problem().map(|p| p.code.as_str())),
            (Some(422), Some("ssh.invalid_public_key"))
        );
    }
    assert_eq!(t.seq().await, before, "nothing signed, nothing recorded");

    // A platform of another kind signs nothing.
    let other = RegisterPlatform {
        identifier: "cloud".into(),
        kind: "aws".into(),
        name: "Cloud".into(),
        ..Default::default()
    };
    admin.register_platform(&other).await.unwrap();
    let tenant = CreateTenant { platform: "cloud".into(), external_id: "1234".into() };
    admin.create_tenant("acme", "web", &tenant).await.unwrap();
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsbPWTl1xyAl4x7YHXFWTgO2Xx6iNoT7MbH8J4UHo2C dev";
    let e = dev.sign_ssh_key("acme", "web", "cloud", key).await.unwrap_err();
    assert_eq!(e.problem().map(|p| p.code.as_str()), Some("platform.not_ssh"), "{e}");
    let cert = dev.sign_ssh_key("acme", "web", "hosts", key).await.unwrap();
    assert_eq!(cert.principals, ["ledger-read"]);

    // The mapping names principals; a bad one is refused when set.
    let change = |m: &str| UpdatePlatform {
        mapping: [("reader".to_owned(), Some(m.to_owned()))].into(),
        ..Default::default()
    };
    let e = admin.update_platform("hosts", &change("bad principal!")).await.unwrap_err();
    assert_eq!(e.problem().map(|p| p.code.as_str()), Some("platform.invalid_mapping"));
    let e = admin.update_platform("hosts", &change("{tenant}-ro ops")).await.unwrap_err();
    assert!(e.to_string().contains("'ops' names no tenant"), "{e}");
    admin.update_platform("hosts", &change("{tenant}-ro {tenant}-ops")).await.unwrap();
    let cert = dev.sign_ssh_key("acme", "web", "hosts", key).await.unwrap();
    assert_eq!(cert.principals, ["ledger-ops", "ledger-ro"]);

    // Principals one tenant shares with another are refused: a certificate opens one group.
    let admin_is_tenant = UpdatePlatform {
        mapping: [("admin".to_owned(), Some("{tenant}".to_owned()))].into(),
        ..Default::default()
    };
    admin.update_platform("hosts", &admin_is_tenant).await.unwrap();
    t.project("acme", "squat").await;
    let squat = CreateTenant { platform: "hosts".into(), external_id: "ledger-ro".into() };
    admin.create_tenant("acme", "squat", &squat).await.unwrap();
    let e = dev.sign_ssh_key("acme", "web", "hosts", key).await.unwrap_err();
    assert_eq!(e.problem().map(|p| p.code.as_str()), Some("ssh.shared_principal"), "{e}");

    // The authority cannot change while certificates it signed are valid.
    let rotate = UpdatePlatform { settings: [("ca_key".to_owned(), None)].into(), ..Default::default() };
    let e = admin.update_platform("hosts", &rotate).await.unwrap_err();
    assert_eq!(e.problem().map(|p| p.code.as_str()), Some("ssh.authority_in_use"), "{e}");

    // An authority given at registration must open; the sealed key never shows.
    let bad = RegisterPlatform {
        identifier: "more".into(),
        kind: "ssh".into(),
        name: "More".into(),
        settings: [("ca_key".to_owned(), "not a key".to_owned())].into(),
        ..Default::default()
    };
    let e = admin.register_platform(&bad).await.unwrap_err();
    assert_eq!(e.problem().map(|p| p.code.as_str()), Some("platform.invalid_setting"));
    for event in t.events().await {
        assert!(!event.details.to_string().contains("PRIVATE KEY"), "{}", event.details);
    }
    let shown = t.raw("GET", "/api/v1/platforms/hosts", Some(crate::common::ADMIN_TOKEN), Body::None).await;
    assert!(!shown.text.contains("PRIVATE KEY") && !shown.text.contains("sealed:"), "{}", shown.text);

    // The list needs no credential; an unknown or other platform has none.
    assert_eq!(t.raw("GET", "/api/v1/platforms/hosts/ssh/krl", None, Body::None).await.status, 200);
    for path in
        ["/api/v1/platforms/cloud/ssh/krl", "/api/v1/platforms/nope/ssh/krl", "/api/v1/platforms/NO!/ssh/krl"]
    {
        let r = t.raw("GET", path, None, Body::None).await;
        assert_eq!((r.status, r.body["code"].as_str()), (404, Some("platform.not_found")), "{path}");
    }
    let krl = dev.ssh_krl("hosts").await.unwrap();
    assert!(krl.starts_with(b"SSHKRL\n\0"), "OpenSSH's KRL format");

    // A workspace's manager cannot claim a group of hosts: only admins record SSH tenants.
    admin.set_workspace_member("acme", "dev@example.com", &member("manager")).await.unwrap();
    t.project("acme", "claim").await;
    let claim = CreateTenant { platform: "hosts".into(), external_id: "payments".into() };
    let e = dev.create_tenant("acme", "claim", &claim).await.unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    t.stop().await;
}

#[tokio::test]
async fn the_console_signs_a_key_on_the_projects_page_and_shows_hosts_how_to_trust_it() {
    let (t, admin, _dev) = with_platform(&ssh_platform(), "acme", "ledger", system_clock).await;
    admin
        .set_project_member("acme", "web", "dev@example.com", &member("admin"))
        .await
        .unwrap()
        .expect_binding();
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsbPWTl1xyAl4x7YHXFWTgO2Xx6iNoT7MbH8J4UHo2C dev";
    let mut b = crate::web::Browser::new(&t);
    b.sign_in("dev@example.com").await;
    let page = b.get("/w/acme/p/web").await;
    assert!(
        page.body.contains("Sign my SSH key") && !page.body.contains("Get a credential"),
        "{}",
        page.body
    );
    let path = "/w/acme/p/web/tenants/hosts/ssh-certificates";
    let bad = b.submit(&page, path, &[("public_key", "not a key")]).await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("not an OpenSSH public key") && bad.body.contains("not a key"),
        "kept and explained"
    );
    let signed = b.submit(&page, path, &[("public_key", key)]).await;
    assert_eq!(signed.status, 200, "{}", signed.body);
    assert!(
        signed.body.contains(r#"id="ssh-certificate">ssh-ed25519-cert-v01@openssh.com "#),
        "{}",
        signed.body
    );
    assert!(signed.body.contains("ledger-admin"));
    // The admin area's page shows the CA key and the sshd_config lines.
    let mut a = crate::web::Browser::new(&t);
    t.user_with_role("root@example.com", Some("admin")).await;
    a.sign_in("root@example.com").await;
    let shown = a.get("/admin/platforms/hosts").await;
    for want in ["TrustedUserCAKeys", "RevokedKeys", "ssh-ed25519 ", "1 valid, 0 of them revoked early"] {
        assert!(shown.body.contains(want), "{want} in {}", shown.body);
    }
    assert!(!shown.body.contains("PRIVATE KEY"));
    t.stop().await;
}
