//! Condition operators: parsing, compiled values and evaluation.

use crate::arn::{ArnMode, ArnPattern};
use crate::context::{Context, ContextValue};
use crate::date::parse_date;
use crate::pattern::{Pattern, Syntax};
use crate::policy::{Items, map_items};
use base64::Engine as _;
use std::fmt;
use std::net::IpAddr;

/// The operator without prefix or suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum BaseOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

use BaseOperator as B;

const ALL: &[(&str, BaseOperator)] = &[
    ("StringEquals", B::StringEquals),
    ("StringNotEquals", B::StringNotEquals),
    ("StringEqualsIgnoreCase", B::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", B::StringNotEqualsIgnoreCase),
    ("StringLike", B::StringLike),
    ("StringNotLike", B::StringNotLike),
    ("NumericEquals", B::NumericEquals),
    ("NumericNotEquals", B::NumericNotEquals),
    ("NumericLessThan", B::NumericLessThan),
    ("NumericLessThanEquals", B::NumericLessThanEquals),
    ("NumericGreaterThan", B::NumericGreaterThan),
    ("NumericGreaterThanEquals", B::NumericGreaterThanEquals),
    ("DateEquals", B::DateEquals),
    ("DateNotEquals", B::DateNotEquals),
    ("DateLessThan", B::DateLessThan),
    ("DateLessThanEquals", B::DateLessThanEquals),
    ("DateGreaterThan", B::DateGreaterThan),
    ("DateGreaterThanEquals", B::DateGreaterThanEquals),
    ("Bool", B::Bool),
    ("BinaryEquals", B::BinaryEquals),
    ("IpAddress", B::IpAddress),
    ("NotIpAddress", B::NotIpAddress),
    ("ArnEquals", B::ArnEquals),
    ("ArnLike", B::ArnLike),
    ("ArnNotEquals", B::ArnNotEquals),
    ("ArnNotLike", B::ArnNotLike),
    ("Null", B::Null),
];

impl BaseOperator {
    /// The operator's name as written in policies.
    pub fn name(self) -> &'static str {
        ALL.iter().find(|(_, b)| *b == self).map_or("", |(n, _)| n)
    }

    fn from_name(s: &str) -> Option<BaseOperator> {
        ALL.iter().find(|(n, _)| *n == s).map(|(_, b)| *b)
    }

    /// A negated operator (`StringNotEquals`, `NotIpAddress`, ...): values combine as NOR
    /// and a missing key makes it true.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            B::StringNotEquals
                | B::StringNotEqualsIgnoreCase
                | B::StringNotLike
                | B::NumericNotEquals
                | B::DateNotEquals
                | B::NotIpAddress
                | B::ArnNotEquals
                | B::ArnNotLike
        )
    }

    /// The operator accepts `*`/`?` wildcards in its values.
    pub fn is_like(self) -> bool {
        matches!(
            self,
            B::StringLike
                | B::StringNotLike
                | B::ArnEquals
                | B::ArnLike
                | B::ArnNotEquals
                | B::ArnNotLike
        )
    }

    /// A `Date*` operator.
    pub fn is_date(self) -> bool {
        matches!(
            self,
            B::DateEquals
                | B::DateNotEquals
                | B::DateLessThan
                | B::DateLessThanEquals
                | B::DateGreaterThan
                | B::DateGreaterThanEquals
        )
    }
}

/// `ForAllValues:` / `ForAnyValue:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetOperator {
    /// Every request value must match; true when the key is missing or empty.
    ForAllValues,
    /// Some request value must match; false when the key is missing or empty.
    ForAnyValue,
}

/// A full condition operator: optional set prefix, base operator, optional `IfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operator {
    /// `ForAllValues:`/`ForAnyValue:` prefix.
    pub set: Option<SetOperator>,
    /// The base operator.
    pub base: BaseOperator,
    /// The `IfExists` suffix.
    pub if_exists: bool,
}

impl Operator {
    /// Parses an operator name such as `ForAnyValue:StringLikeIfExists`. `NullIfExists`
    /// parses (IAM accepts it) and behaves as `Null`.
    pub fn parse(s: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = s.strip_prefix("ForAllValues:") {
            (Some(SetOperator::ForAllValues), r)
        } else if let Some(r) = s.strip_prefix("ForAnyValue:") {
            (Some(SetOperator::ForAnyValue), r)
        } else {
            (None, s)
        };
        if let Some(base) = BaseOperator::from_name(rest) {
            return Some(Operator {
                set,
                base,
                if_exists: false,
            });
        }
        let base = BaseOperator::from_name(rest.strip_suffix("IfExists")?)?;
        Some(Operator {
            set,
            base,
            if_exists: base != B::Null,
        })
    }

    /// Negated base operator.
    pub fn is_negated(&self) -> bool {
        self.base.is_negated()
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.set {
            Some(SetOperator::ForAllValues) => f.write_str("ForAllValues:")?,
            Some(SetOperator::ForAnyValue) => f.write_str("ForAnyValue:")?,
            None => {}
        }
        f.write_str(self.base.name())?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

/// A number: exact when integral, else `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Num {
    int: Option<i128>,
    float: f64,
}

impl Num {
    pub(crate) fn parse(s: &str) -> Option<Num> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        let int = s.parse::<i128>().ok();
        let float = s.parse::<f64>().ok().filter(|f| f.is_finite())?;
        Some(Num { int, float })
    }

    fn cmp(&self, other: &Num) -> Option<std::cmp::Ordering> {
        match (self.int, other.int) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => self.float.partial_cmp(&other.float),
        }
    }
}

/// Compiled policy values of one condition entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    /// String* and Bool (Bool: case-insensitive equality).
    Str(Items<Pattern>),
    Num(Vec<Option<Num>>),
    Date(Vec<Option<i128>>),
    Binary(Vec<Option<Vec<u8>>>),
    Ip(Items<Option<ipnet::IpNet>>),
    Arn(Vec<ArnPattern>),
    Null(Vec<Option<bool>>),
}

/// Compiles the values of one entry. Returns the values and whether a `Date*` value failed
/// to parse (IAM's "legacy parsing" error).
pub(crate) fn compile_values(base: BaseOperator, raw: &[String], vars: bool) -> (Values, bool) {
    let mut bad_date = false;
    let strs = |wildcards: bool, fold: bool| {
        Values::Str(map_items(raw, |v| {
            Pattern::compile(
                v,
                Syntax {
                    wildcards,
                    variables: vars,
                    fold,
                },
            )
        }))
    };
    let values = match base {
        B::StringEquals | B::StringNotEquals => strs(false, false),
        B::StringEqualsIgnoreCase | B::StringNotEqualsIgnoreCase | B::Bool => strs(false, true),
        B::StringLike | B::StringNotLike => strs(true, false),
        B::NumericEquals
        | B::NumericNotEquals
        | B::NumericLessThan
        | B::NumericLessThanEquals
        | B::NumericGreaterThan
        | B::NumericGreaterThanEquals => Values::Num(raw.iter().map(|v| Num::parse(v)).collect()),
        B::DateEquals
        | B::DateNotEquals
        | B::DateLessThan
        | B::DateLessThanEquals
        | B::DateGreaterThan
        | B::DateGreaterThanEquals => Values::Date(
            raw.iter()
                .map(|v| {
                    let d = parse_date(v);
                    bad_date |= d.is_none();
                    d
                })
                .collect(),
        ),
        B::BinaryEquals => Values::Binary(raw.iter().map(|v| decode_b64(v)).collect()),
        B::IpAddress | B::NotIpAddress => Values::Ip(map_items(raw, |v| parse_net(v))),
        B::ArnEquals | B::ArnLike | B::ArnNotEquals | B::ArnNotLike => Values::Arn(
            raw.iter()
                .map(|v| ArnPattern::compile(v, ArnMode::Condition, vars))
                .collect(),
        ),
        B::Null => Values::Null(
            raw.iter()
                .map(|v| {
                    if v.eq_ignore_ascii_case("true") {
                        Some(true)
                    } else if v.eq_ignore_ascii_case("false") {
                        Some(false)
                    } else {
                        None
                    }
                })
                .collect(),
        ),
    };
    (values, bad_date)
}

fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(s.trim_end_matches('='))
        })
        .ok()
}

fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    if let Ok(n) = s.parse::<ipnet::IpNet>() {
        return Some(n.trunc());
    }
    s.parse::<IpAddr>().ok().map(ipnet::IpNet::from)
}

/// Does one request value match one policy value (the positive form of the operator)?
fn value_matches(base: BaseOperator, values: &Values, i: usize, req: &str, ctx: &Context) -> bool {
    match values {
        Values::Str(ps) => ps.get(i).is_some_and(|p| p.matches(req, ctx)),
        Values::Num(ns) => {
            let (Some(Some(p)), Some(r)) = (ns.get(i), Num::parse(req)) else {
                return false;
            };
            let Some(ord) = r.cmp(p) else { return false };
            use std::cmp::Ordering::*;
            match base {
                B::NumericEquals | B::NumericNotEquals => ord == Equal,
                B::NumericLessThan => ord == Less,
                B::NumericLessThanEquals => ord != Greater,
                B::NumericGreaterThan => ord == Greater,
                B::NumericGreaterThanEquals => ord != Less,
                _ => false,
            }
        }
        Values::Date(ds) => {
            let (Some(Some(p)), Some(r)) = (ds.get(i), parse_date(req)) else {
                return false;
            };
            match base {
                B::DateEquals | B::DateNotEquals => r == *p,
                B::DateLessThan => r < *p,
                B::DateLessThanEquals => r <= *p,
                B::DateGreaterThan => r > *p,
                B::DateGreaterThanEquals => r >= *p,
                _ => false,
            }
        }
        Values::Binary(bs) => {
            let Some(Some(p)) = bs.get(i) else {
                return false;
            };
            match decode_b64(req) {
                Some(r) => r == *p,
                None => false,
            }
        }
        Values::Ip(ns) => {
            let (Some(Some(p)), Ok(r)) = (ns.get(i), req.trim().parse::<IpAddr>()) else {
                return false;
            };
            p.contains(&r)
        }
        Values::Arn(ps) => ps.get(i).is_some_and(|p| p.matches(req, ctx)),
        Values::Null(_) => false,
    }
}

fn len(values: &Values) -> usize {
    match values {
        Values::Str(v) => v.len(),
        Values::Num(v) => v.len(),
        Values::Date(v) => v.len(),
        Values::Binary(v) => v.len(),
        Values::Ip(v) => v.len(),
        Values::Arn(v) => v.len(),
        Values::Null(v) => v.len(),
    }
}

/// One request value against all policy values: OR for positive operators, NOR for negated.
fn one(op: &Operator, values: &Values, req: &str, ctx: &Context) -> bool {
    let any = (0..len(values)).any(|i| value_matches(op.base, values, i, req, ctx));
    if op.base.is_negated() { !any } else { any }
}

/// Evaluates one condition entry (operator, key, values) against the context.
pub(crate) fn evaluate_entry(
    op: &Operator,
    key_lower: &str,
    key_hash: u64,
    values: &Values,
    ctx: &Context,
) -> bool {
    let found = ctx.get_hashed(key_hash, key_lower);
    // An empty multivalued key counts as missing.
    let present: Option<&[String]> = match found {
        None => None,
        Some(ContextValue::Multi(v)) if v.is_empty() => None,
        Some(v) => Some(v.values()),
    };
    if let Values::Null(ns) = values {
        let absent = present.is_none();
        return ns.iter().any(|n| match n {
            Some(true) => absent,
            Some(false) => !absent,
            None => false,
        });
    }
    match (op.set, present) {
        (Some(SetOperator::ForAllValues), None) => true,
        (Some(SetOperator::ForAnyValue), None) => op.if_exists,
        (None, None) => op.if_exists || op.base.is_negated(),
        (Some(SetOperator::ForAllValues), Some(reqs)) => {
            reqs.iter().all(|r| one(op, values, r, ctx))
        }
        (Some(SetOperator::ForAnyValue), Some(reqs)) => {
            reqs.iter().any(|r| one(op, values, r, ctx))
        }
        (None, Some([r])) => one(op, values, r, ctx),
        // A plain operator against a multivalued key does not match.
        (None, Some(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(op: &str, values: &[&str], ctx: &Context) -> bool {
        let op = Operator::parse(op).unwrap();
        let raw: Vec<String> = values.iter().map(|s| s.to_string()).collect();
        let (v, _) = compile_values(op.base, &raw, true);
        evaluate_entry(&op, "k", crate::context::key_hash("k"), &v, ctx)
    }

    fn single(v: &str) -> Context {
        Context::new().with("k", v)
    }

    fn multi(v: &[&str]) -> Context {
        Context::new().with_multi("k", v.iter().copied())
    }

    #[test]
    fn operator_names() {
        for (name, _) in ALL {
            let op = Operator::parse(name).unwrap();
            assert_eq!(op.to_string(), *name);
            if *name != "Null" {
                let ie = Operator::parse(&format!("ForAnyValue:{name}IfExists")).unwrap();
                assert!(ie.if_exists);
                assert_eq!(ie.to_string(), format!("ForAnyValue:{name}IfExists"));
            }
        }
        assert_eq!(
            Operator::parse("NullIfExists").map(|o| o.if_exists),
            Some(false)
        );
        assert!(Operator::parse("stringequals").is_none());
        assert!(Operator::parse("StringEqual").is_none());
        assert!(Operator::parse("ForSomeValues:StringEquals").is_none());
    }

    /// (operator, policy values, request value, expected) with request value `None` = missing.
    #[test]
    fn truth_table_single_values() {
        let rows: &[(&str, &[&str], Option<&str>, bool)] = &[
            ("StringEquals", &["a"], Some("a"), true),
            ("StringEquals", &["a"], Some("A"), false),
            ("StringEquals", &["a", "b"], Some("b"), true),
            ("StringEquals", &["a*"], Some("abc"), false),
            ("StringEquals", &["a*"], Some("a*"), true),
            ("StringEquals", &["a"], None, false),
            ("StringEqualsIfExists", &["a"], None, true),
            ("StringEqualsIfExists", &["a"], Some("b"), false),
            ("StringNotEquals", &["a"], Some("a"), false),
            ("StringNotEquals", &["a"], Some("b"), true),
            ("StringNotEquals", &["a", "b"], Some("a"), false),
            ("StringNotEquals", &["a", "b"], Some("c"), true),
            ("StringNotEquals", &["a"], None, true),
            ("StringNotEqualsIfExists", &["a"], None, true),
            ("StringEqualsIgnoreCase", &["ABC"], Some("abc"), true),
            ("StringEqualsIgnoreCase", &["ÄB"], Some("äb"), true),
            ("StringNotEqualsIgnoreCase", &["ABC"], Some("abc"), false),
            ("StringNotEqualsIgnoreCase", &["ABC"], None, true),
            ("StringLike", &["a*c"], Some("abbc"), true),
            ("StringLike", &["a?c"], Some("abbc"), false),
            ("StringLike", &["A*"], Some("abc"), false),
            ("StringLike", &["x", "a*"], Some("abc"), true),
            ("StringLike", &["a*"], None, false),
            ("StringNotLike", &["a*"], Some("abc"), false),
            ("StringNotLike", &["a*"], Some("xbc"), true),
            ("StringNotLike", &["a*"], None, true),
            ("NumericEquals", &["10"], Some("10"), true),
            ("NumericEquals", &["10"], Some("10.0"), true),
            ("NumericEquals", &["10"], Some("x"), false),
            ("NumericEquals", &["10"], None, false),
            ("NumericNotEquals", &["10"], Some("11"), true),
            ("NumericNotEquals", &["10"], Some("10"), false),
            ("NumericNotEquals", &["10"], None, true),
            ("NumericLessThan", &["10"], Some("9"), true),
            ("NumericLessThan", &["10"], Some("10"), false),
            ("NumericLessThanEquals", &["10"], Some("10"), true),
            ("NumericGreaterThan", &["10"], Some("10.5"), true),
            ("NumericGreaterThan", &["10"], Some("10"), false),
            ("NumericGreaterThanEquals", &["10"], Some("10"), true),
            ("NumericGreaterThanEquals", &["10"], Some("-1"), false),
            ("NumericLessThanIfExists", &["10"], None, true),
            (
                "NumericEquals",
                &["9007199254740993"],
                Some("9007199254740992"),
                false,
            ),
            (
                "DateEquals",
                &["2020-01-01T00:00:00Z"],
                Some("1577836800"),
                true,
            ),
            (
                "DateNotEquals",
                &["2020-01-01T00:00:00Z"],
                Some("1577836800"),
                false,
            ),
            ("DateNotEquals", &["2020-01-01T00:00:00Z"], None, true),
            (
                "DateLessThan",
                &["2020-01-01T00:00:00Z"],
                Some("2019-12-31T23:59:59Z"),
                true,
            ),
            (
                "DateLessThan",
                &["2020-01-01T00:00:00Z"],
                Some("2020-01-01T00:00:00Z"),
                false,
            ),
            (
                "DateLessThanEquals",
                &["2020-01-01T00:00:00Z"],
                Some("2020-01-01T00:00:00Z"),
                true,
            ),
            (
                "DateGreaterThan",
                &["2020-01-01"],
                Some("2020-01-01T00:00:01Z"),
                true,
            ),
            (
                "DateGreaterThanEquals",
                &["2020-01-01"],
                Some("2019-01-01"),
                false,
            ),
            ("DateGreaterThan", &["2020-01-01"], None, false),
            (
                "DateGreaterThan",
                &["2020-01-01"],
                Some("not a date"),
                false,
            ),
            ("Bool", &["true"], Some("true"), true),
            ("Bool", &["true"], Some("TRUE"), true),
            ("Bool", &["true"], Some("false"), false),
            ("Bool", &["false"], None, false),
            ("BoolIfExists", &["false"], None, true),
            (
                "BinaryEquals",
                &["QmluYXJ5VmFsdWU="],
                Some("QmluYXJ5VmFsdWU="),
                true,
            ),
            (
                "BinaryEquals",
                &["QmluYXJ5VmFsdWU="],
                Some("QmluYXJ5VmFsdWF="),
                false,
            ),
            ("BinaryEquals", &["QmluYXJ5VmFsdWU="], None, false),
            ("IpAddress", &["10.0.0.0/8"], Some("10.1.2.3"), true),
            ("IpAddress", &["10.0.0.0/8"], Some("11.1.2.3"), false),
            ("IpAddress", &["10.1.2.3"], Some("10.1.2.3"), true),
            ("IpAddress", &["10.1.2.3"], Some("10.1.2.4"), false),
            ("IpAddress", &["10.1.2.3/24"], Some("10.1.2.200"), true),
            ("IpAddress", &["2001:db8::/32"], Some("2001:db8::1"), true),
            ("IpAddress", &["2001:db8::/32"], Some("2001:db9::1"), false),
            ("IpAddress", &["10.0.0.0/8"], Some("2001:db8::1"), false),
            ("IpAddress", &["10.0.0.0/8"], None, false),
            (
                "NotIpAddress",
                &["10.0.0.0/8", "192.168.0.0/16"],
                Some("192.168.1.1"),
                false,
            ),
            ("NotIpAddress", &["10.0.0.0/8"], Some("8.8.8.8"), true),
            ("NotIpAddress", &["10.0.0.0/8"], None, true),
            (
                "ArnEquals",
                &["arn:aws:iam::1:role/*"],
                Some("arn:aws:iam::1:role/x"),
                true,
            ),
            (
                "ArnLike",
                &["arn:aws:iam::1:role/x"],
                Some("arn:aws:iam::1:role/X"),
                false,
            ),
            (
                "ArnLike",
                &["arn:aws:iam::*:role/x"],
                Some("arn:aws:iam::1:role/x"),
                true,
            ),
            (
                "ArnLike",
                &["arn:aws:iam::1:role/x"],
                Some("not-an-arn"),
                false,
            ),
            ("ArnLike", &["arn:aws:iam::1:role/x"], None, false),
            (
                "ArnNotEquals",
                &["arn:aws:iam::1:role/x"],
                Some("arn:aws:iam::1:role/x"),
                false,
            ),
            (
                "ArnNotLike",
                &["arn:aws:iam::1:role/*"],
                Some("arn:aws:iam::2:role/x"),
                true,
            ),
            ("ArnNotLike", &["arn:aws:iam::1:role/*"], None, true),
            (
                "ArnNotLikeIfExists",
                &["arn:aws:iam::1:role/*"],
                Some("arn:aws:iam::1:role/x"),
                false,
            ),
            ("Null", &["true"], None, true),
            ("Null", &["true"], Some("x"), false),
            ("Null", &["false"], Some("x"), true),
            ("Null", &["false"], None, false),
            ("NullIfExists", &["false"], None, false),
        ];
        for (op, values, req, want) in rows {
            let ctx = match req {
                Some(r) => single(r),
                None => Context::new(),
            };
            assert_eq!(check(op, values, &ctx), *want, "{op} {values:?} vs {req:?}");
        }
    }

    #[test]
    fn set_operators() {
        type Row<'a> = (&'a str, &'a [&'a str], Option<&'a [&'a str]>, bool);
        let rows: &[Row] = &[
            (
                "ForAllValues:StringEquals",
                &["a", "b"],
                Some(&["a", "b"]),
                true,
            ),
            (
                "ForAllValues:StringEquals",
                &["a", "b"],
                Some(&["a", "c"]),
                false,
            ),
            ("ForAllValues:StringEquals", &["a"], None, true),
            ("ForAllValues:StringEquals", &["a"], Some(&[]), true),
            ("ForAnyValue:StringEquals", &["a"], Some(&["x", "a"]), true),
            ("ForAnyValue:StringEquals", &["a"], Some(&["x", "y"]), false),
            ("ForAnyValue:StringEquals", &["a"], None, false),
            ("ForAnyValue:StringEquals", &["a"], Some(&[]), false),
            ("ForAnyValue:StringEqualsIfExists", &["a"], None, true),
            ("ForAllValues:StringNotLike", &["key1*"], None, true),
            (
                "ForAllValues:StringNotLike",
                &["key1*"],
                Some(&["key2:audit"]),
                true,
            ),
            (
                "ForAllValues:StringNotLike",
                &["key1*"],
                Some(&["key2", "key1x"]),
                false,
            ),
            (
                "ForAnyValue:StringNotEquals",
                &["a"],
                Some(&["a", "b"]),
                true,
            ),
            ("ForAnyValue:StringNotEquals", &["a"], Some(&["a"]), false),
            ("ForAnyValue:StringLike", &["*x"], Some(&["ax", "b"]), true),
            (
                "ForAllValues:NumericLessThan",
                &["5"],
                Some(&["1", "4"]),
                true,
            ),
            (
                "ForAllValues:NumericLessThan",
                &["5"],
                Some(&["1", "6"]),
                false,
            ),
            (
                "ForAnyValue:IpAddress",
                &["10.0.0.0/8"],
                Some(&["8.8.8.8", "10.0.0.1"]),
                true,
            ),
            // Plain operators don't match multivalued keys; a one-element list is single.
            ("StringEquals", &["a"], Some(&["a", "b"]), false),
            ("StringNotEquals", &["z"], Some(&["a", "b"]), false),
            ("StringEquals", &["a"], Some(&["a"]), true),
            ("Null", &["true"], Some(&[]), true),
            ("Null", &["false"], Some(&["a", "b"]), true),
        ];
        for (op, values, req, want) in rows {
            let ctx = match req {
                Some(r) => multi(r),
                None => Context::new(),
            };
            assert_eq!(check(op, values, &ctx), *want, "{op} {values:?} vs {req:?}");
        }
    }

    #[test]
    fn variables_in_condition_values() {
        let ctx = Context::new()
            .with("k", "alice")
            .with("aws:username", "alice");
        assert!(check("StringEquals", &["${aws:username}"], &ctx));
        assert!(check("StringLike", &["${aws:UserName}*"], &ctx));
        assert!(check(
            "StringEqualsIgnoreCase",
            &["${aws:username}"],
            &Context::new()
                .with("k", "ALICE")
                .with("aws:username", "Alice")
        ));
        // Unresolvable: positive operators don't match, negated ones do.
        let anon = Context::new().with("k", "alice");
        assert!(!check("StringEquals", &["${aws:username}"], &anon));
        assert!(check("StringNotEquals", &["${aws:username}"], &anon));
        assert!(check("StringNotLike", &["${aws:username}"], &anon));
        assert!(check("StringEquals", &["${aws:username, 'alice'}"], &anon));
        // Escapes.
        assert!(check(
            "StringEquals",
            &["a${*}"],
            &Context::new().with("k", "a*")
        ));
        assert!(!check(
            "StringLike",
            &["a${*}"],
            &Context::new().with("k", "ab")
        ));
    }
}
