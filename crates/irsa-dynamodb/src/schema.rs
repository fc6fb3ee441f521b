//! Key schemas: which attribute is a table's (or index's) partition key.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

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

/// Key schemas known for a request, by table name.
pub type Schemas = HashMap<String, Arc<TableSchema>>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Describe {
    table: DescribedTable,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribedTable {
    key_schema: Vec<KeyElement>,
    #[serde(default)]
    global_secondary_indexes: Vec<Index>,
    #[serde(default)]
    local_secondary_indexes: Vec<Index>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Index {
    index_name: String,
    key_schema: Vec<KeyElement>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyElement {
    attribute_name: String,
    key_type: String,
}

fn key_schema(elements: &[KeyElement]) -> Option<KeySchema> {
    let mut partition_key = None;
    let mut sort_key = None;
    for e in elements {
        let slot = match e.key_type.as_str() {
            "HASH" => &mut partition_key,
            "RANGE" => &mut sort_key,
            _ => return None,
        };
        if slot.replace(e.attribute_name.clone()).is_some() {
            return None;
        }
    }
    Some(KeySchema {
        partition_key: partition_key?,
        sort_key,
    })
}

impl TableSchema {
    /// The schema from a `DescribeTable` response body (`{"Table": {...}}`); `None` when it
    /// is not one.
    pub fn from_describe_table(body: &[u8]) -> Option<TableSchema> {
        let d: Describe = serde_json::from_slice(body).ok()?;
        let key = key_schema(&d.table.key_schema)?;
        let mut indexes = HashMap::new();
        for index in d
            .table
            .global_secondary_indexes
            .iter()
            .chain(&d.table.local_secondary_indexes)
        {
            indexes.insert(index.index_name.clone(), key_schema(&index.key_schema)?);
        }
        Some(TableSchema { key, indexes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_table() {
        let body = br#"{"Table": {"TableName": "Books", "ItemCount": 3,
            "KeySchema": [{"AttributeName": "Author", "KeyType": "HASH"},
                          {"AttributeName": "Title", "KeyType": "RANGE"}],
            "GlobalSecondaryIndexes": [{"IndexName": "ByGenre", "KeySchema": [
                {"AttributeName": "Genre", "KeyType": "HASH"}]}]}}"#;
        let s = TableSchema::from_describe_table(body).unwrap();
        assert_eq!(s.key.partition_key, "Author");
        assert_eq!(s.key.sort_key.as_deref(), Some("Title"));
        assert_eq!(s.indexes["ByGenre"].partition_key, "Genre");
        assert!(TableSchema::from_describe_table(br#"{"Table": {"KeySchema": []}}"#).is_none());
        assert!(
            TableSchema::from_describe_table(
                br#"{"Table": {"KeySchema": [{"AttributeName": "a", "KeyType": "HASH"},
                {"AttributeName": "b", "KeyType": "HASH"}]}}"#
            )
            .is_none()
        );
    }
}
