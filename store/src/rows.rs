//! Small helpers every table's module shares: reading a row's column by position, the wall
//! clock's milliseconds for `*_ms` columns, and a list of `$n` placeholders.

use crate::backend::Row;

/// Milliseconds since the Unix epoch, now (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Column `i` as text (`""` when NULL).
pub(crate) fn text(row: &Row, i: usize) -> String {
    row[i].text().unwrap_or_default().to_owned()
}

/// Column `i` as an integer (0 when NULL).
pub(crate) fn int(row: &Row, i: usize) -> i64 {
    row[i].int().unwrap_or_default()
}

/// `$1, $2, …, $n`.
pub(crate) fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
