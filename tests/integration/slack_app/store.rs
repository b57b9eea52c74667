//! What each store keeps of a thread, read as the lanes read it: the
//! FIRING's message while the alert fires, through pruning; nothing once
//! the episode is over and pruned.

use std::time::{Duration, SystemTime};

use syncwatch::render::Episode;
use syncwatch::store::{PgStore, SqliteStore, Store};

use super::{clean, failed, rules};
use crate::helpers::{Backend, SlackApi, TestApp, database, eventually, fast_settings, spawn_app_on};

const WAIT: Duration = Duration::from_secs(20);

/// The app's store, opened beside it as a second instance would.
async fn open(backend: &Backend, app: &TestApp) -> Store {
    match backend {
        Backend::Sqlite => Store::Sqlite(SqliteStore::open(&database(&app.dir), Duration::from_secs(5)).unwrap()),
        Backend::Postgres(url) => Store::Postgres(PgStore::open(url, Duration::from_secs(2)).await.unwrap()),
    }
}

/// The episode (when it started firing, in ms) of the one thread kept.
async fn thread_since(backend: &Backend, app: &TestApp) -> u64 {
    const SQL: &str = "SELECT since FROM slack_threads";
    match backend {
        Backend::Sqlite => {
            let conn = rusqlite::Connection::open(database(&app.dir)).unwrap();
            conn.query_row(SQL, [], |row| row.get::<_, i64>(0)).unwrap() as u64
        }
        Backend::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            let session = tokio::spawn(connection);
            let since: i64 = client.query_one(SQL, &[]).await.unwrap().get(0);
            drop(client);
            let _ = session.await;
            since as u64
        }
    }
}

async fn a_thread_is_kept_while_its_alert_fires_and_pruned_after(backend: Backend) {
    let api = SlackApi::start().await;
    let app = spawn_app_on(&backend, &rules(&api, "digest: off"), fast_settings()).await;
    app.post_ok(failed("CON-1", "f-1")).await;
    assert!(eventually(WAIT, || api.top_level().len() == 1).await);
    let store = open(&backend, &app).await;
    let episode = Episode {
        key: "bills-failing/CON-1".into(),
        since: thread_since(&backend, &app).await,
    };
    let parent = store
        .slack_parent("ops", &episode)
        .await
        .unwrap()
        .expect("the FIRING's message is kept");
    assert_eq!(
        (parent.ts.as_str(), parent.digest),
        (api.top_level()[0].ts.as_str(), false)
    );
    assert_eq!(parent.original["blocks"][0]["text"]["text"], "CRITICAL bills-failing");

    let later = SystemTime::now() + Duration::from_secs(86_400);
    store.prune(later, SystemTime::UNIX_EPOCH).await.unwrap();
    assert!(
        store.slack_parent("ops", &episode).await.unwrap().is_some(),
        "kept while it fires"
    );
    app.post_ok(clean("CON-1", "c-1")).await;
    assert!(eventually(WAIT, || api.top_level()[0].updates == 1).await);
    store.prune(later, SystemTime::UNIX_EPOCH).await.unwrap();
    assert!(
        store.slack_parent("ops", &episode).await.unwrap().is_none(),
        "pruned once over"
    );
}

on_both_stores!(a_thread_is_kept_while_its_alert_fires_and_pruned_after);
