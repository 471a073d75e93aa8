//! `paas run [--size S] [--detach] -- CMD...`: a one-off process of the
//! app's current release, attached to this terminal (or detached, its
//! output in `paas logs -p run`). With a terminal on both stdin and stdout
//! the process gets a pseudo-terminal and this terminal goes raw (so
//! Ctrl-C, arrows and hidden password input behave as on the server);
//! otherwise stdin, stdout and stderr are passed as plain streams. The
//! process's exit status becomes this command's.

mod terminal;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use paas_types::client::socket::{Message, SessionSocket};
use paas_types::client::RestClient;
use paas_types::session::{self, ConsoleRequest, Control, RunRequest};
use paas_types::Size;
use tokio::sync::mpsc;

use crate::context::Context;
use crate::error::CliError;
use crate::output;

/// Longest wait for the session's WebSocket.
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

pub async fn run(ctx: &Context, size: Option<String>, detach: bool, command: Vec<String>) -> Result<(), CliError> {
    let app = ctx.app()?;
    let client = ctx.client()?;
    let size = match size {
        Some(s) => Some(
            Size::parse(&s).ok_or_else(|| CliError::Usage(format!("{s:?} is not a size: small, standard or large")))?,
        ),
        None => None,
    };
    let tty = !detach && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let window = if tty { terminal::size() } else { None };
    let request = RunRequest {
        command: command.clone(),
        size,
        detach,
        tty,
        cols: window.map(|(cols, _)| cols),
        rows: window.map(|(_, rows)| rows),
        term: tty.then(|| std::env::var("TERM").ok()).flatten().filter(|t| !t.is_empty()),
    };
    let run = client.create_run(&app, &request).await?;
    let short = &run.id.simple().to_string()[..8];
    if ctx.json && detach {
        output::json(&run);
        return Ok(());
    }
    if detach {
        println!(
            "Running `{}` on {app} in the background (run.{short}, v{}, {}).\nIts output: paas logs -a {app} -p run",
            command.join(" "),
            run.release,
            run.size.as_str()
        );
        return Ok(());
    }
    if tty {
        eprintln!(
            "Running `{}` on {app} (run.{short}, v{}, {}) ...",
            command.join(" "),
            run.release,
            run.size.as_str()
        );
    }
    stream(ctx, client, &app, run.id, tty).await
}

/// `paas pg psql` / `paas redis cli`: the add-on's own client, in its
/// container, logged in as the app; attached like `paas run`.
pub async fn console(ctx: &Context, addon: &str, app: Option<String>) -> Result<(), CliError> {
    let client = ctx.client()?;
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let window = if tty { terminal::size() } else { None };
    let request = ConsoleRequest {
        app,
        tty,
        cols: window.map(|(cols, _)| cols),
        rows: window.map(|(_, rows)| rows),
        term: tty.then(|| std::env::var("TERM").ok()).flatten().filter(|t| !t.is_empty()),
    };
    let run = client.addon_console(addon, &request).await?;
    if tty {
        eprintln!("Connecting to {addon} ({}, as {}) ...", run.command.join(" "), run.app);
    }
    stream(ctx, client, &run.app, run.id, tty).await
}

/// Attaches this terminal to a run until its process exits; its exit
/// status becomes this command's.
async fn stream(ctx: &Context, client: &RestClient, app: &str, run: uuid::Uuid, tty: bool) -> Result<(), CliError> {
    let token = ctx.token().ok_or(CliError::NotLoggedIn)?;
    let path = RestClient::run_attach_path(app, run);
    let socket = client.connection().socket(&path, token, CONNECT_LIMIT).await.map_err(|e| match e {
        paas_types::client::socket::SocketError::Refused(error) => CliError::Client(error),
        other => CliError::Failed(format!("{}: {}", other, root_cause(&other))),
    })?;
    let status = attach(socket, tty).await?;
    match status {
        0 => Ok(()),
        code => Err(CliError::Exit(u8::try_from(code).unwrap_or(255))),
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// What arrives from the terminal side.
enum Input {
    Bytes(Vec<u8>),
    Eof,
}

/// Pumps the terminal and the session until the process exits; returns its status.
async fn attach(socket: SessionSocket, tty: bool) -> Result<i32, CliError> {
    let raw = if tty {
        Some(terminal::RawMode::enter().map_err(CliError::io("cannot set the terminal to raw mode"))?)
    } else {
        None
    };
    let (mut tx, mut rx) = socket.split();
    let mut input = read_stdin();
    let mut resized = terminal::resizes();
    let mut stdin_open = true;
    let newline = if tty { "\r\n" } else { "\n" };
    let outcome = loop {
        tokio::select! {
            message = rx.next() => match message {
                Some(Ok(Message::Binary(bytes))) => match session::unframe(&bytes) {
                    Some((session::STDERR, payload)) => write_all(&mut std::io::stderr(), payload),
                    Some((_, payload)) => write_all(&mut std::io::stdout(), payload),
                    None => {}
                },
                Some(Ok(Message::Text(text))) => match Control::from_json(text.as_str()) {
                    Some(Control::Status { message }) => eprint!("{message}{newline}"),
                    Some(Control::Exit { status, message, .. }) => {
                        if let Some(message) = message {
                            eprint!("{message}{newline}");
                        }
                        break Ok(status);
                    }
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | None => {
                    break Err(CliError::Failed("the session ended without the process's exit status".into()));
                }
                Some(Err(error)) => break Err(CliError::Failed(format!("the session broke off: {error}"))),
                Some(Ok(_)) => {}
            },
            chunk = input.recv(), if stdin_open => {
                let message = match chunk {
                    Some(Input::Bytes(bytes)) => Message::binary(session::frame(session::STDIN, &bytes)),
                    Some(Input::Eof) | None => {
                        stdin_open = false;
                        Message::text(Control::Eof.to_json())
                    }
                };
                if tx.send(message).await.is_err() {
                    break Err(CliError::Failed("the session broke off".into()));
                }
            },
            Some(()) = resized.recv() => {
                if let Some((cols, rows)) = terminal::size() {
                    let _ = tx.send(Message::text(Control::Resize { cols, rows }.to_json())).await;
                }
            },
            // Without a terminal, Ctrl-C arrives here (raw mode sends it as a byte).
            _ = tokio::signal::ctrl_c(), if !tty => {
                let _ = tx.send(Message::text(Control::Signal { signal: "INT".into() }.to_json())).await;
            },
        }
    };
    let _ = tx.send(Message::Close(None)).await;
    drop(raw);
    outcome
}

fn write_all(out: &mut impl Write, bytes: &[u8]) {
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

/// Standard input, read on a thread of its own (a blocking read must not
/// hold the process open at exit), as chunks and then `Eof`.
fn read_stdin() -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin().lock();
        let mut buffer = [0u8; 4096];
        loop {
            let input = match stdin.read(&mut buffer) {
                Ok(0) | Err(_) => Input::Eof,
                Ok(n) => Input::Bytes(buffer[..n].to_vec()),
            };
            let eof = matches!(input, Input::Eof);
            if tx.blocking_send(input).is_err() || eof {
                return;
            }
        }
    });
    rx
}
