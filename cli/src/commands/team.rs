//! `tokens`, `members`, `invitations` and `events`.

use paas_types::accounts::{
    AcceptInvitationRequest, AccountEvent, CreateInvitationRequest, CreatedInvitation, Invitation,
};
use paas_types::client::rest::EventsQuery;
use paas_types::{
    AddMemberRequest, ApiToken, CreateTokenRequest, CreatedToken, Event, Me, Member, Role, Tenant, TokenScope,
};

use crate::args::{InvitationsCommand, MembersCommand, TokensCommand};
use crate::context::Context;
use crate::error::CliError;
use crate::output;

pub async fn tokens(ctx: &Context, command: TokensCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        TokensCommand::List => {
            let tokens: Vec<ApiToken> = client.list_tokens().await?;
            if ctx.json {
                output::json(&tokens);
            } else {
                let rows = tokens.iter().map(token_row).collect::<Vec<_>>();
                output::table(&["id", "name", "prefix", "scope", "app", "expires", "last used"], &rows);
            }
        }
        TokensCommand::Create { name, scope, expires } => {
            let scope = scope
                .parse::<TokenScope>()
                .map_err(|_| CliError::Usage(format!("--scope {scope:?}: use read, deploy or admin")))?;
            let (expires_in_days, expires_in_hours) = parse_expiry(&expires)?;
            let request =
                CreateTokenRequest { name, scope: Some(scope), app: ctx.app_flag(), expires_in_days, expires_in_hours };
            let created: CreatedToken = client.create_token(&request).await?;
            if ctx.json {
                output::json(&created);
            } else {
                println!("{}", created.token);
                let info = &created.info;
                let app = info.app.as_deref().map(|a| format!(", app {a} only")).unwrap_or_default();
                let expires = info.expires_at.map(|d| format!("expires {}", when(d))).unwrap_or("never expires".into());
                eprintln!("Scope {}{app}, {expires}.", info.scope);
                eprintln!("This is the only time the token is shown; store it now.");
            }
        }
        TokensCommand::Revoke { id } => {
            client.revoke_token(id).await?;
            eprintln!("Revoked {id}");
        }
    }
    Ok(())
}

fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

fn token_row(t: &ApiToken) -> Vec<String> {
    vec![
        t.id.to_string(),
        t.name.clone(),
        format!("{}...", t.prefix),
        t.scope.to_string(),
        t.app.clone().unwrap_or_else(|| "all".into()),
        t.expires_at.map(when).unwrap_or_else(|| "never".into()),
        t.last_used_at.map(when).unwrap_or_else(|| "never".into()),
    ]
}

/// `--expires`: `12h`, `30d` or `never`, as (days, hours) for the API.
fn parse_expiry(text: &str) -> Result<(Option<u32>, Option<u32>), CliError> {
    let bad = || CliError::Usage(format!("--expires {text:?}: use hours or days like 12h, 30d, 90d, or never"));
    let text = text.trim();
    if text.eq_ignore_ascii_case("never") {
        return Ok((None, None));
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let number: u32 = number.parse().map_err(|_| bad())?;
    if number == 0 {
        return Err(bad());
    }
    match unit {
        "d" | "D" => Ok((Some(number), None)),
        "h" | "H" => Ok((None, Some(number))),
        _ => Err(bad()),
    }
}

/// The named tenant, or the caller's only one.
async fn tenant(ctx: &Context, named: Option<String>) -> Result<String, CliError> {
    if let Some(name) = named {
        return Ok(name);
    }
    let me: Me = ctx.client()?.me().await?;
    match me.tenants.as_slice() {
        [only] => Ok(only.name.clone()),
        _ => Err(CliError::Usage("you belong to several tenants; pass --tenant NAME".into())),
    }
}

pub async fn members(ctx: &Context, command: MembersCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        MembersCommand::List { tenant: named } => {
            let tenant = tenant(ctx, named).await?;
            let members: Vec<Member> = client.list_members(&tenant).await?;
            if ctx.json {
                output::json(&members);
            } else {
                let rows =
                    members.iter().map(|m| vec![m.email.clone(), m.role.as_str().to_string()]).collect::<Vec<_>>();
                output::table(&["email", "role"], &rows);
            }
        }
        MembersCommand::Add { email, role, tenant: named } => {
            let role = Role::parse(&role).ok_or_else(|| CliError::Usage("role is member, admin or owner".into()))?;
            let tenant = tenant(ctx, named).await?;
            let member: Member = client.add_member(&tenant, &AddMemberRequest { email, role }).await?;
            if ctx.json {
                output::json(&member);
            } else {
                println!("Added {} to {tenant} as {}", member.email, member.role.as_str());
            }
        }
        MembersCommand::Invite { email, role, tenant: named, expires_in_days } => {
            let role = Role::parse(&role)
                .filter(|r| *r != Role::Owner)
                .ok_or_else(|| CliError::Usage("invite as member or admin (make owners once they joined)".into()))?;
            let tenant = tenant(ctx, named).await?;
            let request = CreateInvitationRequest { email, role, expires_in_days: Some(expires_in_days) };
            let created: CreatedInvitation = client.create_invitation(&tenant, &request).await?;
            if ctx.json {
                output::json(&created);
            } else {
                let invitation = &created.invitation;
                println!("{}", created.token);
                eprintln!(
                    "Invited {} to {tenant} as {} until {}. Send them the token above (shown only now):",
                    invitation.email,
                    invitation.role.as_str(),
                    invitation.expires_at.format("%Y-%m-%d %H:%M UTC")
                );
                eprintln!("  open   {}{}", client.base().trim_end_matches('/'), created.accept_path);
                eprintln!("  or run paas signup --invite {}   (new account)", created.token);
                eprintln!("  or run paas invitations accept {}   (existing account)", created.token);
            }
        }
        MembersCommand::Remove { email, tenant: named } => {
            let tenant = tenant(ctx, named).await?;
            client.remove_member(&tenant, &email).await?;
            eprintln!("Removed {email} from {tenant}");
        }
    }
    Ok(())
}

pub async fn invitations(ctx: &Context, command: InvitationsCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        InvitationsCommand::Accept { invitation } => {
            let joined: Tenant = client.accept_invitation(&AcceptInvitationRequest { token: invitation }).await?;
            if ctx.json {
                output::json(&joined);
            } else {
                println!("Joined {} as {}", joined.name, joined.role.as_str());
            }
        }
        InvitationsCommand::List { tenant: named } => {
            let tenant = tenant(ctx, named).await?;
            let invitations: Vec<Invitation> = client.list_invitations(&tenant).await?;
            if ctx.json {
                output::json(&invitations);
            } else {
                let rows = invitations
                    .iter()
                    .map(|i| {
                        vec![
                            i.id.to_string(),
                            i.email.clone(),
                            i.role.as_str().to_string(),
                            i.state.as_str().to_string(),
                            i.expires_at.format("%Y-%m-%d %H:%M").to_string(),
                        ]
                    })
                    .collect::<Vec<_>>();
                output::table(&["id", "email", "role", "state", "expires"], &rows);
            }
        }
        InvitationsCommand::Revoke { id, tenant: named } => {
            let tenant = tenant(ctx, named).await?;
            client.revoke_invitation(&tenant, id).await?;
            eprintln!("Revoked invitation {id}");
        }
    }
    Ok(())
}

/// `paas events`: the audit log of the caller's tenants or own account.
pub async fn events(ctx: &Context, account: bool, limit: i64) -> Result<(), CliError> {
    let client = ctx.client()?;
    let query = EventsQuery { before: None, limit: Some(limit) };
    let when = |d: chrono::DateTime<chrono::Utc>| d.format("%Y-%m-%d %H:%M:%S").to_string();
    if account {
        let events: Vec<AccountEvent> = client.account_events(&query).await?;
        if ctx.json {
            output::json(&events);
        } else {
            let rows = events.iter().map(|e| vec![when(e.created_at), e.action.clone(), e.data.to_string()]);
            output::table(&["when", "action", "details"], &rows.collect::<Vec<_>>());
        }
        return Ok(());
    }
    let events: Vec<Event> = client.events(&query).await?;
    if ctx.json {
        output::json(&events);
    } else {
        let rows = events.iter().map(|e| {
            vec![
                when(e.created_at),
                e.tenant.clone(),
                e.app.clone().unwrap_or_default(),
                e.actor.clone().unwrap_or_default(),
                e.action.clone(),
            ]
        });
        output::table(&["when", "tenant", "app", "actor", "action"], &rows.collect::<Vec<_>>());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_expiry;

    #[test]
    fn expiry_words() {
        assert_eq!(parse_expiry("30d").unwrap(), (Some(30), None));
        assert_eq!(parse_expiry("12h").unwrap(), (None, Some(12)));
        assert_eq!(parse_expiry("never").unwrap(), (None, None));
        for bad in ["", "d", "0d", "30", "3w", "-1d", "1.5d"] {
            assert!(parse_expiry(bad).is_err(), "{bad:?}");
        }
    }
}
