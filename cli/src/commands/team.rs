//! `tokens` and `members`.

use paas_types::{AddMemberRequest, ApiToken, CreateTokenRequest, CreatedToken, Me, Member, Role};

use crate::args::{MembersCommand, TokensCommand};
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
        MembersCommand::Remove { email, tenant: named } => {
            let tenant = tenant(ctx, named).await?;
            client.remove_member(&tenant, &email).await?;
            eprintln!("Removed {email} from {tenant}");
        }
    }
    Ok(())
}
