//! Real databases for the store tests: a SQLite file in a temp folder, and a fresh database in
//! the throwaway PostgreSQL cluster of `test_kit::postgres`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

pub use test_kit::postgres::postgres_url;
use xiaowu_store::Store;

static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn temp_dir(tag: &str) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("xiaowu-store-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn sqlite() -> Store {
    Store::open_sqlite(&temp_dir("sqlite").join("xiaowu.db")).expect("a SQLite file in a temp folder")
}

pub fn postgres() -> Store {
    Store::open_postgres(&postgres_url()).expect("a fresh PostgreSQL database")
}

/// Both backends, for tests that must hold on each.
pub fn both() -> Vec<(&'static str, Store)> {
    vec![("sqlite", sqlite()), ("postgres", postgres())]
}
