//! DynamoDB request bodies (`irsa_dynamodb::Request`) → IAM authorizations. The first
//! byte picks the operation (`Operation::ALL[byte % len]`), the rest is the JSON body:
//! `Request::parse`, `schema_tables`, then `authorizations` without key schemas, with a
//! schema for table `T` (partition key `pk`, sort key `sk`, index `GIdx` keyed by `gpk`),
//! and with that schema for every table the request names (`T` is shorter than a table
//! name may be, so only that last pass reaches the schema-driven mapping). Nothing may
//! panic; a mapped request has at least one authorization, each for a `dynamodb:` action
//! on an ARN of the scope or `*`.
#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use irsa_dynamodb::{KeySchema, Operation, Request, Schemas, Scope, TableSchema};
use libfuzzer_sys::fuzz_target;

fn scope() -> &'static Scope {
    static SCOPE: OnceLock<Scope> = OnceLock::new();
    SCOPE.get_or_init(|| Scope {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "111122223333".into(),
    })
}

fn table_schema() -> Arc<TableSchema> {
    static SCHEMA: OnceLock<Arc<TableSchema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            Arc::new(TableSchema {
                key: KeySchema {
                    partition_key: "pk".into(),
                    sort_key: Some("sk".into()),
                },
                indexes: HashMap::from([(
                    "GIdx".to_owned(),
                    KeySchema {
                        partition_key: "gpk".into(),
                        sort_key: None,
                    },
                )]),
            })
        })
        .clone()
}

fn check(op: Operation, req: &Request<'_>, schemas: &Schemas) {
    let s = scope();
    let Ok(auths) = req.authorizations(s, schemas) else {
        return;
    };
    assert!(!auths.is_empty(), "{op}: no authorization");
    let arn_prefix = format!("arn:{}:dynamodb:", s.partition);
    for a in &auths {
        assert!(
            a.action.starts_with("dynamodb:"),
            "{op}: action {}",
            a.action
        );
        assert!(
            a.resource == "*" || a.resource.starts_with(&arn_prefix),
            "{op}: resource {}",
            a.resource
        );
        assert!(a.undetermined.len() <= 2, "{op}: {:?}", a.undetermined);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let op = Operation::ALL[usize::from(first) % Operation::ALL.len()];
    let Ok(req) = Request::parse(op, body) else {
        return;
    };
    let tables = req.schema_tables(scope());
    for t in &tables {
        assert!(
            (3..=255).contains(&t.len()),
            "{op}: schema table name {t:?}"
        );
    }
    check(op, &req, &Schemas::new());
    let mut schemas = Schemas::new();
    schemas.insert("T".to_owned(), table_schema());
    check(op, &req, &schemas);
    if !tables.is_empty() {
        for t in tables {
            schemas.insert(t, table_schema());
        }
        check(op, &req, &schemas);
    }
});
