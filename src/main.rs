//! The `syncwatch` binary: parses the command line and calls the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use syncwatch::commands;
use syncwatch::config::{Config, load_file};

const DEFAULT_CONFIG: &str = "/etc/syncwatch/rules.yaml";

#[derive(Parser)]
#[command(name = "syncwatch", version, about = "Alerts on Railz data-sync webhooks")]
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
    /// Run the daemon: receive webhooks and deliver notifications.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Log each notification instead of sending it.
        #[arg(long)]
        dry_run: bool,
    },
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
    /// Send a test notification through one channel and show its answer.
    SendTest {
        #[command(flatten)]
        config: ConfigArg,
        /// The channel's name in rules.yaml.
        #[arg(long)]
        channel: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let result = match cli.command {
        Command::Serve { config, dry_run } => {
            return match commands::serve(&config.config, dry_run) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("syncwatch: {error:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Check(args) => commands::check(&args.config, &mut out, &mut err),
        Command::Test { config, payloads } => {
            with_config(&config, |loaded| commands::test_payloads(loaded, &payloads, &mut out))
        }
        Command::SendTest { config, channel } => with_config(&config, |loaded| {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(commands::send_test(loaded, &channel, &mut out))
        }),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        // `syncwatch test ... | head` closes the pipe early; that is not a failure.
        Err(io) if io.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(io) => {
            eprintln!("syncwatch: {io}");
            ExitCode::FAILURE
        }
    }
}

fn with_config(args: &ConfigArg, run: impl FnOnce(&Config) -> std::io::Result<u8>) -> std::io::Result<u8> {
    match load_file(&args.config) {
        Ok(config) => run(&config),
        Err(errors) => {
            eprintln!("{errors}");
            Ok(commands::EXIT_FAILED)
        }
    }
}

/// Readable lines on stderr; `RUST_LOG` (e.g. `syncwatch=debug`) changes the level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
