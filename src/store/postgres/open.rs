//! The connection pool: TLS through rustls (the system's roots), a bounded
//! number of sessions, timeouts so an unreachable database answers 503
//! instead of holding requests, and the migrations run at start.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls_platform_verifier::ConfigVerifierExt;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::super::model::StoreError;
use super::schema;

/// Sessions per instance: the ingest writers (which batch webhooks), the
/// lanes, the status page and the timers; few enough that several
/// instances fit in the server's default `max_connections` (100).
const POOL_SIZE: usize = 16;

/// How long a request waits for a session, or for the server to answer
/// the connect, before it is told the database is unavailable (503).
const WAIT: Duration = Duration::from_secs(5);

/// Builds the pool for `url` and brings the schema up to date.
pub async fn open_pool(url: &str) -> Result<Pool, StoreError> {
    let config = parse(url)?;
    crate::deliver::install_crypto_provider();
    let tls = rustls::ClientConfig::with_platform_verifier()
        .map_err(|err| StoreError::Unavailable(format!("PostgreSQL TLS setup: {err}")))?;
    let manager = Manager::from_config(
        config,
        MakeRustlsConnect::new(tls),
        ManagerConfig {
            // A session that broke is found out by its next query, which
            // fails once; checking each one on every checkout would cost a
            // round trip per webhook.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(WAIT))
        .create_timeout(Some(WAIT))
        .recycle_timeout(Some(WAIT))
        .build()
        .map_err(|err| StoreError::Unavailable(format!("PostgreSQL pool: {err}")))?;
    migrate(&pool).await?;
    Ok(pool)
}

fn parse(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        // The URL may hold a password: the message names the problem only.
        .map_err(|err| StoreError::Unavailable(format!("storage.postgres is not a valid URL: {err}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(WAIT);
    }
    if config.get_application_name().is_none() {
        config.application_name("syncwatch");
    }
    Ok(config)
}

async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(super::pool_error)?;
    let found = schema::migrate(&mut client).await.map_err(super::db_error)?;
    if found > schema::CURRENT_VERSION {
        return Err(StoreError::Unavailable(format!(
            "the database has schema version {found}, newer than this syncwatch ({}): upgrade syncwatch",
            schema::CURRENT_VERSION
        )));
    }
    Ok(())
}
