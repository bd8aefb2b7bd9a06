//! The `broadcast` command.

mod api;
mod commands;
mod config_file;
mod inputs;
mod send;
mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Broadcast LLM request traces to observability destinations.
#[derive(Debug, Parser)]
#[command(name = "broadcast", version, about)]
struct Cli {
    /// Log line format on stderr. The level comes from RUST_LOG (default: info).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Deliver envelope files to the configured destinations, wait, and print a summary.
    ///
    /// Exits with 1 when an input was rejected or a delivery failed.
    Send {
        /// Config file (TOML) with the accounts and their destinations.
        #[arg(long)]
        config: PathBuf,
        /// Envelope files (.json holding one envelope or an array, .jsonl, .ndjson) or
        /// directories of them.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Run the service: ingest (POST /v1/traces), the management API for destinations per
    /// account, /metrics, /openapi.json and /healthz.
    Serve {
        /// Config file (TOML). Without it the service starts with no destinations.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on [default: 127.0.0.1:8787, or server.listen in the config].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Directory of the durable queue, the destination store and, when no key is given,
        /// the generated secret key [default: $XDG_DATA_HOME/broadcast or
        /// ~/.local/share/broadcast, or server.data_dir in the config].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// List the registered destination types with their config schema.
    Destinations {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the SQL that creates the table of a table destination (ClickHouse, Snowflake).
    Ddl {
        /// Config file (TOML).
        #[arg(long)]
        config: PathBuf,
        /// Destination name, or ACCOUNT/NAME when several accounts use the name.
        #[arg(long)]
        destination: String,
    },
    /// Test the connection of every destination in a config file.
    ///
    /// Exits with 1 when a test failed.
    TestConnection {
        /// Config file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            std::process::exit(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Send { config, inputs } => send::run(config, inputs).await,
            Command::Serve {
                config,
                listen,
                data_dir,
            } => serve::run(serve::ServeOptions {
                config,
                listen,
                data_dir,
            })
            .await
            .map(|()| 0),
            Command::Destinations { json } => commands::destinations(json),
            Command::TestConnection { config } => commands::test_connection(config).await,
            Command::Ddl {
                config,
                destination,
            } => commands::ddl(config, &destination),
        }
    });
    match result {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::exit(2);
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
