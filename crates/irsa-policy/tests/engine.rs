//! Whole-policy cases: every `tests/cases/*.json` plus every folder in `IRSA_POLICY_CASES`
//! (colon-separated). A case is an `irsa policy eval` input document plus `"expected"`
//! (`Allow` | `ExplicitDeny` | `ImplicitDeny`) and optionally `"expectedMatched"`, a list of
//! `policy#statement` strings such as `"identity[0]#1"`. Prints `<path>: ok|FAIL` per case
//! and `N passed, M failed`; exits non-zero on any failure.

use irsa_policy::document::EvalDocument;
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
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")];
    let mut missing = 0usize;
    if let Ok(extra) = std::env::var("IRSA_POLICY_CASES") {
        for d in extra.split(':').filter(|d| !d.is_empty()) {
            let p = PathBuf::from(d);
            if !p.is_dir() {
                eprintln!("{d}: IRSA_POLICY_CASES folder does not exist");
                missing += 1;
            }
            dirs.push(p);
        }
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    for dir in &dirs {
        for case in cases_in(dir) {
            match run_case(&case) {
                Ok(()) => {
                    println!("{}: ok", case.display());
                    passed += 1;
                }
                Err(e) => {
                    println!("{}: FAIL: {e}", case.display());
                    failed += 1;
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 || missing > 0 || passed == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
