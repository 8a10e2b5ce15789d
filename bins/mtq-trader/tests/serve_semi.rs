//! `trader.mode: semi` end to end against the real `mtq-trader serve` on the simulated broker:
//! the strategy's entries wait in `GET .../approvals`; an approval over HTTP sends exactly one
//! order (a second approval sends nothing), a rejection and an expiry send none, and each is
//! recorded in the database's `approvals` table.

mod serve_kit;

use diesel::{QueryableByName, RunQueryDsl};
use serde_json::Value;
use serve_kit::{ACCOUNT, Serve};

async fn approvals(s: &Serve) -> Vec<Value> {
    match s.get(&format!("{ACCOUNT}/approvals")).await {
        Value::Array(a) => a,
        other => panic!("approvals: {other}"),
    }
}

/// A pending approval other than `skip`'s ids.
async fn a_pending(s: &Serve, skip: &[u64]) -> Value {
    s.until("a pending approval", |s| {
        let skip = skip.to_vec();
        async move {
            approvals(s)
                .await
                .into_iter()
                .find(|a| a["state"] == "pending" && !skip.contains(&a["id"].as_u64().unwrap_or(0)))
        }
    })
    .await
}

/// Orders recorded with `client_order_id`.
async fn orders_of(s: &Serve, client_order_id: &str) -> usize {
    s.all("orders")
        .await
        .iter()
        .filter(|o| o["client_order_id"].as_str() == Some(client_order_id))
        .count()
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    approval_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    state: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    decided_by: Option<String>,
}

/// The approvals table as the writer left it: (state, decided_by) of approval `id`.
fn stored(s: &Serve, id: u64) -> Option<(String, Option<String>)> {
    use diesel::Connection;
    let mut c = diesel::SqliteConnection::establish(&s.db_path().to_string_lossy()).ok()?;
    let rows: Vec<Row> = diesel::sql_query("SELECT approval_id, state, decided_by FROM approvals")
        .load(&mut c)
        .ok()?;
    rows.into_iter()
        .find(|r| u64::try_from(r.approval_id).ok() == Some(id))
        .map(|r| (r.state, r.decided_by))
}

fn semi(ttl: &str) -> [(&'static str, &str); 2] {
    [
        ("MTQ__TRADER__MODE", "semi"),
        ("MTQ__TRADER__APPROVAL_TTL_SECONDS", ttl),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_entry_is_sent_once_and_a_rejected_one_never() {
    // A day of simulated time is about a minute of the paced feed.
    let s = Serve::start_with_env("semi-approve", &semi("86400")).await;
    assert!(s.all("orders").await.is_empty(), "nothing sent unapproved");
    let a = a_pending(&s, &[]).await;
    let id = a["id"].as_u64().expect("an approval id");
    let coid = a["client_order_id"]
        .as_str()
        .expect("its client order id")
        .to_string();
    assert!(
        a["volume"].as_str().is_some() && a["strategy"].as_str().is_some(),
        "{a}"
    );

    let path = format!("{ACCOUNT}/approvals/{id}/approve");
    let first = s.send("POST", &path, &[], "").await;
    assert_eq!(first.status, 200, "{}", first.text());
    let first = first.json();
    assert_eq!(
        (first["actions"].as_u64(), first["duplicate"].as_bool()),
        (Some(1), Some(false)),
        "{first}"
    );
    assert_eq!(first["approval"]["state"], "approved");
    let second = s.send("POST", &path, &[], "").await.json();
    assert_eq!(
        (second["actions"].as_u64(), second["duplicate"].as_bool()),
        (Some(0), Some(true)),
        "{second}"
    );
    let refused = s
        .send("POST", &format!("{ACCOUNT}/approvals/{id}/reject"), &[], "")
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text());
    s.until("the approved order recorded", |s| {
        let coid = coid.clone();
        async move { (orders_of(s, &coid).await == 1).then_some(()) }
    })
    .await;

    // Another entry, rejected: never sent.
    let b = a_pending(&s, &[id]).await;
    let other = b["id"].as_u64().unwrap();
    let other_coid = b["client_order_id"].as_str().unwrap().to_string();
    let r = s
        .send(
            "POST",
            &format!("{ACCOUNT}/approvals/{other}/reject"),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["actions"], 0);
    // An unknown id is not found.
    assert_eq!(
        s.send("POST", &format!("{ACCOUNT}/approvals/1/approve"), &[], "")
            .await
            .status,
        404
    );
    s.cycles(3).await;
    assert_eq!(
        orders_of(&s, &other_coid).await,
        0,
        "a rejected entry was sent"
    );
    assert_eq!(
        orders_of(&s, &coid).await,
        1,
        "the approved entry was sent twice"
    );
    // Every order the trader recorded is one an operator approved.
    assert_eq!(s.all("orders").await.len(), 1);

    let id_by = |who: Option<String>| who.is_some_and(|w| w.starts_with("key:"));
    s.until("both decisions stored", |s| async move {
        let (x, y) = (stored(s, id)?, stored(s, other)?);
        (x.0 == "approved" && y.0 == "rejected" && id_by(x.1) && id_by(y.1)).then_some(())
    })
    .await;
    let audit = s
        .get(&format!("{ACCOUNT}/audit?limit=500"))
        .await
        .to_string();
    assert!(
        audit.contains("approve") && audit.contains("reject"),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_nobody_approves_expires_and_is_never_sent() {
    // Ten simulated seconds: a few milliseconds of the paced feed.
    let s = Serve::start_with_env("semi-expire", &semi("10")).await;
    let expired = s
        .until("an expired approval", |s| async move {
            approvals(s)
                .await
                .into_iter()
                .find(|a| a["state"] == "expired")
        })
        .await;
    let id = expired["id"].as_u64().unwrap();
    assert!(expired["decided_by"].is_null(), "{expired}");
    let r = s
        .send(
            "POST",
            &format!("{ACCOUNT}/approvals/{id}/approve"),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    s.until("the expiry stored", |s| async move {
        (stored(s, id)?.0 == "expired").then_some(())
    })
    .await;
    assert!(
        s.all("orders").await.is_empty(),
        "an unapproved entry was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_expires_the_entries_left_waiting() {
    // A day of simulated time (the longest allowed): about a minute of the paced feed, far longer
    // than the stop takes.
    let mut s = Serve::start_with_env("semi-restart", &semi("86400")).await;
    let left = a_pending(&s, &[]).await;
    let id = left["id"].as_u64().expect("an approval id");
    let coid = left["client_order_id"].as_str().unwrap().to_string();
    s.stop();
    assert_eq!(
        stored(&s, id).map(|r| r.0).as_deref(),
        Some("pending"),
        "the stopped run left it pending"
    );

    s.spawn().await;
    let after = approvals(&s)
        .await
        .into_iter()
        .find(|a| a["id"].as_u64() == Some(id))
        .expect("listed after the restart");
    assert_eq!(after["state"], "expired", "{after}");
    assert!(after["decided_by"].is_null(), "{after}");
    assert!(
        after["note"]
            .as_str()
            .is_some_and(|n| n.contains("restarted")),
        "{after}"
    );
    let r = s
        .send(
            "POST",
            &format!("{ACCOUNT}/approvals/{id}/approve"),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    s.until("the expiry stored", |s| async move {
        (stored(s, id)?.0 == "expired").then_some(())
    })
    .await;
    s.cycles(3).await;
    assert_eq!(orders_of(&s, &coid).await, 0, "the left entry was sent");
}
