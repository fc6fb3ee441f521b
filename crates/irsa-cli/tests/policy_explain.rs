//! `irsa policy eval --explain`: the human and JSON forms, run through the built binary on
//! the bundled IRSA example and on a document whose decision needs several statements.

use std::io::Write;
use std::process::{Command, Stdio};

fn irsa(args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_irsa"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run irsa");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

const BUCKET_CASE: &str = r#"{
  "request": {"action": "s3:GetObject", "resource": "arn:aws:s3:::b/home/k",
              "principal": "arn:aws:sts::111122223333:assumed-role/app/s1",
              "context": {"aws:SourceIp": "192.0.2.7"}},
  "identityPolicies": [{"Version": "2012-10-17", "Statement": [
    {"Sid": "Net", "Effect": "Allow", "Action": "s3:*", "Resource": "*",
     "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}],
  "resourcePolicy": {"Version": "2012-10-17", "Statement": [
    {"Sid": "App", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"},
     "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/home/*"}]},
  "sessionPolicies": [{"Version": "2012-10-17", "Statement":
    {"Sid": "OnlyDynamo", "Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}}]
}"#;

#[test]
fn explain_human() {
    let (code, out) = irsa(&["policy", "eval", "--example", "--explain"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("decision: Allow"), "{out}");
    assert!(
        out.contains("resource statement 0 (IrsaMyServiceAccount), Allow: applies"),
        "{out}"
    );
    assert!(
        out.contains("[yes] action: Action `sts:AssumeRoleWithWebIdentity` matches"),
        "{out}"
    );
    assert!(
        out.contains(":sub: policy [system:serviceaccount:default:my-serviceaccount], request [system:serviceaccount:default:my-serviceaccount]"),
        "{out}"
    );

    let (code, out) = irsa(&["policy", "eval", "--explain", "-"], BUCKET_CASE);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("decision: ImplicitDeny (no session policy allows"),
        "{out}"
    );
    assert!(
        out.contains("identity[0] statement 0 (Net), Allow: does not apply"),
        "{out}"
    );
    assert!(
        out.contains(
            "[no ] condition IpAddress aws:SourceIp: policy [10.0.0.0/8], request [192.0.2.7]"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "[yes] principal: Principal {AWS: arn:aws:iam::111122223333:role/app} names the role"
        ),
        "{out}"
    );
    assert!(
        out.contains("session[0] statement 0 (OnlyDynamo), Allow: does not apply"),
        "{out}"
    );
}

#[test]
fn explain_json() {
    let (code, out) = irsa(
        &["policy", "eval", "--explain", "--format", "json", "-"],
        BUCKET_CASE,
    );
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON output");
    assert_eq!(v["decision"], "ImplicitDeny");
    assert_eq!(v["basis"], "SessionImplicitDeny");
    let st = v["statements"].as_array().unwrap();
    assert_eq!(st.len(), 3);
    assert_eq!(st[0]["policy"], "identity[0]");
    assert_eq!(st[0]["applies"], false);
    assert_eq!(st[0]["conditions"][0]["key"], "aws:SourceIp");
    assert_eq!(st[0]["conditions"][0]["requestValues"][0], "192.0.2.7");
    assert_eq!(st[0]["conditions"][0]["matched"], false);
    assert_eq!(st[1]["policy"], "resource");
    assert_eq!(st[1]["principal"]["matched"], true);
    assert_eq!(st[2]["action"]["matched"], false);
    // Without --explain the output is the plain decision, unchanged.
    let (code, out) = irsa(&["policy", "eval", "-"], BUCKET_CASE);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), r#"{"decision":"ImplicitDeny","matched":[]}"#);
}
