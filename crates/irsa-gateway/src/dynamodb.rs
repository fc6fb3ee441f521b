//! DynamoDB requests → IAM authorization requests. Pure: no I/O, no clock.
//!
//! [`map_request`] turns an operation (`X-Amz-Target: DynamoDB_20120810.<Op>`) and its JSON
//! body into the [`Authorization`]s IAM evaluates: an action, a resource ARN and the
//! DynamoDB condition keys derivable from the request. All must be allowed.
//!
//! * Item and table operations are authorized on `table/NAME`; `Query`/`Scan` with an
//!   `IndexName` on `table/NAME/index/INDEX`.
//! * `BatchGetItem`/`BatchWriteItem` give one authorization per table, with their own action.
//! * `TransactGetItems`/`TransactWriteItems` are authorized per element with the underlying
//!   action (`GetItem`, `PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`) and
//!   `dynamodb:EnclosingOperation`, as AWS does (there is no `dynamodb:TransactWriteItems`
//!   IAM action).
//! * `ListTables` and the other account-level operations are authorized on `*`.
//! * Condition keys: `dynamodb:LeadingKeys` (partition key values, from the key schema),
//!   `dynamodb:Attributes` (top-level attribute names the request names: projections,
//!   written items, update targets, and key attributes of item-addressed operations),
//!   `dynamodb:Select`, `dynamodb:ReturnValues`, `dynamodb:ReturnConsumedCapacity`,
//!   `dynamodb:EnclosingOperation`.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use std::collections::HashMap;
use std::sync::Arc;

use irsa_policy::Context;
use serde_json::{Map, Value};

/// The `X-Amz-Target` prefix of DynamoDB's JSON protocol.
pub const TARGET_PREFIX: &str = "DynamoDB_20120810.";

/// Where the tables live: the parts of their ARNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `aws`, `aws-cn`, …
    pub partition: String,
    /// The region the gateway serves.
    pub region: String,
    /// The 12-digit account id.
    pub account: String,
}

impl Scope {
    /// `arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME`.
    pub fn table_arn(&self, table: &str) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{table}",
            self.partition, self.region, self.account
        )
    }

    /// `arn:PARTITION:dynamodb::ACCOUNT:global-table/NAME` (global tables have no region).
    pub fn global_table_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:dynamodb::{}:global-table/{name}",
            self.partition, self.account
        )
    }
}

/// A key schema: the partition (hash) key and the optional sort (range) key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema {
    /// The partition key attribute.
    pub partition_key: String,
    /// The sort key attribute.
    pub sort_key: Option<String>,
}

/// A table's key schema and those of its indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// The table's primary key.
    pub key: KeySchema,
    /// Global and local secondary indexes by name.
    pub indexes: HashMap<String, KeySchema>,
}

fn key_schema(elements: &Value) -> Option<KeySchema> {
    let mut partition_key = None;
    let mut sort_key = None;
    for e in elements.as_array()? {
        let name = e.get("AttributeName")?.as_str()?.to_owned();
        match e.get("KeyType")?.as_str()? {
            "HASH" => partition_key = Some(name),
            "RANGE" => sort_key = Some(name),
            _ => return None,
        }
    }
    Some(KeySchema {
        partition_key: partition_key?,
        sort_key,
    })
}

impl TableSchema {
    /// The schema from a `DescribeTable` response body (`{"Table": {...}}`).
    pub fn from_describe_table(response: &Value) -> Option<TableSchema> {
        let table = response.get("Table")?;
        let key = key_schema(table.get("KeySchema")?)?;
        let mut indexes = HashMap::new();
        for field in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
            for index in table
                .get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(name), Some(schema)) = (
                    index.get("IndexName").and_then(Value::as_str),
                    index.get("KeySchema").and_then(key_schema),
                ) else {
                    continue;
                };
                indexes.insert(name.to_owned(), schema);
            }
        }
        Some(TableSchema { key, indexes })
    }
}

/// Key schemas known for this request, by table name.
pub type Schemas = HashMap<String, Arc<TableSchema>>;

/// One IAM authorization request derived from a DynamoDB request.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// `dynamodb:<Action>`.
    pub action: String,
    /// The table or index ARN, or `*`.
    pub resource: String,
    /// The DynamoDB condition keys.
    pub context: Context,
}

/// A request that cannot be mapped; each is answered with DynamoDB's own error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// No or a foreign `X-Amz-Target`.
    #[error("{0}")]
    UnknownOperation(String),
    /// The body is not a JSON object.
    #[error("{0}")]
    Serialization(String),
    /// A required member is missing or of the wrong type (DynamoDB's wording).
    #[error("{0}")]
    Validation(String),
}

impl MapError {
    /// DynamoDB's error code (the `__type` suffix).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownOperation(_) => "UnknownOperationException",
            Self::Serialization(_) => "SerializationException",
            Self::Validation(_) => "ValidationException",
        }
    }
}

/// The operations of DynamoDB's `DynamoDB_20120810` API.
pub const OPERATIONS: &[&str] = &[
    "BatchExecuteStatement",
    "BatchGetItem",
    "BatchWriteItem",
    "CreateBackup",
    "CreateGlobalTable",
    "CreateTable",
    "DeleteBackup",
    "DeleteItem",
    "DeleteResourcePolicy",
    "DeleteTable",
    "DescribeBackup",
    "DescribeContinuousBackups",
    "DescribeContributorInsights",
    "DescribeEndpoints",
    "DescribeExport",
    "DescribeGlobalTable",
    "DescribeGlobalTableSettings",
    "DescribeImport",
    "DescribeKinesisStreamingDestination",
    "DescribeLimits",
    "DescribeTable",
    "DescribeTableReplicaAutoScaling",
    "DescribeTimeToLive",
    "DisableKinesisStreamingDestination",
    "EnableKinesisStreamingDestination",
    "ExecuteStatement",
    "ExecuteTransaction",
    "ExportTableToPointInTime",
    "GetItem",
    "GetResourcePolicy",
    "ImportTable",
    "ListBackups",
    "ListContributorInsights",
    "ListExports",
    "ListGlobalTables",
    "ListImports",
    "ListTables",
    "ListTagsOfResource",
    "PutItem",
    "PutResourcePolicy",
    "Query",
    "RestoreTableFromBackup",
    "RestoreTableToPointInTime",
    "Scan",
    "TagResource",
    "TransactGetItems",
    "TransactWriteItems",
    "UntagResource",
    "UpdateContinuousBackups",
    "UpdateContributorInsights",
    "UpdateGlobalTable",
    "UpdateGlobalTableSettings",
    "UpdateItem",
    "UpdateKinesisStreamingDestination",
    "UpdateTable",
    "UpdateTableReplicaAutoScaling",
    "UpdateTimeToLive",
];

/// The operation named by an `X-Amz-Target` header value: one of [`OPERATIONS`].
pub fn operation(target: Option<&str>) -> Result<&'static str, MapError> {
    let op = target.and_then(|t| t.strip_prefix(TARGET_PREFIX));
    op.and_then(|op| OPERATIONS.iter().find(|o| **o == op).copied())
        .ok_or_else(|| MapError::UnknownOperation(String::new()))
}

/// Parses a request body: a JSON object (an empty body counts as `{}`).
///
/// A member name given twice in one object is refused (`SerializationException`): JSON
/// parsers disagree on which of the two wins, and the gateway must authorize exactly what
/// the upstream will execute (`{"TableName": "Public", "TableName": "Secret"}`).
pub fn parse_body(body: &[u8]) -> Result<Value, MapError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let value = match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return Err(MapError::Serialization(
                "Start of structure or map found where not expected.".to_owned(),
            ));
        }
        Err(_) => {
            return Err(MapError::Serialization(
                "Unexpected character found while parsing the request body.".to_owned(),
            ));
        }
    };
    if let Err(e) = serde_json::from_slice::<NoDuplicates>(body) {
        return Err(MapError::Serialization(e.to_string()));
    }
    Ok(value)
}

/// Deserializes any JSON, failing on an object that names a member twice.
struct NoDuplicates;

impl<'de> serde::Deserialize<'de> for NoDuplicates {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> serde::de::Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicates, A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicates, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<NoDuplicates>()?;
            if !seen.insert(key) {
                return Err(serde::de::Error::custom(
                    "Duplicate member name found in a structure or map.",
                ));
            }
        }
        Ok(NoDuplicates)
    }
}

/// Table names whose key schema [`map_request`] uses to derive `dynamodb:LeadingKeys`, for
/// a request [`map_request`] accepted (names of tables given as ARNs are resolved).
pub fn schema_tables(op: &str, body: &Value, scope: &Scope) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(name) = v
            .and_then(Value::as_str)
            .and_then(|v| table_ref(scope, v, "tableName").ok())
            && !names.iter().any(|n| n == name)
        {
            names.push(name.to_owned());
        }
    };
    match op {
        "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" | "Query" => add(body.get("TableName")),
        "BatchGetItem" | "BatchWriteItem" => {
            if let Some(items) = body.get("RequestItems").and_then(Value::as_object) {
                for name in items.keys() {
                    add(Some(&Value::String(name.clone())));
                }
            }
        }
        "TransactGetItems" | "TransactWriteItems" => {
            for item in body
                .get("TransactItems")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Ok((_, inner)) = transact_element(op, item) {
                    add(inner.get("TableName"));
                }
            }
        }
        _ => {}
    }
    names
}

/// The one member of a `TransactItems` element: its kind (`Get`, `Put`, …) and request.
/// An element naming no or several members (or an unknown one) is refused, as DynamoDB
/// does: authorizing one member while the upstream executes another would be a bypass.
fn transact_element<'a>(op: &str, item: &'a Value) -> Result<(&'a str, &'a Value), MapError> {
    let allowed: &[&str] = if op == "TransactGetItems" {
        &["Get"]
    } else {
        &["ConditionCheck", "Put", "Update", "Delete"]
    };
    let only = item
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next());
    match only {
        Some((kind, request)) if allowed.contains(&kind.as_str()) && request.is_object() => {
            Ok((kind.as_str(), request))
        }
        _ if op == "TransactGetItems" => Err(MapError::Validation(
            "TransactItems can only contain one of Get".to_owned(),
        )),
        _ => Err(MapError::Validation(
            "TransactItems can only contain one of Check, Put, Update or Delete".to_owned(),
        )),
    }
}

/// A value quoted in a validation message, shortened when long.
fn shown(value: &str) -> String {
    const MAX: usize = 256;
    if value.len() <= MAX {
        return value.to_owned();
    }
    let mut end = MAX;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", value.get(..end).unwrap_or_default())
}

/// Checks a table or index name: 3 to 255 characters of `[a-zA-Z0-9_.-]`, in DynamoDB's
/// wording.
fn check_name(value: &str, member: &str) -> Result<(), MapError> {
    let constraint = if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    } else if value.len() < 3 {
        "Member must have length greater than or equal to 3"
    } else if value.len() > 255 {
        "Member must have length less than or equal to 255"
    } else {
        return Ok(());
    };
    Err(MapError::Validation(format!(
        "1 validation error detected: Value '{}' at '{member}' failed to satisfy constraint: {constraint}",
        shown(value)
    )))
}

fn valid_name(value: &str) -> bool {
    check_name(value, "").is_ok()
}

fn foreign_arn(scope: &Scope, value: &str, member: &str) -> MapError {
    MapError::Validation(format!(
        "Invalid {member}: '{}' is not the ARN of a DynamoDB table or table resource in partition {}, region {} and account {}",
        shown(value),
        scope.partition,
        scope.region,
        scope.account
    ))
}

/// The resource part of a DynamoDB ARN of this scope (`table/…`): the partition, region
/// and account must be the gateway's, else a table of another region or account would be
/// authorized as written while the policies name this one.
fn scoped_resource<'a>(scope: &Scope, value: &'a str, member: &str) -> Result<&'a str, MapError> {
    let mut it = value.splitn(6, ':');
    match (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    ) {
        (Some("arn"), Some(p), Some("dynamodb"), Some(r), Some(a), Some(resource))
            if p == scope.partition && r == scope.region && a == scope.account =>
        {
            Ok(resource)
        }
        _ => Err(foreign_arn(scope, value, member)),
    }
}

/// The table a `TableName` value names: a table name, or the ARN of a table of this scope
/// (`arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME`, nothing after the name).
fn table_ref<'a>(scope: &Scope, value: &'a str, member: &str) -> Result<&'a str, MapError> {
    if value.starts_with("arn:") {
        match scoped_resource(scope, value, member)?.strip_prefix("table/") {
            Some(name) if valid_name(name) => Ok(name),
            _ => Err(foreign_arn(scope, value, member)),
        }
    } else {
        check_name(value, member)?;
        Ok(value)
    }
}

/// An ARN-valued member (`ResourceArn`, `BackupArn`, `StreamArn`, …): a table of this scope
/// or one of its indexes, backups, streams, exports or imports.
fn resource_arn(scope: &Scope, value: &str, member: &str) -> Result<String, MapError> {
    let resource = scoped_resource(scope, value, member)?;
    let mut parts = resource.split('/');
    let id_ok = |id: &str| {
        !id.is_empty()
            && id.len() <= 255
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-:".contains(&b))
    };
    let ok = match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("table"), Some(name), None, None, None) => valid_name(name),
        (Some("table"), Some(name), Some(kind), Some(id), None) => {
            valid_name(name)
                && ["index", "backup", "stream", "export", "import"].contains(&kind)
                && id_ok(id)
        }
        _ => false,
    };
    if ok {
        Ok(value.to_owned())
    } else {
        Err(foreign_arn(scope, value, member))
    }
}

fn null_member(member: &str) -> MapError {
    MapError::Validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
    ))
}

fn required_str<'a>(obj: &'a Value, field: &str, member: &str) -> Result<&'a str, MapError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(null_member(member)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(MapError::Serialization(format!(
            "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String (member `{field}`)"
        ))),
    }
}

fn optional_str<'a>(obj: &'a Value, field: &str) -> Result<Option<&'a str>, MapError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => required_str(obj, field, field).map(Some),
    }
}

/// Fields naming tables (by name or table ARN) and fields holding resource ARNs, on
/// operations not mapped one by one: each one present is authorized. (`StreamArn` of the
/// Kinesis streaming destination operations is a Kinesis stream, not a DynamoDB resource:
/// those operations are authorized on their `TableName`.)
const TABLE_NAME_FIELDS: &[(&str, &str)] = &[
    ("TableName", "tableName"),
    ("SourceTableName", "sourceTableName"),
    ("TargetTableName", "targetTableName"),
];
const ARN_FIELDS: &[(&str, &str)] = &[
    ("TableArn", "tableArn"),
    ("SourceTableArn", "sourceTableArn"),
    ("ResourceArn", "resourceArn"),
    ("BackupArn", "backupArn"),
    ("ExportArn", "exportArn"),
    ("ImportArn", "importArn"),
];

/// Accumulates condition values in order, without duplicates.
#[derive(Default)]
struct Keys {
    leading: Vec<String>,
    attributes: Vec<String>,
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}

/// The string form of a key attribute value (`S`, `N` or `B`).
fn key_value(av: &Value) -> Option<&str> {
    let obj = av.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let (t, v) = obj.iter().next()?;
    match t.as_str() {
        "S" | "N" | "B" => v.as_str(),
        _ => None,
    }
}

impl Keys {
    /// The partition key value of an item or key map. Without a schema, a key map of a
    /// single attribute is unambiguous.
    fn leading_from(&mut self, item: Option<&Value>, schema: Option<&KeySchema>) {
        let Some(map) = item.and_then(Value::as_object) else {
            return;
        };
        let value = match schema {
            Some(s) => map.get(&s.partition_key).and_then(key_value),
            None if map.len() == 1 => map.values().next().and_then(key_value),
            None => None,
        };
        if let Some(v) = value {
            push_unique(&mut self.leading, v);
        }
    }

    fn attribute_names_of(&mut self, item: Option<&Value>) {
        for name in item
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(Map::keys)
        {
            push_unique(&mut self.attributes, name);
        }
    }

    fn attribute_list(&mut self, list: Option<&Value>) {
        for name in list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            push_unique(&mut self.attributes, name);
        }
    }

    fn projection(&mut self, request: &Value) {
        if let Some(expr) = request.get("ProjectionExpression").and_then(Value::as_str) {
            let names = request.get("ExpressionAttributeNames");
            for path in split_top_level(&tokenize(expr), ",") {
                if let Some(name) = path.first().and_then(|t| t.name(names)) {
                    push_unique(&mut self.attributes, name);
                }
            }
        }
        self.attribute_list(request.get("AttributesToGet"));
    }

    fn into_context(self, context: &mut Context) {
        if !self.leading.is_empty() {
            context.insert_multi("dynamodb:LeadingKeys", self.leading);
        }
        if !self.attributes.is_empty() {
            context.insert_multi("dynamodb:Attributes", self.attributes);
        }
    }
}

fn has_projection(request: &Value) -> bool {
    request
        .get("ProjectionExpression")
        .is_some_and(|v| !v.is_null())
        || request
            .get("AttributesToGet")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
}

/// `dynamodb:Select`: the request's `Select`, else DynamoDB's default for it.
fn select_value(request: &Value, index: bool) -> String {
    if let Some(s) = request.get("Select").and_then(Value::as_str) {
        return s.to_owned();
    }
    if has_projection(request) {
        "SPECIFIC_ATTRIBUTES".to_owned()
    } else if index {
        "ALL_PROJECTED_ATTRIBUTES".to_owned()
    } else {
        "ALL_ATTRIBUTES".to_owned()
    }
}

fn common_keys(request: &Value, context: &mut Context) {
    if let Some(v) = request
        .get("ReturnConsumedCapacity")
        .and_then(Value::as_str)
    {
        context.insert("dynamodb:ReturnConsumedCapacity", v);
    }
}

fn return_values(request: &Value, context: &mut Context) {
    let v = request
        .get("ReturnValues")
        .and_then(Value::as_str)
        .unwrap_or("NONE");
    context.insert("dynamodb:ReturnValues", v);
}

fn schema_for<'a>(schemas: &'a Schemas, table: &str) -> Option<&'a TableSchema> {
    schemas.get(table).map(Arc::as_ref)
}

/// The message DynamoDB answers for a `WriteRequest` that is not exactly one of
/// `PutRequest` and `DeleteRequest`.
const ONE_WRITE_REQUEST: &str = "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes";

fn empty_collection(value: &str, member: &str) -> MapError {
    MapError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must have length greater than or equal to 1"
    ))
}

/// Maps `op` with `body` to the authorizations IAM evaluates, in request order. Never
/// empty: a request that names nothing to authorize is refused with DynamoDB's
/// `ValidationException`.
///
/// Table names may be given as table ARNs, which must be of `scope` (partition, region
/// and account); every resource is authorized by its canonical ARN.
pub fn map_request(
    op: &str,
    body: &Value,
    scope: &Scope,
    schemas: &Schemas,
) -> Result<Vec<Authorization>, MapError> {
    let action = format!("dynamodb:{op}");
    let single = |resource: String, context: Context| {
        Ok(vec![Authorization {
            action: action.clone(),
            resource,
            context,
        }])
    };
    match op {
        "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" => {
            let table = table_ref(
                scope,
                required_str(body, "TableName", "tableName")?,
                "tableName",
            )?;
            let mut context = Context::new();
            item_keys(op, body, schema_for(schemas, table), &mut context);
            common_keys(body, &mut context);
            single(scope.table_arn(table), context)
        }
        "Query" | "Scan" => {
            let table = table_ref(
                scope,
                required_str(body, "TableName", "tableName")?,
                "tableName",
            )?;
            let index = optional_str(body, "IndexName")?;
            let mut resource = scope.table_arn(table);
            if let Some(index) = index {
                check_name(index, "indexName")?;
                resource = format!("{resource}/index/{index}");
            }
            let mut context = Context::new();
            let mut keys = Keys::default();
            if op == "Query" {
                let schema = schema_for(schemas, table).and_then(|s| match index {
                    Some(i) => s.indexes.get(i),
                    None => Some(&s.key),
                });
                keys.leading = query_leading_keys(body, schema);
            }
            keys.projection(body);
            keys.into_context(&mut context);
            context.insert("dynamodb:Select", select_value(body, index.is_some()));
            common_keys(body, &mut context);
            single(resource, context)
        }
        "BatchGetItem" | "BatchWriteItem" => {
            let Some(items) = body.get("RequestItems").and_then(Value::as_object) else {
                return Err(null_member("requestItems"));
            };
            if items.is_empty() {
                return Err(empty_collection("{}", "requestItems"));
            }
            let mut out = Vec::with_capacity(items.len());
            for (table, request) in items {
                let table = table_ref(scope, table, "requestItems")?;
                let schema = schema_for(schemas, table).map(|s| &s.key);
                let mut context = Context::new();
                let mut keys = Keys::default();
                if op == "BatchGetItem" {
                    for key in request
                        .get("Keys")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        keys.leading_from(Some(key), schema);
                        keys.attribute_names_of(Some(key));
                    }
                    keys.projection(request);
                    context.insert("dynamodb:Select", select_value(request, false));
                } else {
                    let Some(writes) = request.as_array() else {
                        return Err(MapError::Serialization(
                            "Start of list found where not expected.".to_owned(),
                        ));
                    };
                    for write in writes {
                        let only = write
                            .as_object()
                            .filter(|o| o.len() == 1)
                            .and_then(|o| o.iter().next());
                        let item = match only {
                            Some((kind, r)) if kind == "PutRequest" => r.get("Item"),
                            Some((kind, r)) if kind == "DeleteRequest" => r.get("Key"),
                            _ => return Err(MapError::Validation(ONE_WRITE_REQUEST.to_owned())),
                        };
                        keys.leading_from(item, schema);
                        keys.attribute_names_of(item);
                    }
                }
                keys.into_context(&mut context);
                common_keys(body, &mut context);
                out.push(Authorization {
                    action: action.clone(),
                    resource: scope.table_arn(table),
                    context,
                });
            }
            Ok(out)
        }
        "TransactGetItems" | "TransactWriteItems" => {
            let Some(items) = body.get("TransactItems").and_then(Value::as_array) else {
                return Err(null_member("transactItems"));
            };
            if items.is_empty() {
                return Err(empty_collection("[]", "transactItems"));
            }
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let (kind, request) = transact_element(op, item)?;
                let inner = match kind {
                    "Get" => "GetItem",
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    _ => "ConditionCheckItem",
                };
                let member = format!(
                    "transactItems.{}.member.{}.tableName",
                    i + 1,
                    lower_first(kind)
                );
                let table =
                    table_ref(scope, required_str(request, "TableName", &member)?, &member)?;
                let mut context = Context::new();
                item_keys(inner, request, schema_for(schemas, table), &mut context);
                context.insert("dynamodb:EnclosingOperation", op);
                common_keys(body, &mut context);
                out.push(Authorization {
                    action: format!("dynamodb:{inner}"),
                    resource: scope.table_arn(table),
                    context,
                });
            }
            Ok(out)
        }
        "ListTables"
        | "DescribeLimits"
        | "DescribeEndpoints"
        | "ListBackups"
        | "ListGlobalTables"
        | "ListExports"
        | "ListImports"
        | "ListContributorInsights"
        | "DescribeReservedCapacity"
        | "DescribeReservedCapacityOfferings" => single("*".to_owned(), Context::new()),
        _ => {
            // Table-level and other operations: every table or resource ARN the request
            // names (source and target alike; fail closed), else `*`.
            let mut resources: Vec<String> = Vec::new();
            for (field, member) in TABLE_NAME_FIELDS {
                if let Some(value) = optional_str(body, field)? {
                    let mut arn = scope.table_arn(table_ref(scope, value, member)?);
                    if *field == "TableName"
                        && let Some(index) = optional_str(body, "IndexName")?
                    {
                        check_name(index, "indexName")?;
                        arn = format!("{arn}/index/{index}");
                    }
                    push_unique(&mut resources, &arn);
                }
            }
            for (field, member) in ARN_FIELDS {
                if let Some(value) = optional_str(body, field)? {
                    push_unique(&mut resources, &resource_arn(scope, value, member)?);
                }
            }
            if let Some(name) = optional_str(body, "GlobalTableName")? {
                check_name(name, "globalTableName")?;
                push_unique(&mut resources, &scope.global_table_arn(name));
            }
            if let Some(params) = body.get("TableCreationParameters")
                && let Some(name) = optional_str(params, "TableName")?
            {
                let member = "tableCreationParameters.tableName";
                push_unique(
                    &mut resources,
                    &scope.table_arn(table_ref(scope, name, member)?),
                );
            }
            if resources.is_empty() {
                resources.push("*".to_owned());
            }
            Ok(resources
                .into_iter()
                .map(|resource| Authorization {
                    action: action.clone(),
                    resource,
                    context: Context::new(),
                })
                .collect())
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// Condition keys of a single-item operation (also a transaction element).
fn item_keys(op: &str, request: &Value, schema: Option<&TableSchema>, context: &mut Context) {
    let schema = schema.map(|s| &s.key);
    let mut keys = Keys::default();
    match op {
        "PutItem" => {
            keys.leading_from(request.get("Item"), schema);
            keys.attribute_names_of(request.get("Item"));
        }
        _ => {
            keys.leading_from(request.get("Key"), schema);
            keys.attribute_names_of(request.get("Key"));
        }
    }
    match op {
        "GetItem" => {
            keys.projection(request);
            context.insert("dynamodb:Select", select_value(request, false));
        }
        "UpdateItem" => {
            if let Some(expr) = request.get("UpdateExpression").and_then(Value::as_str) {
                let names = request.get("ExpressionAttributeNames");
                for name in update_targets(expr, names) {
                    push_unique(&mut keys.attributes, &name);
                }
            }
            keys.attribute_names_of(request.get("AttributeUpdates"));
        }
        _ => {}
    }
    if matches!(op, "PutItem" | "UpdateItem" | "DeleteItem") {
        return_values(request, context);
    }
    keys.into_context(context);
}

/// The partition key values a `Query` names: the equality on the partition key in
/// `KeyConditionExpression` (or legacy `KeyConditions`). Without a schema, a single equality.
fn query_leading_keys(request: &Value, schema: Option<&KeySchema>) -> Vec<String> {
    let mut equalities: Vec<(String, String)> = Vec::new();
    if let Some(expr) = request
        .get("KeyConditionExpression")
        .and_then(Value::as_str)
    {
        let names = request.get("ExpressionAttributeNames");
        let values = request.get("ExpressionAttributeValues");
        for conjunct in split_conjuncts(&tokenize(expr)) {
            let inner = strip_parens(&conjunct);
            let (lhs, rhs) = match inner {
                [a, Token::Punct(p), b] if p == "=" => (a, b),
                _ => continue,
            };
            let (attr, value) = match (lhs, rhs) {
                (Token::Value(v), other) | (other, Token::Value(v)) => (other.name(names), v),
                _ => continue,
            };
            let value = values
                .and_then(|vs| vs.get(value.as_str()))
                .and_then(key_value);
            if let (Some(attr), Some(value)) = (attr, value) {
                equalities.push((attr.to_owned(), value.to_owned()));
            }
        }
    } else if let Some(conditions) = request.get("KeyConditions").and_then(Value::as_object) {
        for (attr, cond) in conditions {
            if cond.get("ComparisonOperator").and_then(Value::as_str) == Some("EQ")
                && let Some(v) = cond
                    .get("AttributeValueList")
                    .and_then(Value::as_array)
                    .and_then(|l| l.first())
                    .and_then(key_value)
            {
                equalities.push((attr.clone(), v.to_owned()));
            }
        }
    }
    match schema {
        Some(s) => equalities
            .into_iter()
            .filter(|(a, _)| *a == s.partition_key)
            .map(|(_, v)| v)
            .take(1)
            .collect(),
        None if equalities.len() == 1 => equalities.into_iter().map(|(_, v)| v).collect(),
        None => Vec::new(),
    }
}

/// Top-level attribute names an `UpdateExpression` writes or removes.
fn update_targets(expr: &str, names: Option<&Value>) -> Vec<String> {
    let tokens = tokenize(expr);
    let mut out = Vec::new();
    let mut action_start = false;
    let mut depth = 0usize;
    for t in &tokens {
        match t {
            Token::Punct(p) if p == "(" || p == "[" => depth += 1,
            Token::Punct(p) if p == ")" || p == "]" => depth = depth.saturating_sub(1),
            Token::Punct(p) if p == "," && depth == 0 => action_start = true,
            Token::Name(n)
                if depth == 0
                    && ["SET", "REMOVE", "ADD", "DELETE"]
                        .iter()
                        .any(|k| n.eq_ignore_ascii_case(k)) =>
            {
                action_start = true;
            }
            _ if action_start => {
                action_start = false;
                if let Some(name) = t.name(names) {
                    push_unique(&mut out, name);
                }
            }
            _ => {}
        }
    }
    out
}

/// An expression token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An attribute name, `#placeholder` or keyword.
    Name(String),
    /// A `:value` placeholder.
    Value(String),
    /// A number (list index).
    Number(String),
    /// Punctuation: `( ) [ ] , . = < > <= >= <>`.
    Punct(String),
}

impl Token {
    /// The attribute name this token stands for (placeholders resolved).
    fn name<'a>(&'a self, names: Option<&'a Value>) -> Option<&'a str> {
        match self {
            Token::Name(n) if n.starts_with('#') => names
                .and_then(|m| m.get(n.as_str()))
                .and_then(Value::as_str)
                .or(Some(n.as_str())),
            Token::Name(n) => Some(n),
            _ => None,
        }
    }
}

fn tokenize(expr: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == '#' || c == ':' || c.is_alphabetic() || c == '_' {
            i += 1;
            while chars.get(i).is_some_and(|&c| word(c)) {
                i += 1;
            }
            let text: String = chars.get(start..i).unwrap_or_default().iter().collect();
            out.push(if c == ':' {
                Token::Value(text)
            } else {
                Token::Name(text)
            });
        } else if c.is_ascii_digit() {
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            out.push(Token::Number(
                chars.get(start..i).unwrap_or_default().iter().collect(),
            ));
        } else {
            let two: String = chars.get(i..i + 2).unwrap_or_default().iter().collect();
            if ["<=", ">=", "<>"].contains(&two.as_str()) {
                out.push(Token::Punct(two));
                i += 2;
            } else {
                out.push(Token::Punct(c.to_string()));
                i += 1;
            }
        }
    }
    out
}

/// Splits at `sep` outside parentheses and brackets.
fn split_top_level(tokens: &[Token], sep: &str) -> Vec<Vec<Token>> {
    let mut parts = vec![Vec::new()];
    let mut depth = 0usize;
    for t in tokens {
        match t {
            Token::Punct(p) if p == "(" || p == "[" => depth += 1,
            Token::Punct(p) if p == ")" || p == "]" => depth = depth.saturating_sub(1),
            Token::Punct(p) if p == sep && depth == 0 => {
                parts.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = parts.last_mut() {
            last.push(t.clone());
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

/// Splits a key condition at top-level `AND`s (the `AND` of `BETWEEN a AND b` excluded).
fn split_conjuncts(tokens: &[Token]) -> Vec<Vec<Token>> {
    let mut parts = vec![Vec::new()];
    let mut depth = 0usize;
    let mut between = false;
    for t in tokens {
        match t {
            Token::Punct(p) if p == "(" => depth += 1,
            Token::Punct(p) if p == ")" => depth = depth.saturating_sub(1),
            Token::Name(n) if n.eq_ignore_ascii_case("BETWEEN") => between = true,
            Token::Name(n) if n.eq_ignore_ascii_case("AND") && depth == 0 => {
                if between {
                    between = false;
                } else {
                    parts.push(Vec::new());
                    continue;
                }
            }
            _ => {}
        }
        if let Some(last) = parts.last_mut() {
            last.push(t.clone());
        }
    }
    parts
}

fn strip_parens(mut tokens: &[Token]) -> &[Token] {
    while let [Token::Punct(open), inner @ .., Token::Punct(close)] = tokens
        && open == "("
        && close == ")"
    {
        tokens = inner;
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        Scope {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "111122223333".into(),
        }
    }

    fn schemas() -> Schemas {
        let describe = json!({"Table": {
            "TableName": "Books",
            "KeySchema": [{"AttributeName": "Author", "KeyType": "HASH"},
                          {"AttributeName": "Title", "KeyType": "RANGE"}],
            "GlobalSecondaryIndexes": [{"IndexName": "ByGenre", "KeySchema": [
                {"AttributeName": "Genre", "KeyType": "HASH"}]}],
            "LocalSecondaryIndexes": [{"IndexName": "ByYear", "KeySchema": [
                {"AttributeName": "Author", "KeyType": "HASH"},
                {"AttributeName": "Year", "KeyType": "RANGE"}]}]
        }});
        let mut m = Schemas::new();
        m.insert(
            "Books".into(),
            Arc::new(TableSchema::from_describe_table(&describe).unwrap()),
        );
        m
    }

    fn map(op: &str, body: Value) -> Vec<Authorization> {
        map_request(op, &body, &scope(), &schemas()).unwrap()
    }

    fn values(a: &Authorization, key: &str) -> Option<Vec<String>> {
        a.context.get(key).map(|v| v.values().to_vec())
    }

    const BOOKS: &str = "arn:aws:dynamodb:us-east-1:111122223333:table/Books";

    #[test]
    fn target_header() {
        assert_eq!(operation(Some("DynamoDB_20120810.GetItem")), Ok("GetItem"));
        for bad in [
            None,
            Some(""),
            Some("DynamoDB_20120810."),
            Some("DynamoDBStreams_20120810.GetRecords"),
            Some("DynamoDB_20120810.Get Item"),
            Some("DynamoDB_20120810.NoSuchThing"),
            Some("dynamodb_20120810.GetItem"),
        ] {
            assert_eq!(
                operation(bad).unwrap_err().code(),
                "UnknownOperationException",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn body_parsing() {
        assert_eq!(parse_body(b"").unwrap(), json!({}));
        assert_eq!(parse_body(b" {\"a\":1} ").unwrap(), json!({"a": 1}));
        assert_eq!(
            parse_body(b"[1]").unwrap_err().code(),
            "SerializationException"
        );
        assert_eq!(
            parse_body(b"{").unwrap_err().code(),
            "SerializationException"
        );
    }

    #[test]
    fn describe_table_schema() {
        let s = schemas();
        let books = s.get("Books").unwrap();
        assert_eq!(books.key.partition_key, "Author");
        assert_eq!(books.key.sort_key.as_deref(), Some("Title"));
        assert_eq!(books.indexes["ByGenre"].partition_key, "Genre");
        assert_eq!(books.indexes["ByYear"].sort_key.as_deref(), Some("Year"));
        assert!(TableSchema::from_describe_table(&json!({"Table": {}})).is_none());
        assert!(
            TableSchema::from_describe_table(&json!({"Table": {"KeySchema": [
                {"AttributeName": "x", "KeyType": "RANGE"}]}}))
            .is_none(),
            "no partition key"
        );
    }

    #[test]
    fn get_item() {
        let a = map(
            "GetItem",
            json!({"TableName": "Books",
                   "Key": {"Author": {"S": "Tolkien"}, "Title": {"S": "The Hobbit"}},
                   "ProjectionExpression": "#t, Pages, Reviews[0].Stars, Meta.Isbn",
                   "ExpressionAttributeNames": {"#t": "Title"}}),
        );
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].action, "dynamodb:GetItem");
        assert_eq!(a[0].resource, BOOKS);
        assert_eq!(
            values(&a[0], "dynamodb:LeadingKeys").unwrap(),
            vec!["Tolkien"]
        );
        assert_eq!(
            values(&a[0], "dynamodb:Attributes").unwrap(),
            vec!["Author", "Title", "Pages", "Reviews", "Meta"]
        );
        assert_eq!(
            values(&a[0], "dynamodb:Select").unwrap(),
            vec!["SPECIFIC_ATTRIBUTES"]
        );
        assert!(values(&a[0], "dynamodb:ReturnValues").is_none());

        let a = map(
            "GetItem",
            json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "B"}}}),
        );
        assert_eq!(
            values(&a[0], "dynamodb:Select").unwrap(),
            vec!["ALL_ATTRIBUTES"]
        );
        assert_eq!(
            values(&a[0], "dynamodb:Attributes").unwrap(),
            vec!["Author", "Title"]
        );
    }

    #[test]
    fn leading_keys_need_the_schema_unless_unambiguous() {
        let none = Schemas::new();
        let body = json!({"TableName": "Other", "Key": {"Id": {"N": "42"}}});
        let a = map_request("GetItem", &body, &scope(), &none).unwrap();
        assert_eq!(values(&a[0], "dynamodb:LeadingKeys").unwrap(), vec!["42"]);
        let body = json!({"TableName": "Other", "Key": {"A": {"S": "1"}, "B": {"S": "2"}}});
        let a = map_request("GetItem", &body, &scope(), &none).unwrap();
        assert!(values(&a[0], "dynamodb:LeadingKeys").is_none());
        // With the schema, the partition key is picked whatever the order.
        let body =
            json!({"TableName": "Books", "Key": {"Title": {"S": "T"}, "Author": {"B": "AAE="}}});
        let a = map_request("GetItem", &body, &scope(), &schemas()).unwrap();
        assert_eq!(values(&a[0], "dynamodb:LeadingKeys").unwrap(), vec!["AAE="]);
    }

    #[test]
    fn put_update_delete() {
        let a = map(
            "PutItem",
            json!({"TableName": "Books", "ReturnValues": "ALL_OLD",
                   "Item": {"Title": {"S": "T"}, "Author": {"S": "A"}, "Pages": {"N": "3"}}}),
        );
        assert_eq!(a[0].action, "dynamodb:PutItem");
        assert_eq!(values(&a[0], "dynamodb:LeadingKeys").unwrap(), vec!["A"]);
        assert_eq!(
            values(&a[0], "dynamodb:Attributes").unwrap(),
            vec!["Title", "Author", "Pages"]
        );
        assert_eq!(
            values(&a[0], "dynamodb:ReturnValues").unwrap(),
            vec!["ALL_OLD"]
        );
        assert!(values(&a[0], "dynamodb:Select").is_none());

        let a = map(
            "UpdateItem",
            json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}},
                   "UpdateExpression": "SET #p = if_not_exists(#p, :z) + :one, Tags = list_append(Tags, :t) REMOVE Old, Meta.Draft ADD Reads :one DELETE Labels :l",
                   "ExpressionAttributeNames": {"#p": "Pages"}}),
        );
        assert_eq!(
            values(&a[0], "dynamodb:Attributes").unwrap(),
            vec![
                "Author", "Title", "Pages", "Tags", "Old", "Meta", "Reads", "Labels"
            ]
        );
        assert_eq!(
            values(&a[0], "dynamodb:ReturnValues").unwrap(),
            vec!["NONE"]
        );

        let a = map(
            "UpdateItem",
            json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}},
                   "AttributeUpdates": {"Pages": {"Action": "PUT", "Value": {"N": "1"}}}}),
        );
        assert_eq!(
            values(&a[0], "dynamodb:Attributes").unwrap(),
            vec!["Author", "Title", "Pages"]
        );

        let a = map(
            "DeleteItem",
            json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}},
                   "ReturnConsumedCapacity": "TOTAL"}),
        );
        assert_eq!(a[0].action, "dynamodb:DeleteItem");
        assert_eq!(values(&a[0], "dynamodb:LeadingKeys").unwrap(), vec!["A"]);
        assert_eq!(
            values(&a[0], "dynamodb:ReturnConsumedCapacity").unwrap(),
            vec!["TOTAL"]
        );
    }

    #[test]
    fn query_on_table_and_index() {
        let a = map(
            "Query",
            json!({"TableName": "Books",
                   "KeyConditionExpression": "(#a = :a) AND begins_with(Title, :p)",
                   "ExpressionAttributeNames": {"#a": "Author"},
                   "ExpressionAttributeValues": {":a": {"S": "Tolkien"}, ":p": {"S": "The"}}}),
        );
        assert_eq!(a[0].resource, BOOKS);
        assert_eq!(
            values(&a[0], "dynamodb:LeadingKeys").unwrap(),
            vec!["Tolkien"]
        );
        assert_eq!(
            values(&a[0], "dynamodb:Select").unwrap(),
            vec!["ALL_ATTRIBUTES"]
        );
        assert!(values(&a[0], "dynamodb:Attributes").is_none());

        let a = map(
            "Query",
            json!({"TableName": "Books", "IndexName": "ByGenre",
                   "KeyConditionExpression": ":g = Genre",
                   "ProjectionExpression": "Title",
                   "ExpressionAttributeValues": {":g": {"S": "Fantasy"}}}),
        );
        assert_eq!(a[0].resource, format!("{BOOKS}/index/ByGenre"));
        assert_eq!(
            values(&a[0], "dynamodb:LeadingKeys").unwrap(),
            vec!["Fantasy"]
        );
        assert_eq!(values(&a[0], "dynamodb:Attributes").unwrap(), vec!["Title"]);
        assert_eq!(
            values(&a[0], "dynamodb:Select").unwrap(),
            vec!["SPECIFIC_ATTRIBUTES"]
        );

        // Sort-key equality and BETWEEN do not confuse the partition key.
        let a = map(
            "Query",
            json!({"TableName": "Books", "IndexName": "ByYear",
                   "KeyConditionExpression": "#y BETWEEN :a AND :b AND Author = :au",
                   "ExpressionAttributeNames": {"#y": "Year"},
                   "ExpressionAttributeValues": {":a": {"N": "1"}, ":b": {"N": "2"}, ":au": {"S": "X"}}}),
        );
        assert_eq!(values(&a[0], "dynamodb:LeadingKeys").unwrap(), vec!["X"]);
        assert_eq!(
            values(&a[0], "dynamodb:Select").unwrap(),
            vec!["ALL_PROJECTED_ATTRIBUTES"]
        );
        let a = map(
            "Query",
            json!({"TableName": "Books",
                   "KeyConditionExpression": "Title = :t AND Author = :a",
                   "ExpressionAttributeValues": {":t": {"S": "T"}, ":a": {"S": "A"}}}),
        );
        assert_eq!(values(&a[0], "dynamodb:LeadingKeys").unwrap(), vec!["A"]);

        // Legacy KeyConditions.
        let a = map(
            "Query",
            json!({"TableName": "Books", "Select": "COUNT",
                   "KeyConditions": {"Author": {"ComparisonOperator": "EQ",
                                                "AttributeValueList": [{"S": "Z"}]}}}),
        );
        assert_eq!(values(&a[0], "dynamodb:LeadingKeys").unwrap(), vec!["Z"]);
        assert_eq!(values(&a[0], "dynamodb:Select").unwrap(), vec!["COUNT"]);
    }

    #[test]
    fn scan() {
        let a = map(
            "Scan",
            json!({"TableName": "Books", "AttributesToGet": ["Title", "Author"]}),
        );
        assert_eq!(a[0].action, "dynamodb:Scan");
        assert!(values(&a[0], "dynamodb:LeadingKeys").is_none());
        assert_eq!(
            values(&a[0], "dynamodb:Attributes").unwrap(),
            vec!["Title", "Author"]
        );
    }

    #[test]
    fn batches_cover_every_table() {
        let a = map(
            "BatchGetItem",
            json!({"RequestItems": {
                "Books": {"Keys": [{"Author": {"S": "A"}, "Title": {"S": "1"}},
                                   {"Author": {"S": "B"}, "Title": {"S": "2"}},
                                   {"Author": {"S": "A"}, "Title": {"S": "3"}}],
                          "ProjectionExpression": "Pages"},
                "Films": {"Keys": [{"Id": {"S": "f"}}]}}}),
        );
        assert_eq!(a.len(), 2);
        assert!(a.iter().all(|x| x.action == "dynamodb:BatchGetItem"));
        assert_eq!(a[0].resource, BOOKS);
        assert_eq!(
            a[1].resource,
            "arn:aws:dynamodb:us-east-1:111122223333:table/Films"
        );
        assert_eq!(
            values(&a[0], "dynamodb:LeadingKeys").unwrap(),
            vec!["A", "B"]
        );
        assert_eq!(
            values(&a[0], "dynamodb:Attributes").unwrap(),
            vec!["Author", "Title", "Pages"]
        );
        assert_eq!(values(&a[1], "dynamodb:LeadingKeys").unwrap(), vec!["f"]);

        let a = map(
            "BatchWriteItem",
            json!({"RequestItems": {
                "Books": [{"PutRequest": {"Item": {"Author": {"S": "A"}, "Title": {"S": "1"}, "X": {"N": "1"}}}},
                          {"DeleteRequest": {"Key": {"Author": {"S": "C"}, "Title": {"S": "2"}}}}],
                "Films": [{"DeleteRequest": {"Key": {"Id": {"S": "f"}}}}]}}),
        );
        assert_eq!(a.len(), 2);
        assert!(a.iter().all(|x| x.action == "dynamodb:BatchWriteItem"));
        assert_eq!(
            values(&a[0], "dynamodb:LeadingKeys").unwrap(),
            vec!["A", "C"]
        );
        assert_eq!(
            values(&a[0], "dynamodb:Attributes").unwrap(),
            vec!["Author", "Title", "X"]
        );
        assert_eq!(
            map_request("BatchGetItem", &json!({}), &scope(), &schemas())
                .unwrap_err()
                .code(),
            "ValidationException"
        );
    }

    #[test]
    fn transactions_use_the_underlying_actions() {
        let a = map(
            "TransactWriteItems",
            json!({"TransactItems": [
                {"Put": {"TableName": "Books", "Item": {"Author": {"S": "A"}, "Title": {"S": "1"}}}},
                {"Update": {"TableName": "Films", "Key": {"Id": {"S": "f"}}, "UpdateExpression": "SET Seen = :t"}},
                {"Delete": {"TableName": "Books", "Key": {"Author": {"S": "B"}, "Title": {"S": "2"}}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                {"ConditionCheck": {"TableName": "Audit", "Key": {"Id": {"S": "x"}}, "ConditionExpression": "attribute_exists(Id)"}}]}),
        );
        let actions: Vec<&str> = a.iter().map(|x| x.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem"
            ]
        );
        assert_eq!(
            a[3].resource,
            "arn:aws:dynamodb:us-east-1:111122223333:table/Audit"
        );
        for x in &a {
            assert_eq!(
                values(x, "dynamodb:EnclosingOperation").unwrap(),
                vec!["TransactWriteItems"]
            );
        }
        assert_eq!(
            values(&a[1], "dynamodb:Attributes").unwrap(),
            vec!["Id", "Seen"]
        );
        assert_eq!(values(&a[2], "dynamodb:LeadingKeys").unwrap(), vec!["B"]);

        let a = map(
            "TransactGetItems",
            json!({"TransactItems": [
                {"Get": {"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "1"}}}},
                {"Get": {"TableName": "arn:aws:dynamodb:us-east-1:111122223333:table/Films", "Key": {"Id": {"S": "f"}}}}]}),
        );
        assert_eq!(a.len(), 2);
        assert!(a.iter().all(|x| x.action == "dynamodb:GetItem"));
        assert_eq!(
            a[1].resource,
            "arn:aws:dynamodb:us-east-1:111122223333:table/Films"
        );
        assert_eq!(
            values(&a[0], "dynamodb:EnclosingOperation").unwrap(),
            vec!["TransactGetItems"]
        );
        let e = map_request(
            "TransactWriteItems",
            &json!({"TransactItems": [{"Put": {"Item": {}}}]}),
            &scope(),
            &schemas(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value null at 'transactItems.1.member.put.tableName' failed to satisfy constraint: Member must not be null"
        );
    }

    #[test]
    fn account_level_and_other_operations() {
        let a = map("ListTables", json!({"Limit": 5}));
        assert_eq!(a[0].action, "dynamodb:ListTables");
        assert_eq!(a[0].resource, "*");
        let a = map("DescribeTable", json!({"TableName": "Books"}));
        assert_eq!(a[0].resource, BOOKS);
        let a = map(
            "TagResource",
            json!({"ResourceArn": BOOKS, "Tags": [{"Key": "k", "Value": "v"}]}),
        );
        assert_eq!(a[0].action, "dynamodb:TagResource");
        assert_eq!(a[0].resource, BOOKS);
        assert_eq!(
            operation(Some("DynamoDB_20120810.TransactWriteItems")),
            Ok("TransactWriteItems")
        );
        let a = map(
            "ExecuteStatement",
            json!({"Statement": "SELECT * FROM Books"}),
        );
        assert_eq!(a[0].resource, "*");
    }

    #[test]
    fn missing_table_name_is_dynamodbs_validation_error() {
        for op in ["GetItem", "PutItem", "Query", "Scan"] {
            let e = map_request(op, &json!({}), &scope(), &schemas()).unwrap_err();
            assert_eq!(e.code(), "ValidationException");
            assert!(e.to_string().contains("'tableName'"), "{e}");
        }
    }

    #[test]
    fn table_arn_as_table_name() {
        let arn = "arn:aws:dynamodb:us-east-1:111122223333:table/Books";
        let a = map(
            "Query",
            json!({"TableName": arn, "IndexName": "ByGenre", "KeyConditionExpression": "Genre = :g",
                   "ExpressionAttributeValues": {":g": {"S": "SciFi"}}}),
        );
        assert_eq!(a[0].resource, format!("{arn}/index/ByGenre"));
        assert_eq!(
            values(&a[0], "dynamodb:LeadingKeys").unwrap(),
            vec!["SciFi"]
        );
        assert_eq!(
            schema_tables("Query", &json!({"TableName": arn}), &scope()),
            vec!["Books"]
        );
    }

    #[test]
    fn tables_whose_schema_is_needed() {
        assert_eq!(
            schema_tables(
                "TransactWriteItems",
                &json!({"TransactItems": [{"Put": {"TableName": "Aaa"}}, {"Delete": {"TableName": "Bbb"}}, {"Put": {"TableName": "Aaa"}}]}),
                &scope()
            ),
            vec!["Aaa", "Bbb"]
        );
        assert_eq!(
            schema_tables(
                "BatchGetItem",
                &json!({"RequestItems": {"Xxx": {}, "arn:aws:dynamodb:us-east-1:111122223333:table/Yyy": {}}}),
                &scope()
            ),
            vec!["Xxx", "Yyy"]
        );
        // Elements of several members are refused by map_request; never half-read here.
        assert!(
            schema_tables(
                "TransactWriteItems",
                &json!({"TransactItems": [{"ConditionCheck": {"TableName": "Aaa"}, "Put": {"TableName": "Bbb"}}]}),
                &scope()
            )
            .is_empty()
        );
        assert!(schema_tables("Scan", &json!({"TableName": "Aaa"}), &scope()).is_empty());
        assert!(schema_tables("ListTables", &json!({}), &scope()).is_empty());
    }

    #[test]
    fn duplicate_members_are_refused() {
        for body in [
            r#"{"TableName": "Public", "TableName": "Secret"}"#,
            r#"{"TableName": "Public", "Key": {"pk": {"S": "me"}, "pk": {"S": "victim"}}}"#,
            r#"{"RequestItems": {"Public": {"Keys": []}, "Public": {"Keys": []}}}"#,
            r#"{"TableName": "Public", "Table\u004eame": "Secret"}"#,
            r#"{"A": [{"x": 1, "x": 2}]}"#,
        ] {
            let e = parse_body(body.as_bytes()).unwrap_err();
            assert_eq!(e.code(), "SerializationException", "{body}");
        }
        assert!(parse_body(br#"{"A": [{"x": 1}, {"x": 2}], "B": {"x": {"x": 1}}}"#).is_ok());
    }

    #[test]
    fn transaction_elements_have_exactly_one_member() {
        let two = json!({"TransactItems": [{
            "ConditionCheck": {"TableName": "Public", "Key": {"pk": {"S": "x"}}, "ConditionExpression": "attribute_exists(pk)"},
            "Put": {"TableName": "Secret", "Item": {"pk": {"S": "pwn"}}}}]});
        let e = map_request("TransactWriteItems", &two, &scope(), &schemas()).unwrap_err();
        assert_eq!(e.code(), "ValidationException");
        assert_eq!(
            e.to_string(),
            "TransactItems can only contain one of Check, Put, Update or Delete"
        );
        for bad in [
            json!({"TransactItems": [{}]}),
            json!({"TransactItems": [{"Frobnicate": {"TableName": "Books"}}]}),
            json!({"TransactItems": [{"Put": "Books"}]}),
            json!({"TransactItems": ["Books"]}),
        ] {
            let e = map_request("TransactWriteItems", &bad, &scope(), &schemas()).unwrap_err();
            assert_eq!(e.code(), "ValidationException", "{bad}");
        }
        let get_and_put = json!({"TransactItems": [{
            "Get": {"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}}},
            "Put": {"TableName": "Secret", "Item": {"pk": {"S": "pwn"}}}}]});
        let e = map_request("TransactGetItems", &get_and_put, &scope(), &schemas()).unwrap_err();
        assert_eq!(e.to_string(), "TransactItems can only contain one of Get");
        // A Put is not a TransactGetItems element.
        let put = json!({"TransactItems": [{"Put": {"TableName": "Books", "Item": {}}}]});
        assert!(map_request("TransactGetItems", &put, &scope(), &schemas()).is_err());
    }

    #[test]
    fn write_requests_have_exactly_one_member() {
        let both = json!({"RequestItems": {"Public": [{
            "PutRequest": {"Item": {"pk": {"S": "me"}}},
            "DeleteRequest": {"Key": {"pk": {"S": "victim"}}}}]}});
        let e = map_request("BatchWriteItem", &both, &scope(), &schemas()).unwrap_err();
        assert_eq!(e.code(), "ValidationException");
        assert_eq!(e.to_string(), ONE_WRITE_REQUEST);
        for bad in [
            json!({"RequestItems": {"Public": [{}]}}),
            json!({"RequestItems": {"Public": [{"UpdateRequest": {}}]}}),
            json!({"RequestItems": {"Public": {"PutRequest": {}}}}),
        ] {
            assert!(
                map_request("BatchWriteItem", &bad, &scope(), &schemas()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_collections_are_validation_errors() {
        for (op, body, member) in [
            ("BatchGetItem", json!({"RequestItems": {}}), "requestItems"),
            (
                "BatchWriteItem",
                json!({"RequestItems": {}}),
                "requestItems",
            ),
            (
                "TransactGetItems",
                json!({"TransactItems": []}),
                "transactItems",
            ),
            (
                "TransactWriteItems",
                json!({"TransactItems": []}),
                "transactItems",
            ),
        ] {
            let e = map_request(op, &body, &scope(), &schemas()).unwrap_err();
            assert_eq!(e.code(), "ValidationException", "{op}");
            assert!(
                e.to_string().contains(&format!(
                    "at '{member}' failed to satisfy constraint: Member must have length greater than or equal to 1"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn every_operation_maps_to_at_least_one_authorization() {
        let bodies = [
            json!({}),
            json!({"TableName": "Books"}),
            json!({"TableName": "Books", "Key": {"Author": {"S": "A"}}, "Item": {"Author": {"S": "A"}}}),
            json!({"RequestItems": {"Books": []}}),
            json!({"TransactItems": [{"Get": {"TableName": "Books", "Key": {}}}]}),
        ];
        for op in OPERATIONS {
            for body in &bodies {
                if let Ok(a) = map_request(op, body, &scope(), &schemas()) {
                    assert!(!a.is_empty(), "{op} {body}");
                }
            }
        }
    }

    #[test]
    fn table_arns_must_be_of_this_scope() {
        // Another region, account or partition, another service, or more than a table.
        for arn in [
            "arn:aws:dynamodb:eu-west-1:111122223333:table/Secret",
            "arn:aws:dynamodb:us-east-1:444455556666:table/Secret",
            "arn:aws-cn:dynamodb:us-east-1:111122223333:table/Secret",
            "arn:aws:s3:us-east-1:111122223333:table/Secret",
            "arn:aws:dynamodb:us-east-1:111122223333:table/Secret/index/ByX",
            "arn:aws:dynamodb:us-east-1:111122223333:table/",
            "arn:aws:dynamodb:us-east-1:111122223333:global-table/Secret",
            "arn:aws:dynamodb:us-east-1:111122223333:table/Se*",
        ] {
            for (op, body) in [
                (
                    "GetItem",
                    json!({"TableName": arn, "Key": {"pk": {"S": "x"}}}),
                ),
                ("Query", json!({"TableName": arn})),
                ("DescribeTable", json!({"TableName": arn})),
                ("BatchGetItem", json!({"RequestItems": {arn: {"Keys": []}}})),
                (
                    "TransactGetItems",
                    json!({"TransactItems": [{"Get": {"TableName": arn, "Key": {}}}]}),
                ),
            ] {
                let e = map_request(op, &body, &scope(), &schemas()).unwrap_err();
                assert_eq!(e.code(), "ValidationException", "{op} {arn}");
            }
        }
        // The canonical ARN is what is authorized.
        let a = map(
            "GetItem",
            json!({"TableName": BOOKS, "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}}}),
        );
        assert_eq!(a[0].resource, BOOKS);
        // Names are checked too (`*` or `/` would widen what a resource pattern matches).
        for name in ["Se*", "Books/index/ByGenre", "ab", ""] {
            let e = map_request("GetItem", &json!({"TableName": name}), &scope(), &schemas())
                .unwrap_err();
            assert_eq!(e.code(), "ValidationException", "{name}");
        }
        let e = map_request(
            "Query",
            &json!({"TableName": "Books", "IndexName": "a/b"}),
            &scope(),
            &schemas(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("'indexName'"), "{e}");
    }

    #[test]
    fn resource_arns_must_be_of_this_scope() {
        let backup = format!("{BOOKS}/backup/01489173575360-b308cd7d");
        let a = map("DescribeBackup", json!({"BackupArn": backup}));
        assert_eq!(a[0].resource, backup);
        let stream = format!("{BOOKS}/stream/2015-05-11T21:21:33.291");
        let a = map("ListTagsOfResource", json!({"ResourceArn": stream}));
        assert_eq!(a[0].resource, stream);
        for arn in [
            "arn:aws:dynamodb:eu-west-1:111122223333:table/Books",
            "arn:aws:dynamodb:us-east-1:111122223333:table/Books/backup",
            "arn:aws:dynamodb:us-east-1:111122223333:table/Books/secret/x",
            "arn:aws:dynamodb:us-east-1:111122223333:table/Books/backup/x/y",
            "*",
        ] {
            for (op, field) in [
                ("TagResource", "ResourceArn"),
                ("DescribeBackup", "BackupArn"),
                ("ExportTableToPointInTime", "TableArn"),
            ] {
                let e = map_request(op, &json!({ field: arn }), &scope(), &schemas()).unwrap_err();
                assert_eq!(e.code(), "ValidationException", "{op} {arn}");
            }
        }
        // Every table or resource a request names is authorized, source and target alike.
        let a = map(
            "RestoreTableToPointInTime",
            json!({"SourceTableName": "Secret", "TargetTableName": "Copy"}),
        );
        let resources: Vec<&str> = a.iter().map(|x| x.resource.as_str()).collect();
        assert_eq!(
            resources,
            [
                "arn:aws:dynamodb:us-east-1:111122223333:table/Secret",
                "arn:aws:dynamodb:us-east-1:111122223333:table/Copy"
            ]
        );
        let a = map(
            "ExportTableToPointInTime",
            json!({"TableArn": BOOKS, "S3Bucket": "b"}),
        );
        assert_eq!(a[0].resource, BOOKS);
        let a = map(
            "RestoreTableFromBackup",
            json!({"BackupArn": backup, "TargetTableName": "Copy"}),
        );
        assert_eq!(a.len(), 2);
        let a = map("DescribeGlobalTable", json!({"GlobalTableName": "Books"}));
        assert_eq!(
            a[0].resource,
            "arn:aws:dynamodb::111122223333:global-table/Books"
        );
        let a = map(
            "ImportTable",
            json!({"TableCreationParameters": {"TableName": "Secret"}}),
        );
        assert_eq!(
            a[0].resource,
            "arn:aws:dynamodb:us-east-1:111122223333:table/Secret"
        );
        // Kinesis streaming destinations: authorized on the table, not the Kinesis ARN.
        let a = map(
            "EnableKinesisStreamingDestination",
            json!({"TableName": "Books", "StreamArn": "arn:aws:kinesis:us-east-1:111122223333:stream/s"}),
        );
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].resource, BOOKS);
    }

    #[test]
    fn tokenizer() {
        assert_eq!(
            tokenize("#a.b[10] <= :v1"),
            vec![
                Token::Name("#a".into()),
                Token::Punct(".".into()),
                Token::Name("b".into()),
                Token::Punct("[".into()),
                Token::Number("10".into()),
                Token::Punct("]".into()),
                Token::Punct("<=".into()),
                Token::Value(":v1".into()),
            ]
        );
        assert!(tokenize("").is_empty());
        // Garbage in, no panic.
        for s in [
            "((((", ")))", "AND AND", "= = =", "#", ":", "[", "SET ,,,", "é😀",
        ] {
            let _ = split_conjuncts(&tokenize(s));
            let _ = update_targets(s, None);
        }
    }
}
