//! The audit of a realistic account export (tests/fixtures, see make_export.py) against a
//! ServiceAccount list, with the expected matrix written by hand from the policies; and the
//! HTML report rendered by a real headless browser.

use irsa_audit::*;
use irsa_policy::Severity;
use std::collections::BTreeSet;
use std::path::PathBuf;

const A: &str = "https://oidc.eks.us-west-2.amazonaws.com/id/A1B2C3D4E5F60718293A4B5C6D7E8F90";
const B: &str = "https://oidc.eks.eu-central-1.amazonaws.com/id/0F1E2D3C4B5A69788796A5B4C3D2E1F0";

fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn role(name: &str) -> String {
    format!("arn:aws:iam::111122223333:role/{name}")
}

fn sas() -> Vec<ServiceAccount> {
    parse_service_accounts(&fixture("service-accounts.json")).unwrap()
}

fn report(issuer: &str, export: &str) -> Report {
    let account = Account::from_authorization_details(&fixture(export)).unwrap();
    audit(&account, &sas(), &Cluster::new(issuer))
}

const ALL_SAS: &[&str] = &[
    "ci/runner",
    "data/etl",
    "data/reader",
    "default/default",
    "kube-system/aws-node",
    "kube-system/ebs-csi-controller-sa",
    "legacy/app",
    "monitoring/prometheus",
    "payments/api",
    "payments/batch",
    "payments/default",
    "payments/worker",
    "team-a/app",
    "team-ab/app",
    "team-b/app",
    "web/backend",
    "web/frontend",
];

/// Every ServiceAccount but these (the ones whose audience is `sts.amazonaws.com` unless
/// excluded: `ci/runner` has audience `ci.example.com`).
fn all_but(excluded: &[&str]) -> Vec<&'static str> {
    ALL_SAS
        .iter()
        .copied()
        .filter(|s| !excluded.contains(s))
        .collect()
}

/// Cluster A, read from the trust policies in make_export.py by hand.
fn expected_a() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("payments-api", vec!["payments/api"]),
        // StringLike system:serviceaccount:payments:* (the namespace's default SA too).
        (
            "payments-worker",
            vec![
                "payments/api",
                "payments/batch",
                "payments/default",
                "payments/worker",
            ],
        ),
        // `?` is exactly one character: team-ab is out.
        ("team-app", vec!["team-a/app", "team-b/app"]),
        ("vpc-cni", vec!["kube-system/aws-node"]),
        ("ebs-csi", vec!["kube-system/ebs-csi-controller-sa"]),
        // aud only: every ServiceAccount whose token has audience sts.amazonaws.com.
        ("legacy-any", all_but(&["ci/runner"])),
        // Principal "*" pinned to default/default.
        ("principal-star-default", vec!["default/default"]),
        // ForAnyValue:StringEquals on the single-valued sub (grafana does not exist).
        ("monitoring-any-value", vec!["monitoring/prometheus"]),
        ("web-all-values", vec!["web/backend", "web/frontend"]),
        // aud ci.example.com, which only ci/runner's annotation asks for.
        ("ci-runner", vec!["ci/runner"]),
        ("monitoring-prometheus", vec!["monitoring/prometheus"]),
        ("irsa/data-reader", vec!["data/reader"]),
        ("old-app", vec![]),
        // StringLike system:serviceaccount:team-* : the `*` spans the namespace/name colon.
        (
            "team-prefix",
            vec!["team-a/app", "team-ab/app", "team-b/app"],
        ),
        // StringNotEquals default/default, aud sts.amazonaws.com.
        (
            "all-but-default",
            all_but(&["ci/runner", "default/default"]),
        ),
        ("payments-ignorecase", vec!["payments/api"]),
        // payments:* minus the Deny on payments:batch.
        (
            "payments-except-batch",
            vec!["payments/api", "payments/default", "payments/worker"],
        ),
        // aws:SourceIp is only known per request: assumed to hold.
        ("payments-office-ip", vec!["payments/api"]),
        // Its cluster-B statement names data/etl; for cluster A only payments/worker.
        ("both-clusters", vec!["payments/worker"]),
        ("two-providers-one-key", vec!["data/etl", "data/reader"]),
        (
            "ebs-question-mark",
            vec!["kube-system/ebs-csi-controller-sa"],
        ),
        // Condition keys are case-insensitive.
        ("uppercase-key", vec!["web/frontend"]),
        // Action sts:AssumeRole* covers AssumeRoleWithWebIdentity.
        ("action-wildcard", vec!["legacy/app"]),
    ]
}

fn expected_b() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("both-clusters", vec!["data/etl"]),
        ("b-data-etl", vec!["data/etl"]),
        ("b-frontend", vec!["web/backend", "web/frontend"]),
        ("b-aud-only", all_but(&["ci/runner"])),
        // two-providers-one-key names B's provider but conditions only on A's `sub`:
        // that key is absent from B's tokens, so StringLike fails.
    ]
}

fn check_matrix(r: &Report, expected: &[(&str, Vec<&str>)]) {
    let got: BTreeSet<&str> = r.roles.iter().map(|x| x.arn.as_str()).collect();
    let want: BTreeSet<String> = expected.iter().map(|(n, _)| role(n)).collect();
    let want_ref: BTreeSet<&str> = want.iter().map(String::as_str).collect();
    assert_eq!(got, want_ref, "roles that trust the cluster");
    let listed: Vec<&str> = r.service_accounts.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(listed, ALL_SAS);
    let mut cells = 0;
    for (name, admitted) in expected {
        for sa in ALL_SAS {
            let want = admitted.contains(sa);
            assert_eq!(
                r.can_assume(sa, &role(name)),
                want,
                "cell ({sa}, {name}): expected {}",
                if want { "assumable" } else { "not assumable" }
            );
            cells += 1;
        }
        let by: Vec<&str> = r
            .roles
            .iter()
            .find(|x| x.arn == role(name))
            .unwrap()
            .assumable_by
            .iter()
            .map(String::as_str)
            .collect();
        let mut sorted = admitted.clone();
        sorted.sort_unstable();
        assert_eq!(by, sorted, "assumable_by of {name}");
    }
    assert_eq!(cells, expected.len() * ALL_SAS.len());
    assert!(
        !r.findings.iter().any(|f| f.id == "audit-inconsistent"),
        "{:#?}",
        r.findings
    );
}

#[test]
fn the_export_has_the_promised_shape() {
    let v: serde_json::Value = serde_json::from_str(&fixture("account-export.json")).unwrap();
    let roles = v["RoleDetailList"].as_array().unwrap();
    assert!(roles.len() >= 30);
    assert!(roles.iter().all(|r| {
        r["AssumeRolePolicyDocument"]
            .as_str()
            .is_some_and(|d| d.starts_with("%7B"))
    }));
    let account = Account::from_authorization_details(&fixture("account-export.json")).unwrap();
    assert_eq!(account.roles.len(), roles.len());
    assert!(account.roles.iter().all(|r| r.trust.policy.is_ok()));
}

#[test]
fn matrix_of_cluster_a_cell_by_cell() {
    check_matrix(&report(A, "account-export.json"), &expected_a());
}

#[test]
fn matrix_of_cluster_b_cell_by_cell() {
    check_matrix(&report(B, "account-export.json"), &expected_b());
}

#[test]
fn the_aws_cli_form_gives_the_same_report() {
    let api = json(&report(A, "account-export.json"));
    let cli = json(&report(A, "account-export-cli.json"));
    assert_eq!(api, cli);
}

#[test]
fn service_account_verdicts() {
    let r = report(A, "account-export.json");
    let status = |id: &str| {
        r.service_accounts
            .iter()
            .find(|s| s.id == id)
            .unwrap()
            .status
            .clone()
    };
    for id in [
        "payments/api",
        "payments/worker",
        "team-a/app",
        "team-b/app",
        "kube-system/aws-node",
        "kube-system/ebs-csi-controller-sa",
        "ci/runner",
        "legacy/app",
    ] {
        assert_eq!(status(id), SaStatus::Ok, "{id}");
    }
    for id in ["default/default", "payments/batch", "payments/default"] {
        assert_eq!(status(id), SaStatus::Unannotated, "{id}");
    }
    assert_eq!(status("team-ab/app"), SaStatus::NotTrusted);
    assert_eq!(status("data/etl"), SaStatus::NotTrusted);
    assert_eq!(status("monitoring/prometheus"), SaStatus::RoleNotFound);
    assert_eq!(status("data/reader"), SaStatus::RoleNotFound);
    assert_eq!(status("web/frontend"), SaStatus::MalformedArn);
    assert_eq!(status("web/backend"), SaStatus::RoleInOtherAccount);

    let finding = |subject: &str, id: &str| {
        r.findings
            .iter()
            .find(|f| f.subject == subject && f.id == id)
            .unwrap_or_else(|| panic!("no {id} for {subject}: {:#?}", r.findings))
    };
    let f = finding("team-ab/app", "sa-role-not-trusting");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("team-?/app"), "{}", f.message);
    assert!(
        f.message
            .contains("\"oidc.eks.us-west-2.amazonaws.com/id/A1B2C3D4E5F60718293A4B5C6D7E8F90:sub\": \"system:serviceaccount:team-ab:app\""),
        "the fix names the statement to add: {}",
        f.message
    );
    let f = finding("data/etl", "sa-role-not-trusting");
    assert!(
        f.message.contains("does not trust this cluster"),
        "{}",
        f.message
    );
    // The role exists under another path: the fix names the real ARN.
    let f = finding("data/reader", "sa-role-not-found");
    assert!(
        f.message.contains(
            "--overwrite eks.amazonaws.com/role-arn=arn:aws:iam::111122223333:role/irsa/data-reader"
        ),
        "{}",
        f.message
    );
    finding("monitoring/prometheus", "sa-role-not-found");
    finding("web/frontend", "sa-role-arn-malformed");
    assert_eq!(
        finding("web/backend", "sa-role-other-account").severity,
        Severity::Warning
    );
}

#[test]
fn patterns_reach_future_service_accounts() {
    let r = report(A, "account-export.json");
    let pats = |name: &str| {
        r.roles
            .iter()
            .find(|x| x.arn == role(name))
            .unwrap()
            .patterns
            .clone()
    };
    let one = |name: &str| {
        let p = pats(name);
        assert_eq!(p.len(), 1, "{name}: {p:#?}");
        p.into_iter().next().unwrap()
    };
    let p = one("payments-api");
    assert_eq!(
        p.reach,
        Reach::ServiceAccount {
            id: "payments/api".into()
        }
    );
    assert!(!p.future);
    assert_eq!(p.audiences, ["sts.amazonaws.com"]);
    let p = one("payments-worker");
    assert_eq!(p.service_accounts, ["payments/*"]);
    assert!(p.future);
    assert_eq!(one("team-app").service_accounts, ["team-?/app"]);
    assert_eq!(one("team-prefix").service_accounts, ["team-*/*"]);
    let p = one("legacy-any");
    assert_eq!(p.reach, Reach::All);
    assert_eq!(p.service_accounts, ["*/*"]);
    assert_eq!(one("all-but-default").reach, Reach::All);
    assert_eq!(
        one("all-but-default").conditions,
        ["StringNotEquals [system:serviceaccount:default:default]"]
    );
    assert_eq!(one("ci-runner").audiences, ["ci.example.com"]);
    assert_eq!(
        one("payments-ignorecase").service_accounts,
        ["payments/api"]
    );
    assert_eq!(
        one("monitoring-any-value").service_accounts,
        ["monitoring/prometheus", "monitoring/grafana"]
    );
    let p = one("payments-office-ip");
    assert_eq!(p.request_time.len(), 1, "{p:#?}");
    assert!(p.request_time[0].contains("aws:SourceIp"));
    let deny = &r
        .roles
        .iter()
        .find(|x| x.arn == role("payments-except-batch"))
        .unwrap()
        .denies;
    assert_eq!(deny.len(), 1);
    assert_eq!(deny[0].service_accounts, ["payments/batch"]);
    // An unpinned `sub` is an error finding of its own.
    assert!(r.findings.iter().any(|f| f.subject == role("legacy-any")
        && f.id == "role-any-service-account"
        && f.severity == Severity::Error));
    // And irsa policy lint's.
    assert!(
        r.findings
            .iter()
            .any(|f| f.subject == role("legacy-any") && f.id == "trust-sub-missing")
    );
}

#[test]
fn stale_roles() {
    let r = report(A, "account-export.json");
    let stale: Vec<&str> = r
        .roles
        .iter()
        .filter(|x| x.stale)
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(stale, ["old-app"]);
    assert!(
        r.findings
            .iter()
            .any(|f| f.id == "role-stale" && f.subject == role("old-app"))
    );
}

#[test]
fn other_federations_are_set_aside() {
    let r = report(A, "account-export.json");
    let other: BTreeSet<&str> = r
        .other_roles
        .iter()
        .map(|x| x.arn.rsplit('/').next().unwrap())
        .collect();
    for n in [
        "b-data-etl",
        "b-frontend",
        "b-aud-only",
        "github-deploy",
        "saml-admin",
        "cognito-app",
        "ec2-instance",
        "cross-account-audit",
        "lambda-exec",
        "principal-star-github",
        "eks-cluster",
    ] {
        assert!(other.contains(n), "{n} not among {other:?}");
    }
    let saml = r
        .other_roles
        .iter()
        .find(|x| x.arn.ends_with("/saml-admin"))
        .unwrap();
    assert_eq!(
        saml.trusts,
        ["Federated:arn:aws:iam::111122223333:saml-provider/Okta"]
    );
}

#[test]
fn permissions_use_the_default_version_and_flag_wildcards() {
    let r = report(A, "account-export.json");
    let perms = |id: &str| {
        r.service_accounts
            .iter()
            .find(|s| s.id == id)
            .unwrap()
            .permissions
            .clone()
            .unwrap()
    };
    // payments-data: v1 (dynamodb:*) and v3 (DeleteTable) are not the default version.
    let p = perms("payments/api");
    assert_eq!(p.allowed_actions(), ["dynamodb:GetItem", "dynamodb:Query"]);
    assert_eq!(
        p.policies[0].source,
        PolicySource::Managed {
            name: "payments-data".into(),
            arn: "arn:aws:iam::111122223333:policy/payments-data".into(),
            version: Some("v2".into())
        }
    );
    assert!(p.policies[0].statements[0].wildcards.is_empty());
    // AdministratorAccess: every action on every resource.
    let p = perms("legacy/app");
    assert_eq!(p.policies[0].statements[0].wildcards, ["*", "Resource *"]);
    assert!(r.findings.iter().any(|f| f.subject == role("legacy-any")
        && f.id == "permission-all-actions"
        && f.severity == Severity::Error));
    assert!(
        r.findings
            .iter()
            .any(|f| f.subject == role("ci-runner") && f.id == "permission-service-wildcard")
    );
    // An attached AWS managed policy the export does not hold.
    let p = perms("kube-system/aws-node");
    assert!(
        p.policies[0]
            .problem
            .as_deref()
            .unwrap()
            .contains("not in the input")
    );
    let p = perms("kube-system/ebs-csi-controller-sa");
    assert!(
        p.policies[0].statements[0]
            .wildcards
            .contains(&"ec2:Describe*".to_string())
    );
    assert!(
        !p.allowed_actions()
            .contains(&"ec2:CreateVolume".to_string())
    );
}

#[test]
fn json_matrix_and_table() {
    let r = report(A, "account-export.json");
    let v = json(&r);
    let row = v["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["serviceAccount"] == "team-ab/app")
        .unwrap();
    assert_eq!(row["cells"][role("team-app")], "broken");
    assert_eq!(row["cells"][role("team-prefix")], "yes");
    assert_eq!(row["cells"][role("legacy-any")], "yes");
    assert_eq!(row["cells"][role("payments-api")], "no");
    let row = v["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["serviceAccount"] == "payments/api")
        .unwrap();
    assert_eq!(row["cells"][role("payments-api")], "annotated");
    let t = table(&r);
    assert!(
        t.contains("team-ab/app") && t.contains("BROKEN: role does not trust it"),
        "{t}"
    );
}

#[test]
fn hostile_annotations_stay_text_in_html() {
    let account = Account::from_authorization_details(&fixture("account-export.json")).unwrap();
    let mut sas = sas();
    sas[0].annotations.insert(
        "eks.amazonaws.com/role-arn".into(),
        "\"><script>alert(1)</script><img src=x onerror=alert(2)>".into(),
    );
    let h = html(&audit(&account, &sas, &Cluster::new(A)));
    assert!(
        !h.contains("<script>") && !h.contains("<img"),
        "markup leaked"
    );
    assert!(h.contains("&lt;script&gt;"));
}

// ------------------------------------------------------------------ the browser

fn chromium() -> Option<PathBuf> {
    irsa_test::program("chromium", "scripts/deps/chromium.sh")
}

/// Runs chromium (bounded); returns what it printed on stdout (written to a file, so a
/// large DOM cannot fill a pipe nobody reads while we wait).
fn run_chromium(bin: &std::path::Path, dir: &std::path::Path, args: &[String]) -> String {
    let out = dir.join("chromium.out");
    let err = dir.join("chromium.err");
    let mut child = std::process::Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let status = irsa_test::wait_bounded(&mut child, std::time::Duration::from_secs(120));
    assert!(
        status.success(),
        "chromium failed: {}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    std::fs::read_to_string(&out).unwrap()
}

#[test]
fn html_report_renders_in_chromium() {
    let Some(bin) = chromium() else { return };
    let r = report(A, "account-export.json");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("audit.html");
    std::fs::write(&page, html(&r)).unwrap();
    let url = format!("file://{}", page.display());

    // The DOM chromium built: the matrix with every cell.
    let dom = run_chromium(&bin, dir.path(), &["--dump-dom".into(), url.clone()]);
    assert!(dom.contains("<table id=\"matrix\">"), "{dom}");
    let cells = dom.matches("data-cell=").count();
    assert_eq!(cells, r.roles.len() * r.service_accounts.len());
    assert!(dom.contains(
        "data-sa=\"team-ab/app\" data-role=\"arn:aws:iam::111122223333:role/team-app\" data-cell=\"broken\""
    ));
    assert!(dom.contains(
        "data-sa=\"payments/api\" data-role=\"arn:aws:iam::111122223333:role/payments-api\" data-cell=\"annotated\""
    ));

    // A screenshot that shows the matrix: not blank, with the cells' colours in it.
    let shot = dir.path().join("audit.png");
    run_chromium(
        &bin,
        dir.path(),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000".into(),
            url,
        ],
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1400, 1000));
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let colour = |rgb: [u8; 3], tol: i32| {
        pixels
            .iter()
            .filter(|p| {
                p.iter()
                    .zip(rgb)
                    .all(|(a, b)| (i32::from(*a) - i32::from(b)).abs() <= tol)
            })
            .count()
    };
    let white = colour([255, 255, 255], 0);
    assert!(white < pixels.len() * 98 / 100, "the screenshot is blank");
    // #2e7d32 (annotated and assumable), #c62828 (annotated, refused), #a5d6a7 (assumable).
    for (rgb, what) in [
        ([0x2e, 0x7d, 0x32], "annotated cells"),
        ([0xc6, 0x28, 0x28], "broken cells"),
        ([0xa5, 0xd6, 0xa7], "assumable cells"),
    ] {
        assert!(colour(rgb, 6) > 200, "no {what} visible in the screenshot");
    }
}
