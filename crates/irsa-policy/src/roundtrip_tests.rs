//! Property tests: parse → print → parse is the identity, and printing is stable.

use crate::{Context, EvalInput, Policy, Request, evaluate};
use proptest::prelude::*;
use serde_json::{Value, json};

fn one_or_many(items: Vec<&'static str>) -> impl Strategy<Value = Value> {
    let n = items.len();
    (
        proptest::sample::subsequence(items, 1..=n.min(3)),
        any::<bool>(),
    )
        .prop_map(|(v, single)| {
            if single && v.len() == 1 {
                json!(v[0])
            } else {
                json!(v)
            }
        })
}

fn action() -> impl Strategy<Value = Value> {
    one_or_many(vec![
        "s3:GetObject",
        "s3:*",
        "*",
        "S3:get*",
        "dynamodb:Query",
        "sts:AssumeRoleWithWebIdentity",
        "ec2:Describe?nstances",
    ])
}

fn resource() -> impl Strategy<Value = Value> {
    one_or_many(vec![
        "*",
        "arn:aws:s3:::bucket/*",
        "arn:aws:s3:::bucket/${aws:username}/*",
        "arn:aws:dynamodb:*:111122223333:table/Books*",
        "arn:aws:dynamodb:*",
        "arn:aws:iam::111122223333:role/app",
    ])
}

fn principal() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(json!("*"))),
        one_or_many(vec![
            "111122223333",
            "arn:aws:iam::111122223333:user/alice",
            "*"
        ])
        .prop_map(|v| Some(json!({"AWS": v}))),
        Just(Some(
            json!({"Federated": "arn:aws:iam::111122223333:oidc-provider/oidc.example.com/id/X"})
        )),
        Just(Some(
            json!({"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"], "AWS": "*"})
        )),
    ]
}

fn condition() -> impl Strategy<Value = Option<Value>> {
    let entry = prop_oneof![
        Just(("StringEquals", "aws:PrincipalTag/team", json!("a"))),
        Just(("StringNotLike", "aws:username", json!(["a*", "b?"]))),
        Just((
            "ForAllValues:StringEqualsIgnoreCase",
            "aws:TagKeys",
            json!(["Env", "team"])
        )),
        Just(("ForAnyValue:StringLikeIfExists", "aws:TagKeys", json!("*"))),
        Just(("NumericLessThan", "s3:max-keys", json!(10))),
        Just((
            "DateGreaterThan",
            "aws:CurrentTime",
            json!("2020-01-01T00:00:00Z")
        )),
        Just(("Bool", "aws:SecureTransport", json!(true))),
        Just((
            "IpAddress",
            "aws:SourceIp",
            json!(["10.0.0.0/8", "2001:db8::/32"])
        )),
        Just((
            "ArnLike",
            "aws:SourceArn",
            json!("arn:aws:sns:*:111122223333:*")
        )),
        Just(("Null", "aws:TokenIssueTime", json!("true"))),
        Just((
            "StringEquals",
            "oidc.example.com/id/X:sub",
            json!("system:serviceaccount:a:b")
        )),
    ];
    proptest::option::of(proptest::collection::vec(entry, 1..4).prop_map(|entries| {
        let mut m = serde_json::Map::new();
        for (op, key, v) in entries {
            let block = m.entry(op.to_owned()).or_insert_with(|| json!({}));
            if let Value::Object(b) = block {
                b.insert(key.to_owned(), v);
            }
        }
        Value::Object(m)
    }))
}

fn statement() -> impl Strategy<Value = Value> {
    (
        proptest::option::of("[A-Za-z0-9]{1,6}"),
        any::<bool>(),
        principal(),
        any::<bool>(),
        action(),
        proptest::option::of((any::<bool>(), resource())),
        condition(),
    )
        .prop_map(
            |(sid, allow, principal, not_action, action, resource, condition)| {
                let mut m = serde_json::Map::new();
                if let Some(s) = sid {
                    m.insert("Sid".into(), json!(s));
                }
                m.insert("Effect".into(), json!(if allow { "Allow" } else { "Deny" }));
                if let Some(p) = principal {
                    m.insert("Principal".into(), p);
                }
                m.insert(
                    if not_action { "NotAction" } else { "Action" }.into(),
                    action,
                );
                if let Some((not, r)) = resource {
                    m.insert(if not { "NotResource" } else { "Resource" }.into(), r);
                }
                if let Some(c) = condition {
                    m.insert("Condition".into(), c);
                }
                Value::Object(m)
            },
        )
}

fn policy_json() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just(None),
            Just(Some("2012-10-17")),
            Just(Some("2008-10-17"))
        ],
        proptest::collection::vec(statement(), 1..4),
        any::<bool>(),
    )
        .prop_map(|(version, stmts, single)| {
            let mut m = serde_json::Map::new();
            if let Some(v) = version {
                m.insert("Version".into(), json!(v));
            }
            // Sids must be unique for the policy to parse.
            let mut seen = std::collections::HashSet::new();
            let stmts: Vec<Value> = stmts
                .into_iter()
                .map(|mut s| {
                    if let Some(sid) = s.get("Sid").and_then(Value::as_str).map(str::to_owned)
                        && !seen.insert(sid)
                        && let Some(o) = s.as_object_mut()
                    {
                        o.remove("Sid");
                    }
                    s
                })
                .collect();
            let st = if single && stmts.len() == 1 {
                stmts[0].clone()
            } else {
                json!(stmts)
            };
            m.insert("Statement".into(), st);
            Value::Object(m).to_string()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn parse_print_parse(src in policy_json()) {
        let p = Policy::parse(&src).unwrap();
        let printed = p.to_json();
        let q = Policy::parse(&printed).unwrap();
        prop_assert_eq!(&q, &p);
        prop_assert_eq!(q.to_json(), printed.clone());
        // The printed form is the source itself (same key order and single/array shape).
        prop_assert_eq!(serde_json::from_str::<Value>(&printed).unwrap(), serde_json::from_str::<Value>(&src).unwrap());
        let pretty = Policy::parse(&p.to_json_pretty()).unwrap();
        prop_assert_eq!(pretty, p.clone());
        // Decisions agree.
        let ctx = Context::new().with("aws:username", "alice").with_multi("aws:TagKeys", ["env"]).with("aws:SecureTransport", "true");
        for action in ["s3:GetObject", "dynamodb:Query", "sts:AssumeRoleWithWebIdentity"] {
            let r = Request::new(action, "arn:aws:s3:::bucket/alice/x")
                .with_principal("arn:aws:iam::111122223333:user/alice")
                .with_context(ctx.clone());
            let a = evaluate(&EvalInput { identity_policies: std::slice::from_ref(&p), resource_policy: Some(&p), ..Default::default() }, &r);
            let b = evaluate(&EvalInput { identity_policies: std::slice::from_ref(&q), resource_policy: Some(&q), ..Default::default() }, &r);
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,200}") {
        let _ = Policy::parse(&s);
        let _ = crate::validate(&s, crate::PolicyKind::Trust);
    }

    #[test]
    fn glob_star_matches_any_superstring(a in "[a-z:/]{0,8}", b in "[a-z:/]{0,8}", mid in "[a-z:/]{0,8}") {
        let text = format!("{a}{mid}{b}");
        let star = format!("{a}*{b}");
        let qs = format!("{a}{}{b}", "?".repeat(mid.chars().count()));
        prop_assert!(crate::glob_match(&star, &text));
        prop_assert!(crate::glob_match(&qs, &text));
    }
}
