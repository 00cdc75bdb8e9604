//! `loa-node`: parses the command line, sets up logging and calls the library.

use clap::{Args, Parser, Subcommand, ValueEnum};
use loa_node::audio::{AudioConfig, SinkKind};
use loa_node::config::NodeConfig;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;

/// This build's version: `LOA_BUILD_VERSION` at build time (a release build sets it), else the
/// crate's. Only this small binary crate is rebuilt when it changes.
const BUILD_VERSION: &str = match option_env!("LOA_BUILD_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

#[derive(Parser)]
#[command(name = "loa-node", version = BUILD_VERSION, about = "The village loa node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The node's config file, as every command that needs one takes it.
#[derive(Args)]
struct ConfigPath {
    #[arg(
        long = "config",
        short = 'c',
        env = "LOA_NODE_CONFIG",
        default_value = "/etc/loa/node.toml"
    )]
    path: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node: keep the plan, fetch media, play on time, report every step.
    Run {
        #[command(flatten)]
        config: ConfigPath,
    },
    /// Play a file through the configured output (or the one given), to test the speakers.
    /// With --config, the amplifier relay (if configured) is switched on for it.
    Play {
        file: PathBuf,
        /// Take the audio output from this node config.
        #[arg(long, short)]
        config: Option<PathBuf>,
        #[arg(long, value_enum)]
        sink: Option<SinkArg>,
        /// ALSA device name for the cpal sink (`loa-node devices` lists them).
        #[arg(long)]
        device: Option<String>,
        /// Directory for the wav sink.
        #[arg(long)]
        wav_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 80)]
        volume: u8,
    },
    /// List the audio output devices by name (with --capture, the microphone inputs).
    Devices {
        #[arg(long)]
        capture: bool,
    },
    /// Play a steady 1 kHz tone on the configured output, the amplifier switched on, so an
    /// installer can hear the loudspeaker.
    TestTone {
        #[command(flatten)]
        config: ConfigPath,
        /// How long, in seconds.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Its peak level, in dB below full scale (the node's volume does not apply).
        #[arg(long, default_value_t = -12.0, allow_hyphen_values = true)]
        level_db: f32,
    },
    /// Run the speaker check now (`[audio.speaker_check]` in the config): play the quiet test
    /// signal and listen for it through the microphone. Exit status 1 if it is not heard.
    SpeakerCheck {
        #[command(flatten)]
        config: ConfigPath,
    },
    /// Check the installation: config, controller key, data directory, broker login,
    /// controller, media token, audio output, amplifier relay; with --location, saves where
    /// the loudspeaker stands. Exit status 1 if any fails.
    ///
    /// The broker check logs in as this node: a running node service is disconnected for a
    /// moment and reconnects by itself.
    Check {
        #[command(flatten)]
        config: ConfigPath,
        /// Where this loudspeaker stands, `LAT,LON` in decimal degrees (21.0285,105.8542):
        /// saved in the data directory and reported to the service centre for its map.
        #[arg(long, allow_hyphen_values = true)]
        location: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SinkArg {
    Cpal,
    Wav,
    Null,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    loa_node::update::set_version(BUILD_VERSION);
    // The check speaks for itself, one line per check; logs only for what goes wrong.
    let default_filter = match cli.command {
        Command::Check { .. } => "error",
        _ => "info,rumqttc=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Run { config } => {
            let cfg = NodeConfig::load(&config.path)?;
            // The packaged binary keeps the node: it runs an active release as its child.
            if std::env::var_os(loa_node::update::KEPT_ENV).is_none() {
                let trial = std::time::Duration::from_secs(
                    cfg.update
                        .trial_secs
                        .unwrap_or(loa_node::update::DEFAULT_TRIAL_SECS),
                );
                if let loa_node::update::keeper::Kept::Exited(code) =
                    loa_node::update::keeper::keep(&cfg.data_dir, &config.path, trial).await?
                {
                    return Ok(ExitCode::from(code));
                }
            }
            let shutdown = CancellationToken::new();
            tokio::spawn(on_signal(shutdown.clone()));
            tracing::info!(node = %cfg.node_id, site = %cfg.site, version = BUILD_VERSION, "node starting");
            match loa_node::run_node(cfg, shutdown).await? {
                loa_node::Exit::Stopped => Ok(ExitCode::SUCCESS),
                loa_node::Exit::Switch => Ok(ExitCode::from(loa_node::update::SWITCH_EXIT_CODE)),
            }
        }
        Command::Play {
            file,
            config,
            sink,
            device,
            wav_dir,
            volume,
        } => {
            let (mut audio, relay) = match config {
                Some(path) => {
                    let cfg = NodeConfig::load(&path)?;
                    (cfg.0.audio, cfg.0.relay)
                }
                None => (AudioConfig::default(), None),
            };
            if let Some(s) = sink {
                audio.sink = match s {
                    SinkArg::Cpal => SinkKind::Cpal,
                    SinkArg::Wav => SinkKind::Wav,
                    SinkArg::Null => SinkKind::Null,
                };
            }
            if device.is_some() {
                audio.device = device;
            }
            if wav_dir.is_some() {
                audio.wav_dir = wav_dir;
            }
            // The amplifier is switched as for a scheduled item, so the installer hears it.
            let report = tokio::task::spawn_blocking(move || {
                loa_node::relay::around(relay.as_ref(), || {
                    loa_node::audio::cli::play_file(&file, &audio, volume)
                })
            })
            .await??;
            println!("played {} frames", report.frames);
            Ok(ExitCode::SUCCESS)
        }
        Command::Devices { capture } => {
            let names = if capture {
                loa_node::speaker::capture::device_names().map_err(anyhow::Error::msg)?
            } else {
                loa_node::audio::cli::list_devices()?
            };
            for name in names {
                println!("{name}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::TestTone {
            config,
            seconds,
            level_db,
        } => {
            if !(0.1..=600.0).contains(&seconds) || !(-60.0..=0.0).contains(&level_db) {
                anyhow::bail!("--seconds must be 0.1 to 600 and --level-db -60 to 0");
            }
            let cfg = NodeConfig::load(&config.path)?;
            let (audio, relay) = (cfg.0.audio, cfg.0.relay);
            println!("playing a 1 kHz tone for {seconds} s at {level_db} dBFS");
            tokio::task::spawn_blocking(move || {
                loa_node::relay::around(relay.as_ref(), || {
                    loa_node::speaker::test_tone(&audio, seconds, level_db)
                })
            })
            .await??;
            Ok(ExitCode::SUCCESS)
        }
        Command::SpeakerCheck { config } => {
            let cfg = NodeConfig::load(&config.path)?;
            let (audio, relay) = (cfg.0.audio, cfg.0.relay);
            let Some(check) = audio.speaker_check.clone() else {
                anyhow::bail!(
                    "{}: no [audio.speaker_check] section (capture_device = the microphone input)",
                    config.path.display()
                );
            };
            let verdict = tokio::task::spawn_blocking(move || {
                loa_node::relay::around(relay.as_ref(), || loa_node::speaker::check(&audio, &check))
            })
            .await?;
            if verdict.passed {
                println!("✓ the loudspeaker is heard: {}", verdict.detail);
                Ok(ExitCode::SUCCESS)
            } else {
                println!("✗ {}", verdict.detail);
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Check { config, location } => {
            let ok =
                loa_node::check::run(&config.path, location.as_deref(), |o| println!("{o}")).await;
            if ok {
                println!("all checks passed");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("some checks failed: see the lines marked ✗");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

/// Ctrl-C or SIGTERM (what systemd sends) starts an orderly shutdown.
async fn on_signal(shutdown: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("can listen for SIGTERM");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    shutdown.cancel();
}
