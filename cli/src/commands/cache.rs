//! `paas cache purge [PATH]`: drop the app's cached responses from every router.

use paas_types::{CachePurgeRecord, PurgeCacheRequest};

use crate::args::CacheCommand;
use crate::context::Context;
use crate::error::CliError;
use crate::output;

pub async fn run(ctx: &Context, command: CacheCommand) -> Result<(), CliError> {
    let CacheCommand::Purge { path } = command;
    let client = ctx.client()?;
    let app = ctx.app()?;
    let purge: CachePurgeRecord = client.purge_cache(&app, &PurgeCacheRequest { path }).await?;
    if ctx.json {
        output::json(&purge);
        return Ok(());
    }
    match &purge.path {
        Some(path) => {
            println!("Purged {path} from {app}'s cache on every router; the next request for it reaches the app.")
        }
        None => println!("Purged everything {app} had cached on every router; the next requests reach the app."),
    }
    Ok(())
}
