//! Staffing advice (潮汐窗口): how many clerks each hall needs on each service item in each hour of
//! a coming week to meet the item's service-level goal, by Erlang C — the standard contact-centre
//! model (calls arrive at random, wait in one queue, are answered by any of N agents).
//!
//! With λ arrivals an hour and an average handling time AHT (talk + wrap-up), the offered traffic
//! is A = λ × AHT / 3600 erlangs. For N > A agents the probability that a citizen waits is
//!
//! ```text
//! P(wait) = C(N, A) = N·B / (N − A·(1 − B)),   B = Erlang B(N, A): B₀ = 1, Bₖ = A·Bₖ₋₁ / (k + A·Bₖ₋₁)
//! ```
//!
//! and the service level (answered within t seconds) is SL = 1 − C(N, A)·e^(−(N − A)·t / AHT); the
//! average speed of answer is ASA = C(N, A)·AHT / (N − A). The clerks needed are the smallest N > A
//! with SL ≥ the goal. Pure functions: time and data come from the caller.

/// Erlang B: the blocking probability with `n` servers and `a` erlangs (stable recursion).
pub fn erlang_b(n: u32, a: f64) -> f64 {
    (1..=n).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

/// Erlang C: the probability of waiting with `n` agents and `a` erlangs (1 when `n` ≤ `a`: the
/// queue grows without end).
pub fn erlang_c(n: u32, a: f64) -> f64 {
    if f64::from(n) <= a {
        return 1.0;
    }
    let b = erlang_b(n, a);
    f64::from(n) * b / (f64::from(n) - a * (1.0 - b))
}

/// The share answered within `t_secs` with `n` agents, `a` erlangs and handling time `aht_secs`.
pub fn service_level(n: u32, a: f64, aht_secs: f64, t_secs: f64) -> f64 {
    if f64::from(n) <= a {
        return 0.0;
    }
    1.0 - erlang_c(n, a) * (-(f64::from(n) - a) * t_secs / aht_secs).exp()
}

/// Average speed of answer, seconds (infinite when `n` ≤ `a`).
pub fn asa_secs(n: u32, a: f64, aht_secs: f64) -> f64 {
    if f64::from(n) <= a {
        return f64::INFINITY;
    }
    erlang_c(n, a) * aht_secs / (f64::from(n) - a)
}

/// The fewest agents with a service level of at least `goal` within `t_secs` (0 for no traffic).
pub fn agents_needed(a: f64, aht_secs: f64, t_secs: f64, goal: f64) -> u32 {
    if a <= 0.0 {
        return 0;
    }
    let mut n = a.floor() as u32 + 1;
    while service_level(n, a, aht_secs, t_secs) < goal {
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three significant figures, as tables print them.
    fn sig3(x: f64) -> String {
        format!("{x:.2e}")
    }

    /// Published Erlang C tables (e.g. Cooper, Introduction to Queueing Theory, table of
    /// C(N, A)): A = 10 erlangs with 11, 12, 13 agents; A = 2 with 3, 4, 5.
    #[test]
    fn probability_of_waiting_matches_the_tables() {
        assert_eq!(sig3(erlang_c(11, 10.0)), "6.82e-1");
        assert_eq!(sig3(erlang_c(12, 10.0)), "4.49e-1");
        assert_eq!(sig3(erlang_c(13, 10.0)), "2.85e-1");
        assert_eq!(sig3(erlang_c(3, 2.0)), "4.44e-1", "4/9");
        assert_eq!(sig3(erlang_c(4, 2.0)), "1.74e-1");
        assert_eq!(sig3(erlang_c(5, 2.0)), "5.97e-2");
        assert_eq!(erlang_c(10, 10.0), 1.0, "no more agents than traffic: everyone waits");
    }

    /// The textbook example: 100 calls in 30 minutes, 180 s handling time (A = 10 erlangs), a goal
    /// of 80 % answered within 20 s: 13 agents give 79.6 %, so 14 are needed (88.8 %).
    #[test]
    fn service_level_and_agents_needed_for_the_textbook_example() {
        let a = 100.0 * 180.0 / 1800.0;
        assert_eq!(sig3(service_level(13, a, 180.0, 20.0)), "7.96e-1");
        assert_eq!(sig3(service_level(14, a, 180.0, 20.0)), "8.88e-1");
        assert_eq!(agents_needed(a, 180.0, 20.0, 0.8), 14);
        assert_eq!((asa_secs(14, a, 180.0) * 10.0).round() / 10.0, 7.8);
        assert_eq!(agents_needed(0.0, 180.0, 20.0, 0.8), 0);
        // One clerk answers only 74 % of 0.3 erlangs within 60 s (1 − 0.3·e^(−0.7·60/300)): two.
        assert_eq!(agents_needed(0.3, 300.0, 60.0, 0.8), 2);
        assert_eq!(agents_needed(0.05, 300.0, 60.0, 0.8), 1);
    }
}
