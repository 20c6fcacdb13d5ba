//! The PostgreSQL foundation against a real server the test starts:
//! migrations, the version guard, and what a lost connection looks like.

use freepik_wan::postgres::{Database, Migrations, StoreError};
use freepik_wan_tests::pg::Cluster;

const V1: Migrations = Migrations {
    component: "test_store",
    steps: &["CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL)"],
};
const V2: Migrations = Migrations {
    component: "test_store",
    steps: &[V1.steps[0], "ALTER TABLE notes ADD COLUMN author text"],
};

#[tokio::test]
async fn migrations_run_once_each_and_a_newer_schema_is_refused_by_an_older_build() {
    let url = Cluster::shared().database("migrate");
    let database = Database::from_url(&url).unwrap();
    let mut client = database.connect().await.unwrap();
    assert_eq!(V1.run(&mut client, &database).await.unwrap(), 1);
    assert_eq!(
        V1.run(&mut client, &database).await.unwrap(),
        1,
        "a second start changes nothing"
    );
    assert_eq!(V2.run(&mut client, &database).await.unwrap(), 2);
    client
        .execute("INSERT INTO notes (body, author) VALUES ('a', 'b')", &[])
        .await
        .unwrap();

    let error = V1.run(&mut client, &database).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::NewerSchema {
                found: 2,
                known: 1,
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("newer freepik-wan") && message.contains(&url),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_starting_at_once_migrate_the_schema_once() {
    let url = Cluster::shared().database("race");
    let database = Database::from_url(&url).unwrap();
    // Connected first, then released together, so the migrations overlap.
    let ready = std::sync::Arc::new(tokio::sync::Barrier::new(8));
    let starts: Vec<_> = (0..8)
        .map(|_| {
            let (database, ready) = (database.clone(), ready.clone());
            tokio::spawn(async move {
                let mut client = database.connect().await.unwrap();
                ready.wait().await;
                V2.run(&mut client, &database).await
            })
        })
        .collect();
    for start in starts {
        assert_eq!(start.await.unwrap().unwrap(), 2);
    }
}

#[tokio::test]
async fn a_stopped_server_is_a_lost_connection_not_a_refused_statement() {
    let cluster = Cluster::start();
    let database = Database::from_url(&cluster.database("lost")).unwrap();
    let client = database.connect().await.unwrap();
    let refused = client
        .execute("SELECT * FROM no_such_table", &[])
        .await
        .map_err(StoreError::query("read"));
    assert!(!refused.unwrap_err().is_connection_lost());
    cluster.crash();
    let lost = client
        .execute("SELECT 1", &[])
        .await
        .map_err(StoreError::query("read"));
    assert!(lost.unwrap_err().is_connection_lost());
    cluster.restart();
    let again = database.connect().await.unwrap();
    assert_eq!(
        again
            .query_one("SELECT 1", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        1
    );
}
