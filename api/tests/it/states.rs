//! The lifecycle states of `paas-types` and the database's `CHECK`
//! constraints name the same set of words, so neither can drift.

use paas_types::{ActualState, BuildStatus, InstanceGoal, NodeState, ReleaseStatus, Size, TokenScope};
use test_support::TestApi;

/// The words a `CHECK (column IN ('a', 'b'))` constraint allows, sorted.
async fn allowed_words(db: &sqlx::PgPool, constraint: &str) -> Vec<String> {
    let definition: String =
        sqlx::query_scalar("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1")
            .bind(constraint)
            .fetch_one(db)
            .await
            .unwrap_or_else(|e| panic!("constraint {constraint}: {e}"));
    let mut words: Vec<String> = definition.split('\'').skip(1).step_by(2).map(str::to_string).collect();
    assert!(!words.is_empty(), "{constraint} lists no words: {definition}");
    words.sort();
    words
}

fn sorted(words: impl IntoIterator<Item = &'static str>) -> Vec<String> {
    let mut words: Vec<String> = words.into_iter().map(str::to_string).collect();
    words.sort();
    words
}

#[tokio::test]
async fn database_allows_exactly_the_typed_states() {
    let api = TestApi::start().await;
    let cases = [
        ("builds_status", sorted(BuildStatus::ALL.iter().map(|s| s.as_str()))),
        ("instances_desired", sorted(InstanceGoal::ALL.iter().map(|s| s.as_str()))),
        ("instances_actual", sorted(ActualState::ALL.iter().map(|s| s.as_str()))),
        ("nodes_state", sorted(NodeState::ALL.iter().map(|s| s.as_str()))),
        ("releases_status", sorted(ReleaseStatus::ALL.iter().map(|s| s.as_str()))),
        ("formation_size", sorted(Size::ALL.iter().map(|s| s.as_str()))),
        ("instances_size", sorted(Size::ALL.iter().map(|s| s.as_str()))),
        ("api_tokens_scope", sorted(TokenScope::ALL.iter().map(|s| s.as_str()))),
    ];
    for (constraint, typed) in cases {
        assert_eq!(allowed_words(&api.db, constraint).await, typed, "{constraint}");
    }
}
