//! The directory: regions, service items, booths and clerks, indexed for the engine.
//!
//! Built once from configuration (the server converts its TOML into a [`DirectoryBuilder`]) and
//! immutable afterwards. It also answers the question at the heart of routing: for a booth and a
//! service item, which halls are eligible at each widening step.

use std::collections::HashMap;
use std::time::Duration;

/// Index of a region in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionIdx(pub u32);
/// Index of a service item in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceIdx(pub u32);
/// Index of a booth in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoothIdx(pub u32);
/// Index of a clerk in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClerkIdx(pub u32);

/// Administrative level, from the top down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Province,
    City,
    County,
    Town,
    Village,
}

#[derive(Debug, Clone)]
pub struct Region {
    pub id: String,
    pub name: String,
    pub level: Level,
    pub parent: Option<RegionIdx>,
    /// Cities that take this city's overflow after the last local step (跨域通办). Cities only.
    pub partners: Vec<RegionIdx>,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub code: String,
    pub name: String,
    /// Levels whose halls may handle this item.
    pub levels: Vec<Level>,
    /// Waited time after which the pool widens to step 1, 2, 3…; the last value repeats.
    pub widen_after: Vec<Duration>,
    /// Target time to answer (for the service level).
    pub target_answer: Duration,
    /// Starting value of the average handling time used for wait estimates.
    pub expected_handle: Duration,
}

#[derive(Debug, Clone)]
pub struct Booth {
    pub id: String,
    pub name: String,
    pub region: RegionIdx,
}

#[derive(Debug, Clone)]
pub struct Clerk {
    pub id: String,
    pub name: String,
    /// The hall (a region) this clerk works in.
    pub hall: RegionIdx,
    pub skills: Vec<ServiceIdx>,
}

/// Why a directory could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("duplicate {kind} id `{id}`")]
    Duplicate { kind: &'static str, id: String },
    #[error("{kind} `{id}` refers to unknown {target} `{reference}`")]
    UnknownReference { kind: &'static str, id: String, target: &'static str, reference: String },
    #[error("region `{id}`: {problem}")]
    BadRegion { id: String, problem: String },
    #[error("service `{id}`: {problem}")]
    BadService { id: String, problem: String },
}

/// A region as given to the builder: id, name, level, parent id, partner ids.
type RegionSpec = (String, String, Level, Option<String>, Vec<String>);

/// Collects string-keyed entries and resolves them into an indexed [`Directory`].
#[derive(Debug, Default)]
pub struct DirectoryBuilder {
    regions: Vec<RegionSpec>,
    services: Vec<Service>,
    booths: Vec<(String, String, String)>,
    clerks: Vec<(String, String, String, Vec<String>)>,
}

impl DirectoryBuilder {
    pub fn region(&mut self, id: &str, name: &str, level: Level, parent: Option<&str>, partners: &[&str]) -> &mut Self {
        let partners = partners.iter().map(|p| p.to_string()).collect();
        self.regions.push((id.into(), name.into(), level, parent.map(str::to_owned), partners));
        self
    }

    pub fn service(&mut self, service: Service) -> &mut Self {
        self.services.push(service);
        self
    }

    pub fn booth(&mut self, id: &str, name: &str, region: &str) -> &mut Self {
        self.booths.push((id.into(), name.into(), region.into()));
        self
    }

    pub fn clerk(&mut self, id: &str, name: &str, hall: &str, skills: &[&str]) -> &mut Self {
        let skills = skills.iter().map(|s| s.to_string()).collect();
        self.clerks.push((id.into(), name.into(), hall.into(), skills));
        self
    }

    pub fn build(self) -> Result<Directory, DirectoryError> {
        let mut d = Directory::default();
        for (i, (id, ..)) in self.regions.iter().enumerate() {
            if d.region_by_id.insert(id.clone(), RegionIdx(i as u32)).is_some() {
                return Err(DirectoryError::Duplicate { kind: "region", id: id.clone() });
            }
        }
        let resolve_region = |d: &Directory, kind, id: &str, r: &str| {
            d.region_by_id.get(r).copied().ok_or_else(|| DirectoryError::UnknownReference {
                kind,
                id: id.to_owned(),
                target: "region",
                reference: r.to_owned(),
            })
        };
        for (id, name, level, parent, partners) in &self.regions {
            let parent = match parent {
                Some(p) => Some(resolve_region(&d, "region", id, p)?),
                None => None,
            };
            let partners = partners.iter().map(|p| resolve_region(&d, "region", id, p)).collect::<Result<_, _>>()?;
            d.regions.push(Region { id: id.clone(), name: name.clone(), level: *level, parent, partners });
        }
        for (i, r) in d.regions.iter().enumerate() {
            if let Some(p) = r.parent {
                if d.regions[p.0 as usize].level >= r.level {
                    return Err(DirectoryError::BadRegion {
                        id: r.id.clone(),
                        problem: format!("its parent `{}` is not at a higher level", d.regions[p.0 as usize].id),
                    });
                }
            }
            for p in &r.partners {
                let partner = &d.regions[p.0 as usize];
                if r.level != Level::City || partner.level != Level::City || p.0 as usize == i {
                    return Err(DirectoryError::BadRegion {
                        id: r.id.clone(),
                        problem: format!("partner `{}`: only a city may partner another city", partner.id),
                    });
                }
            }
        }
        for s in self.services {
            if s.levels.is_empty() {
                return Err(DirectoryError::BadService { id: s.code, problem: "no hall level may handle it".into() });
            }
            if s.widen_after.is_empty() || s.widen_after.windows(2).any(|w| w[0] > w[1]) {
                return Err(DirectoryError::BadService {
                    id: s.code,
                    problem: "widen_after must be a non-empty, non-decreasing list".into(),
                });
            }
            let idx = ServiceIdx(d.services.len() as u32);
            if d.service_by_code.insert(s.code.clone(), idx).is_some() {
                return Err(DirectoryError::Duplicate { kind: "service", id: s.code });
            }
            d.services.push(s);
        }
        for (id, name, region) in self.booths {
            let region = resolve_region(&d, "booth", &id, &region)?;
            let idx = BoothIdx(d.booths.len() as u32);
            if d.booth_by_id.insert(id.clone(), idx).is_some() {
                return Err(DirectoryError::Duplicate { kind: "booth", id });
            }
            d.booths.push(Booth { id, name, region });
        }
        for (id, name, hall, skills) in self.clerks {
            let hall = resolve_region(&d, "clerk", &id, &hall)?;
            let skills = skills
                .iter()
                .map(|s| {
                    d.service_by_code.get(s).copied().ok_or_else(|| DirectoryError::UnknownReference {
                        kind: "clerk",
                        id: id.clone(),
                        target: "service",
                        reference: s.clone(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let idx = ClerkIdx(d.clerks.len() as u32);
            if d.clerk_by_id.insert(id.clone(), idx).is_some() {
                return Err(DirectoryError::Duplicate { kind: "clerk", id });
            }
            d.clerks.push(Clerk { id, name, hall, skills });
        }
        Ok(d)
    }
}

/// The immutable, indexed directory.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    pub regions: Vec<Region>,
    pub services: Vec<Service>,
    pub booths: Vec<Booth>,
    pub clerks: Vec<Clerk>,
    region_by_id: HashMap<String, RegionIdx>,
    service_by_code: HashMap<String, ServiceIdx>,
    booth_by_id: HashMap<String, BoothIdx>,
    clerk_by_id: HashMap<String, ClerkIdx>,
}

impl Directory {
    pub fn region_idx(&self, id: &str) -> Option<RegionIdx> {
        self.region_by_id.get(id).copied()
    }
    pub fn service_idx(&self, code: &str) -> Option<ServiceIdx> {
        self.service_by_code.get(code).copied()
    }
    pub fn booth_idx(&self, id: &str) -> Option<BoothIdx> {
        self.booth_by_id.get(id).copied()
    }
    pub fn clerk_idx(&self, id: &str) -> Option<ClerkIdx> {
        self.clerk_by_id.get(id).copied()
    }
    pub fn region(&self, r: RegionIdx) -> &Region {
        &self.regions[r.0 as usize]
    }
    pub fn service(&self, s: ServiceIdx) -> &Service {
        &self.services[s.0 as usize]
    }
    pub fn booth(&self, b: BoothIdx) -> &Booth {
        &self.booths[b.0 as usize]
    }
    pub fn clerk(&self, c: ClerkIdx) -> &Clerk {
        &self.clerks[c.0 as usize]
    }

    /// The region itself and its ancestors, nearest first.
    pub fn ancestry(&self, r: RegionIdx) -> impl Iterator<Item = RegionIdx> + '_ {
        std::iter::successors(Some(r), move |r| self.region(*r).parent)
    }

    /// Whether `r` is `scope` or lies below it.
    pub fn is_within(&self, r: RegionIdx, scope: RegionIdx) -> bool {
        self.ancestry(r).any(|a| a == scope)
    }

    /// The widening steps for a ticket from a booth in `region` for `service`: each step is the
    /// set of halls that become eligible at that step. Local steps follow the region's ancestry
    /// (nearest first) at the levels the service allows; the last step is the partner cities of
    /// the booth's city. Empty when no hall anywhere may serve the request.
    pub fn widening_steps(&self, region: RegionIdx, service: ServiceIdx) -> Vec<Vec<RegionIdx>> {
        let levels = &self.service(service).levels;
        let mut steps: Vec<Vec<RegionIdx>> =
            self.ancestry(region).filter(|r| levels.contains(&self.region(*r).level)).map(|r| vec![r]).collect();
        if levels.contains(&Level::City) {
            if let Some(city) = self.ancestry(region).find(|r| self.region(*r).level == Level::City) {
                let partners = self.region(city).partners.clone();
                if !partners.is_empty() {
                    steps.push(partners);
                }
            }
        }
        steps
    }
}
