//! Add-ons at the API: validation and error codes, attachments as
//! releases, destroy refused while attached, rotation, and tenancy: every
//! `/v1/addons/{addon}` route answers another tenant exactly like a missing add-on.

use paas_types::addons::Addon;
use paas_types::{ErrorBody, Release};
use reqwest::Method;
use serde_json::{json, Value};
use test_support::{decode, TestApi};

async fn create(api: &TestApi, token: &str, app: &str, body: Value) -> Addon {
    let (status, value) = api.post(&format!("/v1/apps/{app}/addons"), token, body).await;
    assert_eq!(status, 201, "{value}");
    decode(&value)
}

fn code(value: &Value) -> String {
    decode::<ErrorBody>(value).error.code
}

#[tokio::test]
async fn create_validates_and_attachments_are_releases() {
    let api = TestApi::start().await;
    let alice = api.signup("alice@example.org").await;
    api.create_app(&alice, "shop").await;
    api.create_app(&alice, "admin-site").await;

    for (body, expected) in [
        (json!({ "kind": "mysql" }), 422),
        (json!({ "kind": "postgres", "plan": "huge" }), 422),
        (json!({ "kind": "redis", "as": "1BAD" }), 422),
        (json!({ "kind": "redis", "extra": true }), 422),
    ] {
        let (status, value) = api.post("/v1/apps/shop/addons", &alice, body.clone()).await;
        assert_eq!(status, expected, "{body}: {value}");
        assert_eq!(code(&value), "validation_failed", "{value}");
    }
    let (_, value) = api.post("/v1/apps/shop/addons", &alice, json!({ "kind": "postgres", "plan": "huge" })).await;
    assert!(decode::<ErrorBody>(&value).error.message.contains("hobby, standard, dedicated"), "{value}");

    let pg = create(&api, &alice, "shop", json!({ "kind": "postgres" })).await;
    assert_eq!(pg.state.as_str(), "provisioning", "no node yet");
    assert_eq!(pg.attachments[0].var, "DATABASE_URL");
    let url = pg.url.clone().expect("the owner sees the URL");
    assert!(url.starts_with("postgresql://"), "{url}");
    let config = api.rest(&alice).config("shop").await.unwrap();
    assert_eq!(config.get("DATABASE_URL"), Some(&url));
    let releases: Vec<Release> = api.rest(&alice).list_releases("shop", None).await.unwrap();
    assert!(releases[0].description.contains(&format!("Attach {} as DATABASE_URL", pg.name)), "{:?}", releases[0]);

    // Lists never carry URLs (passwords).
    let (_, listed) = api.get("/v1/apps/shop/addons", &alice).await;
    assert!(!listed.to_string().contains(url.as_str()), "{listed}");
    let (_, all) = api.get("/v1/addons", &alice).await;
    assert!(all[0].get("url").is_none(), "{all}");

    // A second add-on cannot take a var the app already has.
    let (status, value) = api.post("/v1/apps/shop/addons", &alice, json!({ "kind": "postgres" })).await;
    assert_eq!((status.as_u16(), code(&value)), (409, "conflict".into()), "{value}");
    let cache = create(&api, &alice, "shop", json!({ "kind": "redis", "as": "cache", "plan": "cache" })).await;
    assert_eq!(cache.attachments[0].var, "CACHE_URL");
    assert!(cache.url.as_deref().unwrap().starts_with("redis://:"));

    // Attach to another app, twice is a conflict; detach unsets the var.
    let path = format!("/v1/addons/{}/attachments", pg.name);
    let (status, value) = api.post(&path, &alice, json!({ "app": "admin-site", "as": "MAIN_DB" })).await;
    assert_eq!(status, 200, "{value}");
    assert_eq!(api.rest(&alice).config("admin-site").await.unwrap().get("MAIN_DB_URL"), Some(&url));
    let (status, _) = api.post(&path, &alice, json!({ "app": "admin-site" })).await;
    assert_eq!(status, 409);
    let (status, value) = api.delete(&format!("{path}/admin-site"), &alice).await;
    assert_eq!(status, 200, "{value}");
    assert!(!api.rest(&alice).config("admin-site").await.unwrap().contains_key("MAIN_DB_URL"));
    let (status, value) = api.delete(&format!("{path}/admin-site"), &alice).await;
    assert_eq!((status.as_u16(), code(&value)), (404, "not_found".into()));

    // Rotation: a new URL in a new release.
    let (status, rotated) = api.post(&format!("/v1/addons/{}/credentials/rotate", pg.name), &alice, json!(null)).await;
    assert_eq!(status, 200, "{rotated}");
    let new_url = decode::<Addon>(&rotated).url.unwrap();
    assert_ne!(new_url, url);
    assert!(new_url.contains("_g2:"), "a new login role: {new_url}");
    assert_eq!(api.rest(&alice).config("shop").await.unwrap().get("DATABASE_URL"), Some(&new_url));

    // Backups are Postgres only; a provisioning add-on takes none yet.
    let (status, value) = api.post(&format!("/v1/addons/{}/backups", cache.name), &alice, json!(null)).await;
    assert_eq!((status.as_u16(), code(&value)), (422, "validation_failed".into()), "{value}");
    let (status, value) = api.post(&format!("/v1/addons/{}/backups", pg.name), &alice, json!(null)).await;
    assert_eq!((status.as_u16(), code(&value)), (409, "conflict".into()), "{value}");

    // Destroy: refused while attached, unless confirmed with the name.
    let (status, value) = api.delete(&format!("/v1/addons/{}", pg.name), &alice).await;
    assert_eq!((status.as_u16(), code(&value)), (409, "conflict".into()), "{value}");
    assert!(decode::<ErrorBody>(&value).error.message.contains(&format!("--confirm {}", pg.name)), "{value}");
    let (status, value) = api.delete(&format!("/v1/addons/{}?confirm=wrong", pg.name), &alice).await;
    assert_eq!(status, 409, "{value}");
    let (status, value) = api.delete(&format!("/v1/addons/{}?confirm={}", pg.name, pg.name), &alice).await;
    assert_eq!(status, 202, "{value}");
    assert!(!api.rest(&alice).config("shop").await.unwrap().contains_key("DATABASE_URL"), "detached first");
    // No node ever held it: it is gone at once.
    let (status, _) = api.get(&format!("/v1/addons/{}", pg.name), &alice).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn another_tenants_addon_answers_like_a_missing_one() {
    let api = TestApi::start().await;
    let alice = api.signup("alice@example.org").await;
    let bob = api.signup("bob@example.org").await;
    api.create_app(&alice, "shop").await;
    api.create_app(&bob, "bobs").await;
    let pg = create(&api, &alice, "shop", json!({ "kind": "postgres" })).await;
    let backup = uuid::Uuid::new_v4().to_string();

    let (_, doc) = api.call(Method::GET, "/v1/openapi.json", None, None).await;
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        if !template.contains("{addon}") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let path = |addon: &str| {
                template
                    .replace("{addon}", addon)
                    .replace("{attached}", "bobs")
                    .replace("{backup}", &backup)
                    .replace("{restore}", &backup)
            };
            let body = Some(match template.ends_with("/restore-to-node") {
                true => json!({ "node": "n1" }),
                false => json!({ "app": "bobs" }),
            });
            let (status, answer) = api.call(method.clone(), &path(&pg.name), Some(&bob), body.clone()).await;
            let (missing_status, missing) =
                api.call(method.clone(), &path("postgres-00000000"), Some(&bob), body).await;
            assert_eq!(
                (status.as_u16(), missing_status.as_u16()),
                (404, 404),
                "{method} {template}: {answer} / {missing}"
            );
            let scrub = |v: &Value, name: &str| {
                let ErrorBody { error } = decode(v);
                (error.code, error.message.replace(name, "NAME"))
            };
            assert_eq!(scrub(&answer, &pg.name), scrub(&missing, "postgres-00000000"), "{method} {template}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} add-on routes");
    // Alice cannot attach her add-on to bob's app (not hers: 404), nor bob hers to his.
    let (status, _) = api.post(&format!("/v1/addons/{}/attachments", pg.name), &alice, json!({ "app": "bobs" })).await;
    assert_eq!(status, 404);
    let (_, listed) = api.get("/v1/addons", &bob).await;
    assert_eq!(listed, json!([]));
    // Still intact for alice.
    let (status, _) = api.get(&format!("/v1/addons/{}", pg.name), &alice).await;
    assert_eq!(status, 200);
}

/// The daily schedule: one backup per available Postgres add-on not backed
/// up in the last day, and only the newest scheduled ones kept.
#[tokio::test]
async fn scheduled_backups_are_daily_and_pruned() {
    use api::ops::addons::backups::{schedule_pass, SCHEDULED_KEPT};
    let api = TestApi::start().await;
    let alice = api.signup("alice@example.org").await;
    api.create_app(&alice, "shop").await;
    let pg = create(&api, &alice, "shop", json!({ "kind": "postgres" })).await;
    create(&api, &alice, "shop", json!({ "kind": "redis" })).await;
    let scheduled = || async {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT addon_name, state FROM addon_backups WHERE trigger = 'scheduled' ORDER BY created_at DESC",
        )
        .fetch_all(&api.db)
        .await
        .unwrap();
        rows
    };

    schedule_pass(&api.db).await.unwrap();
    assert!(scheduled().await.is_empty(), "nothing while the add-ons are provisioning");
    sqlx::query("UPDATE addons SET state = 'available'").execute(&api.db).await.unwrap();
    schedule_pass(&api.db).await.unwrap();
    assert_eq!(scheduled().await, [(pg.name.clone(), "pending".to_string())], "Postgres only; Redis has no backups");
    schedule_pass(&api.db).await.unwrap();
    assert_eq!(scheduled().await.len(), 1, "not again within a day");

    // A day later there is another; beyond SCHEDULED_KEPT the oldest go.
    for days in 1..=(SCHEDULED_KEPT + 3) {
        sqlx::query("UPDATE addon_backups SET state = 'succeeded', created_at = created_at - interval '25 hours'")
            .execute(&api.db)
            .await
            .unwrap();
        schedule_pass(&api.db).await.unwrap();
        let kept = scheduled().await;
        assert_eq!(kept.len() as i64, (days + 1).min(SCHEDULED_KEPT), "after {days} days: {kept:?}");
        assert_eq!(kept[0].1, "pending", "the newest is the one just queued");
    }
    // Manual backups are never pruned by the schedule.
    let (status, _) = api.post(&format!("/v1/addons/{}/backups", pg.name), &alice, json!({})).await;
    assert_eq!(status, 202);
    schedule_pass(&api.db).await.unwrap();
    let manual: i64 = sqlx::query_scalar("SELECT count(*) FROM addon_backups WHERE trigger = 'manual'")
        .fetch_one(&api.db)
        .await
        .unwrap();
    assert_eq!(manual, 1);
}
