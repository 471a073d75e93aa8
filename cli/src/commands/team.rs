//! `tokens`, `members`, `invitations` and `events`.

use paas_types::accounts::{
    AcceptInvitationRequest, AccountEvent, CreateInvitationRequest, CreatedInvitation, Invitation,
};
use paas_types::client::rest::EventsQuery;
use paas_types::{AddMemberRequest, ApiToken, CreateTokenRequest, CreatedToken, Event, Me, Member, Role, Tenant};

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
                let rows = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            t.name.clone(),
                            format!("{}...", t.prefix),
                            t.last_used_at
                                .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                                .unwrap_or_else(|| "never".into()),
                        ]
                    })
                    .collect::<Vec<_>>();
                output::table(&["id", "name", "prefix", "last used"], &rows);
            }
        }
        TokensCommand::Create { name, expires_in_days } => {
            let created: CreatedToken = client.create_token(&CreateTokenRequest { name, expires_in_days }).await?;
            if ctx.json {
                output::json(&created);
            } else {
                println!("{}", created.token);
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
