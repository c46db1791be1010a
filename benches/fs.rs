//! File-system benchmarks: `gmp::fs` (each call in a blocking section on the calling M) vs.
//! `tokio::fs` (each call, and each `File` chunk, a hop to tokio's blocking pool and back).
//!
//! Same conventions as `benches/blocking.rs`: every shape is one criterion `BenchmarkGroup`
//! with two functions, `gmp` and `tokio` (`target/criterion/<shape>/{gmp,tokio}/`, so
//! `scripts/bench_ratios.py` picks them up); both runtimes get the same number of workers
//! (env `BENCH_PROCS`, else 2); each runtime is built once per group, outside the timed loop,
//! and shut down before the other one is built. Both use their natural API: gmp's `File`
//! through `futures::AsyncReadExt`/`AsyncWriteExt`, tokio's through tokio's.
//!
//! The files live in a fresh directory under `BENCH_FS_DIR` (else the system temp dir), made
//! once before the first group and removed at the end; every read is served from the page
//! cache after the first iteration (this measures the runtimes, not the disk).
//!
//! What each shape measures (one iteration):
//!
//! - `fs_read_1000x4k`: one task reads 1,000 files of 4 KiB with `fs::read`, one after the
//!   other (`open`, `statx`, `read`, `read`, `close` each).
//! - `fs_read_1000x4k_parallel`: the same 1,000 reads, one task each, all awaited.
//! - `fs_metadata_10k`: one task calls `fs::metadata` on 10,000 paths (empty files), one
//!   after the other.
//! - `fs_read_64m_8k`: one task opens a 64 MiB file and reads it to the end in 8 KiB chunks
//!   (8,192 reads) through `File`.
//! - `fs_write_64m_8k_sync`: one task creates (truncates) a file, writes 64 MiB in 8 KiB
//!   chunks through `File`, flushes and `sync_all`s. The `fsync` of 64 MiB is the same
//!   disk work for both runtimes and dominates on a real disk: see the next shape.
//! - `fs_write_64m_8k`: the same writes and flush, without the `sync_all`.
//!
//! Defaults: 10 samples, 3 s measurement, 1 s warm-up per function. Criterion's CLI flags
//! override them.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use criterion::{criterion_group, Criterion};

#[path = "support/mod.rs"]
mod support;

use support::{config, run_shape, Exec, Gmp, Group, Tokio};

const SMALL_FILES: usize = 1_000;
const SMALL_SIZE: usize = 4 * 1024;
const STAT_PATHS: usize = 10_000;
const BIG_SIZE: usize = 64 * 1024 * 1024;
const CHUNK: usize = 8 * 1024;

/// The files every shape works on, made once.
struct Fixture {
    dir: PathBuf,
    small: Vec<PathBuf>,
    stat: Vec<PathBuf>,
    big: PathBuf,
    out: PathBuf,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let base = std::env::var_os("BENCH_FS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("gmp-bench-fs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("small")).unwrap();
        std::fs::create_dir_all(dir.join("stat")).unwrap();
        let small: Vec<PathBuf> = (0..SMALL_FILES)
            .map(|i| {
                let p = dir.join(format!("small/{i}"));
                std::fs::write(&p, vec![(i % 256) as u8; SMALL_SIZE]).unwrap();
                p
            })
            .collect();
        let stat: Vec<PathBuf> = (0..STAT_PATHS)
            .map(|i| {
                let p = dir.join(format!("stat/{i}"));
                std::fs::File::create(&p).unwrap();
                p
            })
            .collect();
        let big = dir.join("big");
        let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        let mut f = std::fs::File::create(&big).unwrap();
        for _ in 0..BIG_SIZE / block.len() {
            std::io::Write::write_all(&mut f, &block).unwrap();
        }
        Fixture {
            out: dir.join("out"),
            dir,
            small,
            stat,
            big,
        }
    })
}

/// The file-system calls each runtime offers, in its own idiom.
trait FsExec: Exec {
    fn read(path: &Path) -> impl Future<Output = io::Result<Vec<u8>>> + Send;
    fn metadata_len(path: &Path) -> impl Future<Output = io::Result<u64>> + Send;
    /// Open `path` and read it to the end in `CHUNK`-byte reads: the bytes read.
    fn read_chunks(path: &Path) -> impl Future<Output = io::Result<usize>> + Send;
    /// Create `path`, write `BIG_SIZE` bytes in `CHUNK`-byte writes, flush, and `sync_all`
    /// if `sync`.
    fn write_chunks(path: &Path, sync: bool) -> impl Future<Output = io::Result<()>> + Send;
}

impl FsExec for Gmp {
    fn read(path: &Path) -> impl Future<Output = io::Result<Vec<u8>>> + Send {
        gmp::fs::read(path)
    }

    async fn metadata_len(path: &Path) -> io::Result<u64> {
        Ok(gmp::fs::metadata(path).await?.len())
    }

    async fn read_chunks(path: &Path) -> io::Result<usize> {
        use futures::AsyncReadExt;
        let mut f = gmp::fs::File::open(path).await?;
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0;
        loop {
            match f.read(&mut buf).await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    async fn write_chunks(path: &Path, sync: bool) -> io::Result<()> {
        use futures::AsyncWriteExt;
        let mut f = gmp::fs::File::create(path).await?;
        let buf = vec![7u8; CHUNK];
        for _ in 0..BIG_SIZE / CHUNK {
            f.write_all(&buf).await?;
        }
        f.flush().await?;
        if sync {
            f.sync_all().await?;
        }
        Ok(())
    }
}

impl FsExec for Tokio {
    fn read(path: &Path) -> impl Future<Output = io::Result<Vec<u8>>> + Send {
        tokio::fs::read(path)
    }

    async fn metadata_len(path: &Path) -> io::Result<u64> {
        Ok(tokio::fs::metadata(path).await?.len())
    }

    async fn read_chunks(path: &Path) -> io::Result<usize> {
        use tokio::io::AsyncReadExt;
        let mut f = tokio::fs::File::open(path).await?;
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0;
        loop {
            match f.read(&mut buf).await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    async fn write_chunks(path: &Path, sync: bool) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut f = tokio::fs::File::create(path).await?;
        let buf = vec![7u8; CHUNK];
        for _ in 0..BIG_SIZE / CHUNK {
            f.write_all(&buf).await?;
        }
        f.flush().await?;
        if sync {
            f.sync_all().await?;
        }
        Ok(())
    }
}

fn read_small<E: FsExec>(group: &mut Group<'_>, procs: usize) {
    let fx = fixture();
    let rt = E::build(procs);
    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            let total = rt.block_on(rt.spawn_remote(async move {
                let mut total = 0;
                for p in &fx.small {
                    total += E::read(p).await.unwrap().len();
                }
                total
            }));
            assert_eq!(total.unwrap(), SMALL_FILES * SMALL_SIZE);
        })
    });
    rt.shutdown();
}

fn read_small_parallel<E: FsExec>(group: &mut Group<'_>, procs: usize) {
    let fx = fixture();
    let rt = E::build(procs);
    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            let total = rt.block_on(rt.spawn_remote(async move {
                let handles: Vec<_> = fx
                    .small
                    .iter()
                    .map(|p| E::spawn(async move { E::read(p).await.unwrap().len() }))
                    .collect();
                let mut total = 0;
                for h in handles {
                    total += h.await.unwrap();
                }
                total
            }));
            assert_eq!(total.unwrap(), SMALL_FILES * SMALL_SIZE);
        })
    });
    rt.shutdown();
}

fn metadata_10k<E: FsExec>(group: &mut Group<'_>, procs: usize) {
    let fx = fixture();
    let rt = E::build(procs);
    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            let total = rt.block_on(rt.spawn_remote(async move {
                let mut total = 0;
                for p in &fx.stat {
                    total += E::metadata_len(p).await.unwrap();
                }
                total
            }));
            assert_eq!(total.unwrap(), 0);
        })
    });
    rt.shutdown();
}

fn read_big<E: FsExec>(group: &mut Group<'_>, procs: usize) {
    let fx = fixture();
    let rt = E::build(procs);
    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            let n = rt.block_on(rt.spawn_remote(E::read_chunks(&fx.big)));
            assert_eq!(n.unwrap().unwrap(), BIG_SIZE);
        })
    });
    rt.shutdown();
}

fn write_big<E: FsExec, const SYNC: bool>(group: &mut Group<'_>, procs: usize) {
    let fx = fixture();
    let rt = E::build(procs);
    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            rt.block_on(rt.spawn_remote(E::write_chunks(&fx.out, SYNC)))
                .unwrap()
                .unwrap();
        })
    });
    rt.shutdown();
}

fn bench_fs(c: &mut Criterion) {
    run_shape(c, "fs_read_1000x4k", read_small::<Gmp>, read_small::<Tokio>);
    run_shape(
        c,
        "fs_read_1000x4k_parallel",
        read_small_parallel::<Gmp>,
        read_small_parallel::<Tokio>,
    );
    run_shape(
        c,
        "fs_metadata_10k",
        metadata_10k::<Gmp>,
        metadata_10k::<Tokio>,
    );
    run_shape(c, "fs_read_64m_8k", read_big::<Gmp>, read_big::<Tokio>);
    run_shape(
        c,
        "fs_write_64m_8k_sync",
        write_big::<Gmp, true>,
        write_big::<Tokio, true>,
    );
    run_shape(
        c,
        "fs_write_64m_8k",
        write_big::<Gmp, false>,
        write_big::<Tokio, false>,
    );
}

criterion_group! {
    name = fs;
    config = config(10);
    targets = bench_fs,
}

fn main() {
    fs();
    Criterion::default().configure_from_args().final_summary();
    if let Some(fx) = FIXTURE.get() {
        let _ = std::fs::remove_dir_all(&fx.dir);
    }
}
