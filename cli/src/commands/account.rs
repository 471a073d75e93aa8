//! `login` and `logout`.

use std::io::{BufRead, IsTerminal, Write};

use paas_types::{CreateTokenRequest, CreatedToken, LoginRequest, Session};

use crate::args::LoginArgs;
use crate::context::Context;
use crate::error::CliError;
use crate::settings;

/// Exchanges email and password for a session, then creates a long-lived
/// API token for this machine and saves it (the password is not kept).
pub async fn login(ctx: &Context, args: LoginArgs) -> Result<(), CliError> {
    let email = match args.email {
        Some(email) => email,
        None => prompt("Email: ")?,
    };
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(CliError::io("cannot read the password"))?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else {
        rpassword::prompt_password("Password: ").map_err(CliError::io("cannot read the password"))?
    };
    let base = ctx.client.base().to_string();
    let anonymous = ctx.client.with_token(None);
    let session: Session = anonymous.login(&LoginRequest { email: email.clone(), password }).await?;
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "cli".into());
    let with_session = ctx.client.with_token(Some(session.token));
    let request = CreateTokenRequest { name: format!("paas CLI on {host}"), ..Default::default() };
    let created: CreatedToken = with_session.create_token(&request).await?;
    let path = settings::save(&settings::Credentials { api_url: base, email: email.clone(), token: created.token })
        .map_err(CliError::io("cannot save the token"))?;
    eprintln!("Logged in as {email}; token saved in {}", path.display());
    Ok(())
}

pub fn logout() -> Result<(), CliError> {
    if settings::remove().map_err(CliError::io("cannot remove the saved token"))? {
        eprintln!("Logged out (the token still exists on the server: `paas tokens revoke` it if it leaked)");
    } else {
        eprintln!("Not logged in");
    }
    Ok(())
}

/// Asks for one line on a terminal (refused when stdin is not one).
pub fn prompt(label: &str) -> Result<String, CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!("{} is required when not on a terminal", label.trim_end_matches(": "))));
    }
    eprint!("{label}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(CliError::io("cannot read input"))?;
    Ok(line.trim().to_string())
}
