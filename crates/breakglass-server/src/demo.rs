//! The demo organisation: a realistic installation to explore, created through the same
//! commands as everything else, so its history is in the audit log like any other.

use breakglass_core::access::{ApproverSet, Step};
use breakglass_core::cmd::accesses::{self, NewAccess};
use breakglass_core::cmd::members::{self, NewGrant, SetMember};
use breakglass_core::cmd::policies::{self, PolicyInput, SetEntitlement};
use breakglass_core::cmd::requests::{self, NewRequest};
use breakglass_core::cmd::users::{self, NewUser};
use breakglass_core::cmd::workspaces::{self, NewProject, NewWorkspace};
use breakglass_core::delegation::AccessKind;
use breakglass_core::ident::{Email, Name, Slug};
use breakglass_core::model::{PasswordHash, Target};
use breakglass_core::role::{AdminRole, Role};
use breakglass_core::time::Span;
use breakglass_core::{Actor, Changes, Ctx, DomainError, State};

use crate::app::App;
use crate::auth;
use crate::Config;

/// The password of every demo user.
pub const DEMO_PASSWORD: &str = "breakglass-demo";

const USERS: &[(&str, &str, &str)] = &[
    ("alice@example.com", "Alice Andersen", "none"),
    ("bob@example.com", "Bob Brown", "none"),
    ("carol@example.com", "Carol Chen", "none"),
    ("dave@example.com", "Dave Dubois", "none"),
    ("erin@example.com", "Erin Evans", "none"),
    ("frank@example.com", "Frank Fischer", "none"),
    ("grace@example.com", "Grace Garcia", "none"),
    ("heidi@example.com", "Heidi Hansen", "none"),
    ("ivan@example.com", "Ivan Ivanov", "none"),
    ("judy@example.com", "Judy Jones", "none"),
    ("oscar@example.com", "Oscar Olsen (operations)", "employee"),
    ("trent@example.com", "Trent Taylor (security audit)", "auditor"),
    ("petra@example.com", "Petra Park (platform admin)", "admin"),
];

/// A demo workspace: identifier, name, owners, and its projects as (identifier, name).
struct DemoWorkspace(
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

const WORKSPACES: &[DemoWorkspace] = &[
    DemoWorkspace(
        "payments",
        "Payments",
        &["alice@example.com"],
        &[("checkout", "Checkout service"), ("ledger", "Ledger"), ("fraud-ml", "Fraud detection models")],
    ),
    DemoWorkspace(
        "search",
        "Search",
        &["grace@example.com"],
        &[("indexer", "Indexer"), ("frontend", "Search frontend")],
    ),
    DemoWorkspace(
        "data-platform",
        "Data Platform",
        &["heidi@example.com"],
        &[("warehouse", "Warehouse"), ("airflow", "Airflow"), ("lake", "Data lake")],
    ),
];

/// (workspace, project or "", user, role, expires in minutes or 0 for standing)
const MEMBERS: &[(&str, &str, &str, &str, i64)] = &[
    ("payments", "", "bob@example.com", "manager", 0),
    ("payments", "", "carol@example.com", "member", 0),
    ("payments", "", "dave@example.com", "member", 0),
    ("payments", "checkout", "carol@example.com", "admin", 0),
    ("payments", "checkout", "dave@example.com", "user", 0),
    ("payments", "ledger", "carol@example.com", "reader", 0),
    ("payments", "ledger", "erin@example.com", "reader", 10),
    ("search", "", "ivan@example.com", "manager", 0),
    ("search", "", "judy@example.com", "member", 0),
    ("search", "indexer", "judy@example.com", "user", 0),
    ("search", "frontend", "judy@example.com", "admin", 0),
    ("search", "frontend", "frank@example.com", "user", 5),
    ("data-platform", "", "frank@example.com", "manager", 15),
    ("data-platform", "", "erin@example.com", "member", 0),
    ("data-platform", "warehouse", "erin@example.com", "user", 0),
    ("data-platform", "lake", "erin@example.com", "reader", 0),
];

/// (workspace, project, user, role, minutes, reason): temporary grants on top of membership.
const GRANTS: &[(&str, &str, &str, &str, i64, &str)] = &[
    ("payments", "ledger", "dave@example.com", "admin", 3, "INC-4711: reconcile stuck ledger batch"),
    ("payments", "checkout", "dave@example.com", "admin", 30, "Release 2.14 hotfix"),
    ("data-platform", "airflow", "erin@example.com", "admin", 7, "Re-run failed nightly DAG"),
];

/// Seeds the demo organisation into an installation without workspaces, and prints how to
/// sign in. An installation that already has workspaces is left alone.
pub async fn seed(app: &App, config: &Config) -> anyhow::Result<()> {
    if app.state().workspaces().next().is_some() {
        tracing::info!("the database already holds workspaces; not seeding the demo again");
        print_sign_in(config);
        return Ok(());
    }
    // One hash for every demo user: they share a well-known password anyway.
    let hash = auth::hash_password(DEMO_PASSWORD.to_owned()).await.map_err(|e| anyhow::anyhow!(e.detail))?;
    app.execute(Actor::System, |state, ctx| Ok((plan(state, ctx, &hash, config.default_project_quota)?, ())))
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.detail))?;
    print_sign_in(config);
    Ok(())
}

/// Builds the whole demo as one outcome, applying each step to a scratch copy of the model so
/// that later steps see earlier ones.
fn plan(state: &State, ctx: &Ctx, hash: &PasswordHash, quota: u32) -> Result<Changes, DomainError> {
    let mut scratch = state.clone();
    let mut all = Changes::default();
    let mut step = |scratch: &mut State, changes: Changes| {
        for c in &changes.changes {
            scratch.apply(c);
        }
        all.extend(changes);
    };
    for (email, name, role) in USERS {
        let (c, _) = users::create_user(
            &scratch,
            ctx,
            NewUser {
                email: Email::parse(email)?,
                name: Name::parse(name)?,
                admin_role: AdminRole::parse(role)?,
                password_hash: Some(hash.clone()),
            },
        )?;
        step(&mut scratch, c);
    }
    for DemoWorkspace(ws, name, owners, projects) in WORKSPACES {
        let c = workspaces::create_workspace(
            &scratch,
            ctx,
            NewWorkspace {
                id: Slug::parse(ws)?,
                name: Name::parse(name)?,
                owners: owners.iter().map(|e| Email::parse(e)).collect::<Result<_, _>>()?,
                members: Vec::new(),
                project_quota: quota,
                tags: Default::default(),
            },
        )?;
        step(&mut scratch, c);
        for (p, pname) in *projects {
            let c = workspaces::create_project(
                &scratch,
                ctx,
                NewProject {
                    workspace: Slug::parse(ws)?,
                    id: Slug::parse(p)?,
                    name: Name::parse(pname)?,
                    tags: Default::default(),
                },
            )?;
            step(&mut scratch, c);
        }
    }
    for (ws, p, email, role, minutes) in MEMBERS {
        let c = members::set_member(
            &scratch,
            ctx,
            SetMember {
                target: target(ws, p)?,
                email: Email::parse(email)?,
                role: Role::parse_for(role, !p.is_empty())?,
                expires_at: (*minutes > 0).then(|| ctx.now.plus(Span::minutes(*minutes))),
                justification: None,
            },
        )?;
        step(&mut scratch, c);
    }
    for (ws, p, email, role, minutes, reason) in GRANTS {
        let (c, _) = members::grant(
            &scratch,
            ctx,
            NewGrant {
                target: target(ws, p)?,
                email: Email::parse(email)?,
                role: Role::parse_project(role)?,
                expires_at: ctx.now.plus(Span::minutes(*minutes)),
                reason: Some((*reason).to_owned()),
            },
        )?;
        step(&mut scratch, c);
    }

    // Four eyes on the ledger; break-glass on the ledger and checkout without waiting.
    let (c, four_eyes) = policies::create_policy(
        &scratch,
        ctx,
        PolicyInput {
            name: Name::parse("Payments four eyes")?,
            workspace: Some(Slug::parse("payments")?),
            steps: vec![Step { approvers: ApproverSet::WorkspaceManagers, count: 2 }],
            max_duration: Some(Span::hours(8)),
            justification_required: true,
            pending_ttl: Span::days(2),
        },
    )?;
    step(&mut scratch, c);
    let (c, emergency) = policies::create_policy(
        &scratch,
        ctx,
        PolicyInput {
            name: Name::parse("Emergency: immediate, at most 1h")?,
            workspace: None,
            steps: Vec::new(),
            max_duration: Some(Span::hours(1)),
            justification_required: true,
            pending_ttl: Span::hours(1),
        },
    )?;
    step(&mut scratch, c);
    for (p, request_policy) in [("ledger", Some(four_eyes)), ("checkout", None)] {
        let c = policies::set_entitlement(
            &scratch,
            ctx,
            SetEntitlement {
                target: target("payments", p)?,
                role: Role::parse_project("admin")?,
                request_policy,
                emergency_enabled: true,
                emergency_policy: Some(emergency),
            },
        )?;
        step(&mut scratch, c);
    }

    // Carol waits for a manager to approve; an emergency last night left a review open.
    let as_user = |scratch: &State, email: &str| -> Result<Ctx, DomainError> {
        let user = scratch.user_by_email(&Email::parse(email)?).map(|u| u.id);
        let user = user.ok_or_else(|| DomainError::not_found("user.not_found", email.to_owned()))?;
        Ok(Ctx::new(ctx.now, Actor::User(user), ctx.next_id()))
    };
    for (email, p, emergency, duration, why) in [
        (
            "carol@example.com",
            "fraud-ml",
            false,
            Span::hours(4),
            "Retrain the fraud model after the feature change",
        ),
        (
            "carol@example.com",
            "ledger",
            true,
            Span::minutes(30),
            "INC-4720: ledger writes failing, on-call manager unreachable",
        ),
    ] {
        let user_ctx = as_user(&scratch, email)?;
        let (c, _) = requests::create_request(
            &scratch,
            &user_ctx,
            NewRequest {
                target: target("payments", p)?,
                role: Role::parse_project("admin")?,
                duration,
                justification: Some(why.to_owned()),
                emergency,
            },
        )?;
        step(&mut scratch, c);
    }

    // Alice is away: Erin covers for her in payments through an accepted delegate access.
    let code = auth::secret_hash(&auth::new_secret(auth::ACCESS_CODE_PREFIX));
    let (c, access, _) = accesses::create(
        &scratch,
        &as_user(&scratch, "alice@example.com")?,
        NewAccess {
            name: Name::parse("Holiday cover")?,
            kind: AccessKind::Delegate,
            scope: Some(Slug::parse("payments")?),
            expires_at: Some(ctx.now.plus(Span::days(14))),
            read_only: false,
            recipients: vec![(Email::parse("erin@example.com")?, code)],
            token_hash: None,
        },
    )?;
    step(&mut scratch, c);
    let c = accesses::accept(&scratch, &as_user(&scratch, "erin@example.com")?, access.id, code)?;
    step(&mut scratch, c);
    Ok(all)
}

fn target(ws: &str, p: &str) -> Result<Target, DomainError> {
    let ws = Slug::parse(ws)?;
    Ok(if p.is_empty() { Target::Workspace(ws) } else { Target::Project(ws, Slug::parse(p)?) })
}

fn print_sign_in(config: &Config) {
    let server = format!("http://{}", config.listen);
    let token_file = config.data_dir.join(crate::ADMIN_TOKEN_FILE);
    println!(
        "\nDemo organisation ready: workspaces payments, search, data-platform; some access expires in 3 to 30 minutes;\n\
         carol@example.com waits for approval on payments/fraud-ml and holds emergency admin on payments/ledger (review open);\n\
         erin@example.com covers for alice in payments through a delegate access (breakglass --as alice@example.com ...).\n\
         Web control plane: {server}/ . Sign in there, or with the CLI, as any of these users with the password '{DEMO_PASSWORD}':\n  \
         alice@example.com (owner of payments), bob@example.com (manager of payments),\n  \
         dave@example.com (member; temporary admin on payments/ledger), oscar@example.com (employee), trent@example.com (auditor), petra@example.com (admin)\n\
         The admin (admin@localhost) token is in {} unless BREAKGLASS_ADMIN_TOKEN was set.\n\n\
         Try:\n  \
         export BREAKGLASS_SERVER={server}\n  \
         export BREAKGLASS_TOKEN=$(breakglass login --email bob@example.com --password-stdin <<< {DEMO_PASSWORD} -o json | jq -r .token)\n  \
         breakglass member list payments --project ledger\n  \
         breakglass check --user dave@example.com --workspace payments --project ledger --role admin\n  \
         breakglass task list                 # bob approves carol's request: breakglass task approve ID\n  \
         breakglass review list               # the open emergency review: breakglass review complete ID --outcome justified\n",
        token_file.display()
    );
}
