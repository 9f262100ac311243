//! The floor the routing benches share: 200 regions, 50 service items, 2,000 clerks with five
//! random skills each, and a booth for every clerk and every waiting ticket. Built by the engine
//! bench and the desk's (which includes this file).
#![allow(dead_code)]

use std::time::Duration;

use xiaowu_routing::*;

pub const CITIES: usize = 9;
pub const COUNTIES_PER_CITY: usize = 5;
pub const REGIONS: usize = 200;
pub const SERVICES: usize = 50;
pub const CLERKS: usize = 2_000;
pub const WAITING: usize = 10_000;
pub const SKILLS_PER_CLERK: usize = 5;

/// Deterministic xorshift, so every run measures the same event sequence.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

pub fn directory(rng: &mut Rng) -> (Directory, usize) {
    let mut b = DirectoryBuilder::default();
    b.region("p", "province", Level::Province, None, &[]);
    let mut halls = vec![];
    let mut towns = vec![];
    for c in 0..CITIES {
        let city = format!("c{c}");
        let partner = format!("c{}", (c + 1) % CITIES);
        b.region(&city, &city, Level::City, Some("p"), &[partner.as_str()]);
        halls.push(city.clone());
        for k in 0..COUNTIES_PER_CITY {
            let county = format!("c{c}k{k}");
            b.region(&county, &county, Level::County, Some(&city), &[]);
            halls.push(county);
        }
    }
    let regions_so_far = 1 + CITIES * (1 + COUNTIES_PER_CITY);
    for t in 0..REGIONS - regions_so_far {
        let county = format!("c{}k{}", t % CITIES, (t / CITIES) % COUNTIES_PER_CITY);
        let town = format!("t{t}");
        b.region(&town, &town, Level::Town, Some(&county), &[]);
        towns.push(town);
    }
    for s in 0..SERVICES {
        b.service(Service {
            code: format!("s{s}"),
            name: format!("service {s}"),
            levels: vec![Level::County, Level::City, Level::Province],
            widen_after: vec![Duration::from_secs(30), Duration::from_secs(90), Duration::from_secs(180)],
            target_answer: Duration::from_secs(60),
            expected_handle: Duration::from_secs(300),
        });
    }
    let booths = CLERKS + WAITING;
    for i in 0..booths {
        b.booth(&format!("b{i}"), "booth", &towns[i % towns.len()]);
    }
    for i in 0..CLERKS {
        let skills: Vec<String> = (0..SKILLS_PER_CLERK).map(|_| format!("s{}", rng.below(SERVICES))).collect();
        let skills: Vec<&str> = skills.iter().map(String::as_str).collect();
        b.clerk(&format!("k{i}"), "clerk", &halls[i % halls.len()], &skills);
    }
    (b.build().expect("bench directory is valid"), booths)
}

/// Per-input samples, sorted: how many per second of their own time, and their percentiles.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self(samples)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Inputs per second of the time spent in them.
    pub fn per_sec(&self) -> f64 {
        self.0.len() as f64 / self.0.iter().sum::<Duration>().as_secs_f64()
    }

    /// The `p` quantile (0.99: p99), in µs.
    pub fn at_us(&self, p: f64) -> f64 {
        self.0[((self.0.len() as f64 * p) as usize).min(self.0.len() - 1)].as_secs_f64() * 1e6
    }

    /// `p50 …, p99 …, p99.9 …` in µs.
    pub fn percentiles(&self) -> String {
        format!("p50 {:.2} µs, p99 {:.2} µs, p99.9 {:.2} µs", self.at_us(0.50), self.at_us(0.99), self.at_us(0.999))
    }

    pub fn max_us(&self) -> f64 {
        self.at_us(1.0)
    }
}
