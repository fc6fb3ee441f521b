//! CPU of one admission without the network: decode the AdmissionReview of the load
//! harness's 3-container pod, look its ServiceAccount up in a 5,000-entry store, resolve,
//! mutate and encode the response, in a loop on one thread; prints the time per
//! admission of each step and of the whole.
//!
//! ```text
//! cargo run --release -p irsa-webhook --example admission_cpu -- [--iterations 200000]
//! ```

mod common;

use irsa_mutate::{Lookup, Pod};
use irsa_webhook::{admission_allowed, decode_admission_review};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: u32 = args
        .iter()
        .position(|a| a == "--iterations")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let settings = common::settings();
    let store = common::store(settings.clone(), 5000);
    let body = common::review(1, "apps", "app");
    let mut rng = rand::thread_rng();
    let mut steps = [Duration::ZERO; 5];
    let total = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let Ok(review) = decode_admission_review(black_box(&body)) else {
            return;
        };
        let env = review.envelope();
        let t1 = Instant::now();
        let Ok(pod) = Pod::from_raw(review.object) else {
            return;
        };
        let sa = pod.service_account();
        let config = store.get(&review.namespace, &sa);
        let t2 = Instant::now();
        let decision = irsa_mutate::resolve(
            &Lookup {
                namespace: &review.namespace,
                service_account: &sa,
                service_account_config: config.as_deref(),
                config_map: None,
                container_credentials: None,
            },
            &settings,
        );
        let t3 = Instant::now();
        let Ok(Some(patch)) = irsa_mutate::mutate_pod(&pod, &decision, &settings, &mut rng) else {
            return;
        };
        let t4 = Instant::now();
        black_box(admission_allowed(&env, Some(patch.as_bytes())));
        let t5 = Instant::now();
        for (s, d) in steps
            .iter_mut()
            .zip([t1 - t, t2 - t1, t3 - t2, t4 - t3, t5 - t4])
        {
            *s += d;
        }
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "admission CPU, {} bytes AdmissionReview, {n} iterations: {:.2} µs per admission",
        body.len(),
        per(total.elapsed())
    );
    for (name, d) in [
        "decode envelope",
        "read pod + SA lookup",
        "resolve",
        "mutate (patch text)",
        "encode response",
    ]
    .iter()
    .zip(steps)
    {
        println!("  {name:<22} {:.2} µs", per(d));
    }
}
