//! The OpenAPI document: what the handlers' annotations say, plus what they cannot say there
//! without repeating it on every operation — the answers whole kinds of operation can give
//! ([`common_responses`]) and the patterns, lengths, ranges and choices of every input
//! ([`INPUTS`], [`PARAMETERS`]), which the server checks and the document must therefore state.
//! `tests/openapi.rs` checks that every input field and parameter has its entry.

use serde_json::{json, Value};

/// An identifier (workspace, project, platform): what `Slug::parse` accepts.
const SLUG: &str =
    r#"{"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,62}$", "minLength": 2, "maxLength": 63}"#;
/// An e-mail address; the server compares addresses after Unicode NFKC normalisation and
/// lowercasing, and refuses one that imitates another user's.
const EMAIL: &str = r#"{"type": "string", "format": "email", "minLength": 3, "maxLength": 254}"#;
/// A display name: 1 to 200 characters after trimming, no control characters.
const NAME: &str = r#"{"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"}"#;
/// A free text (justification, notes, reason): no control characters but line breaks.
const TEXT: &str = r#"{"type": "string", "maxLength": 2000, "pattern": "^[^\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f]*$"}"#;
/// A short free text (the reason of a grant or a workspace decision).
const SHORT_TEXT: &str = r#"{"type": "string", "maxLength": 1000, "pattern": "^[^\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f]*$"}"#;
/// A free text that must say something.
const REASON: &str = r#"{"type": "string", "minLength": 1, "maxLength": 2000, "pattern": "^[^\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f]*$"}"#;
/// A password: 12 to 1024 characters (length is the only rule).
const PASSWORD: &str = r#"{"type": "string", "minLength": 12, "maxLength": 1024}"#;
/// A duration such as `90m`, `2h` or `1d` (the server also reads ISO 8601, `PT2H`).
const DURATION: &str =
    r#"{"type": "string", "pattern": "^[1-9][0-9]{0,3}[smhd]$", "examples": ["30m", "2h", "7d"]}"#;
/// An RFC 3339 instant.
const INSTANT: &str = r#"{"type": "string", "format": "date-time"}"#;
/// An id.
const UUID: &str = r#"{"type": "string", "format": "uuid"}"#;
/// A tag key: what `TagKey::parse` accepts.
const TAG_KEY: &str =
    r#"{"type": "string", "pattern": "^[a-z][a-z0-9._-]{0,62}$", "minLength": 1, "maxLength": 63}"#;
/// A workspace's or project's tags: defined keys (checked against the definitions) and values.
const TAGS: &str = r#"{"maxProperties": 50, "propertyNames": {"pattern": "^[a-z][a-z0-9._-]{0,62}$"}}"#;
/// A tag value: 1 to 256 characters, no control characters.
const TAG_VALUE: &str = r#"{"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}"#;
/// A workspace role.
const WORKSPACE_ROLE: &str = r#"{"type": "string", "enum": ["member", "manager", "owner"]}"#;
/// A project role.
const PROJECT_ROLE: &str = r#"{"type": "string", "enum": ["reader", "user", "admin"]}"#;
/// Any role (a project role when a project is named, else a workspace role).
const ANY_ROLE: &str =
    r#"{"type": "string", "enum": ["member", "manager", "owner", "reader", "user", "admin"]}"#;
/// A page size.
const LIMIT: &str = r#"{"type": "integer", "minimum": 1, "maximum": 1000}"#;
/// A secret handed out once (token, code): any text; a wrong one is refused by what it opens.
const SECRET: &str = r#"{"type": "string"}"#;

/// The constraints of every request body's fields: (schema, field, constraint). A field whose
/// constraint is `""` takes any value of its type (the server reads it as is).
pub const INPUTS: &[(&str, &str, &str)] = &[
    ("CreateUser", "email", EMAIL),
    ("CreateUser", "name", NAME),
    // "" is none too (an empty form field).
    ("CreateUser", "admin_role", r#"{"enum": ["none", "admin", "employee", "auditor", "", null]}"#),
    ("CreateUser", "password", PASSWORD),
    ("Login", "email", r#"{"type": "string", "maxLength": 1024}"#),
    ("Login", "password", r#"{"type": "string", "maxLength": 1024}"#),
    ("CreateToken", "name", NAME),
    ("CreateToken", "expires_at", INSTANT),
    ("CreateToken", "expires_in", DURATION),
    ("CreateToken", "scope", SLUG),
    ("CreateToken", "read_only", ""),
    ("CreateAccess", "name", NAME),
    ("CreateAccess", "kind", r#"{"type": "string", "enum": ["api_token", "delegate"]}"#),
    ("CreateAccess", "scope", SLUG),
    ("CreateAccess", "expires_at", INSTANT),
    ("CreateAccess", "expires_in", DURATION),
    ("CreateAccess", "read_only", ""),
    ("CreateAccess", "recipients", r#"{"maxItems": 50, "uniqueItems": true}"#),
    ("CreateAccess", "recipients[]", EMAIL),
    ("AddRecipient", "email", EMAIL),
    ("AcceptAccess", "code", SECRET),
    ("CreateWorkspace", "identifier", SLUG),
    ("CreateWorkspace", "name", NAME),
    ("CreateWorkspace", "owners", r#"{"maxItems": 100}"#),
    ("CreateWorkspace", "owners[]", EMAIL),
    ("CreateWorkspace", "project_quota", r#"{"minimum": 0, "maximum": 100000}"#),
    ("CreateWorkspace", "members", r#"{"maxItems": 1000}"#),
    ("CreateWorkspace", "tags", TAGS),
    ("CreateWorkspace", "tags{}", TAG_VALUE),
    ("InitialMember", "email", EMAIL),
    ("InitialMember", "role", WORKSPACE_ROLE),
    ("RegisterWorkspace", "identifier", SLUG),
    ("RegisterWorkspace", "name", NAME),
    ("RegisterWorkspace", "tags", TAGS),
    ("RegisterWorkspace", "tags{}", TAG_VALUE),
    ("UpdateWorkspace", "name", NAME),
    ("UpdateWorkspace", "identifier", SLUG),
    ("LifecycleAction", "reason", SHORT_TEXT),
    ("SetQuota", "project_quota", r#"{"minimum": 0, "maximum": 100000}"#),
    ("AddMyself", "expires_at", INSTANT),
    ("AddMyself", "expires_in", DURATION),
    ("CreateProject", "identifier", SLUG),
    ("CreateProject", "name", NAME),
    ("CreateProject", "tags", TAGS),
    ("CreateProject", "tags{}", TAG_VALUE),
    ("SetMember", "role", WORKSPACE_ROLE),
    ("SetMember", "expires_at", INSTANT),
    ("SetMember", "expires_in", DURATION),
    ("SetMember", "justification", TEXT),
    ("CreateGrant", "user", EMAIL),
    ("CreateGrant", "workspace", SLUG),
    ("CreateGrant", "project", SLUG),
    ("CreateGrant", "role", ANY_ROLE),
    ("CreateGrant", "expires_at", INSTANT),
    ("CreateGrant", "expires_in", DURATION),
    ("CreateGrant", "reason", SHORT_TEXT),
    ("CheckRequest", "user", EMAIL),
    ("CheckRequest", "workspace", SLUG),
    ("CheckRequest", "project", SLUG),
    ("CheckRequest", "role", ANY_ROLE),
    ("CheckRequest", "min_seq", r#"{"minimum": 0, "maximum": 9223372036854775807}"#),
    ("BatchCheckRequest", "checks", r#"{"maxItems": 10000}"#),
    ("BatchCheckRequest", "min_seq", r#"{"minimum": 0, "maximum": 9223372036854775807}"#),
    (
        "PolicyStep",
        "approvers",
        r#"{"type": "string", "enum": ["workspace_managers", "workspace_owners", "admin_area", "users"]}"#,
    ),
    ("PolicyStep", "users", r#"{"maxItems": 50}"#),
    ("PolicyStep", "users[]", EMAIL),
    ("PolicyStep", "count", r#"{"minimum": 1, "maximum": 50}"#),
    ("PolicyBody", "name", NAME),
    ("PolicyBody", "workspace", SLUG),
    ("PolicyBody", "steps", r#"{"maxItems": 10}"#),
    ("PolicyBody", "max_duration", DURATION),
    ("PolicyBody", "justification_required", ""),
    ("PolicyBody", "pending_ttl", DURATION),
    ("EntitlementBody", "request_policy", UUID),
    ("EntitlementBody", "emergency_enabled", ""),
    ("EntitlementBody", "emergency_policy", UUID),
    ("CreateRequest", "workspace", SLUG),
    ("CreateRequest", "project", SLUG),
    ("CreateRequest", "role", ANY_ROLE),
    ("CreateRequest", "duration", DURATION),
    ("CreateRequest", "justification", TEXT),
    ("CreateRequest", "emergency", ""),
    ("ApproveRequest", "override", ""),
    ("DenyRequest", "reason", REASON),
    ("CompleteReview", "outcome", r#"{"type": "string", "enum": ["justified", "not_justified"]}"#),
    ("CompleteReview", "notes", TEXT),
    ("Settings", "workspace_registration", r#"{"enum": ["open", "approval", "closed", null]}"#),
    ("Settings", "signup", r#"{"enum": ["open", "invited_only", "closed", null]}"#),
    ("Settings", "invitation_ttl_days", r#"{"minimum": 1, "maximum": 365}"#),
    ("Settings", "default_project_quota", r#"{"minimum": 0, "maximum": 100000}"#),
    ("Settings", "restrict_admin_role_assignment", ""),
    ("Settings", "add_myself_default_expiry", DURATION),
    ("Settings", "add_myself_max_expiry", DURATION),
    ("Settings", "max_expiry", DURATION),
    ("Settings", "max_api_tokens_per_user", r#"{"minimum": 1, "maximum": 10000}"#),
    ("Settings", "max_sessions_per_user", r#"{"minimum": 1, "maximum": 10000}"#),
    ("CreateInvitation", "email", EMAIL),
    ("CreateInvitation", "role", WORKSPACE_ROLE),
    ("CreateInvitation", "expires_at", INSTANT),
    ("CreateInvitation", "expires_in", DURATION),
    ("AcceptInvitation", "token", SECRET),
    ("Signup", "email", EMAIL),
    ("Signup", "name", NAME),
    ("Signup", "password", PASSWORD),
    ("Signup", "invitation_token", SECRET),
    ("TagDefinition", "key", TAG_KEY),
    ("TagDefinition", "target", r#"{"type": "string", "enum": ["workspace", "project"]}"#),
    ("TagDefinition", "restricted", ""),
    ("TagDefinition", "values", r#"{"maxItems": 1000}"#),
    ("TagDefinition", "values[]", TAG_VALUE),
    ("TagDefinition", "pattern", r#"{"type": "string", "minLength": 1, "maxLength": 1000}"#),
    ("TagDefinition", "mandatory", ""),
    ("TagDefinition", "default", TAG_VALUE),
    ("SetTag", "value", TAG_VALUE),
    (
        "SendMessage",
        "text",
        r#"{"type": "string", "minLength": 1, "maxLength": 4000, "pattern": "^[^\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u0009\\u000b-\\u001f\\u007f-\\u009f]*$"}"#,
    ),
    ("SendMessage", "mode", r#"{"type": "string", "enum": ["all_must_read", "single_read"]}"#),
    ("RegisterPlatform", "identifier", SLUG),
    (
        "RegisterPlatform",
        "kind",
        r#"{"type": "string", "pattern": "^[a-z][a-z0-9-]{1,31}$", "minLength": 2, "maxLength": 32}"#,
    ),
    ("RegisterPlatform", "name", NAME),
    ("CreateTenant", "platform", SLUG),
    (
        "CreateTenant",
        "external_id",
        r#"{"type": "string", "minLength": 1, "maxLength": 256, "pattern": "^[^\\s\\u0000-\\u001f\\u007f-\\u009f](?:[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f])?$"}"#,
    ),
    ("SignSshKey", "public_key", r#"{"type": "string", "minLength": 1, "maxLength": 8192}"#),
    ("CreateServiceUser", "name", NAME),
    ("CreateServiceUser", "role", PROJECT_ROLE),
    ("RegisterPlatform", "settings", SETTINGS),
    ("RegisterPlatform", "settings{}", SETTING_VALUE),
    ("RegisterPlatform", "mapping", MAPPINGS),
    ("RegisterPlatform", "mapping{}", MAPPING),
    ("RegisterPlatform", "mode", DRIFT_MODE),
    ("RegisterPlatform", "account_template", ACCOUNT_TEMPLATE),
    ("RegisterPlatform", "credential_lifetime", DURATION),
    ("UpdatePlatform", "settings", SETTINGS),
    ("UpdatePlatform", "settings{}", ""),
    ("UpdatePlatform", "mapping", MAPPINGS),
    ("UpdatePlatform", "mapping{}", ""),
    ("UpdatePlatform", "mode", DRIFT_MODE),
    ("UpdatePlatform", "account_template", ACCOUNT_TEMPLATE),
    ("UpdatePlatform", "credential_lifetime", DURATION),
];

/// A platform's settings: keys of lowercase letters, digits, `_` and `-`.
const SETTINGS: &str = r#"{"maxProperties": 32, "propertyNames": {"pattern": "^[a-z0-9_-]{1,64}$"}}"#;
/// A setting's value.
const SETTING_VALUE: &str =
    r#"{"type": "string", "maxLength": 4096, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"}"#;
/// Mappings by project role.
const MAPPINGS: &str = r#"{"propertyNames": {"enum": ["reader", "user", "admin"]}}"#;
/// One role's mapping, in the connector's terms.
const MAPPING: &str = r#"{"type": "string", "minLength": 1, "maxLength": 1000}"#;
/// A platform's drift mode.
const DRIFT_MODE: &str = r#"{"type": "string", "enum": ["enforce", "report"]}"#;
/// An account name template.
const ACCOUNT_TEMPLATE: &str = r#"{"type": "string", "minLength": 4, "maxLength": 64}"#;

/// The constraints of path and query parameters, by location and name; `(path, name)` pairs
/// that mean different things on different paths are told apart by the path's prefix.
pub const PARAMETERS: &[(&str, &str, &str)] = &[
    ("path", "ws", SLUG),
    ("path", "p", SLUG),
    ("path", "platform", SLUG),
    ("path", "email", EMAIL),
    ("path", "key", TAG_KEY),
    ("path", "id", r#"{"type": "string", "minLength": 1}"#),
    ("path", "role@/api/v1/workspaces/{ws}/entitlements/{role}", WORKSPACE_ROLE),
    ("path", "role@/api/v1/workspaces/{ws}/projects/{p}/entitlements/{role}", PROJECT_ROLE),
    ("query", "limit", LIMIT),
    ("query", "cursor@/api/v1/audit", r#"{"type": "string", "pattern": "^[+-]?[0-9]{1,18}$"}"#),
    (
        "query",
        "cursor@/api/v1/workspaces/{ws}/history",
        r#"{"type": "string", "pattern": "^[+-]?[0-9]{1,18}$"}"#,
    ),
    (
        "query",
        "cursor@/api/v1/workspaces/{ws}/projects/{p}/history",
        r#"{"type": "string", "pattern": "^[+-]?[0-9]{1,18}$"}"#,
    ),
    ("query", "cursor", r#"{"type": "string"}"#),
    ("query", "workspace", SLUG),
    ("query", "project", SLUG),
    ("query", "owner", EMAIL),
    ("query", "after", r#"{"type": "integer", "minimum": 0, "maximum": 9223372036854775807}"#),
    ("query", "since", INSTANT),
    ("query", "until", INSTANT),
    ("query", "type", "EVENT_TYPES"),
    ("query", "scope", r#"{"type": "string", "enum": ["mine", "visible"]}"#),
    (
        "query",
        "state@/api/v1/requests",
        r#"{"type": "string", "enum": ["pending", "granted", "denied", "cancelled", "lapsed"]}"#,
    ),
    ("query", "state@/api/v1/reviews", r#"{"type": "string", "enum": ["open", "completed", "all"]}"#),
    (
        "query",
        "status",
        r#"{"type": "string", "enum": ["active", "disabled", "pending_approval", "rejected"]}"#,
    ),
    ("query", "tag", r#"{"type": "string", "pattern": "^[a-z][a-z0-9._-]{0,62}(:.+)?$"}"#),
];

/// Operations whose body or query names something that may not exist (a workspace, a user, a
/// policy) besides their path.
const MAY_NOT_FIND: &[&str] =
    &["list_policies", "create_policy", "create_token", "create_access", "list_accesses", "create_workspace"];

/// Operations that read the database itself (not only the in-memory model), so that a lost
/// database answers 503 there too.
const READS_THE_STORE: &[&str] =
    &["list_audit", "workspace_history", "project_history", "verify", "list_tokens", "check", "check_batch"];

/// Adds to every operation the answers its kind can give that its own annotation leaves out,
/// each with the problem schema: 401 where a credential is needed; 400, 413, 415 and 422 where
/// there is a JSON body; 400 and 422 where there are query or path parameters; 404 where a path
/// names something; 403 (a read-only credential, at least) and 503 (the database lost, or the
/// audit log failing an integrity check) for every write; 503 where a read goes to the
/// database. What an annotation says stays: it is the more precise.
pub fn common_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{Operation, ParameterIn};
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let problem = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
            )
            .build()
    };
    let add = |op: &mut Operation, status: &str, description: &str| {
        op.responses.responses.entry(status.to_owned()).or_insert_with(|| problem(description).into());
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let public = op.security.as_ref().is_some_and(|s| {
                s.iter().all(|r| serde_json::to_value(r).is_ok_and(|v| v == serde_json::json!({})))
            });
            let params = op.parameters.as_deref().unwrap_or_default();
            let query = params.iter().any(|p| matches!(p.parameter_in, ParameterIn::Query));
            let in_path = path.contains('{');
            let write = method != "get";
            let id = op.operation_id.clone().unwrap_or_default();
            if !public && path != "/healthz" {
                add(op, "401", "No credential, or one that is unknown, revoked or expired (`auth.missing_token`, `auth.invalid_token`)");
            }
            if op.request_body.is_some() {
                add(op, "400", "The body is not a JSON object, has an unknown, missing or mistyped field, or a value not of its documented form (`input.*`)");
                add(op, "413", "The body is larger than 4 MiB (`input.too_large`)");
                add(op, "415", "The body is not sent as `application/json` (`input.unsupported_media_type`)");
                add(op, "422", "A well-formed value breaks a rule, often of the moment or the state (the `code` says which)");
            }
            if query {
                add(op, "400", "A query parameter is not of its documented form (`input.*`)");
            }
            if in_path || MAY_NOT_FIND.contains(&id.as_str()) {
                add(op, "404", "Not found, or not visible to you");
            }
            // Identifiers and addresses in the path are checked (ids are only looked up).
            if path.split('/').any(|s| s.starts_with('{') && s != "{id}") {
                add(op, "400", "A path parameter is not of its documented form (`input.*`)");
            }
            if write && !public {
                add(
                    op,
                    "403",
                    "Not allowed for you, or made with a read-only credential (`token.read_only`)",
                );
            }
            if write || READS_THE_STORE.contains(&id.as_str()) {
                add(
                    op,
                    "503",
                    "The database is not answering (`store.unavailable`), or the audit log failed an integrity check and writes are refused (`audit.integrity`)",
                );
            }
        }
    }
}

/// Completes the generated document as JSON: the constraints of every input, then the rules
/// that tie one field to another (JSON Schema keywords utoipa's types do not carry).
pub fn complete(doc: &utoipa::openapi::OpenApi) -> Value {
    let mut json = serde_json::to_value(doc).unwrap_or_default();
    constrain(&mut json);
    refine(&mut json);
    json
}

/// A role's kind follows the target: with a project, a project role; without, a workspace role.
/// The project member assignment, sharing `SetMember` with the workspace one, gets a schema of
/// its own with project roles.
fn refine(doc: &mut Value) {
    // Projects have no status to filter on.
    if let Some(params) = doc["paths"]["/api/v1/workspaces/{ws}/projects"]["get"]["parameters"].as_array_mut()
    {
        params.retain(|p| !(p["in"] == "query" && p["name"] == "status"));
    }
    // A history's workspace and project come from its path.
    for path in ["/api/v1/workspaces/{ws}/history", "/api/v1/workspaces/{ws}/projects/{p}/history"] {
        if let Some(params) = doc["paths"][path]["get"]["parameters"].as_array_mut() {
            params.retain(|p| !(p["in"] == "query" && (p["name"] == "workspace" || p["name"] == "project")));
        }
    }
    let schemas = &mut doc["components"]["schemas"];
    // An expiry is given one way or the other, never both.
    for name in ["CreateToken", "CreateAccess", "AddMyself", "SetMember", "CreateGrant", "CreateInvitation"] {
        if let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) {
            schema.insert(
                "not".into(),
                json!({"properties": {"expires_at": {"type": "string"}, "expires_in": {"type": "string"}},
                       "required": ["expires_at", "expires_in"]}),
            );
        }
    }
    for name in ["CreateGrant", "CreateRequest", "CheckRequest"] {
        let Some(schema) = schemas.get_mut(name).and_then(Value::as_object_mut) else { continue };
        let role =
            |r: &str| json!({"properties": {"role": serde_json::from_str::<Value>(r).unwrap_or_default()}});
        schema.insert(
            "if".into(),
            json!({"properties": {"project": {"type": "string"}}, "required": ["project"]}),
        );
        schema.insert("then".into(), role(PROJECT_ROLE));
        schema.insert("else".into(), role(WORKSPACE_ROLE));
    }
    // Named approvers come with the `users` set only, and that set names at least one.
    if let Some(step) = schemas.get_mut("PolicyStep").and_then(Value::as_object_mut) {
        step.insert("if".into(), json!({"properties": {"approvers": {"const": "users"}}}));
        step.insert("then".into(), json!({"properties": {"users": {"minItems": 1}}, "required": ["users"]}));
        step.insert("else".into(), json!({"properties": {"users": {"maxItems": 0}}}));
    }
    // A delegate access names its recipients and is never read-only; an API token access names
    // none.
    if let Some(access) = schemas.get_mut("CreateAccess").and_then(Value::as_object_mut) {
        access.insert("if".into(), json!({"properties": {"kind": {"const": "delegate"}}}));
        access.insert(
            "then".into(),
            json!({"properties": {"recipients": {"minItems": 1}, "read_only": {"enum": [false, null]}}, "required": ["recipients"]}),
        );
        access.insert("else".into(), json!({"properties": {"recipients": {"maxItems": 0}}}));
    }
    // A tag allows a list of values or a pattern, not both.
    if let Some(tag) = schemas.get_mut("TagDefinition").and_then(Value::as_object_mut) {
        tag.insert(
            "not".into(),
            json!({"properties": {"values": {"minItems": 1}, "pattern": {"type": "string"}}, "required": ["values", "pattern"]}),
        );
    }
    let mut project_member = schemas["SetMember"].clone();
    project_member["properties"]["role"] = serde_json::from_str(PROJECT_ROLE).unwrap_or_default();
    project_member["description"] =
        json!("Body of `PUT .../projects/{p}/members/{email}`: `SetMember` with a project role.");
    schemas["SetProjectMember"] = project_member;
    let body = &mut doc["paths"]["/api/v1/workspaces/{ws}/projects/{p}/members/{email}"]["put"]
        ["requestBody"]["content"]["application/json"]["schema"];
    *body = json!({"$ref": "#/components/schemas/SetProjectMember"});
}

/// Merges `fragment` into `schema`. A schema that allows `null` (an optional field) keeps
/// allowing it: the constraints concern the value when there is one.
fn merge(schema: &mut Value, fragment: &str) {
    if fragment.is_empty() {
        return;
    }
    let Ok(Value::Object(add)) = serde_json::from_str::<Value>(fragment) else {
        panic!("a constraint that is not a JSON object: {fragment}");
    };
    let nullable =
        schema.get("type").is_some_and(|t| t.as_array().is_some_and(|a| a.contains(&json!("null"))));
    let Some(target) = schema.as_object_mut() else { return };
    for (k, v) in add {
        if k == "type" && nullable {
            target.insert(k, json!([v, "null"]));
        } else if k == "enum" && nullable {
            let mut values = v.as_array().cloned().unwrap_or_default();
            if !values.contains(&Value::Null) {
                values.push(Value::Null);
            }
            target.insert(k, Value::Array(values));
        } else {
            target.insert(k, v);
        }
    }
}

/// A comma-separated list of event types, as the audit filters take it.
fn event_types() -> String {
    let names: Vec<&str> = breakglass_core::audit::EventType::ALL.iter().map(|t| t.as_str()).collect();
    // Items are trimmed and empty ones skipped, as the server reads the list.
    let one = format!("\\s*(?:{})?\\s*", names.join("|"));
    json!({"type": "string", "pattern": format!("^{one}(?:,{one})*$")}).to_string()
}

/// Applies [`INPUTS`] and [`PARAMETERS`] to the document (as JSON).
pub fn constrain(doc: &mut Value) {
    for (component, field, fragment) in INPUTS {
        let schema = &mut doc["components"]["schemas"][*component]["properties"];
        let (name, part) = match field.strip_suffix("[]") {
            Some(name) => (name, "items"),
            None => match field.strip_suffix("{}") {
                Some(name) => (name, "additionalProperties"),
                None => (*field, ""),
            },
        };
        let Some(property) = schema.get_mut(name) else {
            panic!("the document has no field {component}.{name}");
        };
        if part.is_empty() {
            merge(property, fragment);
        } else {
            merge(&mut property[part], fragment);
        }
    }
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for op in item.values_mut() {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
            for param in params {
                let (place, name) = (
                    param["in"].as_str().unwrap_or("").to_owned(),
                    param["name"].as_str().unwrap_or("").to_owned(),
                );
                let specific = format!("{name}@{path}");
                let found = PARAMETERS
                    .iter()
                    .find(|(p, n, _)| *p == place && *n == specific)
                    .or_else(|| PARAMETERS.iter().find(|(p, n, _)| *p == place && *n == name));
                let Some((_, _, fragment)) = found else {
                    panic!("no constraint for the {place} parameter {name} of {path}");
                };
                let mut schema = json!({});
                if *fragment == "EVENT_TYPES" {
                    merge(&mut schema, &event_types());
                } else {
                    merge(&mut schema, fragment);
                }
                param["schema"] = schema;
            }
        }
    }
}
