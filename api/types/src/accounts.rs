//! Invitations to tenants and the events about one's own account.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
#[cfg(feature = "openapi")]
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Role;

/// `POST /v1/tenants/{tenant}/invitations`: invite an email address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    /// Who is invited; only an account with this email can accept.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 254, pattern = r"^[\s\x85]*[^@\s\x85]+@[^@\s\x85]+[\s\x85]*$")
    )]
    pub email: String,
    /// `member` (default) or `admin`; owners are made by an owner afterwards.
    #[serde(default = "member")]
    pub role: Role,
    /// Days until the invitation expires, 1-30 (default 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 30))]
    pub expires_in_days: Option<u32>,
}

fn member() -> Role {
    Role::Member
}

/// Whether an invitation can still be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InvitationState {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

impl InvitationState {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Accepted => "accepted",
            InvitationState::Revoked => "revoked",
            InvitationState::Expired => "expired",
        }
    }
}

/// An invitation (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Invitation {
    pub id: Uuid,
    pub tenant: String,
    pub email: String,
    pub role: Role,
    pub state: InvitationState,
    /// Email of who invited, when that account still exists.
    pub invited_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// A new invitation: the secret token is in this answer only.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatedInvitation {
    /// Give this to the invited person: `paas signup --invite TOKEN`,
    /// `paas invitations accept TOKEN`, or the dashboard page at `accept_path`.
    pub token: String,
    /// Path of the dashboard page (on the API's URL) that signs up or logs in, then joins.
    pub accept_path: String,
    #[serde(flatten)]
    pub invitation: Invitation,
}

/// `POST /v1/invitations/accept`: join the tenant of an invitation as the caller.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    pub token: String,
}

/// An event about the caller's own account: `auth.login`, `auth.lockout`,
/// `token.create`, `token.revoke`, `invitation.accept`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AccountEvent {
    pub id: i64,
    pub action: String,
    /// Details, e.g. `{"address": "203.0.113.9"}` or `{"token": "ci", "prefix": "paas_1a2b3c"}`.
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}
