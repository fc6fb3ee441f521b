//! Requests → IAM authorizations: the action, the resource ARN and the DynamoDB condition
//! keys, one function per operation family.
//!
//! * Item operations and `Query`/`Scan` are authorized on `table/NAME` (with an
//!   `IndexName`: `table/NAME/index/INDEX`).
//! * Batches give one authorization per table with their own action; transactions one per
//!   element with the element's action (`GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`,
//!   `ConditionCheckItem`) and `dynamodb:EnclosingOperation`, as AWS authorizes them.
//! * `dynamodb:LeadingKeys`: the partition-key values the request addresses, from its
//!   key maps, items and key condition, through the table's (or index's) key schema.
//!   When it cannot be determined as DynamoDB would (no schema and more than one
//!   candidate), the authorization says so in [`Authorization::undetermined`] and
//!   [`crate::authz::authorize`] denies it under any policy that uses the key.
//! * `dynamodb:Attributes`: every top-level attribute the request reads, writes or tests:
//!   key and item attributes, projections, condition, filter and key condition
//!   expressions, update targets and sources, and the legacy `AttributesToGet`,
//!   `AttributeUpdates`, `Expected`, `QueryFilter`, `ScanFilter` and `KeyConditions`.
//! * `dynamodb:Select`, `dynamodb:ReturnValues`, `dynamodb:ReturnConsumedCapacity`,
//!   `dynamodb:EnclosingOperation`.

use std::collections::HashSet;

use irsa_policy::Context;

use crate::error::{MapError, validation};
use crate::expr::{Comparator, Condition, Operand, Path};
use crate::json::{Members, Raw, Str};
use crate::operation::Operation;
use crate::request::{
    self, ExprKind, ItemKind, ItemRequest, ReadRequest, Request, Substitutions, attribute_map,
    check_expression_params,
};
use crate::schema::{KeySchema, Schemas, TableSchema};
use crate::scope::{Scope, check_name};
use crate::value::key_string;

/// `dynamodb:LeadingKeys`.
pub const LEADING_KEYS: &str = "dynamodb:LeadingKeys";
/// `dynamodb:Attributes`.
pub const ATTRIBUTES: &str = "dynamodb:Attributes";
/// Most distinct attribute names `dynamodb:Attributes` carries; a request naming more
/// leaves the key undetermined (denied under policies that use it).
pub const MAX_ATTRIBUTE_NAMES: usize = 4096;

/// One IAM authorization request derived from a DynamoDB request (`dynamodb:<Action>` on a
/// table or index ARN, or `*`; `undetermined` lists [`LEADING_KEYS`] and [`ATTRIBUTES`]
/// when the request does not show their value exactly as DynamoDB would).
pub use irsa_authz::Authorization;

/// How many distinct attribute names are compared one by one before a set holds them.
const SEEN_FROM: usize = 16;

/// Condition-key values gathered for one authorization.
#[derive(Default)]
struct Facts {
    leading: Vec<String>,
    leading_unknown: bool,
    attributes: Vec<String>,
    /// The names of `attributes` once there are [`SEEN_FROM`] of them (empty before).
    seen: HashSet<String>,
    attributes_unknown: bool,
}

impl Facts {
    fn leading(&mut self, value: String) {
        if !self.leading.contains(&value) {
            self.leading.push(value);
        }
    }

    fn attribute(&mut self, name: &str) {
        if self.attributes_unknown {
            return;
        }
        // A few names (the usual case) are compared in place; past SEEN_FROM, a set
        // finds them.
        if self.attributes.len() < SEEN_FROM {
            if self.attributes.iter().any(|a| a == name) {
                return;
            }
        } else {
            if self.seen.is_empty() {
                self.seen = self.attributes.iter().cloned().collect();
            }
            if self.seen.contains(name) {
                return;
            }
        }
        if self.attributes.len() >= MAX_ATTRIBUTE_NAMES {
            self.attributes_unknown = true;
            self.attributes.clear();
            self.seen.clear();
            return;
        }
        if self.attributes.len() >= SEEN_FROM {
            self.seen.insert(name.to_owned());
        }
        self.attributes.push(name.to_owned());
    }

    fn attributes<'s>(&mut self, names: impl IntoIterator<Item = &'s str>) {
        for n in names {
            self.attribute(n);
        }
    }

    fn authorization(
        self,
        action: String,
        resource: String,
        mut context: Context,
    ) -> Authorization {
        let mut undetermined = Vec::new();
        if self.leading_unknown {
            undetermined.push(LEADING_KEYS);
        } else if !self.leading.is_empty() {
            context.insert_multi(LEADING_KEYS, self.leading);
        }
        if self.attributes_unknown {
            undetermined.push(ATTRIBUTES);
        } else if !self.attributes.is_empty() {
            context.insert_multi(ATTRIBUTES, self.attributes);
        }
        Authorization {
            action,
            resource,
            context,
            undetermined,
        }
    }
}

fn null_member(member: &str) -> MapError {
    MapError::Validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

fn empty_collection(value: &str, member: &str) -> MapError {
    MapError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have length greater than or equal to 1"
    ))
}

fn mismatch() -> MapError {
    MapError::Validation("The provided key element does not match the schema".to_owned())
}

fn required<'s>(v: &'s Option<Str<'_>>, member: &str) -> Result<&'s str, MapError> {
    v.as_ref()
        .map(Str::as_str)
        .ok_or_else(|| null_member(member))
}

/// `dynamodb:Select`: the request's, else DynamoDB's default for it.
fn select(context: &mut Context, given: Option<&Str<'_>>, projection: bool, index: bool) {
    let v = match given {
        Some(s) => s.as_str(),
        None if projection => "SPECIFIC_ATTRIBUTES",
        None if index => "ALL_PROJECTED_ATTRIBUTES",
        None => "ALL_ATTRIBUTES",
    };
    context.insert("dynamodb:Select", v);
}

fn consumed_capacity(context: &mut Context, given: Option<&Str<'_>>) {
    if let Some(v) = given {
        context.insert("dynamodb:ReturnConsumedCapacity", v.as_str());
    }
}

/// The partition-key value of a key map or item: through the schema, or, without one, the
/// only attribute of a one-attribute map.
fn leading_from_map(
    raw: Raw<'_>,
    member: &str,
    schema: Option<&KeySchema>,
    is_item: bool,
    facts: &mut Facts,
) -> Result<(), MapError> {
    let map = attribute_map(raw, member)?;
    if map.is_empty() {
        return Err(mismatch());
    }
    match schema {
        Some(s) => {
            let value = map.get(&s.partition_key).ok_or_else(mismatch)?;
            if !is_item {
                let expected = 1 + usize::from(s.sort_key.is_some());
                let sort_ok = s.sort_key.as_ref().is_none_or(|k| map.get(k).is_some());
                if map.len() != expected || !sort_ok {
                    return Err(mismatch());
                }
            }
            facts.leading(key_string(value)?);
        }
        None => match map.0.as_slice() {
            [(_, value)] => facts.leading(key_string(value)?),
            _ => facts.leading_unknown = true,
        },
    }
    facts.attributes(map.names());
    Ok(())
}

/// The condition keys of an item request (also a transaction element).
fn item_facts(
    kind: ItemKind,
    r: &ItemRequest<'_>,
    schema: Option<&TableSchema>,
    facts: &mut Facts,
    context: &mut Context,
) -> Result<(), MapError> {
    let (raw, member) = if kind == ItemKind::Put {
        (r.item, "item")
    } else {
        (r.key, "key")
    };
    let raw = raw.ok_or_else(|| null_member(member))?;
    leading_from_map(
        raw,
        member,
        schema.map(|s| &s.key),
        kind == ItemKind::Put,
        facts,
    )?;

    let mut subst =
        Substitutions::new(r.expression_attribute_names, r.expression_attribute_values)?;
    let expressions = [
        ("ProjectionExpression", r.projection_expression.is_some()),
        ("ConditionExpression", r.condition_expression.is_some()),
        ("UpdateExpression", r.update_expression.is_some()),
    ];
    check_expression_params(
        &expressions,
        &[
            ("AttributesToGet", r.attributes_to_get.is_some()),
            ("AttributeUpdates", r.attribute_updates.is_some()),
            ("Expected", r.expected.is_some()),
            ("ConditionalOperator", r.conditional_operator.is_some()),
        ],
        &[
            ("ConditionExpression", r.condition_expression.is_some()),
            ("UpdateExpression", r.update_expression.is_some()),
        ],
        subst.has_names(),
        subst.has_values(),
    )?;
    if kind == ItemKind::ConditionCheck && r.condition_expression.is_none() {
        return Err(null_member("conditionExpression"));
    }
    if let Some(src) = &r.update_expression {
        let u = request::update(src.as_str())?;
        let heads = subst.resolve(ExprKind::Update, |p, v| u.walk(p, v))?;
        facts.attributes(heads.iter().map(String::as_str));
    }
    if let Some(src) = &r.condition_expression {
        let c = request::condition(ExprKind::Condition, src.as_str())?;
        let heads = subst.resolve(ExprKind::Condition, |p, v| c.walk(p, v))?;
        facts.attributes(heads.iter().map(String::as_str));
    }
    let projection = projection_facts(r.projection_expression.as_ref(), &mut subst, facts)?;
    subst.finish()?;
    legacy_facts(
        &[r.attributes_to_get, r.attribute_updates, r.expected],
        facts,
    )?;
    match kind {
        ItemKind::Get => select(
            context,
            None,
            projection || r.attributes_to_get.is_some(),
            false,
        ),
        ItemKind::Put | ItemKind::Update | ItemKind::Delete => {
            let v = r.return_values.as_ref().map_or("NONE", Str::as_str);
            context.insert("dynamodb:ReturnValues", v);
        }
        ItemKind::ConditionCheck => {}
    }
    consumed_capacity(context, r.return_consumed_capacity.as_ref());
    Ok(())
}

/// The projection's top-level names; whether there was one.
fn projection_facts(
    src: Option<&Str<'_>>,
    subst: &mut Substitutions<'_>,
    facts: &mut Facts,
) -> Result<bool, MapError> {
    let Some(src) = src else {
        return Ok(false);
    };
    let paths = request::projection(src.as_str())?;
    let heads = subst.resolve(ExprKind::Projection, |p, _| {
        for path in &paths {
            p(path);
        }
    })?;
    facts.attributes(heads.iter().map(String::as_str));
    Ok(true)
}

/// Attribute names of the legacy parameters: `AttributesToGet` (a list) and condition or
/// update maps (their member names).
fn legacy_facts(raws: &[Option<Raw<'_>>], facts: &mut Facts) -> Result<(), MapError> {
    for raw in raws.iter().flatten() {
        let names = if raw.get().trim_start().starts_with('[') {
            request::attribute_names(raw)?
        } else {
            request::legacy_names(raw)?
        };
        facts.attributes(names.iter().map(Str::as_str));
    }
    Ok(())
}

/// One condition of a key condition: the attribute and whether it is an equality (with
/// its value).
enum KeyTest<'a> {
    Eq(Raw<'a>),
    Range,
}

fn key_path(p: &Path) -> Result<&Path, MapError> {
    if p.steps.is_empty() {
        Ok(p)
    } else {
        validation("KeyConditionExpressions cannot have conditions on nested attributes")
    }
}

/// The conditions of a `KeyConditionExpression`, as DynamoDB reads them: a conjunction
/// of one or two conditions, each on a different top-level key attribute compared with a
/// value (`=`, `<`, `<=`, `>`, `>=` with the operands in either order, `BETWEEN`,
/// `begins_with`).
fn key_tests<'a>(
    cond: &Condition,
    subst: &mut Substitutions<'a>,
) -> Result<Vec<(String, KeyTest<'a>)>, MapError> {
    let mut tests: Vec<(String, KeyTest<'a>)> = Vec::new();
    for leaf in cond.conjuncts() {
        let Some((path, equals)) = key_leaf(leaf)? else {
            continue;
        };
        let name = subst
            .name(&path.head)
            .map_err(|e| MapError::Validation(format!("Invalid KeyConditionExpression: {e}")))?;
        if tests.iter().any(|(n, _)| *n == name) {
            return validation("KeyConditionExpressions must only contain one condition per key");
        }
        let test = match equals {
            Some(v) => KeyTest::Eq(subst.value(v).map_err(|e| {
                MapError::Validation(format!("Invalid KeyConditionExpression: {e}"))
            })?),
            None => KeyTest::Range,
        };
        tests.push((name, test));
    }
    if tests.is_empty() || tests.len() > 2 {
        return validation("Conditions can be of length 1 or 2 only");
    }
    Ok(tests)
}

/// One condition of a `KeyConditionExpression`, with DynamoDB's error for a condition it
/// refuses: the key attribute's path and, for `=`, the value placeholder it equals (`None`
/// for a range). `None` for an `AND`, whose conditions come on their own.
fn key_leaf(leaf: &Condition) -> Result<Option<(&Path, Option<&str>)>, MapError> {
    const MULTIPLE_NAMES: &str = "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition";
    const NESTED: &str = "KeyConditionExpressions cannot contain nested operations";
    let invalid = |what: &str| {
        validation(format!(
            "Invalid operator used in KeyConditionExpression: {what}"
        ))
    };
    let (path, equals) = match leaf {
        Condition::Or(..) => return invalid("OR"),
        Condition::Not(..) => return invalid("NOT"),
        Condition::In(..) => return invalid("IN"),
        Condition::Compare(_, Comparator::Ne, _) => return invalid("<>"),
        Condition::Function(f) if f.name != "begins_with" => return invalid(&f.name),
        Condition::Function(f) => match f.args.as_slice() {
            [Operand::Path(p), Operand::Value(_)] => (p, None),
            [Operand::Path(_), Operand::Path(_)] => return validation(MULTIPLE_NAMES),
            [Operand::Path(_), _] => return validation(NESTED),
            _ => {
                return validation(
                    "Invalid condition in KeyConditionExpression: begins_with operator must have the key attribute as its first operand",
                );
            }
        },
        Condition::Compare(a, op, b) => match (a, b) {
            (Operand::Path(p), Operand::Value(v)) | (Operand::Value(v), Operand::Path(p)) => {
                (p, (*op == Comparator::Eq).then_some(v.as_str()))
            }
            (Operand::Path(_), Operand::Path(_)) => return validation(MULTIPLE_NAMES),
            (Operand::Function(_), _) | (_, Operand::Function(_)) => return validation(NESTED),
            _ => {
                return validation(
                    "Invalid condition in KeyConditionExpression: No key attribute specified",
                );
            }
        },
        Condition::Between(a, lo, hi) => match (a, lo, hi) {
            (Operand::Path(p), Operand::Value(_), Operand::Value(_)) => (p, None),
            (Operand::Path(_), _, _) => return validation(MULTIPLE_NAMES),
            _ => {
                return validation(
                    "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand",
                );
            }
        },
        Condition::And(..) => return Ok(None),
    };
    Ok(Some((key_path(path)?, equals)))
}

/// The conditions of legacy `KeyConditions`.
fn legacy_key_tests<'a>(raw: Raw<'a>) -> Result<Vec<(String, KeyTest<'a>)>, MapError> {
    let m = request::key_conditions(raw)?;
    if m.is_empty() {
        return validation("Conditions can be of length 1 or 2 only");
    }
    let mut tests = Vec::new();
    for (name, c) in &m.0 {
        let op = c
            .comparison_operator
            .as_ref()
            .map(Str::as_str)
            .ok_or_else(|| null_member("keyConditions.comparisonOperator"))?;
        let values = c
            .attribute_value_list
            .as_ref()
            .map_or(&[][..], |l| &l.0[..]);
        let test = match (op, values) {
            ("EQ", [v]) => KeyTest::Eq(v),
            ("LE" | "LT" | "GE" | "GT" | "BEGINS_WITH", [_]) | ("BETWEEN", [_, _]) => {
                KeyTest::Range
            }
            ("EQ" | "LE" | "LT" | "GE" | "GT" | "BEGINS_WITH" | "BETWEEN", _) => {
                return validation(format!(
                    "One or more parameter values were invalid: Invalid number of argument(s) for the {op} ComparisonOperator"
                ));
            }
            _ => {
                return validation(
                    "Attempted conditional constraint is not an indexable operation",
                );
            }
        };
        tests.push((name.as_str().to_owned(), test));
    }
    Ok(tests)
}

/// `dynamodb:LeadingKeys` of a query: the partition key's equality.
fn query_leading(
    tests: &[(String, KeyTest<'_>)],
    schema: Option<&KeySchema>,
    facts: &mut Facts,
) -> Result<(), MapError> {
    match schema {
        Some(s) => {
            let Some((_, KeyTest::Eq(v))) = tests.iter().find(|(n, _)| *n == s.partition_key)
            else {
                return validation(format!(
                    "Query condition missed key schema element: {}",
                    s.partition_key
                ));
            };
            if tests
                .iter()
                .any(|(n, _)| *n != s.partition_key && Some(n) != s.sort_key.as_ref())
            {
                return validation("Query key condition not supported");
            }
            facts.leading(key_string(v)?);
        }
        None => {
            let eqs: Vec<&Raw<'_>> = tests
                .iter()
                .filter_map(|(_, t)| match t {
                    KeyTest::Eq(v) => Some(v),
                    KeyTest::Range => None,
                })
                .collect();
            match eqs.as_slice() {
                [v] => facts.leading(key_string(v)?),
                _ => facts.leading_unknown = true,
            }
        }
    }
    for (name, _) in tests {
        facts.attribute(name);
    }
    Ok(())
}

/// A `Query`'s key conditions (`KeyConditionExpression` or legacy `KeyConditions`) on the
/// key schema of the table or index it reads: its partition (`dynamodb:LeadingKeys`), and
/// a start key, which must lie in that partition.
fn query_key_facts<'a>(
    r: &ReadRequest<'a>,
    schema: Option<&KeySchema>,
    subst: &mut Substitutions<'a>,
    facts: &mut Facts,
) -> Result<(), MapError> {
    let tests = match (&r.key_condition_expression, r.key_conditions) {
        (Some(src), _) => {
            let c = request::condition(ExprKind::KeyCondition, src.as_str())?;
            let heads = subst.resolve(ExprKind::KeyCondition, |p, v| c.walk(p, v))?;
            facts.attributes(heads.iter().map(String::as_str));
            key_tests(&c, subst)?
        }
        (None, Some(raw)) => legacy_key_tests(raw)?,
        (None, None) => {
            return validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            );
        }
    };
    query_leading(&tests, schema, facts)?;
    // A start key must lie in the queried partition.
    if let (Some(raw), Some(s), [v]) = (r.exclusive_start_key, schema, facts.leading.as_slice()) {
        let start = attribute_map(raw, "exclusiveStartKey")?;
        match start.get(&s.partition_key).map(|k| key_string(k)) {
            Some(Ok(k)) if k == *v => {}
            _ => {
                return validation(
                    "The provided starting key is outside query boundaries based on provided conditions",
                );
            }
        }
    }
    Ok(())
}

fn read(
    query: bool,
    r: &ReadRequest<'_>,
    scope: &Scope,
    schemas: &Schemas,
) -> Result<Authorization, MapError> {
    let op = if query {
        Operation::Query
    } else {
        Operation::Scan
    };
    let table = scope.table_ref(required(&r.table_name, "tableName")?, "tableName")?;
    let index = r.index_name.as_ref().map(Str::as_str);
    let mut resource = scope.table_arn(table);
    if let Some(index) = index {
        check_name(index, "indexName")?;
        resource = format!("{resource}/index/{index}");
    }
    let mut facts = Facts::default();
    let mut context = Context::new();
    let mut subst =
        Substitutions::new(r.expression_attribute_names, r.expression_attribute_values)?;
    let kce = r.key_condition_expression.is_some();
    check_expression_params(
        &[
            ("ProjectionExpression", r.projection_expression.is_some()),
            ("FilterExpression", r.filter_expression.is_some()),
            ("KeyConditionExpression", kce),
        ],
        &[
            ("AttributesToGet", r.attributes_to_get.is_some()),
            ("QueryFilter", r.query_filter.is_some()),
            ("ScanFilter", r.scan_filter.is_some()),
            ("ConditionalOperator", r.conditional_operator.is_some()),
            ("KeyConditions", kce && r.key_conditions.is_some()),
        ],
        &[
            ("FilterExpression", r.filter_expression.is_some()),
            ("KeyConditionExpression", kce),
        ],
        subst.has_names(),
        subst.has_values(),
    )?;
    if query {
        let schema = schemas
            .get(table)
            .map(AsRef::as_ref)
            .and_then(|s| match index {
                Some(i) => s.indexes.get(i),
                None => Some(&s.key),
            });
        query_key_facts(r, schema, &mut subst, &mut facts)?;
    }
    if let Some(src) = &r.filter_expression {
        let c = request::condition(ExprKind::Filter, src.as_str())?;
        let heads = subst.resolve(ExprKind::Filter, |p, v| c.walk(p, v))?;
        facts.attributes(heads.iter().map(String::as_str));
    }
    let projection = projection_facts(r.projection_expression.as_ref(), &mut subst, &mut facts)?;
    subst.finish()?;
    legacy_facts(
        &[
            r.attributes_to_get,
            r.query_filter,
            r.scan_filter,
            r.key_conditions,
        ],
        &mut facts,
    )?;
    select(
        &mut context,
        r.select.as_ref(),
        projection || r.attributes_to_get.is_some(),
        index.is_some(),
    );
    consumed_capacity(&mut context, r.return_consumed_capacity.as_ref());
    Ok(facts.authorization(op.action(), resource, context))
}

fn item(
    kind: ItemKind,
    r: &ItemRequest<'_>,
    scope: &Scope,
    schemas: &Schemas,
    enclosing: Option<Operation>,
    member: &str,
) -> Result<Authorization, MapError> {
    let table = scope.table_ref(required(&r.table_name, member)?, member)?;
    let mut facts = Facts::default();
    let mut context = Context::new();
    item_facts(
        kind,
        r,
        schemas.get(table).map(AsRef::as_ref),
        &mut facts,
        &mut context,
    )?;
    if let Some(op) = enclosing {
        context.insert("dynamodb:EnclosingOperation", op.name());
    }
    Ok(facts.authorization(kind.action().to_owned(), scope.table_arn(table), context))
}

/// A batch's `RequestItems`: present, not empty, at most `max` items over all tables.
fn request_items<'r, 'a, V, const N: usize>(
    items: Option<&'r Members<'a, V, N>>,
    count: impl Fn(&V) -> usize,
    max: usize,
    op: Operation,
) -> Result<&'r [(Str<'a>, V)], MapError> {
    let items = items.ok_or_else(|| null_member("requestItems"))?;
    if items.is_empty() {
        return Err(empty_collection("{}", "requestItems"));
    }
    if items.0.iter().map(|(_, v)| count(v)).sum::<usize>() > max {
        return validation(format!("Too many items requested for the {op} call"));
    }
    Ok(items.0.as_slice())
}

fn batch_get(
    r: &request::BatchGetRequest<'_>,
    scope: &Scope,
    schemas: &Schemas,
) -> Result<Vec<Authorization>, MapError> {
    let items = request_items(
        r.request_items.as_ref(),
        |k| k.keys.as_ref().map_or(0, |l| l.0.len()),
        100,
        Operation::BatchGetItem,
    )?;
    let mut out = Vec::with_capacity(items.len());
    for (table, request) in items {
        let table = scope.table_ref(table.as_str(), "requestItems")?;
        let keys = request.keys.as_ref().map_or(&[][..], |l| &l.0[..]);
        if keys.is_empty() {
            return Err(empty_collection("[]", "requestItems.member.keys"));
        }
        let schema = schemas.get(table).map(|s| &s.key);
        let mut facts = Facts::default();
        for key in keys {
            leading_from_map(key, "keys", schema, false, &mut facts)?;
        }
        let mut subst = Substitutions::new(request.expression_attribute_names, None)?;
        check_expression_params(
            &[(
                "ProjectionExpression",
                request.projection_expression.is_some(),
            )],
            &[("AttributesToGet", request.attributes_to_get.is_some())],
            &[],
            subst.has_names(),
            false,
        )?;
        let projection = projection_facts(
            request.projection_expression.as_ref(),
            &mut subst,
            &mut facts,
        )?;
        subst.finish()?;
        legacy_facts(&[request.attributes_to_get], &mut facts)?;
        let mut context = Context::new();
        select(
            &mut context,
            None,
            projection || request.attributes_to_get.is_some(),
            false,
        );
        consumed_capacity(&mut context, r.return_consumed_capacity.as_ref());
        out.push(facts.authorization(
            Operation::BatchGetItem.action(),
            scope.table_arn(table),
            context,
        ));
    }
    Ok(out)
}

/// The message DynamoDB answers for a `WriteRequest` that is not exactly one of
/// `PutRequest` and `DeleteRequest`.
const ONE_WRITE_REQUEST: &str = "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes";

fn batch_write(
    r: &request::BatchWriteRequest<'_>,
    scope: &Scope,
    schemas: &Schemas,
) -> Result<Vec<Authorization>, MapError> {
    let items = request_items(
        r.request_items.as_ref(),
        |l| l.0.len(),
        25,
        Operation::BatchWriteItem,
    )?;
    let mut out = Vec::with_capacity(items.len());
    for (table, writes) in items {
        let table = scope.table_ref(table.as_str(), "requestItems")?;
        if writes.0.is_empty() {
            return Err(empty_collection("[]", "requestItems.member"));
        }
        let schema = schemas.get(table).map(|s| &s.key);
        let mut facts = Facts::default();
        for w in &writes.0 {
            match (&w.put_request, &w.delete_request) {
                (Some(p), None) => {
                    let raw = p.item.ok_or_else(|| null_member("putRequest.item"))?;
                    leading_from_map(raw, "item", schema, true, &mut facts)?;
                }
                (None, Some(d)) => {
                    let raw = d.key.ok_or_else(|| null_member("deleteRequest.key"))?;
                    leading_from_map(raw, "key", schema, false, &mut facts)?;
                }
                _ => return validation(ONE_WRITE_REQUEST),
            }
        }
        let mut context = Context::new();
        consumed_capacity(&mut context, r.return_consumed_capacity.as_ref());
        out.push(facts.authorization(
            Operation::BatchWriteItem.action(),
            scope.table_arn(table),
            context,
        ));
    }
    Ok(out)
}

fn transact(
    get: bool,
    r: &request::TransactRequest<'_>,
    scope: &Scope,
    schemas: &Schemas,
) -> Result<Vec<Authorization>, MapError> {
    let items = r
        .transact_items
        .as_ref()
        .ok_or_else(|| null_member("transactItems"))?;
    if items.0.is_empty() {
        return Err(empty_collection("[]", "transactItems"));
    }
    let op = if get {
        Operation::TransactGetItems
    } else {
        Operation::TransactWriteItems
    };
    let mut out = Vec::with_capacity(items.0.len());
    for (i, t) in items.0.iter().enumerate() {
        let members = [
            (ItemKind::Get, "get", &t.get),
            (
                ItemKind::ConditionCheck,
                "conditionCheck",
                &t.condition_check,
            ),
            (ItemKind::Put, "put", &t.put),
            (ItemKind::Delete, "delete", &t.delete),
            (ItemKind::Update, "update", &t.update),
        ];
        let present: Vec<_> = members.iter().filter(|m| m.2.is_some()).collect();
        let (kind, name, request) = match present.as_slice() {
            [(kind, name, Some(request))] if get == (*kind == ItemKind::Get) => {
                (*kind, *name, request)
            }
            _ if get => return validation("TransactItems can only contain one of Get"),
            _ => {
                return validation(
                    "TransactItems can only contain one of Check, Put, Update or Delete",
                );
            }
        };
        request.check_members(kind, true)?;
        let member = format!("transactItems.{}.member.{name}.tableName", i + 1);
        out.push(item(kind, request, scope, schemas, Some(op), &member)?);
    }
    if let Some(rcc) = &r.return_consumed_capacity {
        for a in &mut out {
            a.context
                .insert("dynamodb:ReturnConsumedCapacity", rcc.as_str());
        }
    }
    Ok(out)
}

fn named(
    op: Operation,
    r: &request::NamedResources<'_>,
    scope: &Scope,
) -> Result<Vec<Authorization>, MapError> {
    if op.is_account_level() {
        return Ok(vec![plain(op, "*".to_owned())]);
    }
    // Every table or resource ARN the request names (source and target alike; fail
    // closed), else `*`.
    let mut resources: Vec<String> = Vec::new();
    let mut add = |arn: String| {
        if !resources.contains(&arn) {
            resources.push(arn);
        }
    };
    for (value, member) in [
        (&r.table_name, "tableName"),
        (&r.source_table_name, "sourceTableName"),
        (&r.target_table_name, "targetTableName"),
    ] {
        if let Some(v) = value {
            let mut arn = scope.table_arn(scope.table_ref(v.as_str(), member)?);
            if member == "tableName"
                && let Some(index) = &r.index_name
            {
                check_name(index.as_str(), "indexName")?;
                arn = format!("{arn}/index/{}", index.as_str());
            }
            add(arn);
        }
    }
    for (value, member) in [
        (&r.table_arn, "tableArn"),
        (&r.source_table_arn, "sourceTableArn"),
        (&r.resource_arn, "resourceArn"),
        (&r.backup_arn, "backupArn"),
        (&r.export_arn, "exportArn"),
        (&r.import_arn, "importArn"),
    ] {
        if let Some(v) = value {
            add(scope.resource_arn(v.as_str(), member)?);
        }
    }
    if let Some(name) = &r.global_table_name {
        check_name(name.as_str(), "globalTableName")?;
        add(scope.global_table_arn(name.as_str()));
    }
    if let Some(name) = r
        .table_creation_parameters
        .as_ref()
        .and_then(|p| p.table_name.as_ref())
    {
        let member = "tableCreationParameters.tableName";
        add(scope.table_arn(scope.table_ref(name.as_str(), member)?));
    }
    if resources.is_empty() {
        resources.push("*".to_owned());
    }
    Ok(resources.into_iter().map(|r| plain(op, r)).collect())
}

fn plain(op: Operation, resource: String) -> Authorization {
    Authorization {
        action: op.action(),
        resource,
        context: Context::new(),
        undetermined: Vec::new(),
    }
}

impl Request<'_> {
    /// The authorizations IAM evaluates for this request, in request order; never empty.
    /// `schemas` are the key schemas known for its tables ([`Request::schema_tables`]);
    /// without one, `dynamodb:LeadingKeys` is known only where the request alone shows it.
    pub fn authorizations(
        &self,
        scope: &Scope,
        schemas: &Schemas,
    ) -> Result<Vec<Authorization>, MapError> {
        match self {
            Request::Item(kind, r) => Ok(vec![item(*kind, r, scope, schemas, None, "tableName")?]),
            Request::Read(query, r) => Ok(vec![read(*query, r, scope, schemas)?]),
            Request::BatchGet(r) => batch_get(r, scope, schemas),
            Request::BatchWrite(r) => batch_write(r, scope, schemas),
            Request::Transact(get, r) => transact(*get, r, scope, schemas),
            Request::Other(op, r) => named(*op, r, scope),
        }
    }

    /// Tables whose key schema `dynamodb:LeadingKeys` needs (names of tables given as
    /// ARNs resolved; invalid names left out, the mapping refuses them).
    pub fn schema_tables(&self, scope: &Scope) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut add = |v: Option<&Str<'_>>| {
            if let Some(name) = v.and_then(|v| scope.table_ref(v.as_str(), "tableName").ok())
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_owned());
            }
        };
        match self {
            Request::Item(_, r) => add(r.table_name.as_ref()),
            Request::Read(true, r) => add(r.table_name.as_ref()),
            Request::BatchGet(r) => {
                for (t, _) in r.request_items.iter().flat_map(|m| &m.0) {
                    add(Some(t));
                }
            }
            Request::BatchWrite(r) => {
                for (t, _) in r.request_items.iter().flat_map(|m| &m.0) {
                    add(Some(t));
                }
            }
            Request::Transact(_, r) => {
                for t in r.transact_items.iter().flat_map(|l| &l.0) {
                    for e in [&t.get, &t.condition_check, &t.put, &t.delete, &t.update]
                        .into_iter()
                        .flatten()
                    {
                        add(e.table_name.as_ref());
                    }
                }
            }
            Request::Read(false, _) | Request::Other(..) => {}
        }
        names
    }
}

#[cfg(test)]
mod facts_tests {
    use super::{Facts, MAX_ATTRIBUTE_NAMES, SEEN_FROM};

    /// Distinct names in first-seen order, the way `Facts` must keep them.
    fn distinct(names: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for n in names {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
        out
    }

    #[test]
    fn attributes_are_distinct_in_order_below_and_above_the_set() {
        for count in [1, SEEN_FROM - 1, SEEN_FROM, SEEN_FROM + 1, 3 * SEEN_FROM] {
            // Each name twice, the repeats before, at and after the switch to a set.
            let names: Vec<String> = (0..count)
                .flat_map(|i| [format!("a{i}"), format!("a{}", i / 2)])
                .chain((0..count).map(|i| format!("a{i}")))
                .collect();
            let mut facts = Facts::default();
            facts.attributes(names.iter().map(String::as_str));
            assert_eq!(facts.attributes, distinct(&names), "{count}");
            assert!(!facts.attributes_unknown);
        }
    }

    #[test]
    fn too_many_attributes_are_undetermined() {
        let names: Vec<String> = (0..MAX_ATTRIBUTE_NAMES).map(|i| format!("n{i}")).collect();
        let mut facts = Facts::default();
        facts.attributes(names.iter().map(String::as_str));
        facts.attributes(names.iter().map(String::as_str));
        assert_eq!(facts.attributes.len(), MAX_ATTRIBUTE_NAMES);
        assert!(!facts.attributes_unknown, "repeats are not new names");
        facts.attribute("one more");
        assert!(facts.attributes_unknown);
        assert!(facts.attributes.is_empty());
        facts.attribute("n0");
        assert!(facts.attributes.is_empty());
    }
}
