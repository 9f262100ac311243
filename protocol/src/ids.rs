//! Identifier newtypes, so that a booth id can never be passed where a clerk id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

macro_rules! number_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

string_id!(
    /// A booth (政务晓屋), e.g. `booth-gudao-1`.
    BoothId
);
string_id!(
    /// A clerk (窗口工作人员), e.g. `clerk-hekou-1`.
    ClerkId
);
string_id!(
    /// A supervisor account.
    SupervisorId
);
string_id!(
    /// A service item code (政务服务事项), e.g. `teacher-cert`.
    ServiceCode
);
string_id!(
    /// A region (province, city, county, town or village), e.g. `hekou`.
    RegionId
);
string_id!(
    /// A stored document photo: 128 random bits in hex, so links cannot be guessed.
    DocumentId
);
number_id!(
    /// A queue ticket (取号). Also the number shown to the citizen.
    TicketId
);
number_id!(
    /// One offer of one ticket to one clerk.
    OfferId
);
number_id!(
    /// One call between a booth and a clerk.
    CallId
);
