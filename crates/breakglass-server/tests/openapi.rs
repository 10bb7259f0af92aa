//! The committed OpenAPI document must match the one generated from the handlers.
//! Regenerate it with `BREAKGLASS_UPDATE_OPENAPI=1 cargo test -p breakglass-server --test openapi`.

use std::path::PathBuf;

#[test]
fn committed_openapi_document_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json");
    let generated = breakglass_server::http::openapi_json();
    if std::env::var_os("BREAKGLASS_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json at the repository root is out of date with the handlers; regenerate it with \
         BREAKGLASS_UPDATE_OPENAPI=1 cargo test -p breakglass-server --test openapi"
    );
}

#[test]
fn document_is_openapi_3_1_with_every_core_path() {
    let doc: serde_json::Value = serde_json::from_str(&breakglass_server::http::openapi_json()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/healthz",
        "/api/v1/me",
        "/api/v1/auth/login",
        "/api/v1/users",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/workspaces",
        "/api/v1/workspaces/{ws}",
        "/api/v1/workspaces/{ws}/members",
        "/api/v1/workspaces/{ws}/members/{email}",
        "/api/v1/workspaces/{ws}/projects",
        "/api/v1/workspaces/{ws}/projects/{p}",
        "/api/v1/workspaces/{ws}/projects/{p}/members",
        "/api/v1/workspaces/{ws}/projects/{p}/members/{email}",
        "/api/v1/check",
        "/api/v1/check/batch",
        "/api/v1/audit",
        "/api/v1/audit/verify",
        "/api/v1/workspaces/{ws}/history",
        "/api/v1/workspaces/{ws}/projects/{p}/history",
    ] {
        assert!(doc["paths"].get(path).is_some(), "missing path {path}");
    }
}

/// Every field of every request body states its constraints (or says it takes any value of its
/// type): a new field without an entry in `http::openapi::INPUTS` fails here, so the document
/// never again omits a limit the server checks.
#[test]
fn every_input_field_has_its_constraints() {
    let doc: serde_json::Value = serde_json::from_str(&breakglass_server::http::openapi_json()).unwrap();
    let schemas = &doc["components"]["schemas"];
    // The schemas request bodies refer to, and the ones nested in them.
    let mut todo: Vec<String> = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if let Some(r) = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() {
                todo.push(r.trim_start_matches("#/components/schemas/").to_owned());
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        for (field, schema) in schemas[&name]["properties"].as_object().into_iter().flatten() {
            let text = schema.to_string();
            for r in text.split("#/components/schemas/").skip(1) {
                todo.push(r.split('"').next().unwrap().to_owned());
            }
            let listed = breakglass_server::http::openapi::INPUTS
                .iter()
                .any(|(s, f, _)| *s == name.replace("SetProjectMember", "SetMember") && *f == field);
            assert!(listed, "{name}.{field} has no entry in http::openapi::INPUTS");
        }
    }
    assert!(seen.len() > 30, "the walk found the request schemas: {seen:?}");
}
