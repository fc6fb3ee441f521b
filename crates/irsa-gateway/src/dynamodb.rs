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
pub fn parse_body(body: &[u8]) -> Result<Value, MapError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(MapError::Serialization(
            "Start of structure or map found where not expected.".to_owned(),
        )),
        Err(_) => Err(MapError::Serialization(
            "Unexpected character found while parsing the request body.".to_owned(),
        )),
    }
}

/// Table names whose key schema [`map_request`] uses to derive `dynamodb:LeadingKeys`.
pub fn schema_tables(op: &str, body: &Value) -> Vec<String> {
    let mut names = Vec::new();
    let mut add = |v: Option<&Value>| {
        if let Some(name) = v.and_then(Value::as_str).map(table_name)
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
                if let Some(inner) = item.as_object().and_then(|o| o.values().next()) {
                    add(inner.get("TableName"));
                }
            }
        }
        _ => {}
    }
    names
}

/// The table name of a `TableName` value that may be a table ARN.
fn table_name(value: &str) -> &str {
    if value.starts_with("arn:") {
        value
            .split_once(":table/")
            .map_or(value, |(_, rest)| rest.split('/').next().unwrap_or(rest))
    } else {
        value
    }
}

/// The resource ARN of a `TableName` value (a name or a table ARN).
fn table_resource(scope: &Scope, value: &str) -> String {
    if value.starts_with("arn:") {
        value.to_owned()
    } else {
        scope.table_arn(value)
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
    schemas.get(table_name(table)).map(Arc::as_ref)
}

/// Maps `op` with `body` to the authorizations IAM evaluates, in request order.
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
            let table = required_str(body, "TableName", "tableName")?;
            let mut context = Context::new();
            item_keys(op, body, schema_for(schemas, table), &mut context);
            common_keys(body, &mut context);
            single(table_resource(scope, table), context)
        }
        "Query" | "Scan" => {
            let table = required_str(body, "TableName", "tableName")?;
            let index = match body.get("IndexName") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.as_str()),
                Some(_) => return Err(null_member("indexName")),
            };
            let mut resource = table_resource(scope, table);
            if let Some(index) = index {
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
            let mut out = Vec::with_capacity(items.len());
            for (table, request) in items {
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
                    for write in request.as_array().into_iter().flatten() {
                        let item = write
                            .get("PutRequest")
                            .and_then(|p| p.get("Item"))
                            .or_else(|| write.get("DeleteRequest").and_then(|d| d.get("Key")));
                        keys.leading_from(item, schema);
                        keys.attribute_names_of(item);
                    }
                }
                keys.into_context(&mut context);
                common_keys(body, &mut context);
                out.push(Authorization {
                    action: action.clone(),
                    resource: table_resource(scope, table),
                    context,
                });
            }
            Ok(out)
        }
        "TransactGetItems" | "TransactWriteItems" => {
            let Some(items) = body.get("TransactItems").and_then(Value::as_array) else {
                return Err(null_member("transactItems"));
            };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Some((kind, request)) = item.as_object().and_then(|o| o.iter().next()) else {
                    return Err(MapError::Validation(format!(
                        "1 validation error detected: Value null at 'transactItems.{}.member' failed to satisfy constraint: Member must not be null",
                        i + 1
                    )));
                };
                let inner = match kind.as_str() {
                    "Get" => "GetItem",
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    _ => {
                        return Err(MapError::Validation(format!(
                            "Unexpected transaction element `{kind}`"
                        )));
                    }
                };
                let table = required_str(
                    request,
                    "TableName",
                    &format!(
                        "transactItems.{}.member.{}.tableName",
                        i + 1,
                        lower_first(kind)
                    ),
                )?;
                let mut context = Context::new();
                item_keys(inner, request, schema_for(schemas, table), &mut context);
                context.insert("dynamodb:EnclosingOperation", op);
                common_keys(body, &mut context);
                out.push(Authorization {
                    action: format!("dynamodb:{inner}"),
                    resource: table_resource(scope, table),
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
            // Table-level and other operations: the table, else the named resource, else `*`.
            let resource = if let Some(t) = body.get("TableName").and_then(Value::as_str) {
                let arn = table_resource(scope, t);
                match body.get("IndexName").and_then(Value::as_str) {
                    Some(i) => format!("{arn}/index/{i}"),
                    None => arn,
                }
            } else if let Some(arn) = ["ResourceArn", "BackupArn", "StreamArn", "ExportArn"]
                .iter()
                .find_map(|f| body.get(*f).and_then(Value::as_str))
            {
                arn.to_owned()
            } else {
                "*".to_owned()
            };
            single(resource, Context::new())
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
            schema_tables("Query", &json!({"TableName": arn})),
            vec!["Books"]
        );
    }

    #[test]
    fn tables_whose_schema_is_needed() {
        assert_eq!(
            schema_tables(
                "TransactWriteItems",
                &json!({"TransactItems": [{"Put": {"TableName": "A"}}, {"Delete": {"TableName": "B"}}, {"Put": {"TableName": "A"}}]})
            ),
            vec!["A", "B"]
        );
        assert_eq!(
            schema_tables("BatchGetItem", &json!({"RequestItems": {"X": {}, "Y": {}}})),
            vec!["X", "Y"]
        );
        assert!(schema_tables("Scan", &json!({"TableName": "A"})).is_empty());
        assert!(schema_tables("ListTables", &json!({})).is_empty());
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
