//! Who may ask which check, as the core's `check::Checker` decides it for the API and the web UI:
//! anyone may check themselves, checking someone else needs sight of the workspace, and nothing
//! tells an outsider what exists.

mod common;

use breakglass_core::check::{Checker, DenyReason};
use breakglass_core::Bounds;
use common::*;

/// Allowed, denied with a reason, or refused with a code.
type Outcome = Result<Result<bool, DenyReason>, &'static str>;

/// Caller, user checked, workspace, project, role, and the outcome.
type Case = (&'static str, &'static str, &'static str, Option<&'static str>, &'static str, Outcome);

#[test]
fn who_may_check_whom_and_what_an_outsider_learns() {
    let w = World::team();
    // (caller, user checked, workspace, project, role, allowed or the deny reason or the refusal)
    let cases: &[Case] = &[
        ("max@corp.io", "max@corp.io", "team-a", None, "member", Ok(Ok(true))),
        ("max@corp.io", "mia@corp.io", "team-a", None, "manager", Ok(Ok(true))),
        ("max@corp.io", "mia@corp.io", "team-a", None, "owner", Ok(Err(DenyReason::NoBinding))),
        // A workspace role carries no project role by itself.
        ("max@corp.io", "olivia@corp.io", "team-a", Some("web"), "admin", Ok(Err(DenyReason::NoBinding))),
        // An outsider checking themselves learns nothing: no binding, whether or not it exists.
        ("ben@corp.io", "ben@corp.io", "team-a", None, "member", Ok(Err(DenyReason::NoBinding))),
        ("ben@corp.io", "ben@corp.io", "no-such-ws", None, "member", Ok(Err(DenyReason::NoBinding))),
        // Checking someone else where one cannot see: as if the workspace did not exist.
        ("ben@corp.io", "max@corp.io", "team-a", None, "member", Err("workspace.not_found")),
        ("max@corp.io", "max@corp.io", "no-such-ws", None, "member", Ok(Err(DenyReason::NoBinding))),
        ("aud@corp.io", "max@corp.io", "no-such-ws", None, "member", Err("workspace.not_found")),
        // Only the admin area learns that an address belongs to nobody.
        ("aud@corp.io", "nobody@corp.io", "team-a", None, "member", Ok(Err(DenyReason::UnknownTarget))),
        ("max@corp.io", "nobody@corp.io", "team-a", None, "member", Ok(Err(DenyReason::NoBinding))),
        // Addresses compare as normalised; malformed input is refused with its code.
        ("max@corp.io", "MIA@corp.io", "team-a", None, "member", Ok(Ok(true))),
        ("max@corp.io", "mia", "team-a", None, "member", Err("input.invalid_email")),
        ("max@corp.io", "mia@corp.io", "Team-A", None, "member", Err("input.invalid_identifier")),
        ("max@corp.io", "mia@corp.io", "team-a", None, "reader", Err("input.unknown_role")),
    ];
    for (caller, user, ws, project, role, expected) in cases {
        let ctx = w.read_ctx(caller, Bounds::default());
        let got = Checker::new(&w.state, &ctx)
            .and_then(|mut c| c.decide(user, ws, *project, role))
            .map(|d| if d.allowed { Ok(true) } else { Err(d.reason.unwrap()) })
            .map_err(|e| e.code());
        assert_eq!(&got, expected, "{caller} checks {user} {role} on {ws}/{project:?}");
    }
}
