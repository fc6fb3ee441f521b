//! The set of token subjects a trust statement admits, read symbolically from its
//! conditions on `<issuer>:sub` (never by trying names), and what that set means in
//! ServiceAccount terms.

use irsa_policy::{BaseOperator, ConditionEntry, Operator, glob_match};
use serde::Serialize;

/// The subject prefix of ServiceAccount tokens.
pub const SA_PREFIX: &str = "system:serviceaccount:";

/// One value of a `:sub` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Atom {
    /// `StringEquals`.
    Exact(String),
    /// `StringEqualsIgnoreCase`.
    ExactFold(String),
    /// `StringLike` (`*`, `?`).
    Glob(String),
    /// An operator whose meaning on a subject is not a string set (`ArnLike`, `Null`,
    /// numbers, …) or a value with a policy variable: described, matched as the engine
    /// decides for existing ServiceAccounts, and taken as wide as possible for patterns.
    Opaque(String),
}

impl Atom {
    /// The atom of value `v` under the operator `base` (written `operator`); `variable`:
    /// the condition's values hold a policy variable, so the value is only described.
    fn of_value(base: BaseOperator, operator: &str, variable: bool, v: &str) -> Atom {
        if variable {
            return Atom::Opaque(format!("{operator} {v}"));
        }
        match base {
            BaseOperator::StringEquals | BaseOperator::StringNotEquals => Atom::Exact(v.into()),
            BaseOperator::StringEqualsIgnoreCase | BaseOperator::StringNotEqualsIgnoreCase => {
                Atom::ExactFold(v.into())
            }
            BaseOperator::StringLike | BaseOperator::StringNotLike => Atom::Glob(v.into()),
            _ => Atom::Opaque(format!("{operator} {v}")),
        }
    }

    fn matches(&self, subject: &str) -> bool {
        match self {
            Atom::Exact(v) => v == subject,
            Atom::ExactFold(v) => v.eq_ignore_ascii_case(subject),
            Atom::Glob(p) => glob_match(p, subject),
            Atom::Opaque(_) => true,
        }
    }

    /// The ServiceAccounts the atom can match.
    pub(crate) fn reach(&self) -> Reach {
        match self {
            Atom::Exact(v) => exact_reach(v),
            // ServiceAccount names and namespaces are lowercase DNS names.
            Atom::ExactFold(v) => exact_reach(&v.to_ascii_lowercase()),
            Atom::Glob(p) => glob_reach(p),
            Atom::Opaque(_) => Reach::All,
        }
    }

    fn describe(&self) -> String {
        match self {
            Atom::Exact(v) => v.clone(),
            Atom::ExactFold(v) => format!("{v} (any case)"),
            Atom::Glob(p) => p.clone(),
            Atom::Opaque(d) => d.clone(),
        }
    }
}

/// Which ServiceAccounts a subject pattern can match, widest last.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Reach {
    /// No ServiceAccount (e.g. a GitHub `repo:…` subject).
    None,
    /// Exactly one ServiceAccount.
    ServiceAccount {
        /// `NAMESPACE/NAME`.
        id: String,
    },
    /// ServiceAccounts of one namespace whose names match a pattern (`*`: every one,
    /// including future ones).
    Namespace {
        /// The namespace.
        namespace: String,
        /// The name pattern.
        names: String,
    },
    /// ServiceAccounts in every namespace matching a pattern.
    Namespaces {
        /// The namespace pattern.
        namespaces: String,
        /// The name pattern.
        names: String,
    },
    /// Every ServiceAccount of every namespace (and any other subject the issuer signs).
    All,
}

impl Reach {
    /// `NAMESPACE/NAME` with globs, as shown in reports: `team-a/*`, `*/*`.
    pub fn as_glob(&self) -> String {
        match self {
            Reach::None => "(no ServiceAccount)".into(),
            Reach::ServiceAccount { id } => id.clone(),
            Reach::Namespace { namespace, names } => format!("{namespace}/{names}"),
            Reach::Namespaces { namespaces, names } => format!("{namespaces}/{names}"),
            Reach::All => "*/*".into(),
        }
    }

    /// Whether ServiceAccounts that do not exist yet can fall in this reach.
    pub fn admits_future(&self) -> bool {
        !matches!(self, Reach::None | Reach::ServiceAccount { .. })
    }
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

fn valid_part(s: &str) -> bool {
    !s.is_empty() && !s.contains(':')
}

fn exact_reach(v: &str) -> Reach {
    match v.strip_prefix(SA_PREFIX).and_then(|r| r.split_once(':')) {
        Some((ns, name)) if valid_part(ns) && valid_part(name) => Reach::ServiceAccount {
            id: format!("{ns}/{name}"),
        },
        _ => Reach::None,
    }
}

/// The literal text before the first wildcard.
fn literal_prefix(p: &str) -> &str {
    let end = p.find(['*', '?']).unwrap_or(p.len());
    p.get(..end).unwrap_or(p)
}

fn glob_reach(p: &str) -> Reach {
    if !has_wildcard(p) {
        return exact_reach(p);
    }
    let Some(rest) = p.strip_prefix(SA_PREFIX) else {
        // A pattern that can still produce the prefix (`*`, `system:*`) reaches every
        // ServiceAccount; one that cannot (`repo:org/*`) reaches none.
        let lit = literal_prefix(p);
        return if SA_PREFIX.starts_with(lit) {
            Reach::All
        } else {
            Reach::None
        };
    };
    // A ServiceAccount subject has exactly one `:` after the prefix (names and namespaces
    // are DNS names), so a literal `:` in the pattern must be that one.
    match rest.matches(':').count() {
        1 => {
            let (ns, names) = rest.split_once(':').unwrap_or((rest, "*"));
            if ns.is_empty() || names.is_empty() {
                Reach::None
            } else if ns == "*" {
                Reach::Namespaces {
                    namespaces: "*".into(),
                    names: names.into(),
                }
            } else if has_wildcard(ns) {
                Reach::Namespaces {
                    namespaces: ns.into(),
                    names: names.into(),
                }
            } else {
                Reach::Namespace {
                    namespace: ns.into(),
                    names: names.into(),
                }
            }
        }
        0 if rest.contains('*') => {
            // The `:` between namespace and name falls inside a `*`: the namespace starts
            // with the literal text before the first wildcard.
            let lit = literal_prefix(rest);
            if lit.is_empty() {
                Reach::All
            } else {
                Reach::Namespaces {
                    namespaces: format!("{lit}*"),
                    names: "*".into(),
                }
            }
        }
        _ => Reach::None,
    }
}

/// Whether `op` admits the subjects matching none of its values (the negated string
/// operators; other negated operators, such as `ArnNotLike`, are opaque and not negated).
fn negates_subject(op: &Operator) -> bool {
    op.is_negated()
        && matches!(
            op.base,
            BaseOperator::StringNotEquals
                | BaseOperator::StringNotEqualsIgnoreCase
                | BaseOperator::StringNotLike
        )
}

/// One condition on the subject: holds when some atom matches (negated: when none does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clause {
    /// `StringNotEquals` / `StringNotLike` / …: the subject must match none of the atoms.
    pub(crate) negated: bool,
    /// The values.
    pub(crate) atoms: Vec<Atom>,
    /// The operator as written.
    pub(crate) operator: String,
}

impl Clause {
    /// The clause one condition on the subject makes; `None` when it always holds (the
    /// subject is always present, so `Null: false` never narrows the set).
    fn from_condition(c: &ConditionEntry) -> Option<Clause> {
        let op = c.operator();
        let vals = c.values();
        let operator = op.to_string();
        if op.base == BaseOperator::Null {
            // `Null: true` never holds: a clause no subject matches.
            return vals
                .iter()
                .any(|v| v.eq_ignore_ascii_case("true"))
                .then(|| Clause {
                    negated: false,
                    atoms: Vec::new(),
                    operator,
                });
        }
        // A value with a policy variable is decided per request: no set can be read.
        let variable = vals.iter().any(|v| v.contains("${"));
        Some(Clause {
            negated: !variable && negates_subject(op),
            atoms: vals
                .iter()
                .map(|v| Atom::of_value(op.base, &operator, variable, v))
                .collect(),
            operator,
        })
    }

    fn matches(&self, subject: &str) -> bool {
        self.atoms.iter().any(|a| a.matches(subject)) != self.negated
    }

    /// The widest reach of the clause (everything, when negated).
    pub(crate) fn reach(&self) -> Reach {
        if self.negated {
            return Reach::All;
        }
        self.atoms
            .iter()
            .map(Atom::reach)
            .max()
            .unwrap_or(Reach::None)
    }

    /// `StringLike [a, b]`.
    pub(crate) fn describe(&self) -> String {
        let vals: Vec<String> = self.atoms.iter().map(Atom::describe).collect();
        format!("{} [{}]", self.operator, vals.join(", "))
    }
}

/// The subjects one statement admits: every clause holds (no clause: every subject).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SubjectSet {
    /// Conditions on `:sub`, all of which must hold.
    pub(crate) clauses: Vec<Clause>,
}

impl SubjectSet {
    /// Reads the conditions of a statement on `sub_key` (compared case-insensitively).
    pub(crate) fn from_conditions<'a>(
        conditions: impl Iterator<Item = &'a ConditionEntry>,
        sub_key: &str,
    ) -> SubjectSet {
        let clauses = conditions
            .filter(|c| c.key().eq_ignore_ascii_case(sub_key))
            .filter_map(Clause::from_condition)
            .collect();
        SubjectSet { clauses }
    }

    /// Whether a concrete subject is in the set (opaque atoms count as matching).
    pub(crate) fn matches(&self, subject: &str) -> bool {
        self.clauses.iter().all(|c| c.matches(subject))
    }

    /// The narrowest positive clause bounds the set; without one it is every subject.
    pub(crate) fn reach(&self) -> Reach {
        self.clauses
            .iter()
            .filter(|c| !c.negated)
            .map(Clause::reach)
            .min()
            .unwrap_or(Reach::All)
    }

    /// The ServiceAccount globs of the bounding clause (`*/*` when unpinned).
    pub(crate) fn globs(&self) -> Vec<String> {
        let bounding = self
            .clauses
            .iter()
            .filter(|c| !c.negated)
            .min_by_key(|c| c.reach());
        match bounding {
            None => vec!["*/*".into()],
            Some(c) if c.atoms.is_empty() => Vec::new(),
            Some(c) => c
                .atoms
                .iter()
                .map(|a| a.reach())
                .filter(|r| *r != Reach::None)
                .map(|r| r.as_glob())
                .collect(),
        }
    }

    /// Every clause, described.
    pub(crate) fn describe(&self) -> Vec<String> {
        self.clauses.iter().map(Clause::describe).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(p: &str) -> Reach {
        glob_reach(p)
    }

    /// The conditions of the one statement of a trust policy whose `Condition` is `cond`.
    fn conditions(cond: &str) -> irsa_policy::Policy {
        let json = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*",
               "Action":"sts:AssumeRoleWithWebIdentity","Condition":{cond}}}]}}"#
        );
        irsa_policy::Policy::parse(&json).unwrap()
    }

    fn clauses(cond: &str) -> Vec<Clause> {
        let policy = conditions(cond);
        let st = &policy.statements()[0];
        st.conditions().filter_map(Clause::from_condition).collect()
    }

    fn clause(negated: bool, atoms: Vec<Atom>, operator: &str) -> Clause {
        Clause {
            negated,
            atoms,
            operator: operator.into(),
        }
    }

    #[test]
    fn a_condition_makes_its_clause() {
        let sa = "system:serviceaccount:ns:app";
        assert_eq!(
            clauses(&format!(r#"{{"StringEquals":{{"iss:sub":"{sa}"}}}}"#)),
            [clause(false, vec![Atom::Exact(sa.into())], "StringEquals")]
        );
        assert_eq!(
            clauses(r#"{"StringNotLike":{"iss:sub":["a*","b"]}}"#),
            [clause(
                true,
                vec![Atom::Glob("a*".into()), Atom::Glob("b".into())],
                "StringNotLike"
            )]
        );
        assert_eq!(
            clauses(r#"{"StringEqualsIgnoreCase":{"iss:sub":"A"}}"#),
            [clause(
                false,
                vec![Atom::ExactFold("A".into())],
                "StringEqualsIgnoreCase"
            )]
        );
        // a policy variable: opaque, and never negated
        assert_eq!(
            clauses(r#"{"StringNotEquals":{"iss:sub":"${aws:username}"}}"#),
            [clause(
                false,
                vec![Atom::Opaque("StringNotEquals ${aws:username}".into())],
                "StringNotEquals"
            )]
        );
        // a negated operator that is not a string set: opaque, not negated
        assert_eq!(
            clauses(r#"{"ArnNotLike":{"iss:sub":"arn:*"}}"#),
            [clause(
                false,
                vec![Atom::Opaque("ArnNotLike arn:*".into())],
                "ArnNotLike"
            )]
        );
        // the subject is always present: `Null: true` admits nothing, `false` everything
        assert_eq!(
            clauses(r#"{"Null":{"iss:sub":"true"}}"#),
            [clause(false, vec![], "Null")]
        );
        assert_eq!(clauses(r#"{"Null":{"iss:sub":"false"}}"#), []);
    }

    #[test]
    fn only_the_conditions_on_the_subject_key_count() {
        let policy = conditions(
            r#"{"StringLike":{"iss:SUB":"system:serviceaccount:ns:*"},
                "StringEquals":{"iss:aud":"sts.amazonaws.com"}}"#,
        );
        let st = &policy.statements()[0];
        let set = SubjectSet::from_conditions(st.conditions(), "iss:sub");
        assert_eq!(set.describe(), ["StringLike [system:serviceaccount:ns:*]"]);
        assert!(set.matches("system:serviceaccount:ns:app"));
        assert!(!set.matches("system:serviceaccount:other:app"));
    }

    #[test]
    fn reach_of_patterns() {
        assert_eq!(
            r("system:serviceaccount:ns:app"),
            Reach::ServiceAccount {
                id: "ns/app".into()
            }
        );
        assert_eq!(
            r("system:serviceaccount:ns:*"),
            Reach::Namespace {
                namespace: "ns".into(),
                names: "*".into()
            }
        );
        assert_eq!(
            r("system:serviceaccount:team-?:app"),
            Reach::Namespaces {
                namespaces: "team-?".into(),
                names: "app".into()
            }
        );
        assert_eq!(r("system:serviceaccount:*"), Reach::All);
        assert_eq!(
            r("system:serviceaccount:prod*"),
            Reach::Namespaces {
                namespaces: "prod*".into(),
                names: "*".into()
            }
        );
        assert_eq!(r("*"), Reach::All);
        assert_eq!(r("system:*"), Reach::All);
        assert_eq!(r("repo:org/*"), Reach::None);
        assert_eq!(r("system:serviceaccount:a:b:*"), Reach::None);
        assert_eq!(exact_reach("system:serviceaccount:ns"), Reach::None);
        assert!(Reach::All > Reach::None);
    }
}
