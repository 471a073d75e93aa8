//! Tenants and roles: owners and admins manage members; members see the tenant's apps.

use paas_types::{AddMemberRequest, App, AppList, Member, Role};
use serde_json::json;
use test_support::{decode, TestApi};

#[tokio::test]
async fn members_are_added_and_removed_by_owners_and_admins() {
    let api = TestApi::start().await;
    let owner = api.signup("olga@example.org").await;
    let member = api.signup("pete@example.org").await;
    let admin = api.signup("quinn@example.org").await;
    api.create_app(&owner, "team-app").await;

    // Before joining, the app does not exist for them.
    assert_eq!(api.get("/v1/apps/team-app", &member).await.0, 404);

    let (status, added) =
        api.post("/v1/tenants/olga/members", &owner, json!({ "email": "pete@example.org", "role": "member" })).await;
    assert_eq!(status, 201, "{added}");
    let quinn = AddMemberRequest { email: "quinn@example.org".into(), role: Role::Admin };
    api.rest(&owner).add_member("olga", &quinn).await.expect("quinn joins");
    let (status, _) =
        api.post("/v1/tenants/olga/members", &owner, json!({ "email": "pete@example.org", "role": "member" })).await;
    assert_eq!(status, 409, "duplicate membership");
    let (status, _) =
        api.post("/v1/tenants/olga/members", &owner, json!({ "email": "nobody@example.org", "role": "member" })).await;
    assert_eq!(status, 404);

    // A member works with the app but cannot delete it or manage members.
    assert_eq!(api.get("/v1/apps/team-app", &member).await.0, 200);
    assert_eq!(api.patch("/v1/apps/team-app/config", &member, json!({ "A": "1" })).await.0, 200);
    let (status, body) = api.delete("/v1/apps/team-app", &member).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) =
        api.post("/v1/tenants/olga/members", &member, json!({ "email": "quinn@example.org", "role": "owner" })).await;
    assert_eq!(status, 403);

    // An admin manages members but cannot touch owners.
    assert_eq!(api.delete("/v1/tenants/olga/members/olga@example.org", &admin).await.0, 403);
    let (status, _) =
        api.post("/v1/tenants/olga/members", &admin, json!({ "email": "pete@example.org", "role": "owner" })).await;
    assert_eq!(status, 403);

    let (_, members) = api.get("/v1/tenants/olga/members", &member).await;
    let members: Vec<Member> = decode(&members);
    let emails: Vec<&str> = members.iter().map(|m| m.email.as_str()).collect();
    assert_eq!(emails, ["olga@example.org", "pete@example.org", "quinn@example.org"]);

    assert_eq!(api.delete("/v1/tenants/olga/members/pete@example.org", &admin).await.0, 204);
    assert_eq!(api.get("/v1/apps/team-app", &member).await.0, 404, "removed member lost access");

    // The last owner cannot leave.
    let (status, body) = api.delete("/v1/tenants/olga/members/olga@example.org", &owner).await;
    assert_eq!(status, 409, "{body}");
    // Members of one tenant do not see another's members.
    assert_eq!(api.get("/v1/tenants/pete/members", &owner).await.0, 404);
}

#[tokio::test]
async fn users_in_several_tenants_name_the_tenant() {
    let api = TestApi::start().await;
    let rita = api.signup("rita@example.org").await;
    let sam = api.signup("sam@example.org").await;
    let rita_joins = AddMemberRequest { email: "rita@example.org".into(), role: Role::Member };
    api.rest(&sam).add_member("sam", &rita_joins).await.expect("rita joins");
    let (status, body) = api.post("/v1/apps", &rita, json!({ "name": "where" })).await;
    assert_eq!(status, 422, "{body}");
    let (status, app) = api.post("/v1/apps", &rita, json!({ "name": "where", "tenant": "sam" })).await;
    assert_eq!(status, 201);
    assert_eq!(decode::<App>(&app).tenant, "sam");
    let (_, page) = api.get("/v1/apps?tenant=rita", &rita).await;
    assert!(decode::<AppList>(&page).apps.is_empty(), "{page}");
    let (_, page) = api.get("/v1/apps", &sam).await;
    assert_eq!(decode::<AppList>(&page).apps[0].name, "where");
    let (status, _) = api.post("/v1/apps", &rita, json!({ "name": "nope", "tenant": "someone-else" })).await;
    assert_eq!(status, 404);
}
