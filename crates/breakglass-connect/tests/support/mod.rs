//! Helpers shared by the integration tests.

pub mod cluster;
pub mod mariadb;
pub mod redis_server;
