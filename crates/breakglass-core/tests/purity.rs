//! Keeps `breakglass-core` pure: its dependencies are a short allow-list of crates that do no
//! IO, its ids are never random, and its source never reads a clock, a random source, the
//! file system or the network. This test reads files; the crate it guards must not.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};

/// The only crates the core may depend on at run time.
const ALLOWED: &[&str] = &[
    "hex",
    "regex-lite",
    "rustc-hash",
    "serde",
    "serde_json",
    "sha2",
    "thiserror",
    "time",
    "unicode-normalization",
    "unicode-security",
    "uuid",
];

const WHY: &str = "breakglass-core must stay free of IO, async, clock and randomness: time, the actor \
                   and id seeds are inputs (Ctx). Crates such as tokio, async-std, futures, sqlx, \
                   reqwest, hyper, axum, rand, getrandom, chrono's clock or std-io helpers belong in \
                   breakglass-store or breakglass-server, not here";

/// Text that must not appear in any source file of the core.
const FORBIDDEN_IN_SRC: &[&str] = &[
    "SystemTime::now",
    "Instant::now",
    "now_utc",
    "now_local",
    "thread_rng",
    "new_v4",
    "std::fs",
    "std::net",
    "std::env",
    "std::process",
    "tokio",
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The run-time dependency entries of a manifest: name -> the text that declares it (its line,
/// or its whole `[dependencies.name]` table). Covers `[dependencies]`, `[dependencies.x]` and
/// `[target.'cfg(..)'.dependencies]`; dev- and build-dependencies do not ship in the core.
fn runtime_dependencies(manifest: &str) -> Vec<(String, String)> {
    #[derive(PartialEq)]
    enum Section {
        Other,
        Deps,
        OneDep(String),
    }
    let mut section = Section::Other;
    let mut out: Vec<(String, String)> = Vec::new();
    for raw in manifest.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']').trim();
            let runtime =
                |h: &str| h == "dependencies" || (h.starts_with("target.") && h.ends_with(".dependencies"));
            section = if runtime(header) {
                Section::Deps
            } else if let Some(name) = header.strip_prefix("dependencies.") {
                out.push((name.trim().to_owned(), String::new()));
                Section::OneDep(name.trim().to_owned())
            } else {
                Section::Other
            };
            continue;
        }
        match &section {
            Section::Other => {}
            Section::Deps => {
                let key = line.split(['=', '.']).next().unwrap_or("").trim().trim_matches('"').to_owned();
                match out.iter_mut().find(|(n, _)| *n == key) {
                    Some((_, text)) => text.push_str(line),
                    None => out.push((key, line.to_owned())),
                }
            }
            Section::OneDep(name) => {
                if let Some((_, text)) = out.iter_mut().find(|(n, _)| n == name) {
                    text.push_str(line);
                }
            }
        }
    }
    out
}

#[test]
fn dependencies_are_only_pure_crates() {
    let manifest = read(&crate_dir().join("Cargo.toml"));
    let deps = runtime_dependencies(&manifest);
    let names: Vec<&str> = deps.iter().map(|(n, _)| n.as_str()).collect();
    // Guard the parser itself: the known pure dependencies must be found.
    for expected in ["time", "uuid", "sha2"] {
        assert!(names.contains(&expected), "parser found {names:?}; expected {expected} among them");
    }
    let extra: Vec<&str> = names.iter().copied().filter(|n| !ALLOWED.contains(n)).collect();
    assert!(
        extra.is_empty(),
        "breakglass-core depends on {extra:?}, which is not in the allow-list {ALLOWED:?}. {WHY}."
    );
}

#[test]
fn parser_sees_every_form_of_dependency() {
    let sample =
        "[package]\nname = \"x\"\n[dependencies]\nhex.workspace = true\nserde = { version = \"1\" }\n\
                  \"tokio\" = \"1\"\n[dependencies.rand]\nversion = \"0.8\"\n\
                  [target.'cfg(unix)'.dependencies]\nnix = \"0.29\"\n[dev-dependencies]\nproptest = \"1\"\n";
    let names: Vec<String> = runtime_dependencies(sample).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["hex", "serde", "tokio", "rand", "nix"]);
}

#[test]
fn uuid_cannot_make_random_ids() {
    let manifest = read(&crate_dir().join("Cargo.toml"));
    let deps = runtime_dependencies(&manifest);
    let (_, uuid) = deps.iter().find(|(n, _)| n == "uuid").expect("the core depends on uuid");
    for feature in ["v4", "fast-rng", "rng"] {
        assert!(
            !uuid.contains(&format!("\"{feature}\"")),
            "uuid is declared with feature {feature:?} ({uuid}): the core never draws random ids, \
             new ids come from Ctx::next_id. {WHY}."
        );
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn source_never_reads_the_clock_randomness_or_io() {
    let src = crate_dir().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.iter().any(|f| f.ends_with("lib.rs")) && files.len() >= 10, "scanned only {files:?}");
    let mut hits = Vec::new();
    for file in &files {
        for (i, line) in read(file).lines().enumerate() {
            for needle in FORBIDDEN_IN_SRC {
                if line.contains(needle) {
                    hits.push(format!("{}:{}: `{needle}` in: {}", file.display(), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(hits.is_empty(), "{WHY}. Found:\n{}", hits.join("\n"));
}

#[test]
fn clippy_config_forbids_the_impure_methods() {
    let path = crate_dir().join("clippy.toml");
    assert!(
        path.is_file(),
        "{} is missing: it makes clippy refuse clock, RNG and IO calls in the core",
        path.display()
    );
    let config = read(&path);
    assert!(config.contains("disallowed-methods"), "clippy.toml must list disallowed-methods");
    for method in [
        "std::time::SystemTime::now",
        "std::time::Instant::now",
        "time::OffsetDateTime::now_utc",
        "std::fs::read_to_string",
    ] {
        assert!(config.contains(&format!("\"{method}\"")), "clippy.toml no longer forbids {method}");
    }
    assert!(config.contains("disallowed-types") && config.contains("\"std::net::TcpStream\""));
    // `Uuid::new_v4` is kept out by `uuid_cannot_make_random_ids` (no `v4` feature), which makes
    // the method unreachable; clippy.toml may or may not list it.
}
