//! DynamoDB request bodies as typed, borrowing structs.
//!
//! Each operation the gateway authorizes row by row (item operations, `Query`, `Scan`,
//! batches and transactions) is read into a struct that names every member of the
//! operation's input shape (botocore's `dynamodb` 2012-08-10 model) and refuses any other
//! (`deny_unknown_fields`): a member the gateway does not know could change what DynamoDB
//! executes, so it is not let through unexamined. Members that do not matter to IAM are
//! skipped without being materialised (`IgnoredAny`); attribute maps and lists are kept as
//! raw slices of the body and read only when the mapping needs them, each under a size
//! bound, so the memory a request needs is a small multiple of its body at most.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::{MapError, from_serde, validation};
use crate::expr::{self, Condition, Name, Path, Update};
use crate::json::{self, DUPLICATE_MEMBER, List, Members, Raw, Str};
use crate::operation::Operation;

/// Largest attribute map (`Item`, `Key`, `ExclusiveStartKey`) read, in bytes of JSON:
/// DynamoDB's items are at most 400 KB, which JSON escaping can inflate up to six times.
pub(crate) const MAX_ATTRIBUTE_MAP_BYTES: usize = 4 * 1024 * 1024;
/// Largest `ExpressionAttributeNames` plus `ExpressionAttributeValues`, in bytes of JSON
/// (DynamoDB: "The maximum size of all substitution variables in an expression is 2 MB").
pub(crate) const MAX_SUBSTITUTION_BYTES: usize = 2 * 1024 * 1024;
/// Most placeholders in `ExpressionAttributeNames` or `ExpressionAttributeValues`: more
/// than the expressions (4 KB each) could use, and unused ones are refused anyway.
pub(crate) const MAX_PLACEHOLDERS: usize = 10_000;
/// Most attributes in one attribute map.
pub(crate) const MAX_ATTRIBUTES: usize = 1_000_000;

/// An attribute map kept raw.
pub(crate) type AttributeMap<'a> = Members<'a, Raw<'a>, MAX_ATTRIBUTES>;

/// The members of an item operation (`GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`) and
/// of a transaction element (`Get`, `Put`, `Update`, `Delete`, `ConditionCheck`): the
/// union of their input shapes; [`ItemRequest::check_members`] refuses the members that
/// do not belong to the operation at hand.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ItemRequest<'a> {
    #[serde(borrow)]
    pub table_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub key: Option<Raw<'a>>,
    #[serde(borrow)]
    pub item: Option<Raw<'a>>,
    #[serde(borrow)]
    pub attributes_to_get: Option<Raw<'a>>,
    pub consistent_read: Option<IgnoredAny>,
    #[serde(borrow)]
    pub return_consumed_capacity: Option<Str<'a>>,
    #[serde(borrow)]
    pub projection_expression: Option<Str<'a>>,
    #[serde(borrow)]
    pub expression_attribute_names: Option<Raw<'a>>,
    #[serde(borrow)]
    pub expression_attribute_values: Option<Raw<'a>>,
    #[serde(borrow)]
    pub expected: Option<Raw<'a>>,
    #[serde(borrow)]
    pub return_values: Option<Str<'a>>,
    pub return_item_collection_metrics: Option<IgnoredAny>,
    pub conditional_operator: Option<IgnoredAny>,
    #[serde(borrow)]
    pub condition_expression: Option<Str<'a>>,
    pub return_values_on_condition_check_failure: Option<IgnoredAny>,
    #[serde(borrow)]
    pub attribute_updates: Option<Raw<'a>>,
    #[serde(borrow)]
    pub update_expression: Option<Str<'a>>,
}

/// What kind of item request an [`ItemRequest`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// `GetItem` or a `TransactGetItems` `Get`.
    Get,
    /// `PutItem` or a `Put`.
    Put,
    /// `UpdateItem` or an `Update`.
    Update,
    /// `DeleteItem` or a `Delete`.
    Delete,
    /// A `TransactWriteItems` `ConditionCheck`.
    ConditionCheck,
}

impl ItemKind {
    /// The IAM action's operation.
    pub fn action(self) -> &'static str {
        match self {
            ItemKind::Get => "dynamodb:GetItem",
            ItemKind::Put => "dynamodb:PutItem",
            ItemKind::Update => "dynamodb:UpdateItem",
            ItemKind::Delete => "dynamodb:DeleteItem",
            ItemKind::ConditionCheck => "dynamodb:ConditionCheckItem",
        }
    }
}

fn unknown_member(member: &str) -> MapError {
    MapError::Serialization(format!(
        "Unknown member `{member}` for this request: the gateway refuses members it does not authorize"
    ))
}

fn refuse_present(present: &[(&str, bool)]) -> Result<(), MapError> {
    match present.iter().find(|(_, p)| *p) {
        Some((name, _)) => Err(unknown_member(name)),
        None => Ok(()),
    }
}

impl ItemRequest<'_> {
    /// Refuses members that are not part of `kind`'s input shape (`in_transaction`: the
    /// element shapes of `TransactGetItems`/`TransactWriteItems`).
    pub fn check_members(&self, kind: ItemKind, in_transaction: bool) -> Result<(), MapError> {
        let r = self;
        let top_level_only = [
            ("ConsistentRead", r.consistent_read.is_some()),
            (
                "ReturnConsumedCapacity",
                r.return_consumed_capacity.is_some(),
            ),
            ("ReturnValues", r.return_values.is_some()),
            (
                "ReturnItemCollectionMetrics",
                r.return_item_collection_metrics.is_some(),
            ),
            ("Expected", r.expected.is_some()),
            ("ConditionalOperator", r.conditional_operator.is_some()),
            ("AttributesToGet", r.attributes_to_get.is_some()),
            ("AttributeUpdates", r.attribute_updates.is_some()),
        ];
        if in_transaction {
            refuse_present(&top_level_only)?;
        }
        let get = kind == ItemKind::Get;
        refuse_present(&[
            ("Item", kind != ItemKind::Put && r.item.is_some()),
            ("Key", kind == ItemKind::Put && r.key.is_some()),
            ("AttributesToGet", !get && r.attributes_to_get.is_some()),
            ("ConsistentRead", !get && r.consistent_read.is_some()),
            (
                "ProjectionExpression",
                !get && r.projection_expression.is_some(),
            ),
            (
                "ExpressionAttributeValues",
                get && r.expression_attribute_values.is_some(),
            ),
            ("Expected", get && r.expected.is_some()),
            ("ReturnValues", get && r.return_values.is_some()),
            (
                "ReturnItemCollectionMetrics",
                get && r.return_item_collection_metrics.is_some(),
            ),
            (
                "ConditionalOperator",
                get && r.conditional_operator.is_some(),
            ),
            (
                "ConditionExpression",
                get && r.condition_expression.is_some(),
            ),
            (
                "ReturnValuesOnConditionCheckFailure",
                get && r.return_values_on_condition_check_failure.is_some(),
            ),
            (
                "AttributeUpdates",
                kind != ItemKind::Update && r.attribute_updates.is_some(),
            ),
            (
                "UpdateExpression",
                kind != ItemKind::Update && r.update_expression.is_some(),
            ),
        ])
    }
}

/// The members of `Query` and `Scan`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ReadRequest<'a> {
    #[serde(borrow)]
    pub table_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub index_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub select: Option<Str<'a>>,
    #[serde(borrow)]
    pub attributes_to_get: Option<Raw<'a>>,
    pub limit: Option<IgnoredAny>,
    pub consistent_read: Option<IgnoredAny>,
    #[serde(borrow)]
    pub key_conditions: Option<Raw<'a>>,
    #[serde(borrow)]
    pub query_filter: Option<Raw<'a>>,
    #[serde(borrow)]
    pub scan_filter: Option<Raw<'a>>,
    pub conditional_operator: Option<IgnoredAny>,
    pub scan_index_forward: Option<IgnoredAny>,
    #[serde(borrow)]
    pub exclusive_start_key: Option<Raw<'a>>,
    #[serde(borrow)]
    pub return_consumed_capacity: Option<Str<'a>>,
    #[serde(borrow)]
    pub projection_expression: Option<Str<'a>>,
    #[serde(borrow)]
    pub filter_expression: Option<Str<'a>>,
    #[serde(borrow)]
    pub key_condition_expression: Option<Str<'a>>,
    #[serde(borrow)]
    pub expression_attribute_names: Option<Raw<'a>>,
    #[serde(borrow)]
    pub expression_attribute_values: Option<Raw<'a>>,
    pub total_segments: Option<IgnoredAny>,
    pub segment: Option<IgnoredAny>,
}

/// One table's keys in a `BatchGetItem`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct KeysAndAttributes<'a> {
    #[serde(borrow)]
    pub keys: Option<List<Raw<'a>, 100>>,
    #[serde(borrow)]
    pub attributes_to_get: Option<Raw<'a>>,
    pub consistent_read: Option<IgnoredAny>,
    #[serde(borrow)]
    pub projection_expression: Option<Str<'a>>,
    #[serde(borrow)]
    pub expression_attribute_names: Option<Raw<'a>>,
}

/// `BatchGetItem`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct BatchGetRequest<'a> {
    #[serde(borrow)]
    pub request_items: Option<Members<'a, KeysAndAttributes<'a>, 100>>,
    #[serde(borrow)]
    pub return_consumed_capacity: Option<Str<'a>>,
}

/// One `WriteRequest` of a `BatchWriteItem`: exactly one of its members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct WriteRequest<'a> {
    #[serde(borrow)]
    pub put_request: Option<PutRequest<'a>>,
    #[serde(borrow)]
    pub delete_request: Option<DeleteRequest<'a>>,
}

/// `PutRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PutRequest<'a> {
    #[serde(borrow)]
    pub item: Option<Raw<'a>>,
}

/// `DeleteRequest`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DeleteRequest<'a> {
    #[serde(borrow)]
    pub key: Option<Raw<'a>>,
}

/// `BatchWriteItem` (DynamoDB: at most 25 write requests in all).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct BatchWriteRequest<'a> {
    #[serde(borrow)]
    pub request_items: Option<Members<'a, List<WriteRequest<'a>, 25>, 25>>,
    #[serde(borrow)]
    pub return_consumed_capacity: Option<Str<'a>>,
    pub return_item_collection_metrics: Option<IgnoredAny>,
}

/// One element of `TransactItems`: exactly one of its members.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct TransactItem<'a> {
    #[serde(borrow)]
    pub get: Option<ItemRequest<'a>>,
    #[serde(borrow)]
    pub condition_check: Option<ItemRequest<'a>>,
    #[serde(borrow)]
    pub put: Option<ItemRequest<'a>>,
    #[serde(borrow)]
    pub delete: Option<ItemRequest<'a>>,
    #[serde(borrow)]
    pub update: Option<ItemRequest<'a>>,
}

/// `TransactGetItems` and `TransactWriteItems` (at most 100 elements).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct TransactRequest<'a> {
    #[serde(borrow)]
    pub transact_items: Option<List<TransactItem<'a>, 100>>,
    #[serde(borrow)]
    pub return_consumed_capacity: Option<Str<'a>>,
    pub return_item_collection_metrics: Option<IgnoredAny>,
    pub client_request_token: Option<IgnoredAny>,
}

/// The members of the other operations that name tables or table resources; other
/// members are skipped (these operations are authorized on the resources they name, not
/// row by row).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct NamedResources<'a> {
    #[serde(borrow)]
    pub table_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub index_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub source_table_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub target_table_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub table_arn: Option<Str<'a>>,
    #[serde(borrow)]
    pub source_table_arn: Option<Str<'a>>,
    #[serde(borrow)]
    pub resource_arn: Option<Str<'a>>,
    #[serde(borrow)]
    pub backup_arn: Option<Str<'a>>,
    #[serde(borrow)]
    pub export_arn: Option<Str<'a>>,
    #[serde(borrow)]
    pub import_arn: Option<Str<'a>>,
    #[serde(borrow)]
    pub global_table_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub table_creation_parameters: Option<TableCreationParameters<'a>>,
}

/// `ImportTable`'s `TableCreationParameters`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct TableCreationParameters<'a> {
    #[serde(borrow)]
    pub table_name: Option<Str<'a>>,
}

/// The members [`NamedResources`] reads: no other top-level member may equal one of them
/// up to ASCII case (a parser that matched names without regard to case would read it).
const NAMED_MEMBERS: &[&str] = &[
    "TableName",
    "IndexName",
    "SourceTableName",
    "TargetTableName",
    "TableArn",
    "SourceTableArn",
    "ResourceArn",
    "BackupArn",
    "ExportArn",
    "ImportArn",
    "GlobalTableName",
    "TableCreationParameters",
];

/// A parsed request body, borrowing from it.
#[derive(Debug)]
pub enum Request<'a> {
    /// `GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`.
    Item(ItemKind, Box<ItemRequest<'a>>),
    /// `Query` (`true`) or `Scan`.
    Read(bool, Box<ReadRequest<'a>>),
    /// `BatchGetItem`.
    BatchGet(BatchGetRequest<'a>),
    /// `BatchWriteItem`.
    BatchWrite(BatchWriteRequest<'a>),
    /// `TransactGetItems` (`true`) or `TransactWriteItems`.
    Transact(bool, TransactRequest<'a>),
    /// Any other operation.
    Other(Operation, Box<NamedResources<'a>>),
}

impl<'a> Request<'a> {
    /// Parses the body of `op`. An empty body counts as `{}`. The body must be one JSON
    /// object; a member named twice anywhere the mapping reads is refused.
    pub fn parse(op: Operation, body: &'a [u8]) -> Result<Request<'a>, MapError> {
        let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            body
        };
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(MapError::Serialization(
                "Start of structure or map found where not expected.".to_owned(),
            ));
        }
        fn de<'b, T: Deserialize<'b>>(body: &'b [u8]) -> Result<T, MapError> {
            serde_json::from_slice(body).map_err(|e| from_serde(&e))
        }
        use Operation as O;
        Ok(match op {
            O::GetItem | O::PutItem | O::UpdateItem | O::DeleteItem => {
                let kind = match op {
                    O::GetItem => ItemKind::Get,
                    O::PutItem => ItemKind::Put,
                    O::UpdateItem => ItemKind::Update,
                    _ => ItemKind::Delete,
                };
                let r: ItemRequest<'a> = de(body)?;
                r.check_members(kind, false)?;
                Request::Item(kind, Box::new(r))
            }
            O::Query | O::Scan => {
                let r: ReadRequest<'a> = de(body)?;
                let query = op == O::Query;
                if query {
                    refuse_present(&[
                        ("ScanFilter", r.scan_filter.is_some()),
                        ("TotalSegments", r.total_segments.is_some()),
                        ("Segment", r.segment.is_some()),
                    ])?;
                } else {
                    refuse_present(&[
                        ("KeyConditions", r.key_conditions.is_some()),
                        (
                            "KeyConditionExpression",
                            r.key_condition_expression.is_some(),
                        ),
                        ("QueryFilter", r.query_filter.is_some()),
                        ("ScanIndexForward", r.scan_index_forward.is_some()),
                    ])?;
                }
                Request::Read(query, Box::new(r))
            }
            O::BatchGetItem => Request::BatchGet(de(body)?),
            O::BatchWriteItem => Request::BatchWrite(de(body)?),
            O::TransactGetItems | O::TransactWriteItems => {
                let r: TransactRequest<'a> = de(body)?;
                if op == O::TransactGetItems {
                    refuse_present(&[
                        (
                            "ReturnItemCollectionMetrics",
                            r.return_item_collection_metrics.is_some(),
                        ),
                        ("ClientRequestToken", r.client_request_token.is_some()),
                    ])?;
                }
                Request::Transact(op == O::TransactGetItems, r)
            }
            _ => {
                check_member_case(body)?;
                Request::Other(op, Box::new(de(body)?))
            }
        })
    }
}

/// Refuses a top-level member that equals one of [`NAMED_MEMBERS`] but for ASCII case, or
/// one of them given twice. Streams the members; stores nothing.
fn check_member_case(body: &[u8]) -> Result<(), MapError> {
    struct Check;
    impl<'de> serde::de::Visitor<'de> for Check {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a structure")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = [false; NAMED_MEMBERS.len()];
            while let Some(key) = map.next_key::<Str<'de>>()? {
                let key = key.as_str();
                for (i, known) in NAMED_MEMBERS.iter().enumerate() {
                    if key.eq_ignore_ascii_case(known) {
                        if key != *known {
                            return Err(serde::de::Error::custom(format!(
                                "Unknown member `{key}`: member names are case-sensitive"
                            )));
                        }
                        if let Some(seen) = seen.get_mut(i)
                            && std::mem::replace(seen, true)
                        {
                            return Err(serde::de::Error::custom(DUPLICATE_MEMBER));
                        }
                    }
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }
    struct Root;
    impl<'de> Deserialize<'de> for Root {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Root, D::Error> {
            d.deserialize_map(Check).map(|()| Root)
        }
    }
    serde_json::from_slice::<Root>(body)
        .map(|_| ())
        .map_err(|e| from_serde(&e))
}

// ---------------------------------------------------------------------------------------
// Expressions and their placeholders

/// Which expression, for DynamoDB's `Invalid <Kind>: …` wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExprKind {
    /// `KeyConditionExpression`
    KeyCondition,
    /// `ConditionExpression`
    Condition,
    /// `FilterExpression`
    Filter,
    /// `ProjectionExpression`
    Projection,
    /// `UpdateExpression`
    Update,
}

impl ExprKind {
    fn member(self) -> &'static str {
        match self {
            ExprKind::KeyCondition => "KeyConditionExpression",
            ExprKind::Condition => "ConditionExpression",
            ExprKind::Filter => "FilterExpression",
            ExprKind::Projection => "ProjectionExpression",
            ExprKind::Update => "UpdateExpression",
        }
    }

    fn invalid(self, e: impl std::fmt::Display) -> MapError {
        MapError::Validation(format!("Invalid {}: {e}", self.member()))
    }
}

/// The `ExpressionAttributeNames` and `ExpressionAttributeValues` of one request (or
/// batch element), and which of them the expressions used.
pub(crate) struct Substitutions<'a> {
    names: Vec<(Str<'a>, Str<'a>)>,
    values: Vec<(Str<'a>, Raw<'a>)>,
    name_index: HashMap<&'a str, usize>,
    value_index: HashMap<&'a str, usize>,
    used_names: Vec<bool>,
    used_values: Vec<bool>,
}

fn placeholder_key(key: &str, sigil: char) -> bool {
    key.strip_prefix(sigil).is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// One of `ExpressionAttributeNames` (`sigil` `#`) or `ExpressionAttributeValues` (`:`),
/// checked as DynamoDB checks it: not empty, every key a placeholder.
fn placeholders<'a, V: serde::Deserialize<'a>>(
    raw: Option<Raw<'a>>,
    sigil: char,
    member: &str,
) -> Result<Vec<(Str<'a>, V)>, MapError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let m: Members<'a, V, MAX_PLACEHOLDERS> = json::parse(raw).map_err(|e| from_serde(&e))?;
    if m.is_empty() {
        return validation(format!("{member} must not be empty"));
    }
    if let Some((k, _)) =
        m.0.iter()
            .find(|(k, _)| !placeholder_key(k.as_str(), sigil))
    {
        return validation(format!(
            "{member} contains invalid key: Syntax error; key: \"{}\"",
            crate::scope::shown(k.as_str())
        ));
    }
    Ok(m.0)
}

/// Positions of the keys borrowed from the body; keys that carried escapes (owned) are
/// found by a scan instead.
fn index<'a, V>(entries: &[(Str<'a>, V)]) -> HashMap<&'a str, usize> {
    entries
        .iter()
        .enumerate()
        .filter_map(|(i, (k, _))| match &k.0 {
            std::borrow::Cow::Borrowed(s) => Some((*s, i)),
            std::borrow::Cow::Owned(_) => None,
        })
        .collect()
}

impl<'a> Substitutions<'a> {
    /// Reads and checks both maps.
    pub(crate) fn new(names: Option<Raw<'a>>, values: Option<Raw<'a>>) -> Result<Self, MapError> {
        let size = names.map_or(0, |r| r.get().len()) + values.map_or(0, |r| r.get().len());
        if size > MAX_SUBSTITUTION_BYTES {
            return validation(format!(
                "ExpressionAttributeNames and ExpressionAttributeValues exceed the maximum size of {MAX_SUBSTITUTION_BYTES} bytes"
            ));
        }
        let names: Vec<(Str<'a>, Str<'a>)> = placeholders(names, '#', "ExpressionAttributeNames")?;
        let values: Vec<(Str<'a>, Raw<'a>)> =
            placeholders(values, ':', "ExpressionAttributeValues")?;
        Ok(Substitutions {
            used_names: vec![false; names.len()],
            used_values: vec![false; values.len()],
            name_index: index(&names),
            value_index: index(&values),
            names,
            values,
        })
    }

    /// Whether the request gave `ExpressionAttributeNames`.
    pub(crate) fn has_names(&self) -> bool {
        !self.names.is_empty()
    }

    /// Whether the request gave `ExpressionAttributeValues`.
    pub(crate) fn has_values(&self) -> bool {
        !self.values.is_empty()
    }

    /// The attribute name `name` stands for.
    pub(crate) fn name(&mut self, name: &Name) -> Result<String, String> {
        match name {
            Name::Ident(s) => Ok(s.clone()),
            Name::Placeholder(p) => {
                let i = self.name_index.get(p.as_str()).copied().or_else(|| {
                    self.names
                        .iter()
                        .position(|(k, _)| k.as_str() == p.as_str())
                });
                match i {
                    Some(i) => {
                        if let Some(u) = self.used_names.get_mut(i) {
                            *u = true;
                        }
                        Ok(self
                            .names
                            .get(i)
                            .map(|(_, v)| v.as_str().to_owned())
                            .unwrap_or_default())
                    }
                    None => Err(format!(
                        "An expression attribute name used in the document path is not defined; attribute name: {p}"
                    )),
                }
            }
        }
    }

    /// The value `:placeholder` stands for.
    pub(crate) fn value(&mut self, placeholder: &str) -> Result<Raw<'a>, String> {
        let i = self.value_index.get(placeholder).copied().or_else(|| {
            self.values
                .iter()
                .position(|(k, _)| k.as_str() == placeholder)
        });
        match i {
            Some(i) => {
                if let Some(u) = self.used_values.get_mut(i) {
                    *u = true;
                }
                self.values.get(i).map(|(_, v)| *v).ok_or_else(String::new)
            }
            None => Err(format!(
                "An expression attribute value used in expression is not defined; attribute value: {placeholder}"
            )),
        }
    }

    /// Resolves every placeholder of a parsed expression and returns the top-level
    /// attribute names its paths start with.
    pub(crate) fn resolve(
        &mut self,
        kind: ExprKind,
        walk: impl FnOnce(&mut dyn FnMut(&Path), &mut dyn FnMut(&str)),
    ) -> Result<Vec<String>, MapError> {
        let mut heads = Vec::new();
        let mut error: Option<String> = None;
        let mut names: Vec<Name> = Vec::new();
        let mut values: Vec<String> = Vec::new();
        walk(
            &mut |p: &Path| {
                names.push(p.head.clone());
                for s in &p.steps {
                    if let expr::Step::Attr(n) = s {
                        names.push(n.clone());
                    }
                }
                heads.push(p.head.clone());
            },
            &mut |v: &str| values.push(v.to_owned()),
        );
        for n in &names {
            if let Err(e) = self.name(n) {
                error.get_or_insert(e);
            }
        }
        for v in &values {
            if let Err(e) = self.value(v) {
                error.get_or_insert(e);
            }
        }
        if let Some(e) = error {
            return Err(kind.invalid(e));
        }
        heads
            .iter()
            .map(|h| self.name(h).map_err(|e| kind.invalid(e)))
            .collect()
    }

    /// Refuses names or values no expression used, as DynamoDB does.
    pub(crate) fn finish(&self) -> Result<(), MapError> {
        let unused = |keys: Vec<&str>, what: &str| -> Result<(), MapError> {
            if keys.is_empty() {
                Ok(())
            } else {
                validation(format!(
                    "Value provided in {what} unused in expressions: keys: {{{}}}",
                    keys.join(", ")
                ))
            }
        };
        unused(
            self.names
                .iter()
                .zip(&self.used_names)
                .filter(|(_, u)| !**u)
                .map(|((k, _), _)| k.as_str())
                .collect(),
            "ExpressionAttributeNames",
        )?;
        unused(
            self.values
                .iter()
                .zip(&self.used_values)
                .filter(|(_, u)| !**u)
                .map(|((k, _), _)| k.as_str())
                .collect(),
            "ExpressionAttributeValues",
        )
    }
}

/// Parses a condition-like expression.
pub(crate) fn condition(kind: ExprKind, src: &str) -> Result<Condition, MapError> {
    expr::parse_condition(src).map_err(|e| kind.invalid(e))
}

/// Parses an update expression.
pub(crate) fn update(src: &str) -> Result<Update, MapError> {
    expr::parse_update(src).map_err(|e| ExprKind::Update.invalid(e))
}

/// Parses a projection expression.
pub(crate) fn projection(src: &str) -> Result<Vec<Path>, MapError> {
    expr::parse_projection(src).map_err(|e| ExprKind::Projection.invalid(e))
}

/// DynamoDB's rule that one request uses either expressions or the legacy parameters, and
/// names/values only with expressions: `expressions` and `legacy` are (member, present);
/// `value_expressions` are the expressions that may use `ExpressionAttributeValues`.
pub(crate) fn check_expression_params(
    expressions: &[(&str, bool)],
    legacy: &[(&str, bool)],
    value_expressions: &[(&str, bool)],
    has_names: bool,
    has_values: bool,
) -> Result<(), MapError> {
    let used: Vec<&str> = expressions.iter().filter(|e| e.1).map(|e| e.0).collect();
    let old: Vec<&str> = legacy.iter().filter(|e| e.1).map(|e| e.0).collect();
    if !used.is_empty() && !old.is_empty() {
        return validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            old.join(", "),
            used.join(", ")
        ));
    }
    if has_names && used.is_empty() {
        return validation("ExpressionAttributeNames can only be specified when using expressions");
    }
    if has_values && !value_expressions.iter().any(|e| e.1) {
        let names: Vec<&str> = value_expressions.iter().map(|e| e.0).collect();
        return validation(format!(
            "ExpressionAttributeValues can only be specified when using expressions: {} {} null",
            names.join(" and "),
            if names.len() > 1 { "are" } else { "is" }
        ));
    }
    Ok(())
}

/// An attribute map read from its raw JSON, under [`MAX_ATTRIBUTE_MAP_BYTES`].
pub(crate) fn attribute_map<'a>(raw: Raw<'a>, member: &str) -> Result<AttributeMap<'a>, MapError> {
    if raw.get().len() > MAX_ATTRIBUTE_MAP_BYTES {
        return validation(format!(
            "Item size has exceeded the maximum allowed size ({member})"
        ));
    }
    json::parse(raw).map_err(|e| from_serde(&e))
}

/// A list of attribute names (`AttributesToGet`), each once.
pub(crate) fn attribute_names<'a>(raw: Raw<'a>) -> Result<Vec<Str<'a>>, MapError> {
    let list: List<Str<'a>, { crate::map::MAX_ATTRIBUTE_NAMES }> =
        json::parse(raw).map_err(|e| from_serde(&e))?;
    let mut sorted: Vec<&str> = list.0.iter().map(Str::as_str).collect();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w.first() == w.get(1)) {
        return validation(format!(
            "One or more parameter values were invalid: Duplicate value in attribute name: {}",
            w.first().copied().unwrap_or_default()
        ));
    }
    Ok(list.0)
}

/// The attribute names of a legacy condition map (`Expected`, `QueryFilter`,
/// `ScanFilter`, `AttributeUpdates`).
pub(crate) fn legacy_names<'a>(raw: Raw<'a>) -> Result<Vec<Str<'a>>, MapError> {
    let m: Members<'a, IgnoredAny, { crate::map::MAX_ATTRIBUTE_NAMES }> =
        json::parse(raw).map_err(|e| from_serde(&e))?;
    Ok(m.0.into_iter().map(|(k, _)| k).collect())
}

/// A legacy `KeyConditions` entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub(crate) struct LegacyCondition<'a> {
    #[serde(borrow)]
    pub comparison_operator: Option<Str<'a>>,
    #[serde(borrow)]
    pub attribute_value_list: Option<List<Raw<'a>, 2>>,
}

/// `KeyConditions`.
pub(crate) fn key_conditions<'a>(
    raw: Raw<'a>,
) -> Result<Members<'a, LegacyCondition<'a>, 2>, MapError> {
    json::parse(raw)
        .map_err(|_| MapError::Validation("Conditions can be of length 1 or 2 only".to_owned()))
}
