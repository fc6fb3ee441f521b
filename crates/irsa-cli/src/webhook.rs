use clap::Args as ClapArgs;

#[derive(ClapArgs)]
pub struct Args {}

/// Runs the server until it is told to stop; returns the process exit code.
pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("not available in this build")
}
