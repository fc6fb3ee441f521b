use clap::Subcommand;

#[derive(Subcommand)]
pub enum Cmd {}

/// Runs the subcommand; returns the process exit code. An `Err` is printed and exits 2.
pub fn run(cmd: Cmd) -> anyhow::Result<u8> {
    match cmd {}
}
