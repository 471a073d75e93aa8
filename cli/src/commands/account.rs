//! `login`, `signup` and `logout`.

use std::io::{BufRead, IsTerminal, Write};

use paas_types::{CreateTokenRequest, CreatedToken, LoginRequest, Session, SignupRequest};

use crate::args::{LoginArgs, SignupArgs};
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
    let password = password(args.password_stdin)?;
    let anonymous = ctx.client.with_token(None);
    let session: Session = anonymous.login(&LoginRequest { email: email.clone(), password }).await?;
    save_token(ctx, &email, session).await?;
    Ok(())
}

/// Creates an account (joining the inviting tenant with `--invite`), then
/// saves an API token for this machine as `login` does.
pub async fn signup(ctx: &Context, args: SignupArgs) -> Result<(), CliError> {
    let email = match args.email {
        Some(email) => email,
        None => prompt("Email: ")?,
    };
    let password = password(args.password_stdin)?;
    let request = SignupRequest { email: email.clone(), password, tenant: args.tenant, invitation: args.invite };
    let session: Session = ctx.client.with_token(None).signup(&request).await?;
    save_token(ctx, &email, session).await?;
    Ok(())
}

fn password(from_stdin: bool) -> Result<String, CliError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(CliError::io("cannot read the password"))?;
        Ok(line.trim_end_matches(['\n', '\r']).to_string())
    } else {
        rpassword::prompt_password("Password: ").map_err(CliError::io("cannot read the password"))
    }
}

/// Turns a session into a long-lived API token saved for this machine.
async fn save_token(ctx: &Context, email: &str, session: Session) -> Result<(), CliError> {
    let base = ctx.client.base().to_string();
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "cli".into());
    let with_session = ctx.client.with_token(Some(session.token));
    let request = CreateTokenRequest { name: format!("paas CLI on {host}"), ..Default::default() };
    let created: CreatedToken = with_session.create_token(&request).await?;
    let path = settings::save(&settings::Credentials { api_url: base, email: email.to_string(), token: created.token })
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
