//! The two parties of a call.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which side of the call a channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The contact-centre agent (near end).
    Agent,
    /// The customer (far end).
    Caller,
}

impl Role {
    /// Both roles, agent first: the order used for per-party arrays.
    pub const ALL: [Role; 2] = [Role::Agent, Role::Caller];

    /// The index of this role in per-party arrays (agent 0, caller 1).
    pub fn index(self) -> usize {
        match self {
            Role::Agent => 0,
            Role::Caller => 1,
        }
    }

    /// The other party of a two-party call.
    pub fn other(self) -> Role {
        match self {
            Role::Agent => Role::Caller,
            Role::Caller => Role::Agent,
        }
    }

    /// The lowercase name used in the output contract.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Caller => "caller",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "agent" => Ok(Role::Agent),
            "caller" => Ok(Role::Caller),
            other => Err(format!("unknown role {other:?}: use agent or caller")),
        }
    }
}
