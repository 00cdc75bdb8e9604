//! `loa-sim`: parses the command line, sets up logging and calls the library.

use clap::{Parser, Subcommand, ValueEnum};
use loa_sim::{fleet, floor};
use std::path::PathBuf;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "loa-sim",
    version,
    about = "Many virtual loa nodes in one process"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node for every config in a directory, until SIGTERM or Ctrl-C.
    Run {
        /// A directory of node.toml files, as the controller wrote them at provisioning.
        #[arg(long)]
        configs: PathBuf,
        /// Each node keeps its plan, cache, spool and ledger in DATA/{node_id}.
        #[arg(long)]
        data: PathBuf,
        #[arg(long, value_enum, default_value = "null")]
        output: OutputArg,
        /// Replace every config's broker address (host:port), e.g. with a fault proxy.
        #[arg(long)]
        broker: Option<String>,
        /// Replace every config's controller URL.
        #[arg(long)]
        controller: Option<String>,
        /// Nodes started per second.
        #[arg(long, default_value_t = 500)]
        start_rate: u32,
        /// Run share K of N of the configs (K/N, from 0/N): one process per share keeps each
        /// within its open-file limit.
        #[arg(long, default_value = "0/1", value_parser = parse_shard)]
        shard: (usize, usize),
    },
    /// Measure the broker's round-trip floor: publish one message to each of N subscribers,
    /// wait for each one's answer; print each round's time in milliseconds.
    Floor {
        /// host:port
        #[arg(long)]
        broker: String,
        #[arg(long)]
        username: Option<String>,
        #[arg(long, env = "LOA_MQTT_PASSWORD")]
        password: Option<String>,
        #[arg(long)]
        subscribers: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        #[arg(long, default_value_t = 2048)]
        message_bytes: usize,
        #[arg(long, default_value_t = 128)]
        answer_bytes: usize,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputArg {
    Null,
    Wav,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Run {
                configs,
                data,
                output,
                broker,
                controller,
                start_rate,
                shard,
            } => {
                let opts = fleet::Options {
                    configs,
                    data,
                    output: match output {
                        OutputArg::Null => fleet::Output::Null,
                        OutputArg::Wav => fleet::Output::Wav,
                    },
                    broker,
                    controller,
                    start_rate,
                    shard,
                };
                let nodes = fleet::load(&opts)?;
                let shutdown = CancellationToken::new();
                tokio::spawn(on_signal(shutdown.clone()));
                fleet::run(nodes, opts.start_rate, shutdown, |n| {
                    println!("loa-sim: {n} nodes running");
                })
                .await;
                Ok(())
            }
            Command::Floor {
                broker,
                username,
                password,
                subscribers,
                rounds,
                message_bytes,
                answer_bytes,
            } => {
                let mut bench = floor::Bench::connect(floor::Floor {
                    broker,
                    username,
                    password,
                    subscribers,
                    message_bytes,
                    answer_bytes,
                })
                .await?;
                for _ in 0..rounds {
                    let t = bench.round().await?;
                    println!("{:.1}", t.as_secs_f64() * 1000.0);
                }
                Ok(())
            }
        }
    })
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or("a shard is K/N, e.g. 0/2")?;
    let (k, n) = (
        k.parse::<usize>().map_err(|e| e.to_string())?,
        n.parse::<usize>().map_err(|e| e.to_string())?,
    );
    if n == 0 || k >= n {
        return Err(format!("shard {s}: K must be below N"));
    }
    Ok((k, n))
}

async fn on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler installs");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    shutdown.cancel();
}
