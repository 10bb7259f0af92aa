//! The web UI over HTTP, as a browser without script would use it: cookies, CSRF tokens, forms
//! that keep what was typed, pages authorised exactly like the API, and the account switcher.
//! (The whole flow in a real browser is in `e2e/`.)

use std::collections::HashMap;

use breakglass_client::api::{CreateAccess, SetMember};

use crate::common::*;

/// A cookie-keeping client that does not follow redirects.
pub(crate) struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: HashMap<String, String>,
    headers: Vec<(&'static str, String)>,
}

/// One answer: status, the `Location` and `Set-Cookie` headers, and the body.
pub(crate) struct Page {
    pub(crate) status: u16,
    location: Option<String>,
    set_cookies: Vec<String>,
    pub(crate) body: String,
}

impl Page {
    /// The CSRF token of the first form on the page.
    fn csrf(&self) -> String {
        let at = self.body.find(r#"name="csrf" value=""#).expect("a form with a CSRF token");
        let rest = &self.body[at + r#"name="csrf" value=""#.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    fn cookie(&self, name: &str) -> Option<&String> {
        self.set_cookies.iter().find(|c| c.starts_with(&format!("{name}=")))
    }
}

impl Browser {
    pub(crate) fn new(t: &TestApp) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { base: t.url.clone(), http, cookies: HashMap::new(), headers: Vec::new() }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let mut req = req.header("cookie", cookie).header("accept", "text/html");
        for (k, v) in &self.headers {
            req = req.header(*k, v);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
        let set_cookies: Vec<String> =
            r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        Page { status, location, set_cookies, body: r.text().await.unwrap() }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.base)).form(fields);
        self.send(req).await
    }

    /// Posts a form with the CSRF token of `page`.
    pub(crate) async fn submit(&mut self, page: &Page, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = page.csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    pub(crate) async fn sign_in(&mut self, email: &str) -> Page {
        let form = self.get("/login").await;
        let password = password_for(email);
        let r = self.submit(&form, "/login", &[("email", email), ("password", &password)]).await;
        assert_eq!(r.status, 303, "signed in: {}", r.body);
        self.get("/").await
    }
}

fn member(role: &str) -> SetMember {
    SetMember { role: role.into(), ..Default::default() }
}

#[tokio::test]
async fn the_session_cookie_is_httponly_samesite_lax_and_secure_behind_tls() {
    let t = TestApp::start().await;
    t.user("ann@example.com").await;
    let signed_in = t.events_of("USER_SIGNED_IN").await.len();
    let mut b = Browser::new(&t);
    let form = b.get("/login").await;
    assert!(form.cookie("bg_csrf").is_some_and(|c| c.contains("HttpOnly") && c.contains("SameSite=Strict")));
    let pw = password_for("ann@example.com");
    let r = b.submit(&form, "/login", &[("email", "ann@example.com"), ("password", &pw)]).await;
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/")));
    let c = r.cookie("bg_session").expect("a session cookie");
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"), "{c}");
    assert!(!c.contains("Secure"), "plain HTTP: no Secure, or the browser would drop it");
    assert_eq!(
        t.events_of("USER_SIGNED_IN").await.len(),
        signed_in + 1,
        "signing in is audited like the API's"
    );

    let mut tls = Browser::new(&t);
    tls.headers.push(("x-forwarded-proto", "https".into()));
    let form = tls.get("/login").await;
    let r = tls.submit(&form, "/login", &[("email", "ann@example.com"), ("password", &pw)]).await;
    assert!(r.cookie("bg_session").unwrap().contains("; Secure"));
}

#[tokio::test]
async fn pages_need_a_session_and_never_send_a_visitor_elsewhere() {
    let t = TestApp::start().await;
    t.user("ann@example.com").await;
    let mut b = Browser::new(&t);
    let r = b.get("/w/ops?tab=projects").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location.as_deref(), Some("/login?next=/w/ops%3Ftab%3Dprojects"));
    for next in [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
    ] {
        let form = b.get("/login").await;
        let pw = password_for("ann@example.com");
        let r = b
            .submit(&form, "/login", &[("email", "ann@example.com"), ("password", &pw), ("next", next)])
            .await;
        assert_eq!(r.location.as_deref(), Some("/"), "next={next}");
    }
    let r = b.get("/no/such/page").await;
    assert_eq!(r.status, 404);
    assert!(r.body.contains("There is no page here"));
    let api = t.raw("GET", "/api/v1/nothing", None, Body::None).await;
    api.assert_problem(404, "http.not_found");
}

#[tokio::test]
async fn a_form_without_its_sessions_csrf_token_changes_nothing() {
    let t = TestApp::start().await;
    t.user("owen@example.com").await;
    t.user("eve@example.com").await;
    t.workspace("ops", &["owen@example.com"]).await;
    let mut owen = Browser::new(&t);
    owen.sign_in("owen@example.com").await;
    let mut eve = Browser::new(&t);
    let eves_page = eve.sign_in("eve@example.com").await;
    let before = t.snapshot().await;
    let invite = [("email", "x@example.com"), ("role", "owner")];
    let r = owen.post("/w/ops/invite", &invite).await;
    assert_eq!(r.status, 403, "no token");
    let mut forged = vec![("csrf", "0123456789abcdef0123456789abcdef")];
    forged.extend_from_slice(&invite);
    assert_eq!(owen.post("/w/ops/invite", &forged).await.status, 403, "a made-up token");
    assert_eq!(
        owen.submit(&eves_page, "/w/ops/invite", &invite).await.status,
        403,
        "another session's token"
    );
    assert_eq!(owen.post("/logout", &[]).await.status, 403, "signing out needs the token too");
    t.assert_unchanged(&before, "forms without a valid CSRF token").await;
    let page = owen.get("/w/ops").await;
    let r = owen.submit(&page, "/w/ops/invite", &invite).await;
    assert_eq!(r.status, 200, "with the token it works");
    assert!(r.body.contains("bgi_"), "the invitation's code is shown once");
}

#[tokio::test]
async fn a_refused_form_keeps_what_was_typed_and_puts_the_error_next_to_the_field() {
    let t = TestApp::start().await;
    t.user("owen@example.com").await;
    t.workspace("ops", &["owen@example.com"]).await;
    let mut b = Browser::new(&t);
    b.sign_in("owen@example.com").await;
    let page = b.get("/w/ops").await;
    let before = t.snapshot().await;
    let r = b
        .submit(
            &page,
            "/w/ops/invite",
            &[("email", "not an address"), ("role", "manager"), ("expires", "3h")],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains(r#"id="invite-email" name="email" type="email" value="not an address""#),
        "{}",
        r.body
    );
    assert!(r.body.contains(r#"aria-invalid="true""#));
    assert!(r.body.contains(r#"id="invite-email-error""#), "the error sits with the e-mail field");
    assert!(r.body.contains(r#"<option value="manager" selected>"#), "the chosen role is kept");
    assert!(r.body.contains(r#"value="3h""#), "the expiry is kept");
    t.assert_unchanged(&before, "a refused invitation").await;

    let form = b.get("/login").await;
    let r =
        b.submit(&form, "/login", &[("email", "owen@example.com"), ("password", "wrong password!")]).await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains(r#"value="owen@example.com""#));
    assert!(!r.body.contains("wrong password!"), "a password is never echoed");
}

#[tokio::test]
async fn pages_and_forms_are_authorised_exactly_like_the_api() {
    let t = TestApp::start().await;
    let owen = t.user("owen@example.com").await;
    t.user("mel@example.com").await;
    t.user("out@example.com").await;
    t.workspace("ops", &["owen@example.com"]).await;
    owen.set_workspace_member("ops", "mel@example.com", &member("member")).await.unwrap();

    let mut out = Browser::new(&t);
    out.sign_in("out@example.com").await;
    assert_eq!(out.get("/w/ops").await.status, 404, "invisible, not forbidden");
    assert_eq!(out.get("/w/ops/history").await.status, 404);
    assert_eq!(out.get("/admin").await.status, 403);

    let mut mel = Browser::new(&t);
    let page = mel.sign_in("mel@example.com").await;
    let ws = mel.get("/w/ops").await;
    assert_eq!(ws.status, 200);
    assert!(!ws.body.contains("Invite by e-mail"), "a member is not offered what they may not do");
    let before = t.snapshot().await;
    let r = mel.submit(&page, "/w/ops/invite", &[("email", "x@example.com"), ("role", "owner")]).await;
    assert_eq!(r.status, 403, "and the handler refuses it anyway");
    let r = mel.submit(&page, "/w/ops/members", &[("email", "mel@example.com"), ("role", "owner")]).await;
    assert_eq!(r.status, 403);
    t.assert_unchanged(&before, "a member's forged forms").await;
}

#[tokio::test]
async fn the_account_switcher_acts_as_the_owner_and_falls_back_when_the_access_ends() {
    let t = TestApp::start().await;
    let owen = t.user("owen@example.com").await;
    let dee = t.user("dee@example.com").await;
    t.workspace("ops", &["owen@example.com"]).await;
    let created = owen
        .create_access(&CreateAccess {
            name: "cover".into(),
            kind: "delegate".into(),
            recipients: vec!["dee@example.com".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    dee.accept_access(&created.access.id, &created.codes[0].code).await.unwrap();

    let mut b = Browser::new(&t);
    let home = b.sign_in("dee@example.com").await;
    assert!(home.body.contains(r#"<option value="owen@example.com">"#), "the switcher offers the owner");
    let r = b.submit(&home, "/act-as", &[("as", "owen@example.com")]).await;
    assert_eq!(r.status, 303);
    let home = b.get("/").await;
    assert!(home.body.contains("Acting as "), "a banner says whose rights are in use: {}", home.body);
    assert!(home.body.contains("you are dee@example.com"));
    let ws = b.get("/w/ops").await;
    assert_eq!(ws.status, 200, "with the owner's rights");
    let accesses = b.get("/accesses").await;
    assert!(accesses.body.contains("their tokens and accesses are theirs to manage"));

    owen.revoke_access(&created.access.id).await.unwrap();
    let r = b.get("/w/ops").await;
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/")), "back to one's own rights");
    let home = b.get("/").await;
    assert!(home.body.contains("You no longer act as owen@example.com"));
    assert!(!home.body.contains("Acting as "));
    assert_eq!(b.get("/w/ops").await.status, 404, "dee's own rights do not reach ops");

    let r = b.submit(&home, "/act-as", &[("as", "owen@example.com")]).await;
    assert_eq!(r.status, 303);
    assert!(b.get("/").await.body.contains("You cannot act as owen@example.com"));
}

#[tokio::test]
async fn signing_out_ends_the_session_for_good() {
    let t = TestApp::start().await;
    t.user("ann@example.com").await;
    let mut b = Browser::new(&t);
    let home = b.sign_in("ann@example.com").await;
    let stolen = b.cookies.get("bg_session").cloned().unwrap();
    let r = b.submit(&home, "/logout", &[]).await;
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/login")));
    assert!(r.cookie("bg_session").unwrap().contains("Max-Age=0"));
    assert_eq!(t.events_of("USER_SIGNED_OUT").await.len(), 1);
    b.cookies.insert("bg_session".into(), stolen);
    let r = b.get("/").await;
    assert_eq!(r.status, 303, "the old cookie no longer signs anyone in");

    b.sign_in("ann@example.com").await;
    let first = b.cookies.get("bg_session").cloned().unwrap();
    b.sign_in("ann@example.com").await;
    assert_ne!(b.cookies.get("bg_session"), Some(&first));
    b.cookies.insert("bg_session".into(), first);
    assert_eq!(b.get("/").await.status, 303, "signing in again ends the browser's previous session");
}

#[tokio::test]
async fn an_invitation_link_signs_up_and_the_dashboard_accepts_it() {
    let t = TestApp::start().await;
    t.user("owen@example.com").await;
    t.workspace("ops", &["owen@example.com"]).await;
    let mut owen = Browser::new(&t);
    owen.sign_in("owen@example.com").await;
    let page = owen.get("/w/ops").await;
    let r = owen
        .submit(
            &page,
            "/w/ops/invite",
            &[("email", "zoe@example.com"), ("role", "member"), ("expires", "2030-06-01")],
        )
        .await;
    let at = r.body.find("/signup?code=").unwrap_or_else(|| panic!("no link: {}", r.body));
    let link = r.body[at..].split('<').next().unwrap().replace("&amp;", "&");

    let mut zoe = Browser::new(&t);
    let form = zoe.get(&link).await;
    assert!(form.body.contains(r#"value="zoe@example.com""#));
    let code = link.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let pw = password_for("zoe@example.com");
    let r = zoe
        .submit(
            &form,
            "/signup",
            &[
                ("email", "zoe@example.com"),
                ("name", "Zoe"),
                ("password", &pw),
                ("invitation_token", &code),
                ("next", &format!("/?code={code}")),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let home = zoe.get(r.location.as_deref().unwrap()).await;
    assert!(home.body.contains("Invitations for you"));
    assert!(home.body.contains(&format!(r#"value="{code}""#)), "the code from the link is filled in");
    let id = t.admin().all_workspace_invitations("ops").await.unwrap()[0].id.clone();
    let r = zoe.submit(&home, &format!("/invitations/{id}/accept"), &[("token", &code)]).await;
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/w/ops")));
    let members = t.admin().all_workspace_members("ops").await.unwrap();
    let zoe_binding = members.iter().find(|m| m.user == "zoe@example.com").expect("zoe joined");
    assert_eq!(zoe_binding.expires_at.as_deref(), Some("2030-06-01T00:00:00Z"), "the date became the expiry");
}

#[tokio::test]
async fn a_web_session_cannot_reach_the_api_with_its_cookie() {
    let t = TestApp::start().await;
    t.user("ann@example.com").await;
    let mut b = Browser::new(&t);
    b.sign_in("ann@example.com").await;
    let r = b.get("/api/v1/me").await;
    assert_eq!(r.status, 401, "the API takes bearer tokens only, so a cookie alone cannot drive it");
}

#[tokio::test]
async fn an_owner_manages_policies_entitlements_grants_and_checks_through_forms() {
    let t = TestApp::start().await;
    let owen = t.user("owen@example.com").await;
    t.user("mel@example.com").await;
    t.workspace("ops", &["owen@example.com"]).await;
    t.project("ops", "db").await;
    owen.set_workspace_member("ops", "mel@example.com", &member("member")).await.unwrap();
    let mut b = Browser::new(&t);
    let page = b.sign_in("owen@example.com").await;

    let r = b
        .submit(
            &page,
            "/w/ops/policies",
            &[
                ("name", "One manager"),
                ("step1_approvers", "workspace_managers"),
                ("step1_count", "zero"),
                ("justification_required", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "a count that is not a number is refused");
    assert!(r.body.contains(r#"value="One manager""#), "and the name is kept");
    let r = b
        .submit(
            &page,
            "/w/ops/policies",
            &[
                ("name", "One manager"),
                ("step1_approvers", "workspace_managers"),
                ("step1_count", "1"),
                ("max_duration", "4h"),
                ("justification_required", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let policy = owen
        .all_policies(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == "One manager")
        .unwrap();
    assert_eq!(
        (policy.steps.len(), policy.steps[0].count, policy.max_duration.as_deref()),
        (1, 1, Some("4h"))
    );
    assert_eq!(policy.workspace.as_deref(), Some("ops"));

    let r = b
        .submit(
            &page,
            "/w/ops/entitlements",
            &[
                ("target", "db|admin"),
                ("request_policy", ""),
                ("emergency_enabled", "true"),
                ("emergency_policy", &policy.id),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let e = owen
        .all_entitlements("ops")
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.project.as_deref() == Some("db") && e.role == breakglass_api::Role::Admin)
        .unwrap();
    assert!(e.emergency_enabled);
    assert_eq!(e.emergency_policy.map(|p| p.id), Some(policy.id.clone()));

    let r = b
        .submit(
            &page,
            "/w/ops/grants",
            &[
                ("user", "mel@example.com"),
                ("project", "db"),
                ("role", "admin"),
                ("expires", "2h"),
                ("reason", "INC-7"),
            ],
        )
        .await;
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/w/ops/p/db")));
    let grant = t
        .admin()
        .all_project_members("ops", "db")
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.source == breakglass_api::BindingSource::Grant)
        .unwrap();
    assert_eq!((grant.user.as_str(), grant.reason.as_deref()), ("mel@example.com", Some("INC-7")));

    let r = b
        .submit(
            &page,
            "/check",
            &[("user", "mel@example.com"), ("workspace", "ops"), ("project", "db"), ("role", "user")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Yes: mel@example.com holds user on ops / db"), "a higher role answers yes");

    let r = b.submit(&page, &format!("/w/ops/grants/{}/revoke", grant.id), &[("back", "/w/ops/p/db")]).await;
    assert_eq!((r.status, r.location.as_deref()), (303, Some("/w/ops/p/db")));
    let r = b
        .submit(
            &page,
            "/check",
            &[("user", "mel@example.com"), ("workspace", "ops"), ("project", "db"), ("role", "user")],
        )
        .await;
    assert!(r.body.contains("No: mel@example.com does not hold user"));
    assert!(r.body.contains("no_binding"));
}

#[tokio::test]
async fn tokens_and_service_user_secrets_are_shown_once_and_revocation_is_immediate() {
    let t = TestApp::start().await;
    t.user("owen@example.com").await;
    t.workspace("ops", &["owen@example.com"]).await;
    t.project("ops", "db").await;
    t.admin()
        .register_platform(&breakglass_client::api::RegisterPlatform {
            identifier: "aws-prod".into(),
            kind: "aws".into(),
            name: "AWS production".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut b = Browser::new(&t);
    let page = b.sign_in("owen@example.com").await;

    let r = b
        .submit(
            &page,
            "/tokens",
            &[("name", "ci"), ("scope", "ops"), ("expires", "30d"), ("read_only", "true")],
        )
        .await;
    assert_eq!(r.status, 200);
    let at = r.body.find(r#"id="token-secret">"#).unwrap() + r#"id="token-secret">"#.len();
    let secret = r.body[at..].split('<').next().unwrap().to_owned();
    assert!(secret.starts_with("bgt_"));
    let token_client = t.client(&secret);
    assert!(token_client.me().await.unwrap().read_only, "a working read-only token");
    let listed = b.get("/accesses").await;
    assert!(!listed.body.contains(&secret), "the secret is never shown again");
    let id = t
        .login("owen@example.com")
        .await
        .all_tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "ci")
        .unwrap()
        .id;
    let r = b.submit(&page, &format!("/tokens/{id}/revoke"), &[]).await;
    assert_eq!(r.status, 303);
    assert!(token_client.me().await.is_err(), "revoked at once");

    let r = b
        .submit(&page, "/w/ops/p/db/tenants", &[("platform", "aws-prod"), ("external_id", "123456789012")])
        .await;
    assert_eq!(r.status, 303);
    let r = b.submit(&page, "/w/ops/p/db/tenants/aws-prod/service-users", &[("name", "")]).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains(r#"id="su-aws-prod-name-error""#), "the error sits with the name field");
    let r = b.submit(&page, "/w/ops/p/db/tenants/aws-prod/service-users", &[("name", "deployer")]).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("bgu_"), "the service user's secret is shown once");
    assert!(!b.get("/w/ops/p/db").await.body.contains("bgu_"));
    assert_eq!(t.events_of("SERVICE_USER_CREATED").await.len(), 1);
}

/// A response header as text.
fn response_header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[tokio::test]
async fn pages_forbid_inline_script_and_load_the_one_script_from_the_server() {
    let t = TestApp::start().await;
    let http = reqwest::Client::new();
    let page = http.get(format!("{}/login", t.url)).header("accept", "text/html").send().await.unwrap();
    assert_eq!(response_header(&page, "x-content-type-options").as_deref(), Some("nosniff"));
    let csp = response_header(&page, "content-security-policy").expect("a Content-Security-Policy");
    let directive = |name: &str| {
        csp.split(';').map(str::trim).find(|d| d.starts_with(name)).unwrap_or_default().to_owned()
    };
    assert_eq!(directive("script-src"), "script-src 'self'", "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        directive("style-src").starts_with("style-src 'sha256-"),
        "the inlined stylesheet by digest: {csp}"
    );
    // A signed-in page carries no inline script; its script tag points at the served file.
    t.user("ann@example.com").await;
    let mut b = Browser::new(&t);
    let html = b.sign_in("ann@example.com").await.body;
    let mut scripts = 0;
    for (at, _) in html.match_indices("<script") {
        let tag = &html[at..at + html[at..].find('>').unwrap()];
        let src = tag.split("src=\"").nth(1).and_then(|s| s.split('"').next()).expect("a script with src");
        assert!(src.starts_with("/static/app.js?v="), "{tag}");
        assert!(html[at..].starts_with(&format!("{tag}></script>")), "nothing inline in {tag}");
        let js = http.get(format!("{}{src}", t.url)).send().await.unwrap();
        assert_eq!(js.status(), 200);
        assert_eq!(response_header(&js, "content-type").as_deref(), Some("text/javascript; charset=utf-8"));
        assert_eq!(response_header(&js, "x-content-type-options").as_deref(), Some("nosniff"));
        scripts += 1;
    }
    assert_eq!(scripts, 1, "the dashboard loads the script once: {html}");
    // No inline event handlers either (the policy forbids them too).
    for attr in [" onchange=", " onclick=", " onsubmit=", " onload=", " oninput="] {
        assert!(!html.contains(attr), "{attr} in {html}");
    }
}

/// The opening tag of the element with `id` on the page.
fn tag_with_id<'a>(body: &'a str, id: &str) -> Option<&'a str> {
    let at = body.find(&format!(r#"id="{id}""#))?;
    let start = body[..at].rfind('<')?;
    Some(&body[start..at + body[at..].find('>')?])
}

#[tokio::test]
async fn each_page_offers_exactly_the_actions_its_visitor_may_take() {
    use breakglass_client::api::{EntitlementBody, PolicyBody, PolicyStep};
    let t = TestApp::start().await;
    t.user("olga@example.com").await;
    let dave = t.user("dave@example.com").await;
    t.user("paula@example.com").await;
    t.workspace("ops", &["olga@example.com"]).await;
    t.workspace("lab", &["olga@example.com"]).await;
    t.project("ops", "db").await;
    let olga = t.login("olga@example.com").await;
    for (ws, who) in [("ops", "paula@example.com"), ("lab", "paula@example.com"), ("ops", "dave@example.com")]
    {
        olga.set_workspace_member(ws, who, &member("member")).await.unwrap();
    }

    // The owner of a live delegate access sees Share, Unshare and Revoke; its recipient sees
    // none of them, but is offered Accept on the dashboard.
    let shared = olga
        .create_access(&CreateAccess {
            name: "cover".into(),
            kind: "delegate".into(),
            recipients: vec!["dave@example.com".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let id = shared.access.id.clone();
    let mut owner = Browser::new(&t);
    owner.sign_in("olga@example.com").await;
    let page = owner.get("/accesses").await;
    assert_eq!(page.status, 200);
    for action in [
        format!("/accesses/{id}/revoke"),
        format!("/accesses/{id}/recipients"),
        format!("/accesses/{id}/recipients/remove"),
    ] {
        assert!(page.body.contains(&format!(r#"action="{action}""#)), "the owner is offered {action}");
    }
    let mut recipient = Browser::new(&t);
    let home = recipient.sign_in("dave@example.com").await;
    assert!(
        home.body.contains("Accesses shared with you"),
        "the dashboard lists the access shared with dave"
    );
    assert!(home.body.contains(&format!(r#"action="/accesses/{id}/accept""#)), "dave is offered Accept");
    let page = recipient.get("/accesses").await;
    assert!(page.body.contains("olga@example.com"), "dave sees who shares with him");
    assert!(!page.body.contains(&format!("/accesses/{id}/revoke")), "dave is not offered Revoke");
    assert!(!page.body.contains(&format!("/accesses/{id}/recipients")), "nor Share or Unshare");

    // Once accepted, Accept is gone; once revoked, the owner is offered nothing more on it.
    dave.accept_access(&id, &shared.codes[0].code).await.unwrap();
    assert!(!recipient.get("/").await.body.contains(&format!("/accesses/{id}/accept")));
    olga.revoke_access(&id).await.unwrap();
    let page = owner.get("/accesses").await;
    assert!(!page.body.contains(&format!("/accesses/{id}/revoke")), "a revoked access offers no Revoke");
    assert!(!page.body.contains(&format!("/accesses/{id}/recipients")), "nor Share or Unshare");

    // The emergency toggle: absent where no role allows emergency access; where only some do,
    // hidden while a role that does not is selected, and shown for one that does. A stylesheet
    // rule keeps `hidden` stronger than the toggle's own layout.
    let policy = t
        .admin()
        .create_policy(&PolicyBody {
            name: "break glass".into(),
            workspace: None,
            steps: vec![PolicyStep { approvers: "workspace_managers".into(), users: Vec::new(), count: 1 }],
            max_duration: Some("1h".into()),
            justification_required: None,
            pending_ttl: None,
        })
        .await
        .unwrap();
    olga.set_project_entitlement(
        "ops",
        "db",
        "admin",
        &EntitlementBody {
            request_policy: None,
            emergency_enabled: true,
            emergency_policy: Some(policy.id.clone()),
        },
    )
    .await
    .unwrap();
    let mut paula = Browser::new(&t);
    paula.sign_in("paula@example.com").await;
    let lab = paula.get("/request?ws=lab").await;
    assert_eq!(lab.status, 200);
    assert!(!lab.body.contains("emergency-box"), "no role on lab allows emergency access");
    let ops = paula.get("/request?ws=ops").await;
    let box_tag = tag_with_id(&ops.body, "emergency-box").expect("some role on ops allows emergency access");
    assert!(box_tag.contains(r#"data-allowed="db|admin""#), "{box_tag}");
    let first = ops.body.split("<option ").nth(1).unwrap();
    assert!(!first.contains("db|admin"), "the first role does not allow emergency access: {first}");
    assert!(box_tag.contains(" hidden"), "hidden for the role first selected: {box_tag}");
    let refused = paula
        .submit(&ops, "/request", &[("workspace", "ops"), ("target", "db|admin"), ("duration", "99d")])
        .await;
    assert!(matches!(refused.status, 400 | 422), "refused: {} {}", refused.status, refused.body);
    let box_tag = tag_with_id(&refused.body, "emergency-box").unwrap();
    assert!(!box_tag.contains(" hidden"), "shown for the role selected in the form: {box_tag}");
    assert!(ops.body.contains("[hidden]{display:none!important}"), "hidden wins over the toggle's layout");
}

#[tokio::test]
async fn a_long_list_is_paged_with_a_more_link_never_cut_silently() {
    let t = TestApp::start().await;
    t.user("olga@example.com").await;
    let olga = t.login("olga@example.com").await;
    for n in 0..105 {
        olga.create_access(&CreateAccess {
            name: format!("access {n:03}"),
            kind: "delegate".into(),
            recipients: vec![format!("r{n}@example.com")],
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let mut b = Browser::new(&t);
    b.sign_in("olga@example.com").await;
    let first = b.get("/accesses").await;
    let shown =
        |p: &Page| (0..105).filter(|n| p.body.contains(&format!("access {n:03}<"))).collect::<Vec<_>>();
    let on_first = shown(&first);
    assert_eq!(on_first.len(), 100, "one page of 100");
    let at = first.body.find(r#"rel="next""#).expect("a link to the next page");
    let href_at = first.body[..at].rfind("href=\"").unwrap() + "href=\"".len();
    let href = first.body[href_at..].split('"').next().unwrap().replace("&amp;", "&");
    assert!(href.starts_with("/accesses?accesses="), "{href}");
    let second = b.get(&href).await;
    let on_second = shown(&second);
    assert_eq!(on_second.len(), 5, "the rest");
    assert!(on_second.iter().all(|n| !on_first.contains(n)), "nothing twice");
    assert!(!second.body.contains(r#"rel="next""#), "the last page links no further");
}
