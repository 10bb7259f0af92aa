//! Unit tests: URL building, problem decoding, and a few calls against a canned HTTP server.

use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn client(base: &str) -> Client {
    Client::new(base, None).unwrap()
}

#[test]
fn urls_join_the_base_and_encode_segments() {
    let cases = [
        ("http://h:1", &["healthz"][..], "http://h:1/healthz"),
        ("http://h:1/", &["healthz"][..], "http://h:1/healthz"),
        ("http://h:1/bg", &["healthz"][..], "http://h:1/bg/healthz"),
        ("http://h:1/bg/", &["healthz"][..], "http://h:1/bg/healthz"),
        (
            "http://h:1",
            &["api", "v1", "workspaces", "acme", "members", "a.b+c@x.io"][..],
            "http://h:1/api/v1/workspaces/acme/members/a.b+c@x.io",
        ),
        ("http://h:1", &["m", "a/b?c#d e%f"][..], "http://h:1/m/a%2Fb%3Fc%23d%20e%25f"),
        ("http://h:1", &["m", "é"][..], "http://h:1/m/%C3%A9"),
    ];
    for (base, segments, want) in cases {
        assert_eq!(client(base).url(segments).unwrap().as_str(), want, "{base} {segments:?}");
    }
    assert_eq!(client("http://h:1").api(&["me"]).unwrap().as_str(), "http://h:1/api/v1/me");
}

#[test]
fn segments_that_would_address_another_resource_are_refused() {
    let c = client("http://h:1");
    for bad in ["", ".", ".."] {
        let err = c.api(&["workspaces", bad]).unwrap_err();
        assert!(matches!(err, ClientError::InvalidUrl(_)), "{bad:?}: {err}");
    }
}

#[test]
fn base_urls_are_checked() {
    for bad in ["", "127.0.0.1:8080", "ftp://h", "mailto:a@b", "http://h/?x=1", "http://h/#f"] {
        assert!(matches!(Client::new(bad, None), Err(ClientError::InvalidUrl(_))), "{bad:?}");
    }
    assert!(Client::new(" https://h.example/ ", None).is_ok());
}

#[test]
fn the_token_is_redacted_from_debug() {
    let c = Client::new("http://h", Some("s3cret".into())).unwrap();
    assert!(!format!("{c:?}").contains("s3cret"));
    assert_eq!(c.token(), Some("s3cret"));
    assert_eq!(c.anonymous().token(), None);
    assert_eq!(c.with_token("other").token(), Some("other"));
}

#[test]
fn problem_bodies_decode_as_they_are() {
    let body = br#"{"type":"about:blank","title":"Unprocessable","status":422,
        "detail":"workspace 'x' already has its quota of 2 projects",
        "code":"workspace.quota_exceeded"}"#;
    let problem = decode_problem(422, body);
    assert_eq!(problem.code, "workspace.quota_exceeded");
    let err = ClientError::Api { status: 422, problem };
    assert_eq!(
        err.to_string(),
        "workspace.quota_exceeded: workspace 'x' already has its quota of 2 projects"
    );
    assert_eq!(err.status(), Some(422));
    assert_eq!(err.code(), Some("workspace.quota_exceeded"));
}

#[test]
fn other_error_bodies_become_http_status_problems() {
    let p = decode_problem(404, b"");
    assert_eq!((p.code.as_str(), p.detail.as_str()), ("http.404", "Not Found"));
    assert_eq!((p.status, p.title.as_str()), (404, "Not Found"));

    let p = decode_problem(400, b"Failed to parse\nthe request body");
    assert_eq!(p.code, "http.400");
    assert_eq!(p.detail, "Failed to parse the request body");

    let p = decode_problem(500, br#"{"error":"boom"}"#);
    assert_eq!(p.code, "http.500");
    assert_eq!(p.detail, r#"{"error":"boom"}"#);

    let p = decode_problem(502, "x".repeat(1000).as_bytes());
    assert_eq!(p.detail.chars().count(), 201);

    let p = decode_problem(599, b"");
    assert_eq!((p.code.as_str(), p.detail.as_str()), ("http.599", "Error"));
}

/// A server that answers each connection with the next canned response and reports the
/// request heads (and bodies) it got.
async fn canned(responses: Vec<String>) -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let mut seen = Vec::new();
        for response in responses {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let n = socket.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length || n == 0 {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            seen.push(String::from_utf8_lossy(&buf).into_owned());
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
        }
        seen
    });
    (base, handle)
}

fn response(status: &str, headers: &[&str], body: &str) -> String {
    let mut out = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    out
}

#[tokio::test]
async fn calls_decode_answers_problems_and_sequence_numbers() {
    let workspace = r#"{"identifier":"acme","name":"Acme","status":"active",
        "project_quota":2,"project_count":0,"open_reviews":0,"created_at":"2026-01-01T00:00:00Z"}"#;
    let problem = r#"{"type":"about:blank","title":"Conflict","status":409,
        "detail":"workspace 'acme' exists","code":"workspace.exists"}"#;
    let (base, server) = canned(vec![
        response("201 Created", &["content-type: application/json", "breakglass-seq: 7"], workspace),
        response("409 Conflict", &["content-type: application/problem+json"], problem),
        response("204 No Content", &["breakglass-seq: 9"], ""),
        response("200 OK", &["content-type: application/json"], "[1,2]"),
        response("404 Not Found", &["content-type: text/plain"], ""),
    ])
    .await;
    let c = Client::new(&base, Some("tok".into())).unwrap();
    assert_eq!(c.last_seq(), None);

    let body = CreateWorkspace {
        identifier: "acme".into(),
        name: "Acme".into(),
        owners: vec![],
        project_quota: Some(2),
        members: vec![],
        tags: Default::default(),
    };
    let ws = c.create_workspace(&body).await.unwrap();
    assert_eq!((ws.identifier.as_str(), ws.project_quota), ("acme", 2));
    assert_eq!(c.last_seq(), Some(7));

    let err = c.create_workspace(&body).await.unwrap_err();
    assert_eq!(err.to_string(), "workspace.exists: workspace 'acme' exists");
    assert_eq!(err.status(), Some(409));

    c.remove_workspace_member("acme", "a b@x.io").await.unwrap();
    assert_eq!(c.clone().last_seq(), Some(9));

    let err = c.me().await.unwrap_err();
    assert!(matches!(err, ClientError::Decode(_)), "{err}");

    let err = c.workspace("nope").await.unwrap_err();
    assert_eq!(err.code(), Some("http.404"));

    let seen = server.await.unwrap();
    assert!(seen[0].starts_with("POST /api/v1/workspaces HTTP/1.1\r\n"));
    assert!(seen[0].to_ascii_lowercase().contains("authorization: bearer tok\r\n"));
    assert!(seen[0].ends_with(r#"{"identifier":"acme","name":"Acme","project_quota":2}"#));
    assert!(seen[2].starts_with("DELETE /api/v1/workspaces/acme/members/a%20b@x.io HTTP/1.1"));
    assert!(seen[3].starts_with("GET /api/v1/me HTTP/1.1"));
}

#[tokio::test]
async fn paging_helpers_follow_cursors_and_queries_are_encoded() {
    let event = |seq: i64| {
        format!(
            r#"{{"seq":{seq},"time":"2026-01-01T00:00:00Z","type":"USER_ASSIGNED",
            "actor":"system","details":{{}},"prev_hash":"00","hash":"11"}}"#
        )
    };
    let (base, server) = canned(vec![
        response("200 OK", &[], &format!(r#"{{"items":[{}],"next_cursor":"c 1"}}"#, event(1))),
        response("200 OK", &[], &format!(r#"{{"items":[{}]}}"#, event(2))),
        response("200 OK", &[], r#"{"items":[],"next_cursor":"same"}"#),
        response("200 OK", &[], r#"{"items":[],"next_cursor":"same"}"#),
    ])
    .await;
    let c = client(&base);
    let query = AuditQuery {
        workspace: Some("acme".into()),
        project: Some("web".into()),
        event_type: Some("USER_ASSIGNED,USER_REMOVED".into()),
        after: Some(0),
        limit: Some(1),
        ..AuditQuery::default()
    };
    let events = c.all_history("acme", Some("web"), &query).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);

    let err = c.all_users().await.unwrap_err();
    assert!(matches!(err, ClientError::Decode(_)), "{err}");

    let seen = server.await.unwrap();
    assert!(
        seen[0].starts_with(
            "GET /api/v1/workspaces/acme/projects/web/history\
             ?type=USER_ASSIGNED%2CUSER_REMOVED&after=0&limit=1 HTTP/1.1"
        ),
        "{}",
        seen[0]
    );
    assert!(seen[1].starts_with(
        "GET /api/v1/workspaces/acme/projects/web/history\
         ?type=USER_ASSIGNED%2CUSER_REMOVED&after=0&limit=1&cursor=c+1 HTTP/1.1"
    ));
    assert!(seen[2].starts_with("GET /api/v1/users HTTP/1.1"));
    assert!(seen[3].starts_with("GET /api/v1/users?cursor=same HTTP/1.1"));
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error_on_one_line() {
    let c = client("http://127.0.0.1:1");
    let err = c.health().await.unwrap_err();
    assert!(matches!(err, ClientError::Transport(_)), "{err}");
    let line = err.to_string();
    assert!(line.starts_with("cannot reach http://127.0.0.1:1/healthz: "), "{line}");
    assert!(!line.contains('\n'));
}

const BINDING: &str = r#"{"id":"b1","user":"bob@x.io","workspace":"acme","role":"member",
    "source":"direct","starts_at":"2026-01-01T00:00:00Z"}"#;

/// A pending request for `bob@x.io` that carries one of two approvals.
fn request_json(id: &str, state: &str) -> String {
    format!(
        r#"{{"id":"{id}","user":"bob@x.io","created_by":"mia@x.io","workspace":"acme","role":"manager",
        "emergency":false,"state":"{state}",
        "policy":{{"id":"p1","name":"four eyes","steps":[{{"approvers":"workspace_managers","count":2}}],
            "justification_required":true,"pending_ttl":"7d",
            "created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}},
        "approvals":[{{"by":"mia@x.io","step":1,"at":"2026-01-01T00:00:00Z","override":false}}],
        "current_step":1,"quorum_unreachable":false,
        "created_at":"2026-01-01T00:00:00Z","lapses_at":"2026-01-08T00:00:00Z"}}"#
    )
}

#[tokio::test]
async fn assignments_are_decided_by_the_status_code() {
    let pending = request_json("r1", "pending");
    let (base, server) = canned(vec![
        response("200 OK", &["breakglass-seq: 3"], BINDING),
        response("202 Accepted", &["breakglass-seq: 4"], &pending),
        response("201 Created", &[], BINDING),
        response("202 Accepted", &[], &pending),
        response("202 Accepted", &[], BINDING),
        response(
            "403 Forbidden",
            &[],
            r#"{"title":"Forbidden","status":403,"detail":"no","code":"authz.forbidden"}"#,
        ),
    ])
    .await;
    let c = client(&base);
    let member =
        SetMember { role: "manager".into(), justification: Some("on call".into()), ..Default::default() };

    let a = c.set_workspace_member("acme", "bob@x.io", &member).await.unwrap();
    assert!(!a.is_request());
    assert_eq!(a.clone().binding().map(|b| b.id), Some("b1".into()));
    assert_eq!(a.clone().request(), None);
    assert_eq!(a.expect_binding().role, breakglass_api::Role::Member);

    let a = c.set_project_member("acme", "web", "bob@x.io", &member).await.unwrap();
    assert!(a.is_request());
    assert_eq!(a.clone().binding(), None);
    let r = a.request().unwrap();
    assert_eq!((r.id.as_str(), r.state.as_str(), r.approvals.len()), ("r1", "pending", 1));
    assert_eq!(c.last_seq(), Some(4), "a 202 carries the sequence of the request it opened");

    let grant = CreateGrant {
        user: "bob@x.io".into(),
        workspace: "acme".into(),
        role: "owner".into(),
        expires_in: Some("1h".into()),
        ..Default::default()
    };
    assert_eq!(c.create_grant(&grant).await.unwrap().expect_binding().id, "b1");
    let a = c.create_grant(&grant).await.unwrap();
    assert_eq!(
        serde_json::to_value(&a).unwrap(),
        serde_json::from_str::<serde_json::Value>(&pending).unwrap()
    );

    let err = c.create_grant(&grant).await.unwrap_err();
    assert!(matches!(err, ClientError::Decode(_)), "a 202 must hold a request: {err}");
    let err = c.set_workspace_member("acme", "bob@x.io", &member).await.unwrap_err();
    assert_eq!(err.code(), Some("authz.forbidden"));

    let seen = server.await.unwrap();
    assert!(seen[0].starts_with("PUT /api/v1/workspaces/acme/members/bob@x.io HTTP/1.1"));
    assert!(seen[0].ends_with(r#"{"role":"manager","justification":"on call"}"#), "{}", seen[0]);
    assert!(seen[1].starts_with("PUT /api/v1/workspaces/acme/projects/web/members/bob@x.io HTTP/1.1"));
    assert!(seen[2].starts_with("POST /api/v1/grants HTTP/1.1"));
}

#[test]
#[should_panic(expected = "expected a binding, got request r9 (pending)")]
fn expect_binding_names_the_request() {
    let r: api::Request = serde_json::from_str(&request_json("r9", "pending")).unwrap();
    Assignment::Request(r).expect_binding();
}

#[tokio::test]
async fn request_verbs_send_the_right_bodies() {
    let granted = request_json("r1", "granted");
    let review = r#"{"id":"v1","request_id":"r1","binding_id":"b1","holder":"bob@x.io","workspace":"acme",
        "role":"manager","opened_at":"2026-01-01T00:00:00Z","state":"completed","outcome":"justified"}"#;
    let (base, server) = canned(vec![
        response("200 OK", &[], &granted),
        response("200 OK", &[], &granted),
        response("200 OK", &[], &granted),
        response("200 OK", &[], &granted),
        response("200 OK", &[], &granted),
        response("200 OK", &[], review),
        response("201 Created", &[], &granted),
    ])
    .await;
    let c = client(&base);
    assert_eq!(c.approve_request("r1", false).await.unwrap().state, breakglass_api::RequestState::Granted);
    c.approve_request("r1", true).await.unwrap();
    c.deny_request("r1", "not now").await.unwrap();
    c.cancel_request("r1").await.unwrap();
    c.escalate_request("r/1").await.unwrap();
    let done =
        c.complete_review("v1", &CompleteReview { outcome: "justified".into(), notes: None }).await.unwrap();
    assert_eq!(done.outcome.map(|o| o.as_str()), Some("justified"));
    let body = CreateRequest {
        workspace: "acme".into(),
        role: "manager".into(),
        duration: "1h".into(),
        emergency: true,
        ..Default::default()
    };
    c.create_request(&body).await.unwrap();

    let seen = server.await.unwrap();
    let no_body = |s: &str| s.ends_with("\r\n\r\n") && !s.to_ascii_lowercase().contains("content-type");
    assert!(seen[0].starts_with("POST /api/v1/requests/r1/approve HTTP/1.1"));
    assert!(no_body(&seen[0]), "a plain approval has no body: {}", seen[0]);
    assert!(seen[1].ends_with(r#"{"override":true}"#), "{}", seen[1]);
    assert!(seen[2].starts_with("POST /api/v1/requests/r1/deny HTTP/1.1"));
    assert!(seen[2].ends_with(r#"{"reason":"not now"}"#));
    assert!(seen[3].starts_with("POST /api/v1/requests/r1/cancel HTTP/1.1") && no_body(&seen[3]));
    assert!(seen[4].starts_with("POST /api/v1/requests/r%2F1/escalate HTTP/1.1") && no_body(&seen[4]));
    assert!(seen[5].starts_with("POST /api/v1/reviews/v1/complete HTTP/1.1"));
    assert!(seen[5].ends_with(r#"{"outcome":"justified"}"#));
    assert!(seen[6].starts_with("POST /api/v1/requests HTTP/1.1"));
    assert!(
        seen[6].ends_with(r#"{"workspace":"acme","role":"manager","duration":"1h","emergency":true}"#),
        "{}",
        seen[6]
    );
}

#[tokio::test]
async fn filtered_lists_follow_cursors_and_keep_their_filters() {
    let page = |items: &str, next: Option<&str>| match next {
        Some(n) => format!(r#"{{"items":[{items}],"next_cursor":"{n}"}}"#),
        None => format!(r#"{{"items":[{items}]}}"#),
    };
    let pending = request_json("r1", "pending");
    let (base, server) = canned(vec![
        response("200 OK", &[], &page(&pending, Some("n1"))),
        response("200 OK", &[], &page(&request_json("r2", "pending"), None)),
        response("200 OK", &[], &page("", None)),
        response(
            "200 OK",
            &[],
            &page(&format!(r#"{{"request":{pending},"can_approve":true,"override_only":false}}"#), None),
        ),
        response("200 OK", &[], &page("", None)),
    ])
    .await;
    let c = client(&base);
    let query = RequestQuery {
        scope: Some("visible".into()),
        state: Some("pending".into()),
        workspace: Some("acme".into()),
        ..Default::default()
    };
    let all = c.all_requests(&query).await.unwrap();
    assert_eq!(all.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["r1", "r2"]);
    let reviews = c
        .all_reviews(&ReviewQuery {
            state: Some("all".into()),
            cursor: Some("start".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(reviews.is_empty());
    let tasks = c.all_tasks().await.unwrap();
    assert!(tasks[0].can_approve && tasks[0].request.id == "r1");
    assert!(c
        .all_policies(&PolicyQuery { workspace: Some("acme".into()), ..Default::default() })
        .await
        .unwrap()
        .is_empty());

    let seen = server.await.unwrap();
    assert!(seen[0].starts_with("GET /api/v1/requests?scope=visible&state=pending&workspace=acme HTTP/1.1"));
    assert!(
        seen[1].starts_with("GET /api/v1/requests?scope=visible&state=pending&workspace=acme&cursor=n1 HTTP")
    );
    assert!(seen[2].starts_with("GET /api/v1/reviews?state=all&cursor=start HTTP/1.1"), "{}", seen[2]);
    assert!(seen[3].starts_with("GET /api/v1/tasks HTTP/1.1"));
    assert!(seen[4].starts_with("GET /api/v1/policies?workspace=acme HTTP/1.1"));
}

const WORKSPACE: &str = r#"{"identifier":"acme","name":"Acme","status":"pending_approval",
    "project_quota":2,"project_count":0,"open_reviews":0,"tags":{"cost-center":"42"},
    "created_at":"2026-01-01T00:00:00Z"}"#;
const PROJECT: &str = r#"{"workspace":"acme","identifier":"web","name":"Web","tags":{"env":"prod"},
    "created_at":"2026-01-01T00:00:00Z"}"#;
const INVITATION: &str = r#"{"id":"i1","workspace":"acme","email":"new@x.io","role":"member",
    "invited_by":"mia@x.io","state":"pending","created_at":"2026-01-01T00:00:00Z",
    "expires_at":"2026-01-08T00:00:00Z"}"#;
const MESSAGE: &str = r#"{"id":"m1","workspace":"acme","text":"patch day","mode":"single_read",
    "sender":"admin@localhost","created_at":"2026-01-01T00:00:00Z",
    "acknowledgements":[{"user":"bob@x.io","at":"2026-01-01T01:00:00Z"}]}"#;

/// The request line of a request head.
fn request_line(seen: &str) -> &str {
    seen.lines().next().unwrap_or_default()
}

/// The body of a request (after the head), empty when there is none.
fn body(seen: &str) -> &str {
    seen.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default()
}

#[tokio::test]
async fn workspace_lifecycle_calls_use_their_paths_and_bodies() {
    let ws = || response("200 OK", &[], WORKSPACE);
    let (base, server) = canned(vec![
        response("201 Created", &[], WORKSPACE),
        response("200 OK", &[], &format!(r#"{{"items":[{WORKSPACE}],"next_cursor":"n 1"}}"#)),
        response("200 OK", &[], r#"{"items":[]}"#),
        ws(),
        ws(),
        ws(),
        ws(),
        ws(),
        ws(),
        response("201 Created", &[], BINDING),
        response("201 Created", &[], BINDING),
        response("204 No Content", &[], ""),
        response("200 OK", &[], &format!(r#"{{"items":[{PROJECT}]}}"#)),
    ])
    .await;
    let c = client(&base);
    let mut tags = std::collections::BTreeMap::new();
    tags.insert("cost-center".to_owned(), "42".to_owned());
    let registered = c
        .register_workspace(&RegisterWorkspace { identifier: "acme".into(), name: "Acme".into(), tags })
        .await
        .unwrap();
    assert_eq!(registered.status, breakglass_api::WorkspaceStatus::PendingApproval);
    assert_eq!(registered.tags.get("cost-center").map(String::as_str), Some("42"));

    let query = ListQuery {
        status: Some("pending_approval".into()),
        tag: Some("cost-center:42".into()),
        ..Default::default()
    };
    let all = c.all_workspaces_filtered(&query).await.unwrap();
    assert_eq!(all.len(), 1);

    c.update_workspace("acme", &UpdateWorkspace { name: Some("Acme Corp".into()), identifier: None })
        .await
        .unwrap();
    c.approve_workspace("acme", None).await.unwrap();
    c.reject_workspace("acme", Some("spam")).await.unwrap();
    c.disable_workspace("acme", Some("no payment")).await.unwrap();
    c.enable_workspace("acme", None).await.unwrap();
    c.set_quota("acme", 5).await.unwrap();
    c.add_myself("acme", &AddMyself::default()).await.unwrap();
    c.add_myself("acme", &AddMyself { expires_in: Some("2h".into()), expires_at: None }).await.unwrap();
    c.leave_workspace("acme").await.unwrap();
    let projects = c
        .all_projects_filtered(
            "acme",
            &ListQuery { status: Some("active".into()), tag: Some("env".into()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(projects[0].tags.get("env").map(String::as_str), Some("prod"));

    let seen = server.await.unwrap();
    let lines: Vec<&str> = seen.iter().map(|s| request_line(s)).collect();
    assert_eq!(
        lines,
        [
            "POST /api/v1/workspaces/register HTTP/1.1",
            "GET /api/v1/workspaces?status=pending_approval&tag=cost-center%3A42 HTTP/1.1",
            "GET /api/v1/workspaces?status=pending_approval&tag=cost-center%3A42&cursor=n+1 HTTP/1.1",
            "PATCH /api/v1/workspaces/acme HTTP/1.1",
            "POST /api/v1/workspaces/acme/approve HTTP/1.1",
            "POST /api/v1/workspaces/acme/reject HTTP/1.1",
            "POST /api/v1/workspaces/acme/disable HTTP/1.1",
            "POST /api/v1/workspaces/acme/enable HTTP/1.1",
            "PUT /api/v1/workspaces/acme/quota HTTP/1.1",
            "POST /api/v1/workspaces/acme/members/me HTTP/1.1",
            "POST /api/v1/workspaces/acme/members/me HTTP/1.1",
            "DELETE /api/v1/workspaces/acme/members/me HTTP/1.1",
            "GET /api/v1/workspaces/acme/projects?tag=env HTTP/1.1",
        ]
    );
    let bodies: Vec<&str> = seen.iter().map(|s| body(s)).collect();
    assert_eq!(
        bodies,
        [
            r#"{"identifier":"acme","name":"Acme","tags":{"cost-center":"42"}}"#,
            "",
            "",
            r#"{"name":"Acme Corp"}"#,
            "",
            r#"{"reason":"spam"}"#,
            r#"{"reason":"no payment"}"#,
            "",
            r#"{"project_quota":5}"#,
            "",
            r#"{"expires_in":"2h"}"#,
            "",
            "",
        ]
    );
}

#[tokio::test]
async fn invitation_tag_message_and_settings_calls_use_their_paths_and_bodies() {
    let session = r#"{"token":"s1","expires_at":"2026-01-02T00:00:00Z","user":{"id":"u1",
        "email":"new@x.io","name":"New","admin_role":"none","status":"active",
        "created_at":"2026-01-01T00:00:00Z"}}"#;
    let definition = r#"{"key":"cost-center","target":"workspace","restricted":true,
        "pattern":"[0-9]+","mandatory":true,"default":"0"}"#;
    let settings = r#"{"workspace_registration":"approval","signup":"invited_only",
        "invitation_ttl_days":7,"default_project_quota":20,"restrict_admin_role_assignment":false,
        "add_myself_default_expiry":"8h","add_myself_max_expiry":"7d"}"#;
    let page = |item: &str| format!(r#"{{"items":[{item}]}}"#);
    let created = INVITATION.replace(r#""state":"pending","#, r#""state":"pending","token":"bgi_s3cret","#);
    let (base, server) = canned(vec![
        response("201 Created", &[], &created),
        response("200 OK", &[], &page(INVITATION)),
        response("204 No Content", &[], ""),
        response("200 OK", &[], INVITATION),
        response("200 OK", &[], INVITATION),
        response("200 OK", &[], &page(INVITATION)),
        response("201 Created", &[], session),
        response("200 OK", &[], definition),
        response("200 OK", &[], &page(definition)),
        response("204 No Content", &[], ""),
        response("200 OK", &[], WORKSPACE),
        response("200 OK", &[], WORKSPACE),
        response("200 OK", &[], PROJECT),
        response("200 OK", &[], PROJECT),
        response("201 Created", &[], MESSAGE),
        response("200 OK", &[], &page(MESSAGE)),
        response("200 OK", &[], &page(MESSAGE)),
        response("204 No Content", &[], ""),
        response("200 OK", &[], settings),
        response("200 OK", &[], settings),
    ])
    .await;
    let c = client(&base);
    let inv = c
        .invite(
            "acme",
            &CreateInvitation {
                email: "new@x.io".into(),
                role: "member".into(),
                expires_in: Some("30d".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((inv.id.as_str(), inv.state.as_str()), ("i1", "pending"));
    let secret = inv.token.expect("the secret comes with the invitation that created it");
    assert_eq!(secret, "bgi_s3cret");
    let listed = c.all_workspace_invitations("acme").await.unwrap();
    assert_eq!((listed.len(), listed[0].token.as_deref()), (1, None), "lists carry no secret");
    c.cancel_invitation("i1").await.unwrap();
    assert_eq!(c.accept_invitation("i1", &secret).await.unwrap().token, None);
    c.decline_invitation("i/1").await.unwrap();
    assert_eq!(c.all_my_invitations().await.unwrap()[0].email, "new@x.io");
    let signed_up = c
        .signup(&Signup {
            email: "new@x.io".into(),
            name: "New".into(),
            password: "a long password".into(),
            invitation_token: Some(secret.clone()),
        })
        .await
        .unwrap();
    assert_eq!(signed_up.token, "s1");

    let def: TagDefinition = serde_json::from_str(definition).unwrap();
    assert_eq!(c.define_tag(&def).await.unwrap(), def);
    assert_eq!(c.all_tag_definitions().await.unwrap(), [def]);
    c.remove_tag_definition("cost-center").await.unwrap();
    c.set_workspace_tag("acme", "cost-center", "42").await.unwrap();
    assert_eq!(c.remove_workspace_tag("acme", "owner team").await.unwrap().identifier, "acme");
    c.set_project_tag("acme", "web", "env", "prod").await.unwrap();
    assert_eq!(c.remove_project_tag("acme", "web", "env").await.unwrap().identifier, "web");

    let sent = c
        .send_message("acme", &SendMessage { text: "patch day".into(), mode: "single_read".into() })
        .await
        .unwrap();
    assert_eq!(sent.acknowledgements[0].user, "bob@x.io");
    assert_eq!(c.all_workspace_messages("acme").await.unwrap().len(), 1);
    assert_eq!(c.all_my_messages().await.unwrap()[0].id, "m1");
    c.ack_message("m1").await.unwrap();
    assert_eq!(c.settings().await.unwrap().invitation_ttl_days, Some(7));
    let change = Settings { signup: Some("open".into()), invitation_ttl_days: Some(3), ..Default::default() };
    c.update_settings(&change).await.unwrap();

    let seen = server.await.unwrap();
    let lines: Vec<&str> = seen.iter().map(|s| request_line(s)).collect();
    assert_eq!(
        lines,
        [
            "POST /api/v1/workspaces/acme/invitations HTTP/1.1",
            "GET /api/v1/workspaces/acme/invitations HTTP/1.1",
            "DELETE /api/v1/invitations/i1 HTTP/1.1",
            "POST /api/v1/invitations/i1/accept HTTP/1.1",
            "POST /api/v1/invitations/i%2F1/decline HTTP/1.1",
            "GET /api/v1/me/invitations HTTP/1.1",
            "POST /api/v1/auth/signup HTTP/1.1",
            "POST /api/v1/tags HTTP/1.1",
            "GET /api/v1/tags HTTP/1.1",
            "DELETE /api/v1/tags/cost-center HTTP/1.1",
            "PUT /api/v1/workspaces/acme/tags/cost-center HTTP/1.1",
            "DELETE /api/v1/workspaces/acme/tags/owner%20team HTTP/1.1",
            "PUT /api/v1/workspaces/acme/projects/web/tags/env HTTP/1.1",
            "DELETE /api/v1/workspaces/acme/projects/web/tags/env HTTP/1.1",
            "POST /api/v1/workspaces/acme/messages HTTP/1.1",
            "GET /api/v1/workspaces/acme/messages HTTP/1.1",
            "GET /api/v1/me/messages HTTP/1.1",
            "POST /api/v1/messages/m1/ack HTTP/1.1",
            "GET /api/v1/settings HTTP/1.1",
            "PATCH /api/v1/settings HTTP/1.1",
        ]
    );
    let with_body = |i: usize, want: &str| assert_eq!(body(&seen[i]), want, "{}", lines[i]);
    with_body(0, r#"{"email":"new@x.io","role":"member","expires_in":"30d"}"#);
    with_body(3, r#"{"token":"bgi_s3cret"}"#);
    assert!(seen[3].to_ascii_lowercase().contains("content-type: application/json"), "{}", seen[3]);
    with_body(4, "");
    with_body(
        6,
        r#"{"email":"new@x.io","name":"New","password":"a long password","invitation_token":"bgi_s3cret"}"#,
    );
    with_body(
        7,
        r#"{"key":"cost-center","target":"workspace","restricted":true,"pattern":"[0-9]+","mandatory":true,"default":"0"}"#,
    );
    with_body(10, r#"{"value":"42"}"#);
    with_body(12, r#"{"value":"prod"}"#);
    with_body(14, r#"{"text":"patch day","mode":"single_read"}"#);
    with_body(17, "");
    with_body(19, r#"{"signup":"open","invitation_ttl_days":3}"#);
}

const ME: &str = r#"{"user":{"id":"u1","email":"owner@x.io","name":"Owner","admin_role":"none",
    "status":"active","created_at":"2026-01-01T00:00:00Z"},"delegate":"bob@x.io","scope":["acme"],
    "read_only":false,"pending_accesses":0,"workspaces":[{"workspace":"acme","role":"owner"}]}"#;
const ACCESS: &str = r#"{"id":"a1","owner":"owner@x.io","kind":"delegate","name":"holiday","scope":"acme",
    "status":"active","created_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-08T00:00:00Z",
    "recipients":[{"email":"bob@x.io","status":"pending","added_at":"2026-01-01T00:00:00Z"}]}"#;

/// The value of header `name` in a request head, if it was sent.
fn header<'a>(seen: &'a str, name: &str) -> Option<&'a str> {
    let head = seen.split_once("\r\n\r\n").map_or(seen, |(h, _)| h);
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn acting_as_sends_the_header_on_every_request_and_derived_clients_drop_it() {
    let (base, server) = canned(vec![
        response("200 OK", &[], ME),
        response("200 OK", &[], &format!(r#"{{"items":[{ACCESS}],"next_cursor":"n1"}}"#)),
        response("200 OK", &[], r#"{"items":[]}"#),
        response("201 Created", &[], BINDING),
        response("204 No Content", &[], ""),
        response("200 OK", &[], ME),
        response("200 OK", &[], ME),
        response("200 OK", &[], ME),
        response("200 OK", &[], ME),
    ])
    .await;
    let bob = Client::new(&base, Some("bob-token".into())).unwrap();
    assert_eq!(bob.act_as(), None);
    let as_owner = bob.acting_as(" owner@x.io ").unwrap();
    assert_eq!(as_owner.act_as(), Some("owner@x.io"));
    assert_eq!(as_owner.token(), Some("bob-token"), "the delegate's own credential");
    assert!(format!("{as_owner:?}").contains("owner@x.io"));

    let me = as_owner.me().await.unwrap();
    assert_eq!((me.user.email.as_str(), me.delegate.as_deref()), ("owner@x.io", Some("bob@x.io")));
    assert_eq!(me.scope, Some(vec!["acme".to_owned()]));
    assert_eq!(as_owner.all_accesses(None).await.unwrap().len(), 1);
    let grant = CreateGrant {
        user: "carl@x.io".into(),
        workspace: "acme".into(),
        role: "member".into(),
        expires_in: Some("1h".into()),
        ..Default::default()
    };
    as_owner.create_grant(&grant).await.unwrap();
    as_owner.clone().revoke_grant("b1").await.unwrap();
    bob.me().await.unwrap();
    as_owner.as_self().me().await.unwrap();
    as_owner.with_token("other").me().await.unwrap();
    as_owner.anonymous().me().await.unwrap();

    let seen = server.await.unwrap();
    let act_as: Vec<Option<&str>> = seen.iter().map(|s| header(s, ACT_AS_HEADER)).collect();
    let owner = Some("owner@x.io");
    assert_eq!(act_as, [owner, owner, owner, owner, owner, None, None, None, None], "{seen:#?}");
    assert_eq!(header(&seen[0], "authorization"), Some("Bearer bob-token"));
    assert_eq!(request_line(&seen[2]), "GET /api/v1/accesses?cursor=n1 HTTP/1.1");
    assert_eq!(request_line(&seen[4]), "DELETE /api/v1/grants/b1 HTTP/1.1");
    assert_eq!(header(&seen[7], "authorization"), Some("Bearer other"));
    assert_eq!(header(&seen[8], "authorization"), None);
}

#[test]
fn acting_as_refuses_values_a_header_cannot_carry() {
    let c = client("http://h");
    for bad in ["", "   ", "a@x.io\r\nx-evil: 1", "nul\0@x.io"] {
        let err = c.acting_as(bad).unwrap_err();
        assert!(matches!(err, ClientError::InvalidActAs(_)), "{bad:?}: {err}");
        assert!(err.to_string().starts_with("cannot act as "), "{err}");
    }
    assert_eq!(c.acting_as("Owner@X.io").unwrap().act_as(), Some("Owner@X.io"));
}

#[tokio::test]
async fn access_calls_use_their_paths_and_bodies() {
    let created = ACCESS
        .replace(r#""recipients":["#, r#""codes":[{"email":"bob@x.io","code":"bga_c0de"}],"recipients":["#);
    let code = r#"{"email":"carl@x.io","code":"bga_c4rl"}"#;
    let page = |items: &str| format!(r#"{{"items":[{items}]}}"#);
    let (base, server) = canned(vec![
        response("201 Created", &["breakglass-seq: 11"], &created),
        response("200 OK", &[], &page(ACCESS)),
        response("200 OK", &[], &page(ACCESS)),
        response("200 OK", &[], &page(ACCESS)),
        response("200 OK", &[], &page("")),
        response("200 OK", &[], ACCESS),
        response("201 Created", &[], code),
        response("204 No Content", &[], ""),
        response("200 OK", &[], ACCESS),
        response("200 OK", &[], ACCESS),
        response("204 No Content", &[], ""),
        response(
            "201 Created",
            &[],
            r#"{"id":"t1","name":"ci","kind":"api","created_at":"2026-01-01T00:00:00Z",
                "scope":"acme","read_only":true,"secret":"bgt_s3cret"}"#,
        ),
    ])
    .await;
    let c = client(&base);
    let access = CreateAccess {
        name: "holiday".into(),
        kind: "delegate".into(),
        scope: Some("acme".into()),
        expires_in: Some("7d".into()),
        recipients: vec!["bob@x.io".into()],
        ..Default::default()
    };
    let done = c.create_access(&access).await.unwrap();
    assert_eq!((done.access.id.as_str(), done.secret), ("a1", None));
    assert_eq!(done.codes, [RecipientCode { email: "bob@x.io".into(), code: "bga_c0de".into() }]);
    assert_eq!(c.last_seq(), Some(11));
    let listed = c.list_accesses(None, &PageQuery { limit: Some(5), cursor: None }).await.unwrap();
    assert_eq!(listed.items[0].recipients[0].status, breakglass_api::RecipientStatus::Pending);
    c.all_accesses(Some("owner@x.io")).await.unwrap();
    c.received_accesses(&PageQuery::default()).await.unwrap();
    assert!(c.all_received_accesses().await.unwrap().is_empty());
    assert_eq!(c.get_access("a1").await.unwrap().name.as_deref(), Some("holiday"));
    assert_eq!(c.add_access_recipient("a1", "carl@x.io").await.unwrap().code, "bga_c4rl");
    c.remove_access_recipient("a1", "carl@x.io").await.unwrap();
    c.accept_access("a1", "bga_c0de").await.unwrap();
    c.decline_access("a/1").await.unwrap();
    c.revoke_access("a1").await.unwrap();
    let token = CreateToken {
        name: "ci".into(),
        scope: Some("acme".into()),
        read_only: Some(true),
        ..Default::default()
    };
    let t = c.create_token(&token).await.unwrap();
    assert_eq!((t.token.scope.as_deref(), t.token.read_only), (Some("acme"), true));

    let seen = server.await.unwrap();
    let lines: Vec<&str> = seen.iter().map(|s| request_line(s)).collect();
    assert_eq!(
        lines,
        [
            "POST /api/v1/accesses HTTP/1.1",
            "GET /api/v1/accesses?limit=5 HTTP/1.1",
            "GET /api/v1/accesses?owner=owner%40x.io HTTP/1.1",
            "GET /api/v1/accesses/received HTTP/1.1",
            "GET /api/v1/accesses/received HTTP/1.1",
            "GET /api/v1/accesses/a1 HTTP/1.1",
            "POST /api/v1/accesses/a1/recipients HTTP/1.1",
            "DELETE /api/v1/accesses/a1/recipients/carl@x.io HTTP/1.1",
            "POST /api/v1/accesses/a1/accept HTTP/1.1",
            "POST /api/v1/accesses/a%2F1/decline HTTP/1.1",
            "DELETE /api/v1/accesses/a1 HTTP/1.1",
            "POST /api/v1/tokens HTTP/1.1",
        ]
    );
    let with_body = |i: usize, want: &str| assert_eq!(body(&seen[i]), want, "{}", lines[i]);
    with_body(
        0,
        r#"{"name":"holiday","kind":"delegate","scope":"acme","expires_in":"7d","recipients":["bob@x.io"]}"#,
    );
    with_body(6, r#"{"email":"carl@x.io"}"#);
    with_body(8, r#"{"code":"bga_c0de"}"#);
    with_body(9, "");
    with_body(11, r#"{"name":"ci","scope":"acme","read_only":true}"#);
}
