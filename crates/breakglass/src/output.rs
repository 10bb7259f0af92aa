//! Text rendering of the command-line client: aligned tables, `key: value` records and pretty
//! JSON. Times and other values are printed as the server gave them. Emergency access is marked
//! [`EMERGENCY`] wherever it appears.

use std::collections::BTreeMap;

use breakglass_api::{
    Access, AuditEvent, Binding, Entitlement, Invitation, Me, Message, Policy, PolicyRef, PolicyStep,
    Project, Request, Review, Settings, TagDefinition, Task, Token, User, Workspace,
};
use breakglass_api::{AccessKind, BindingSource, RequestState};
use breakglass_api::{Platform, ServiceUser, Tenant};
use serde::Serialize;

/// Placeholder for an absent value in tables and records.
pub const NONE: &str = "-";

/// The mark of emergency access, requests and tasks.
pub const EMERGENCY: &str = "⚡ EMERGENCY";

/// The mark of a pending request that can no longer collect enough approvals.
pub const UNREACHABLE: &str = "UNREACHABLE";

/// Rows under a header, columns padded to their widest cell and separated by two spaces.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new(headers: &[&'static str]) -> Table {
        Table { headers: headers.to_vec(), rows: Vec::new() }
    }

    /// Appends a row; it must have one cell per header.
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    /// The table as text, one line per row, without trailing spaces: no borders, columns
    /// padded to their widest cell (wide characters counting two) and two spaces apart.
    pub fn render(&self) -> String {
        use comfy_table::{CellAlignment, ContentArrangement, Table as Grid};
        let cell = |s: &str| s.replace(['\n', '\r', '\t'], " ");
        let mut grid = Grid::new();
        grid.load_preset(comfy_table::presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(self.headers.iter().map(|h| h.to_string()));
        for row in &self.rows {
            grid.add_row(row.iter().map(|c| cell(c)));
        }
        let last = self.headers.len().saturating_sub(1);
        for (i, column) in grid.column_iter_mut().enumerate() {
            column.set_padding((0, if i == last { 0 } else { 2 }));
            column.set_cell_alignment(CellAlignment::Left);
        }
        let mut out = String::new();
        for line in grid.lines() {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key: value` lines with the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs.iter().map(|(k, v)| format!("{:<w$}  {v}\n", format!("{k}:"), w = width + 1)).collect()
}

/// Pretty JSON and a newline.
pub fn json<T: Serialize>(value: &T) -> String {
    let mut out = serde_json::to_string_pretty(value).expect("API types serialise");
    out.push('\n');
    out
}

/// The value, or [`NONE`].
pub fn opt(value: &Option<impl std::fmt::Display>) -> String {
    value.as_ref().map_or_else(|| NONE.into(), ToString::to_string)
}

/// An end time, or `never`.
pub fn until(expires_at: &Option<String>) -> String {
    expires_at.clone().unwrap_or_else(|| "never".into())
}

/// A user as a record.
pub fn user(u: &User) -> String {
    fields(&[
        ("email", u.email.clone()),
        ("name", u.name.clone()),
        ("id", u.id.clone()),
        ("admin role", u.admin_role.to_string()),
        ("status", u.status.to_string()),
        ("created", u.created_at.clone()),
    ])
}

/// Users as a table.
pub fn users(list: &[User]) -> String {
    let mut t = Table::new(&["EMAIL", "NAME", "ADMIN ROLE", "STATUS", "CREATED", "ID"]);
    for u in list {
        t.row(vec![
            u.email.clone(),
            u.name.clone(),
            u.admin_role.to_string(),
            u.status.to_string(),
            u.created_at.clone(),
            u.id.clone(),
        ]);
    }
    t.render()
}

/// The caller as `me` shows them: who acts with whose rights and within which limits, what
/// waits for them, the user record and their workspaces.
pub fn me(me: &Me) -> String {
    let mut out = match &me.delegate {
        Some(delegate) => format!("Acting as {} (you are {delegate}).\n", me.user.email),
        None => format!("Signed in as {}.\n", me.user.email),
    };
    if me.scope.is_some() || me.read_only {
        let scope = me.scope.as_ref().map(|s| s.join(", "));
        out.push_str(&format!("Limited to: {}.\n", limits(scope.as_deref(), me.read_only)));
    }
    if me.pending_accesses > 0 {
        out.push_str(&format!(
            "{} delegate access{} shared with you wait{} for an answer: breakglass access received\n",
            me.pending_accesses,
            if me.pending_accesses == 1 { "" } else { "es" },
            if me.pending_accesses == 1 { "s" } else { "" },
        ));
    }
    out.push('\n');
    out.push_str(&user(&me.user));
    let mut t = Table::new(&["WORKSPACE", "ROLE"]);
    for w in &me.workspaces {
        t.row(vec![w.workspace.clone(), opt(&w.role)]);
    }
    out.push('\n');
    out.push_str(&t.render());
    out
}

/// Where a credential or access reaches: one workspace, or `global`.
pub fn scope(scope: Option<&str>) -> String {
    match scope {
        Some(ws) => format!("workspace {ws}"),
        None => "global".into(),
    }
}

/// A credential's limits in words: its scope and whether it only reads.
pub fn limits(scope_of: Option<&str>, read_only: bool) -> String {
    let reach = scope(scope_of);
    if read_only {
        format!("{reach}, read-only")
    } else {
        reach
    }
}

/// Tokens as a table.
pub fn tokens(list: &[Token]) -> String {
    let mut t = Table::new(&[
        "ID",
        "NAME",
        "KIND",
        "SCOPE",
        "READ-ONLY",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "ACCESS",
    ]);
    for k in list {
        t.row(vec![
            k.id.clone(),
            k.name.clone(),
            k.kind.to_string(),
            k.scope.clone().unwrap_or_else(|| "global".into()),
            yes_no(k.read_only),
            k.created_at.clone(),
            until(&k.expires_at),
            k.last_used_at.clone().unwrap_or_else(|| "never".into()),
            opt(&k.access_id),
        ]);
    }
    t.render()
}

/// A delegate access's recipients: `email (status)`, comma-separated, or [`NONE`].
fn recipients(a: &Access) -> String {
    if a.recipients.is_empty() {
        return NONE.into();
    }
    a.recipients.iter().map(|r| format!("{} ({})", r.email, r.status)).collect::<Vec<_>>().join(", ")
}

/// An access as a record; one line per recipient.
pub fn access(a: &Access) -> String {
    let mut pairs = vec![("access", a.id.clone()), ("owner", a.owner.clone()), ("kind", a.kind.to_string())];
    if let Some(name) = &a.name {
        pairs.push(("name", name.clone()));
    }
    pairs.extend([
        ("scope", scope(a.scope.as_deref())),
        ("status", a.status.to_string()),
        ("created", a.created_at.clone()),
        ("expires", until(&a.expires_at)),
    ]);
    if let Some(t) = &a.revoked_at {
        pairs.push(("revoked", t.clone()));
    }
    if let Some(t) = &a.token_id {
        pairs.push(("token", t.clone()));
        pairs.push(("read-only", if a.read_only { "yes" } else { "no" }.into()));
    }
    if a.kind == AccessKind::Delegate || !a.recipients.is_empty() {
        let lines: Vec<String> = a
            .recipients
            .iter()
            .map(|r| {
                let decided = r.decided_at.as_deref().map(|t| format!(" {t}")).unwrap_or_default();
                format!("{} ({}{decided})", r.email, r.status)
            })
            .collect();
        pairs.push(("recipients", if lines.is_empty() { NONE.into() } else { lines.join("; ") }));
    }
    fields(&pairs)
}

/// Your accesses as a table.
pub fn accesses(list: &[Access]) -> String {
    let mut t = Table::new(&["ID", "KIND", "NAME", "SCOPE", "STATUS", "EXPIRES", "RECIPIENTS", "CREATED"]);
    for a in list {
        t.row(vec![
            a.id.clone(),
            a.kind.to_string(),
            opt(&a.name),
            a.scope.clone().unwrap_or_else(|| "global".into()),
            a.status.to_string(),
            until(&a.expires_at),
            recipients(a),
            a.created_at.clone(),
        ]);
    }
    t.render()
}

/// The accesses shared with you as a table: whose, where, and your answer.
pub fn received_accesses(list: &[Access]) -> String {
    let mut t = Table::new(&["ID", "OWNER", "SCOPE", "STATUS", "EXPIRES", "YOUR ANSWER"]);
    for a in list {
        let answer = a.recipients.first().map(|r| r.status.to_string()).unwrap_or_else(|| NONE.into());
        t.row(vec![
            a.id.clone(),
            a.owner.clone(),
            a.scope.clone().unwrap_or_else(|| "global".into()),
            a.status.to_string(),
            until(&a.expires_at),
            answer,
        ]);
    }
    t.render()
}

/// Tags as `key=value` pairs in key order, comma-separated, or [`NONE`].
pub fn tags(tags: &BTreeMap<String, String>) -> String {
    if tags.is_empty() {
        return NONE.into();
    }
    tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

/// A workspace as a record.
pub fn workspace(w: &Workspace) -> String {
    fields(&[
        ("workspace", w.identifier.clone()),
        ("name", w.name.clone()),
        ("status", w.status.to_string()),
        ("projects", format!("{} of {}", w.project_count, w.project_quota)),
        ("open reviews", open_reviews(w.open_reviews)),
        ("tags", tags(&w.tags)),
        ("created", w.created_at.clone()),
    ])
}

/// A count of open emergency reviews, marked when there are any.
fn open_reviews(n: u32) -> String {
    if n == 0 {
        "0".into()
    } else {
        format!("{n} ⚡")
    }
}

/// Workspaces as a table.
pub fn workspaces(list: &[Workspace]) -> String {
    let mut t = Table::new(&["WORKSPACE", "NAME", "STATUS", "PROJECTS", "OPEN REVIEWS", "TAGS", "CREATED"]);
    for w in list {
        t.row(vec![
            w.identifier.clone(),
            w.name.clone(),
            w.status.to_string(),
            format!("{}/{}", w.project_count, w.project_quota),
            open_reviews(w.open_reviews),
            tags(&w.tags),
            w.created_at.clone(),
        ]);
    }
    t.render()
}

/// A project as a record.
pub fn project(p: &Project) -> String {
    fields(&[
        ("workspace", p.workspace.clone()),
        ("project", p.identifier.clone()),
        ("name", p.name.clone()),
        ("tags", tags(&p.tags)),
        ("created", p.created_at.clone()),
    ])
}

/// Projects as a table.
pub fn projects(list: &[Project]) -> String {
    let mut t = Table::new(&["PROJECT", "NAME", "TAGS", "CREATED"]);
    for p in list {
        t.row(vec![p.identifier.clone(), p.name.clone(), tags(&p.tags), p.created_at.clone()]);
    }
    t.render()
}

/// An invitation as a record.
pub fn invitation(i: &Invitation) -> String {
    fields(&[
        ("invitation", i.id.clone()),
        ("workspace", i.workspace.clone()),
        ("email", i.email.clone()),
        ("role", i.role.to_string()),
        ("state", i.state.to_string()),
        ("membership ends", until(&i.membership_expires_at)),
        ("invited by", i.invited_by.clone()),
        ("created", i.created_at.clone()),
        ("valid until", i.expires_at.clone()),
    ])
}

/// Invitations as a table.
pub fn invitations(list: &[Invitation]) -> String {
    let mut t = Table::new(&[
        "ID",
        "WORKSPACE",
        "EMAIL",
        "ROLE",
        "STATE",
        "MEMBERSHIP ENDS",
        "INVITED BY",
        "VALID UNTIL",
    ]);
    for i in list {
        t.row(vec![
            i.id.clone(),
            i.workspace.clone(),
            i.email.clone(),
            i.role.to_string(),
            i.state.to_string(),
            until(&i.membership_expires_at),
            i.invited_by.clone(),
            i.expires_at.clone(),
        ]);
    }
    t.render()
}

/// What values a tag takes: the allowed list, the pattern, or any.
fn tag_values(d: &TagDefinition) -> String {
    match (&d.pattern, d.values.is_empty()) {
        (Some(p), _) => format!("matching {p}"),
        (None, false) => d.values.join(" | "),
        (None, true) => "any".into(),
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// A tag definition as a record.
pub fn tag_definition(d: &TagDefinition) -> String {
    fields(&[
        ("tag", d.key.clone()),
        ("target", d.target.clone()),
        ("values", tag_values(d)),
        ("mandatory", yes_no(d.mandatory)),
        ("default", opt(&d.default)),
        ("restricted", if d.restricted { "yes (admin area only)" } else { "no" }.into()),
    ])
}

/// Tag definitions as a table.
pub fn tag_definitions(list: &[TagDefinition]) -> String {
    let mut t = Table::new(&["KEY", "TARGET", "VALUES", "MANDATORY", "DEFAULT", "RESTRICTED"]);
    for d in list {
        t.row(vec![
            d.key.clone(),
            d.target.clone(),
            tag_values(d),
            yes_no(d.mandatory),
            opt(&d.default),
            yes_no(d.restricted),
        ]);
    }
    t.render()
}

/// Who acknowledged a message, or [`NONE`].
fn read_by(m: &Message) -> String {
    if m.acknowledgements.is_empty() {
        return NONE.into();
    }
    m.acknowledgements.iter().map(|a| a.user.as_str()).collect::<Vec<_>>().join(", ")
}

/// A message as a record.
pub fn message(m: &Message) -> String {
    let mut pairs = vec![
        ("message", m.id.clone()),
        ("workspace", m.workspace.clone()),
        ("mode", m.mode.to_string()),
        ("from", m.sender.clone()),
        ("sent", m.created_at.clone()),
    ];
    let acks: Vec<String> = m.acknowledgements.iter().map(|a| format!("{} ({})", a.user, a.at)).collect();
    pairs.push(("read by", if acks.is_empty() { NONE.into() } else { acks.join("; ") }));
    pairs.push(("text", m.text.clone()));
    fields(&pairs)
}

/// Messages as a table, the text last.
pub fn messages(list: &[Message]) -> String {
    let mut t = Table::new(&["ID", "WORKSPACE", "MODE", "FROM", "SENT", "READ BY", "TEXT"]);
    for m in list {
        t.row(vec![
            m.id.clone(),
            m.workspace.clone(),
            m.mode.to_string(),
            m.sender.clone(),
            m.created_at.clone(),
            read_by(m),
            m.text.clone(),
        ]);
    }
    t.render()
}

/// The installation settings as a record.
pub fn settings(s: &Settings) -> String {
    let num = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_else(|| NONE.into());
    fields(&[
        ("workspace registration", opt(&s.workspace_registration)),
        ("signup", opt(&s.signup)),
        ("invitation ttl days", num(s.invitation_ttl_days)),
        ("default project quota", num(s.default_project_quota)),
        (
            "restrict admin role assignment",
            s.restrict_admin_role_assignment.map(|b| b.to_string()).unwrap_or_else(|| NONE.into()),
        ),
        ("add myself default expiry", opt(&s.add_myself_default_expiry)),
        ("add myself max expiry", opt(&s.add_myself_max_expiry)),
        ("max expiry", opt(&s.max_expiry)),
        ("max api tokens per user", num(s.max_api_tokens_per_user)),
        ("max sessions per user", num(s.max_sessions_per_user)),
    ])
}

/// A binding as a record.
pub fn binding(b: &Binding) -> String {
    let mut pairs = vec![("user", b.user.clone()), ("workspace", b.workspace.clone())];
    if let Some(p) = &b.project {
        pairs.push(("project", p.clone()));
    }
    pairs.extend([("role", b.role.to_string()), ("source", source(&b.source, b.emergency))]);
    if let Some(r) = &b.request_id {
        pairs.push(("request", r.clone()));
    }
    pairs.extend([("starts", b.starts_at.clone()), ("expires", until(&b.expires_at))]);
    if let Some(r) = &b.reason {
        pairs.push(("reason", r.clone()));
    }
    pairs.push(("id", b.id.clone()));
    fields(&pairs)
}

/// Bindings as a table.
pub fn bindings(list: &[Binding]) -> String {
    let mut t = Table::new(&["USER", "ROLE", "PROJECT", "SOURCE", "STARTS", "EXPIRES", "ID", "REASON"]);
    for b in list {
        t.row(vec![
            b.user.clone(),
            b.role.to_string(),
            opt(&b.project),
            source(&b.source, b.emergency),
            b.starts_at.clone(),
            until(&b.expires_at),
            b.id.clone(),
            opt(&b.reason),
        ]);
    }
    t.render()
}

/// A binding's source, marked when it is emergency access.
pub fn source(source: &BindingSource, emergency: bool) -> String {
    match (emergency, source) {
        (false, _) => source.to_string(),
        (true, BindingSource::Emergency) => EMERGENCY.to_owned(),
        (true, _) => format!("{source} {EMERGENCY}"),
    }
}

/// Audit events as a table, details as compact JSON in the last column.
pub fn events(list: &[AuditEvent]) -> String {
    let mut t = Table::new(&["SEQ", "TIME", "TYPE", "ACTOR", "WORKSPACE", "PROJECT", "SUBJECT", "DETAILS"]);
    for e in list {
        let actor = match &e.on_behalf_of {
            Some(who) => format!("{} for {who}", e.actor),
            None => e.actor.clone(),
        };
        t.row(vec![
            e.seq.to_string(),
            e.time.clone(),
            e.event_type.clone(),
            actor,
            opt(&e.workspace),
            opt(&e.project),
            opt(&e.subject),
            e.details.to_string(),
        ]);
    }
    t.render()
}

/// `ws` or `ws/project`.
pub fn target(workspace: &str, project: Option<&str>) -> String {
    match project {
        Some(p) => format!("{workspace}/{p}"),
        None => workspace.to_owned(),
    }
}

/// A step as the command line writes it: `2:workspace_managers`, `1:users=a@x.io,b@x.io`.
pub fn step(s: &PolicyStep) -> String {
    if s.users.is_empty() {
        format!("{}:{}", s.count, s.approvers)
    } else {
        format!("{}:{}={}", s.count, s.approvers, s.users.join(","))
    }
}

/// A policy's steps in order, or that it needs none.
pub fn steps(list: &[PolicyStep]) -> String {
    if list.is_empty() {
        "none (granted at once)".into()
    } else {
        list.iter().map(step).collect::<Vec<_>>().join(" then ")
    }
}

/// A policy as a record.
pub fn policy(p: &Policy) -> String {
    fields(&[
        ("policy", p.id.clone()),
        ("name", p.name.clone()),
        ("workspace", p.workspace.clone().unwrap_or_else(|| "(installation-wide)".into())),
        ("steps", steps(&p.steps)),
        ("max duration", p.max_duration.clone().unwrap_or_else(|| "none".into())),
        ("justification", if p.justification_required { "required" } else { "optional" }.into()),
        ("pending ttl", p.pending_ttl.clone()),
        ("created", p.created_at.clone()),
        ("updated", p.updated_at.clone()),
    ])
}

/// Policies as a table.
pub fn policies(list: &[Policy]) -> String {
    let mut t =
        Table::new(&["ID", "NAME", "WORKSPACE", "STEPS", "MAX DURATION", "JUSTIFICATION", "PENDING TTL"]);
    for p in list {
        t.row(vec![
            p.id.clone(),
            p.name.clone(),
            opt(&p.workspace),
            steps(&p.steps),
            opt(&p.max_duration),
            if p.justification_required { "required" } else { "optional" }.into(),
            p.pending_ttl.clone(),
        ]);
    }
    t.render()
}

/// `name (id)`.
fn policy_ref(p: &PolicyRef) -> String {
    format!("{} ({})", p.name, p.id)
}

/// Whether emergency requests are allowed, marked when they are.
fn emergency_allowed(e: &Entitlement) -> String {
    if e.emergency_enabled {
        "⚡ allowed".into()
    } else {
        "no".into()
    }
}

/// An entitlement as a record.
pub fn entitlement(e: &Entitlement) -> String {
    fields(&[
        ("target", target(&e.workspace, e.project.as_deref())),
        ("role", e.role.to_string()),
        ("request policy", policy_ref(&e.request_policy)),
        ("emergency", emergency_allowed(e)),
        ("emergency policy", e.emergency_policy.as_ref().map(policy_ref).unwrap_or_else(|| NONE.into())),
        ("settings", if e.default { "installation default" } else { "set" }.into()),
    ])
}

/// Entitlements as a table.
pub fn entitlements(list: &[Entitlement]) -> String {
    let mut t =
        Table::new(&["TARGET", "ROLE", "REQUEST POLICY", "EMERGENCY", "EMERGENCY POLICY", "SETTINGS"]);
    for e in list {
        t.row(vec![
            target(&e.workspace, e.project.as_deref()),
            e.role.to_string(),
            policy_ref(&e.request_policy),
            emergency_allowed(e),
            e.emergency_policy.as_ref().map(policy_ref).unwrap_or_else(|| NONE.into()),
            if e.default { "default" } else { "set" }.into(),
        ]);
    }
    t.render()
}

/// Approvals a pending request still needs, over its current and later steps.
pub fn remaining_approvals(r: &Request) -> u32 {
    let Some(current) = r.current_step else { return 0 };
    (current..)
        .zip(r.policy.steps.iter().skip(current.saturating_sub(1) as usize))
        .map(|(n, s)| s.count.saturating_sub(given(r, n)))
        .sum()
}

/// Approvals given for step `n`.
fn given(r: &Request, n: u32) -> u32 {
    r.approvals.iter().filter(|a| a.step == n).count() as u32
}

/// `1 more approval`, `3 more approvals`.
pub fn more_approvals(n: u32) -> String {
    format!("{n} more approval{}", if n == 1 { "" } else { "s" })
}

/// The state of a request, and for a pending one what it waits for.
pub fn request_state(r: &Request) -> String {
    match (r.state.as_str(), r.current_step) {
        ("pending", Some(n)) => {
            let total = r.policy.steps.len();
            let at = r.policy.steps.get((n as usize).wrapping_sub(1)).map(step).unwrap_or_default();
            format!(
                "pending: waiting for {} (step {n} of {total}: {at})",
                more_approvals(remaining_approvals(r))
            )
        }
        (state, _) => state.to_owned(),
    }
}

/// An access request as a record.
pub fn request(r: &Request) -> String {
    let mut pairs = vec![("request", r.id.clone())];
    if r.emergency {
        pairs.push(("emergency", EMERGENCY.to_owned()));
    }
    pairs.push(("state", request_state(r)));
    if r.quorum_unreachable {
        pairs.push((
            "quorum",
            format!("{UNREACHABLE}: too few eligible approvers; an admin-area override is the way out"),
        ));
    }
    pairs.push(("user", r.user.clone()));
    if r.created_by != r.user {
        pairs.push(("opened by", r.created_by.clone()));
    }
    pairs.extend([
        ("target", target(&r.workspace, r.project.as_deref())),
        ("role", r.role.to_string()),
        ("duration", r.duration.clone().unwrap_or_else(|| "standing".into())),
        ("justification", opt(&r.justification)),
        ("policy", format!("{} ({}): {}", r.policy.name, r.policy.id, steps(&r.policy.steps))),
    ]);
    let approvals: Vec<String> = r
        .approvals
        .iter()
        .map(|a| {
            let how = if a.is_override { "override".to_owned() } else { format!("step {}", a.step) };
            format!("{} ({how}, {})", a.by, a.at)
        })
        .collect();
    pairs.push(("approvals", if approvals.is_empty() { NONE.into() } else { approvals.join("; ") }));
    pairs.push(("opened", r.created_at.clone()));
    if r.state == RequestState::Pending {
        pairs.push(("lapses", r.lapses_at.clone()));
    }
    if let Some(t) = &r.escalated_at {
        pairs.push(("escalated", t.clone()));
    }
    if let Some(t) = &r.decided_at {
        let by = r.decided_by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default();
        pairs.push(("decided", format!("{t}{by}")));
    }
    if let Some(reason) = &r.deny_reason {
        pairs.push(("deny reason", reason.clone()));
    }
    if let Some(b) = &r.binding_id {
        pairs.push(("binding", b.clone()));
    }
    fields(&pairs)
}

/// The STEP, APPROVALS and QUORUM cells of a request: `current/steps`, `given/needed` for the
/// current step (all approvals once decided), and the unreachable mark.
fn progress(r: &Request) -> [String; 3] {
    let quorum = if r.quorum_unreachable { UNREACHABLE.into() } else { NONE.into() };
    match r.current_step.filter(|_| r.state == RequestState::Pending) {
        Some(n) => {
            let need = r.policy.steps.get((n as usize).wrapping_sub(1)).map_or(0, |s| s.count);
            [format!("{n}/{}", r.policy.steps.len()), format!("{}/{need}", given(r, n)), quorum]
        }
        None => [NONE.into(), r.approvals.len().to_string(), quorum],
    }
}

fn emergency_cell(emergency: bool) -> String {
    if emergency {
        EMERGENCY.into()
    } else {
        NONE.into()
    }
}

/// Access requests as a table.
pub fn requests(list: &[Request]) -> String {
    let mut t = Table::new(&[
        "ID",
        "USER",
        "TARGET",
        "ROLE",
        "DURATION",
        "STATE",
        "EMERGENCY",
        "STEP",
        "APPROVALS",
        "QUORUM",
    ]);
    for r in list {
        let [step, approvals, quorum] = progress(r);
        t.row(vec![
            r.id.clone(),
            r.user.clone(),
            target(&r.workspace, r.project.as_deref()),
            r.role.to_string(),
            r.duration.clone().unwrap_or_else(|| "standing".into()),
            r.state.to_string(),
            emergency_cell(r.emergency),
            step,
            approvals,
            quorum,
        ]);
    }
    t.render()
}

/// Tasks as a table, emergency ones first (the server's order otherwise).
pub fn tasks(list: &[Task]) -> String {
    let mut sorted: Vec<&Task> = list.iter().collect();
    sorted.sort_by_key(|t| !t.request.emergency);
    let mut t = Table::new(&[
        "ID",
        "USER",
        "TARGET",
        "ROLE",
        "DURATION",
        "EMERGENCY",
        "STEP",
        "APPROVALS",
        "QUORUM",
        "YOU MAY",
        "JUSTIFICATION",
    ]);
    for task in sorted {
        let r = &task.request;
        let [step, approvals, quorum] = progress(r);
        let you = if task.can_approve {
            "approve"
        } else if task.override_only {
            "override"
        } else {
            NONE
        };
        t.row(vec![
            r.id.clone(),
            r.user.clone(),
            target(&r.workspace, r.project.as_deref()),
            r.role.to_string(),
            r.duration.clone().unwrap_or_else(|| "standing".into()),
            emergency_cell(r.emergency),
            step,
            approvals,
            quorum,
            you.into(),
            opt(&r.justification),
        ]);
    }
    t.render()
}

/// An emergency review as a record.
pub fn review(v: &Review) -> String {
    let mut pairs = vec![
        ("review", v.id.clone()),
        ("state", v.state.to_string()),
        ("holder", v.holder.clone()),
        ("target", target(&v.workspace, v.project.as_deref())),
        ("role", v.role.to_string()),
        ("request", format!("{} {EMERGENCY}", v.request_id)),
        ("binding", v.binding_id.clone()),
        ("opened", v.opened_at.clone()),
    ];
    if let Some(o) = &v.outcome {
        pairs.push(("outcome", o.to_string()));
    }
    if let Some(n) = &v.notes {
        pairs.push(("notes", n.clone()));
    }
    if let Some(t) = &v.completed_at {
        let by = v.completed_by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default();
        pairs.push(("completed", format!("{t}{by}")));
    }
    fields(&pairs)
}

/// Emergency reviews as a table.
pub fn reviews(list: &[Review]) -> String {
    let mut t = Table::new(&[
        "ID",
        "HOLDER",
        "TARGET",
        "ROLE",
        "OPENED",
        "STATE",
        "OUTCOME",
        "COMPLETED BY",
        "REQUEST",
    ]);
    for v in list {
        t.row(vec![
            v.id.clone(),
            v.holder.clone(),
            target(&v.workspace, v.project.as_deref()),
            v.role.to_string(),
            v.opened_at.clone(),
            v.state.to_string(),
            opt(&v.outcome),
            opt(&v.completed_by),
            v.request_id.clone(),
        ]);
    }
    t.render()
}

/// A platform as a record.
pub fn platform(p: &Platform) -> String {
    fields(&[
        ("platform", p.identifier.clone()),
        ("kind", p.kind.to_string()),
        ("name", p.name.clone()),
        ("created", p.created_at.clone()),
    ])
}

/// Platforms as a table.
pub fn platforms(list: &[Platform]) -> String {
    let mut t = Table::new(&["PLATFORM", "KIND", "NAME", "CREATED"]);
    for p in list {
        t.row(vec![p.identifier.clone(), p.kind.to_string(), p.name.clone(), p.created_at.clone()]);
    }
    t.render()
}

/// A tenant as a record.
pub fn tenant(t: &Tenant) -> String {
    fields(&[
        ("project", target(&t.workspace, Some(&t.project))),
        ("platform", format!("{} ({})", t.platform, t.platform_kind)),
        ("external id", t.external_id.clone()),
        ("created by", t.created_by.clone()),
        ("created", t.created_at.clone()),
    ])
}

/// Tenants as a table.
pub fn tenants(list: &[Tenant]) -> String {
    let mut t = Table::new(&["PLATFORM", "KIND", "EXTERNAL ID", "PROJECT", "CREATED BY", "CREATED"]);
    for x in list {
        t.row(vec![
            x.platform.clone(),
            x.platform_kind.clone(),
            x.external_id.clone(),
            target(&x.workspace, Some(&x.project)),
            x.created_by.clone(),
            x.created_at.clone(),
        ]);
    }
    t.render()
}

/// A service user as a record (never with a secret).
pub fn service_user(u: &ServiceUser) -> String {
    fields(&[
        ("service user", u.id.clone()),
        ("name", u.name.clone()),
        ("client id", u.client_id.clone()),
        ("tenant", format!("{} on {}", target(&u.workspace, Some(&u.project)), u.platform)),
        ("created by", u.created_by.clone()),
        ("created", u.created_at.clone()),
    ])
}

/// Service users as a table.
pub fn service_users(list: &[ServiceUser]) -> String {
    let mut t = Table::new(&["ID", "NAME", "CLIENT ID", "PLATFORM", "CREATED BY", "CREATED"]);
    for u in list {
        t.row(vec![
            u.id.clone(),
            u.name.clone(),
            u.client_id.clone(),
            u.platform.clone(),
            u.created_by.clone(),
            u.created_at.clone(),
        ]);
    }
    t.render()
}

/// Values for the tests of this crate.
#[cfg(test)]
pub(crate) mod fixtures {
    use breakglass_api::{
        Access, AccessRecipient, Acknowledgement, Approval, Invitation, Message, Policy, PolicyStep, Request,
        Workspace,
    };

    /// A live delegate access of `olga@x.io` to `acme`, shared with `dave@x.io` (accepted) and
    /// `carl@x.io` (pending).
    pub fn access() -> Access {
        let recipient = |email: &str, status: &str, decided: Option<&str>| AccessRecipient {
            email: email.into(),
            status: status.parse().unwrap(),
            added_at: "2026-01-01T00:00:00Z".into(),
            decided_at: decided.map(Into::into),
        };
        Access {
            id: "a1".into(),
            owner: "olga@x.io".into(),
            kind: "delegate".parse().unwrap(),
            name: Some("holiday".into()),
            scope: Some("acme".into()),
            status: "active".parse().unwrap(),
            created_at: "2026-01-01T00:00:00Z".into(),
            expires_at: Some("2026-01-15T00:00:00Z".into()),
            revoked_at: None,
            recipients: vec![
                recipient("dave@x.io", "accepted", Some("2026-01-02T00:00:00Z")),
                recipient("carl@x.io", "pending", None),
            ],
            token_id: None,
            read_only: false,
        }
    }

    /// An active workspace `acme` with one tag.
    pub fn workspace() -> Workspace {
        Workspace {
            identifier: "acme".into(),
            name: "Acme".into(),
            status: "active".parse().unwrap(),
            project_quota: 5,
            project_count: 1,
            open_reviews: 0,
            tags: [("cost-center".to_owned(), "42".to_owned())].into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    /// A pending invitation of `new@x.io` to `acme` as manager.
    pub fn invitation() -> Invitation {
        Invitation {
            id: "i1".into(),
            workspace: "acme".into(),
            email: "new@x.io".into(),
            role: "manager".parse().unwrap(),
            membership_expires_at: None,
            invited_by: "mia@x.io".into(),
            state: "pending".parse().unwrap(),
            created_at: "2026-01-01T00:00:00Z".into(),
            expires_at: "2026-01-08T00:00:00Z".into(),
            token: None,
        }
    }

    /// A single-read message to `acme`, acknowledged by `bob@x.io`.
    pub fn message() -> Message {
        Message {
            id: "m1".into(),
            workspace: "acme".into(),
            text: "patch day".into(),
            mode: "single_read".parse().unwrap(),
            sender: "admin@localhost".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            acknowledgements: vec![Acknowledgement {
                user: "bob@x.io".into(),
                at: "2026-01-01T01:00:00Z".into(),
            }],
        }
    }

    /// A policy with these steps (`count`, approver set).
    pub fn policy(steps: &[(u32, &str)]) -> Policy {
        Policy {
            id: "p1".into(),
            name: "four eyes".into(),
            workspace: Some("acme".into()),
            steps: steps
                .iter()
                .map(|(count, set)| PolicyStep { approvers: (*set).into(), users: vec![], count: *count })
                .collect(),
            max_duration: Some("8h".into()),
            justification_required: true,
            pending_ttl: "7d".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    /// A pending request for `bob@x.io` under a two-step policy (2 managers, then 1 admin),
    /// with one approval for step 1.
    pub fn request(id: &str) -> Request {
        Request {
            id: id.into(),
            user: "bob@x.io".into(),
            created_by: "bob@x.io".into(),
            requested_via: None,
            workspace: "acme".into(),
            project: Some("web".into()),
            role: "admin".parse().unwrap(),
            duration: Some("2h".into()),
            justification: Some("deploy".into()),
            emergency: false,
            state: "pending".parse().unwrap(),
            policy: policy(&[(2, "workspace_managers"), (1, "admin_area")]),
            approvals: vec![Approval {
                by: "mia@x.io".into(),
                step: 1,
                at: "2026-01-01T00:01:00Z".into(),
                is_override: false,
                via: None,
            }],
            current_step: Some(1),
            quorum_unreachable: false,
            created_at: "2026-01-01T00:00:00Z".into(),
            lapses_at: "2026-01-08T00:00:00Z".into(),
            escalated_at: None,
            decided_at: None,
            decided_by: None,
            deny_reason: None,
            binding_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns_and_trim_line_ends() {
        let mut t = Table::new(&["A", "LONGER", "C"]);
        t.row(vec!["wide cell".into(), "x".into(), String::new()]);
        t.row(vec!["é".into(), "two\nlines".into(), "end".into()]);
        assert_eq!(
            t.render(),
            "A          LONGER     C\n\
             wide cell  x\n\
             é          two lines  end\n"
        );
    }

    #[test]
    fn wide_marks_keep_columns_aligned() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec![EMERGENCY.into(), "x".into()]);
        t.row(vec!["-".into(), "y".into()]);
        // ⚡ takes two columns on a terminal.
        assert_eq!(t.render(), "A             B\n⚡ EMERGENCY  x\n-             y\n");
    }

    #[test]
    fn requests_show_progress_and_marks() {
        use super::fixtures::request as fixture;
        let pending = fixture("r1");
        assert_eq!(remaining_approvals(&pending), 2, "one more for step 1, one for step 2");
        assert_eq!(
            request_state(&pending),
            "pending: waiting for 2 more approvals (step 1 of 2: 2:workspace_managers)"
        );
        let mut last = fixture("r2");
        last.current_step = Some(2);
        last.quorum_unreachable = true;
        last.emergency = true;
        assert_eq!(remaining_approvals(&last), 1);
        assert!(request_state(&last).starts_with("pending: waiting for 1 more approval (step 2 of 2: "));
        let mut granted = fixture("r3");
        (granted.state, granted.current_step) = ("granted".parse().unwrap(), None);
        assert_eq!(remaining_approvals(&granted), 0);

        let table = requests(&[pending.clone(), last.clone(), granted]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("EMERGENCY") && lines[0].contains("QUORUM"), "{table}");
        assert!(lines[1].contains(" 1/2 ") && !lines[1].contains(EMERGENCY), "{table}");
        assert!(lines[2].contains(EMERGENCY) && lines[2].ends_with(UNREACHABLE), "{table}");
        assert!(lines[2].contains(" 2/2 ") && lines[2].contains(" 0/1 "), "{table}");
        assert!(lines[3].contains(" granted "), "{table}");

        let record = request(&last);
        assert!(record.contains(&format!("emergency:      {EMERGENCY}")), "{record}");
        assert!(record.contains("quorum:         UNREACHABLE"), "{record}");
        assert!(record.contains("approvals:      mia@x.io (step 1, 2026-01-01T00:01:00Z)"), "{record}");

        let task = |r: Request| Task { request: r, can_approve: false, override_only: true };
        let table = tasks(&[task(pending), task(last)]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[1].starts_with("r2 ") && lines[1].contains(EMERGENCY), "emergency first:\n{table}");
        assert!(lines[1].contains(" override "), "{table}");
    }

    #[test]
    fn steps_read_as_the_command_line_writes_them() {
        use super::fixtures::policy;
        let mut p = policy(&[(2, "workspace_managers")]);
        p.steps.push(PolicyStep {
            approvers: "users".into(),
            users: vec!["a@x.io".into(), "b@x.io".into()],
            count: 1,
        });
        assert_eq!(steps(&p.steps), "2:workspace_managers then 1:users=a@x.io,b@x.io");
        assert_eq!(steps(&[]), "none (granted at once)");
        assert_eq!(source(&BindingSource::Emergency, true), EMERGENCY);
        assert_eq!(source(&BindingSource::Request, false), "request");
    }

    #[test]
    fn fields_align_values() {
        assert_eq!(fields(&[("id", "1".into()), ("status", "ok".into())]), "id:      1\nstatus:  ok\n");
    }
    #[test]
    fn admin_area_records_and_tables_show_status_tags_and_acknowledgements() {
        let mut w = fixtures::workspace();
        w.tags.insert("env".into(), "prod".into());
        let table = workspaces(std::slice::from_ref(&w));
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains(" STATUS ") && lines[0].contains(" TAGS "), "{table}");
        assert!(lines[1].contains(" active ") && lines[1].contains(" cost-center=42, env=prod "), "{table}");
        assert!(workspace(&w).contains("tags:          cost-center=42, env=prod\n"), "{}", workspace(&w));
        w.tags.clear();
        assert!(workspace(&w).contains("tags:          -\n"));

        let list = invitations(&[fixtures::invitation()]);
        let cells: Vec<&str> = list.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(cells[..6], ["i1", "acme", "new@x.io", "manager", "pending", "never"], "{list}");

        let m = fixtures::message();
        let table = messages(std::slice::from_ref(&m));
        assert!(table.lines().nth(1).unwrap().ends_with("  bob@x.io  patch day"), "{table}");
        assert!(message(&m).contains("read by:    bob@x.io (2026-01-01T01:00:00Z)\n"), "{}", message(&m));

        let mut d = TagDefinition {
            key: "env".into(),
            target: "project".into(),
            restricted: false,
            values: vec!["dev".into(), "prod".into()],
            pattern: None,
            mandatory: true,
            default: Some("dev".into()),
        };
        let table = tag_definitions(std::slice::from_ref(&d));
        assert_eq!(table.lines().nth(1), Some("env  project  dev | prod  yes        dev      no"), "{table}");
        (d.values, d.pattern) = (vec![], Some("[a-z]+".into()));
        assert!(tag_definition(&d).contains("values:      matching [a-z]+\n"), "{}", tag_definition(&d));

        let s = Settings {
            workspace_registration: Some("approval".into()),
            invitation_ttl_days: Some(7),
            restrict_admin_role_assignment: Some(false),
            ..Default::default()
        };
        let text = settings(&s);
        assert!(text.starts_with("workspace registration:"), "{text}");
        assert!(text.contains(" approval\n") && text.contains(" 7\n") && text.contains(" false\n"), "{text}");
        assert!(text.contains("signup:") && text.lines().count() == 10, "{text}");
    }

    #[test]
    fn me_says_whose_rights_are_in_use() {
        let user: User = serde_json::from_value(serde_json::json!({
            "id": "u1", "email": "olga@x.io", "name": "Olga", "admin_role": "none",
            "status": "active", "created_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap();
        let mut m = Me {
            user,
            delegate: Some("dave@x.io".into()),
            scope: Some(vec!["acme".into()]),
            read_only: false,
            pending_accesses: 0,
            workspaces: vec![breakglass_api::MyWorkspace {
                workspace: "acme".into(),
                role: Some("owner".parse().unwrap()),
            }],
        };
        let text = me(&m);
        assert!(
            text.starts_with("Acting as olga@x.io (you are dave@x.io).\nLimited to: workspace acme.\n\n"),
            "{text}"
        );
        assert!(text.contains("email:       olga@x.io\n") && text.ends_with("acme       owner\n"), "{text}");
        (m.delegate, m.scope, m.read_only, m.pending_accesses) = (None, None, true, 2);
        let text = me(&m);
        assert!(text.starts_with("Signed in as olga@x.io.\nLimited to: global, read-only.\n"), "{text}");
        assert!(
            text.contains(
                "\n2 delegate accesses shared with you wait for an answer: breakglass access received\n"
            ),
            "{text}"
        );
        m.read_only = false;
        m.pending_accesses = 1;
        let text = me(&m);
        assert!(!text.contains("Limited"), "{text}");
        assert!(text.contains("\n1 delegate access shared with you waits for an answer"), "{text}");
    }

    #[test]
    fn tokens_and_accesses_show_scope_limits_and_recipients() {
        let token: Token = serde_json::from_value(serde_json::json!({
            "id": "t1", "name": "ci", "kind": "api", "created_at": "2026-01-01T00:00:00Z",
            "scope": "acme", "read_only": true, "last_used_at": "2026-01-02T00:00:00Z"
        }))
        .unwrap();
        let table = tokens(&[token]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].contains(" SCOPE ")
                && lines[0].contains(" READ-ONLY ")
                && lines[0].contains(" LAST USED ")
        );
        let cells: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            cells,
            ["t1", "ci", "api", "acme", "yes", "2026-01-01T00:00:00Z", "never", "2026-01-02T00:00:00Z", "-"]
        );

        let a = fixtures::access();
        let table = accesses(std::slice::from_ref(&a));
        assert!(
            table.lines().nth(1).unwrap().contains(" dave@x.io (accepted), carl@x.io (pending) "),
            "{table}"
        );
        let record = access(&a);
        assert!(record.contains("scope:       workspace acme\n"), "{record}");
        assert!(
            record.contains("recipients:  dave@x.io (accepted 2026-01-02T00:00:00Z); carl@x.io (pending)\n"),
            "{record}"
        );
        let mut received = a.clone();
        (received.name, received.scope) = (None, None);
        received.recipients.truncate(1);
        let table = received_accesses(&[received.clone()]);
        assert_eq!(
            table.lines().nth(1).unwrap().split_whitespace().collect::<Vec<_>>(),
            ["a1", "olga@x.io", "global", "active", "2026-01-15T00:00:00Z", "accepted"],
            "{table}"
        );
        assert!(!access(&received).contains("name:"), "{}", access(&received));
        assert_eq!(limits(Some("acme"), true), "workspace acme, read-only");
        assert_eq!(limits(None, false), "global");
    }
}
