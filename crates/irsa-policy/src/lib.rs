// No panics outside tests (clippy.toml allows them in tests); every public item documented.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![warn(missing_docs, unreachable_pub)]
#![doc = include_str!("../README.md")]

mod arn;
mod condition;
mod context;
mod date;
mod document;
mod error;
mod eval;
mod explain;
mod lint;
mod pattern;
mod policy;
mod raw;
mod validate;

pub use arn::{Arn, ArnError, PARTITIONS};
pub use condition::{BaseOperator, Operator, SetOperator};
pub use context::{Context, ContextValue, Request, UnknownPrincipalType};
pub use document::{DocumentError, EvalDocument};
pub use error::PolicyError;
pub use eval::{
    Basis, Decision, EvalInput, Evaluation, MatchedStatement, PolicyRef, PrincipalMatch, decide,
    decide_trust, evaluate, evaluate_trust,
};
pub use explain::{Check, ConditionCheck, Explanation, StatementCheck, explain, explain_trust};
pub use lint::{Finding, Severity, federated_issuer, lint_trust};
pub use pattern::glob_match;
pub use policy::{
    ActionPattern, ConditionEntry, Effect, Policy, Principal, PrincipalEntry, PrincipalType,
    ResourcePattern, Statement, Version,
};
pub use validate::{PolicyKind, SESSION_POLICY_MAX_CHARS, UnknownKind, validate};

#[cfg(test)]
mod roundtrip_tests;
