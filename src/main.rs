//! The `syncwatch` binary: parses the command line and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use syncwatch::commands;
use syncwatch::config::load_file;

const DEFAULT_CONFIG: &str = "/etc/syncwatch/rules.yaml";

#[derive(Parser)]
#[command(
    name = "syncwatch",
    version,
    about = "Alerts on Railz data-sync webhooks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// The rules file.
    #[arg(long, short, env = "SYNCWATCH_CONFIG", default_value = DEFAULT_CONFIG)]
    config: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the rules file; exit 0 when valid, 1 with every error.
    Check(ConfigArg),
    /// Evaluate payload files: which rules fire and what each channel would
    /// receive. Sends nothing.
    Test {
        #[command(flatten)]
        config: ConfigArg,
        /// Webhook bodies (JSON files) to evaluate.
        #[arg(required = true)]
        payloads: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let result = match cli.command {
        Command::Check(args) => commands::check(&args.config, &mut out, &mut err),
        Command::Test { config, payloads } => match load_file(&config.config) {
            Ok(loaded) => commands::test_payloads(&loaded, &payloads, &mut out),
            Err(errors) => {
                eprintln!("{errors}");
                Ok(commands::EXIT_FAILED)
            }
        },
    };
    match result {
        Ok(code) => ExitCode::from(code),
        // `syncwatch test ... | head` closes the pipe early; that is not a failure.
        Err(io) if io.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(io) => {
            eprintln!("syncwatch: cannot write output: {io}");
            ExitCode::FAILURE
        }
    }
}
