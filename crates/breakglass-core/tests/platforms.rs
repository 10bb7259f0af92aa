//! Scenario tests of platforms, tenants and service users in the core: who may register,
//! create, list and delete what, what a refusal looks like (error kind and code), and what the
//! audit events carry (never a secret's digest). Every scenario ends by verifying its chain.

mod common;
use common::*;

use breakglass_core::audit::{AuditEvent, ChainVerifier};
use breakglass_core::cmd::admin;
use breakglass_core::cmd::platforms::{
    self, NewPlatform, NewServiceUser, NewTenant, MAX_SERVICE_USERS_PER_TENANT,
};
use breakglass_core::model::SecretHash;
use breakglass_core::platform::{ExternalId, PlatformKind, ServiceUserId};
use breakglass_core::role::AdminRole;
use breakglass_core::time::Span;
use breakglass_core::{Change, DomainError};

const ADMIN: &str = "admin@corp.io";
const EMP: &str = "emp@corp.io";
const AUD: &str = "aud@corp.io";
const OWNER: &str = "olivia@corp.io";
const MANAGER: &str = "mia@corp.io";
const MEMBER: &str = "max@corp.io";
/// Assigned to project team-a/web only (no workspace role).
const DEV: &str = "alice@corp.io";
/// Assigned to project team-a/web as a workspace member too.
const DEV2: &str = "mo@corp.io";
/// Belongs nowhere.
const STRANGER: &str = "otto@corp.io";
/// Member of team-b only.
const OTHER: &str = "ben@corp.io";

/// An expected outcome: success, or the error's kind (which decides the HTTP status) and code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Ok,
    Invalid(&'static str),
    NotFound(&'static str),
    Forbidden(&'static str),
    Conflict(&'static str),
    Rule(&'static str),
}

fn want<T>(r: &Result<T, DomainError>) -> Want {
    match r {
        Ok(_) => Want::Ok,
        Err(DomainError::Invalid { code, .. }) => Want::Invalid(code),
        Err(DomainError::NotFound { code, .. }) => Want::NotFound(code),
        Err(DomainError::Forbidden { code, .. }) => Want::Forbidden(code),
        Err(DomainError::Conflict { code, .. }) => Want::Conflict(code),
        Err(DomainError::Rule { code, .. }) => Want::Rule(code),
    }
}

const FORBIDDEN: Want = Want::Forbidden("authz.forbidden");
const INVISIBLE: Want = Want::NotFound("workspace.not_found");

fn digest(n: u8) -> SecretHash {
    SecretHash(std::array::from_fn(|i| n.wrapping_mul(31).wrapping_add(i as u8)))
}

fn hex(h: &SecretHash) -> String {
    h.0.iter().map(|b| format!("{b:02x}")).collect()
}

trait Platforms {
    fn register(&mut self, by: &str, id: &str, kind: &str) -> Result<(), DomainError>;
    fn tenant(
        &mut self,
        by: &str,
        ws: &str,
        p: &str,
        platform: &str,
        external: &str,
    ) -> Result<(), DomainError>;
    fn service_user(
        &mut self,
        by: &str,
        ws: &str,
        p: &str,
        platform: &str,
        name: &str,
        secret: SecretHash,
    ) -> Result<ServiceUserId, DomainError>;
    fn delete(
        &mut self,
        by: &str,
        ws: &str,
        p: &str,
        platform: &str,
        id: ServiceUserId,
    ) -> Result<(), DomainError>;
    fn verify_chain(&self);
    fn last_event(&self) -> &AuditEvent;
}

impl Platforms for World {
    fn register(&mut self, by: &str, id: &str, kind: &str) -> Result<(), DomainError> {
        let new = NewPlatform {
            id: slug(id),
            kind: PlatformKind::parse(kind).unwrap(),
            name: name(&format!("Platform {id}")),
            config: Default::default(),
        };
        self.as_user(by, move |s, c| platforms::register_platform(s, c, new)).map(drop)
    }

    fn tenant(
        &mut self,
        by: &str,
        ws: &str,
        p: &str,
        platform: &str,
        external: &str,
    ) -> Result<(), DomainError> {
        let new = NewTenant {
            workspace: slug(ws),
            project: slug(p),
            platform: slug(platform),
            external_id: ExternalId::parse(external).unwrap(),
        };
        self.as_user(by, move |s, c| platforms::create_tenant(s, c, new)).map(drop)
    }

    fn service_user(
        &mut self,
        by: &str,
        ws: &str,
        p: &str,
        platform: &str,
        label: &str,
        secret_hash: SecretHash,
    ) -> Result<ServiceUserId, DomainError> {
        let new = NewServiceUser {
            workspace: slug(ws),
            project: slug(p),
            platform: slug(platform),
            name: name(label),
            secret_hash,
            role: breakglass_core::role::ProjectRole::User,
            verifier: None,
        };
        self.as_user(by, move |s, c| platforms::create_service_user(s, c, new)).map(|d| d.value)
    }

    fn delete(
        &mut self,
        by: &str,
        ws: &str,
        p: &str,
        platform: &str,
        id: ServiceUserId,
    ) -> Result<(), DomainError> {
        let (ws, p, platform) = (slug(ws), slug(p), slug(platform));
        self.as_user(by, move |s, c| platforms::delete_service_user(s, c, &ws, &p, &platform, id)).map(drop)
    }

    fn verify_chain(&self) {
        let mut v = ChainVerifier::new();
        for e in &self.log {
            v.push(e).unwrap_or_else(|b| panic!("chain broken at {}: {}", b.seq, b.reason));
        }
        assert_eq!(v.finish(self.log.len() as i64).unwrap(), self.state.head());
    }

    fn last_event(&self) -> &AuditEvent {
        self.log.last().expect("an event")
    }
}

/// The team world with platforms `aws` and `k8s`, DEV and DEV2 assigned to team-a/web, and a
/// tenant of team-a/web on aws.
fn world() -> World {
    let mut w = World::team();
    ok(w.set(OWNER, &proj("team-a", "web"), DEV, prole("user"), None));
    ok(w.set(OWNER, &proj("team-a", "web"), DEV2, prole("reader"), None));
    w.register(ADMIN, "aws", "aws").unwrap();
    w.register(ADMIN, "k8s", "kubernetes").unwrap();
    w.tenant(MANAGER, "team-a", "web", "aws", "123456789012").unwrap();
    w
}

#[test]
fn only_admins_register_platforms_and_identifiers_are_unique() {
    let mut w = World::team();
    for who in [EMP, AUD, OWNER, MANAGER, MEMBER, STRANGER] {
        let before = w.log.len();
        assert_eq!(want(&w.register(who, "aws", "aws")), FORBIDDEN, "{who}");
        assert_eq!(w.log.len(), before);
    }
    assert!(w.state.platform(&slug("aws")).is_none());

    w.register(ADMIN, "aws", "aws").unwrap();
    let e = w.last_event().clone();
    assert_eq!((e.event_type.as_str(), e.subject.as_deref()), ("PLATFORM_REGISTERED", Some("aws")));
    assert_eq!((e.actor.as_str(), e.workspace.as_deref()), (ADMIN, None));
    assert_eq!(e.details["kind"], "aws");
    let p = w.state.platform(&slug("aws")).unwrap();
    assert_eq!((p.kind.as_str(), p.name.as_str(), p.created_at), ("aws", "Platform aws", w.now));

    assert_eq!(want(&w.register(ADMIN, "aws", "kubernetes")), Want::Conflict("platform.exists"));
    assert_eq!(w.state.platform(&slug("aws")).unwrap().kind.as_str(), "aws", "unchanged");

    // Anyone signed in lists them; the system too.
    w.register(ADMIN, "db-1", "postgres").unwrap();
    for who in [STRANGER, AUD, MEMBER] {
        let got = w.as_user(who, |s, c| {
            let ids: Vec<String> =
                platforms::list_platforms(s, c)?.iter().map(|p| p.id.to_string()).collect();
            Ok((breakglass_core::Changes::default(), ids))
        });
        assert_eq!(ok(got).value, ["aws", "db-1"], "{who}");
    }
    w.verify_chain();
}

#[test]
fn managers_and_the_admin_area_create_tenants() {
    let mut w = World::team();
    ok(w.set(OWNER, &proj("team-a", "web"), DEV, prole("admin"), None));
    w.register(ADMIN, "aws", "aws").unwrap();
    w.register(ADMIN, "k8s", "kubernetes").unwrap();

    for (who, expected) in [
        (MEMBER, FORBIDDEN),
        (DEV, FORBIDDEN), // a project admin is not a workspace manager
        (AUD, FORBIDDEN),
        (STRANGER, INVISIBLE),
        (OTHER, INVISIBLE),
    ] {
        let before = w.log.len();
        assert_eq!(want(&w.tenant(who, "team-a", "web", "aws", "111")), expected, "{who}");
        assert_eq!(w.log.len(), before, "{who} changed nothing");
    }
    assert_eq!(w.state.tenants().count(), 0);

    w.tenant(MANAGER, "team-a", "web", "aws", "111").unwrap();
    let e = w.last_event().clone();
    assert_eq!(e.event_type, "TENANT_CREATED");
    assert_eq!((e.workspace.as_deref(), e.project.as_deref()), (Some("team-a"), Some("web")));
    assert_eq!((e.subject.as_deref(), e.actor.as_str()), (Some("aws"), MANAGER));
    assert_eq!(e.details["external_id"], "111");
    assert_eq!(e.details["kind"], "aws");
    let t = w.state.tenant(&slug("team-a"), &slug("web"), &slug("aws")).unwrap();
    assert_eq!((t.external_id.as_str(), t.created_by), ("111", Some(w.id(MANAGER))));

    // The owner, an employee and an admin may too.
    w.tenant(OWNER, "team-a", "web", "k8s", "ns-web").unwrap();
    w.tenant(EMP, "team-a", "api", "aws", "222").unwrap();
    w.tenant(ADMIN, "team-b", "db", "k8s", "ns-db").unwrap();
    let platforms_of = |w: &World, p: &str| -> Vec<String> {
        w.state.tenants_of(&slug("team-a"), &slug(p)).map(|t| t.platform.to_string()).collect()
    };
    assert_eq!(platforms_of(&w, "web"), ["aws", "k8s"]);
    assert_eq!(platforms_of(&w, "api"), ["aws"]);

    for (who, ws, p, platform, external, expected) in [
        (MANAGER, "team-a", "web", "aws", "333", Want::Conflict("tenant.exists")),
        (MANAGER, "team-a", "api", "k8s", "ns-web", Want::Conflict("tenant.external_id_taken")),
        (ADMIN, "team-b", "db", "aws", "111", Want::Conflict("tenant.external_id_taken")),
        (MANAGER, "team-a", "web", "gcp", "444", Want::NotFound("platform.not_found")),
        (MANAGER, "team-a", "nope", "aws", "444", Want::NotFound("project.not_found")),
        (MANAGER, "team-b", "db", "aws", "444", INVISIBLE),
        (MANAGER, "team-z", "db", "aws", "444", INVISIBLE),
    ] {
        let before = w.log.len();
        assert_eq!(want(&w.tenant(who, ws, p, platform, external)), expected, "{ws}/{p} on {platform}");
        assert_eq!(w.log.len(), before);
    }
    // The same external id on another platform is another tenant.
    w.tenant(MANAGER, "team-a", "api", "k8s", "111").unwrap();

    // Anyone who sees the project lists its tenants; outsiders get the workspace's 404.
    let list = |w: &mut World, who: &str| {
        w.as_user(who, |s, c| {
            let (ws, p) = (slug("team-a"), slug("web"));
            let v: Vec<String> =
                platforms::list_tenants(s, c, &ws, &p)?.iter().map(|t| t.platform.to_string()).collect();
            Ok((breakglass_core::Changes::default(), v))
        })
        .map(|d| d.value)
    };
    for who in [MEMBER, DEV, AUD, EMP] {
        assert_eq!(list(&mut w, who).unwrap(), ["aws", "k8s"], "{who}");
    }
    assert_eq!(want(&list(&mut w, STRANGER)), INVISIBLE);
    assert_eq!(want(&list(&mut w, OTHER)), INVISIBLE);
    w.verify_chain();
}

#[test]
fn assigned_users_create_service_users_and_only_digests_are_kept() {
    let mut w = world();
    let secret = digest(1);
    let id = w.service_user(DEV, "team-a", "web", "aws", "deploy bot", secret).unwrap();
    let u = w.state.service_user(id).unwrap().clone();
    assert_eq!((u.name.as_str(), u.created_by, u.created_at), ("deploy bot", w.id(DEV), w.now));
    assert_eq!((u.workspace.as_str(), u.project.as_str(), u.platform.as_str()), ("team-a", "web", "aws"));
    assert_eq!(u.secret_hash, secret);
    assert!(u.client_id.starts_with("svc-") && u.client_id.len() == 36, "{}", u.client_id);
    assert_eq!(u.deleted_at, None);
    assert!(!format!("{u:?}").contains(&hex(&secret)), "Debug shows no digest");

    let e = w.last_event().clone();
    assert_eq!(e.event_type, "SERVICE_USER_CREATED");
    assert_eq!((e.workspace.as_deref(), e.project.as_deref()), (Some("team-a"), Some("web")));
    assert_eq!((e.subject.as_deref(), e.actor.as_str()), (Some(u.client_id.as_str()), DEV));
    assert_eq!(e.details["platform"], "aws");
    assert_eq!(e.details["external_id"], "123456789012");
    assert_eq!(e.details["name"], "deploy bot");
    assert_eq!(e.details["created_by"], DEV);
    assert_eq!(e.details["service_user_id"], id.to_string());

    // A reader of the project is assigned too; so are managers, without a project role.
    w.advance(Span::minutes(1));
    let second = w.service_user(DEV2, "team-a", "web", "aws", "reader bot", digest(2)).unwrap();
    w.advance(Span::minutes(1));
    let third = w.service_user(MANAGER, "team-a", "web", "aws", "manager bot", digest(3)).unwrap();
    w.advance(Span::minutes(1));
    let fourth = w.service_user(EMP, "team-a", "web", "aws", "staff bot", digest(4)).unwrap();
    let listed: Vec<ServiceUserId> =
        w.state.service_users_of(&slug("team-a"), &slug("web"), &slug("aws")).iter().map(|u| u.id).collect();
    assert_eq!(listed, [id, second, third, fourth], "oldest first (created in that order)");
    let client_ids: std::collections::BTreeSet<&str> =
        w.state.service_users().map(|u| u.client_id.as_str()).collect();
    assert_eq!(client_ids.len(), 4, "distinct client ids");

    // No event carries a digest.
    let log =
        serde_json::to_string(&w.log.iter().map(|e| (&e.subject, &e.details)).collect::<Vec<_>>()).unwrap();
    for n in 1..=4 {
        assert!(!log.contains(&hex(&digest(n))), "digest {n} in the log");
    }
    w.verify_chain();
}

#[test]
fn service_user_creation_is_refused_to_whoever_is_not_assigned() {
    let mut w = world();
    ok(w.set(OWNER, &proj("team-a", "api"), DEV, prole("admin"), None));
    w.tenant(MANAGER, "team-a", "api", "aws", "999").unwrap();
    ok(w.set(OWNER, &proj("team-a", "api"), AUD, prole("admin"), None));

    for (who, ws, p, platform, expected) in [
        (MEMBER, "team-a", "web", "aws", FORBIDDEN), // workspace member, not on the project
        (AUD, "team-a", "web", "aws", FORBIDDEN),    // auditors change nothing...
        (AUD, "team-a", "api", "aws", FORBIDDEN),    // ...even with a project role
        (DEV2, "team-a", "api", "aws", FORBIDDEN),   // assigned to web, not to api
        (STRANGER, "team-a", "web", "aws", INVISIBLE),
        (OTHER, "team-a", "web", "aws", INVISIBLE),
        (DEV, "team-b", "db", "aws", INVISIBLE),
        (DEV, "team-a", "web", "k8s", Want::NotFound("tenant.not_found")),
        (DEV, "team-a", "web", "gcp", Want::NotFound("tenant.not_found")),
        (DEV, "team-a", "nope", "aws", Want::NotFound("project.not_found")),
    ] {
        let before = w.log.len();
        let r = w.service_user(who, ws, p, platform, "bot", digest(9));
        assert_eq!(want(&r), expected, "{who} on {ws}/{p}/{platform}");
        assert_eq!(w.log.len(), before, "{who} changed nothing");
    }
    assert_eq!(w.state.service_users().count(), 0);

    // A project role that expired no longer counts, whether or not the sweeper ran.
    let until = w.now.plus(Span::hours(1));
    ok(w.set(OWNER, &proj("team-a", "web"), MEMBER, prole("user"), Some(until)));
    w.service_user(MEMBER, "team-a", "web", "aws", "short-lived", digest(10)).unwrap();
    w.advance(Span::hours(1));
    assert_eq!(want(&w.service_user(MEMBER, "team-a", "web", "aws", "too late", digest(11))), FORBIDDEN);

    // Names are unique per tenant among live service users.
    w.service_user(DEV, "team-a", "web", "aws", "ci", digest(12)).unwrap();
    assert_eq!(
        want(&w.service_user(DEV2, "team-a", "web", "aws", "ci", digest(13))),
        Want::Conflict("service_user.exists")
    );
    let api_ci = w.service_user(DEV, "team-a", "api", "aws", "ci", digest(14));
    assert_eq!(want(&api_ci), Want::Ok, "another tenant may reuse the name");
    w.verify_chain();
}

#[test]
fn a_tenant_holds_a_bounded_number_of_service_users() {
    let mut w = world();
    for i in 0..MAX_SERVICE_USERS_PER_TENANT {
        w.service_user(DEV, "team-a", "web", "aws", &format!("bot {i}"), digest(i as u8)).unwrap();
    }
    let r = w.service_user(DEV, "team-a", "web", "aws", "one too many", digest(200));
    assert_eq!(want(&r), Want::Rule("service_user.limit_reached"));
    let first = w.state.service_users_of(&slug("team-a"), &slug("web"), &slug("aws"))[0].id;
    w.delete(DEV, "team-a", "web", "aws", first).unwrap();
    w.service_user(DEV, "team-a", "web", "aws", "one too many", digest(200)).unwrap();
}

#[test]
fn creators_and_managers_delete_service_users_once() {
    let mut w = world();
    let mine = w.service_user(DEV, "team-a", "web", "aws", "mine", digest(1)).unwrap();
    let other = w.service_user(DEV, "team-a", "web", "aws", "other", digest(2)).unwrap();
    let client_id = w.state.service_user(mine).unwrap().client_id.clone();

    for (who, ws, p, platform, expected) in [
        (DEV2, "team-a", "web", "aws", FORBIDDEN), // assigned to the project, but not the creator
        (MEMBER, "team-a", "web", "aws", FORBIDDEN),
        (AUD, "team-a", "web", "aws", FORBIDDEN),
        (STRANGER, "team-a", "web", "aws", INVISIBLE),
        (OTHER, "team-a", "web", "aws", INVISIBLE),
        (DEV, "team-a", "web", "k8s", Want::NotFound("tenant.not_found")),
        (DEV, "team-a", "api", "aws", Want::NotFound("tenant.not_found")),
    ] {
        let before = w.log.len();
        assert_eq!(want(&w.delete(who, ws, p, platform, mine)), expected, "{who} on {ws}/{p}/{platform}");
        assert_eq!(w.log.len(), before);
    }
    assert!(w.state.service_user(mine).is_some());

    let done = w.as_user(DEV, |s, c| {
        platforms::delete_service_user(s, c, &slug("team-a"), &slug("web"), &slug("aws"), mine)
    });
    let done = ok(done);
    assert!(matches!(
        done.changes.changes.as_slice(),
        [Change::DeleteServiceUser { id, by: Some(_), .. }] if *id == mine
    ));
    let e = w.last_event().clone();
    assert_eq!(e.event_type, "SERVICE_USER_DELETED");
    assert_eq!((e.workspace.as_deref(), e.project.as_deref()), (Some("team-a"), Some("web")));
    assert_eq!((e.subject.as_deref(), e.actor.as_str()), (Some(client_id.as_str()), DEV));
    assert_eq!((e.details["name"].as_str(), e.details["created_by"].as_str()), (Some("mine"), Some(DEV)));
    assert!(w.state.service_user(mine).is_none());
    assert_eq!(w.state.service_users_of(&slug("team-a"), &slug("web"), &slug("aws")).len(), 1);

    // Gone: a second delete, by anyone, is a 404.
    for who in [DEV, MANAGER, ADMIN] {
        assert_eq!(
            want(&w.delete(who, "team-a", "web", "aws", mine)),
            Want::NotFound("service_user.not_found")
        );
    }
    let unknown = ServiceUserId(uuid::Uuid::from_u128(42));
    assert_eq!(
        want(&w.delete(DEV, "team-a", "web", "aws", unknown)),
        Want::NotFound("service_user.not_found")
    );

    // The workspace's managers delete anyone's.
    w.delete(MANAGER, "team-a", "web", "aws", other).unwrap();
    assert_eq!(w.state.service_users().count(), 0);
    w.verify_chain();
}

#[test]
fn a_disabled_workspace_refuses_new_tenants_and_service_users_but_not_deletions() {
    let mut w = world();
    let kept = w.service_user(DEV, "team-a", "web", "aws", "kept", digest(1)).unwrap();
    ok(w.as_user(EMP, |s, c| admin::set_workspace_enabled(s, c, &slug("team-a"), false, None)));

    let before = w.log.len();
    let disabled = Want::Rule("workspace.disabled");
    assert_eq!(want(&w.tenant(MANAGER, "team-a", "api", "aws", "555")), disabled);
    assert_eq!(want(&w.tenant(ADMIN, "team-a", "api", "aws", "555")), disabled);
    assert_eq!(want(&w.service_user(DEV, "team-a", "web", "aws", "new", digest(2))), disabled);
    assert_eq!(want(&w.service_user(MANAGER, "team-a", "web", "aws", "new", digest(2))), disabled);
    assert_eq!(w.log.len(), before);

    // Taking a credential away is always allowed.
    w.delete(DEV, "team-a", "web", "aws", kept).unwrap();

    ok(w.as_user(EMP, |s, c| admin::set_workspace_enabled(s, c, &slug("team-a"), true, None)));
    w.tenant(MANAGER, "team-a", "api", "aws", "555").unwrap();
    w.service_user(DEV, "team-a", "web", "aws", "new", digest(2)).unwrap();
    w.verify_chain();
}

#[test]
fn lists_of_service_users_follow_visibility() {
    let mut w = world();
    w.service_user(DEV, "team-a", "web", "aws", "bot", digest(1)).unwrap();
    let list = |w: &mut World, who: &str, platform: &str| {
        let platform = slug(platform);
        w.as_user(who, move |s, c| {
            let v: Vec<String> =
                platforms::list_service_users(s, c, &slug("team-a"), &slug("web"), &platform)?
                    .iter()
                    .map(|u| u.name.to_string())
                    .collect();
            Ok((breakglass_core::Changes::default(), v))
        })
        .map(|d| d.value)
    };
    for who in [DEV, DEV2, MEMBER, MANAGER, AUD, EMP, ADMIN] {
        assert_eq!(list(&mut w, who, "aws").unwrap(), ["bot"], "{who}");
    }
    assert_eq!(want(&list(&mut w, STRANGER, "aws")), INVISIBLE);
    assert_eq!(want(&list(&mut w, OTHER, "aws")), INVISIBLE);
    assert_eq!(want(&list(&mut w, DEV, "k8s")), Want::NotFound("tenant.not_found"));
}

#[test]
fn a_disabled_user_acts_no_more() {
    let mut w = world();
    w.add_user("gone@corp.io", AdminRole::Admin);
    // Built by hand: there is no command that disables a user yet.
    let mut u = w.state.user(w.id("gone@corp.io")).unwrap().clone();
    u.status = breakglass_core::model::UserStatus::Disabled;
    w.state.apply(&Change::CreateUser { user: u, password_hash: None });
    assert_eq!(want(&w.register("gone@corp.io", "gcp", "gcp")), FORBIDDEN);
    assert_eq!(want(&w.tenant("gone@corp.io", "team-a", "api", "aws", "777")), FORBIDDEN);
    assert_eq!(want(&w.service_user("gone@corp.io", "team-a", "web", "aws", "x", digest(1))), FORBIDDEN);
}

#[test]
fn bad_values_are_refused_with_their_codes() {
    assert_eq!(PlatformKind::parse("AWS").unwrap_err().code(), "platform.invalid_kind");
    assert_eq!(ExternalId::parse(" 42").unwrap_err().code(), "tenant.invalid_external_id");
    assert_eq!(ServiceUserId::parse("nope").unwrap_err().code(), "input.invalid_id");
}
