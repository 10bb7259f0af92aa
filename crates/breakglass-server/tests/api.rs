//! HTTP integration suite: each test starts a server on port 0 with its own SQLite data
//! directory and a manual clock, and drives it through the typed client (`breakglass-client`),
//! with raw requests only for what the client deliberately cannot send.
//!
//! One test binary, so that the suite compiles once.

#[path = "../../breakglass-connect/tests/support/cluster.rs"]
mod cluster;
mod common;
#[path = "../../breakglass-connect/tests/support/mariadb.rs"]
mod mariadb;
#[path = "../../breakglass-connect/tests/support/redis_server.rs"]
mod redis_server;
#[path = "../../breakglass-connect/tests/support/sshd.rs"]
mod sshd;

#[path = "api/admin_area.rs"]
mod admin_area;
#[path = "api/audit.rs"]
mod audit;
#[path = "api/auth.rs"]
mod auth;
#[path = "api/authz_matrix.rs"]
mod authz_matrix;
#[path = "api/bad_input.rs"]
mod bad_input;
#[path = "api/delegation.rs"]
mod delegation;
#[path = "api/expiry.rs"]
mod expiry;
#[path = "api/group_commit.rs"]
mod group_commit;
#[path = "api/hardening.rs"]
mod hardening;
#[path = "api/isolation.rs"]
mod isolation;
#[path = "api/members.rs"]
mod members;
#[path = "api/platforms.rs"]
mod platforms;
#[path = "api/provisioning.rs"]
mod provisioning;
#[path = "api/provisioning_external.rs"]
mod provisioning_external;
#[path = "api/provisioning_redis.rs"]
mod provisioning_redis;
#[path = "api/provisioning_ssh.rs"]
mod provisioning_ssh;
#[path = "api/quota.rs"]
mod quota;
#[path = "api/replicas.rs"]
mod replicas;
#[path = "api/requests.rs"]
mod requests;
#[path = "api/web.rs"]
mod web;
