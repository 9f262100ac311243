//! Throwaway servers for tests and benchmarks, started on free loopback ports in temporary folders
//! and stopped when dropped or when the process exits: [`ports`] (ports no other test takes),
//! [`postgres`] (a PostgreSQL cluster, one fresh database per caller), [`redis`] (a Redis, and a
//! master, replica and three Sentinels), and fixtures: [`photos`] (synthetic camera photos, and
//! malformed ones). Used as a dev-dependency only.
#![forbid(unsafe_code)]

pub mod photos;
pub mod ports;
pub mod postgres;
pub mod redis;
