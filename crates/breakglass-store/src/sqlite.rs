//! SQLite implementation (placeholder until written).
