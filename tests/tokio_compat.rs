//! The `tokio-compat` bridge (`Builder::tokio_compat`, `#[gmp::test(tokio_compat = true)]`):
//! tokio's APIs inside gmp tasks, on every kind of gmp thread, and the tokio runtime's life.
//! Also, with or without the feature: the hint a tokio "no runtime" panic gets.

use std::time::Duration;

/// Threads of this process whose name is `name` (Linux: /proc/self/task/*/comm).
#[cfg(feature = "tokio-compat")]
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

#[cfg(feature = "tokio-compat")]
#[test]
fn tokio_apis_work_in_gmp_tasks() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = gmp::Runtime::builder()
        .procs(2)
        .thread_name("tc-apis")
        .tokio_compat(true)
        .build()
        .unwrap();
    rt.block_on(async {
        // A tokio echo server, spawned from a gmp task onto the tokio side.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n @ 1..) = s.read(&mut buf).await {
                        s.write_all(&buf[..n]).await.unwrap();
                    }
                });
            }
        });
        let dir = std::env::temp_dir().join(format!("gmp-tokio-compat-{}", std::process::id()));
        tokio::fs::create_dir_all(&dir).await.unwrap();
        let tasks: Vec<_> = (0..32u32)
            .map(|i| {
                let dir = dir.clone();
                gmp::spawn(async move {
                    assert!(tokio::runtime::Handle::try_current().is_ok());
                    tokio::time::sleep(Duration::from_millis(u64::from(i % 4))).await;
                    let mut s = tokio::time::timeout(
                        Duration::from_secs(10),
                        tokio::net::TcpStream::connect(addr),
                    )
                    .await
                    .expect("connect timed out")
                    .unwrap();
                    let msg = format!("hello {i}");
                    s.write_all(msg.as_bytes()).await.unwrap();
                    let mut back = vec![0u8; msg.len()];
                    s.read_exact(&mut back).await.unwrap();
                    assert_eq!(back, msg.as_bytes());
                    let path = dir.join(format!("{i}.txt"));
                    tokio::fs::write(&path, &msg).await.unwrap();
                    assert_eq!(tokio::fs::read_to_string(&path).await.unwrap(), msg);
                    // A tokio task spawned from a gmp task runs on the bridge's thread.
                    let name =
                        tokio::spawn(async { std::thread::current().name().map(str::to_owned) })
                            .await
                            .unwrap();
                    assert_eq!(name.as_deref(), Some("tc-apis-tokio"));
                    i
                })
            })
            .collect();
        let mut sum = 0;
        for t in tasks {
            sum += t.await.unwrap();
        }
        assert_eq!(sum, (0..32).sum());
        server.abort();
        tokio::fs::remove_dir_all(&dir).await.unwrap();
    });
}

#[cfg(feature = "tokio-compat")]
#[test]
fn every_gmp_thread_is_in_the_tokio_context() {
    let rt = gmp::Runtime::builder()
        .procs(2)
        .thread_keep_alive(Duration::from_millis(20))
        .tokio_compat(true)
        .build()
        .unwrap();
    let has = || tokio::runtime::Handle::try_current().is_ok();
    // Not on this thread until it enters.
    assert!(!has());
    {
        let _g = rt.enter();
        assert!(has());
    }
    assert!(!has());
    rt.block_on(async move {
        assert!(has(), "block_on thread");
        assert!(gmp::spawn(async move { has() }).await.unwrap(), "an M");
        // Blocking sections, many at once: extra Ms start for them.
        let blocking: Vec<_> = (0..8)
            .map(|_| {
                gmp::spawn_blocking(move || {
                    std::thread::sleep(Duration::from_millis(10));
                    has()
                })
            })
            .collect();
        for b in blocking {
            assert!(b.await.unwrap(), "spawn_blocking");
        }
        assert!(gmp::spawn(async move { gmp::block_in_place(has) })
            .await
            .unwrap());
        // block_on inside a blocking section: nested enter, left in order.
        assert!(
            gmp::spawn_blocking(move || gmp::block_on(async move { has() }) && has())
                .await
                .unwrap()
        );
        // The spare Ms exit after keep-alive; the Ms started after that are entered too.
        gmp::time::sleep(Duration::from_millis(100)).await;
        let later: Vec<_> = (0..4).map(|_| gmp::spawn_blocking(has)).collect();
        for l in later {
            assert!(l.await.unwrap(), "an M started later");
        }
    });
    // The thread hooks run inside the context too.
}

#[cfg(feature = "tokio-compat")]
#[test]
fn the_tokio_runtime_lives_and_dies_with_the_gmp_runtime() {
    let rt = gmp::Runtime::builder()
        .procs(1)
        .thread_name("tc-life")
        .tokio_compat(true)
        .build()
        .unwrap();
    let handle = rt.block_on(async { gmp::tokio_compat::handle() }).unwrap();
    // One worker thread, named after the gmp runtime (a new thread names itself once it
    // runs: wait for that).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while threads_named("tc-life-tokio") == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(threads_named("tc-life-tokio"), 1);
    // A task that holds tokio objects when the runtime drops: dropped before tokio stops.
    rt.spawn(async {
        let _l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    drop(rt);
    assert_eq!(
        threads_named("tc-life-tokio"),
        0,
        "tokio's worker was joined"
    );
    // Its handle now refuses work.
    let late = handle.spawn(async { 1 });
    assert!(handle.block_on(late).unwrap_err().is_cancelled());

    // shutdown_timeout shuts tokio down too.
    let rt = gmp::Runtime::builder()
        .thread_name("tc-life2")
        .tokio_compat(true)
        .build()
        .unwrap();
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
    rt.shutdown_timeout(Duration::from_secs(5));
    assert_eq!(threads_named("tc-life2-tokio"), 0);

    // Without the bridge: no tokio context, no handle.
    let rt = gmp::Runtime::builder().tokio_compat(false).build().unwrap();
    rt.block_on(async {
        assert!(gmp::tokio_compat::handle().is_none());
        assert!(
            gmp::spawn(async { tokio::runtime::Handle::try_current().is_err() })
                .await
                .unwrap()
        );
    });
}

#[cfg(feature = "tokio-compat")]
#[gmp::test(tokio_compat = true, procs = 2)]
async fn macro_argument_starts_the_bridge() {
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(tokio::spawn(async { 5 }).await.unwrap(), 5);
    assert!(
        gmp::spawn(async { tokio::runtime::Handle::try_current().is_ok() })
            .await
            .unwrap()
    );
}

#[cfg(feature = "tokio-compat")]
#[gmp::test(tokio_compat = false)]
async fn macro_argument_false_starts_nothing() {
    assert!(gmp::tokio_compat::handle().is_none());
}

/// Without a bridge, tokio code in a task panics with tokio's message, and the `JoinError`
/// (its Display and Debug, so `.unwrap()` too) adds a line naming the feature and the guide.
#[test]
fn tokio_no_runtime_panic_names_the_feature() {
    let rt = gmp::Runtime::builder().procs(1).build().unwrap();
    rt.block_on(async {
        let timer = gmp::spawn(async { tokio::time::sleep(Duration::from_millis(1)).await })
            .await
            .unwrap_err();
        let spawn = gmp::spawn(async { drop(tokio::spawn(async {})) })
            .await
            .unwrap_err();
        for err in [timer, spawn] {
            assert!(err.is_panic());
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(text.contains("Tokio 1.x runtime"), "{text}");
                let hint = text.lines().last().unwrap();
                assert!(hint.contains("`tokio-compat` feature"), "{text}");
                assert!(hint.contains("MIGRATING.md"), "{text}");
            }
        }
        // Any other panic: no hint.
        let other = gmp::spawn(async { panic!("boom") }).await.unwrap_err();
        assert!(!other.to_string().contains("tokio-compat"));
        assert_eq!(other.to_string().lines().count(), 1);
    });
}

/// tokio's runtime-independent items need no bridge: `tokio::sync`, `select!`, `join!`,
/// `try_join!`, `task_local!` (MIGRATING.md's "works as is" rows).
#[test]
fn tokio_sync_and_macros_work_as_is_without_the_bridge() {
    use std::sync::Arc;
    tokio::task_local! {
        static REQUEST_ID: u32;
    }
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    rt.block_on(async {
        // mpsc + oneshot across gmp tasks.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u32>(4);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let consumer = gmp::spawn(async move {
            let mut sum = 0;
            while let Some(v) = rx.recv().await {
                sum += v;
            }
            done_tx.send(sum).unwrap();
        });
        for i in 0..100 {
            tx.send(i).await.unwrap();
        }
        drop(tx);
        assert_eq!(done_rx.await.unwrap(), 4950);
        consumer.await.unwrap();

        // Mutex, Semaphore, Notify, watch, broadcast.
        let counter = Arc::new(tokio::sync::Mutex::new(0));
        let permits = Arc::new(tokio::sync::Semaphore::new(3));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (counter, permits) = (counter.clone(), permits.clone());
                gmp::spawn(async move {
                    let _p = permits.acquire().await.unwrap();
                    *counter.lock().await += 1;
                    gmp::yield_now().await;
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*counter.lock().await, 20);
        let table = Arc::new(tokio::sync::RwLock::new(vec![0u8]));
        let writer = gmp::spawn({
            let table = table.clone();
            async move { table.write().await.push(1) }
        });
        writer.await.unwrap();
        assert_eq!(*table.read().await, [0, 1]);
        let notify = Arc::new(tokio::sync::Notify::new());
        let waiter = gmp::spawn({
            let notify = notify.clone();
            async move { notify.notified().await }
        });
        notify.notify_one();
        waiter.await.unwrap();
        let (wtx, mut wrx) = tokio::sync::watch::channel(0);
        let (btx, mut brx) = tokio::sync::broadcast::channel(8);
        gmp::spawn(async move {
            wtx.send(7).unwrap();
            btx.send("hi").unwrap();
        })
        .await
        .unwrap();
        wrx.changed().await.unwrap();
        assert_eq!(*wrx.borrow(), 7);
        assert_eq!(brx.recv().await.unwrap(), "hi");

        // select! against a gmp timer, join! of gmp futures.
        let (_keep, never) = tokio::sync::oneshot::channel::<()>();
        let winner = tokio::select! {
            _ = never => "channel",
            _ = gmp::time::sleep(Duration::from_millis(5)) => "timer",
        };
        assert_eq!(winner, "timer");
        let (a, b) = tokio::join!(gmp::spawn(async { 1 }), async { 2 });
        assert_eq!((a.unwrap(), b), (1, 2));
        let both: Result<(u8, u8), gmp::JoinError> =
            tokio::try_join!(gmp::spawn(async { 3 }), gmp::spawn(async { 4 }));
        assert_eq!(both.unwrap(), (3, 4));

        // task_local! scoped around a future that awaits gmp timers (and may move Ps).
        let seen = REQUEST_ID
            .scope(42, async {
                gmp::time::sleep(Duration::from_millis(1)).await;
                REQUEST_ID.get()
            })
            .await;
        assert_eq!(seen, 42);
        let in_task = gmp::spawn(REQUEST_ID.scope(7, async {
            gmp::yield_now().await;
            REQUEST_ID.get()
        }));
        assert_eq!(in_task.await.unwrap(), 7);
    });
}

/// Tasks dropped by the runtime's shutdown drop inside the tokio context (sqlx's pooled
/// connection, for one, spawns its return to the pool from `Drop`), and the start and stop
/// hooks run inside it.
#[cfg(feature = "tokio-compat")]
#[test]
fn shutdown_drops_tasks_and_hooks_run_inside_the_tokio_context() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;
    struct SpawnOnDrop(Arc<AtomicUsize>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            if tokio::runtime::Handle::try_current().is_ok() {
                drop(tokio::spawn(async {}));
                self.0.fetch_add(1, SeqCst);
            }
        }
    }
    let in_ctx = Arc::new(AtomicUsize::new(0));
    let hooks = Arc::new(AtomicUsize::new(0));
    let (start, stop) = (hooks.clone(), hooks.clone());
    let rt = gmp::Runtime::builder()
        .procs(2)
        .on_thread_start(move || {
            assert!(tokio::runtime::Handle::try_current().is_ok());
            start.fetch_add(1, SeqCst);
        })
        .on_thread_stop(move || {
            assert!(tokio::runtime::Handle::try_current().is_ok());
            stop.fetch_add(1, SeqCst);
        })
        .tokio_compat(true)
        .build()
        .unwrap();
    for _ in 0..10 {
        let guard = SpawnOnDrop(in_ctx.clone());
        rt.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
    }
    rt.block_on(gmp::time::sleep(Duration::from_millis(10)));
    drop(rt);
    assert_eq!(in_ctx.load(SeqCst), 10);
    // Every M ran both hooks inside the context (a failed assert there is caught and
    // reported, and the count would come out odd or short).
    let n = hooks.load(SeqCst);
    assert!(n >= 2 && n % 2 == 0, "{n}");
}
