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
    // Spawned inside `block_on`, so on `rt` (an argument of `block_on` would be evaluated
    // outside it and go to the global runtime, which has no bridge).
    let nested = rt.block_on(async {
        let (client, url) = (client.clone(), url.clone());
        gmp::spawn_blocking(move || {
            gmp::block_on(async move { client.get(&url).send().await?.text().await })
        })
        .await
    });
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

/// tracing needs no bridge: a span entered around a gmp task's polls (`Instrument`) is the
/// current span wherever the task runs, and events inside it see it. A minimal subscriber
/// records (span name, event message) pairs.
#[gmp::test(procs = 2)]
async fn tracing_spans_follow_gmp_tasks() {
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Instrument, Metadata, Subscriber};

    #[derive(Default)]
    struct Recorder {
        names: Mutex<Vec<&'static str>>,
        stack: Mutex<std::collections::HashMap<std::thread::ThreadId, Vec<u64>>>,
        events: Arc<Mutex<Vec<(String, String)>>>,
    }
    struct Message(String);
    impl Visit for Message {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0 = format!("{value:?}");
            }
        }
    }
    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut names = self.names.lock().unwrap();
            names.push(span.metadata().name());
            Id::from_u64(names.len() as u64)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut msg = Message(String::new());
            event.record(&mut msg);
            let tid = std::thread::current().id();
            let span = self
                .stack
                .lock()
                .unwrap()
                .get(&tid)
                .and_then(|s| s.last().copied());
            let name = span.map_or("none", |i| self.names.lock().unwrap()[i as usize - 1]);
            self.events.lock().unwrap().push((name.to_string(), msg.0));
        }
        fn enter(&self, span: &Id) {
            let tid = std::thread::current().id();
            self.stack
                .lock()
                .unwrap()
                .entry(tid)
                .or_default()
                .push(span.into_u64());
        }
        fn exit(&self, _: &Id) {
            let tid = std::thread::current().id();
            self.stack.lock().unwrap().entry(tid).or_default().pop();
        }
    }

    let recorder = Recorder::default();
    let events = recorder.events.clone();
    let dispatch = tracing::Dispatch::new(recorder);
    // Not the global default: that would leak into the other tests of this binary.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let dispatch = dispatch.clone();
            let work = async move {
                async move {
                    tracing::info!("before {i}");
                    gmp::time::sleep(std::time::Duration::from_millis(2)).await;
                    gmp::yield_now().await;
                    tracing::info!("after {i}");
                }
                .instrument(tracing::info_span!("request"))
                .await
            };
            // A scoped dispatcher is per thread: set it around each poll of the task.
            gmp::spawn(WithDispatch {
                dispatch,
                inner: Box::pin(work),
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 16);
    assert!(
        events.iter().all(|(span, _)| span == "request"),
        "{events:?}"
    );

    struct WithDispatch<F> {
        dispatch: tracing::Dispatch,
        inner: std::pin::Pin<Box<F>>,
    }
    impl<F: std::future::Future> std::future::Future for WithDispatch<F> {
        type Output = F::Output;
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<F::Output> {
            let dispatch = self.dispatch.clone();
            tracing::dispatcher::with_default(&dispatch, || self.inner.as_mut().poll(cx))
        }
    }
}
