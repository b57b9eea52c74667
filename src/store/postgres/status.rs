//! The status page's reads on PostgreSQL: the same rows and counts as the
//! SQLite store, the classification shared with it.

use std::collections::HashMap;
use std::time::SystemTime;

use deadpool_postgres::Client;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

use crate::status::{
    AlertPage, AlertRow, ConnectionPage, ConnectionRow, Filter, NotificationRow, OutageRow, Paging, ServiceChart,
    Status, chart_of,
};
use crate::store::sqlite::status::{complete, like, outcome_of, time};

use super::super::time::{from_millis, millis};

pub async fn status(
    client: &Client,
    filter: &Filter,
    absence_rules: &[String],
    recent: usize,
    now: SystemTime,
) -> Result<Status, Error> {
    let mut status = Status {
        alerts: alerts(client, filter).await?,
        connections: connections(client, filter, absence_rules, now).await?,
        notifications: recent_notifications(client, recent).await?,
        ..Default::default()
    };
    // Quiet connections are those in the `quiet` state (`ConnectionState`,
    // as SQL): an absence alert fires, no other does, the status is active.
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM connections),
                    (SELECT count(*) FROM (
                        SELECT a.connection FROM alerts a JOIN connections c ON c.id = a.connection
                        WHERE a.state = 'firing' AND (c.status IS NULL OR c.status = 'active')
                        GROUP BY a.connection HAVING bool_and(a.rule = ANY($1))) quiet),
                    (SELECT count(*) FROM deliveries WHERE status = 'pending')",
            &[&absence_rules],
        )
        .await?;
    status.totals.known_connections = row.get::<_, i64>(0) as u64;
    status.totals.quiet_connections = row.get::<_, i64>(1) as usize;
    status.totals.outbox_depth = row.get::<_, i64>(2) as u64;
    status.outages = firing_outages(client).await?;
    status.failure_chart = failure_chart(client, now).await?;
    Ok(status)
}

/// The outages firing now, for the page's banners.
async fn firing_outages(client: &Client) -> Result<Vec<OutageRow>, Error> {
    let rows = client
        .query(
            "SELECT outage, grp, failing, synced, since FROM outage_states WHERE firing ORDER BY since, outage, grp",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| OutageRow {
            name: row.get(0),
            group: row.get(1),
            failing: row.get::<_, i64>(2).max(0) as u64,
            synced: row.get::<_, i64>(3).max(0) as u64,
            since: humantime::format_rfc3339_seconds(from_millis(row.get(4))).to_string(),
            holds: false,
        })
        .collect())
}

/// Per service, syncs and failed syncs per hour over the 24 hours up to
/// `now`, from the hourly counters (never the events).
async fn failure_chart(client: &Client, now: SystemTime) -> Result<Vec<ServiceChart>, Error> {
    let last = millis(now) / 3_600_000;
    let first = last - 23;
    let rows = client
        .query(
            "SELECT service, hour, syncs, failed FROM service_hours WHERE hour >= $1 ORDER BY service, hour",
            &[&first],
        )
        .await?;
    let rows = (rows.iter())
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
        .collect();
    Ok(chart_of(rows, first))
}

/// The active alerts the filter keeps: `a` is the alert, `c` its
/// connection; `$1`-`$5` are business, connection, service, rule and any.
const ALERTS_WHERE: &str = "a.state IN ('pending', 'firing')
    AND ($1::text IS NULL OR c.business ILIKE $1) AND ($2::text IS NULL OR a.connection ILIKE $2)
    AND ($3::text IS NULL OR c.service ILIKE $3) AND ($4::text IS NULL OR a.rule ILIKE $4)
    AND ($5::text IS NULL OR c.business ILIKE $5 OR a.connection ILIKE $5 OR c.service ILIKE $5 OR a.rule ILIKE $5)";

const ALERT_COLUMNS: &str = "a.rule, a.state, a.connection, a.data_type, c.business, c.service,
    COALESCE(a.firing_since, a.since), a.matches, a.last_notified, a.muted_by, c.environment, c.last_event_name";

/// As the SQLite store's: one page, most severe then oldest first, the
/// counts, and every alert when `filter.read.every_alert`.
async fn alerts(client: &Client, filter: &Filter) -> Result<AlertPage, Error> {
    let (page, per_page) = filter.alerts_paging();
    let [business, connection, service, rule, q] = [
        &filter.business,
        &filter.connection,
        &filter.service,
        &filter.rule,
        &filter.q,
    ]
    .map(like);
    let filters: [&(dyn ToSql + Sync); 5] = [&business, &connection, &service, &rule, &q];
    let counts = client
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE a.state = 'firing'), count(*) FILTER (WHERE a.state = 'pending')
                 FROM alerts a LEFT JOIN connections c ON c.id = a.connection WHERE {ALERTS_WHERE}"
            ),
            &filters,
        )
        .await?;
    let (firing, pending): (i64, i64) = (counts.get(0), counts.get(1));
    let [critical, warning, info] = &filter.read.by_severity;
    let (limit, offset) = (per_page as i64, ((page - 1) * per_page) as i64);
    let mut params = filters.to_vec();
    params.extend([critical as &(dyn ToSql + Sync), warning, info, &limit, &offset]);
    let rows = client
        .query(
            &format!(
                "SELECT {ALERT_COLUMNS} FROM alerts a LEFT JOIN connections c ON c.id = a.connection
                 WHERE {ALERTS_WHERE}
                 ORDER BY CASE WHEN a.rule = ANY($6) THEN 0 WHEN a.rule = ANY($7) THEN 1
                               WHEN a.rule = ANY($8) THEN 2 ELSE 3 END,
                          COALESCE(a.firing_since, a.since), a.rule, a.connection, a.data_type
                 LIMIT $9 OFFSET $10"
            ),
            &params,
        )
        .await?;
    let every = match filter.read.every_alert {
        true => {
            client
                .query(
                    &format!(
                        "SELECT {ALERT_COLUMNS} FROM alerts a LEFT JOIN connections c ON c.id = a.connection
                         WHERE {ALERTS_WHERE}"
                    ),
                    &filters,
                )
                .await?
        }
        false => Vec::new(),
    };
    Ok(AlertPage {
        rows: rows.iter().map(alert_row).collect(),
        paging: Paging {
            total: (firing + pending) as u64,
            page,
            per_page,
        },
        firing: firing as u64,
        pending: pending as u64,
        every: every.iter().map(alert_row).collect(),
    })
}

fn alert_row(row: &Row) -> AlertRow {
    let data_type: String = row.get(3);
    AlertRow {
        rule: row.get(0),
        state: row.get(1),
        connection: row.get(2),
        data_type: (!data_type.is_empty()).then_some(data_type),
        business: row.get(4),
        service: row.get(5),
        since: time(row.get(6)),
        failing_syncs: row.get::<_, i64>(7) as u64,
        last_notified: row.get::<_, Option<i64>>(8).map(time),
        muted_by: row.get(9),
        environment: row.get(10),
        last_event: row.get(11),
        ..AlertRow::default()
    }
}

const WHERE: &str = "($1::text IS NULL OR business ILIKE $1) AND ($2::text IS NULL OR id ILIKE $2)
    AND ($3::text IS NULL OR service ILIKE $3)
    AND ($4::text IS NULL OR business ILIKE $4 OR id ILIKE $4 OR service ILIKE $4)";

async fn connections(
    client: &Client,
    filter: &Filter,
    absence_rules: &[String],
    now: SystemTime,
) -> Result<ConnectionPage, Error> {
    let per_page = filter.per_page.unwrap_or(50).clamp(1, 500);
    let page = filter.page.unwrap_or(1).max(1);
    let (business, connection, service, q) = (
        like(&filter.business),
        like(&filter.connection),
        like(&filter.service),
        like(&filter.q),
    );
    let total: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM connections WHERE {WHERE}"),
            &[&business, &connection, &service, &q],
        )
        .await?
        .get(0);
    let found = client
        .query(
            &format!(
                "SELECT id, business, service, environment, status, last_event, last_sync FROM connections
                 WHERE {WHERE} ORDER BY id LIMIT $5 OFFSET $6"
            ),
            &[
                &business,
                &connection,
                &service,
                &q,
                &(per_page as i64),
                &(((page - 1) * per_page) as i64),
            ],
        )
        .await?;
    let mut rows: Vec<ConnectionRow> = found
        .iter()
        .map(|row| ConnectionRow {
            id: row.get(0),
            business: row.get(1),
            service: row.get(2),
            environment: row.get(3),
            state: String::new(),
            status: row.get(4),
            last_event: time(row.get(5)),
            last_sync: row.get::<_, Option<i64>>(6).map(time),
            firing: Vec::new(),
            days: Vec::new(),
        })
        .collect();
    fill(client, &mut rows, absence_rules, now).await?;
    Ok(ConnectionPage {
        total: total as u64,
        page,
        per_page,
        rows,
    })
}

async fn fill(
    client: &Client,
    rows: &mut [ConnectionRow],
    absence_rules: &[String],
    now: SystemTime,
) -> Result<(), Error> {
    let today = millis(now) / 86_400_000;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut firing: HashMap<String, Vec<String>> = HashMap::new();
    let found = client
        .query(
            "SELECT connection, rule FROM alerts WHERE state = 'firing' AND connection = ANY($1)",
            &[&ids],
        )
        .await?;
    for row in &found {
        firing.entry(row.get(0)).or_default().push(row.get(1));
    }
    let found = client
        .query(
            "SELECT connection, day, clean, failed, empty FROM connection_days WHERE connection = ANY($1) AND day > $2",
            &[&ids, &(today - 14)],
        )
        .await?;
    let days: HashMap<(String, i64), &'static str> = found
        .iter()
        .map(|row| ((row.get(0), row.get(1)), outcome_of(row.get(2), row.get(3), row.get(4))))
        .collect();
    complete(rows, firing, &days, absence_rules, today);
    Ok(())
}

async fn recent_notifications(client: &Client, limit: usize) -> Result<Vec<NotificationRow>, Error> {
    let rows = client
        .query(
            "SELECT d.created_at, d.rule, d.channel, e.connection, d.status, d.attempts, d.last_error, d.effect, d.is_digest
             FROM deliveries d JOIN events e ON e.id = d.event_id ORDER BY d.id DESC LIMIT $1",
            &[&(limit as i64)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| NotificationRow {
            at: time(row.get(0)),
            kind: crate::lifecycle::Effect::kind_of(row.get::<_, Option<&str>>(7), row.get(8)),
            rule: row.get(1),
            channel: row.get(2),
            connection: row.get(3),
            status: row.get(4),
            attempts: row.get::<_, i32>(5).max(0) as u32,
            last_error: row.get(6),
        })
        .collect())
}
