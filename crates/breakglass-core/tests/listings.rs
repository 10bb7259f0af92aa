//! Who sees which items of a listing, as the core decides it for the API and the web UI: the
//! workspaces a caller lists, a workspace's invitations and sent messages, and requests (mine
//! or every one visible). Each rule is asked of every kind of caller in one table.

mod common;

use breakglass_core::cmd::requests::{self, NewRequest, RequestScope};
use breakglass_core::cmd::{invitations, messages, workspaces};
use breakglass_core::org::MessageMode;
use breakglass_core::role::WorkspaceRole;
use breakglass_core::time::Span;
use breakglass_core::Bounds;
use common::*;

fn scoped(ws: &str) -> Bounds {
    Bounds { scope: Some(vec![slug(ws)]), ..Bounds::default() }
}

#[test]
fn which_workspaces_each_caller_lists() {
    let w = World::team();
    let cases: &[(&str, Bounds, &[&str])] = &[
        ("admin@corp.io", Bounds::default(), &["team-a", "team-b"]),
        ("emp@corp.io", Bounds::default(), &["team-a", "team-b"]),
        ("aud@corp.io", Bounds::default(), &["team-a", "team-b"]),
        // A credential confined to a workspace carries no admin-area power: the admin then
        // lists only where they hold a role themselves, within the scope (here: nowhere).
        ("admin@corp.io", scoped("team-b"), &[]),
        ("olivia@corp.io", scoped("team-a"), &["team-a"]),
        ("olivia@corp.io", Bounds::default(), &["team-a"]),
        ("max@corp.io", Bounds::default(), &["team-a"]),
        ("ben@corp.io", Bounds::default(), &["team-b"]),
        ("max@corp.io", scoped("team-b"), &[]),
        ("otto@corp.io", Bounds::default(), &[]),
    ];
    for (who, bounds, expected) in cases {
        let ctx = w.read_ctx(who, bounds.clone());
        let got: Vec<&str> =
            workspaces::listed(&w.state, &ctx).unwrap().iter().map(|ws| ws.id.as_str()).collect();
        assert_eq!(&got, expected, "{who} under {bounds:?}");
    }
}

#[test]
fn who_sees_a_workspaces_invitations_and_sent_messages() {
    let mut w = World::team();
    let team_a = slug("team-a");
    let digest = secret_hash("bgi_invitation");
    ok(w.as_user("olivia@corp.io", |s, c| {
        invitations::invite(s, c, &team_a, email("newcomer@corp.io"), WorkspaceRole::Member, None, digest)
    }));
    ok(w.as_user("admin@corp.io", |s, c| {
        messages::send(s, c, &team_a, "maintenance tonight".into(), MessageMode::AllMustRead)
    }));
    // (caller, invitations seen or the refusal, sent messages seen or the refusal)
    type Seen = Result<usize, &'static str>;
    let cases: &[(&str, Seen, Seen)] = &[
        ("olivia@corp.io", Ok(1), Err("authz.forbidden")),
        ("mia@corp.io", Ok(1), Err("authz.forbidden")),
        ("max@corp.io", Err("authz.forbidden"), Err("authz.forbidden")),
        ("admin@corp.io", Ok(1), Ok(1)),
        ("aud@corp.io", Ok(1), Ok(1)),
        // An outsider learns nothing: to them the workspace does not exist.
        ("ben@corp.io", Err("workspace.not_found"), Err("workspace.not_found")),
    ];
    for (who, invited, sent) in cases {
        let ctx = w.read_ctx(who, Bounds::default());
        let got = invitations::of_workspace(&w.state, &ctx, &team_a).map(|v| v.len()).map_err(|e| e.code());
        assert_eq!(&got, invited, "{who}: invitations");
        let got = messages::sent_to(&w.state, &ctx, &team_a).map(|v| v.len()).map_err(|e| e.code());
        assert_eq!(&got, sent, "{who}: sent messages");
    }
}

#[test]
fn my_requests_and_the_visible_ones() {
    let mut w = World::team();
    let new = NewRequest {
        target: proj("team-a", "web"),
        role: prole("reader"),
        duration: Span::hours(1),
        justification: Some("INC-7".into()),
        emergency: false,
    };
    ok(w.as_user("max@corp.io", move |s, c| requests::create_request(s, c, new)));
    // (caller, bounds, scope, how many listed)
    let cases: &[(&str, Bounds, RequestScope, usize)] = &[
        ("max@corp.io", Bounds::default(), RequestScope::Mine, 1),
        ("max@corp.io", Bounds::default(), RequestScope::Visible, 1),
        // Mine is within the credential's workspaces.
        ("max@corp.io", scoped("team-b"), RequestScope::Mine, 0),
        // A manager sees it among the visible ones, never among theirs.
        ("mia@corp.io", Bounds::default(), RequestScope::Mine, 0),
        ("mia@corp.io", Bounds::default(), RequestScope::Visible, 1),
        ("aud@corp.io", Bounds::default(), RequestScope::Visible, 1),
        ("ben@corp.io", Bounds::default(), RequestScope::Visible, 0),
        ("otto@corp.io", Bounds::default(), RequestScope::Visible, 0),
    ];
    for (who, bounds, scope, expected) in cases {
        let ctx = w.read_ctx(who, bounds.clone());
        let got = requests::listed_requests(&w.state, &ctx, *scope, None, None).unwrap().len();
        assert_eq!(got, *expected, "{who} under {bounds:?}, {scope:?}");
    }
    // The filters narrow what the scope allows.
    let ctx = w.read_ctx("max@corp.io", Bounds::default());
    let pending = Some(breakglass_core::access::RequestState::Pending);
    let granted = Some(breakglass_core::access::RequestState::Granted);
    assert_eq!(
        requests::listed_requests(&w.state, &ctx, RequestScope::Mine, pending, None).unwrap().len(),
        1
    );
    assert_eq!(
        requests::listed_requests(&w.state, &ctx, RequestScope::Mine, granted, None).unwrap().len(),
        0
    );
    assert_eq!(
        requests::listed_requests(&w.state, &ctx, RequestScope::Mine, None, Some("team-b")).unwrap().len(),
        0
    );
}
