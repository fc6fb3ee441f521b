//! The policy AST: parsing (with kind-independent validation) and printing.

use crate::arn::{ArnMode, ArnPattern, PARTITIONS, split_colon, split6};
use crate::condition::{BaseOperator, Operator, Values, compile_values};
use crate::error::PolicyError;
use crate::pattern::{Pattern, Syntax, glob_bytes, has_wildcard};
use crate::raw::{Entries, RawPrincipal, RawStatement, Scalar, Scalars, Strings, read_policy};
use compact_str::CompactString;
use serde_json::{Map, Value};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::sync::Arc;

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `2008-10-17` (also the default when `Version` is absent): no policy variables.
    V2008_10_17,
    /// `2012-10-17`: policy variables.
    V2012_10_17,
}

impl Version {
    /// The version string.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2008_10_17 => "2008-10-17",
            Version::V2012_10_17 => "2012-10-17",
        }
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Denies, overriding any allow.
    Deny,
}

/// The principal types of a `Principal` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// `AWS`: account ids, IAM users, roles, assumed-role sessions, or `*`.
    Aws,
    /// `Federated`: an OIDC/SAML provider ARN or a web identity provider name.
    Federated,
    /// `Service`: a service principal such as `ec2.amazonaws.com`.
    Service,
    /// `CanonicalUser`: an S3 canonical user id.
    CanonicalUser,
}

impl PrincipalType {
    /// The key as written in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::Aws => "AWS",
            PrincipalType::Federated => "Federated",
            PrincipalType::Service => "Service",
            PrincipalType::CanonicalUser => "CanonicalUser",
        }
    }

    fn parse(s: &str) -> Option<PrincipalType> {
        Some(match s {
            "AWS" => PrincipalType::Aws,
            "Federated" => PrincipalType::Federated,
            "Service" => PrincipalType::Service,
            "CanonicalUser" => PrincipalType::CanonicalUser,
            _ => return None,
        })
    }
}

/// One `type: value(s)` entry of a `Principal` map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalEntry {
    /// The principal type.
    pub kind: PrincipalType,
    /// The values as written (an `AWS` account id is matched as its root ARN).
    pub values: Vec<String>,
    single: bool,
}

/// A `Principal`/`NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `"*"`: everyone, including anonymous callers.
    Any,
    /// A map of principal types to values.
    Typed(Vec<PrincipalEntry>),
}

/// A compiled `Action`/`NotAction` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPattern {
    /// The action as written (inline up to 24 bytes: most actions need no allocation).
    raw: CompactString,
    /// The vendor's length in `raw` (compared case-insensitively); `None` for `*` or no colon.
    vendor_len: Option<u32>,
    /// Where the name starts in `raw`.
    name_start: u32,
    /// `*` or `?` in the name.
    name_wild: bool,
    /// A name with non-ASCII text, compiled for Unicode case folding (`None`: the name in
    /// `raw` is matched by an ASCII-case-insensitive byte glob).
    name: Option<Pattern>,
}

impl ActionPattern {
    fn compile(raw: &str) -> ActionPattern {
        let (vendor_len, name) = match split_colon(raw) {
            Some(("*", n)) => (None, n),
            Some((v, n)) => (u32::try_from(v.len()).ok(), n),
            None => (None, raw),
        };
        let compiled = (!name.is_ascii()).then(|| {
            Pattern::compile(
                name,
                Syntax {
                    wildcards: true,
                    variables: false,
                    fold: true,
                },
            )
        });
        ActionPattern {
            raw: CompactString::new(raw),
            vendor_len,
            name_start: u32::try_from(raw.len() - name.len()).unwrap_or(u32::MAX),
            name_wild: has_wildcard(name),
            name: compiled,
        }
    }

    /// The action as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Case-insensitive match of a request action (`service:Name`).
    pub fn matches(&self, action: &str) -> bool {
        self.matches_split(action, split_colon(action))
    }

    /// Does the pattern's name match `text` (case-insensitively)?
    #[inline]
    fn name_matches(&self, text: &str) -> bool {
        if let Some(p) = &self.name {
            return p.matches_plain(text);
        }
        let name = self.raw.get(self.name_start as usize..).unwrap_or_default();
        if !text.is_ascii() {
            // As a compiled pattern would: Unicode-lowercase the text (rare; allocates).
            return glob_bytes(
                name.to_ascii_lowercase().as_bytes(),
                text.to_lowercase().as_bytes(),
                self.name_wild,
                false,
            );
        }
        glob_bytes(name.as_bytes(), text.as_bytes(), self.name_wild, true)
    }

    /// The name is `*` (or a run of stars).
    fn name_is_match_all(&self) -> bool {
        match &self.name {
            Some(p) => p.is_match_all(),
            None => {
                let name = self.raw.get(self.name_start as usize..).unwrap_or_default();
                !name.is_empty() && name.bytes().all(|b| b == b'*')
            }
        }
    }

    /// [`ActionPattern::matches`] with the action already split at its first colon.
    #[inline]
    pub(crate) fn matches_split(&self, action: &str, split: Option<(&str, &str)>) -> bool {
        match (self.vendor_len, split) {
            (None, None) => self.name_is_match_all() || self.name_matches(action),
            (None, Some((_, n))) => self.raw == "*" || self.name_matches(n),
            (Some(len), Some((rv, n))) => {
                rv.len() == len as usize
                    && self
                        .raw
                        .as_bytes()
                        .get(..len as usize)
                        .is_some_and(|v| rv.as_bytes().eq_ignore_ascii_case(v))
                    && self.name_matches(n)
            }
            (Some(_), None) => false,
        }
    }
}

/// A compiled `Resource`/`NotResource` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePattern {
    pat: ArnPattern,
}

impl ResourcePattern {
    /// The resource as written.
    pub fn as_str(&self) -> &str {
        self.pat.text()
    }

    #[inline]
    pub(crate) fn matches_split(
        &self,
        resource: &str,
        parts: &[Option<&str>; 6],
        ctx: &crate::Context,
    ) -> bool {
        self.pat.matches_split(resource, parts, ctx)
    }

    /// `"*"`.
    pub fn is_match_all(&self) -> bool {
        self.pat.is_match_all()
    }
}

/// A list that is usually one item long (an element's entries, a statement's condition
/// blocks, a block's keys, a key's values): one item is stored inline, more on the heap with
/// exactly their number of slots (see [`items`]).
pub(crate) type Items<T> = SmallVec<[T; 1]>;

/// `f` of each of `list`: one item inline, more in one allocation of exactly their size.
pub(crate) fn map_items<T, U>(list: &[T], f: impl FnMut(&T) -> U) -> Items<U> {
    match list {
        [one] => smallvec::smallvec![{ f }(one)],
        _ => SmallVec::from_vec(list.iter().map(f).collect()),
    }
}

/// `Action`/`NotAction` (and likewise resources): the entries and whether negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element<T> {
    pub(crate) negated: bool,
    pub(crate) items: Vec<T>,
    pub(crate) single: bool,
}

/// One condition entry: operator, key and values.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionEntry {
    operator: Operator,
    /// The key as written, then (unless it is already lowercase) the key lowercased: one
    /// allocation for both.
    keys: Box<str>,
    /// The length of the key as written in `keys`.
    key_len: u32,
    /// [`crate::context::key_hash`] of the lowercased key: the context lookup without hashing.
    key_hash: u64,
    values: Items<String>,
    /// The values as written when some is not a string (numbers, booleans); `None`: all
    /// strings, printed from `values`.
    raw: Option<Box<Value>>,
    /// Written as a bare value, not an array.
    single: bool,
    pub(crate) compiled: Values,
}

impl ConditionEntry {
    /// The operator.
    pub fn operator(&self) -> &Operator {
        &self.operator
    }
    /// The condition key as written.
    pub fn key(&self) -> &str {
        self.keys.get(..self.key_len as usize).unwrap_or_default()
    }
    /// The values, stringified (`true`, `10`).
    pub fn values(&self) -> &[String] {
        &self.values
    }
    /// The key lowercased (as the context stores keys).
    #[inline]
    fn key_lower(&self) -> &str {
        match self.keys.get(self.key_len as usize..) {
            Some(lower) if !lower.is_empty() => lower,
            _ => &self.keys,
        }
    }
    /// Does the entry hold for the context?
    #[inline]
    pub(crate) fn holds(&self, ctx: &crate::Context) -> bool {
        crate::condition::evaluate_entry(
            &self.operator,
            self.key_lower(),
            self.key_hash,
            &self.compiled,
            ctx,
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConditionBlock {
    /// The operator; `None` for an unknown one (allowed with an empty body).
    op: Option<Operator>,
    /// The operator as written, when printing `op` would not give it back (unknown
    /// operators, `NullIfExists`).
    op_raw: Option<Box<str>>,
    pub(crate) entries: Vec<ConditionEntry>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub(crate) sid: Option<Arc<str>>,
    pub(crate) effect: Effect,
    pub(crate) principal: Option<(bool, Principal)>,
    pub(crate) action: Option<Element<ActionPattern>>,
    pub(crate) resource: Option<Element<ResourcePattern>>,
    pub(crate) condition: Option<Vec<ConditionBlock>>,
}

impl Statement {
    /// The `Sid`, if any.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
    /// The effect.
    pub fn effect(&self) -> Effect {
        self.effect
    }
    /// `Principal` (or `NotPrincipal`, see [`Statement::is_not_principal`]).
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref().map(|(_, p)| p)
    }
    /// The principal element is `NotPrincipal`.
    pub fn is_not_principal(&self) -> bool {
        self.principal.as_ref().is_some_and(|(n, _)| *n)
    }
    /// `Action` or `NotAction` entries.
    pub fn actions(&self) -> &[ActionPattern] {
        self.action.as_ref().map_or(&[], |a| &a.items)
    }
    /// The action element is `NotAction`.
    pub fn is_not_action(&self) -> bool {
        self.action.as_ref().is_some_and(|a| a.negated)
    }
    /// `Resource` or `NotResource` entries (`None`: no resource element, as in trust policies).
    pub fn resources(&self) -> Option<&[ResourcePattern]> {
        self.resource.as_ref().map(|r| r.items.as_slice())
    }
    /// The resource element is `NotResource`.
    pub fn is_not_resource(&self) -> bool {
        self.resource.as_ref().is_some_and(|r| r.negated)
    }
    /// All condition entries in document order.
    pub fn conditions(&self) -> impl Iterator<Item = &ConditionEntry> {
        self.condition
            .iter()
            .flatten()
            .flat_map(|b| b.entries.iter())
    }

    /// Does the statement's `Action`/`NotAction` cover `action`?
    pub fn matches_action(&self, action: &str) -> bool {
        self.matches_action_split(action, action.split_once(':'))
    }

    #[inline]
    pub(crate) fn matches_action_split(&self, action: &str, split: Option<(&str, &str)>) -> bool {
        match &self.action {
            None => false,
            Some(a) => a.items.iter().any(|p| p.matches_split(action, split)) != a.negated,
        }
    }
}

/// A parsed, validated IAM policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub(crate) version: Option<Version>,
    pub(crate) id: Option<String>,
    pub(crate) statements: Vec<Statement>,
    statement_array: bool,
}

/// Error priorities: the order in which IAM reports problems (moto's validator order).
pub(crate) const P_VERSION: u8 = 0;
pub(crate) const P_LEGACY: u8 = 1;
pub(crate) const P_SID: u8 = 2;
pub(crate) const P_ACTIONS: u8 = 3;
pub(crate) const P_RESOURCE: u8 = 4;
pub(crate) const P_PREFIX: u8 = 5;
pub(crate) const P_KIND: u8 = 6;

pub(crate) type Errors = Vec<(u8, PolicyError)>;

/// The statements of a policy being read (most policies have at most 16).
type Statements = SmallVec<[Statement; 16]>;

/// The statements read, in a vector of exactly their number.
fn exact_vec(statements: &mut Statements) -> Vec<Statement> {
    if statements.spilled() {
        return std::mem::take(statements).into_vec();
    }
    let mut v = Vec::with_capacity(statements.len());
    v.extend(statements.drain(..));
    v
}

impl Policy {
    /// Parses and validates a policy document (checks that hold for every policy kind).
    /// The error is the first problem IAM would report. See [`crate::validate`] for the
    /// per-kind checks and all errors.
    pub fn parse(json: &str) -> Result<Policy, PolicyError> {
        let (policy, mut errors) = parse_collect(json)?;
        errors.sort_by_key(|(p, _)| *p);
        match errors.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(policy),
        }
    }

    /// The `Version` element (`None` when absent, which means 2008-10-17).
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The effective version.
    pub fn effective_version(&self) -> Version {
        self.version.unwrap_or(Version::V2008_10_17)
    }

    /// The `Id` element.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The policy as a JSON value (a canonical rendering that parses back to an equal policy).
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        if let Some(v) = self.version {
            m.insert("Version".into(), Value::String(v.as_str().into()));
        }
        if let Some(id) = &self.id {
            m.insert("Id".into(), Value::String(id.clone()));
        }
        let stmts: Vec<Value> = self.statements.iter().map(statement_to_value).collect();
        let st = match (self.statement_array, stmts.as_slice()) {
            (false, [one]) => one.clone(),
            _ => Value::Array(stmts),
        };
        m.insert("Statement".into(), st);
        Value::Object(m)
    }

    /// Compact JSON.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// Indented JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.to_value()).unwrap_or_default()
    }
}

impl std::str::FromStr for Policy {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Policy, PolicyError> {
        Policy::parse(s)
    }
}

fn one_or_many(items: Vec<Value>, single: bool) -> Value {
    match (single, items.as_slice()) {
        (true, [one]) => one.clone(),
        _ => Value::Array(items),
    }
}

fn statement_to_value(s: &Statement) -> Value {
    let mut m = Map::new();
    if let Some(sid) = &s.sid {
        m.insert("Sid".into(), Value::String(sid.to_string()));
    }
    m.insert(
        "Effect".into(),
        Value::String(match s.effect {
            Effect::Allow => "Allow".into(),
            Effect::Deny => "Deny".into(),
        }),
    );
    if let Some((neg, p)) = &s.principal {
        let v = match p {
            Principal::Any => Value::String("*".into()),
            Principal::Typed(entries) => {
                let mut pm = Map::new();
                for e in entries {
                    let vals = e.values.iter().map(|v| Value::String(v.clone())).collect();
                    pm.insert(e.kind.as_str().into(), one_or_many(vals, e.single));
                }
                Value::Object(pm)
            }
        };
        m.insert(if *neg { "NotPrincipal" } else { "Principal" }.into(), v);
    }
    if let Some(a) = &s.action {
        let vals = a
            .items
            .iter()
            .map(|p| Value::String(p.raw.to_string()))
            .collect();
        m.insert(
            if a.negated { "NotAction" } else { "Action" }.into(),
            one_or_many(vals, a.single),
        );
    }
    if let Some(r) = &s.resource {
        let vals = r
            .items
            .iter()
            .map(|p| Value::String(p.as_str().to_owned()))
            .collect();
        m.insert(
            if r.negated { "NotResource" } else { "Resource" }.into(),
            one_or_many(vals, r.single),
        );
    }
    if let Some(blocks) = &s.condition {
        let mut cm = Map::new();
        for b in blocks {
            let mut em = Map::new();
            for e in &b.entries {
                let v = match &e.raw {
                    Some(raw) => (**raw).clone(),
                    None => one_or_many(
                        e.values.iter().map(|v| Value::String(v.clone())).collect(),
                        e.single,
                    ),
                };
                em.insert(e.key().to_owned(), v);
            }
            let name = match (&b.op_raw, &b.op) {
                (Some(raw), _) => raw.to_string(),
                (None, Some(op)) => op.to_string(),
                (None, None) => String::new(),
            };
            cm.insert(name, Value::Object(em));
        }
        m.insert("Condition".into(), Value::Object(cm));
    }
    Value::Object(m)
}

/// Parses a document, returning the policy plus every non-syntax error found (with its
/// priority). A syntax error is returned as `Err`. The text is read straight into the AST
/// (see `raw`): strings are borrowed from `json` until they are stored.
pub(crate) fn parse_collect(json: &str) -> Result<(Policy, Errors), PolicyError> {
    let mut errors: Errors = Vec::new();
    // Most policies hold one statement (trust policies): no spare capacity for them.
    // Read into a list on the stack, then stored in one allocation of exactly their number
    // (no regrowth while reading).
    let mut statements: Statements = SmallVec::new();
    // Statements written after `Version` (the usual order) are built as they are read; a
    // hard error in one stops the read (every hard error is `Syntax`, as a read error is).
    let raw = read_policy(json, &mut |version, raw| {
        let Ok(version) = parse_version(version) else {
            return false;
        };
        let vars = version == Some(Version::V2012_10_17);
        match parse_statement(raw, vars, &mut errors) {
            Ok(st) => {
                push_statement(&mut statements, st, &mut errors);
                true
            }
            Err(_) => false,
        }
    })
    .map_err(|_| PolicyError::Syntax)?;
    let version = parse_version(raw.version.as_deref())?;
    let vars = version == Some(Version::V2012_10_17);
    let Some(raw_stmts) = raw.statement else {
        return Err(PolicyError::Syntax);
    };
    statements.reserve(raw_stmts.items.len());
    for raw in raw_stmts.items {
        let st = parse_statement(raw, vars, &mut errors)?;
        push_statement(&mut statements, st, &mut errors);
    }
    Ok((
        Policy {
            version,
            id: raw.id.map(Cow::into_owned),
            statements: exact_vec(&mut statements),
            statement_array: raw_stmts.array,
        },
        errors,
    ))
}

/// An `Action` or `Resource` element: compiled here from its strings (`raw`), or as it was
/// compiled while read (`built`, with its errors).
fn element<T>(
    raw: Option<(bool, Strings<'_>)>,
    built: Option<(Element<T>, Errors)>,
    errors: &mut Errors,
    mut item: impl FnMut(&str, &mut Errors) -> T,
) -> Option<Element<T>> {
    match (raw, built) {
        (Some((negated, list)), _) => {
            let items = list.items.iter().map(|s| item(s, errors)).collect();
            Some(Element {
                negated,
                items,
                single: list.single,
            })
        }
        (None, Some((element, mut errs))) => {
            errors.append(&mut errs);
            Some(element)
        }
        (None, None) => None,
    }
}

/// One `Action`/`NotAction` entry, checked (errors to `errors`) and compiled.
pub(crate) fn action_item(a: &str, errors: &mut Errors) -> ActionPattern {
    if let Some(e) = check_action(a) {
        errors.push((P_PREFIX, e));
    }
    ActionPattern::compile(a)
}

/// One `Resource`/`NotResource` entry, checked (errors to `errors`) and compiled.
pub(crate) fn resource_item(r: &str, vars: bool, errors: &mut Errors) -> ResourcePattern {
    let parts = split6(r, false);
    match check_resource_fast(r, &parts) {
        Some(true) => {}
        Some(false) | None => match check_resource(r) {
            Some(e) => errors.push((P_RESOURCE, e)),
            None => {
                if !legacy_resource_ok(r) {
                    errors.push((P_LEGACY, PolicyError::LegacyParsing));
                }
            }
        },
    }
    ResourcePattern {
        pat: ArnPattern::compile_split(r, &parts, ArnMode::Resource, vars),
    }
}

/// The `Version` element (absent: `None`; unknown: a syntax error).
fn parse_version(v: Option<&str>) -> Result<Option<Version>, PolicyError> {
    match v {
        None => Ok(None),
        Some("2008-10-17") => Ok(Some(Version::V2008_10_17)),
        Some("2012-10-17") => Ok(Some(Version::V2012_10_17)),
        Some(_) => Err(PolicyError::Syntax),
    }
}

/// Appends a statement, noting a repeated non-empty `Sid`.
fn push_statement(statements: &mut Statements, st: Statement, errors: &mut Errors) {
    if let Some(sid) = &st.sid
        && !sid.is_empty()
        && statements
            .iter()
            .any(|s: &Statement| s.sid.as_deref() == Some(&**sid))
    {
        errors.push((P_SID, PolicyError::DuplicateSid));
    }
    statements.push(st);
}

fn parse_statement(
    raw: RawStatement<'_>,
    vars: bool,
    errors: &mut Errors,
) -> Result<Statement, PolicyError> {
    let effect = match raw.effect.as_deref() {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(e) if e.eq_ignore_ascii_case("allow") => {
            errors.push((P_LEGACY, PolicyError::LegacyParsing));
            Effect::Allow
        }
        Some(e) if e.eq_ignore_ascii_case("deny") => {
            errors.push((P_LEGACY, PolicyError::LegacyParsing));
            Effect::Deny
        }
        _ => return Err(PolicyError::Syntax),
    };
    let principal = match raw.principal {
        None => None,
        Some((negated, p)) => Some((negated, parse_principal(p)?)),
    };
    let action = element(raw.action, raw.built_action, errors, action_item);
    let resource = element(raw.resource, raw.built_resource, errors, |r, errors| {
        resource_item(r, vars, errors)
    });
    let condition = match (raw.condition, raw.built_condition) {
        (Some(c), _) => Some(parse_condition(c, vars, errors)?),
        (None, Some((blocks, mut errs))) => {
            errors.append(&mut errs);
            Some(blocks)
        }
        (None, None) => None,
    };
    if action.as_ref().is_none_or(|a| a.items.is_empty()) {
        errors.push((P_ACTIONS, PolicyError::MissingActions));
    }
    Ok(Statement {
        sid: raw.sid.map(|s| Arc::from(&*s)),
        effect,
        principal,
        action,
        resource,
        condition,
    })
}

fn parse_principal(p: RawPrincipal<'_>) -> Result<Principal, PolicyError> {
    match p {
        RawPrincipal::Star => Ok(Principal::Any),
        RawPrincipal::Typed(Entries(m)) => {
            let mut entries = Vec::with_capacity(m.len());
            for (k, v) in m {
                let kind = PrincipalType::parse(&k).ok_or(PolicyError::Syntax)?;
                entries.push(PrincipalEntry {
                    kind,
                    values: v.items.into_iter().map(Cow::into_owned).collect(),
                    single: v.single,
                });
            }
            Ok(Principal::Typed(entries))
        }
    }
}

fn parse_condition(
    c: Entries<'_, Entries<'_, Scalars<'_>>>,
    vars: bool,
    errors: &mut Errors,
) -> Result<Vec<ConditionBlock>, PolicyError> {
    let mut blocks = Vec::with_capacity(c.0.len());
    for (op_raw, Entries(body)) in c.0 {
        let Some(op) = Operator::parse(&op_raw) else {
            if body.is_empty() {
                blocks.push(unknown_block(&op_raw));
                continue;
            }
            return Err(PolicyError::Syntax);
        };
        let mut entries = Vec::with_capacity(body.len());
        for (key, raw) in body {
            let values = map_items(&raw.items, Scalar::text);
            let single = raw.single && raw.items.len() == 1;
            let raw = if raw.items.iter().all(|s| matches!(s, Scalar::Str(_))) {
                None
            } else if single {
                raw.items.first().map(|s| Box::new(s.to_value()))
            } else {
                Some(Box::new(Value::Array(
                    raw.items.iter().map(Scalar::to_value).collect(),
                )))
            };
            entries.push(condition_entry(
                op, &key, values, raw, single, vars, errors,
            )?);
        }
        blocks.push(condition_block(op, &op_raw, entries));
    }
    Ok(blocks)
}

/// A block of an operator IAM does not know (allowed with an empty body).
pub(crate) fn unknown_block(op_raw: &str) -> ConditionBlock {
    ConditionBlock {
        op: None,
        op_raw: Some(Box::from(op_raw)),
        entries: Vec::new(),
    }
}

/// A block of a known operator written as `op_raw`.
pub(crate) fn condition_block(
    op: Operator,
    op_raw: &str,
    entries: Vec<ConditionEntry>,
) -> ConditionBlock {
    let reprints = op.base != BaseOperator::Null || !op_raw.ends_with("IfExists");
    ConditionBlock {
        op: Some(op),
        op_raw: (!reprints).then(|| Box::from(op_raw)),
        entries,
    }
}

impl ConditionBlock {
    /// Was the block's operator written as `name`?
    pub(crate) fn written_as(&self, name: &str) -> bool {
        match (&self.op_raw, &self.op) {
            (Some(raw), _) => **raw == *name,
            (None, Some(op)) => {
                let rest = match op.set {
                    Some(crate::SetOperator::ForAllValues) => name.strip_prefix("ForAllValues:"),
                    Some(crate::SetOperator::ForAnyValue) => name.strip_prefix("ForAnyValue:"),
                    None => Some(name),
                };
                let rest = if op.if_exists {
                    rest.and_then(|r| r.strip_suffix("IfExists"))
                } else {
                    rest
                };
                rest == Some(op.base.name())
            }
            (None, None) => false,
        }
    }
}

/// One condition entry: `key` (as written) with its values (`raw`: as written when some is
/// not a string; `single`: a bare value), compiled for `op`; its soft errors to `errors`.
pub(crate) fn condition_entry(
    op: Operator,
    key: &str,
    values: Items<String>,
    raw: Option<Box<Value>>,
    single: bool,
    vars: bool,
    errors: &mut Errors,
) -> Result<ConditionEntry, PolicyError> {
    if !key.contains(':') {
        errors.push((P_PREFIX, PolicyError::MissingVendor));
    }
    let (compiled, bad_date) = compile_values(op.base, &values, vars);
    if bad_date {
        errors.push((P_LEGACY, PolicyError::LegacyParsing));
    }
    // The key, then its lowercase form unless it is the same.
    let lower: Option<Cow<'_, str>> = if key.is_ascii() {
        key.bytes()
            .any(|b| b.is_ascii_uppercase())
            .then_some(Cow::Borrowed(key))
    } else {
        Some(Cow::Owned(key.to_lowercase())).filter(|l| *l != *key)
    };
    let mut keys = String::with_capacity(key.len() + lower.as_ref().map_or(0, |l| l.len()));
    keys.push_str(key);
    match lower {
        Some(Cow::Borrowed(k)) => {
            keys.push_str(k);
            if let Some(tail) = keys.get_mut(k.len()..) {
                tail.make_ascii_lowercase();
            }
        }
        Some(Cow::Owned(l)) => keys.push_str(&l),
        None => {}
    }
    let key_len = u32::try_from(key.len()).map_err(|_| PolicyError::Syntax)?;
    let keys = keys.into_boxed_str();
    let key_hash = crate::context::key_hash(
        keys.get(key.len()..)
            .filter(|l| !l.is_empty())
            .unwrap_or(&keys),
    );
    Ok(ConditionEntry {
        operator: op,
        keys,
        key_len,
        key_hash,
        values,
        raw,
        single,
        compiled,
    })
}

/// IAM's action checks: vendor prefix, one colon, vendor characters.
fn check_action(a: &str) -> Option<PolicyError> {
    if a == "*" {
        return None;
    }
    let Some((vendor, name)) = split_colon(a) else {
        return Some(PolicyError::MissingVendor);
    };
    if name.contains(':') {
        return Some(PolicyError::ActionColons);
    }
    if vendor != "*"
        && !vendor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        Some(PolicyError::InvalidVendor(vendor.to_owned()))
    } else {
        None
    }
}

const IAM_PATHS: &[&str] = &[
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
];

/// The common case of [`check_resource`] and [`legacy_resource_ok`] from one split:
/// `Some(true)` when `r` is `*` or a six-component ARN in a known partition that passes
/// both; otherwise (`Some(false)` or `None`) the full checks decide and word the error.
fn check_resource_fast(r: &str, parts: &[Option<&str>; 6]) -> Option<bool> {
    if r == "*" {
        return Some(true);
    }
    let [
        Some(_),
        Some(pt),
        Some(service),
        Some(region),
        Some(_),
        Some(res_id),
    ] = *parts
    else {
        return None;
    };
    if (pt != "*" && !PARTITIONS.contains(&pt)) || service.is_empty() {
        return None;
    }
    if has_wildcard(service) {
        return Some(false);
    }
    Some(match service {
        "iam" => {
            region.is_empty()
                && (IAM_PATHS.iter().any(|p| res_id.starts_with(p))
                    || has_wildcard(res_id.split('/').next().unwrap_or("")))
        }
        "s3" => region.is_empty() || res_id.starts_with("accesspoint/"),
        _ => true,
    })
}

/// IAM's resource format checks (the messages of `MalformedPolicyDocument`).
fn check_resource(r: &str) -> Option<PolicyError> {
    if r == "*" {
        return None;
    }
    let Some((_, rest)) = r.split_once(':') else {
        return Some(PolicyError::ResourceNotArn(r.to_owned()));
    };
    let (pt, rem) = match rest.split_once(':') {
        Some((p, rem)) => (p, Some(rem)),
        None => (rest, None),
    };
    if pt != "*" && !PARTITIONS.contains(&pt) {
        let parts: Vec<&str> = rem.unwrap_or("").split(':').collect();
        let n = parts.len();
        let at = |i: usize| parts.get(i).copied().unwrap_or("*");
        let a1 = if !at(0).is_empty() || n > 1 {
            at(0)
        } else {
            "*"
        };
        let a2 = if n > 1 { at(1) } else { "*" };
        let a3 = if n > 2 { at(2) } else { "*" };
        let a4 = if n > 3 {
            parts.get(3..).map(|p| p.join(":")).unwrap_or_default()
        } else {
            "*".to_owned()
        };
        return Some(PolicyError::InvalidPartition {
            partition: pt.to_owned(),
            resource: format!("arn:{pt}:{a1}:{a2}:{a3}:{a4}"),
        });
    }
    let Some(rem) = rem else {
        return Some(PolicyError::ResourceVendor);
    };
    let (service, region_rest) = rem.split_once(':').unwrap_or((rem, ""));
    if has_wildcard(service) {
        return Some(PolicyError::ResourceVendor);
    }
    let region_empty = region_rest.starts_with(':');
    let res_id = region_rest.splitn(3, ':').nth(2).unwrap_or("");
    match service {
        "iam" if !region_empty => return Some(PolicyError::IamRegion(r.to_owned())),
        "s3" if !region_empty && !res_id.starts_with("accesspoint/") => {
            return Some(PolicyError::S3Region(r.to_owned()));
        }
        _ => {}
    }
    if service == "iam" {
        let head = res_id.split('/').next().unwrap_or("");
        let ok = IAM_PATHS.iter().any(|p| res_id.starts_with(p)) || has_wildcard(head);
        if !ok {
            return Some(PolicyError::IamResourcePath);
        }
    }
    None
}

/// IAM's legacy resource parser: fewer than five colons must not contain `::`; the service
/// must not be empty.
fn legacy_resource_ok(r: &str) -> bool {
    if r == "*" {
        return true;
    }
    let colons = r.matches(':').count();
    (colons >= 5 || !r.contains("::")) && r.split(':').nth(2).is_none_or(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        Policy::parse(json).unwrap_err().to_string()
    }

    fn stmt(s: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":{s}}}"#)
    }

    #[test]
    fn parses_single_or_array() {
        let p = Policy::parse(&stmt(
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#,
        ))
        .unwrap();
        assert_eq!(p.statements().len(), 1);
        assert_eq!(p.statements()[0].actions()[0].as_str(), "s3:GetObject");
        let p = Policy::parse(&stmt(r#"[{"Sid":"A","Effect":"Deny","NotAction":["s3:*","ec2:Describe*"],"NotResource":["arn:aws:s3:::b"]}]"#)).unwrap();
        let s = &p.statements()[0];
        assert!(s.is_not_action());
        assert!(s.is_not_resource());
        assert_eq!(s.sid(), Some("A"));
        assert_eq!(s.effect(), Effect::Deny);
    }

    #[test]
    fn aws_messages() {
        let cases: &[(&str, &str)] = &[
            ("not json", "Syntax errors in policy."),
            (
                r#"{"Version":"2012-10-17","Statement":[]}"#,
                "Syntax errors in policy.",
            ),
            (r#"{"Version":"2012-10-17"}"#, "Syntax errors in policy."),
            (
                r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"s3:x","Resource":"*"}}"#,
                "Syntax errors in policy.",
            ),
            (
                r#"{"Version":"2012-10-17","Foo":1,"Statement":{"Effect":"Allow","Action":"s3:x","Resource":"*"}}"#,
                "Syntax errors in policy.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Extra":1}"#),
                "Syntax errors in policy.",
            ),
            (
                &stmt(r#"{"Action":"s3:x","Resource":"*"}"#),
                "Syntax errors in policy.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"s3:x","NotAction":"s3:y","Resource":"*"}"#),
                "Syntax errors in policy.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":{"a":"b"},"Resource":"*"}"#),
                "Syntax errors in policy.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":[["s3:x"]],"Resource":"*"}"#),
                "Syntax errors in policy.",
            ),
            (
                &stmt(
                    r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"StringEquals":"x"}}"#,
                ),
                "Syntax errors in policy.",
            ),
            (
                &stmt(
                    r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"Bogus":{"a:b":"c"}}}"#,
                ),
                "Syntax errors in policy.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Effect":"Deny"}"#),
                "Syntax errors in policy.",
            ),
            (
                &stmt(r#"{"Effect":"allow","Action":"s3:x","Resource":"*"}"#),
                "The policy failed legacy parsing",
            ),
            (
                &stmt(
                    r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-13-01"}}}"#,
                ),
                "The policy failed legacy parsing",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:s3::bucket"}"#),
                "The policy failed legacy parsing",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Resource":"*"}"#),
                "Policy statement must contain actions.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#),
                "Policy statement must contain actions.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"invalid","Resource":"*"}"#),
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","NotAction":"","Resource":"*"}"#),
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"s3:List:Bucket","Resource":"*"}"#),
                "Actions/Condition can contain only one colon.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"a a:b","Resource":"*"}"#),
                "Vendor a a is not valid",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":"invalid resource"}"#),
                "Resource invalid resource must be in ARN format or \"*\".",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":""}"#),
                "Resource  must be in ARN format or \"*\".",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":"a:b:c"}"#),
                "Partition \"b\" is not valid for resource \"arn:b:c:*:*:*\".",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws"}"#),
                "Resource vendor must be fully qualified and cannot contain regexes.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:s3*:::b"}"#),
                "Resource vendor must be fully qualified and cannot contain regexes.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:iam:::foo"}"#),
                "IAM resource path must either be \"*\" or start with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/.",
            ),
            (
                &stmt(
                    r#"{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:iam:us-east-1::role/x"}"#,
                ),
                "IAM resource arn:aws:iam:us-east-1::role/x cannot contain region information.",
            ),
            (
                &stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:s3:us-east-1::b"}"#),
                "Resource arn:aws:s3:us-east-1::b can not contain region information.",
            ),
            (
                &stmt(
                    r#"[{"Sid":"A","Effect":"Allow","Action":"s3:x","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"s3:y","Resource":"*"}]"#,
                ),
                "Statement IDs (SID) in a single policy must be unique.",
            ),
            (
                &stmt(
                    r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"StringEquals":{"nokey":"v"}}}"#,
                ),
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"s3:x","Resource":"*"},"Statement":{"Effect":"Allow","Action":"s3:x","Resource":"*"}}"#,
                "Syntax errors in policy.",
            ),
        ];
        for (json, want) in cases {
            assert_eq!(err(json), *want, "{json}");
        }
    }

    #[test]
    fn accepted_shapes() {
        for ok in [
            stmt(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#),
            stmt(r#"{"Effect":"Allow","Action":"*:Get*","Resource":"arn:aws:s3:::b/*"}"#),
            stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:dynamodb:*"}"#),
            stmt(
                r#"{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:s3:us-east-1:1:accesspoint/x"}"#,
            ),
            stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":"arn:aws:iam::1:*"}"#),
            stmt(r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"Unknown":{}}}"#),
            stmt(
                r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":10},"Bool":{"aws:SecureTransport":true}}}"#,
            ),
            stmt(
                r#"{"Effect":"Allow","Principal":{"AWS":["123456789012"],"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}"#,
            ),
            r#"{"Statement":{"Effect":"Allow","Action":"s3:x","Resource":"*"}}"#.to_owned(),
        ] {
            assert!(Policy::parse(&ok).is_ok(), "{ok}: {:?}", Policy::parse(&ok));
        }
    }

    /// A statement read with the version known (built as read) and without (`Version` after
    /// `Statement`: kept, then built) gives the same policy, the same errors, the same
    /// rejections.
    #[test]
    fn version_before_or_after_statement_reads_alike() {
        let bodies = [
            r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":[10,"1.5",true]},"Bool":{"aws:SecureTransport":false},"StringEquals":{"aws:PrincipalTag/Team":"${aws:username}"}}}"#,
            r#"[{"Sid":"A","Effect":"Allow","Action":["s3:x"],"Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"NullIfExists":{"aws:TokenIssueTime":"true"},"Unknown":{},"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["a*"]},"StringLike":{"s3:prefix":[]}}},{"Sid":"A","Effect":"Deny","NotAction":"s3:y","NotResource":"*"}]"#,
            r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-13-01"},"StringEquals":{"nokey":"v","ÄÖ:K":"x"}}}"#,
            r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"Bool":{"a:b":"1"},"Bool":{"a:c":"2"}}}"#,
            r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"Null":{"a:b":"true"},"NullIfExists":{"a:c":"true"}}}"#,
            r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"StringEquals":{"a:b":"1","a:b":"2"}}}"#,
            r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"Bogus":{"a:b":"c"}}}"#,
            r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"Bool":{"a:b":null}}}"#,
            r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"Bool":{"a:b":[["x"]]}}}"#,
            r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"StringEquals":{"a:b":"x"},"Condition":{}}}"#,
            r#"{"Effect":"Allow","Action":"s3:x","Resource":"*","Condition":{"StringEquals":{"a:\u0062":"x","a:b":"y"}}}"#,
            r#"{"Resource":["arn:aws:iam:::foo","arn:aws:s3:us-east-1::b","a:b:c","arn:aws:s3::b"],"Effect":"Allow","Action":["invalid","s3:a:b","a a:b","*",""]}"#,
            r#"{"Effect":"Deny","NotAction":[],"NotResource":"invalid resource"}"#,
            r#"{"Effect":"Allow","Action":"s3:x","Action":"s3:y","Resource":"*"}"#,
            r#"{"Effect":"Allow","Action":"s3:x","NotResource":"*","Resource":"*"}"#,
            r#"{"Effect":"Allow","Action":[1],"Resource":"*"}"#,
            r#"{"Effect":"Allow","Action":"s3:\u0078","Resource":["arn:aws:s3:::b/${aws:userid}/*"]}"#,
        ];
        for version in ["2012-10-17", "2008-10-17"] {
            for body in bodies {
                let first = format!(r#"{{"Version":"{version}","Statement":{body}}}"#);
                let last = format!(r#"{{"Statement":{body},"Version":"{version}"}}"#);
                let a = parse_collect(&first);
                let b = parse_collect(&last);
                assert_eq!(a, b, "{first}");
                if let Ok((p, _)) = &a {
                    assert_eq!(
                        Policy::parse(&p.to_json()).ok().as_ref(),
                        Policy::parse(&first).ok().as_ref(),
                        "{first}"
                    );
                }
            }
        }
    }

    #[test]
    fn action_patterns_case_insensitive() {
        let cases: &[(&str, &str, bool)] = &[
            ("s3:GetObject", "S3:GETOBJECT", true),
            ("S3:getobject", "s3:GetObject", true),
            ("s3:GetObject", "s3:GetObjects", false),
            ("s3:Get*", "s3:getobjectversion", true),
            ("s3:Get*", "sqs:GetQueueUrl", false),
            ("s3:*Object", "S3:PutOBJECT", true),
            ("dynamodb:Get?tem", "dynamodb:GETITEM", true),
            ("dynamodb:Get?tem", "dynamodb:GetIItem", false),
            ("*:Get*", "sqs:getqueueurl", true),
            ("*", "anything:Really", true),
            ("s3:*", "s3", false),
            ("s3:Ä*", "s3:äb", true),
            ("s3:GetObject", "s3:GetObjecté", false),
            ("s3:Get*", "s3:GetÄ", true),
        ];
        for (pattern, action, want) in cases {
            assert_eq!(
                ActionPattern::compile(pattern).matches(action),
                *want,
                "{pattern} vs {action}"
            );
        }
    }

    #[test]
    fn print_round_trip() {
        let src = r#"{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"A","Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/o"},"Action":["sts:AssumeRoleWithWebIdentity"],"Condition":{"StringEquals":{"o:sub":"s","o:aud":["a","b"]},"Bool":{"aws:SecureTransport":true}}},{"Effect":"Deny","NotAction":"s3:*","NotResource":["arn:aws:s3:::b/${aws:username}/*"]}]}"#;
        let p = Policy::parse(src).unwrap();
        let printed = p.to_json();
        assert_eq!(printed, src);
        assert_eq!(Policy::parse(&printed).unwrap(), p);
        // Operators printed as written (`NullIfExists`, an unknown operator with an empty
        // body), values with their JSON types, a one-element array kept an array.
        let src = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"S3:Get*","Resource":["arn:aws:s3:::b/*"],"Condition":{"NullIfExists":{"aws:TokenIssueTime":"true"},"Unknown":{},"NumericLessThan":{"s3:max-keys":[10,"1.5"]},"StringLike":{"s3:prefix":["a/*"]},"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":"x"}}}}"#;
        let p = Policy::parse(src).unwrap();
        assert_eq!(p.to_json(), src);
        assert_eq!(Policy::parse(&p.to_json()).unwrap(), p);
    }
}
