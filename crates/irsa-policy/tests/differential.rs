//! Differential test: irsa-policy against `@cloud-copilot/iam-simulate`.
//!
//! proptest strategies build a few thousand permission-policy/request cases (identity
//! policies, permission boundaries, session policies, an occasional resource policy) from a
//! fixed seed, and every case is decided by irsa and by the oracle
//! (`tools/iam-simulate-oracle/oracle.mjs`, one node process for the run, one JSON line per
//! case). A disagreement counts as a *known deviation* only when the oracle, given the case
//! with that deviation corrected (see `Deviation`), agrees with irsa; any other disagreement,
//! or a case the oracle refuses, fails the test with the case proptest shrank it to. See
//! docs/policy-differential.md.
//!
//! Knobs: `IRSA_DIFF_CASES` (default 3000), `IRSA_DIFF_SEED` (default fixed),
//! `IRSA_SKIP_EXTERNAL` skips when node or the oracle is missing (see
//! `irsa_test::skip_external`), `IRSA_DIFF_DUMP=path` writes every case tried (shrinking
//! included) as JSON lines.

use proptest::prelude::*;
use proptest::test_runner::{
    Config as ProptestConfig, RngAlgorithm, TestCaseError, TestRng, TestRunner,
};
use serde_json::{Map, Value, json};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

// ---------------------------------------------------------------------------------------
// The engine under test.
// ---------------------------------------------------------------------------------------

mod irsa {
    use irsa_policy::EvalDocument;
    use serde_json::Value;

    /// Decision for one case through the library, from the same document `irsa policy eval`
    /// reads: "Allow" | "ExplicitDeny" | "ImplicitDeny", or an error text.
    pub fn decide(case: &Value) -> Result<String, String> {
        let doc = EvalDocument::parse(&case.to_string()).map_err(|e| format!("irsa: {e}"))?;
        Ok(doc.evaluate().decision.as_str().to_owned())
    }
}

// ---------------------------------------------------------------------------------------
// The oracle.
// ---------------------------------------------------------------------------------------

fn oracle_dir() -> PathBuf {
    irsa_test::workspace_root().join("tools/iam-simulate-oracle")
}

fn oracle_ready() -> Result<(), String> {
    let node = Command::new("node").arg("--version").output();
    if !matches!(node, Ok(ref o) if o.status.success()) {
        return Err("`node` is not on PATH".into());
    }
    let pkg = oracle_dir().join("node_modules/@cloud-copilot/iam-simulate/package.json");
    if !pkg.is_file() {
        return Err(format!("`{}` is missing", pkg.display()));
    }
    Ok(())
}

/// Whether the oracle can run; when it cannot, `irsa_test::missing_external` decides (skip
/// with IRSA_SKIP_EXTERNAL set, else fail) and this returns false.
fn oracle_or_skip() -> bool {
    match oracle_ready() {
        Ok(()) => true,
        Err(why) => {
            irsa_test::missing_external::<()>(
                "the iam-simulate oracle",
                &why,
                "scripts/deps/iam-simulate.sh",
            );
            false
        }
    }
}

/// The oracle: one `node oracle.mjs` process for the whole run, asked one case at a time
/// (one JSON line in, one out).
struct Oracle {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    fn start() -> Oracle {
        let mut child = Command::new("node")
            .arg(oracle_dir().join("oracle.mjs"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node oracle.mjs");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Oracle {
            child,
            stdin,
            stdout,
        }
    }

    /// The oracle's answer for one case.
    fn ask(&mut self, case: &Value) -> Value {
        writeln!(self.stdin, "{case}").expect("write to the oracle");
        self.stdin.flush().expect("write to the oracle");
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).expect("read the oracle");
        assert!(n > 0, "the oracle stopped answering");
        serde_json::from_str(&line).expect("oracle line is JSON")
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ACCOUNT: &str = "111122223333";
const PRINCIPAL: &str = "arn:aws:sts::111122223333:assumed-role/app-role/session-1";
const ROLE: &str = "arn:aws:iam::111122223333:role/app-role";

/// Request targets: (action, resource ARN). Each ARN resolves to exactly one resource type
/// for its action in iam-data, as iam-simulate requires.
const TARGETS: &[(&str, &str)] = &[
    (
        "s3:GetObject",
        "arn:aws:s3:::reports-bucket/2024/q1/summary.csv",
    ),
    (
        "s3:GetObject",
        "arn:aws:s3:::reports-bucket/home/alice/notes.txt",
    ),
    (
        "s3:PutObject",
        "arn:aws:s3:::reports-bucket/home/bob/data.json",
    ),
    ("s3:ListBucket", "arn:aws:s3:::reports-bucket"),
    (
        "dynamodb:Query",
        "arn:aws:dynamodb:us-east-1:111122223333:table/Books",
    ),
    (
        "dynamodb:Query",
        "arn:aws:dynamodb:us-east-1:111122223333:table/Books/index/ByAuthor",
    ),
    (
        "dynamodb:GetItem",
        "arn:aws:dynamodb:us-east-1:111122223333:table/Books",
    ),
    (
        "sqs:SendMessage",
        "arn:aws:sqs:us-east-1:111122223333:orders-queue",
    ),
    (
        "secretsmanager:GetSecretValue",
        "arn:aws:secretsmanager:us-west-2:111122223333:secret:prod/db/password-AbCdEf",
    ),
    (
        "logs:PutLogEvents",
        "arn:aws:logs:us-east-1:111122223333:log-group:/aws/eks/app:log-stream:pod-1",
    ),
    (
        "ec2:StartInstances",
        "arn:aws:ec2:us-east-1:111122223333:instance/i-0123456789abcdef0",
    ),
    (
        "iam:GetRole",
        "arn:aws:iam::111122223333:role/service/app-role",
    ),
];

/// Action patterns that are not derived from the request action.
const OTHER_ACTIONS: &[&str] = &[
    "*",
    "s3:*",
    "s3:Get*",
    "s3:*Object",
    "s3:List*",
    "dynamodb:*",
    "dynamodb:Q*",
    "dynamodb:Get?tem",
    "sqs:Send*",
    "logs:Put*",
    "ec2:Start*",
    "ec2:*Instances",
    "iam:Get*",
    "secretsmanager:GetSecret*",
    "sts:AssumeRole",
    "kms:*",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Str,
    Arn,
    Num,
    Date,
    Epoch,
    Bool,
    Ip,
    Binary,
    Multi,
}

#[derive(Debug)]
struct Key {
    name: &'static str,
    kind: Kind,
    /// Values a request may carry (for `Multi`, elements of the set).
    req: &'static [&'static str],
    /// Values a policy may test against.
    pol: &'static [&'static str],
}

const KEYS: &[Key] = &[
    Key {
        name: "aws:PrincipalTag/team",
        kind: Kind::Str,
        req: &["platform", "payments", "Platform"],
        pol: &[
            "platform",
            "payments",
            "PLATFORM",
            "plat*",
            "pay?ents",
            "*",
            "${aws:PrincipalTag/project}",
            "${aws:username}",
            "${aws:PrincipalTag/costcenter, 'platform'}",
        ],
    },
    Key {
        name: "aws:PrincipalTag/project",
        kind: Kind::Str,
        req: &["platform", "apollo"],
        pol: &["apollo", "APOLLO", "ap*", "${aws:PrincipalTag/team}"],
    },
    Key {
        name: "aws:username",
        kind: Kind::Str,
        req: &["alice", "bob"],
        pol: &[
            "alice",
            "Alice",
            "a*",
            "b?b",
            "${aws:PrincipalTag/team}",
            "${aws:username}",
        ],
    },
    Key {
        name: "aws:RequestedRegion",
        kind: Kind::Str,
        req: &["us-east-1", "eu-west-1"],
        pol: &[
            "us-east-1",
            "us-*",
            "eu-west-?",
            "US-EAST-1",
            "${aws:PrincipalTag/region, 'us-east-1'}",
        ],
    },
    Key {
        name: "aws:PrincipalAccount",
        kind: Kind::Str,
        req: &["111122223333"],
        pol: &["111122223333", "444455556666", "1111*"],
    },
    Key {
        name: "aws:PrincipalArn",
        kind: Kind::Arn,
        req: &[
            "arn:aws:iam::111122223333:role/app-role",
            "arn:aws:iam::444455556666:role/other",
        ],
        pol: &[
            "arn:aws:iam::111122223333:role/app-role",
            "arn:aws:iam::*:role/app-*",
            "arn:aws:iam::111122223333:role/*",
            "arn:aws:iam::111122223333:*",
            "arn:aws:iam::444455556666:role/other",
            "arn:aws:iam::111122223333:role/App-Role",
            "arn:aws:iam::${aws:PrincipalAccount}:role/app-role",
        ],
    },
    Key {
        name: "aws:SourceArn",
        kind: Kind::Arn,
        req: &[
            "arn:aws:sns:us-east-1:111122223333:topic-a",
            "arn:aws:sns:us-east-2:999999999999:store:111122223333:finance",
            "arn:aws:s3:::reports-bucket",
        ],
        pol: &[
            "arn:aws:sns:us-east-1:111122223333:topic-*",
            "arn:aws:sns:*:111122223333:*",
            "arn:aws:s3:::reports-*",
            "arn:aws:sns:us-east-1:111122223333:topic-a",
            "arn:aws:sns:us-east-?:*:*",
        ],
    },
    Key {
        name: "aws:MultiFactorAuthAge",
        kind: Kind::Num,
        req: &["300", "3600", "0"],
        pol: &["300", "3600", "1800", "0", "3600.0", "-1", "299.5"],
    },
    Key {
        name: "aws:CurrentTime",
        kind: Kind::Date,
        req: &["2024-06-15T12:00:00Z", "2023-01-01T00:00:00Z"],
        pol: &[
            "2024-01-01T00:00:00Z",
            "2024-06-15T12:00:00Z",
            "2024-06-15",
            "2024-06-15T14:00:00+02:00",
            "2025-01-01T00:00:00.000Z",
        ],
    },
    Key {
        name: "aws:TokenIssueTime",
        kind: Kind::Date,
        req: &["2024-06-15T11:00:00Z"],
        pol: &["2024-06-15T11:00:00Z", "2024-06-15T10:00:00Z", "2024-06-16"],
    },
    Key {
        name: "aws:EpochTime",
        kind: Kind::Epoch,
        req: &["1718452800"],
        pol: &[
            "1718452800",
            "1704067200",
            "1735689600",
            "2024-01-01T00:00:00Z",
            "2025-01-01T00:00:00Z",
        ],
    },
    Key {
        name: "aws:SecureTransport",
        kind: Kind::Bool,
        req: &["true", "false"],
        pol: &["true", "false"],
    },
    Key {
        name: "aws:MultiFactorAuthPresent",
        kind: Kind::Bool,
        req: &["true", "false"],
        pol: &["true", "false"],
    },
    Key {
        name: "aws:SourceIp",
        kind: Kind::Ip,
        req: &["10.1.2.3", "192.0.2.44", "203.0.113.5", "2001:db8::1"],
        pol: &[
            "10.0.0.0/8",
            "192.0.2.0/24",
            "203.0.113.5",
            "203.0.113.5/32",
            "2001:db8::/32",
            "0.0.0.0/0",
            "10.1.2.0/30",
        ],
    },
    Key {
        name: "aws:PrincipalTag/blob",
        kind: Kind::Binary,
        req: &["QmluYXJ5", "T3RoZXI="],
        pol: &["QmluYXJ5", "T3RoZXI=", "AAAA"],
    },
    Key {
        name: "aws:TagKeys",
        kind: Kind::Multi,
        req: &["env", "team", "owner", "Env"],
        pol: &[
            "env",
            "team",
            "own*",
            "Env",
            "e?v",
            "${aws:PrincipalTag/team}",
        ],
    },
    Key {
        name: "aws:PrincipalServiceNamesList",
        kind: Kind::Multi,
        req: &["ec2.amazonaws.com", "lambda.amazonaws.com"],
        pol: &[
            "ec2.amazonaws.com",
            "*.amazonaws.com",
            "lambda.amazonaws.com",
        ],
    },
    Key {
        name: "dynamodb:LeadingKeys",
        kind: Kind::Multi,
        req: &["alice", "bob", "u-1"],
        pol: &[
            "${aws:username}",
            "alice",
            "u-*",
            "${aws:PrincipalTag/team}",
        ],
    },
];

const STRING_OPS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
];
const ARN_OPS: &[&str] = &["ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike"];
const NUM_OPS: &[&str] = &[
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
];
const DATE_OPS: &[&str] = &[
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
];

fn key_applies(key: &Key, action: &str) -> bool {
    !key.name.starts_with("dynamodb:") || action.starts_with("dynamodb:")
}

// ---------------------------------------------------------------------------------------
// The generator: proptest strategies (shrinking comes with them).
// ---------------------------------------------------------------------------------------

/// True with probability `pct`% (shrinks to false).
fn chance(pct: u32) -> BoxedStrategy<bool> {
    prop::bool::weighted(f64::from(pct) / 100.0).boxed()
}

/// One of `xs` (shrinks towards the first).
fn pick<T: Clone + std::fmt::Debug + 'static>(xs: &'static [T]) -> BoxedStrategy<T> {
    prop::sample::select(xs).boxed()
}

/// A single value when `vals` has one and the coin says so, else the array.
fn one_or_many(vals: Vec<Value>, single: bool) -> Value {
    if vals.len() == 1 && single {
        vals.into_iter().next().unwrap()
    } else {
        Value::Array(vals)
    }
}

fn dedup(vals: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for v in vals {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn applicable_keys(action: &str) -> Vec<&'static Key> {
    KEYS.iter().filter(|k| key_applies(k, action)).collect()
}

/// The request context: each applicable key present with 55 %, its name in lower case
/// with 10 %; multivalued keys get 0–3 distinct values.
fn context(action: &'static str) -> BoxedStrategy<Map<String, Value>> {
    let entries: Vec<BoxedStrategy<Option<(String, Value)>>> = applicable_keys(action)
        .into_iter()
        .map(|key| {
            let value = if key.kind == Kind::Multi {
                prop::collection::vec(pick(key.req), 0..=3)
                    .prop_map(|vs| Value::Array(dedup(vs.into_iter().map(|v| json!(v)).collect())))
                    .boxed()
            } else {
                pick(key.req).prop_map(|v| json!(v)).boxed()
            };
            let entry = (chance(10), value).prop_map(move |(lower, v)| {
                let name = if lower {
                    key.name.to_ascii_lowercase()
                } else {
                    key.name.to_owned()
                };
                (name, v)
            });
            prop::option::weighted(0.55, entry).boxed()
        })
        .collect();
    entries
        .prop_map(|es| es.into_iter().flatten().collect())
        .boxed()
}

/// An action pattern derived from `action` (exact, case-changed, `*` prefix or suffix, `?`,
/// `service:*`) or another service's.
fn action_pattern(action: &'static str) -> BoxedStrategy<String> {
    let (svc, name) = action.split_once(':').unwrap();
    let n = name.len();
    prop_oneof![
        1 => Just(action.to_owned()),
        1 => Just(action.to_ascii_lowercase()),
        1 => Just(format!("{}:{name}", svc.to_ascii_uppercase())),
        1 => (0..n).prop_map(move |i| format!("{svc}:{}*", &name[..i])),
        1 => (1..=n).prop_map(move |i| format!("{svc}:*{}", &name[i..])),
        1 => (0..n).prop_map(move |i| format!("{svc}:{}?{}", &name[..i], &name[i + 1..])),
        1 => Just(format!("{svc}:*")),
        2 => pick(OTHER_ACTIONS).prop_map(str::to_owned),
    ]
    .boxed()
}

/// Index of the n-th `:` in `s` (0-based n).
fn nth_colon(s: &str, n: usize) -> Option<usize> {
    s.match_indices(':').nth(n).map(|(i, _)| i)
}

/// Fixed resource patterns: policy variables, wildcards across fields, other services.
const RESOURCE_PATTERNS: &[&str] = &[
    "arn:aws:s3:::reports-bucket/home/${aws:username}/*",
    "arn:aws:s3:::reports-bucket/home/${aws:username, 'alice'}/*",
    "arn:aws:s3:::reports-bucket/*",
    "arn:aws:s3:::reports-bucket",
    "arn:aws:s3:::*",
    "arn:aws:s3:::reports-bucket/${*}",
    "arn:aws:dynamodb:*:*:table/Books",
    "arn:aws:dynamodb:us-east-1:111122223333:table/Books*",
    "arn:aws:dynamodb:us-east-1:111122223333:table/${aws:PrincipalTag/project}",
    "arn:aws:dynamodb:*",
    "arn:aws:logs:us-east-1:111122223333:log-group:*",
    "arn:aws:logs:*:*:log-group:/aws/eks/*:log-stream:*",
    "arn:aws:secretsmanager:*:111122223333:secret:prod/*",
    "arn:aws:sqs:*:${aws:PrincipalAccount}:orders-*",
    "arn:aws:ec2:us-east-1:111122223333:instance/*",
    "arn:aws:iam::111122223333:role/*",
    "arn:aws:iam::111122223333:role/service/${aws:username}",
];

/// A resource pattern derived from `arn`: exact, `*`, `?`, truncated with `*`, a `*`
/// field, a `*` inside the id, the id in upper case, another target, a trailing `?`s, or
/// one of [`RESOURCE_PATTERNS`].
fn resource_pattern(arn: &'static str) -> BoxedStrategy<String> {
    // S3 and IAM ARNs have no region, and IAM rejects a policy that gives them one
    // ("Resource ... can not contain region information"): keep their region empty.
    let regionless = arn.split(':').nth(3) == Some("");
    let service_end = nth_colon(arn, if regionless { 3 } else { 2 }).unwrap() + 1;
    let res_start = nth_colon(arn, 4).unwrap() + 1; // after the account
    // Where the resource id starts: after the resource type (`table/`, `secret:`,
    // `log-group:`, `role/`); S3 and SQS have none. AWS: "Don't use a wildcard in the
    // `user/`, `group/`, or `policy` part of the ARN" (IAM User Guide, IAM identifiers), and
    // IAM rejects it for IAM ARNs; S3 ARNs need all six fields ("failed legacy parsing").
    // So wildcards go into the resource id only (see docs/policy-differential.md).
    let id_start = if arn.starts_with("arn:aws:s3:") {
        res_start
    } else {
        res_start + arn[res_start..].find(['/', ':']).map_or(0, |i| i + 1)
    };
    let cut_min = if regionless { id_start } else { service_end };
    let n = arn.len();
    let star_field = move |seg: usize| {
        let mut p: Vec<String> = arn.splitn(6, ':').map(str::to_owned).collect();
        if !arn.starts_with("arn:aws:s3:") {
            p[seg] = "*".into();
        }
        p.join(":")
    };
    let star_field_strategy = if regionless {
        Just(star_field(4)).boxed()
    } else {
        (3usize..=4).prop_map(star_field).boxed()
    };
    prop_oneof![
        2 => Just(arn.to_owned()),
        1 => Just("*".to_owned()),
        1 => Just(format!("{}?", &arn[..n - 1])),
        1 => (cut_min..=n).prop_map(move |i| format!("{}*", &arn[..i])),
        1 => star_field_strategy,
        1 => (id_start..n).prop_map(move |i| format!("{}*{}", &arn[..i], &arn[i + 1..])),
        1 => Just(format!("{}{}", &arn[..id_start], arn[id_start..].to_ascii_uppercase())),
        1 => pick(TARGETS).prop_map(|(_, r)| r.to_owned()),
        1 => Just(format!("{}*", &arn[..if regionless { id_start } else { res_start }])),
        // a `?` per character of the last 3
        1 => Just(format!("{}???", &arn[..n - 3])),
        3 => pick(RESOURCE_PATTERNS).prop_map(str::to_owned),
    ]
    .boxed()
}

/// An operator for `key`: `Null` (6 %), or one of its family, with a set prefix (mostly on
/// multivalued keys, sometimes on single-valued strings) and `IfExists` (20 %).
fn operator(key: &'static Key) -> BoxedStrategy<String> {
    let base: BoxedStrategy<&'static str> = match key.kind {
        Kind::Str | Kind::Multi => pick(STRING_OPS),
        Kind::Arn => prop_oneof![7 => pick(ARN_OPS), 3 => pick(STRING_OPS)].boxed(),
        Kind::Num => pick(NUM_OPS),
        Kind::Date | Kind::Epoch => pick(DATE_OPS),
        Kind::Bool => Just("Bool").boxed(),
        Kind::Ip => pick(&["IpAddress", "NotIpAddress"]),
        Kind::Binary => Just("BinaryEquals").boxed(),
    };
    let set: BoxedStrategy<&'static str> = match key.kind {
        Kind::Multi => prop_oneof![
            85 => pick(&["ForAllValues:", "ForAnyValue:"]),
            15 => Just(""),
        ]
        .boxed(),
        Kind::Str => prop_oneof![
            90 => Just(""),
            10 => pick(&["ForAllValues:", "ForAnyValue:"]),
        ]
        .boxed(),
        _ => Just("").boxed(),
    };
    prop_oneof![
        94 => (set, base, chance(20)).prop_map(|(set, base, if_exists)| {
            format!("{set}{base}{}", if if_exists { "IfExists" } else { "" })
        }),
        6 => Just("Null".to_owned()),
    ]
    .boxed()
}

/// One condition entry: (operator, key name, values).
fn condition_entry(action: &'static str) -> BoxedStrategy<(String, String, Value)> {
    pick_key(action)
        .prop_flat_map(|key| {
            (operator(key), chance(10), chance(60)).prop_flat_map(move |(op, upper, single)| {
                let values: BoxedStrategy<Vec<Value>> = if op == "Null" {
                    pick(&["true", "false"])
                        .prop_map(|v| vec![json!(v)])
                        .boxed()
                } else {
                    prop::collection::vec(pick(key.pol), 1..=3)
                        .prop_map(|vs| dedup(vs.into_iter().map(|v| json!(v)).collect()))
                        .boxed()
                };
                let name = if upper {
                    key.name.to_ascii_uppercase()
                } else {
                    key.name.to_owned()
                };
                values.prop_map(move |vs| (op.clone(), name.clone(), one_or_many(vs, single)))
            })
        })
        .boxed()
}

fn pick_key(action: &'static str) -> BoxedStrategy<&'static Key> {
    let keys: Vec<&'static Key> = applicable_keys(action);
    prop::sample::select(keys).boxed()
}

/// A `Condition` block of 1–2 entries.
fn condition(action: &'static str) -> BoxedStrategy<Value> {
    prop::collection::vec(condition_entry(action), 1..=2)
        .prop_map(|entries| {
            let mut cond = Map::new();
            for (op, name, values) in entries {
                let block = cond.entry(op).or_insert_with(|| json!({}));
                block.as_object_mut().unwrap().insert(name, values);
            }
            Value::Object(cond)
        })
        .boxed()
}

/// A statement about `action` on `resource`: Allow with `allow_pct`%, 1–3 actions
/// (`NotAction` 12 %), 1–2 resources (`NotResource` 12 %), a Sid (30 %), a condition (55 %).
fn statement(action: &'static str, resource: &'static str, allow_pct: u32) -> BoxedStrategy<Value> {
    let sid = prop::option::weighted(0.30, 0..1000u32);
    let actions = (
        prop::collection::vec(action_pattern(action), 1..=3),
        chance(12),
        chance(60),
    );
    let resources = (
        prop::collection::vec(resource_pattern(resource), 1..=2),
        chance(12),
        chance(60),
    );
    let cond = prop::option::weighted(0.55, condition(action));
    (sid, chance(allow_pct), actions, resources, cond)
        .prop_map(
            |(sid, allow, (acts, not_action, single_a), (ress, not_resource, single_r), cond)| {
                let mut s = Map::new();
                if let Some(n) = sid {
                    s.insert("Sid".into(), json!(format!("S{n}")));
                }
                s.insert("Effect".into(), json!(if allow { "Allow" } else { "Deny" }));
                let akey = if not_action { "NotAction" } else { "Action" };
                let acts = acts.into_iter().map(Value::String).collect();
                s.insert(akey.into(), one_or_many(acts, single_a));
                let rkey = if not_resource {
                    "NotResource"
                } else {
                    "Resource"
                };
                let ress = ress.into_iter().map(Value::String).collect();
                s.insert(rkey.into(), one_or_many(ress, single_r));
                if let Some(c) = cond {
                    s.insert("Condition".into(), c);
                }
                Value::Object(s)
            },
        )
        .boxed()
}

/// A policy of 1–3 statements (unique Sids; a single statement as an object with 40 %).
fn policy(action: &'static str, resource: &'static str, allow_pct: u32) -> BoxedStrategy<Value> {
    (
        prop::collection::vec(statement(action, resource, allow_pct), 1..=3),
        chance(40),
    )
        .prop_map(|(mut stmts, single)| {
            // Sids must be unique within a policy.
            let mut seen = std::collections::HashSet::new();
            for s in &mut stmts {
                if let Some(sid) = s.get("Sid").and_then(Value::as_str).map(str::to_owned)
                    && !seen.insert(sid)
                {
                    s.as_object_mut().unwrap().remove("Sid");
                }
            }
            let statement = if stmts.len() == 1 && single {
                stmts.remove(0)
            } else {
                Value::Array(stmts)
            };
            json!({"Version": "2012-10-17", "Statement": statement})
        })
        .boxed()
}

const RESOURCE_PRINCIPALS: &[&str] = &[
    "*",
    "arn:aws:iam::111122223333:root",
    ACCOUNT,
    PRINCIPAL,
    ROLE,
    "arn:aws:iam::444455556666:root",
];

/// A resource policy of 1–2 statements, each naming a principal (`Resource`, never
/// `NotResource`).
fn resource_policy(action: &'static str, resource: &'static str) -> BoxedStrategy<Value> {
    prop::collection::vec(
        (statement(action, resource, 75), pick(RESOURCE_PRINCIPALS)),
        1..=2,
    )
    .prop_map(|stmts| {
        let stmts: Vec<Value> = stmts
            .into_iter()
            .map(|(mut s, principal)| {
                let principal = if principal == "*" {
                    json!("*")
                } else {
                    json!({ "AWS": principal })
                };
                let obj = s.as_object_mut().unwrap();
                obj.insert("Principal".into(), principal);
                // NotResource in resource policies is legal but rare; keep Resource there.
                if let Some(r) = obj.remove("NotResource") {
                    obj.insert("Resource".into(), r);
                }
                s
            })
            .collect();
        json!({"Version": "2012-10-17", "Statement": stmts})
    })
    .boxed()
}

/// A case in the `irsa policy eval` input shape: a request for one of [`TARGETS`] with its
/// context, 1–3 identity policies, a permission boundary (30 %), a session policy (30 %)
/// and a resource policy (8 %).
fn case() -> BoxedStrategy<Value> {
    pick(TARGETS)
        .prop_flat_map(|(action, resource)| {
            (
                context(action),
                prop::collection::vec(policy(action, resource, 75), 1..=3),
                prop::option::weighted(0.30, policy(action, resource, 85)),
                prop::option::weighted(0.30, policy(action, resource, 85)),
                prop::option::weighted(0.08, resource_policy(action, resource)),
            )
                .prop_map(move |(context, identity, boundary, session, resource_policy)| {
                    let mut case = json!({
                        "request": {"action": action, "resource": resource, "principal": PRINCIPAL, "context": context},
                        "identityPolicies": identity,
                    });
                    let obj = case.as_object_mut().unwrap();
                    if let Some(b) = boundary {
                        obj.insert("permissionBoundaries".into(), json!([b]));
                    }
                    if let Some(s) = session {
                        obj.insert("sessionPolicies".into(), json!([s]));
                    }
                    if let Some(r) = resource_policy {
                        obj.insert("resourcePolicy".into(), r);
                    }
                    case
                })
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------
// Known oracle deviations. Each one rewrites a case so that the oracle computes what the
// AWS documentation says; a disagreement is a known deviation only if the rewritten case
// makes the oracle agree with irsa.
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Deviation {
    /// iam-simulate reads epoch values in Date conditions as milliseconds; AWS documents
    /// `aws:EpochTime` in seconds (IAM User Guide, "AWS global condition context keys",
    /// aws:EpochTime; "IAM JSON policy elements: Condition operators", Date condition
    /// operators). Fix: multiply every all-digit Date value (policy and request) by 1000.
    EpochMillis,
    /// iam-simulate says an unresolved policy variable never matches, also inside negated
    /// operators; AWS: "inverted condition operators like StringNotEquals or StringNotLike
    /// do match against a null value" (IAM User Guide, "IAM policy elements: Variables and
    /// tags", "Request information that you can use for policy variables" / no value).
    /// Fix: replace such a value of a negated operator by a literal that matches nothing.
    UnresolvedVariableNegation,
    /// iam-simulate: a plain (non-set) operator on a multivalued request key never matches.
    /// AWS only says multivalued keys "require a condition set operator" (IAM User Guide,
    /// "Single-valued vs. multivalued context keys"). Fix: read the plain operator as
    /// ForAnyValue (positive) / ForAllValues (negated), i.e. any value matches / none does.
    PlainOperatorOnMultivaluedKey,
    /// iam-simulate splits an Arn* condition value on `:` before substituting policy
    /// variables, so `arn:aws:iam::${aws:PrincipalAccount}:role/x` never matches. AWS allows
    /// variables in ARN condition values (IAM User Guide, "Condition operators", ARN
    /// condition operators: "Policy variables – Supported"). Fix: substitute resolvable
    /// variables in Arn* values before handing them over.
    ArnConditionVariable,
    /// iam-simulate ignores `IfExists` on `ForAnyValue:`/`ForAllValues:` operators. AWS: "If
    /// the key is not present, evaluate the condition element as true" (IAM User Guide,
    /// "Condition operators", …IfExists condition operators). Fix: drop such a key from
    /// the condition when the request lacks it.
    SetOperatorIfExists,
    /// iam-simulate: `0.0.0.0/0` does not contain every IPv4 address (32-bit shift), and a
    /// bare address (`203.0.113.5`) under NotIpAddress is false for a request of the other
    /// family. AWS: NotIpAddress is "All IP addresses except the specified IP address or
    /// range" (IAM User Guide, "Condition operators", IP address condition operators).
    /// Fix: write bare addresses as /32 or /128 and `0.0.0.0/0` as two /1 ranges.
    IpAddressEdgeCases,
    /// Undocumented, irsa's choice: a context key whose value is an empty set is treated as
    /// missing (also by `Null` and `…IfExists`); iam-simulate treats it as present. AWS
    /// documents the empty set only for the set operators, where "a null data set" behaves
    /// like a missing key (IAM User Guide, "Single-valued vs. multivalued context keys").
    /// Fix: remove empty-set keys from the request.
    EmptySetAsMissing,
    /// A same-account resource-policy Allow for `Principal: "*"` is not limited by the session
    /// policy or boundary; iam-simulate limits it like an Allow naming the role. AWS:
    /// "Permissions boundaries and session policies do not limit permissions granted using
    /// the aws:PrincipalArn condition key with a wildcard(*) in the Principal element" (IAM
    /// User Guide, enforcement code logic, resource-based policies). Fix: name the session
    /// ARN instead of `*`.
    WildcardPrincipalNamesSession,
    /// iam-simulate limits a same-account resource-policy Allow that names the caller's
    /// session ARN by the session policy. AWS: "A resource-based policy can specify the ARN
    /// of the session as a principal. ... The resource-based policy permissions are not
    /// limited by the session policies" (IAM User Guide, "Policies and permissions", session
    /// policies), nor by an implicit deny in a permissions boundary ("Policy evaluation
    /// logic"). Fix: copy those Allow statements (without Principal) into the session and
    /// boundary policies, so they stop limiting exactly what the resource policy grants.
    SessionArnResourcePolicy,
    /// iam-simulate: a `NotResource` entry that is a short ARN (`arn:aws:dynamodb:*`) or
    /// holds an unresolvable policy variable never lets the statement apply. AWS: a trailing
    /// `*` "can expand to match beyond colon boundaries" (IAM User Guide, "IAM JSON policy
    /// elements: Resource"), and an entry with a variable that has no value "will not match
    /// any resource" (IAM User Guide, "Policy variables", no value); NotResource applies to
    /// every resource its entries do not match ("IAM JSON policy elements: NotResource").
    /// Fix: pad short ARNs with `:*` to six fields and replace unresolvable entries by an
    /// ARN that matches nothing.
    NotResourceEntries,
    /// iam-simulate lets a federated user session (`GetFederationToken`) without a session
    /// policy act with its user's permissions. AWS: "If you do not pass a policy to this
    /// operation, then the resulting federated user session has no permissions" except those
    /// granted to it directly (IAM User Guide, enforcement code logic, Session policies). Fix:
    /// give such a case a session policy that allows nothing.
    FederatedUserWithoutSessionPolicy,
}

/// Every statement of every policy of a case.
fn statements_mut(case: &mut Value) -> Vec<&mut Value> {
    let mut out = Vec::new();
    let obj = case.as_object_mut().unwrap();
    for (k, v) in obj.iter_mut() {
        let policies: Vec<&mut Value> = match k.as_str() {
            "identityPolicies" | "permissionBoundaries" | "sessionPolicies" => v
                .as_array_mut()
                .map(|a| a.iter_mut().collect())
                .unwrap_or_default(),
            "resourcePolicy" => vec![v],
            _ => continue,
        };
        for p in policies {
            match p.get_mut("Statement") {
                Some(Value::Array(a)) => out.extend(a.iter_mut()),
                Some(other) => out.push(other),
                None => {}
            }
        }
    }
    out
}

fn conditions_mut(case: &mut Value) -> Vec<&mut Map<String, Value>> {
    statements_mut(case)
        .into_iter()
        .filter_map(|s| s.get_mut("Condition").and_then(Value::as_object_mut))
        .collect()
}

fn base_operator(op: &str) -> &str {
    let op = op.split_once(':').map_or(op, |(_, b)| b);
    op.strip_suffix("IfExists").unwrap_or(op)
}

fn values_mut(v: &mut Value) -> Vec<&mut Value> {
    match v {
        Value::Array(a) => a.iter_mut().collect(),
        other => vec![other],
    }
}

fn context_get<'a>(case: &'a Value, key: &str) -> Option<&'a Value> {
    case["request"]["context"]
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Variable names in a policy value that do not resolve (key missing, no default).
fn has_unresolved_variable(case: &Value, value: &str) -> bool {
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        let Some(j) = rest[i..].find('}') else { break };
        let inner = &rest[i + 2..i + j];
        rest = &rest[i + j + 1..];
        if matches!(inner, "*" | "?" | "$") || inner.contains(", '") {
            continue;
        }
        match context_get(case, inner.trim()) {
            Some(Value::String(_)) => {}
            _ => return true,
        }
    }
    false
}

const DEVIATIONS: [Deviation; 11] = [
    // Applied in this order; each sees the case as corrected by the ones before it.
    Deviation::FederatedUserWithoutSessionPolicy,
    Deviation::EmptySetAsMissing,
    Deviation::WildcardPrincipalNamesSession,
    Deviation::SessionArnResourcePolicy,
    Deviation::EpochMillis,
    Deviation::UnresolvedVariableNegation,
    Deviation::PlainOperatorOnMultivaluedKey,
    Deviation::ArnConditionVariable,
    Deviation::SetOperatorIfExists,
    Deviation::IpAddressEdgeCases,
    Deviation::NotResourceEntries,
];

/// `value` with every resolvable `${key}` / `${key, 'default'}` substituted.
fn substitute_variables(case: &Value, value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find("${") {
        let Some(j) = rest[i..].find('}') else { break };
        let inner = &rest[i + 2..i + j];
        out.push_str(&rest[..i]);
        let (name, default) = match inner.split_once(", '") {
            Some((n, d)) => (n.trim(), d.strip_suffix('\'')),
            None => (inner.trim(), None),
        };
        match (context_get(case, name), default) {
            (Some(Value::String(v)), _) => out.push_str(v),
            (_, Some(d)) => out.push_str(d),
            _ => out.push_str(&rest[i..i + j + 1]),
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    out
}

/// Rewrites `fixed` (a copy of `original`) to correct one deviation; true if anything changed.
fn correct(original: &Value, fixed: &mut Value, dev: Deviation) -> bool {
    let mut changed = false;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match dev {
        Deviation::EpochMillis => {
            let mut date_keys: Vec<String> = Vec::new();
            for cond in conditions_mut(fixed) {
                for (op, block) in cond.iter_mut() {
                    if !base_operator(op).starts_with("Date") {
                        continue;
                    }
                    for (key, vals) in block.as_object_mut().into_iter().flatten() {
                        date_keys.push(key.to_ascii_lowercase());
                        for v in values_mut(vals) {
                            if let Some(s) = v.as_str().filter(|s| all_digits(s)) {
                                *v = json!(format!("{s}000"));
                                changed = true;
                            }
                        }
                    }
                }
            }
            if let Some(ctx) = fixed["request"]["context"].as_object_mut() {
                for (k, v) in ctx.iter_mut() {
                    if date_keys.contains(&k.to_ascii_lowercase())
                        && let Some(s) = v.as_str().filter(|s| all_digits(s))
                    {
                        *v = json!(format!("{s}000"));
                        changed = true;
                    }
                }
            }
        }
        Deviation::UnresolvedVariableNegation => {
            for cond in conditions_mut(fixed) {
                for (op, block) in cond.iter_mut() {
                    let base = base_operator(op);
                    if !(base.contains("Not")
                        && (base.starts_with("String") || base.starts_with("Arn")))
                    {
                        continue;
                    }
                    for (_, vals) in block.as_object_mut().into_iter().flatten() {
                        for v in values_mut(vals) {
                            if v.as_str()
                                .is_some_and(|s| has_unresolved_variable(original, s))
                            {
                                *v = if base.starts_with("Arn") {
                                    json!("arn:aws:none:::unresolved-policy-variable")
                                } else {
                                    json!("\u{1}unresolved-policy-variable")
                                };
                                changed = true;
                            }
                        }
                    }
                }
            }
        }
        Deviation::PlainOperatorOnMultivaluedKey => {
            for cond in conditions_mut(fixed) {
                let ops: Vec<String> = cond.keys().cloned().collect();
                for op in ops {
                    if op.contains(':') || op == "Null" {
                        continue;
                    }
                    let block = cond.get_mut(&op).unwrap().as_object_mut().unwrap();
                    let multi: Vec<String> = block
                        .keys()
                        .filter(|k| matches!(context_get(original, k), Some(Value::Array(_))))
                        .cloned()
                        .collect();
                    let moved: Vec<(String, Value)> = multi
                        .into_iter()
                        .map(|k| {
                            let v = block.remove(&k).unwrap();
                            (k, v)
                        })
                        .collect();
                    let set = if base_operator(&op).contains("Not") {
                        "ForAllValues"
                    } else {
                        "ForAnyValue"
                    };
                    for (k, v) in moved {
                        let entry = cond
                            .entry(format!("{set}:{op}"))
                            .or_insert_with(|| json!({}));
                        entry.as_object_mut().unwrap().insert(k, v);
                        changed = true;
                    }
                    if cond
                        .get(&op)
                        .and_then(Value::as_object)
                        .is_some_and(Map::is_empty)
                    {
                        cond.remove(&op);
                    }
                }
            }
        }
        Deviation::ArnConditionVariable => {
            for cond in conditions_mut(fixed) {
                for (op, block) in cond.iter_mut() {
                    if !base_operator(op).starts_with("Arn") {
                        continue;
                    }
                    for (_, vals) in block.as_object_mut().into_iter().flatten() {
                        for v in values_mut(vals) {
                            let Some(s) = v.as_str() else { continue };
                            let sub = substitute_variables(original, s);
                            if sub != s {
                                *v = json!(sub);
                                changed = true;
                            }
                        }
                    }
                }
            }
        }
        Deviation::SetOperatorIfExists => {
            for cond in conditions_mut(fixed) {
                for (op, block) in cond.iter_mut() {
                    if !(op.contains(':') && op.ends_with("IfExists")) {
                        continue;
                    }
                    let Some(b) = block.as_object_mut() else {
                        continue;
                    };
                    let before = b.len();
                    b.retain(|k, _| context_get(original, k).is_some());
                    changed |= b.len() != before;
                }
                cond.retain(|_, b| b.as_object().is_none_or(|b| !b.is_empty()));
            }
            remove_empty_conditions(fixed);
        }
        Deviation::IpAddressEdgeCases => {
            for cond in conditions_mut(fixed) {
                for (op, block) in cond.iter_mut() {
                    if !base_operator(op).ends_with("IpAddress") {
                        continue;
                    }
                    for (_, vals) in block.as_object_mut().into_iter().flatten() {
                        let list: Vec<String> = values_mut(vals)
                            .into_iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect();
                        let mut new = Vec::new();
                        for ip in &list {
                            match ip.as_str() {
                                "0.0.0.0/0" => {
                                    new.push(json!("0.0.0.0/1"));
                                    new.push(json!("128.0.0.0/1"));
                                }
                                s if !s.contains('/') && s.contains(':') => {
                                    new.push(json!(format!("{s}/128")))
                                }
                                s if !s.contains('/') => new.push(json!(format!("{s}/32"))),
                                s => new.push(json!(s)),
                            }
                        }
                        let new = Value::Array(new);
                        if new != Value::Array(list.iter().map(|s| json!(s)).collect()) {
                            *vals = new;
                            changed = true;
                        }
                    }
                }
            }
        }
        Deviation::WildcardPrincipalNamesSession => {
            let principal = original["request"]["principal"].clone();
            if let Some(Value::Array(stmts)) = fixed
                .get_mut("resourcePolicy")
                .and_then(|p| p.get_mut("Statement"))
            {
                for st in stmts {
                    let p = st.get("Principal");
                    if p == Some(&json!("*")) || p == Some(&json!({"AWS": "*"})) {
                        st["Principal"] = json!({"AWS": principal.clone()});
                        changed = true;
                    }
                }
            }
        }
        Deviation::SessionArnResourcePolicy => {
            let session = original["request"]["principal"].clone();
            let mut grants: Vec<Value> = Vec::new();
            if let Some(Value::Array(stmts)) = original
                .get("resourcePolicy")
                .and_then(|p| p.get("Statement"))
            {
                for st in stmts {
                    let names_session = match st.get("Principal").and_then(|p| p.get("AWS")) {
                        Some(Value::Array(a)) => a.contains(&session),
                        Some(v) => *v == session,
                        None => false,
                    };
                    if st["Effect"] == "Allow" && names_session {
                        let mut g = st.clone();
                        let g_obj = g.as_object_mut().unwrap();
                        g_obj.remove("Principal");
                        g_obj.remove("Sid");
                        grants.push(g);
                    }
                }
            }
            if !grants.is_empty() {
                for field in ["sessionPolicies", "permissionBoundaries"] {
                    for p in fixed
                        .get_mut(field)
                        .and_then(Value::as_array_mut)
                        .into_iter()
                        .flatten()
                    {
                        let mut stmts = match p["Statement"].take() {
                            Value::Array(a) => a,
                            other => vec![other],
                        };
                        stmts.extend(grants.iter().cloned());
                        p["Statement"] = Value::Array(stmts);
                        changed = true;
                    }
                }
            }
        }
        Deviation::NotResourceEntries => {
            for st in statements_mut(fixed) {
                let Some(nr) = st.get_mut("NotResource") else {
                    continue;
                };
                for v in values_mut(nr) {
                    let Some(arn) = v.as_str().map(str::to_owned) else {
                        continue;
                    };
                    if arn == "*" {
                        continue;
                    }
                    let new = if has_unresolved_variable(original, &arn) {
                        "arn:aws:s3:::unresolved-policy-variable-matches-nothing".to_owned()
                    } else if arn.split(':').count() < 6 && arn.ends_with('*') {
                        let mut a = arn.clone();
                        while a.split(':').count() < 6 {
                            a.push_str(":*");
                        }
                        a
                    } else {
                        continue;
                    };
                    *v = json!(new);
                    changed = true;
                }
            }
        }
        Deviation::FederatedUserWithoutSessionPolicy => {
            let federated = original["request"]["principal"]
                .as_str()
                .and_then(|p| p.strip_prefix("arn:aws:sts::"))
                .and_then(|p| p.split_once(':'))
                .is_some_and(|(_, r)| r.starts_with("federated-user/"));
            let no_session = fixed
                .get("sessionPolicies")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
            if federated && no_session {
                fixed["sessionPolicies"] = json!([{
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "ec2:DescribeImages",
                                   "Resource": "*"}]
                }]);
                changed = true;
            }
        }
        Deviation::EmptySetAsMissing => {
            if let Some(ctx) = fixed["request"]["context"].as_object_mut() {
                let before = ctx.len();
                ctx.retain(|_, v| v.as_array().is_none_or(|a| !a.is_empty()));
                changed = ctx.len() != before;
            }
        }
    }
    changed
}

/// Removes `Condition` objects left empty by a correction.
fn remove_empty_conditions(case: &mut Value) {
    for s in statements_mut(case) {
        if s.get("Condition")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            s.as_object_mut().unwrap().remove("Condition");
        }
    }
}

/// Every non-empty combination of deviations that applies to `case`, smallest first, with
/// the case corrected for exactly that combination.
fn corrections(case: &Value) -> Corrections {
    // A deviation applies if it changes the case, alone or after the ones before it.
    let mut full = case.clone();
    let applicable: Vec<Deviation> = DEVIATIONS
        .into_iter()
        .filter(|d| {
            let before = full.clone();
            let after_others = correct(&before, &mut full, *d);
            after_others || correct(case, &mut case.clone(), *d)
        })
        .collect();
    let mut out = Vec::new();
    for mask in 1u32..(1 << applicable.len()) {
        let devs: Vec<Deviation> = (0..applicable.len())
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| applicable[i])
            .collect();
        let mut fixed = case.clone();
        for d in &devs {
            let before = fixed.clone();
            correct(&before, &mut fixed, *d);
        }
        out.push((devs, fixed));
    }
    out.sort_by_key(|(d, _)| d.len());
    out
}

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Agreed(String),
    Known(Vec<Deviation>),
    Disagreed {
        irsa: String,
        oracle: String,
    },
    /// The oracle refused the case or dropped a context key: a generator bug.
    OracleRefused(Value),
}

/// Corrected copies of a case, each with the deviations it corrects.
type Corrections = Vec<(Vec<Deviation>, Value)>;

/// Decides a case with irsa and the oracle and classifies it; a disagreement is re-asked
/// with its known deviations corrected, each applicable combination separately, and the
/// smallest combination that makes the oracle agree names it.
fn classify(oracle: &mut Oracle, case: &Value) -> Outcome {
    let o = oracle.ask(case);
    let decision = o.get("decision").and_then(Value::as_str);
    let Some(theirs) = decision.filter(|_| o.get("ignoredContextKeys").is_none()) else {
        return Outcome::OracleRefused(o);
    };
    let mine = irsa::decide(case).unwrap_or_else(|e| format!("error: {e}"));
    if mine == theirs {
        return Outcome::Agreed(mine);
    }
    for (devs, fixed) in corrections(case) {
        let o = oracle.ask(&fixed);
        if o.get("decision").and_then(Value::as_str) == Some(mine.as_str()) {
            return Outcome::Known(devs);
        }
    }
    Outcome::Disagreed {
        irsa: mine,
        oracle: theirs.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------

/// Tallies of a run.
#[derive(Default)]
struct Tally {
    decisions: BTreeMap<String, usize>,
    known: BTreeMap<Vec<Deviation>, usize>,
}

#[test]
fn differential_against_iam_simulate() {
    if !oracle_or_skip() {
        return;
    }

    let env = |name: &str| std::env::var(name).ok();
    let n: u32 = env("IRSA_DIFF_CASES")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = env("IRSA_DIFF_SEED")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1b5a_d1ff_2024);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = ProptestConfig {
        cases: n,
        failure_persistence: None,
        max_shrink_iters: 20_000,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let dump = std::env::var_os("IRSA_DIFF_DUMP").map(|p| {
        RefCell::new(std::io::BufWriter::new(
            std::fs::File::create(p).expect("create IRSA_DIFF_DUMP"),
        ))
    });

    let oracle = RefCell::new(Oracle::start());
    let tally = RefCell::new(Tally::default());
    let started = std::time::Instant::now();
    let result = runner.run(&case(), |case| {
        if let Some(d) = &dump {
            writeln!(d.borrow_mut(), "{case}").unwrap();
        }
        match classify(&mut oracle.borrow_mut(), &case) {
            Outcome::Agreed(d) => *tally.borrow_mut().decisions.entry(d).or_default() += 1,
            Outcome::Known(devs) => *tally.borrow_mut().known.entry(devs).or_default() += 1,
            Outcome::Disagreed { irsa, oracle } => {
                return Err(TestCaseError::fail(format!(
                    "disagreement: irsa={irsa} iam-simulate={oracle}"
                )));
            }
            Outcome::OracleRefused(v) => {
                return Err(TestCaseError::fail(format!(
                    "the oracle could not evaluate the case (generator bug): {v}"
                )));
            }
        }
        Ok(())
    });
    let secs = started.elapsed().as_secs_f64();
    if let Some(d) = &dump {
        d.borrow_mut().flush().unwrap();
    }
    if let Err(e) = result {
        // proptest shrank the case: `e` holds the minimal failing case.
        panic!("differential vs iam-simulate (seed {seed}): {e}");
    }

    let tally = tally.into_inner();
    let agreed: usize = tally.decisions.values().sum();
    let known_total: usize = tally.known.values().sum();
    println!(
        "differential: seed {seed}, {n} cases in {secs:.1}s; agreed decisions {:?}",
        tally.decisions
    );
    for (devs, count) in &tally.known {
        println!("  known deviation {devs:?}: {count}");
    }
    // Straight to stderr, past the test harness's capture, so the tally shows on success too.
    let summary = format!(
        "differential vs iam-simulate: {agreed} agreed, {known_total} known-deviation, 0 disagreed\n"
    );
    let _ = std::io::stderr().write_all(summary.as_bytes());
    assert_eq!(
        agreed + known_total,
        n as usize,
        "every case is decided exactly once"
    );
    assert!(
        agreed > n as usize * 9 / 10,
        "too few agreeing cases: {agreed} of {n}"
    );
}

// ---------------------------------------------------------------------------------------
// The resource-policy combination corpus, checked three ways.
// ---------------------------------------------------------------------------------------

/// Every case of `tests/cases/resource-combinations/` (written by
/// `tests/gen_resource_combinations.py`) on which iam-simulate's decision differs from the
/// documented one, with the deviations whose correction makes it agree. Sorted by case name.
/// The test asserts this list exactly: a case leaving it or joining it fails.
const COMBINATION_DISAGREEMENTS: &[(&str, &[Deviation])] = &[
    (
        "cross-federated-user-identity-allows-rp-account-boundary-none-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "cross-federated-user-identity-allows-rp-federated-user-boundary-none-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "cross-federated-user-identity-allows-rp-issuing-user-boundary-none-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "cross-federated-user-identity-allows-rp-star-boundary-none-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "same-federated-user-identity-allows-rp-absent-boundary-allows-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "same-federated-user-identity-allows-rp-absent-boundary-none-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "same-federated-user-identity-allows-rp-account-boundary-allows-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "same-federated-user-identity-allows-rp-account-boundary-none-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "same-federated-user-identity-allows-rp-federated-user-boundary-allows-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-federated-user-identity-allows-rp-federated-user-boundary-blocks-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-federated-user-identity-allows-rp-federated-user-boundary-none-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-federated-user-identity-allows-rp-issuing-user-boundary-allows-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "same-federated-user-identity-allows-rp-issuing-user-boundary-none-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "same-federated-user-identity-allows-rp-star-boundary-allows-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-federated-user-identity-allows-rp-star-boundary-blocks-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-federated-user-identity-allows-rp-star-boundary-none-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-federated-user-identity-none-rp-federated-user-boundary-allows-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-federated-user-identity-none-rp-federated-user-boundary-blocks-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-federated-user-identity-none-rp-federated-user-boundary-none-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-federated-user-identity-none-rp-issuing-user-boundary-allows-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "same-federated-user-identity-none-rp-issuing-user-boundary-none-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "same-federated-user-identity-none-rp-star-boundary-allows-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-federated-user-identity-none-rp-star-boundary-blocks-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-federated-user-identity-none-rp-star-boundary-none-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-federated-user-identity-other-rp-federated-user-boundary-allows-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-federated-user-identity-other-rp-federated-user-boundary-blocks-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-federated-user-identity-other-rp-federated-user-boundary-none-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-federated-user-identity-other-rp-issuing-user-boundary-allows-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "same-federated-user-identity-other-rp-issuing-user-boundary-none-session-none",
        FEDERATED_NO_SESSION_POLICY,
    ),
    (
        "same-federated-user-identity-other-rp-star-boundary-allows-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-federated-user-identity-other-rp-star-boundary-blocks-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-federated-user-identity-other-rp-star-boundary-none-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-role-session-identity-allows-rp-session-boundary-allows-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-role-session-identity-allows-rp-session-boundary-blocks-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-role-session-identity-allows-rp-session-boundary-none-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-role-session-identity-allows-rp-star-boundary-allows-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-role-session-identity-allows-rp-star-boundary-blocks-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-role-session-identity-allows-rp-star-boundary-none-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-role-session-identity-none-rp-session-boundary-allows-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-role-session-identity-none-rp-session-boundary-blocks-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-role-session-identity-none-rp-session-boundary-none-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-role-session-identity-none-rp-star-boundary-allows-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-role-session-identity-none-rp-star-boundary-blocks-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-role-session-identity-none-rp-star-boundary-none-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-role-session-identity-other-rp-session-boundary-allows-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-role-session-identity-other-rp-session-boundary-blocks-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-role-session-identity-other-rp-session-boundary-none-session-blocks",
        SESSION_ARN_GRANT,
    ),
    (
        "same-role-session-identity-other-rp-star-boundary-allows-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-role-session-identity-other-rp-star-boundary-blocks-session-blocks",
        STAR_GRANT,
    ),
    (
        "same-role-session-identity-other-rp-star-boundary-none-session-blocks",
        STAR_GRANT,
    ),
];

/// A federated user session without a session policy acts with its user's permissions.
const FEDERATED_NO_SESSION_POLICY: &[Deviation] = &[Deviation::FederatedUserWithoutSessionPolicy];
/// A grant naming the session ARN (assumed-role or federated user) is limited by the session
/// policy.
const SESSION_ARN_GRANT: &[Deviation] = &[Deviation::SessionArnResourcePolicy];
/// A grant to `*` is limited by the session policy (like one naming the session ARN).
const STAR_GRANT: &[Deviation] = &[
    Deviation::WildcardPrincipalNamesSession,
    Deviation::SessionArnResourcePolicy,
];

/// Each combination case is decided by irsa and by the oracle and compared with the decision
/// the generator derived from the AWS documentation (`expected`): irsa must give it; the
/// oracle either gives it or differs exactly as `COMBINATION_DISAGREEMENTS` says, and only in
/// ways one of its known deviations explains (the corrected case gives the documented
/// decision).
#[test]
fn resource_combinations_three_ways() {
    if !oracle_or_skip() {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases/resource-combinations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read the combination corpus")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 300,
        "combination corpus too small: {}",
        files.len()
    );

    let mut oracle = Oracle::start();
    let mut failures = Vec::new();
    let mut found: Vec<(String, Vec<Deviation>)> = Vec::new();
    let mut agreed = 0usize;
    for path in &files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let mut case: Value = serde_json::from_str(&text).unwrap();
        let expected = case["expected"].as_str().expect("`expected`").to_owned();
        let obj = case.as_object_mut().unwrap();
        obj.remove("expected");
        obj.remove("description");
        let mine = irsa::decide(&case).unwrap_or_else(|e| format!("error: {e}"));
        if mine != expected {
            failures.push(format!("{name}: irsa {mine}, documented {expected}"));
        }
        let o = oracle.ask(&case);
        let Some(theirs) = o
            .get("decision")
            .and_then(Value::as_str)
            .filter(|_| o.get("ignoredContextKeys").is_none())
        else {
            failures.push(format!("{name}: the oracle could not evaluate it: {o}"));
            continue;
        };
        if theirs == expected {
            agreed += 1;
            continue;
        }
        let explained = corrections(&case).into_iter().find(|(_, fixed)| {
            oracle.ask(fixed).get("decision").and_then(Value::as_str) == Some(expected.as_str())
        });
        match explained {
            Some((devs, _)) => found.push((name, devs)),
            None => failures.push(format!(
                "{name}: iam-simulate {theirs}, documented {expected}, no known deviation explains it"
            )),
        }
    }
    let known: Vec<(String, Vec<Deviation>)> = COMBINATION_DISAGREEMENTS
        .iter()
        .map(|(n, d)| ((*n).to_owned(), d.to_vec()))
        .collect();
    if found != known {
        let listing: String = found
            .iter()
            .map(|(n, d)| {
                let devs: Vec<String> = d.iter().map(|d| format!("Deviation::{d:?}")).collect();
                format!("    (\"{n}\", &[{}]),\n", devs.join(", "))
            })
            .collect();
        failures.push(format!(
            "the oracle's disagreements differ from COMBINATION_DISAGREEMENTS; found:\n{listing}"
        ));
    }
    let mut by_class: BTreeMap<Vec<Deviation>, usize> = BTreeMap::new();
    for (_, d) in &found {
        *by_class.entry(d.clone()).or_default() += 1;
    }
    let summary = format!(
        "resource combinations: {} cases, irsa = documented on {}, iam-simulate agrees on {agreed}, known disagreements {by_class:?}\n",
        files.len(),
        files.len() - failures.iter().filter(|f| f.contains(": irsa ")).count(),
    );
    let _ = std::io::stderr().write_all(summary.as_bytes());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
