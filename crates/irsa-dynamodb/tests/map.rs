//! The request mapping through the crate's public API: `Operation::from_target`,
//! `Request::parse`, `Request::authorizations` and `Request::schema_tables`.
//!
//! Ported from the gateway's former `dynamodb.rs` unit tests, plus the key-condition
//! semantics of `Query`.

use std::sync::Arc;

use irsa_dynamodb::{
    ATTRIBUTES, Authorization, LEADING_KEYS, MapError, Operation, Request, Schemas, Scope,
    TableSchema,
};
use serde_json::{Value, json};

fn scope() -> Scope {
    Scope {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "111122223333".into(),
    }
}

fn describe(v: &Value) -> Option<TableSchema> {
    TableSchema::from_describe_table(&serde_json::to_vec(v).unwrap())
}

fn schemas() -> Schemas {
    let books = json!({"Table": {
        "TableName": "Books",
        "KeySchema": [{"AttributeName": "Author", "KeyType": "HASH"},
                      {"AttributeName": "Title", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [{"IndexName": "ByGenre", "KeySchema": [
            {"AttributeName": "Genre", "KeyType": "HASH"}]}],
        "LocalSecondaryIndexes": [{"IndexName": "ByYear", "KeySchema": [
            {"AttributeName": "Author", "KeyType": "HASH"},
            {"AttributeName": "Year", "KeyType": "RANGE"}]}]
    }});
    let games = json!({"Table": {
        "TableName": "GameScores",
        "KeySchema": [{"AttributeName": "UserId", "KeyType": "HASH"},
                      {"AttributeName": "GameTitle", "KeyType": "RANGE"}]
    }});
    let mut m = Schemas::new();
    m.insert("Books".into(), Arc::new(describe(&books).unwrap()));
    m.insert("GameScores".into(), Arc::new(describe(&games).unwrap()));
    m
}

fn op(name: &str) -> Operation {
    Operation::from_target(Some(&format!("DynamoDB_20120810.{name}"))).unwrap()
}

/// Parses and maps a raw body.
fn map_raw_with(name: &str, body: &str, schemas: &Schemas) -> Result<Vec<Authorization>, MapError> {
    let req = Request::parse(op(name), body.as_bytes())?;
    req.authorizations(&scope(), schemas)
}

fn map_with(name: &str, body: &Value, schemas: &Schemas) -> Result<Vec<Authorization>, MapError> {
    map_raw_with(name, &body.to_string(), schemas)
}

fn try_map(name: &str, body: &Value) -> Result<Vec<Authorization>, MapError> {
    map_with(name, body, &schemas())
}

fn map(name: &str, body: Value) -> Vec<Authorization> {
    match try_map(name, &body) {
        Ok(a) => {
            assert!(!a.is_empty(), "{name} {body}");
            a
        }
        Err(e) => panic!("{name} {body}: {e:?}"),
    }
}

fn map_err(name: &str, body: Value) -> MapError {
    match try_map(name, &body) {
        Ok(a) => panic!("{name} {body}: expected an error, got {a:?}"),
        Err(e) => e,
    }
}

fn schema_tables(name: &str, body: &Value) -> Vec<String> {
    let bytes = serde_json::to_vec(body).unwrap();
    Request::parse(op(name), &bytes)
        .unwrap()
        .schema_tables(&scope())
}

fn values(a: &Authorization, key: &str) -> Option<Vec<String>> {
    a.context.get(key).map(|v| v.values().to_vec())
}

fn is_validation(e: &MapError) -> bool {
    matches!(e, MapError::Validation(_))
}

fn is_serialization(e: &MapError) -> bool {
    matches!(e, MapError::Serialization(_))
}

const BOOKS: &str = "arn:aws:dynamodb:us-east-1:111122223333:table/Books";
const ONE_WRITE_REQUEST: &str = "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes";

// ---------------------------------------------------------------------------------------
// Ported from the gateway's former unit tests

#[test]
fn body_parsing() {
    // An empty body counts as `{}`.
    for body in [&b""[..], b"  \n", b" {} "] {
        let a = Request::parse(Operation::ListTables, body)
            .unwrap()
            .authorizations(&scope(), &schemas())
            .unwrap();
        assert_eq!(a[0].resource, "*");
        // …and an item operation without a table is DynamoDB's validation error.
        let e = Request::parse(Operation::GetItem, body)
            .unwrap()
            .authorizations(&scope(), &schemas())
            .unwrap_err();
        assert!(is_validation(&e), "{e:?}");
    }
    assert!(Request::parse(Operation::ListTables, b" {\"Limit\":1} ").is_ok());
    for op in [
        Operation::GetItem,
        Operation::Query,
        Operation::BatchGetItem,
        Operation::TransactWriteItems,
        Operation::ListTables,
        Operation::DescribeTable,
    ] {
        for body in [&b"[1]"[..], b"{", b"\"x\"", b"1", b"null", b"{}{}", b"{} x"] {
            let e = Request::parse(op, body).unwrap_err();
            assert!(
                is_serialization(&e),
                "{op} {:?}: {e:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

#[test]
fn describe_table_schema() {
    let s = schemas();
    let books = s.get("Books").unwrap();
    assert_eq!(books.key.partition_key, "Author");
    assert_eq!(books.key.sort_key.as_deref(), Some("Title"));
    assert_eq!(books.indexes["ByGenre"].partition_key, "Genre");
    assert_eq!(books.indexes["ByGenre"].sort_key, None);
    assert_eq!(books.indexes["ByYear"].partition_key, "Author");
    assert_eq!(books.indexes["ByYear"].sort_key.as_deref(), Some("Year"));
    assert!(describe(&json!({"Table": {}})).is_none());
    assert!(
        describe(&json!({"Table": {"KeySchema": [
            {"AttributeName": "x", "KeyType": "RANGE"}]}}))
        .is_none(),
        "no partition key"
    );
    assert!(TableSchema::from_describe_table(b"not json").is_none());
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
    assert!(a[0].undetermined.is_empty());
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["Tolkien"]);
    assert_eq!(
        values(&a[0], ATTRIBUTES).unwrap(),
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
    assert_eq!(values(&a[0], ATTRIBUTES).unwrap(), vec!["Author", "Title"]);

    // Legacy AttributesToGet.
    let a = map(
        "GetItem",
        json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "B"}},
               "AttributesToGet": ["Pages", "Title"]}),
    );
    assert_eq!(
        values(&a[0], "dynamodb:Select").unwrap(),
        vec!["SPECIFIC_ATTRIBUTES"]
    );
    assert_eq!(
        values(&a[0], ATTRIBUTES).unwrap(),
        vec!["Author", "Title", "Pages"]
    );
}

#[test]
fn leading_keys_need_the_schema_unless_unambiguous() {
    let none = Schemas::new();
    let body = json!({"TableName": "Other", "Key": {"Id": {"N": "42"}}});
    let a = map_with("GetItem", &body, &none).unwrap();
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["42"]);
    assert!(a[0].undetermined.is_empty());
    // Two key attributes and no schema: which one is the partition key is unknown.
    let body = json!({"TableName": "Other", "Key": {"A": {"S": "1"}, "B": {"S": "2"}}});
    let a = map_with("GetItem", &body, &none).unwrap();
    assert!(values(&a[0], LEADING_KEYS).is_none());
    assert_eq!(a[0].undetermined, vec![LEADING_KEYS]);
    // The same for an item.
    let body = json!({"TableName": "Other", "Item": {"A": {"S": "1"}, "B": {"S": "2"}}});
    let a = map_with("PutItem", &body, &none).unwrap();
    assert!(values(&a[0], LEADING_KEYS).is_none());
    assert_eq!(a[0].undetermined, vec![LEADING_KEYS]);
    // With the schema, the partition key is picked whatever the order.
    let body = json!({"TableName": "Books", "Key": {"Title": {"S": "T"}, "Author": {"B": "AAE="}}});
    let a = map_with("GetItem", &body, &schemas()).unwrap();
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["AAE="]);
    assert!(a[0].undetermined.is_empty());
}

#[test]
fn key_values_are_normalised() {
    // N values in DynamoDB's normal form: "007" and "7" are the same item.
    let none = Schemas::new();
    for (n, normal) in [
        ("007", "7"),
        ("7.0", "7"),
        ("7e0", "7"),
        ("-0", "0"),
        ("1E2", "100"),
    ] {
        let body = json!({"TableName": "Other", "Key": {"Id": {"N": n}}});
        let a = map_with("GetItem", &body, &none).unwrap();
        assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec![normal], "{n}");
    }
    let a = map(
        "GetItem",
        json!({"TableName": "Books", "Key": {"Author": {"N": "0042.50"}, "Title": {"S": "T"}}}),
    );
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["42.5"]);
    // Batches collapse equal keys.
    let a = map(
        "BatchGetItem",
        json!({"RequestItems": {"Books": {"Keys": [
            {"Author": {"N": "1"}, "Title": {"S": "a"}},
            {"Author": {"N": "01"}, "Title": {"S": "b"}},
            {"Author": {"N": "1.0"}, "Title": {"S": "c"}}]}}}),
    );
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["1"]);
    // B values in canonical base64.
    let a = map(
        "GetItem",
        json!({"TableName": "Books", "Key": {"Author": {"B": "YWxpY2U="}, "Title": {"S": "T"}}}),
    );
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["YWxpY2U="]);
    // Not a key value: refused, not authorized as something else.
    for bad in [
        json!({"N": "abc"}),
        json!({"B": "not base64!"}),
        json!({"M": {}}),
        json!({"S": "a", "N": "1"}),
        json!({"NULL": true}),
    ] {
        let e = map_err(
            "GetItem",
            json!({"TableName": "Books", "Key": {"Author": bad, "Title": {"S": "T"}}}),
        );
        assert!(is_validation(&e), "{e:?}");
    }
    // Number normalisation in key conditions and start keys too.
    let a = map(
        "Query",
        json!({"TableName": "GameScores", "KeyConditionExpression": "UserId = :u",
               "ExpressionAttributeValues": {":u": {"N": "0012"}},
               "ExclusiveStartKey": {"UserId": {"N": "12.0"}, "GameTitle": {"S": "g"}}}),
    );
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["12"]);
}

#[test]
fn put_update_delete() {
    let a = map(
        "PutItem",
        json!({"TableName": "Books", "ReturnValues": "ALL_OLD",
               "Item": {"Title": {"S": "T"}, "Author": {"S": "A"}, "Pages": {"N": "3"}}}),
    );
    assert_eq!(a[0].action, "dynamodb:PutItem");
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["A"]);
    assert_eq!(
        values(&a[0], ATTRIBUTES).unwrap(),
        vec!["Title", "Author", "Pages"]
    );
    assert_eq!(
        values(&a[0], "dynamodb:ReturnValues").unwrap(),
        vec!["ALL_OLD"]
    );
    assert!(values(&a[0], "dynamodb:Select").is_none());

    // `Old` and `Reads` are reserved words: named through placeholders.
    let a = map(
        "UpdateItem",
        json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}},
               "UpdateExpression": "SET #p = if_not_exists(#p, :z) + :one, Tags = list_append(Tags, :t) REMOVE #o, Meta.Draft ADD #r :one DELETE Labels :l",
               "ExpressionAttributeNames": {"#p": "Pages", "#o": "Old", "#r": "Reads"},
               "ExpressionAttributeValues": {":z": {"N": "0"}, ":one": {"N": "1"},
                                             ":t": {"L": [{"S": "x"}]}, ":l": {"SS": ["y"]}}}),
    );
    assert_eq!(
        values(&a[0], ATTRIBUTES).unwrap(),
        vec![
            "Author", "Title", "Pages", "Tags", "Old", "Meta", "Reads", "Labels"
        ]
    );
    assert_eq!(
        values(&a[0], "dynamodb:ReturnValues").unwrap(),
        vec!["NONE"]
    );

    // Update sources are attributes the request reads.
    let a = map(
        "UpdateItem",
        json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}},
               "UpdateExpression": "SET a = b + :x, c = list_append(:l, d.e[1]), f = if_not_exists(g, h)",
               "ExpressionAttributeValues": {":x": {"N": "1"}, ":l": {"L": []}}}),
    );
    assert_eq!(
        values(&a[0], ATTRIBUTES).unwrap(),
        vec!["Author", "Title", "a", "b", "c", "d", "f", "g", "h"]
    );

    let a = map(
        "UpdateItem",
        json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}},
               "AttributeUpdates": {"Pages": {"Action": "PUT", "Value": {"N": "1"}}}}),
    );
    assert_eq!(
        values(&a[0], ATTRIBUTES).unwrap(),
        vec!["Author", "Title", "Pages"]
    );

    let a = map(
        "DeleteItem",
        json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}},
               "ReturnConsumedCapacity": "TOTAL"}),
    );
    assert_eq!(a[0].action, "dynamodb:DeleteItem");
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["A"]);
    assert_eq!(
        values(&a[0], "dynamodb:ReturnConsumedCapacity").unwrap(),
        vec!["TOTAL"]
    );
    assert_eq!(
        values(&a[0], "dynamodb:ReturnValues").unwrap(),
        vec!["NONE"]
    );
}

#[test]
fn conditions_count_as_attributes() {
    let a = map(
        "PutItem",
        json!({"TableName": "Books", "Item": {"Author": {"S": "A"}, "Title": {"S": "T"}},
               "ConditionExpression": "attribute_not_exists(Secret.x) OR #v < :v",
               "ExpressionAttributeNames": {"#v": "Version"},
               "ExpressionAttributeValues": {":v": {"N": "3"}}}),
    );
    assert_eq!(
        values(&a[0], ATTRIBUTES).unwrap(),
        vec!["Author", "Title", "Secret", "Version"]
    );
    // Legacy Expected.
    let a = map(
        "DeleteItem",
        json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}},
               "Expected": {"Secret": {"Exists": false}}}),
    );
    assert_eq!(
        values(&a[0], ATTRIBUTES).unwrap(),
        vec!["Author", "Title", "Secret"]
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
    assert_eq!(a[0].action, "dynamodb:Query");
    assert_eq!(a[0].resource, BOOKS);
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["Tolkien"]);
    assert_eq!(
        values(&a[0], "dynamodb:Select").unwrap(),
        vec!["ALL_ATTRIBUTES"]
    );
    // The key condition's attributes are attributes the request reads.
    assert_eq!(values(&a[0], ATTRIBUTES).unwrap(), vec!["Author", "Title"]);

    let a = map(
        "Query",
        json!({"TableName": "Books", "IndexName": "ByGenre",
               "KeyConditionExpression": ":g = Genre",
               "ProjectionExpression": "Title",
               "ExpressionAttributeValues": {":g": {"S": "Fantasy"}}}),
    );
    assert_eq!(a[0].resource, format!("{BOOKS}/index/ByGenre"));
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["Fantasy"]);
    assert_eq!(values(&a[0], ATTRIBUTES).unwrap(), vec!["Genre", "Title"]);
    assert_eq!(
        values(&a[0], "dynamodb:Select").unwrap(),
        vec!["SPECIFIC_ATTRIBUTES"]
    );

    // Sort-key BETWEEN does not confuse the partition key.
    let a = map(
        "Query",
        json!({"TableName": "Books", "IndexName": "ByYear",
               "KeyConditionExpression": "#y BETWEEN :a AND :b AND Author = :au",
               "ExpressionAttributeNames": {"#y": "Year"},
               "ExpressionAttributeValues": {":a": {"N": "1"}, ":b": {"N": "2"}, ":au": {"S": "X"}}}),
    );
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["X"]);
    assert_eq!(
        values(&a[0], "dynamodb:Select").unwrap(),
        vec!["ALL_PROJECTED_ATTRIBUTES"]
    );
    // Nor does sort-key equality.
    let a = map(
        "Query",
        json!({"TableName": "Books",
               "KeyConditionExpression": "Title = :t AND Author = :a",
               "ExpressionAttributeValues": {":t": {"S": "T"}, ":a": {"S": "A"}}}),
    );
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["A"]);

    // Legacy KeyConditions.
    let a = map(
        "Query",
        json!({"TableName": "Books", "Select": "COUNT",
               "KeyConditions": {"Author": {"ComparisonOperator": "EQ",
                                            "AttributeValueList": [{"S": "Z"}]}}}),
    );
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["Z"]);
    assert_eq!(values(&a[0], "dynamodb:Select").unwrap(), vec!["COUNT"]);
    assert_eq!(values(&a[0], ATTRIBUTES).unwrap(), vec!["Author"]);
}

#[test]
fn filters_count_as_attributes() {
    let a = map(
        "Query",
        json!({"TableName": "Books", "KeyConditionExpression": "Author = :a",
               "FilterExpression": "contains(Secret, :s)",
               "ExpressionAttributeValues": {":a": {"S": "A"}, ":s": {"S": "x"}}}),
    );
    assert_eq!(values(&a[0], ATTRIBUTES).unwrap(), vec!["Author", "Secret"]);
    let a = map(
        "Query",
        json!({"TableName": "Books",
               "KeyConditions": {"Author": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "A"}]}},
               "QueryFilter": {"Secret": {"ComparisonOperator": "NOT_NULL"}}}),
    );
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["A"]);
    assert_eq!(values(&a[0], ATTRIBUTES).unwrap(), vec!["Author", "Secret"]);
    let a = map(
        "Scan",
        json!({"TableName": "Books", "FilterExpression": "Pages > :p",
               "ExpressionAttributeValues": {":p": {"N": "1"}}}),
    );
    assert_eq!(values(&a[0], ATTRIBUTES).unwrap(), vec!["Pages"]);
    let a = map(
        "Scan",
        json!({"TableName": "Books", "ScanFilter": {"Secret": {"ComparisonOperator": "NULL"}}}),
    );
    assert_eq!(values(&a[0], ATTRIBUTES).unwrap(), vec!["Secret"]);
}

#[test]
fn scan() {
    let a = map(
        "Scan",
        json!({"TableName": "Books", "AttributesToGet": ["Title", "Author"]}),
    );
    assert_eq!(a[0].action, "dynamodb:Scan");
    assert_eq!(a[0].resource, BOOKS);
    assert!(values(&a[0], LEADING_KEYS).is_none());
    assert!(a[0].undetermined.is_empty());
    assert_eq!(values(&a[0], ATTRIBUTES).unwrap(), vec!["Title", "Author"]);
    assert_eq!(
        values(&a[0], "dynamodb:Select").unwrap(),
        vec!["SPECIFIC_ATTRIBUTES"]
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
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["A", "B"]);
    assert_eq!(
        values(&a[0], ATTRIBUTES).unwrap(),
        vec!["Author", "Title", "Pages"]
    );
    assert_eq!(values(&a[1], LEADING_KEYS).unwrap(), vec!["f"]);

    let a = map(
        "BatchWriteItem",
        json!({"RequestItems": {
            "Books": [{"PutRequest": {"Item": {"Author": {"S": "A"}, "Title": {"S": "1"}, "X": {"N": "1"}}}},
                      {"DeleteRequest": {"Key": {"Author": {"S": "C"}, "Title": {"S": "2"}}}}],
            "Films": [{"DeleteRequest": {"Key": {"Id": {"S": "f"}}}}]}}),
    );
    assert_eq!(a.len(), 2);
    assert!(a.iter().all(|x| x.action == "dynamodb:BatchWriteItem"));
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["A", "C"]);
    assert_eq!(
        values(&a[0], ATTRIBUTES).unwrap(),
        vec!["Author", "Title", "X"]
    );
    assert_eq!(values(&a[1], LEADING_KEYS).unwrap(), vec!["f"]);

    // One key without a schema that is ambiguous makes the whole table's key undetermined.
    let a = map(
        "BatchGetItem",
        json!({"RequestItems": {"Films": {"Keys": [{"Id": {"S": "f"}},
                                                    {"Id": {"S": "g"}, "Part": {"S": "x"}}]}}}),
    );
    assert!(values(&a[0], LEADING_KEYS).is_none());
    assert_eq!(a[0].undetermined, vec![LEADING_KEYS]);

    for op in ["BatchGetItem", "BatchWriteItem"] {
        assert!(is_validation(&map_err(op, json!({}))), "{op}");
    }
}

#[test]
fn transactions_use_the_underlying_actions() {
    let a = map(
        "TransactWriteItems",
        json!({"TransactItems": [
            {"Put": {"TableName": "Books", "Item": {"Author": {"S": "A"}, "Title": {"S": "1"}}}},
            {"Update": {"TableName": "Films", "Key": {"Id": {"S": "f"}}, "UpdateExpression": "SET Seen = :t",
                        "ExpressionAttributeValues": {":t": {"BOOL": true}}}},
            {"Delete": {"TableName": "Books", "Key": {"Author": {"S": "B"}, "Title": {"S": "2"}}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"ConditionCheck": {"TableName": "Audit", "Key": {"Id": {"S": "x"}}, "ConditionExpression": "attribute_exists(Id)"}}],
            "ReturnConsumedCapacity": "INDEXES"}),
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
        assert_eq!(
            values(x, "dynamodb:ReturnConsumedCapacity").unwrap(),
            vec!["INDEXES"]
        );
    }
    assert_eq!(values(&a[1], ATTRIBUTES).unwrap(), vec!["Id", "Seen"]);
    assert_eq!(values(&a[2], LEADING_KEYS).unwrap(), vec!["B"]);
    assert_eq!(values(&a[3], LEADING_KEYS).unwrap(), vec!["x"]);

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
    let e = map_err(
        "TransactWriteItems",
        json!({"TransactItems": [{"Put": {"Item": {}}}]}),
    );
    assert_eq!(
        e,
        MapError::Validation(
            "1 validation error detected: Value null at 'transactItems.1.member.put.tableName' failed to satisfy constraint: Member must not be null".into()
        )
    );
}

#[test]
fn account_level_and_other_operations() {
    let a = map("ListTables", json!({"Limit": 5}));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].action, "dynamodb:ListTables");
    assert_eq!(a[0].resource, "*");
    let a = map("DescribeTable", json!({"TableName": "Books"}));
    assert_eq!(a[0].action, "dynamodb:DescribeTable");
    assert_eq!(a[0].resource, BOOKS);
    let a = map(
        "TagResource",
        json!({"ResourceArn": BOOKS, "Tags": [{"Key": "k", "Value": "v"}]}),
    );
    assert_eq!(a[0].action, "dynamodb:TagResource");
    assert_eq!(a[0].resource, BOOKS);
    let a = map(
        "ExecuteStatement",
        json!({"Statement": "SELECT * FROM Books"}),
    );
    assert_eq!(a[0].action, "dynamodb:ExecuteStatement");
    assert_eq!(a[0].resource, "*");
}

#[test]
fn missing_table_name_is_dynamodbs_validation_error() {
    for op in [
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
    ] {
        let e = map_err(op, json!({}));
        assert!(is_validation(&e), "{op}: {e:?}");
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
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["SciFi"]);
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
            &json!({"TransactItems": [{"Put": {"TableName": "Aaa"}}, {"Delete": {"TableName": "Bbb"}}, {"Put": {"TableName": "Aaa"}}]}),
        ),
        vec!["Aaa", "Bbb"]
    );
    assert_eq!(
        schema_tables(
            "BatchGetItem",
            &json!({"RequestItems": {"Xxx": {}, "arn:aws:dynamodb:us-east-1:111122223333:table/Yyy": {}}}),
        ),
        vec!["Xxx", "Yyy"]
    );
    assert_eq!(
        schema_tables(
            "BatchWriteItem",
            &json!({"RequestItems": {"Xxx": [], "Bad*": [], "arn:aws:dynamodb:eu-west-1:111122223333:table/Zzz": []}}),
        ),
        vec!["Xxx"]
    );
    assert_eq!(
        schema_tables("GetItem", &json!({"TableName": "Aaa"})),
        vec!["Aaa"]
    );
    // An element of several members: schema_tables lists both tables (fetching a schema
    // grants nothing), and the mapping refuses the element.
    let two = json!({"TransactItems": [{"ConditionCheck": {"TableName": "Aaa"}, "Put": {"TableName": "Bbb"}}]});
    assert_eq!(
        schema_tables("TransactWriteItems", &two),
        vec!["Aaa", "Bbb"]
    );
    assert!(is_validation(&map_err("TransactWriteItems", two)));
    assert!(schema_tables("Scan", &json!({"TableName": "Aaa"})).is_empty());
    assert!(schema_tables("ListTables", &json!({})).is_empty());
    assert!(schema_tables("DescribeTable", &json!({"TableName": "Aaa"})).is_empty());
}

#[test]
fn duplicate_members_are_refused() {
    for (op, body) in [
        (
            "GetItem",
            r##"{"TableName": "Public", "TableName": "Secret", "Key": {"pk": {"S": "me"}}}"##,
        ),
        (
            "GetItem",
            r##"{"TableName": "Public", "Key": {"pk": {"S": "me"}, "pk": {"S": "victim"}}}"##,
        ),
        (
            "GetItem",
            r##"{"TableName": "Public", "Key": {"pk": {"S": "me"}, "p\u006b": {"S": "victim"}}}"##,
        ),
        (
            "GetItem",
            r##"{"TableName": "Public", "Table\u004eame": "Secret", "Key": {"pk": {"S": "me"}}}"##,
        ),
        (
            "PutItem",
            r##"{"TableName": "Public", "Item": {"pk": {"S": "me"}, "p\u006b": {"S": "victim"}}}"##,
        ),
        (
            "BatchGetItem",
            r##"{"RequestItems": {"Public": {"Keys": [{"pk": {"S": "a"}}]}, "Public": {"Keys": [{"pk": {"S": "b"}}]}}}"##,
        ),
        (
            "BatchWriteItem",
            r##"{"RequestItems": {"Public": [{"PutRequest": {"Item": {"pk": {"S": "me"}}, "Item": {"pk": {"S": "victim"}}}}]}}"##,
        ),
        (
            "TransactWriteItems",
            r##"{"TransactItems": [{"Put": {"TableName": "Public", "TableName": "Secret", "Item": {"pk": {"S": "x"}}}}]}"##,
        ),
        (
            "DescribeTable",
            r##"{"TableName": "Public", "TableName": "Secret"}"##,
        ),
        (
            "Query",
            r##"{"TableName": "Public", "KeyConditionExpression": "#k = :v", "ExpressionAttributeNames": {"#k": "pk", "#k": "other"}, "ExpressionAttributeValues": {":v": {"S": "x"}}}"##,
        ),
    ] {
        let e = map_raw_with(op, body, &schemas()).unwrap_err();
        assert!(is_serialization(&e), "{body}: {e:?}");
    }
    // Two values of one attribute: not a key value (whichever DynamoDB took).
    let e = map_raw_with(
        "GetItem",
        r##"{"TableName": "Public", "Key": {"pk": {"S": "me", "S": "victim"}}}"##,
        &Schemas::new(),
    )
    .unwrap_err();
    assert!(is_validation(&e) || is_serialization(&e), "{e:?}");
    // A member name differing only in case is not a second member DynamoDB might read.
    let e = map_raw_with(
        "DescribeTable",
        r##"{"TableName": "Public", "tablename": "Secret"}"##,
        &schemas(),
    )
    .unwrap_err();
    assert!(is_serialization(&e), "{e:?}");
    let e = map_raw_with(
        "GetItem",
        r##"{"TableName": "Public", "tableName": "Secret", "Key": {"pk": {"S": "me"}}}"##,
        &schemas(),
    )
    .unwrap_err();
    assert!(is_serialization(&e), "{e:?}");
    // The same name in different maps is fine.
    assert!(
        map_raw_with(
            "PutItem",
            r##"{"TableName": "Public", "Item": {"pk": {"S": "x"},
                "l": {"L": [{"M": {"x": {"N": "1"}}}, {"M": {"x": {"N": "2"}}}]},
                "m": {"M": {"x": {"M": {"x": {"N": "1"}}}}}}}"##,
            &schemas()
        )
        .is_ok()
    );
}

#[test]
fn transaction_elements_have_exactly_one_member() {
    let two = json!({"TransactItems": [{
        "ConditionCheck": {"TableName": "Public", "Key": {"pk": {"S": "x"}}, "ConditionExpression": "attribute_exists(pk)"},
        "Put": {"TableName": "Secret", "Item": {"pk": {"S": "pwn"}}}}]});
    assert_eq!(
        map_err("TransactWriteItems", two),
        MapError::Validation(
            "TransactItems can only contain one of Check, Put, Update or Delete".into()
        )
    );
    assert!(is_validation(&map_err(
        "TransactWriteItems",
        json!({"TransactItems": [{}]})
    )));
    // Unknown members and wrongly typed elements are not the operation's JSON.
    for bad in [
        json!({"TransactItems": [{"Frobnicate": {"TableName": "Books"}}]}),
        json!({"TransactItems": [{"Put": "Books"}]}),
        json!({"TransactItems": ["Books"]}),
        json!({"TransactItems": {"Put": {"TableName": "Books"}}}),
    ] {
        let e = map_err("TransactWriteItems", bad.clone());
        assert!(is_serialization(&e), "{bad}: {e:?}");
    }
    let get_and_put = json!({"TransactItems": [{
        "Get": {"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}}},
        "Put": {"TableName": "Secret", "Item": {"pk": {"S": "pwn"}}}}]});
    assert_eq!(
        map_err("TransactGetItems", get_and_put),
        MapError::Validation("TransactItems can only contain one of Get".into())
    );
    // A Put is not a TransactGetItems element, nor a Get a TransactWriteItems one.
    let put = json!({"TransactItems": [{"Put": {"TableName": "Books", "Item": {"Author": {"S": "A"}, "Title": {"S": "T"}}}}]});
    assert!(try_map("TransactGetItems", &put).is_err());
    let get = json!({"TransactItems": [{"Get": {"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}}}}]});
    assert!(try_map("TransactWriteItems", &get).is_err());
}

#[test]
fn write_requests_have_exactly_one_member() {
    let both = json!({"RequestItems": {"Public": [{
        "PutRequest": {"Item": {"pk": {"S": "me"}}},
        "DeleteRequest": {"Key": {"pk": {"S": "victim"}}}}]}});
    assert_eq!(
        map_err("BatchWriteItem", both),
        MapError::Validation(ONE_WRITE_REQUEST.into())
    );
    assert_eq!(
        map_err("BatchWriteItem", json!({"RequestItems": {"Public": [{}]}})),
        MapError::Validation(ONE_WRITE_REQUEST.into())
    );
    for bad in [
        json!({"RequestItems": {"Public": [{"UpdateRequest": {}}]}}),
        json!({"RequestItems": {"Public": {"PutRequest": {}}}}),
    ] {
        assert!(try_map("BatchWriteItem", &bad).is_err(), "{bad}");
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
        let e = map_err(op, body);
        assert!(is_validation(&e), "{op}: {e:?}");
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
        json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}}}),
        json!({"TableName": "Books", "Item": {"Author": {"S": "A"}, "Title": {"S": "T"}}}),
        json!({"TableName": "Books", "KeyConditionExpression": "Author = :a",
               "ExpressionAttributeValues": {":a": {"S": "A"}}}),
        json!({"RequestItems": {"Books": []}}),
        json!({"RequestItems": {"Books": {"Keys": [{"Author": {"S": "A"}, "Title": {"S": "T"}}]}}}),
        json!({"TransactItems": [{"Get": {"TableName": "Books", "Key": {}}}]}),
        json!({"TransactItems": [{"Get": {"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}}}}]}),
        json!({"ResourceArn": BOOKS}),
    ];
    let mut ok = 0;
    for &op in Operation::ALL {
        for body in &bodies {
            let bytes = serde_json::to_vec(body).unwrap();
            let Ok(req) = Request::parse(op, &bytes) else {
                continue;
            };
            let _ = req.schema_tables(&scope());
            if let Ok(a) = req.authorizations(&scope(), &schemas()) {
                assert!(!a.is_empty(), "{op} {body}");
                for x in &a {
                    assert!(x.action.starts_with("dynamodb:"), "{op} {body}");
                    assert!(!x.resource.is_empty(), "{op} {body}");
                }
                ok += 1;
            }
        }
    }
    assert!(ok > Operation::ALL.len(), "{ok}");
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
            ("Scan", json!({"TableName": arn})),
            ("DescribeTable", json!({"TableName": arn})),
            (
                "BatchGetItem",
                json!({"RequestItems": {arn: {"Keys": [{"pk": {"S": "x"}}]}}}),
            ),
            (
                "TransactGetItems",
                json!({"TransactItems": [{"Get": {"TableName": arn, "Key": {"pk": {"S": "x"}}}}]}),
            ),
        ] {
            let e = map_err(op, body);
            assert!(is_validation(&e), "{op} {arn}: {e:?}");
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
        let e = map_err(
            "GetItem",
            json!({"TableName": name, "Key": {"pk": {"S": "x"}}}),
        );
        assert!(is_validation(&e), "{name}: {e:?}");
    }
    let e = map_err(
        "Query",
        json!({"TableName": "Books", "IndexName": "a/b", "KeyConditionExpression": "Author = :a",
               "ExpressionAttributeValues": {":a": {"S": "A"}}}),
    );
    assert!(e.to_string().contains("'indexName'"), "{e}");
    let e = map_err("Scan", json!({"TableName": "Books", "IndexName": "*"}));
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
            let e = map_err(op, json!({ field: arn }));
            assert!(is_validation(&e), "{op} {arn}: {e:?}");
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
    assert!(
        a.iter()
            .all(|x| x.action == "dynamodb:RestoreTableToPointInTime")
    );
    let a = map(
        "ExportTableToPointInTime",
        json!({"TableArn": BOOKS, "S3Bucket": "b"}),
    );
    assert_eq!(a.len(), 1);
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

// ---------------------------------------------------------------------------------------
// New behaviour: members, expressions and placeholders are checked as DynamoDB checks them

#[test]
fn unknown_members_are_refused() {
    for (op, body) in [
        (
            "GetItem",
            json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}}, "Frobnicate": 1}),
        ),
        (
            "GetItem",
            json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}}, "Item": {}}),
        ),
        (
            "PutItem",
            json!({"TableName": "Books", "Item": {"Author": {"S": "A"}, "Title": {"S": "T"}}, "Key": {}}),
        ),
        (
            "PutItem",
            json!({"TableName": "Books", "Item": {"Author": {"S": "A"}, "Title": {"S": "T"}}, "UpdateExpression": "SET x = :x", "ExpressionAttributeValues": {":x": {"S": "x"}}}),
        ),
        (
            "DeleteItem",
            json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}}, "ProjectionExpression": "x"}),
        ),
        (
            "UpdateItem",
            json!({"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}}, "Select": "COUNT"}),
        ),
        (
            "Query",
            json!({"TableName": "Books", "KeyConditionExpression": "Author = :a", "ExpressionAttributeValues": {":a": {"S": "A"}}, "Segment": 0, "TotalSegments": 2}),
        ),
        (
            "Query",
            json!({"TableName": "Books", "KeyConditionExpression": "Author = :a", "ExpressionAttributeValues": {":a": {"S": "A"}}, "ScanFilter": {}}),
        ),
        (
            "Scan",
            json!({"TableName": "Books", "KeyConditionExpression": "Author = :a", "ExpressionAttributeValues": {":a": {"S": "A"}}}),
        ),
        (
            "Scan",
            json!({"TableName": "Books", "Key": {"Author": {"S": "A"}}}),
        ),
        (
            "BatchGetItem",
            json!({"RequestItems": {"Books": {"Keys": [{"Author": {"S": "A"}, "Title": {"S": "T"}}], "Filter": "x"}}}),
        ),
        (
            "BatchWriteItem",
            json!({"RequestItems": {"Books": [{"PutRequest": {"Item": {"Author": {"S": "A"}, "Title": {"S": "T"}}, "TableName": "Secret"}}]}}),
        ),
        (
            "TransactGetItems",
            json!({"TransactItems": [{"Get": {"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}}}}], "ClientRequestToken": "t"}),
        ),
        (
            "TransactGetItems",
            json!({"TransactItems": [{"Get": {"TableName": "Books", "Key": {"Author": {"S": "A"}, "Title": {"S": "T"}}, "ConsistentRead": true}}]}),
        ),
        (
            "TransactWriteItems",
            json!({"TransactItems": [{"Put": {"TableName": "Books", "Item": {"Author": {"S": "A"}, "Title": {"S": "T"}}, "ReturnValues": "ALL_OLD"}}]}),
        ),
    ] {
        let e = map_err(op, body.clone());
        assert!(is_serialization(&e), "{op} {body}: {e:?}");
    }
}

#[test]
fn placeholders_must_be_defined_and_used() {
    let key = json!({"Author": {"S": "A"}, "Title": {"S": "T"}});
    for body in [
        // Unused name, unused value.
        json!({"TableName": "Books", "Key": key, "ConditionExpression": "attribute_exists(Pages)",
               "ExpressionAttributeNames": {"#x": "Secret"}}),
        json!({"TableName": "Books", "Key": key, "ConditionExpression": "attribute_exists(Pages)",
               "ExpressionAttributeValues": {":x": {"S": "x"}}}),
        // Undefined name, undefined value.
        json!({"TableName": "Books", "Key": key, "ConditionExpression": "attribute_exists(#p)"}),
        json!({"TableName": "Books", "Key": key, "ConditionExpression": "Pages = :p"}),
        // Names or values without expressions.
        json!({"TableName": "Books", "Key": key, "ExpressionAttributeNames": {"#p": "Pages"}}),
        json!({"TableName": "Books", "Key": key, "ExpressionAttributeValues": {":p": {"N": "1"}}}),
        // Expressions and legacy parameters together.
        json!({"TableName": "Books", "Key": key, "ConditionExpression": "attribute_exists(Pages)",
               "Expected": {"Pages": {"Exists": true}}}),
        // A reserved word as a plain name; a syntax error.
        json!({"TableName": "Books", "Key": key, "ConditionExpression": "attribute_exists(Year)"}),
        json!({"TableName": "Books", "Key": key, "ConditionExpression": "Pages = "}),
    ] {
        let e = map_err("DeleteItem", body.clone());
        assert!(is_validation(&e), "{body}: {e:?}");
    }
    let e = map_err(
        "GetItem",
        json!({"TableName": "Books", "Key": key, "ProjectionExpression": "Pages",
               "ExpressionAttributeNames": {"#x": "Secret"}}),
    );
    assert!(is_validation(&e), "{e:?}");
    let e = map_err(
        "Query",
        json!({"TableName": "Books", "KeyConditionExpression": "Author = :a",
               "ExpressionAttributeValues": {":a": {"S": "A"}, ":b": {"S": "B"}}}),
    );
    assert!(is_validation(&e), "{e:?}");
}

#[test]
fn odd_expressions_are_refused_without_panicking() {
    let deep_parens = format!("{}UserId = :u{}", "(".repeat(10_000), ")".repeat(10_000));
    let deep_not = format!("{}UserId = :u", "NOT ".repeat(10_000));
    let long_path = format!("UserId{} = :u", ".b".repeat(10_000));
    let many_and = format!("UserId = :u{}", " AND UserId = :u".repeat(1_000));
    let garbage = [
        "",
        " ",
        "((((",
        ")))",
        "AND AND",
        "= = =",
        "#",
        ":",
        "[",
        "SET ,,,",
        "é😀",
        "UserId = :u)",
        "(UserId = :u",
        "((UserId = :u))",
        "UserId[99999999999999999999] = :u",
        "UserId = :u AND",
        "UserId = :u AND ()",
        "UserId BETWEEN :u",
        "UserId IN ()",
        "begins_with(UserId)",
        "begins_with(UserId, :u, :u)",
        "UserId = = :u",
        "UserId == :u",
        "UserId = :u;",
        "UserId = :u\u{0}",
        deep_parens.as_str(),
        deep_not.as_str(),
        long_path.as_str(),
        many_and.as_str(),
    ];
    for src in garbage {
        let vals = json!({":u": {"S": "alice"}});
        for body in [
            json!({"TableName": "GameScores", "KeyConditionExpression": src, "ExpressionAttributeValues": vals}),
            json!({"TableName": "GameScores", "KeyConditionExpression": "UserId = :u", "FilterExpression": src, "ExpressionAttributeValues": vals}),
        ] {
            assert!(try_map("Query", &body).is_err(), "{src:.80}");
        }
        let key = json!({"UserId": {"S": "alice"}, "GameTitle": {"S": "G"}});
        for (op, body) in [
            (
                "UpdateItem",
                json!({"TableName": "GameScores", "Key": key, "UpdateExpression": src, "ExpressionAttributeValues": vals}),
            ),
            (
                "DeleteItem",
                json!({"TableName": "GameScores", "Key": key, "ConditionExpression": src, "ExpressionAttributeValues": vals}),
            ),
            (
                "GetItem",
                json!({"TableName": "GameScores", "Key": key, "ProjectionExpression": src}),
            ),
        ] {
            let _ = try_map(op, &body);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Query key conditions

/// A `GameScores` query (partition key `UserId`, sort key `GameTitle`).
fn game_query(kce: &str, names: Option<Value>, values: Value) -> Value {
    let mut body = json!({"TableName": "GameScores", "KeyConditionExpression": kce,
                          "ExpressionAttributeValues": values});
    if let Some(n) = names {
        body["ExpressionAttributeNames"] = n;
    }
    body
}

#[test]
fn key_conditions_give_the_partition_key() {
    let u = json!({"S": "alice"});
    let cases = [
        (
            "(UserId = :u AND GameTitle > :g)",
            None,
            json!({":u": u, ":g": {"S": "M"}}),
        ),
        ("(UserId) = :u", None, json!({":u": u})),
        (":u = UserId", None, json!({":u": u})),
        ("#k = :u", Some(json!({"#k": "UserId"})), json!({":u": u})),
        (
            "UserId = :u AND begins_with(GameTitle, :p)",
            None,
            json!({":u": u, ":p": {"S": "Me"}}),
        ),
        (
            "UserId = :u AND GameTitle BETWEEN :a AND :b",
            None,
            json!({":u": u, ":a": {"S": "A"}, ":b": {"S": "M"}}),
        ),
        (
            "UserId = :u and GameTitle > :g",
            None,
            json!({":u": u, ":g": {"S": "M"}}),
        ),
        (
            "GameTitle < :g AND UserId = :u",
            None,
            json!({":u": u, ":g": {"S": "M"}}),
        ),
        (
            "UserId = :u AND :g <= GameTitle",
            None,
            json!({":u": u, ":g": {"S": "M"}}),
        ),
        (
            "#k = :u AND #t >= :g",
            Some(json!({"#k": "UserId", "#t": "GameTitle"})),
            json!({":u": u, ":g": {"S": "M"}}),
        ),
        (
            "(UserId = :u) AND (GameTitle = :g)",
            None,
            json!({":u": u, ":g": {"S": "M"}}),
        ),
    ];
    for (kce, names, vals) in cases {
        let a = map("Query", game_query(kce, names, vals));
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].action, "dynamodb:Query", "{kce}");
        assert_eq!(
            a[0].resource,
            "arn:aws:dynamodb:us-east-1:111122223333:table/GameScores"
        );
        assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["alice"], "{kce}");
        assert!(a[0].undetermined.is_empty(), "{kce}");
        let attrs = values(&a[0], ATTRIBUTES).unwrap();
        assert!(attrs.contains(&"UserId".to_owned()), "{kce}: {attrs:?}");
    }
}

#[test]
fn key_conditions_dynamodb_refuses_are_refused() {
    let uv = json!({":u": {"S": "alice"}, ":v": {"S": "bob"}});
    let cases = [
        ("UserId = :u OR UserId = :v", None, uv.clone()),
        ("NOT UserId = :u", None, json!({":u": {"S": "alice"}})),
        ("UserId IN (:u)", None, json!({":u": {"S": "alice"}})),
        ("UserId IN (:u, :v)", None, uv.clone()),
        ("UserId <> :u", None, json!({":u": {"S": "alice"}})),
        ("UserId = :u AND UserId = :v", None, uv.clone()),
        (
            "UserId = :u AND #k = :v",
            Some(json!({"#k": "UserId"})),
            uv.clone(),
        ),
        ("UserId.x = :u", None, json!({":u": {"S": "alice"}})),
        ("UserId[0] = :u", None, json!({":u": {"S": "alice"}})),
        (
            "UserId = :u AND #o = :v",
            Some(json!({"#o": "Other"})),
            uv.clone(),
        ),
        ("UserId = :u AND Score = :v", None, uv.clone()),
        ("GameTitle > :g", None, json!({":g": {"S": "M"}})),
        ("GameTitle = :g", None, json!({":g": {"S": "M"}})),
        ("UserId > :u", None, json!({":u": {"S": "alice"}})),
        (
            "begins_with(UserId, :u)",
            None,
            json!({":u": {"S": "alice"}}),
        ),
        ("UserId BETWEEN :u AND :v", None, uv.clone()),
        ("userid = :u", None, json!({":u": {"S": "alice"}})),
        (
            "UserId = :u AND GameTitle > :v AND GameTitle < :v",
            None,
            uv.clone(),
        ),
        ("UserId = :u OR GameTitle > :v", None, uv.clone()),
        ("UserId = :u AND NOT GameTitle > :v", None, uv.clone()),
        ("UserId = :u AND contains(GameTitle, :v)", None, uv.clone()),
        (
            "UserId = :u AND attribute_exists(GameTitle)",
            None,
            json!({":u": {"S": "alice"}}),
        ),
        ("size(UserId) = :u", None, json!({":u": {"N": "1"}})),
        ("UserId = GameTitle", None, json!({":u": {"S": "alice"}})),
        (":u = :v", None, uv.clone()),
        (
            "begins_with(:u, UserId)",
            None,
            json!({":u": {"S": "alice"}}),
        ),
        // Unused or undefined placeholders.
        ("UserId = :u", None, uv.clone()),
        ("UserId = :w", None, json!({":u": {"S": "alice"}})),
        ("#k = :u", None, json!({":u": {"S": "alice"}})),
    ];
    for (kce, names, vals) in cases {
        let e = map_err("Query", game_query(kce, names, vals));
        assert!(is_validation(&e), "{kce}: {e:?}");
    }
    // On an index, the index's keys: the table's partition key is not one of them.
    for kce in [
        "Author = :a",
        "Genre = :a AND Author = :b",
        "Genre = :a AND Title = :b",
    ] {
        let e = map_err(
            "Query",
            json!({"TableName": "Books", "IndexName": "ByGenre", "KeyConditionExpression": kce,
            "ExpressionAttributeValues": if kce.contains(":b") {
                json!({":a": {"S": "a"}, ":b": {"S": "b"}})
            } else {
                json!({":a": {"S": "a"}})
            }}),
        );
        assert!(is_validation(&e), "{kce}: {e:?}");
    }
    // A key value that is not one value of a key type.
    for v in [
        r##"{"S": "alice", "S": "bob"}"##,
        r##"{"S": "alice", "N": "1"}"##,
        r##"{"SS": ["alice"]}"##,
    ] {
        let body = format!(
            r##"{{"TableName": "GameScores", "KeyConditionExpression": "UserId = :u",
                  "ExpressionAttributeValues": {{":u": {v}}}}}"##
        );
        let e = map_raw_with("Query", &body, &schemas()).unwrap_err();
        assert!(is_validation(&e), "{v}: {e:?}");
    }
}

#[test]
fn key_condition_and_key_conditions_together_are_refused() {
    let e = map_err(
        "Query",
        json!({"TableName": "GameScores", "KeyConditionExpression": "UserId = :u",
               "ExpressionAttributeValues": {":u": {"S": "alice"}},
               "KeyConditions": {"UserId": {"ComparisonOperator": "EQ",
                                            "AttributeValueList": [{"S": "bob"}]}}}),
    );
    assert!(is_validation(&e), "{e:?}");
    // Neither: refused too.
    let e = map_err("Query", json!({"TableName": "GameScores"}));
    assert!(is_validation(&e), "{e:?}");
}

#[test]
fn duplicate_placeholders_are_refused() {
    // `:u` twice: which one DynamoDB would use is not for the gateway to guess.
    let body = r##"{"TableName": "GameScores", "KeyConditionExpression": "UserId = :u",
                   "ExpressionAttributeValues": {":u": {"S": "alice"}, ":u": {"S": "bob"}}}"##;
    let e = map_raw_with("Query", body, &schemas()).unwrap_err();
    assert!(e.to_string().contains("Duplicate member name"), "{e:?}");
    // Also with an escaped spelling of the same name.
    let body = r##"{"TableName": "GameScores", "KeyConditionExpression": "UserId = :u",
                   "ExpressionAttributeValues": {":u": {"S": "alice"}, ":\u0075": {"S": "bob"}}}"##;
    assert!(map_raw_with("Query", body, &schemas()).is_err());
    let body = r##"{"TableName": "GameScores", "KeyConditionExpression": "#k = :u",
                   "ExpressionAttributeNames": {"#k": "UserId", "#\u006b": "GameTitle"},
                   "ExpressionAttributeValues": {":u": {"S": "alice"}}}"##;
    assert!(map_raw_with("Query", body, &schemas()).is_err());
}

#[test]
fn exclusive_start_key_must_be_in_the_queried_partition() {
    let q = |start: Value| {
        json!({"TableName": "GameScores", "KeyConditionExpression": "UserId = :u",
               "ExpressionAttributeValues": {":u": {"S": "alice"}},
               "ExclusiveStartKey": start})
    };
    let a = map(
        "Query",
        q(json!({"UserId": {"S": "alice"}, "GameTitle": {"S": "G"}})),
    );
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["alice"]);
    for start in [
        json!({"UserId": {"S": "bob"}, "GameTitle": {"S": "G"}}),
        json!({"GameTitle": {"S": "G"}}),
        json!({"UserId": {"N": "1"}, "GameTitle": {"S": "G"}}),
    ] {
        let e = map_err("Query", q(start.clone()));
        assert!(is_validation(&e), "{start}: {e:?}");
    }
    // On an index: the index's partition key.
    let e = map_err(
        "Query",
        json!({"TableName": "Books", "IndexName": "ByGenre", "KeyConditionExpression": "Genre = :g",
               "ExpressionAttributeValues": {":g": {"S": "Fantasy"}},
               "ExclusiveStartKey": {"Genre": {"S": "Horror"}, "Author": {"S": "A"}, "Title": {"S": "T"}}}),
    );
    assert!(is_validation(&e), "{e:?}");
    // Legacy KeyConditions too.
    let e = map_err(
        "Query",
        json!({"TableName": "GameScores",
               "KeyConditions": {"UserId": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "alice"}]}},
               "ExclusiveStartKey": {"UserId": {"S": "bob"}, "GameTitle": {"S": "G"}}}),
    );
    assert!(is_validation(&e), "{e:?}");
}

#[test]
fn key_conditions_without_a_schema() {
    let none = Schemas::new();
    let q = |kce: &str, vals: Value| {
        json!({"TableName": "Unknown", "KeyConditionExpression": kce,
               "ExpressionAttributeValues": vals})
    };
    // Two equalities: either could be the partition key.
    let a = map_with(
        "Query",
        &q(
            "A = :a AND B = :b",
            json!({":a": {"S": "a"}, ":b": {"S": "b"}}),
        ),
        &none,
    )
    .unwrap();
    assert!(values(&a[0], LEADING_KEYS).is_none());
    assert_eq!(a[0].undetermined, vec![LEADING_KEYS]);
    assert_eq!(values(&a[0], ATTRIBUTES).unwrap(), vec!["A", "B"]);
    // One equality: the partition key (DynamoDB needs the partition key's equality).
    for kce in [
        "A = :a AND B > :b",
        "B > :b AND A = :a",
        "A = :a AND begins_with(B, :b)",
    ] {
        let a = map_with(
            "Query",
            &q(kce, json!({":a": {"S": "a"}, ":b": {"S": "b"}})),
            &none,
        )
        .unwrap();
        assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["a"], "{kce}");
        assert!(a[0].undetermined.is_empty(), "{kce}");
    }
    let a = map_with("Query", &q("A = :a", json!({":a": {"N": "010"}})), &none).unwrap();
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["10"]);
    // An index the schema does not know: as without a schema.
    let a = map(
        "Query",
        json!({"TableName": "Books", "IndexName": "NoSuch", "KeyConditionExpression": "X = :x AND Y = :y",
               "ExpressionAttributeValues": {":x": {"S": "x"}, ":y": {"S": "y"}}}),
    );
    assert_eq!(a[0].undetermined, vec![LEADING_KEYS]);
    // Structural refusals do not need the schema.
    for (kce, vals) in [
        (
            "A = :a OR B = :b",
            json!({":a": {"S": "a"}, ":b": {"S": "b"}}),
        ),
        ("A <> :a", json!({":a": {"S": "a"}})),
        (
            "A = :a AND A = :b",
            json!({":a": {"S": "a"}, ":b": {"S": "b"}}),
        ),
        (
            "A = :a AND B = :b AND C = :c",
            json!({":a": {"S": "a"}, ":b": {"S": "b"}, ":c": {"S": "c"}}),
        ),
        ("A.b = :a", json!({":a": {"S": "a"}})),
    ] {
        let e = map_with("Query", &q(kce, vals), &none).unwrap_err();
        assert!(is_validation(&e), "{kce}: {e:?}");
    }
}

#[test]
fn legacy_key_conditions() {
    let kc = |conds: Value| json!({"TableName": "GameScores", "KeyConditions": conds});
    let a = map(
        "Query",
        kc(json!({"UserId": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "alice"}]}})),
    );
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["alice"]);
    let a = map(
        "Query",
        kc(
            json!({"GameTitle": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "M"}]},
                  "UserId": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "alice"}]}}),
        ),
    );
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["alice"]);
    assert_eq!(
        values(&a[0], ATTRIBUTES).unwrap(),
        vec!["GameTitle", "UserId"]
    );
    // Without a schema.
    let none = Schemas::new();
    let body = json!({"TableName": "Unknown", "KeyConditions": {
        "A": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]}}});
    let a = map_with("Query", &body, &none).unwrap();
    assert_eq!(values(&a[0], LEADING_KEYS).unwrap(), vec!["a"]);
    let body = json!({"TableName": "Unknown", "KeyConditions": {
        "A": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
        "B": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "b"}]}}});
    let a = map_with("Query", &body, &none).unwrap();
    assert_eq!(a[0].undetermined, vec![LEADING_KEYS]);
    // Refusals.
    for conds in [
        json!({"UserId": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "a"}]}}),
        json!({"UserId": {"ComparisonOperator": "IN", "AttributeValueList": [{"S": "a"}]}}),
        json!({"UserId": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}, {"S": "b"}]}}),
        json!({"UserId": {"ComparisonOperator": "EQ", "AttributeValueList": []}}),
        json!({"UserId": {"ComparisonOperator": "GT", "AttributeValueList": [{"S": "a"}]}}),
        json!({"GameTitle": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]}}),
        json!({"UserId": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
               "Score": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "b"}]}}),
        json!({}),
    ] {
        let e = map_err("Query", kc(conds.clone()));
        assert!(is_validation(&e), "{conds}: {e:?}");
    }
}
