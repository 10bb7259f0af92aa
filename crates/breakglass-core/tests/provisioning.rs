//! Desired access on platforms as the core computes it from the model and the time: which
//! bindings become grants, how overlapping ones merge, what a disabled workspace or an ended
//! binding takes away, and the credentials a user may be issued.

mod common;
use common::*;

use breakglass_core::cmd::platforms::{self, NewPlatform, NewServiceUser, NewTenant};
use breakglass_core::cmd::{admin, provision};
use breakglass_core::ident::Slug;
use breakglass_core::platform::Tenant;
use breakglass_core::platform::{ExternalId, PlatformConfig, PlatformKind};
use breakglass_core::provision::{account, desired, subjects_on, unit, Desired, Subject, Touch, Unit};
use breakglass_core::role::ProjectRole;
use breakglass_core::time::Span;
use breakglass_core::time::Timestamp;

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

/// The next instant at which what `pg` must hold changes by time alone, as the engine's timers
/// see it: the earliest next instant of any unit or account there.
fn next_change(w: &World) -> Option<Timestamp> {
    let pg = w.state.platform(&slug("pg")).unwrap();
    let mut next = Vec::new();
    for t in w.state.tenants().filter(|t| t.platform == pg.id) {
        for s in subjects_on(&w.state, t) {
            next.push(unit(&w.state, t, s, w.now).next);
            next.push(account(&w.state, pg, s, w.now).and_then(|a| a.next));
        }
    }
    next.into_iter().flatten().min()
}

/// Service user "deploy" of team-a/web on `pg`, a reader, with this login verifier.
fn deploy_service_user(w: &mut World, verifier: Option<&str>) -> breakglass_core::platform::ServiceUserId {
    let new = NewServiceUser {
        workspace: slug("team-a"),
        project: slug("web"),
        platform: slug("pg"),
        name: name("deploy"),
        secret_hash: secret_hash("bgu_x"),
        role: ProjectRole::Reader,
        verifier: verifier.map(str::to_owned),
    };
    ok(w.as_user(OWNER, move |s, c| platforms::create_service_user(s, c, new))).value
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
    assert_eq!(next_change(&w), Some(start.plus(Span::hours(1))));

    // The first end leaves the grant to the second binding; the second end removes it.
    w.set_time(start.plus(Span::hours(1)));
    assert_eq!(grants(&w), [g("bg_alice@corp.io", "reader", 1), g("bg_mo@corp.io", "admin", 1)]);
    w.set_time(start.plus(Span::hours(2)));
    assert_eq!(grants(&w), [g("bg_alice@corp.io", "reader", 1)]);
    assert_eq!(next_change(&w), None);

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
    let id = deploy_service_user(&mut w, Some("SCRAM-SHA-256$x"));
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

/// Desired grants kept as the provisioning engine keeps them: per unit (a subject on a
/// project), replanned only when the journal says a commit touched it or its next instant came.
struct Mirror {
    head: i64,
    units: std::collections::BTreeMap<(Slug, Slug, Subject), Unit>,
    rebuilds: usize,
}

impl Mirror {
    fn new(w: &World) -> Self {
        let mut m = Mirror { head: 0, units: Default::default(), rebuilds: 0 };
        m.rebuild(w);
        m.rebuilds = 0;
        m
    }

    fn tenants(w: &World) -> Vec<Tenant> {
        w.state.tenants().filter(|t| t.platform == slug("pg")).cloned().collect()
    }

    fn rebuild(&mut self, w: &World) {
        self.units.clear();
        for t in Self::tenants(w) {
            for s in subjects_on(&w.state, &t) {
                self.units.insert((t.workspace.clone(), t.project.clone(), s), unit(&w.state, &t, s, w.now));
            }
        }
        self.head = w.state.head().seq;
        self.rebuilds += 1;
    }

    fn replan(&mut self, w: &World, ws: &Slug, p: &Slug, s: Subject) {
        if let Some(t) = Self::tenants(w).into_iter().find(|t| t.workspace == *ws && t.project == *p) {
            self.units.insert((ws.clone(), p.clone(), s), unit(&w.state, &t, s, w.now));
        }
    }

    fn catch_up(&mut self, w: &World) {
        let Some(touched) = w.state.touched_since(self.head) else { return self.rebuild(w) };
        let touched: Vec<Touch> = touched.cloned().collect();
        let due: Vec<(Slug, Slug, Subject)> = self
            .units
            .iter()
            .filter(|(_, u)| u.next.is_some_and(|n| n <= w.now))
            .map(|(k, _)| k.clone())
            .collect();
        for (ws, p, s) in due {
            self.replan(w, &ws, &p, s);
        }
        for t in touched {
            match t {
                Touch::Grant { workspace, project, subject } => self.replan(w, &workspace, &project, subject),
                Touch::Subject(s) => {
                    for t in Self::tenants(w) {
                        self.replan(w, &t.workspace, &t.project, s);
                    }
                }
                Touch::Everything => return self.rebuild(w),
            }
        }
        self.head = w.state.head().seq;
    }

    fn grants(&self) -> Vec<breakglass_core::provision::Grant> {
        let mut v: Vec<_> = self.units.values().flat_map(|u| u.grants.iter().cloned()).collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    }
}

#[test]
fn replanning_only_what_the_journal_says_was_touched_keeps_desired_access_exact() {
    let mut w = world();
    let mut m = Mirror::new(&w);
    let web = proj("team-a", "web");
    let start = w.now;
    let step = |w: &mut World, m: &mut Mirror, what: &str| {
        m.catch_up(w);
        assert_eq!(m.grants(), now_desired(w).grants, "after {what}");
    };
    ok(w.set(OWNER, &web, "alice@corp.io", prole("reader"), None));
    step(&mut w, &mut m, "a member added");
    let id = ok(w.grant(OWNER, &web, "mo@corp.io", prole("admin"), start.plus(Span::hours(1)))).value;
    ok(w.grant(OWNER, &web, "max@corp.io", prole("user"), start.plus(Span::hours(2))));
    step(&mut w, &mut m, "two grants");
    ok(w.revoke(OWNER, id));
    step(&mut w, &mut m, "a revoke");
    // Time alone: max's grant ends at +2h with nothing committed.
    w.set_time(start.plus(Span::hours(2)));
    step(&mut w, &mut m, "an expiry with no commit");
    w.sweep(10);
    step(&mut w, &mut m, "the sweep recording it");
    deploy_service_user(&mut w, None);
    step(&mut w, &mut m, "a service user");
    ok(w.remove(OWNER, &web, "alice@corp.io"));
    step(&mut w, &mut m, "a member removed");
    assert_eq!(m.rebuilds, 0, "nothing so far needed the whole platform replanned");

    // Wider changes replan everything: a workspace disabled and enabled again.
    ok(w.set(OWNER, &web, "alice@corp.io", prole("user"), None));
    let team_a = slug("team-a");
    ok(w.as_user("emp@corp.io", |s, c| admin::set_workspace_enabled(s, c, &team_a, false, None)));
    step(&mut w, &mut m, "a workspace disabled");
    assert_eq!(m.grants(), [], "a disabled workspace holds nothing");
    ok(w.as_user("emp@corp.io", |s, c| admin::set_workspace_enabled(s, c, &team_a, true, None)));
    step(&mut w, &mut m, "a workspace enabled");
    assert!(m.rebuilds >= 2);

    // A model loaded afresh (changes applied, then its head set) has no journal: a reader
    // behind its head must replan everything; once it commits, readers from then on need not.
    assert!(w.state.touched_since(m.head - 1).is_some());
    let mut loaded = breakglass_core::State::new();
    loaded.set_head(w.state.head());
    assert!(loaded.touched_since(m.head - 1).is_none(), "a reloaded model cannot say what changed");
    assert!(loaded.touched_since(m.head).is_some_and(|mut t| t.next().is_none()), "at its head: nothing");
    let head = loaded.head();
    loaded.apply_all(&breakglass_core::Changes::default(), head);
    assert!(loaded.touched_since(m.head).is_some());
}

#[test]
fn the_journal_names_what_each_kind_of_change_touches() {
    let mut w = world();
    let web = proj("team-a", "web");
    let alice = Subject::User(w.id("alice@corp.io"));
    let grant_on_web = |subject| Touch::Grant { workspace: slug("team-a"), project: slug("web"), subject };
    let since = |w: &World, head: &mut i64| {
        let t: Vec<Touch> = w.state.touched_since(*head).expect("journal reaches").cloned().collect();
        *head = w.state.head().seq;
        t
    };
    let mut head = w.state.head().seq;
    ok(w.set(OWNER, &web, "alice@corp.io", prole("reader"), None));
    assert_eq!(since(&w, &mut head), [grant_on_web(alice)]);
    // A workspace role is no access on any tenant.
    ok(w.set(OWNER, &ws("team-a"), "otto@corp.io", wrole("member"), None));
    assert_eq!(since(&w, &mut head), []);
    w.add_user("new@corp.io", breakglass_core::role::AdminRole::None);
    assert_eq!(since(&w, &mut head), [Touch::Subject(Subject::User(w.id("new@corp.io")))]);
    let new = NewTenant {
        workspace: slug("team-a"),
        project: slug("api"),
        platform: slug("pg"),
        external_id: ExternalId::parse("api_db").unwrap(),
    };
    ok(w.as_user(OWNER, move |s, c| platforms::create_tenant(s, c, new)));
    assert_eq!(since(&w, &mut head), [Touch::Everything]);
}

#[test]
fn a_grant_moved_to_a_renamed_account_keeps_its_record_when_the_old_place_is_removed() {
    use breakglass_core::cmd::provision::Outcome;
    use breakglass_core::provision::{Place, ProvisionState};
    let mut w = world();
    let web = proj("team-a", "web");
    ok(w.set(OWNER, &web, "alice@corp.io", prole("reader"), None));
    let key = now_desired(&w).grants[0].key.clone();
    let place = |account: &str| Place { account: account.into(), group: "bg_team-a_web_reader".into() };
    let record = |w: &mut World, outcomes: Vec<Outcome>| {
        ok(w.system(move |s, c| {
            let served = provision::bindings_served(s, &outcomes, c.now);
            provision::record(s, c, &outcomes, &served).map(|ch| (ch, ()))
        }))
    };
    record(&mut w, vec![Outcome::Granted(key.clone(), place("bg_alice@corp.io"))]);
    // The account template changed: one pass places the grant at the new account and removes
    // it from the old one. The record must follow the new place, not vanish with the old.
    record(
        &mut w,
        vec![
            Outcome::Granted(key.clone(), place("alice")),
            Outcome::Revoked(key.clone(), place("bg_alice@corp.io")),
        ],
    );
    let r = w.state.provision(&key).expect("the record stays");
    assert_eq!(
        (r.place.account.as_str(), matches!(r.state, ProvisionState::Provisioned { .. })),
        ("alice", true)
    );
    let last = w.log.last().unwrap().event_type.as_str().to_owned();
    assert_eq!(last, "ACCESS_DEPROVISIONED", "the old place's removal is audited");
    // Removing the old place failing later does not turn the new place's record into a failure.
    let next_retry = w.now.plus(Span::seconds(2));
    record(
        &mut w,
        vec![Outcome::Failed {
            key: key.clone(),
            place: place("bg_alice@corp.io"),
            error: "down".into(),
            next_retry,
        }],
    );
    assert!(matches!(w.state.provision(&key).unwrap().state, ProvisionState::Provisioned { .. }));
}

#[test]
fn a_certificate_carries_every_held_roles_principals_ends_with_the_first_and_is_revoked_when_one_ends() {
    use breakglass_core::cmd::ssh::{issue_certificate, record_revocations};
    use breakglass_core::ssh::{revoked, CLOCK_SKEW};
    let mut w = world();
    let web = proj("team-a", "web");
    let start = w.now;
    let principals: std::collections::BTreeMap<ProjectRole, Vec<String>> = [
        (ProjectRole::Reader, vec!["web-read".to_owned()]),
        (ProjectRole::User, vec!["web-user".to_owned(), "deploy".to_owned()]),
        (ProjectRole::Admin, vec![]),
    ]
    .into();
    let sign =
        |w: &mut World, who: &str, principals: &std::collections::BTreeMap<ProjectRole, Vec<String>>| {
            let principals = principals.clone();
            w.as_user(who, move |s, c| {
                issue_certificate(s, c, (&slug("team-a"), &slug("web"), &slug("pg")), "SHA256:k", &principals)
            })
        };
    // No role on the project: nothing signed, nothing recorded.
    let Err(err) = sign(&mut w, "max@corp.io", &principals) else { panic!("signed without access") };
    assert_eq!(err.code(), "authz.forbidden");

    // A standing reader role and a 2-hour user role: both roles' principals, until the user
    // role ends.
    ok(w.set(OWNER, &web, "alice@corp.io", prole("reader"), None));
    ok(w.grant(OWNER, &web, "alice@corp.io", prole("user"), start.plus(Span::hours(2))));
    let cert = ok(sign(&mut w, "alice@corp.io", &principals)).value;
    assert_eq!(cert.principals, ["deploy", "web-read", "web-user"]);
    assert_eq!(cert.roles, [ProjectRole::Reader, ProjectRole::User]);
    assert_eq!((cert.valid_after, cert.valid_before), (start.minus(CLOCK_SKEW), start.plus(Span::hours(2))));
    assert!(cert.key_id.starts_with("alice@corp.io:team-a/web:"), "{}", cert.key_id);
    assert_eq!(w.log.last().unwrap().event_type.as_str(), "SSH_CERTIFICATE_ISSUED");
    ok(w.set(OWNER, &web, "mo@corp.io", prole("reader"), None));
    let standing = ok(sign(&mut w, "mo@corp.io", &principals)).value;
    assert_eq!(standing.valid_before, start.plus(Span::hours(8)), "the platform's lifetime bounds it");
    assert_ne!(standing.serial, cert.serial);
    assert!(revoked(&w.state, &slug("pg"), w.now).is_empty());

    // A role that maps to no principal signs nothing.
    ok(w.set(OWNER, &web, "max@corp.io", prole("admin"), None));
    let Err(err) = sign(&mut w, "max@corp.io", &principals) else { panic!("signed with no principal") };
    assert_eq!(err.code(), "ssh.no_principals");

    // Mo's role is removed early: his certificate is revoked; Alice's is not.
    ok(w.remove(OWNER, &web, "mo@corp.io"));
    let serials: Vec<u64> = revoked(&w.state, &slug("pg"), w.now).iter().map(|c| c.serial).collect();
    assert_eq!(serials, [standing.serial]);
    // Recorded for good: the role given back does not revive the certificate.
    ok(w.system(|s, c| Ok(record_revocations(s, c))));
    assert_eq!(w.log.last().unwrap().event_type.as_str(), "SSH_CERTIFICATE_REVOKED");
    assert!(ok(w.system(|s, c| Ok(record_revocations(s, c)))).changes.is_empty(), "recorded once");
    ok(w.set(OWNER, &web, "mo@corp.io", prole("reader"), None));
    let serials: Vec<u64> = revoked(&w.state, &slug("pg"), w.now).iter().map(|c| c.serial).collect();
    assert_eq!(serials, [standing.serial], "a revocation is for good");
    // Only admins record a tenant on an SSH platform: its external id names a group of hosts.
    let new = NewPlatform {
        id: slug("hosts"),
        kind: PlatformKind::parse("ssh").unwrap(),
        name: name("Hosts"),
        config: PlatformConfig::default(),
    };
    ok(w.as_user(ADMIN, move |s, c| platforms::register_platform(s, c, new)));
    let hosts = |external: &str| NewTenant {
        workspace: slug("team-a"),
        project: slug("web"),
        platform: slug("hosts"),
        external_id: ExternalId::parse(external).unwrap(),
    };
    let by_owner = hosts("ledger");
    let Err(err) = w.as_user(OWNER, move |s, c| platforms::create_tenant(s, c, by_owner)) else {
        panic!("a manager recorded a group of hosts")
    };
    assert!(err.to_string().contains("only admins record a tenant on SSH platform"), "{err}");
    let by_admin = hosts("ledger");
    ok(w.as_user(ADMIN, move |s, c| platforms::create_tenant(s, c, by_admin)));
    // A delegate cannot have the owner's access put on their own key.
    let as_delegate = breakglass_core::Ctx::new(
        w.now,
        breakglass_core::Actor::User(w.id("alice@corp.io")),
        uuid::Uuid::nil(),
    )
    .with_bounds(breakglass_core::Bounds { delegate: Some(w.id("mo@corp.io")), ..Default::default() });
    let scope = (&slug("team-a"), &slug("web"), &slug("pg"));
    let err = issue_certificate(&w.state, &as_delegate, scope, "SHA256:k", &principals).unwrap_err();
    assert_eq!(err.code(), "authz.forbidden");
    // Once a certificate's end passed, hosts refuse it by themselves: no longer listed.
    w.set_time(start.plus(Span::hours(9)));
    assert!(revoked(&w.state, &slug("pg"), w.now).is_empty());
}
