//! `loa-controller`: parses the command line, sets up logging and calls the library.

use clap::{Parser, Subcommand};
use loa_controller::config::{Config, Overrides};
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "loa-controller",
    version,
    about = "The commune's loa controller"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller: API, media, planner and (by default) the embedded MQTT broker.
    Serve(Box<Overrides>),
    /// Print the default configuration file.
    Config,
    /// The standing programme files.
    #[command(subcommand)]
    Schedules(SchedulesCommand),
    /// Staff accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Node releases: the offline release key and signed bundles (docs/field.md).
    #[command(subcommand)]
    Release(ReleaseCommand),
    /// Write Mosquitto's password file and ACL (`loa.passwd`, `loa.acl`) from the node
    /// registry: each node reads only its own plan and ack and writes only its own state and
    /// events; the controller's account (`[mqtt] username/password`) reaches the whole site.
    MosquittoConfig {
        #[command(flatten)]
        over: Box<Overrides>,
        /// The directory to write into; `[mqtt] mosquitto_dir` when absent.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account (the first admin, for one). The password is read from standard input
    /// (one line), so it stays out of the shell's history.
    Add {
        #[command(flatten)]
        over: Box<Overrides>,
        #[arg(long)]
        username: String,
        /// admin, operator or viewer.
        #[arg(long)]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Limit the account to these zone ids (comma-separated); the whole commune if absent.
        #[arg(long, value_delimiter = ',')]
        zones: Vec<i64>,
        /// Also make an API token with this name and print it (for scripts).
        #[arg(long)]
        token: Option<String>,
    },
}

#[derive(Subcommand)]
enum ReleaseCommand {
    /// Make a release key (keep it offline, not on the controller); prints its public half
    /// for the controller's `release_key`.
    Keygen {
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Sign a node binary into a bundle to upload (`POST /api/v1/releases`).
    Sign {
        /// The release key file (from `release keygen`).
        #[arg(long)]
        key: std::path::PathBuf,
        /// amd64, arm64 or armhf.
        #[arg(long)]
        arch: String,
        /// The version the binary reports (`loa-node --version`).
        #[arg(long)]
        version: String,
        binary: std::path::PathBuf,
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum SchedulesCommand {
    /// Check every `*.toml` in DIR: syntax, time rules, recordings. Each error names the file
    /// and the line; the exit status is 1 if there is any.
    Check {
        #[arg(default_value = "schedules")]
        dir: std::path::PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Config => {
            print!("{}", Config::default_toml());
            Ok(())
        }
        Command::Schedules(SchedulesCommand::Check { dir }) => {
            let errors = loa_controller::schedule::file::check_dir(&dir);
            for e in &errors {
                eprintln!("{e}");
            }
            if errors.is_empty() {
                let n = loa_controller::schedule::file::load_dir(&dir)
                    .map(|v| v.len())
                    .unwrap_or(0);
                println!("{}: {n} programme(s), no errors", dir.display());
                Ok(())
            } else {
                eprintln!("{} error(s)", errors.len());
                std::process::exit(1);
            }
        }
        Command::User(UserCommand::Add {
            over,
            username,
            role,
            display_name,
            zones,
            token,
        }) => {
            let cfg = Config::load(&over)?;
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let account = loa_controller::ops::users::NewAccount {
                username,
                display_name,
                password: password.trim_end_matches(['\r', '\n']).to_owned(),
                role: role.parse().map_err(anyhow::Error::msg)?,
                language: None,
                zone_ids: zones,
            };
            let (user, token) = loa_controller::add_user(&cfg, &account, token.as_deref()).await?;
            eprintln!("account {} ({}) created", user.username, user.role.as_str());
            if let Some(t) = token {
                println!("{t}");
            }
            Ok(())
        }
        Command::Release(ReleaseCommand::Keygen { out }) => {
            let public = loa_controller::release_key::keygen(&out)?;
            eprintln!(
                "release key written to {}; keep it offline. Its public half, for the controller's release_key:",
                out.display()
            );
            println!("{public}");
            Ok(())
        }
        Command::Release(ReleaseCommand::Sign {
            key,
            arch,
            version,
            binary,
            out,
        }) => {
            let bytes =
                std::fs::read(&binary).map_err(|e| anyhow::anyhow!("{}: {e}", binary.display()))?;
            std::fs::write(
                &out,
                loa_controller::release_key::sign(&key, &arch, &version, &bytes)?,
            )?;
            eprintln!("wrote {} ({version}, {arch})", out.display());
            Ok(())
        }
        Command::MosquittoConfig { over, out } => {
            let cfg = Config::load(&over)?;
            let dir = out
                .or_else(|| cfg.mqtt.mosquitto_dir.clone())
                .ok_or_else(|| anyhow::anyhow!("say where to write: --out DIR"))?;
            let w = loa_controller::mosquitto_config(&cfg, &dir).await?;
            if let Some(warning) =
                loa_controller::mqtt::mosquitto::without_hash_warning(&w.without_hash)
            {
                eprintln!("warning: {warning}");
            }
            eprintln!(
                "wrote accounts for the controller and {} node(s); add these lines to \
                 mosquitto.conf, then reload Mosquitto (systemctl reload mosquitto):",
                w.nodes
            );
            println!("password_file {}", w.password_file.display());
            println!("acl_file {}", w.acl_file.display());
            Ok(())
        }
        Command::Serve(over) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info,rumqttd=warn,sqlx=warn,tower_http=warn".into()),
                )
                .init();
            let cfg = Config::load(&over)?;
            let shutdown = CancellationToken::new();
            tokio::spawn(on_signal(shutdown.clone()));
            loa_controller::run(cfg, shutdown).await
        }
    }
}

/// Ctrl-C or SIGTERM (what systemd sends) starts an orderly shutdown.
async fn on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("can listen for SIGTERM");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
