#![doc = include_str!("../README.md")]

mod config;
mod health;
mod limit;
mod metrics;
mod serve;
mod threads;
pub mod tls;

pub use config::{Current, ReadError, base_dir, read, read_text, watch_file};
pub use health::{Health, ops_router};
pub use limit::{BodyError, Budget, Limits, Refusals, Reservation, read_body};
pub use metrics::{ServerMetrics, StatusClass};
pub use serve::{ServeOptions, bind, bind_dual_stack, serve};
pub use threads::{ThreadShutdown, serve_threads, serving_threads};
