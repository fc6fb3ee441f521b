//! Differential test: irsa-policy against `@cloud-copilot/iam-simulate`.
//!
//! A seeded generator builds a few thousand permission-policy/request cases (identity
//! policies, permission boundaries, session policies, an occasional resource policy) and
//! every case is decided by irsa and by the oracle (`tools/iam-simulate-oracle/oracle.mjs`,
//! one node process over stdin). A disagreement counts as a *known deviation* only when
//! the oracle, given the case with that deviation corrected (see `Deviation`), agrees
//! with irsa; every other disagreement fails the test and is printed, shrunk to a small
//! case. See docs/policy-differential.md.
//!
//! Knobs: `IRSA_DIFF_CASES` (default 3000), `IRSA_DIFF_SEED` (default fixed),
//! `IRSA_SKIP_EXTERNAL=1` skips when node or the oracle is missing, `IRSA_DIFF_DUMP=path`
//! writes every case as JSON lines.

use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

// ---------------------------------------------------------------------------------------
// The engine under test.
// ---------------------------------------------------------------------------------------

mod irsa {
    use irsa_policy::document::EvalDocument;
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

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn oracle_dir() -> PathBuf {
    workspace_root().join("tools/iam-simulate-oracle")
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

/// Runs the oracle once over all cases; one output object per case, in order.
fn oracle(cases: &[Value]) -> Vec<Value> {
    let mut child = Command::new("node")
        .arg(oracle_dir().join("oracle.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn node oracle.mjs");
    let mut stdin = child.stdin.take().unwrap();
    let input: String = cases.iter().map(|c| format!("{c}\n")).collect();
    // Write from a thread so a full stdout pipe cannot deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("oracle output");
    writer.join().unwrap().expect("write oracle stdin");
    assert!(out.status.success(), "oracle failed: {:?}", out.status);
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("oracle line is JSON"))
        .collect();
    assert_eq!(
        lines.len(),
        cases.len(),
        "oracle answered a different number of cases"
    );
    lines
}

// ---------------------------------------------------------------------------------------
// Deterministic generator.
// ---------------------------------------------------------------------------------------

/// xorshift64*: small, seeded, good enough to spread cases.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `pct`%.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
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

#[derive(Clone, Copy, PartialEq)]
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

fn gen_context(rng: &mut Rng, action: &str) -> Map<String, Value> {
    let mut ctx = Map::new();
    for key in KEYS.iter().filter(|k| key_applies(k, action)) {
        if !rng.chance(55) {
            continue;
        }
        let name = if rng.chance(10) {
            key.name.to_ascii_lowercase()
        } else {
            key.name.to_owned()
        };
        let value = if key.kind == Kind::Multi {
            let n = rng.range(0, 3);
            let mut vals: Vec<Value> = Vec::new();
            for _ in 0..n {
                let v = json!(*rng.pick(key.req));
                if !vals.contains(&v) {
                    vals.push(v);
                }
            }
            Value::Array(vals)
        } else {
            json!(*rng.pick(key.req))
        };
        ctx.insert(name, value);
    }
    ctx
}

fn mutate_action(rng: &mut Rng, action: &str) -> String {
    let (svc, name) = action.split_once(':').unwrap();
    match rng.below(9) {
        0 => action.to_owned(),
        1 => action.to_ascii_lowercase(),
        2 => format!("{}:{}", svc.to_ascii_uppercase(), name),
        3 => format!("{svc}:{}*", &name[..rng.range(0, name.len() - 1)]),
        4 => format!("{svc}:*{}", &name[rng.range(1, name.len())..]),
        5 => {
            let i = rng.below(name.len());
            format!("{svc}:{}?{}", &name[..i], &name[i + 1..])
        }
        6 => format!("{svc}:*"),
        _ => (*rng.pick(OTHER_ACTIONS)).to_owned(),
    }
}

/// Index of the n-th `:` in `s` (0-based n).
fn nth_colon(s: &str, n: usize) -> Option<usize> {
    s.match_indices(':').nth(n).map(|(i, _)| i)
}

fn mutate_resource(rng: &mut Rng, arn: &str) -> String {
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
    match rng.below(14) {
        0 | 1 => arn.to_owned(),
        2 => "*".to_owned(),
        3 => format!("{}?", &arn[..arn.len() - 1]),
        4 => format!("{}*", &arn[..rng.range(cut_min, arn.len())]),
        5 => {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let mut p: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
            let seg = if regionless { 4 } else { rng.range(3, 4) };
            if !arn.starts_with("arn:aws:s3:") {
                p[seg] = "*".into();
            }
            p.join(":")
        }
        6 => {
            let i = rng.range(id_start, arn.len() - 1);
            format!("{}*{}", &arn[..i], &arn[i + 1..])
        }
        7 => format!(
            "{}{}",
            &arn[..id_start],
            arn[id_start..].to_ascii_uppercase()
        ),
        8 => rng.pick(TARGETS).1.to_owned(),
        9 => format!("{}*", &arn[..if regionless { id_start } else { res_start }]),
        10 => {
            // a `?` per character of the last 3
            let n = arn.len();
            format!("{}???", &arn[..n - 3])
        }
        _ => (*rng.pick(&[
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
        ]))
        .to_owned(),
    }
}

fn one_or_many(rng: &mut Rng, mut vals: Vec<Value>) -> Value {
    if vals.len() == 1 && rng.chance(60) {
        vals.remove(0)
    } else {
        Value::Array(vals)
    }
}

fn gen_condition(rng: &mut Rng, action: &str) -> Value {
    let mut cond = Map::new();
    for _ in 0..rng.range(1, 2) {
        let key = loop {
            let k = rng.pick(KEYS);
            if key_applies(k, action) {
                break k;
            }
        };
        let op: String = if rng.chance(6) {
            "Null".into()
        } else {
            let base = match key.kind {
                Kind::Str | Kind::Multi => *rng.pick(STRING_OPS),
                Kind::Arn => {
                    if rng.chance(70) {
                        *rng.pick(ARN_OPS)
                    } else {
                        *rng.pick(STRING_OPS)
                    }
                }
                Kind::Num => *rng.pick(NUM_OPS),
                Kind::Date | Kind::Epoch => *rng.pick(DATE_OPS),
                Kind::Bool => "Bool",
                Kind::Ip => *rng.pick(&["IpAddress", "NotIpAddress"]),
                Kind::Binary => "BinaryEquals",
            };
            let set = match key.kind {
                Kind::Multi if rng.chance(85) => *rng.pick(&["ForAllValues:", "ForAnyValue:"]),
                Kind::Str if rng.chance(10) => *rng.pick(&["ForAllValues:", "ForAnyValue:"]),
                _ => "",
            };
            let if_exists = if rng.chance(20) { "IfExists" } else { "" };
            format!("{set}{base}{if_exists}")
        };
        let values: Vec<Value> = if op == "Null" {
            vec![json!(*rng.pick(&["true", "false"]))]
        } else {
            let n = rng.range(1, 3);
            let mut v = Vec::new();
            for _ in 0..n {
                let x = json!(*rng.pick(key.pol));
                if !v.contains(&x) {
                    v.push(x);
                }
            }
            v
        };
        let name = if rng.chance(10) {
            key.name.to_ascii_uppercase()
        } else {
            key.name.to_owned()
        };
        let block = cond.entry(op).or_insert_with(|| json!({}));
        block
            .as_object_mut()
            .unwrap()
            .insert(name, one_or_many(rng, values));
    }
    Value::Object(cond)
}

fn gen_statement(rng: &mut Rng, action: &str, resource: &str, allow_pct: u64) -> Value {
    let mut s = Map::new();
    if rng.chance(30) {
        s.insert("Sid".into(), json!(format!("S{}", rng.below(1000))));
    }
    let effect = if rng.chance(allow_pct) {
        "Allow"
    } else {
        "Deny"
    };
    s.insert("Effect".into(), json!(effect));
    let actions: Vec<Value> = (0..rng.range(1, 3))
        .map(|_| json!(mutate_action(rng, action)))
        .collect();
    let akey = if rng.chance(12) {
        "NotAction"
    } else {
        "Action"
    };
    s.insert(akey.into(), one_or_many(rng, actions));
    let resources: Vec<Value> = (0..rng.range(1, 2))
        .map(|_| json!(mutate_resource(rng, resource)))
        .collect();
    let rkey = if rng.chance(12) {
        "NotResource"
    } else {
        "Resource"
    };
    s.insert(rkey.into(), one_or_many(rng, resources));
    if rng.chance(55) {
        s.insert("Condition".into(), gen_condition(rng, action));
    }
    Value::Object(s)
}

fn gen_policy(rng: &mut Rng, action: &str, resource: &str, allow_pct: u64) -> Value {
    let n = rng.range(1, 3);
    let stmts: Vec<Value> = (0..n)
        .map(|_| gen_statement(rng, action, resource, allow_pct))
        .collect();
    let mut stmts = stmts;
    // Sids must be unique within a policy.
    let mut seen = std::collections::HashSet::new();
    for s in &mut stmts {
        if let Some(sid) = s.get("Sid").and_then(Value::as_str).map(str::to_owned)
            && !seen.insert(sid)
        {
            s.as_object_mut().unwrap().remove("Sid");
        }
    }
    let statement = if stmts.len() == 1 && rng.chance(40) {
        stmts.remove(0)
    } else {
        Value::Array(stmts)
    };
    json!({"Version": "2012-10-17", "Statement": statement})
}

fn gen_resource_policy(rng: &mut Rng, action: &str, resource: &str) -> Value {
    let mut stmts = Vec::new();
    for _ in 0..rng.range(1, 2) {
        let mut s = gen_statement(rng, action, resource, 75);
        let principal = match rng.below(6) {
            0 => json!("*"),
            1 => json!({"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}),
            2 => json!({"AWS": ACCOUNT}),
            3 => json!({"AWS": PRINCIPAL}),
            4 => json!({"AWS": ROLE}),
            _ => json!({"AWS": "arn:aws:iam::444455556666:root"}),
        };
        let obj = s.as_object_mut().unwrap();
        obj.insert("Principal".into(), principal);
        // NotResource in resource policies is legal but rare; keep Resource there.
        if let Some(r) = obj.remove("NotResource") {
            obj.insert("Resource".into(), r);
        }
        stmts.push(s);
    }
    json!({"Version": "2012-10-17", "Statement": stmts})
}

fn gen_case(rng: &mut Rng) -> Value {
    let (action, resource) = *rng.pick(TARGETS);
    let context = gen_context(rng, action);
    let identity: Vec<Value> = (0..rng.range(1, 3))
        .map(|_| gen_policy(rng, action, resource, 75))
        .collect();
    let mut case = json!({
        "request": {"action": action, "resource": resource, "principal": PRINCIPAL, "context": context},
        "identityPolicies": identity,
    });
    let obj = case.as_object_mut().unwrap();
    if rng.chance(30) {
        obj.insert(
            "permissionBoundaries".into(),
            json!([gen_policy(rng, action, resource, 85)]),
        );
    }
    if rng.chance(30) {
        obj.insert(
            "sessionPolicies".into(),
            json!([gen_policy(rng, action, resource, 85)]),
        );
    }
    if rng.chance(8) {
        obj.insert(
            "resourcePolicy".into(),
            gen_resource_policy(rng, action, resource),
        );
    }
    case
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
    /// Undocumented, irsa's choice: a same-account resource-policy Allow for `Principal: "*"`
    /// counts as naming the caller's session, so a session policy or boundary does not limit
    /// it; iam-simulate limits it like an Allow naming the role. AWS documents only the
    /// session-ARN and role-ARN cases (IAM User Guide, "Policy evaluation logic",
    /// resource-based policies; "Session policies"). Fix: name the session ARN instead of `*`.
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

const DEVIATIONS: [Deviation; 10] = [
    // Applied in this order; each sees the case as corrected by the ones before it.
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

// ---------------------------------------------------------------------------------------
// Shrinking a disagreement to a small case for the report.
// ---------------------------------------------------------------------------------------

/// Every case one step smaller than `case`.
fn smaller(case: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let obj = case.as_object().unwrap();
    for field in ["resourcePolicy", "permissionBoundaries", "sessionPolicies"] {
        if obj.contains_key(field) {
            let mut c = case.clone();
            c.as_object_mut().unwrap().remove(field);
            out.push(c);
        }
    }
    for field in [
        "identityPolicies",
        "permissionBoundaries",
        "sessionPolicies",
    ] {
        let n = case[field].as_array().map_or(0, Vec::len);
        for i in 0..n {
            if field == "identityPolicies" && n > 1 {
                let mut c = case.clone();
                c[field].as_array_mut().unwrap().remove(i);
                out.push(c);
            }
            let p = &case[field][i];
            for q in smaller_policy(p) {
                let mut c = case.clone();
                c[field][i] = q;
                out.push(c);
            }
        }
    }
    if case.get("resourcePolicy").is_some() {
        for q in smaller_policy(&case["resourcePolicy"]) {
            let mut c = case.clone();
            c["resourcePolicy"] = q;
            out.push(c);
        }
    }
    if let Some(ctx) = case["request"]["context"].as_object() {
        for k in ctx.keys() {
            let mut c = case.clone();
            c["request"]["context"].as_object_mut().unwrap().remove(k);
            out.push(c);
        }
    }
    out
}

fn smaller_policy(p: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let stmts: Vec<Value> = match &p["Statement"] {
        Value::Array(a) => a.clone(),
        s => vec![s.clone()],
    };
    if stmts.len() > 1 {
        for i in 0..stmts.len() {
            let mut s = stmts.clone();
            s.remove(i);
            let mut q = p.clone();
            q["Statement"] = Value::Array(s);
            out.push(q);
        }
    }
    for (i, st) in stmts.iter().enumerate() {
        let mut variants = Vec::new();
        if let Some(cond) = st.get("Condition").and_then(Value::as_object) {
            let mut s = st.clone();
            s.as_object_mut().unwrap().remove("Condition");
            variants.push(s);
            for (op, block) in cond {
                let keys: Vec<&String> = block
                    .as_object()
                    .map(|b| b.keys().collect())
                    .unwrap_or_default();
                if cond.len() > 1 {
                    let mut s = st.clone();
                    s["Condition"].as_object_mut().unwrap().remove(op);
                    variants.push(s);
                }
                if keys.len() > 1 {
                    for k in keys {
                        let mut s = st.clone();
                        s["Condition"][op].as_object_mut().unwrap().remove(k);
                        variants.push(s);
                    }
                }
                for (k, v) in block.as_object().into_iter().flatten() {
                    if let Some(a) = v.as_array().filter(|a| a.len() > 1) {
                        for x in a {
                            let mut s = st.clone();
                            s["Condition"][op][k] = x.clone();
                            variants.push(s);
                        }
                    }
                }
            }
        }
        for field in ["Action", "NotAction", "Resource", "NotResource"] {
            if let Some(a) = st
                .get(field)
                .and_then(Value::as_array)
                .filter(|a| a.len() > 1)
            {
                for x in a {
                    let mut s = st.clone();
                    s[field] = x.clone();
                    variants.push(s);
                }
            }
        }
        for s in variants {
            let mut all = stmts.clone();
            all[i] = s;
            let mut q = p.clone();
            q["Statement"] = Value::Array(all);
            out.push(q);
        }
    }
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

/// Decides every case with irsa and the oracle and classifies it (two oracle runs at most).
fn classify(cases: &[Value]) -> Vec<Outcome> {
    let oracle_out = oracle(cases);
    let mut out: Vec<Outcome> = Vec::with_capacity(cases.len());
    // (case index, irsa's decision, the corrected oracle inputs to try)
    let mut pending: Vec<(usize, String, Corrections)> = Vec::new();
    for (i, (case, o)) in cases.iter().zip(&oracle_out).enumerate() {
        let decision = o.get("decision").and_then(Value::as_str);
        let Some(theirs) = decision.filter(|_| o.get("ignoredContextKeys").is_none()) else {
            out.push(Outcome::OracleRefused(o.clone()));
            continue;
        };
        let mine = irsa::decide(case).unwrap_or_else(|e| format!("error: {e}"));
        if mine == theirs {
            out.push(Outcome::Agreed(mine));
        } else {
            out.push(Outcome::Disagreed {
                irsa: mine.clone(),
                oracle: theirs.to_owned(),
            });
            pending.push((i, mine, corrections(case)));
        }
    }
    // Re-ask the oracle about each disagreement with its known deviations corrected, each
    // applicable combination separately; the smallest combination that agrees names it.
    let flat: Vec<Value> = pending
        .iter()
        .flat_map(|p| p.2.iter().map(|(_, c)| c.clone()))
        .collect();
    let mut flat_out = if flat.is_empty() {
        Vec::new()
    } else {
        oracle(&flat)
    }
    .into_iter();
    for (i, mine, fixes) in pending {
        let outs: Vec<Value> = flat_out.by_ref().take(fixes.len()).collect();
        let hit = fixes
            .iter()
            .zip(&outs)
            .find(|(_, o)| o.get("decision").and_then(Value::as_str) == Some(mine.as_str()));
        if let Some(((devs, _), _)) = hit {
            out[i] = Outcome::Known(devs.clone());
        }
    }
    out
}

/// Shrinks a case while it stays a real (not known-deviation) disagreement.
fn shrink(mut case: Value) -> Value {
    for _ in 0..60 {
        let cands = smaller(&case);
        if cands.is_empty() {
            break;
        }
        let outcomes = classify(&cands);
        match cands
            .iter()
            .zip(&outcomes)
            .find(|(_, o)| matches!(o, Outcome::Disagreed { .. }))
        {
            Some((c, _)) => case = c.clone(),
            None => break,
        }
    }
    case
}

// ---------------------------------------------------------------------------------------

#[test]
fn differential_against_iam_simulate() {
    let skip = std::env::var("IRSA_SKIP_EXTERNAL").is_ok_and(|v| v == "1");
    if let Err(why) = oracle_ready() {
        if skip {
            eprintln!("skipping differential test (IRSA_SKIP_EXTERNAL=1): {why}");
            return;
        }
        panic!(
            "the iam-simulate oracle is not installed ({why}); run scripts/deps/iam-simulate.sh"
        );
    }

    let n: usize = std::env::var("IRSA_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let seed: u64 = std::env::var("IRSA_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1b5a_d1ff_2024);
    let mut rng = Rng::new(seed);
    let cases: Vec<Value> = (0..n).map(|_| gen_case(&mut rng)).collect();
    if let Some(path) = std::env::var_os("IRSA_DIFF_DUMP") {
        let text: String = cases.iter().map(|c| format!("{c}\n")).collect();
        std::fs::write(path, text).unwrap();
    }

    let started = std::time::Instant::now();
    let outcomes = classify(&cases);
    let secs = started.elapsed().as_secs_f64();

    let mut decisions: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut known: std::collections::BTreeMap<&Vec<Deviation>, usize> = Default::default();
    let mut real = Vec::new();
    let mut refused = Vec::new();
    for (i, o) in outcomes.iter().enumerate() {
        match o {
            Outcome::Agreed(d) => *decisions.entry(d.as_str()).or_default() += 1,
            Outcome::Known(devs) => *known.entry(devs).or_default() += 1,
            Outcome::Disagreed { irsa, oracle } => real.push((i, irsa, oracle)),
            Outcome::OracleRefused(v) => refused.push((i, v)),
        }
    }
    let agreed: usize = decisions.values().sum();
    let known_total: usize = known.values().sum();
    println!("differential: seed {seed}, {n} cases in {secs:.1}s; agreed decisions {decisions:?}");
    for (devs, count) in &known {
        println!("  known deviation {devs:?}: {count}");
    }
    for (i, v) in refused.iter().take(5) {
        println!("ORACLE REFUSED case {i}: {v}\n  {}", cases[*i]);
    }
    for (i, mine, theirs) in real.iter().take(8) {
        let small = shrink(cases[*i].clone());
        let small_out = classify(std::slice::from_ref(&small));
        println!("DISAGREEMENT case {i}: irsa={mine} iam-simulate={theirs}");
        println!("  minimal: {small_out:?}\n  {small}");
    }
    // Straight to stderr, past the test harness's capture, so the tally shows on success too.
    let summary = format!(
        "differential vs iam-simulate: {agreed} agreed, {known_total} known-deviation, {} disagreed\n",
        real.len()
    );
    let _ = std::io::stderr().write_all(summary.as_bytes());
    assert!(
        refused.is_empty(),
        "{} cases the oracle could not evaluate (generator bug)",
        refused.len()
    );
    assert!(
        real.is_empty(),
        "{} disagreements with iam-simulate",
        real.len()
    );
    assert!(
        agreed > n * 9 / 10,
        "too few agreeing cases: {agreed} of {n}"
    );
}
