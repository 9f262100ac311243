//! Ticket and call ids: a start's boot number in the high 32 bits and a count in the low ones;
//! the store names them `<boot>-<n>` and a kiosk shows the count (“12号”).

/// The first ticket or call id of boot `boot`: its number in the high 32 bits, 1 in the low.
/// Ids stay below 2^53 (exact in JavaScript) for the first two million starts.
pub fn id_base(boot: i64) -> u64 {
    ((boot.max(0) as u64) << 32) | 1
}

/// `<boot>-<n>`: how the store names a ticket or call id.
pub fn store_id(id: u64) -> String {
    format!("{}-{}", id >> 32, id & 0xFFFF_FFFF)
}

/// The wire id of a store id `<boot>-<n>` (0 when it is not one).
pub fn wire_id(id: &str) -> u64 {
    match id.split_once('-').map(|(b, n)| (b.parse::<u64>(), n.parse::<u64>())) {
        Some((Ok(boot), Ok(n))) if boot < (1 << 31) && n <= 0xFFFF_FFFF => (boot << 32) | n,
        _ => 0,
    }
}

/// The short number a kiosk shows and speaks for ticket id `id` (counts from 1 in each start).
pub fn short_number(id: u64) -> u32 {
    (id & 0xFFFF_FFFF) as u32
}
