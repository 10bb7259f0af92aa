//! Desired access on platforms as the core computes it from the model and the time: which
//! bindings become grants, how overlapping ones merge, what a disabled workspace or an ended
//! binding takes away, and the credentials a user may be issued.

mod common;
use common::*;

use breakglass_core::cmd::platforms::{self, NewPlatform, NewServiceUser, NewTenant};
use breakglass_core::cmd::{admin, provision};
use breakglass_core::platform::{ExternalId, PlatformConfig, PlatformKind};
use breakglass_core::provision::{desired, next_change, Desired, Subject};
use breakglass_core::role::ProjectRole;
use breakglass_core::time::Span;

const ADMIN: &str = "admin@corp.io";
const OWNER: &str = "olivia@corp.io";

/// `team()` with a PostgreSQL platform `pg` and a tenant of team-a/web on it.
fn world() -> World {
    let mut w = World::team();
    let new = NewPlatform {
        id: slug("pg"),
        kind: PlatformKind::parse("postgres").unwrap(),
        name: name("Postgres"),
        config: PlatformConfig::default(),
    };
    ok(w.as_user(ADMIN, move |s, c| platforms::register_platform(s, c, new)));
    let new = NewTenant {
        workspace: slug("team-a"),
        project: slug("web"),
        platform: slug("pg"),
        external_id: ExternalId::parse("web_db").unwrap(),
    };
    ok(w.as_user(OWNER, move |s, c| platforms::create_tenant(s, c, new)));
    w
}

fn now_desired(w: &World) -> Desired {
    desired(&w.state, w.state.platform(&slug("pg")).unwrap(), w.now)
}

/// The grants as (account name, role, number of bindings served).
fn grants(w: &World) -> Vec<(String, &'static str, usize)> {
    let d = now_desired(w);
    d.grants
        .iter()
        .map(|g| {
            let account = d.accounts[&g.key.subject].name.clone();
            let role = match g.key.role {
                ProjectRole::Reader => "reader",
                ProjectRole::User => "user",
                ProjectRole::Admin => "admin",
            };
            (account, role, g.bindings.len())
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn g(account: &str, role: &'static str, bindings: usize) -> (String, &'static str, usize) {
    (account.to_owned(), role, bindings)
}

#[test]
fn every_effective_project_binding_is_a_grant_and_overlapping_ones_merge() {
    let mut w = world();
    let web = proj("team-a", "web");
    let start = w.now;
    ok(w.set(OWNER, &web, "alice@corp.io", prole("reader"), None));
    // mo: admin until +1h directly, and a grant of admin until +2h: one grant, two bindings.
    ok(w.set(OWNER, &web, "mo@corp.io", prole("admin"), Some(start.plus(Span::hours(1)))));
    ok(w.grant(OWNER, &web, "mo@corp.io", prole("admin"), start.plus(Span::hours(2))));
    // Workspace roles and other projects' bindings are no access on web's tenant.
    ok(w.set(OWNER, &proj("team-a", "api"), "max@corp.io", prole("admin"), None));
    assert_eq!(grants(&w), [g("bg_alice@corp.io", "reader", 1), g("bg_mo@corp.io", "admin", 2)]);
    let d = now_desired(&w);
    let mo = Subject::User(w.id("mo@corp.io"));
    let merged = d.grants.iter().find(|g| g.key.subject == mo).unwrap();
    assert_eq!(merged.until, Some(start.plus(Span::hours(2))), "the later end counts");
    assert!(d.accounts.values().all(|a| a.login.is_none()), "no credential, no login");
    assert_eq!(
        next_change(&w.state, w.state.platform(&slug("pg")).unwrap(), w.now),
        Some(start.plus(Span::hours(1)))
    );

    // The first end leaves the grant to the second binding; the second end removes it.
    w.set_time(start.plus(Span::hours(1)));
    assert_eq!(grants(&w), [g("bg_alice@corp.io", "reader", 1), g("bg_mo@corp.io", "admin", 1)]);
    w.set_time(start.plus(Span::hours(2)));
    assert_eq!(grants(&w), [g("bg_alice@corp.io", "reader", 1)]);
    assert_eq!(next_change(&w.state, w.state.platform(&slug("pg")).unwrap(), w.now), None);

    // Removing the member removes the access.
    ok(w.remove(OWNER, &web, "alice@corp.io"));
    assert_eq!(grants(&w), []);
}

#[test]
fn a_disabled_workspace_holds_no_access_until_it_is_enabled() {
    let mut w = world();
    let web = proj("team-a", "web");
    ok(w.set(OWNER, &web, "alice@corp.io", prole("user"), None));
    let team_a = slug("team-a");
    ok(w.as_user("emp@corp.io", |s, c| admin::set_workspace_enabled(s, c, &team_a, false, None)));
    assert_eq!(grants(&w), []);
    assert_eq!(now_desired(&w).tenants.len(), 1, "the tenant is still known: its access must go");
    ok(w.as_user("emp@corp.io", |s, c| admin::set_workspace_enabled(s, c, &team_a, true, None)));
    assert_eq!(grants(&w), [g("bg_alice@corp.io", "user", 1)]);
}

#[test]
fn a_service_user_is_a_grant_of_its_role_under_its_client_id() {
    let mut w = world();
    let new = NewServiceUser {
        workspace: slug("team-a"),
        project: slug("web"),
        platform: slug("pg"),
        name: name("deploy"),
        secret_hash: secret_hash("bgu_x"),
        role: ProjectRole::Reader,
        verifier: Some("SCRAM-SHA-256$x".into()),
    };
    let id = ok(w.as_user(OWNER, move |s, c| platforms::create_service_user(s, c, new))).value;
    let d = now_desired(&w);
    let account = &d.accounts[&Subject::Service(id)];
    assert!(account.name.starts_with("svc-"));
    assert_eq!(account.login, Some(("SCRAM-SHA-256$x".to_owned(), None)), "a service user logs in for good");
    assert_eq!(d.grants.len(), 1);
    assert_eq!((d.grants[0].key.role, d.grants[0].until), (ProjectRole::Reader, None));
}

#[test]
fn a_credential_lasts_until_the_access_ends_at_most_its_lifetime_and_opens_a_login() {
    let mut w = world();
    let web = proj("team-a", "web");
    let start = w.now;
    let issue = |w: &mut World, who: &str| {
        w.as_user(who, |s, c| {
            provision::issue_credential(s, c, &slug("team-a"), &slug("web"), &slug("pg"), "verifier".into())
                .map(|(ch, cred, login)| (ch, (cred, login)))
        })
    };
    // No access, no credential: a member of the workspace holds none on its project.
    let Err(err) = issue(&mut w, "max@corp.io") else { panic!("issued without access") };
    assert_eq!(err.code(), "authz.forbidden");
    assert!(err.to_string().contains("no access"), "{err}");

    // Access for 2h: the credential ends with it.
    ok(w.grant(OWNER, &web, "alice@corp.io", prole("user"), start.plus(Span::hours(2))));
    let (cred, login) = ok(issue(&mut w, "alice@corp.io")).value;
    assert_eq!((cred.valid_until, login.as_str()), (start.plus(Span::hours(2)), "bg_alice@corp.io"));
    let alice = Subject::User(w.id("alice@corp.io"));
    assert_eq!(
        now_desired(&w).accounts[&alice].login,
        Some(("verifier".into(), Some(start.plus(Span::hours(2)))))
    );
    let event = w.log.last().unwrap();
    assert_eq!(event.event_type.as_str(), "CREDENTIAL_ISSUED");
    assert!(!event.details.to_string().contains("verifier"), "the verifier is not in the audit log");

    // Standing access: the platform's lifetime (8h by default) bounds it.
    ok(w.set(OWNER, &web, "mo@corp.io", prole("reader"), None));
    let (cred, _) = ok(issue(&mut w, "mo@corp.io")).value;
    assert_eq!(cred.valid_until, start.plus(Span::hours(8)));

    // Once it ends, the login closes; the grant stays while the binding does.
    w.set_time(start.plus(Span::hours(8)));
    let d = now_desired(&w);
    assert_eq!(d.accounts[&Subject::User(w.id("mo@corp.io"))].login, None);
    assert_eq!(d.grants.len(), 1);
}

#[test]
fn platform_configurations_are_checked_and_secrets_are_audited_by_name_only() {
    let mut w = world();
    let mut config = PlatformConfig::new(
        [("host".to_owned(), "db.internal".to_owned())].into(),
        [("password".to_owned(), "sealed:v1:c2VjcmV0".to_owned())].into(),
    );
    let pg = slug("pg");
    let c = config.clone();
    ok(w.as_user(ADMIN, |s, ctx| platforms::configure_platform(s, ctx, &pg, c)));
    let event = w.log.last().unwrap();
    assert_eq!(event.event_type.as_str(), "PLATFORM_CONFIGURED");
    assert!(!event.details.to_string().contains("c2VjcmV0"), "{}", event.details);
    assert_eq!(event.details["secret_settings"], serde_json::json!(["password"]));

    for (bad, code) in [
        ("{local}", "platform.invalid_account_template"),
        (
            "bg_{email}_{email}_{email}_{email}_{email}_{email}_{email}_{email}",
            "platform.invalid_account_template",
        ),
    ] {
        config.account_template = bad.into();
        let c = config.clone();
        let Err(err) = w.as_user(ADMIN, |s, ctx| platforms::configure_platform(s, ctx, &pg, c)) else {
            panic!("{bad} accepted")
        };
        assert_eq!(err.code(), code, "{bad}");
    }
    let c = PlatformConfig::default();
    let Err(err) = w.as_user(OWNER, |s, ctx| platforms::configure_platform(s, ctx, &pg, c)) else {
        panic!("an owner configured a platform")
    };
    assert_eq!(err.code(), "authz.forbidden");
}
