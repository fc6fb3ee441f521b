//! Amazon Resource Names: parsing, printing and wildcard matching.

use crate::context::Context;
use crate::pattern::{Pattern, Syntax, glob_bytes, has_variable, has_wildcard};
use std::fmt;
use std::str::FromStr;

/// Partitions accepted in policies and ARNs.
pub const PARTITIONS: &[&str] = &[
    "aws",
    "aws-cn",
    "aws-us-gov",
    "aws-iso",
    "aws-iso-b",
    "aws-eusc",
];

/// A parsed ARN: `arn:partition:service:region:account-id:resource`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    partition: String,
    service: String,
    region: String,
    account: String,
    resource: String,
}

/// Why a string is not an ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArnError {
    /// Fewer than six colon-separated parts or no `arn:` prefix.
    #[error("`{0}` is not an ARN (arn:partition:service:region:account-id:resource)")]
    Format(String),
    /// An unknown partition.
    #[error("unknown partition `{0}`")]
    Partition(String),
    /// An empty service.
    #[error("`{0}` has an empty service")]
    Service(String),
}

impl Arn {
    /// Parses an ARN; the partition must be one of [`PARTITIONS`].
    pub fn parse(s: &str) -> Result<Arn, ArnError> {
        let parts = split6(s, false);
        let [Some("arn"), Some(p), Some(svc), Some(r), Some(a), Some(res)] = parts else {
            return Err(ArnError::Format(s.to_owned()));
        };
        if !PARTITIONS.contains(&p) {
            return Err(ArnError::Partition(p.to_owned()));
        }
        if svc.is_empty() {
            return Err(ArnError::Service(s.to_owned()));
        }
        Ok(Arn {
            partition: p.to_owned(),
            service: svc.to_owned(),
            region: r.to_owned(),
            account: a.to_owned(),
            resource: res.to_owned(),
        })
    }

    /// Builds an ARN from parts (not checked).
    pub fn new(
        partition: impl Into<String>,
        service: impl Into<String>,
        region: impl Into<String>,
        account: impl Into<String>,
        resource: impl Into<String>,
    ) -> Arn {
        Arn {
            partition: partition.into(),
            service: service.into(),
            region: region.into(),
            account: account.into(),
            resource: resource.into(),
        }
    }

    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub fn partition(&self) -> &str {
        &self.partition
    }
    /// `s3`, `iam`, `dynamodb`, ...
    pub fn service(&self) -> &str {
        &self.service
    }
    /// Region, possibly empty.
    pub fn region(&self) -> &str {
        &self.region
    }
    /// Account id, possibly empty.
    pub fn account(&self) -> &str {
        &self.account
    }
    /// Everything after the fifth colon (`role/x`, `table/t/index/i`, `bucket/key`).
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// `ArnLike` semantics: matches this ARN against `pattern` component by component,
    /// `*` and `?` per component, `*` crossing `:` and `/` inside the resource part.
    pub fn matches(&self, pattern: &str) -> bool {
        ArnPattern::compile(pattern, ArnMode::Condition, false)
            .matches(&self.to_string(), &Context::new())
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

impl FromStr for Arn {
    type Err = ArnError;
    fn from_str(s: &str) -> Result<Arn, ArnError> {
        Arn::parse(s)
    }
}

/// Splits at the first colon: a byte loop, faster than `str::split_once` on the short
/// strings of ARNs and actions.
#[inline]
pub(crate) fn split_colon(s: &str) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == b':')?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Splits at the first five colons. With `vars`, colons inside `${...}` don't split.
pub(crate) fn split6(s: &str, vars: bool) -> [Option<&str>; 6] {
    let mut out = [None; 6];
    if !vars || !has_variable(s) {
        // Colons are ASCII, so every cut is a char boundary.
        let mut rest = s;
        for slot in out.iter_mut().take(5) {
            match rest.as_bytes().iter().position(|&b| b == b':') {
                Some(i) => {
                    let (head, tail) = rest.split_at(i);
                    *slot = Some(head);
                    rest = tail.get(1..).unwrap_or_default();
                }
                None => {
                    *slot = Some(rest);
                    return out;
                }
            }
        }
        if let Some(last) = out.get_mut(5) {
            *last = Some(rest);
        }
        return out;
    }
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut n = 0;
    let mut i = 0;
    let mut in_var = false;
    while i < bytes.len() && n < 5 {
        match bytes.get(i) {
            Some(b'$') if vars && bytes.get(i + 1) == Some(&b'{') => in_var = true,
            Some(b'}') if in_var => in_var = false,
            Some(b':') if !in_var => {
                if let Some(slot) = out.get_mut(n) {
                    *slot = s.get(start..i);
                }
                n += 1;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if let Some(slot) = out.get_mut(n) {
        *slot = s.get(start..);
    }
    out
}

/// Where an ARN pattern appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArnMode {
    /// `Resource`/`NotResource`: no wildcard in the service, variables only in the resource part.
    Resource,
    /// `ArnLike`/`ArnEquals` values: wildcards and variables in every component.
    Condition,
}

/// A compiled ARN pattern (a `Resource` entry or an `Arn*` condition value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArnPattern {
    /// No policy variable (the common case): the text itself, split once into its
    /// components (byte ranges), matched per component by a byte glob. One allocation.
    Plain {
        text: Box<str>,
        /// `(start, end)` of each component; the first `n` are set.
        bounds: [(u32, u32); 6],
        n: u8,
        /// Bit `i`: `*`/`?` are wildcards in component `i`.
        wild: u8,
    },
    /// With policy variables: the text and one compiled pattern per component.
    Segs { text: Box<str>, segs: Vec<Pattern> },
}

/// Whether `*`/`?` are wildcards in component `i` of a pattern in `mode`.
fn wild_in(mode: ArnMode, i: usize) -> bool {
    !(mode == ArnMode::Resource && i == 2)
}

impl ArnPattern {
    pub(crate) fn compile(text: &str, mode: ArnMode, vars: bool) -> ArnPattern {
        ArnPattern::compile_split(text, &split6(text, false), mode, vars)
    }

    /// [`ArnPattern::compile`] with `text` already split by `split6(text, false)`.
    pub(crate) fn compile_split(
        text: &str,
        parts: &[Option<&str>; 6],
        mode: ArnMode,
        vars: bool,
    ) -> ArnPattern {
        if !(vars && has_variable(text)) {
            let base = text.as_ptr() as usize;
            let mut bounds = [(0u32, 0u32); 6];
            let mut n = 0u8;
            let mut wild = 0u8;
            for (i, (part, b)) in parts.iter().zip(bounds.iter_mut()).enumerate() {
                let Some(part) = part else { break };
                let start = part.as_ptr() as usize - base;
                // Policies are bounded far below 4 GiB (the caller's body limits).
                *b = (
                    u32::try_from(start).unwrap_or(u32::MAX),
                    u32::try_from(start + part.len()).unwrap_or(u32::MAX),
                );
                if wild_in(mode, i) && has_wildcard(part) {
                    wild |= 1 << i;
                }
                n += 1;
            }
            return ArnPattern::Plain {
                text: Box::from(text),
                bounds,
                n,
                wild,
            };
        }
        let parts = split6(text, vars);
        let mut segs = Vec::with_capacity(6);
        for (i, part) in parts.iter().enumerate() {
            let Some(part) = part else { break };
            let syntax = match (mode, i) {
                (ArnMode::Resource, 2) => Syntax {
                    wildcards: false,
                    variables: false,
                    fold: false,
                },
                (ArnMode::Resource, 5) => Syntax {
                    wildcards: true,
                    variables: vars,
                    fold: false,
                },
                (ArnMode::Resource, _) => Syntax {
                    wildcards: true,
                    variables: false,
                    fold: false,
                },
                (ArnMode::Condition, _) => Syntax {
                    wildcards: true,
                    variables: vars,
                    fold: false,
                },
            };
            segs.push(Pattern::compile(part, syntax));
        }
        ArnPattern::Segs {
            text: Box::from(text),
            segs,
        }
    }

    /// The pattern as written.
    pub(crate) fn text(&self) -> &str {
        match self {
            ArnPattern::Plain { text, .. } | ArnPattern::Segs { text, .. } => text,
        }
    }

    fn len(&self) -> usize {
        match self {
            ArnPattern::Plain { n, .. } => usize::from(*n),
            ArnPattern::Segs { segs, .. } => segs.len(),
        }
    }

    /// Component `i` of a plain pattern: its bytes and whether it has wildcards.
    #[inline]
    fn plain_seg(&self, i: usize) -> Option<(&[u8], bool)> {
        match self {
            ArnPattern::Plain {
                text, bounds, wild, ..
            } => {
                let (s, e) = *bounds.get(i)?;
                let bytes = text.as_bytes().get(s as usize..e as usize)?;
                Some((bytes, wild & (1 << i) != 0))
            }
            ArnPattern::Segs { .. } => None,
        }
    }

    #[inline]
    fn seg_matches(&self, i: usize, t: &str, ctx: &Context) -> bool {
        match self {
            ArnPattern::Plain { .. } => self
                .plain_seg(i)
                .is_some_and(|(p, w)| glob_bytes(p, t.as_bytes(), w, false)),
            ArnPattern::Segs { segs, .. } => segs.get(i).is_some_and(|s| s.matches(t, ctx)),
        }
    }

    #[inline]
    fn seg_ends_with_star(&self, i: usize) -> bool {
        match self {
            ArnPattern::Plain { .. } => self
                .plain_seg(i)
                .is_some_and(|(p, w)| w && p.last() == Some(&b'*')),
            ArnPattern::Segs { segs, .. } => segs.get(i).is_some_and(Pattern::ends_with_star),
        }
    }

    /// `*` alone.
    pub(crate) fn is_match_all(&self) -> bool {
        match self {
            ArnPattern::Plain { n: 1, .. } => self
                .plain_seg(0)
                .is_some_and(|(p, w)| w && !p.is_empty() && p.iter().all(|b| *b == b'*')),
            ArnPattern::Plain { .. } => false,
            ArnPattern::Segs { segs, .. } => {
                matches!(segs.as_slice(), [p] if p.is_match_all())
            }
        }
    }

    pub(crate) fn matches(&self, text: &str, ctx: &Context) -> bool {
        if self.len() == 1 {
            return self.seg_matches(0, text, ctx);
        }
        self.matches_split(text, &split6(text, false), ctx)
    }

    /// [`ArnPattern::matches`] with `text` already split by [`split6`] (once per request).
    pub(crate) fn matches_split(
        &self,
        text: &str,
        parts: &[Option<&str>; 6],
        ctx: &Context,
    ) -> bool {
        let n = self.len();
        if n == 1 {
            return self.seg_matches(0, text, ctx);
        }
        for i in 0..n {
            let last = i + 1 == n;
            if last && n < 6 && self.seg_ends_with_star(i) {
                // A trailing `*` in a short pattern expands across the remaining components.
                let Some(offset) = component_offset(text, i) else {
                    return false;
                };
                return self.seg_matches(i, text.get(offset..).unwrap_or_default(), ctx);
            }
            let Some(Some(part)) = parts.get(i) else {
                return false;
            };
            if !self.seg_matches(i, part, ctx) {
                return false;
            }
            if last && n < 6 && parts.get(n).is_some_and(Option::is_some) {
                return false;
            }
        }
        true
    }
}

/// Byte offset at which component `i` (0-based, colon-separated) starts.
fn component_offset(text: &str, i: usize) -> Option<usize> {
    if i == 0 {
        return Some(0);
    }
    text.match_indices(':').nth(i - 1).map(|(p, _)| p + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(p: &str, t: &str) -> bool {
        ArnPattern::compile(p, ArnMode::Resource, true).matches(t, &Context::new())
    }

    #[test]
    fn parse_and_print() {
        let a = Arn::parse("arn:aws:dynamodb:us-east-1:123456789012:table/Books/index/ByAuthor")
            .unwrap();
        assert_eq!(a.service(), "dynamodb");
        assert_eq!(a.account(), "123456789012");
        assert_eq!(a.resource(), "table/Books/index/ByAuthor");
        assert_eq!(
            a.to_string(),
            "arn:aws:dynamodb:us-east-1:123456789012:table/Books/index/ByAuthor"
        );
        let s3 = Arn::parse("arn:aws:s3:::bucket/key:with:colons").unwrap();
        assert_eq!(s3.resource(), "bucket/key:with:colons");
        assert_eq!(s3.region(), "");
        assert!(Arn::parse("arn:aws-cn:s3:::b").is_ok());
        assert!(Arn::parse("arn:aws-us-gov:iam::1:role/x").is_ok());
        assert!(matches!(
            Arn::parse("arn:aws:s3::b"),
            Err(ArnError::Format(_))
        ));
        assert!(matches!(
            Arn::parse("arn:foo:s3:::b"),
            Err(ArnError::Partition(_))
        ));
        assert!(matches!(
            Arn::parse("arn:aws::::b"),
            Err(ArnError::Service(_))
        ));
        assert!(Arn::parse("nope").is_err());
    }

    #[test]
    fn resource_matching() {
        let t = "arn:aws:dynamodb:us-east-1:123456789012:table/Books";
        assert!(res("*", t));
        assert!(res(t, t));
        assert!(res("arn:aws:dynamodb:*:*:table/*", t));
        assert!(res(
            "arn:aws:dynamodb:us-east-?:123456789012:table/Books",
            t
        ));
        assert!(!res(
            "arn:aws:dynamodb:us-east-1:123456789012:table/books",
            t
        ));
        assert!(!res(
            "arn:aws:dynamodb:us-east-1:123456789012:table/Books",
            &format!("{t}/index/x")
        ));
        assert!(res(
            "arn:aws:dynamodb:us-east-1:123456789012:table/Books*",
            &format!("{t}/index/x")
        ));
        // `*` crosses `:` inside the resource part.
        assert!(res("arn:aws:s3:::b/*", "arn:aws:s3:::b/a:b/c"));
        // No wildcard in the service segment.
        assert!(!res("arn:aws:*:us-east-1:123456789012:table/Books", t));
        assert!(!res("arn:aws:dyn*:us-east-1:123456789012:table/Books", t));
        // A short pattern ending in `*` expands across colons.
        assert!(res("arn:aws:dynamodb:*", t));
        assert!(!res("arn:aws:dynamodb:us-west-2", t));
        assert!(!res("arn:aws:s3:*", t));
        // Segments don't spill into each other.
        assert!(!res("arn:aws:dynamodb:*:123456789012", t));
        assert!(!res("arn:aws:dynamodb:us-east-1:*:Books", t));
    }

    #[test]
    fn arn_like_per_component() {
        let a = Arn::parse(
            "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/x",
        )
        .unwrap();
        assert!(!a.matches("arn:aws:someservice:*:111122223333:finance/*"));
        assert!(a.matches("arn:aws:someservice:*:999999999999:store/*"));
        assert!(a.matches("arn:aws:*:*:*:*"));
        assert!(a.matches("arn:*:some*:us-*:9*:store/abc:*"));
    }

    #[test]
    fn split6_matches_a_plain_split() {
        for s in [
            "",
            ":",
            "arn",
            "arn:aws:s3:::b",
            "arn:aws:s3:::b/key:with:colons",
            "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/X",
            "::::::::::::",
            "a:bcdefghij:klmnopqrstuvwxyz:0123456789:é:ü:x",
            "abcdefgh:",
            "abcdefghijklmnop",
        ] {
            let mut want = [None; 6];
            for (slot, part) in want.iter_mut().zip(s.splitn(6, ':')) {
                *slot = Some(part);
            }
            assert_eq!(split6(s, false), want, "{s:?}");
            assert_eq!(split6(s, true), want, "{s:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn split6_any_text(s in "[a:é/*]{0,40}") {
            let mut want = [None; 6];
            for (slot, part) in want.iter_mut().zip(s.splitn(6, ':')) {
                *slot = Some(part);
            }
            proptest::prop_assert_eq!(split6(&s, false), want);
        }
    }

    #[test]
    fn split_respects_variables() {
        let p = split6("arn:aws:s3:::b/${aws:username}/x", true);
        assert_eq!(p[5], Some("b/${aws:username}/x"));
        let q = split6("arn:aws:iam::${aws:PrincipalAccount}:role/x", true);
        assert_eq!(q[4], Some("${aws:PrincipalAccount}"));
        assert_eq!(q[5], Some("role/x"));
    }
}
