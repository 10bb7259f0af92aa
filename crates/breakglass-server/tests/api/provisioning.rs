//! Grants reaching a real PostgreSQL server that checks passwords (a throwaway
//! `scram-sha-256` cluster per test): a project role becomes a login's privileges, a credential
//! logs in until its end, revocation and expiry take the privilege and end open sessions,
//! overlapping grants keep access until the last ends, a disabled workspace holds nothing,
//! drift is corrected or reported, service users log in until deleted, and no secret appears
//! in an answer or the audit log. The server runs on the system clock: PostgreSQL's `VALID
//! UNTIL` is checked against the real time.

use std::time::Duration;

use breakglass_client::api::{
    CreateGrant, CreateServiceUser, CreateTenant, RegisterPlatform, SetMember, UpdatePlatform,
};
use breakglass_client::Client;
use breakglass_server::Clock;
use sqlx::{Connection, Executor, PgConnection};

use crate::cluster::Cluster;
use crate::common::*;

struct Setup {
    t: TestApp,
    cluster: Cluster,
    admin: Client,
    dev: Client,
}

/// A server on the system clock, a cluster with database `web_db` (table `items`), platform
/// `pg` on it and a tenant of acme/web; dev@example.com belongs to acme.
async fn setup(mode: &str) -> Option<Setup> {
    setup_every(mode, Duration::from_secs(2)).await
}

/// `setup`, with a full pass every `every`.
async fn setup_every(mode: &str, every: Duration) -> Option<Setup> {
    let cluster = Cluster::start()?;
    let mut admin_db = PgConnection::connect(&cluster.url("postgres")).await.unwrap();
    admin_db.execute("CREATE DATABASE web_db").await.unwrap();
    let mut web = PgConnection::connect(&cluster.url("web_db")).await.unwrap();
    web.execute("CREATE TABLE items (id serial PRIMARY KEY, v text); INSERT INTO items (v) VALUES ('a')")
        .await
        .unwrap();
    let body = RegisterPlatform {
        identifier: "pg".into(),
        kind: "postgres".into(),
        name: "Postgres".into(),
        settings: [("url".to_owned(), cluster.url("postgres"))].into(),
        mode: Some(mode.into()),
        ..Default::default()
    };
    let (t, admin, dev) = with_platform(&body, "acme", "web_db", move |c| {
        system_clock(c);
        c.reconcile_every = every;
    })
    .await;
    Some(Setup { t, cluster, admin, dev })
}

/// A server configured by `tweak`, with dev@example.com, workspace `ws` with project `web`, the
/// platform `body` and a tenant of `ws`/web on it named `external_id`; the server, the admin's
/// client and dev's.
pub(crate) async fn with_platform(
    body: &RegisterPlatform,
    ws: &str,
    external_id: &str,
    tweak: impl FnOnce(&mut breakglass_server::Config),
) -> (TestApp, Client, Client) {
    let t = TestApp::start_configured(tweak).await;
    let admin = t.admin();
    let dev = t.user("dev@example.com").await;
    t.workspace(ws, &[]).await;
    t.project(ws, "web").await;
    admin.register_platform(body).await.unwrap();
    let tenant = CreateTenant { platform: body.identifier.clone(), external_id: external_id.into() };
    admin.create_tenant(ws, "web", &tenant).await.unwrap();
    (t, admin, dev)
}

pub(crate) async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually_within(Duration::from_secs(15), what, check).await
}

async fn eventually_within<F, Fut>(patience: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + patience;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until an open session is cut off by the server.
async fn session_ends(conn: &mut PgConnection) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while sqlx::query("SELECT 1").execute(&mut *conn).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until the session ends");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn login(cluster: &Cluster, user: &str, password: &str) -> Result<PgConnection, sqlx::Error> {
    PgConnection::connect(&cluster.url_as(user, password, "web_db")).await
}

async fn can_read(conn: &mut PgConnection) -> bool {
    sqlx::query("SELECT count(*) FROM items").execute(conn).await.is_ok()
}

/// Membership with `role`, standing.
pub(crate) fn member(role: &str) -> SetMember {
    SetMember { role: role.into(), ..Default::default() }
}

#[tokio::test]
async fn a_project_role_becomes_a_login_with_its_privileges_until_it_is_removed() {
    let Some(s) = setup("enforce").await else { return };
    s.admin
        .set_project_member("acme", "web", "dev@example.com", &member("user"))
        .await
        .unwrap()
        .expect_binding();
    eventually("dev's access is provisioned", || all_provisioned(&s.admin, 1)).await;
    let binding = s.admin.all_project_members("acme", "web").await.unwrap().remove(0);
    assert_eq!(binding.provisioning[0].account.as_deref(), Some("bg_dev@example.com"));

    let cred = s.dev.issue_credential("acme", "web", "pg").await.unwrap();
    assert!(cred.ready, "the login works when the answer comes");
    assert_eq!(cred.login, "bg_dev@example.com");
    assert!(cred.connect.as_deref().unwrap().contains("dbname='web_db'"), "{:?}", cred.connect);
    let mut conn = login(&s.cluster, &cred.login, &cred.password).await.expect("the credential logs in");
    assert!(can_read(&mut conn).await);
    conn.execute("INSERT INTO items (v) VALUES ('by dev')").await.expect("user may write");
    assert!(conn.execute("CREATE TABLE mine (x int)").await.is_err(), "user may not create");

    // No secret in any answer or event.
    let shown = serde_json::to_string(&s.admin.platform("pg").await.unwrap()).unwrap();
    assert!(!shown.contains(&s.cluster.password), "{shown}");
    assert!(shown.contains("\"secret_settings\":[\"url\"]"), "{shown}");
    let events = serde_json::to_string(&s.t.events().await).unwrap();
    assert!(
        !events.contains(&s.cluster.password) && !events.contains(&cred.password),
        "a secret in the audit log"
    );
    for ty in ["ACCESS_PROVISIONED", "CREDENTIAL_ISSUED"] {
        assert!(!s.t.events_of(ty).await.is_empty(), "{ty} recorded");
    }

    // Removing the member takes the privilege, ends the open session and drops the account.
    s.admin.remove_project_member("acme", "web", "dev@example.com").await.unwrap();
    session_ends(&mut conn).await;
    eventually("the login is refused", || async {
        login(&s.cluster, &cred.login, &cred.password).await.is_err()
    })
    .await;
    // Recorded after the platform did it: the login may go a moment before the event commits.
    eventually("the removal is audited", || async {
        !s.t.events_of("ACCESS_DEPROVISIONED").await.is_empty()
    })
    .await;
}

#[tokio::test]
async fn expiry_takes_access_at_its_instant_and_overlapping_grants_keep_it_until_the_last_ends() {
    let Some(s) = setup("enforce").await else { return };
    s.admin
        .set_project_member("acme", "web", "dev@example.com", &member("reader"))
        .await
        .unwrap()
        .expect_binding();
    let grant = |secs: u32, role: &str| CreateGrant {
        user: "dev@example.com".into(),
        workspace: "acme".into(),
        project: Some("web".into()),
        role: role.into(),
        expires_in: Some(format!("{secs}s")),
        ..Default::default()
    };
    // Two admin grants: 3 s and 5 s. The first ending must not take what the second covers.
    s.admin.create_grant(&grant(3, "admin")).await.unwrap();
    s.admin.create_grant(&grant(5, "admin")).await.unwrap();
    let cred = s.dev.issue_credential("acme", "web", "pg").await.unwrap();
    let mut conn = login(&s.cluster, &cred.login, &cred.password).await.unwrap();
    conn.execute("CREATE TABLE admin_made (x int)").await.expect("admin may create");
    tokio::time::sleep(Duration::from_millis(3800)).await;
    let mut conn = match sqlx::query("SELECT 1").execute(&mut conn).await {
        Ok(_) => conn,
        Err(_) => login(&s.cluster, &cred.login, &cred.password).await.unwrap(),
    };
    conn.execute("CREATE TABLE still_admin (x int)").await.expect("the 5 s grant still covers it");
    // After the second end: admin gone within a second, reader stays, the session was ended.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert!(sqlx::query("SELECT 1").execute(&mut conn).await.is_err(), "revocation ended the session");
    let mut conn = login(&s.cluster, &cred.login, &cred.password).await.expect("reader access stays");
    assert!(conn.execute("CREATE TABLE too_late (x int)").await.is_err(), "admin is gone");
    assert!(can_read(&mut conn).await, "reader still reads");
}

#[tokio::test]
async fn a_disabled_workspace_holds_no_access_and_drift_is_corrected_or_reported() {
    let Some(s) = setup("enforce").await else { return };
    s.admin
        .set_project_member("acme", "web", "dev@example.com", &member("reader"))
        .await
        .unwrap()
        .expect_binding();
    let cred = s.dev.issue_credential("acme", "web", "pg").await.unwrap();
    let mut conn = login(&s.cluster, &cred.login, &cred.password).await.unwrap();
    assert!(can_read(&mut conn).await);

    s.admin.disable_workspace("acme", Some("incident")).await.unwrap();
    eventually("the disabled workspace's access is gone", || async {
        match login(&s.cluster, &cred.login, &cred.password).await {
            Ok(mut c) => !can_read(&mut c).await,
            Err(_) => true,
        }
    })
    .await;
    s.admin.enable_workspace("acme", None).await.unwrap();
    eventually("access is back", || all_provisioned(&s.admin, 1)).await;

    // A GRANT made by hand on a managed role is removed (enforce) and recorded.
    let mut admin_db = PgConnection::connect(&s.cluster.url("postgres")).await.unwrap();
    admin_db.execute("CREATE ROLE intruder LOGIN; GRANT bg_acme_web_admin TO intruder").await.unwrap();
    let drift = s.admin.platform_drift("pg").await.unwrap();
    assert_eq!(drift.foreign.len(), 1, "{drift:?}");
    let report = s.admin.sync_platform("pg").await.unwrap();
    assert_eq!(report.drift.len(), 1, "{report:?}");
    assert!(s.admin.platform_drift("pg").await.unwrap().foreign.is_empty());
    assert_eq!(s.t.events_of("DRIFT_CORRECTED").await.len(), 1);

    // In report mode it stays, and is recorded once.
    s.admin
        .update_platform("pg", &UpdatePlatform { mode: Some("report".into()), ..Default::default() })
        .await
        .unwrap();
    admin_db.execute("GRANT bg_acme_web_admin TO intruder").await.unwrap();
    s.admin.sync_platform("pg").await.unwrap();
    s.admin.sync_platform("pg").await.unwrap();
    assert_eq!(s.admin.platform_drift("pg").await.unwrap().foreign.len(), 1, "left in place");
    assert_eq!(s.t.events_of("DRIFT_REPORTED").await.len(), 1, "reported once");
}

#[tokio::test]
async fn service_users_log_in_with_their_secret_until_deleted() {
    let Some(s) = setup("enforce").await else { return };
    s.admin
        .set_project_member("acme", "web", "dev@example.com", &member("user"))
        .await
        .unwrap()
        .expect_binding();
    let body = CreateServiceUser { name: "ci".into(), role: Some("reader".into()) };
    let created = s.dev.create_service_user("acme", "web", "pg", &body).await.unwrap();
    let login_name = created.service_user.login.clone().expect("a platform login");
    assert_eq!(login_name, created.service_user.client_id);
    let mut conn = login(&s.cluster, &login_name, &created.secret).await.expect("the service user logs in");
    assert!(can_read(&mut conn).await);
    assert!(conn.execute("INSERT INTO items (v) VALUES ('x')").await.is_err(), "a reader");
    s.dev.delete_service_user("acme", "web", "pg", &created.service_user.id).await.unwrap();
    session_ends(&mut conn).await;
    eventually("its login is refused", || async {
        login(&s.cluster, &login_name, &created.secret).await.is_err()
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_platform_is_reported_retried_and_converges_when_back() {
    let Some(s) = setup("enforce").await else { return };
    s.cluster.stop();
    s.admin
        .set_project_member("acme", "web", "dev@example.com", &member("reader"))
        .await
        .unwrap()
        .expect_binding();
    eventually("the failure shows", || async {
        let b = s.admin.all_project_members("acme", "web").await.unwrap().remove(0);
        b.provisioning.iter().any(|p| p.state == breakglass_client::api::ProvisioningState::Failed)
    })
    .await;
    let health = s.admin.health().await.unwrap();
    assert_eq!(health.unhealthy_platforms.len(), 1, "{health:?}");
    let shown = s.admin.platform("pg").await.unwrap();
    assert_eq!(shown.status.as_ref().and_then(|st| st.healthy), Some(false), "{shown:?}");
    assert!(!s.t.events_of("PROVISIONING_FAILED").await.is_empty());
    // Retries back off (1 s, 2 s, 4 s, ...): a down target is not an event every pass.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let failures = s.t.events_of("PROVISIONING_FAILED").await.len();
    assert!(failures <= 5, "{failures} failure events in about 8 s for one grant");
    s.cluster.restart();
    eventually("it converges", || all_provisioned(&s.admin, 1)).await;
    eventually("healthy again", || async { s.admin.health().await.unwrap().unhealthy_platforms.is_empty() })
        .await;
    let cred = s.dev.issue_credential("acme", "web", "pg").await.unwrap();
    let mut conn = login(&s.cluster, &cred.login, &cred.password).await.unwrap();
    assert!(can_read(&mut conn).await);
}

/// The system clock (PostgreSQL and the other targets check logins against the real time) and
/// a full pass every 2 s.
pub(crate) fn system_clock(c: &mut breakglass_server::Config) {
    c.clock = Clock::System;
    c.reconcile_every = Duration::from_secs(2);
}

async fn all_provisioned(client: &Client, n: usize) -> bool {
    let list = client.all_project_members("acme", "web").await.unwrap();
    list.len() == n
        && list.iter().all(|b| {
            !b.provisioning.is_empty()
                && b.provisioning
                    .iter()
                    .all(|p| p.state == breakglass_client::api::ProvisioningState::Provisioned)
        })
}

#[tokio::test]
async fn two_replicas_reconcile_with_one_and_the_other_takes_over_when_it_stops() {
    let Some(s) = setup("enforce").await else { return };
    let b = s.t.second_server_configured(system_clock).await;
    s.admin
        .set_project_member("acme", "web", "dev@example.com", &member("reader"))
        .await
        .unwrap()
        .expect_binding();
    eventually("provisioned", || all_provisioned(&s.admin, 1)).await;
    // Exactly one of the two reconciles the platform.
    let leaders = |a: bool, b: bool| usize::from(a) + usize::from(b);
    let mut seen = 0;
    for _ in 0..100 {
        let ra = s.admin.platform("pg").await.unwrap().status.unwrap().reconciler;
        let rb = b.admin().platform("pg").await.unwrap().status.unwrap().reconciler;
        seen = leaders(ra, rb);
        if seen == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 1, "one reconciler");
    let a_leads = s.admin.platform("pg").await.unwrap().status.unwrap().reconciler;
    let (survivor, stopped) = if a_leads { (b, s.t) } else { (s.t, b) };
    stopped.stop().await;
    let admin = survivor.admin();
    survivor.user("new@example.com").await;
    admin
        .set_project_member("acme", "web", "new@example.com", &member("reader"))
        .await
        .unwrap()
        .expect_binding();
    eventually_within(Duration::from_secs(30), "the survivor took over and placed the new grant", || {
        all_provisioned(&admin, 2)
    })
    .await;
}

#[tokio::test]
async fn a_server_stopped_mid_pass_converges_after_its_restart() {
    let Some(s) = setup("enforce").await else { return };
    let n = 40;
    for i in 0..n {
        let email = format!("u{i}@example.com");
        s.t.user(&email).await;
        s.admin.set_project_member("acme", "web", &email, &member("reader")).await.unwrap().expect_binding();
    }
    // Stopped while the engine works through the 40 grants.
    let t = s.t.restart_configured(system_clock).await;
    let admin = t.admin();
    eventually_within(Duration::from_secs(30), "every grant is placed", || all_provisioned(&admin, n)).await;
    let drift = admin.platform_drift("pg").await.unwrap();
    assert!(drift.missing.is_empty() && drift.extra.is_empty() && drift.foreign.is_empty(), "{drift:?}");
}

#[tokio::test]
async fn the_web_ui_shows_provisioning_issues_a_credential_once_and_never_shows_a_secret_setting() {
    let Some(s) = setup("enforce").await else { return };
    s.admin
        .set_project_member("acme", "web", "dev@example.com", &member("reader"))
        .await
        .unwrap()
        .expect_binding();
    eventually("provisioned", || all_provisioned(&s.admin, 1)).await;
    let mut dev = crate::web::Browser::new(&s.t);
    dev.sign_in("dev@example.com").await;
    let page = dev.get("/w/acme/p/web").await;
    assert!(page.body.contains("On platforms") && page.body.contains("provisioned"), "{}", page.body);
    assert!(page.body.contains("Get a credential"), "{}", page.body);
    let shown = dev.submit(&page, "/w/acme/p/web/tenants/pg/credentials", &[]).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let marker = "id=\"credential-password\">";
    let at = shown.body.find(marker).expect("the password is shown") + marker.len();
    let password = &shown.body[at..at + shown.body[at..].find('<').unwrap()];
    let mut conn =
        login(&s.cluster, "bg_dev@example.com", password).await.expect("the shown password logs in");
    assert!(can_read(&mut conn).await);
    assert!(!dev.get("/w/acme/p/web").await.body.contains(password), "shown once");

    s.t.user_with_role("boss@example.com", Some("admin")).await;
    let mut admin = crate::web::Browser::new(&s.t);
    admin.sign_in("boss@example.com").await;
    let platform = admin.get("/admin/platforms/pg").await;
    assert_eq!(platform.status, 200, "{}", platform.body);
    assert!(platform.body.contains("secret (sealed; never shown)"), "{}", platform.body);
    assert!(!platform.body.contains(&s.cluster.password), "the URL's password is never shown");
    let drift = admin.get("/admin/platforms/pg?drift=1").await;
    assert!(
        drift.body.contains("None: the platform holds exactly what Breakglass grants."),
        "{}",
        drift.body
    );
    let mut outsider = crate::web::Browser::new(&s.t);
    outsider.sign_in("dev@example.com").await;
    assert_eq!(outsider.get("/admin/platforms/pg").await.status, 403);
}

#[tokio::test]
async fn one_tenant_failing_holds_up_no_other() {
    let Some(s) = setup("enforce").await else { return };
    // Project api's tenant names a database that does not exist: its grants fail, web's do not.
    s.t.project("acme", "api").await;
    s.admin
        .create_tenant(
            "acme",
            "api",
            &CreateTenant { platform: "pg".into(), external_id: "no_such_db".into() },
        )
        .await
        .unwrap();
    s.admin
        .set_project_member("acme", "api", "dev@example.com", &member("reader"))
        .await
        .unwrap()
        .expect_binding();
    s.admin
        .set_project_member("acme", "web", "dev@example.com", &member("reader"))
        .await
        .unwrap()
        .expect_binding();
    eventually("web's grant is placed and api's fails", || async {
        let web = s.admin.all_project_members("acme", "web").await.unwrap();
        let api = s.admin.all_project_members("acme", "api").await.unwrap();
        let state = |list: &[breakglass_client::api::Binding]| list[0].provisioning[0].state;
        state(&web) == breakglass_client::api::ProvisioningState::Provisioned
            && state(&api) == breakglass_client::api::ProvisioningState::Failed
    })
    .await;
    let api = s.admin.all_project_members("acme", "api").await.unwrap().remove(0);
    let error = api.provisioning[0].error.clone().unwrap_or_default();
    assert!(error.contains("no_such_db"), "the failure says why: {error}");
    let cred = s.dev.issue_credential("acme", "web", "pg").await.unwrap();
    let mut conn = login(&s.cluster, &cred.login, &cred.password).await.unwrap();
    assert!(can_read(&mut conn).await, "web works while api fails");
}

/// The engine's edge-triggered passes replan only what each commit touched (and what time
/// changed). Through a random run of every kind of change, with the periodic full pass an hour
/// away, the platform must stay exactly what a full plan says: the drift report (a full listing
/// compared with a plan made from scratch) finds nothing missing and nothing extra.
#[tokio::test]
async fn edge_triggered_passes_alone_keep_the_platform_exact_through_random_changes() {
    // Only the first pass lists the platform: the next full pass is an hour away.
    let Some(s) = setup_every("enforce", Duration::from_secs(3600)).await else { return };
    let mut admin_db = PgConnection::connect(&s.cluster.url("postgres")).await.unwrap();
    admin_db.execute("CREATE DATABASE api_db").await.unwrap();
    s.t.project("acme", "api").await;
    s.admin
        .create_tenant("acme", "api", &CreateTenant { platform: "pg".into(), external_id: "api_db".into() })
        .await
        .unwrap();
    let (t, admin) = (&s.t, s.admin.clone());
    let mut users = Vec::new();
    for i in 0..4 {
        let email = format!("u{i}@example.com");
        users.push((email.clone(), t.user(&email).await));
    }
    let seed: u64 = std::env::var("PROVISION_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed);
    let mut x = seed;
    let mut rand = move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let projects = ["web", "api"];
    let roles = ["reader", "user", "admin"];
    let mut grants: Vec<String> = Vec::new();
    let mut services: Vec<(String, String)> = Vec::new();
    for step in 0..40 {
        let project = projects[rand(2)];
        let (email, client) = &users[rand(users.len())];
        let role = roles[rand(3)];
        let what = match rand(10) {
            0 | 1 => {
                let expires_in = (rand(2) == 0).then(|| format!("{}s", 1 + rand(2)));
                let body = SetMember { role: role.into(), expires_in, ..Default::default() };
                admin.set_project_member("acme", project, email, &body).await.unwrap();
                format!("{email} set as {role} on {project}")
            }
            2 => {
                let _ = admin.remove_project_member("acme", project, email).await;
                format!("{email} removed from {project}")
            }
            3 | 4 => {
                let body = CreateGrant {
                    user: email.clone(),
                    workspace: "acme".into(),
                    project: Some(project.into()),
                    role: role.into(),
                    expires_in: Some(format!("{}s", 1 + rand(3))),
                    ..Default::default()
                };
                grants.push(admin.create_grant(&body).await.unwrap().expect_binding().id);
                format!("{email} granted {role} on {project}")
            }
            5 if !grants.is_empty() => {
                let id = grants.swap_remove(rand(grants.len()));
                let _ = admin.revoke_grant(&id).await;
                format!("grant {id} revoked")
            }
            6 => {
                let issued = client.issue_credential("acme", project, "pg").await.is_ok();
                format!("{email} asked for a credential on {project} (issued: {issued})")
            }
            7 => {
                let body = CreateServiceUser { name: format!("svc {step}"), role: Some(role.into()) };
                let made = admin.create_service_user("acme", project, "pg", &body).await.unwrap();
                services.push((project.to_owned(), made.service_user.id));
                format!("a service user as {role} on {project}")
            }
            8 if !services.is_empty() => {
                let (project, id) = services.swap_remove(rand(services.len()));
                admin.delete_service_user("acme", &project, "pg", &id).await.unwrap();
                format!("a service user of {project} deleted")
            }
            9 if step % 3 == 0 => {
                admin.disable_workspace("acme", Some("drill")).await.unwrap();
                admin.enable_workspace("acme", Some("drill over")).await.unwrap();
                "the workspace disabled and enabled".to_owned()
            }
            _ => {
                // Time alone: grants end while nothing is committed.
                tokio::time::sleep(Duration::from_millis(400 + 200 * rand(5) as u64)).await;
                "a pause".to_owned()
            }
        };
        let admin = &admin;
        eventually_within(
            Duration::from_secs(10),
            &format!("step {step} ({what}, seed {seed}) is provisioned exactly"),
            || async move {
                let drift = admin.platform_drift("pg").await.unwrap();
                drift.missing.is_empty() && drift.extra.is_empty()
            },
        )
        .await;
    }
    assert!(!t.events_of("ACCESS_DEPROVISIONED").await.is_empty(), "the run took access away, too");
}
