//! tokio-bound libraries inside gmp tasks through the `tokio-compat` bridge
//! (`#[gmp::test(tokio_compat = true)]`): reqwest against a local HTTP server, with a
//! timeout, and an sqlx SQLite pool used by many gmp tasks at once. See MIGRATING.md.

#[path = "support/http_server.rs"]
mod http_server;

use std::time::{Duration, Instant};

/// reqwest GETs from 50 gmp tasks sharing one pooled `Client`, then a request that times
/// out (reqwest's timeout is a `tokio::time` timer on the bridge) while others still work.
#[gmp::test(tokio_compat = true, procs = 2)]
async fn reqwest_gets_from_gmp_tasks() {
    let server = http_server::start();
    let base = format!("http://{}", server.addr);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();

    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (client, base) = (client.clone(), base.clone());
            gmp::spawn(async move {
                let mut bodies = Vec::new();
                for j in 0..4 {
                    let res = client
                        .get(format!("{base}/echo/t{i}r{j}"))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(res.status(), 200);
                    bodies.push(res.text().await.unwrap());
                }
                assert_eq!(
                    bodies,
                    (0..4).map(|j| format!("t{i}r{j}")).collect::<Vec<_>>()
                );
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }

    // The convenience function builds its own client: it works too.
    let hello = reqwest::get(format!("{base}/hello")).await.unwrap();
    assert_eq!(hello.text().await.unwrap(), "hello");

    // A per-request timeout fires (the server answers /slow after 5 s).
    let start = Instant::now();
    let slow = gmp::spawn({
        let client = client.clone();
        let url = format!("{base}/slow");
        async move {
            client
                .get(url)
                .timeout(Duration::from_millis(200))
                .send()
                .await
        }
    });
    // Meanwhile other requests are unaffected.
    let res = client.get(format!("{base}/hello")).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "hello");
    let err = slow.await.unwrap().unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(4), "timeout took {took:?}");

    // A 404 is a response, not an error.
    let res = client.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

/// reqwest from a blocking section's `gmp::block_on` and from `block_on` itself: those
/// threads are in the bridge's context too.
#[test]
fn reqwest_from_block_on_and_blocking_sections() {
    let server = http_server::start();
    let url = format!("http://{}/hello", server.addr);
    let rt = gmp::Runtime::builder()
        .procs(1)
        .tokio_compat(true)
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let text = rt.block_on(async { client.get(&url).send().await?.text().await });
    assert_eq!(text.unwrap(), "hello");
    let nested = rt.block_on(gmp::spawn_blocking({
        let (client, url) = (client.clone(), url.clone());
        move || gmp::block_on(async move { client.get(&url).send().await?.text().await })
    }));
    assert_eq!(nested.unwrap().unwrap(), "hello");
}

/// An sqlx SQLite pool (in-memory, shared cache) used by 64 gmp tasks at once: create a
/// table, insert concurrently, read back, transactions, and the pool's timeout.
#[gmp::test(tokio_compat = true, procs = 2)]
async fn sqlx_sqlite_pool_from_many_tasks() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use sqlx::Row;
    use std::str::FromStr;

    // One named in-memory database shared by the pool's connections (it lives while one
    // connection is open: min_connections keeps one).
    let name = format!("gmp_ecosystem_{}", std::process::id());
    let opts =
        SqliteConnectOptions::from_str(&format!("sqlite:file:{name}?mode=memory&cache=shared"))
            .unwrap()
            .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(20))
        .connect_with(opts)
        .await
        .unwrap();

    sqlx::query(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, task INTEGER NOT NULL, v TEXT NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();

    const TASKS: i64 = 64;
    const ROWS: i64 = 10;
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let pool = pool.clone();
            gmp::spawn(async move {
                for r in 0..ROWS {
                    sqlx::query("INSERT INTO items (task, v) VALUES (?, ?)")
                        .bind(t)
                        .bind(format!("t{t}r{r}"))
                        .execute(&pool)
                        .await
                        .unwrap();
                }
                // Read back this task's own rows.
                let rows = sqlx::query("SELECT v FROM items WHERE task = ? ORDER BY id")
                    .bind(t)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                let got: Vec<String> = rows.iter().map(|r| r.get("v")).collect();
                assert_eq!(
                    got,
                    (0..ROWS).map(|r| format!("t{t}r{r}")).collect::<Vec<_>>()
                );
                // A transaction per task: its update is all or nothing.
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("UPDATE items SET v = v || '!' WHERE task = ?")
                    .bind(t)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                if t % 2 == 0 {
                    tx.commit().await.unwrap();
                } else {
                    tx.rollback().await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }

    let (count, banged): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), SUM(CASE WHEN v LIKE '%!' THEN 1 ELSE 0 END) FROM items")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(count, TASKS * ROWS);
    assert_eq!(banged, TASKS / 2 * ROWS);
    pool.close().await;
    assert!(pool.is_closed());
}

/// Without the bridge, reqwest in a gmp task panics with tokio's message, and the
/// `JoinError` names the feature and MIGRATING.md.
#[gmp::test(procs = 1)]
async fn reqwest_without_the_bridge_gets_the_hint() {
    let server = http_server::start();
    let url = format!("http://{}/hello", server.addr);
    let err = gmp::spawn(async move { reqwest::get(url).await.map(|_| ()) })
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("Tokio 1.x runtime"), "{text}");
    assert!(text.contains("`tokio-compat` feature"), "{text}");
    assert!(text.contains("MIGRATING.md"), "{text}");
}
