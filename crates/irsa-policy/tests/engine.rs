//! Whole-policy cases: every `tests/cases/*.json` and `tests/cases/resource-combinations/*.json`
//! (written by `tests/gen_resource_combinations.py`) plus every folder in `IRSA_POLICY_CASES`
//! (colon-separated). A case is an `irsa policy eval` input document plus `"expected"`
//! (`Allow` | `ExplicitDeny` | `ImplicitDeny`) and optionally `"expectedMatched"`, a list of
//! `policy#statement` strings such as `"identity[0]#1"`. Each case is one test, named
//! `cases/<file>` (own cases) or by its path (extra folders), so `cargo test` names a failing
//! case and accepts a name filter; a folder that is missing or holds no case fails too.

use irsa_policy::EvalDocument;
use libtest_mimic::{Arguments, Trial};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn cases_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) => {
            eprintln!("{}: cannot read folder: {e}", dir.display());
            return Vec::new();
        }
    };
    out.sort();
    out
}

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let doc = EvalDocument::parse(&text).map_err(|e| e.to_string())?;
    let expected = doc.expected.ok_or("no `expected` decision")?;
    let got = doc.evaluate();
    // The allocation-free paths decide as the full evaluation does.
    let fast = irsa_policy::decide(&doc.input(), &doc.request);
    if fast != got.decision {
        return Err(format!("decide gave {fast}, evaluate {}", got.decision));
    }
    if let Some(trust) = &doc.resource_policy {
        let (full, fast) = (
            irsa_policy::evaluate_trust(trust, &doc.request).decision,
            irsa_policy::decide_trust(trust, &doc.request),
        );
        if full != fast {
            return Err(format!("decide_trust gave {fast}, evaluate_trust {full}"));
        }
    }
    if got.decision != expected {
        return Err(format!(
            "expected {expected}, got {} ({})",
            got.decision,
            got.to_value()
        ));
    }
    let raw: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if let Some(want) = raw.get("expectedMatched").and_then(|v| v.as_array()) {
        let want: Vec<&str> = want.iter().filter_map(|v| v.as_str()).collect();
        let have: Vec<String> = got
            .matched
            .iter()
            .map(|m| format!("{}#{}", m.policy, m.statement))
            .collect();
        if want != have {
            return Err(format!("expected matched {want:?}, got {have:?}"));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut trials = Vec::new();
    // The hand-written cases and the generated combinations of identity policy, resource-policy
    // principal, boundary and session policy (tests/gen_resource_combinations.py).
    let mut folders = vec![
        (own.clone(), true),
        (own.join("resource-combinations"), true),
    ];
    folders.extend(
        irsa_test::extra_dirs("IRSA_POLICY_CASES")
            .into_iter()
            .map(|d| (d, false)),
    );
    for (dir, is_own) in folders {
        if !dir.is_dir() {
            let name = format!("IRSA_POLICY_CASES {}", dir.display());
            trials.push(Trial::test(name, move || {
                Err(format!("{}: folder does not exist", dir.display()).into())
            }));
            continue;
        }
        let cases = cases_in(&dir);
        if cases.is_empty() {
            let name = format!("{}", dir.display());
            trials.push(Trial::test(name, move || {
                Err(format!("{}: no *.json cases in this folder", dir.display()).into())
            }));
        }
        for case in cases {
            let name = match case.strip_prefix(&own) {
                Ok(rel) if is_own => format!("cases/{}", rel.display()),
                _ => case.display().to_string(),
            };
            trials.push(Trial::test(name, move || {
                run_case(&case).map_err(|e| format!("{}: {e}", case.display()).into())
            }));
        }
    }
    libtest_mimic::run(&Arguments::from_args(), trials).exit_code()
}
