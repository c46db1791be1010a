//! `gmp::fs` on real files in a temporary directory: every function, round trips, the OS's
//! errors with their kinds, `File` written in chunks then read back and seeked, 1,000
//! concurrent reads on 2 Ps, a call that blocks for real (its P handed off), calls from
//! `gmp::block_on` and the global runtime, and tokio's I/O traits (feature `tokio-io`).
//!
//! Every test runs under a watchdog; nothing waits on a sleep.
#![cfg(not(loom))]

use futures::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use gmp::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, SeekFrom};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[path = "support/mod.rs"]
mod support;

const DEADLINE: Duration = Duration::from_secs(120);

/// A fresh directory under the system's temp dir, removed (with its contents) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("gmp-fs-test-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Restore permissions a test took away, so the tree can be removed.
        if let Ok(entries) = std::fs::read_dir(&self.0) {
            for e in entries.flatten() {
                let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o755));
            }
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `body` to completion inside a task of a fresh 2-P runtime, under the watchdog.
fn on_runtime<F>(what: &str, body: impl FnOnce() -> F + Send + 'static)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    support::with_deadline(DEADLINE, what, move || {
        let rt = gmp::Runtime::builder().procs(2).build().unwrap();
        rt.block_on(rt.spawn(body())).unwrap();
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn read_write_round_trips() {
    on_runtime("read/write round trips", || async {
        let dir = TempDir::new("rw");
        let path = dir.join("a.txt");
        fs::write(&path, "hello, gmp").await.unwrap();
        assert_eq!(fs::read(&path).await.unwrap(), b"hello, gmp");
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "hello, gmp");

        // write replaces the whole file; an owned Vec and a borrowed slice both work.
        fs::write(&path, vec![b'x'; 3]).await.unwrap();
        assert_eq!(fs::read(&path).await.unwrap(), b"xxx");
        let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&path, &big).await.unwrap();
        assert_eq!(fs::read(&path).await.unwrap(), big);

        // Not UTF-8: read works, read_to_string is InvalidData.
        fs::write(&path, [0xff, 0xfe, 0x00]).await.unwrap();
        assert_eq!(fs::read(&path).await.unwrap(), [0xff, 0xfe, 0x00]);
        let err = fs::read_to_string(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);

        // An empty file.
        fs::write(&path, b"").await.unwrap();
        assert!(fs::read(&path).await.unwrap().is_empty());
    });
}

#[test]
fn copy_rename_remove_file_try_exists() {
    on_runtime("copy/rename/remove_file", || async {
        let dir = TempDir::new("crr");
        let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
        fs::write(&a, b"0123456789").await.unwrap();
        fs::set_permissions(&a, std::fs::Permissions::from_mode(0o640))
            .await
            .unwrap();

        assert_eq!(fs::copy(&a, &b).await.unwrap(), 10);
        assert_eq!(fs::read(&b).await.unwrap(), b"0123456789");
        // copy carries the permission bits.
        assert_eq!(fs::metadata(&b).await.unwrap().mode() & 0o777, 0o640);

        fs::rename(&b, &c).await.unwrap();
        assert!(!fs::try_exists(&b).await.unwrap());
        assert!(fs::try_exists(&c).await.unwrap());
        assert_eq!(fs::read(&c).await.unwrap(), b"0123456789");

        // rename replaces an existing target.
        fs::write(&a, b"new").await.unwrap();
        fs::rename(&a, &c).await.unwrap();
        assert_eq!(fs::read(&c).await.unwrap(), b"new");

        fs::remove_file(&c).await.unwrap();
        assert!(!fs::try_exists(&c).await.unwrap());

        // Missing sources: NotFound from every call.
        for err in [
            fs::copy(&a, &b).await.unwrap_err(),
            fs::rename(&a, &b).await.unwrap_err(),
            fs::remove_file(&a).await.unwrap_err(),
            fs::read(&a).await.unwrap_err(),
            fs::metadata(&a).await.unwrap_err(),
            File::open(&a).await.unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        }
    });
}

#[test]
fn directories_create_and_remove() {
    on_runtime("create_dir/remove_dir", || async {
        let dir = TempDir::new("dirs");
        let d = dir.join("d");
        fs::create_dir(&d).await.unwrap();
        assert!(fs::metadata(&d).await.unwrap().is_dir());
        assert_eq!(
            fs::create_dir(&d).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        // create_dir needs the parent; create_dir_all makes it, and accepts what exists.
        let deep = dir.join("x/y/z");
        assert_eq!(
            fs::create_dir(&deep).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        fs::create_dir_all(&deep).await.unwrap();
        fs::create_dir_all(&deep).await.unwrap();
        assert!(fs::metadata(&deep).await.unwrap().is_dir());

        // remove_dir refuses a directory that is not empty (ENOTEMPTY).
        fs::write(deep.join("f"), b"f").await.unwrap();
        let err = fs::remove_dir(dir.join("x/y")).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOTEMPTY), "{err}");
        fs::remove_file(deep.join("f")).await.unwrap();
        fs::remove_dir(&deep).await.unwrap();
        assert!(!fs::try_exists(&deep).await.unwrap());

        // remove_dir_all takes a whole tree.
        for i in 0..20 {
            let sub = dir.join(&format!("x/y/s{i}"));
            fs::create_dir_all(&sub).await.unwrap();
            fs::write(sub.join("file"), [i as u8; 100]).await.unwrap();
        }
        fs::remove_dir_all(dir.join("x")).await.unwrap();
        assert!(!fs::try_exists(dir.join("x")).await.unwrap());
        assert_eq!(
            fs::remove_dir_all(dir.join("x")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            fs::remove_dir(dir.join("x")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    });
}

#[test]
fn metadata_links_and_canonicalize() {
    on_runtime("metadata and links", || async {
        let dir = TempDir::new("links");
        let file = dir.join("file");
        fs::write(&file, [7u8; 1234]).await.unwrap();
        let meta = fs::metadata(&file).await.unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.len(), 1234);

        // A symbolic link: metadata follows it, symlink_metadata does not.
        let link = dir.join("link");
        fs::symlink("file", &link).await.unwrap();
        assert_eq!(fs::metadata(&link).await.unwrap().len(), 1234);
        let lmeta = fs::symlink_metadata(&link).await.unwrap();
        assert!(lmeta.file_type().is_symlink());
        assert_eq!(fs::read_link(&link).await.unwrap(), Path::new("file"));
        assert_eq!(fs::read(&link).await.unwrap(), [7u8; 1234]);

        // canonicalize resolves the link, `.` and `..`.
        let canon_dir = std::fs::canonicalize(dir.path()).unwrap();
        let twisted = dir.path().join(".").join("sub/..").join("link");
        fs::create_dir(dir.join("sub")).await.unwrap();
        assert_eq!(
            fs::canonicalize(&twisted).await.unwrap(),
            canon_dir.join("file")
        );

        // A hard link is the same inode, with a link count of 2.
        let hard = dir.join("hard");
        fs::hard_link(&file, &hard).await.unwrap();
        let hmeta = fs::metadata(&hard).await.unwrap();
        assert_eq!(hmeta.ino(), meta.ino());
        assert_eq!(hmeta.nlink(), 2);
        assert_eq!(
            fs::hard_link(&file, &hard).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );

        // A dangling link: try_exists is false, symlink_metadata still sees the link.
        let dangling = dir.join("dangling");
        fs::symlink("nowhere", &dangling).await.unwrap();
        assert!(!fs::try_exists(&dangling).await.unwrap());
        assert!(fs::symlink_metadata(&dangling).await.is_ok());
        for err in [
            fs::metadata(&dangling).await.unwrap_err(),
            fs::canonicalize(&dangling).await.unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        }
        // read_link on a regular file is EINVAL.
        let err = fs::read_link(&file).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    });
}

#[test]
fn permissions_and_permission_denied() {
    on_runtime("permissions", || async {
        let dir = TempDir::new("perm");
        let path = dir.join("secret");
        fs::write(&path, b"s").await.unwrap();
        fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000))
            .await
            .unwrap();
        assert_eq!(fs::metadata(&path).await.unwrap().mode() & 0o777, 0);
        let read = fs::read(&path).await;
        if is_root() {
            // Root bypasses permission bits (CAP_DAC_OVERRIDE), as CI's container does.
            assert_eq!(read.unwrap(), b"s");
        } else {
            assert_eq!(read.unwrap_err().kind(), ErrorKind::PermissionDenied);
        }
        // A permission error that holds for root too: link(2) of a directory is EPERM
        // (std's PermissionDenied) for every user.
        let err = fs::hard_link(dir.path(), dir.join("dirlink"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
        // No access mode at all is refused before the OS is asked, root or not.
        let err = OpenOptions::new().open(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");

        // set_permissions on a missing path: NotFound.
        let err = fs::set_permissions(dir.join("none"), std::fs::Permissions::from_mode(0o600))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);

        // File::set_permissions through the open descriptor.
        let f = File::options().write(true).open(&path).await;
        if let Ok(f) = f {
            // (root: the descriptor opened despite mode 000)
            f.set_permissions(std::fs::Permissions::from_mode(0o604))
                .await
                .unwrap();
            assert_eq!(fs::metadata(&path).await.unwrap().mode() & 0o777, 0o604);
        } else {
            assert!(!is_root());
            assert_eq!(f.unwrap_err().kind(), ErrorKind::PermissionDenied);
        }
    });
}

#[test]
fn directory_where_a_file_is_expected() {
    on_runtime("directory for a file", || async {
        let dir = TempDir::new("isdir");
        let d = dir.join("d");
        fs::create_dir(&d).await.unwrap();
        // Reading a directory as a file: EISDIR (ErrorKind::IsADirectory).
        for err in [
            fs::read(&d).await.unwrap_err(),
            fs::read_to_string(&d).await.unwrap_err(),
            fs::write(&d, b"x").await.unwrap_err(),
            File::create(&d).await.unwrap_err(),
        ] {
            assert_eq!(err.raw_os_error(), Some(libc::EISDIR), "{err}");
            assert_eq!(format!("{:?}", err.kind()), "IsADirectory");
        }
        // remove_file on a directory (unlink: EISDIR on Linux).
        let err = fs::remove_file(&d).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EISDIR), "{err}");
        // A file where a directory is expected: ENOTDIR.
        let f = dir.join("f");
        fs::write(&f, b"f").await.unwrap();
        for err in [
            fs::read_dir(&f).await.unwrap_err(),
            fs::remove_dir(&f).await.unwrap_err(),
            fs::create_dir_all(f.join("sub")).await.unwrap_err(),
            fs::read(f.join("child")).await.unwrap_err(),
        ] {
            assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR), "{err}");
        }
        // Opening a directory read-only succeeds on Linux; reading it fails with EISDIR.
        let mut file = File::open(&d).await.unwrap();
        let mut buf = [0u8; 16];
        let err = file.read(&mut buf).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EISDIR), "{err}");
    });
}

#[test]
fn file_written_in_chunks_read_back_and_seeked() {
    on_runtime("File chunks and seeks", || async {
        let dir = TempDir::new("file");
        let path = dir.join("data");
        const CHUNK: usize = 1000;
        const CHUNKS: usize = 1000;
        let byte = |i: usize| (i % 253) as u8;

        let mut file = File::create(&path).await.unwrap();
        for c in 0..CHUNKS {
            let chunk: Vec<u8> = (c * CHUNK..(c + 1) * CHUNK).map(byte).collect();
            file.write_all(&chunk).await.unwrap();
        }
        file.flush().await.unwrap();
        file.sync_all().await.unwrap();
        file.sync_data().await.unwrap();
        assert_eq!(
            file.metadata().await.unwrap().len(),
            (CHUNK * CHUNKS) as u64
        );
        file.close().await.unwrap();
        drop(file);

        // Read back in chunks of another size.
        let mut file = File::open(&path).await.unwrap();
        let mut all = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = file.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        assert_eq!(all.len(), CHUNK * CHUNKS);
        assert!(all.iter().enumerate().all(|(i, &b)| b == byte(i)));

        // Seeks from the start, the end and the current offset.
        let mut two = [0u8; 2];
        assert_eq!(file.seek(SeekFrom::Start(12_345)).await.unwrap(), 12_345);
        file.read_exact(&mut two).await.unwrap();
        assert_eq!(two, [byte(12_345), byte(12_346)]);
        assert_eq!(file.seek(SeekFrom::Current(-3)).await.unwrap(), 12_344);
        file.read_exact(&mut two).await.unwrap();
        assert_eq!(two, [byte(12_344), byte(12_345)]);
        assert_eq!(file.seek(SeekFrom::Current(100)).await.unwrap(), 12_446);
        let end = (CHUNK * CHUNKS) as u64;
        assert_eq!(file.seek(SeekFrom::End(-2)).await.unwrap(), end - 2);
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).await.unwrap();
        assert_eq!(tail, [byte(CHUNK * CHUNKS - 2), byte(CHUNK * CHUNKS - 1)]);
        assert_eq!(file.read(&mut two).await.unwrap(), 0, "EOF");
        // Seeking before the start is InvalidInput (EINVAL); the offset stays.
        let err = file
            .seek(SeekFrom::Current(-(end as i64) - 1))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), end);

        // A read-only File refuses writes with the OS's error (EBADF), from that write.
        let err = file.write(b"nope").await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");

        // Read-write: overwrite in the middle, then set_len shrinks and grows.
        let mut rw = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .await
            .unwrap();
        rw.seek(SeekFrom::Start(10)).await.unwrap();
        rw.write_all(b"GMP").await.unwrap();
        rw.seek(SeekFrom::Start(8)).await.unwrap();
        let mut five = [0u8; 5];
        rw.read_exact(&mut five).await.unwrap();
        assert_eq!(five, [byte(8), byte(9), b'G', b'M', b'P']);
        rw.set_len(20).await.unwrap();
        assert_eq!(rw.metadata().await.unwrap().len(), 20);
        rw.set_len(30).await.unwrap();
        rw.seek(SeekFrom::Start(18)).await.unwrap();
        let mut rest = Vec::new();
        rw.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, [byte(18), byte(19), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

        // try_clone shares the offset; into_std/from_std keep it.
        let mut clone = rw.try_clone().await.unwrap();
        clone.seek(SeekFrom::Start(11)).await.unwrap();
        assert_eq!(rw.seek(SeekFrom::Current(0)).await.unwrap(), 11);
        let std = rw.into_std().await;
        let mut rw = File::from_std(std);
        let mut one = [0u8; 1];
        rw.read_exact(&mut one).await.unwrap();
        assert_eq!(one, *b"M");
        let std = clone.try_into_std().unwrap();
        assert_eq!(File::from(std).metadata().await.unwrap().len(), 30);

        // Vectored writes.
        let mut v = File::create(dir.join("vec")).await.unwrap();
        let n = v
            .write_vectored(&[std::io::IoSlice::new(b"ab"), std::io::IoSlice::new(b"cd")])
            .await
            .unwrap();
        assert_eq!(n, 4);
        assert_eq!(fs::read(dir.join("vec")).await.unwrap(), b"abcd");
    });
}

#[test]
fn open_options_modes() {
    on_runtime("OpenOptions", || async {
        let dir = TempDir::new("opts");
        let path = dir.join("f");
        // create_new: creates, then AlreadyExists.
        let mut f = File::create_new(&path).await.unwrap();
        f.write_all(b"one").await.unwrap();
        assert_eq!(
            File::create_new(&path).await.unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::AlreadyExists
        );
        // append: every write at the end, whatever the offset.
        let mut a = OpenOptions::new().append(true).open(&path).await.unwrap();
        a.write_all(b" two").await.unwrap();
        a.seek(SeekFrom::Start(0)).await.unwrap();
        a.write_all(b" three").await.unwrap();
        assert_eq!(fs::read_to_string(&path).await.unwrap(), "one two three");
        // truncate.
        let _t = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .await
            .unwrap();
        assert_eq!(fs::metadata(&path).await.unwrap().len(), 0);
        // write without create on a missing file: NotFound; with mode on create.
        let missing = dir.join("missing");
        assert_eq!(
            OpenOptions::new()
                .write(true)
                .open(&missing)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        let _m = OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o600)
            .open(&missing)
            .await
            .unwrap();
        assert_eq!(fs::metadata(&missing).await.unwrap().mode() & 0o777, 0o600);
        // custom_flags: O_NOFOLLOW refuses a symlink (ELOOP).
        let link = dir.join("link");
        fs::symlink(&missing, &link).await.unwrap();
        let err = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&link)
            .await
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
        // From a std OpenOptions, and Default.
        let mut std_opts = std::fs::OpenOptions::new();
        std_opts.read(true);
        assert!(OpenOptions::from(std_opts).open(&path).await.is_ok());
        assert_eq!(
            OpenOptions::default().open(&path).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    });
}

#[test]
fn read_dir_lists_every_entry() {
    on_runtime("read_dir", || async {
        let dir = TempDir::new("readdir");
        // More than one chunk of 32 entries.
        let mut expected: Vec<String> = (0..100).map(|i| format!("file{i:03}")).collect();
        for (i, name) in expected.iter().enumerate() {
            fs::write(dir.join(name), vec![0u8; i]).await.unwrap();
        }
        fs::create_dir(dir.join("subdir")).await.unwrap();
        fs::symlink("file000", dir.join("symlink")).await.unwrap();
        expected.push("subdir".into());
        expected.push("symlink".into());
        expected.sort();

        let mut entries = fs::read_dir(dir.path()).await.unwrap();
        let mut names = Vec::new();
        while let Some(entry) = entries.next_entry().await.unwrap() {
            let name = entry.file_name().into_string().unwrap();
            assert_eq!(entry.path(), dir.join(&name));
            let ft = entry.file_type().await.unwrap();
            let meta = entry.metadata().await.unwrap();
            assert_eq!(entry.ino(), meta.ino());
            match name.as_str() {
                "subdir" => assert!(ft.is_dir() && meta.is_dir()),
                // Not followed: the link itself.
                "symlink" => assert!(ft.is_symlink() && meta.file_type().is_symlink()),
                file => {
                    assert!(ft.is_file());
                    let i: u64 = file["file".len()..].parse().unwrap();
                    assert_eq!(meta.len(), i);
                }
            }
            names.push(name);
        }
        names.sort();
        assert_eq!(names, expected);
        // Exhausted stays exhausted.
        assert!(entries.next_entry().await.unwrap().is_none());

        // poll_next_entry gives the same listing.
        let mut entries = fs::read_dir(dir.path()).await.unwrap();
        let mut n = 0;
        while std::future::poll_fn(|cx| entries.poll_next_entry(cx))
            .await
            .unwrap()
            .is_some()
        {
            n += 1;
        }
        assert_eq!(n, expected.len());

        // An empty directory, a missing one.
        let mut empty = fs::read_dir(dir.join("subdir")).await.unwrap();
        assert!(empty.next_entry().await.unwrap().is_none());
        assert_eq!(
            fs::read_dir(dir.join("none")).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    });
}

#[test]
fn concurrent_reads_of_1000_files_on_2_procs() {
    support::with_deadline(DEADLINE, "1,000 concurrent reads", || {
        let dir = TempDir::new("many");
        let content = |i: usize| format!("file {i}: {}", "x".repeat(i % 97)).into_bytes();
        for i in 0..1000 {
            std::fs::write(dir.join(&format!("{i}")), content(i)).unwrap();
        }
        let rt = gmp::Runtime::builder().procs(2).build().unwrap();
        let root = dir.path().to_path_buf();
        let ok = rt.block_on(async move {
            let handles: Vec<_> = (0..1000)
                .map(|i| {
                    let path = root.join(format!("{i}"));
                    gmp::spawn(async move { fs::read(&path).await.unwrap() == content(i) })
                })
                .collect();
            let mut ok = 0;
            for h in handles {
                ok += h.await.unwrap() as usize;
            }
            ok
        });
        assert_eq!(ok, 1000);
    });
}

/// A call that blocks for real: on a 1-P runtime, a reader blocks in `open` of a FIFO until a
/// writer opens it. The writer is a task queued on the same P, so it runs only because sysmon
/// hands the blocked reader's P to another M.
#[test]
fn blocking_call_hands_its_p_off() {
    support::with_deadline(DEADLINE, "FIFO hand-off", || {
        let dir = TempDir::new("fifo");
        let fifo = dir.join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let rt = gmp::Runtime::builder().procs(1).build().unwrap();
        let got = rt.block_on(rt.spawn(async move {
            let reader = {
                let fifo = fifo.clone();
                gmp::spawn(async move { fs::read_to_string(&fifo).await.unwrap() })
            };
            // Let the reader start and block first.
            gmp::yield_now().await;
            fs::write(&fifo, "through the fifo").await.unwrap();
            reader.await.unwrap()
        }));
        assert_eq!(got.unwrap(), "through the fifo");
    });
}

#[test]
fn fs_from_block_on_and_the_global_runtime() {
    support::with_deadline(DEADLINE, "block_on", || {
        let dir = TempDir::new("blockon");
        let path = dir.join("f");
        // gmp::block_on outside any task (the global runtime's block_on thread).
        gmp::block_on(async {
            fs::write(&path, b"from block_on").await.unwrap();
            let mut f = File::open(&path).await.unwrap();
            let mut s = String::new();
            f.read_to_string(&mut s).await.unwrap();
            assert_eq!(s, "from block_on");
            assert!(fs::read_dir(dir.path())
                .await
                .unwrap()
                .next_entry()
                .await
                .unwrap()
                .is_some());
        });
        // A task on the global runtime.
        let p = path.clone();
        let len = gmp::block_on(gmp::spawn(
            async move { fs::metadata(&p).await.unwrap().len() },
        ))
        .unwrap();
        assert_eq!(len, 13);
        // A Runtime's own block_on.
        let rt = gmp::Runtime::builder().procs(1).build().unwrap();
        rt.block_on(async {
            assert_eq!(fs::read(&path).await.unwrap(), b"from block_on");
        });
    });
}

#[cfg(feature = "tokio-io")]
#[test]
fn tokio_io_traits() {
    on_runtime("tokio-io File", || async {
        let dir = TempDir::new("tokio");
        let path = dir.join("t");
        let mut f = File::create(&path).await.unwrap();
        for i in 0..100u8 {
            tokio::io::AsyncWriteExt::write_all(&mut f, &[i; 100])
                .await
                .unwrap();
        }
        tokio::io::AsyncWriteExt::flush(&mut f).await.unwrap();
        tokio::io::AsyncWriteExt::shutdown(&mut f).await.unwrap();
        drop(f);

        let mut f = File::open(&path).await.unwrap();
        // read_buf into a Vec's uninitialized capacity.
        let mut all = Vec::with_capacity(16);
        while tokio::io::AsyncReadExt::read_buf(&mut f, &mut all)
            .await
            .unwrap()
            > 0
        {
            all.reserve(1000);
        }
        assert_eq!(all.len(), 10_000);
        assert!(all
            .chunks(100)
            .enumerate()
            .all(|(i, c)| c == [i as u8; 100]));

        // Seeks, and stream_position with no seek in flight.
        assert_eq!(
            tokio::io::AsyncSeekExt::seek(&mut f, SeekFrom::Start(5050))
                .await
                .unwrap(),
            5050
        );
        assert_eq!(
            tokio::io::AsyncSeekExt::stream_position(&mut f)
                .await
                .unwrap(),
            5050
        );
        let mut b = [0u8; 1];
        tokio::io::AsyncReadExt::read_exact(&mut f, &mut b)
            .await
            .unwrap();
        assert_eq!(b, [50]);
        assert_eq!(
            tokio::io::AsyncSeekExt::seek(&mut f, SeekFrom::End(-1))
                .await
                .unwrap(),
            9999
        );
        assert_eq!(
            tokio::io::AsyncSeekExt::seek(&mut f, SeekFrom::Current(-20_000))
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
        tokio::io::AsyncSeekExt::rewind(&mut f).await.unwrap();

        // tokio::io::copy from one gmp File to another.
        let mut out = File::create(dir.join("copy")).await.unwrap();
        assert_eq!(tokio::io::copy(&mut f, &mut out).await.unwrap(), 10_000);
        assert_eq!(fs::read(dir.join("copy")).await.unwrap(), all);

        // A failed write reports its error from the write itself (EBADF: read-only File).
        let err = tokio::io::AsyncWriteExt::write(&mut f, b"x")
            .await
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
        tokio::io::AsyncWriteExt::flush(&mut f).await.unwrap();
    });
}

/// What tokio's types are, gmp's are: `File`, `ReadDir`, `DirEntry`, `OpenOptions` are `Send`
/// and `Sync`, and the futures are `Send` (so they can be spawned) when their arguments are.
#[test]
fn types_and_futures_are_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<File>();
    send_sync::<OpenOptions>();
    send_sync::<fs::ReadDir>();
    send_sync::<fs::DirEntry>();
    send(&fs::read("p"));
    send(&fs::write("p", b"x"));
    send(&fs::metadata(PathBuf::from("p")));
    send(&fs::read_dir("p"));
    send(&File::open("p"));
    send(&OpenOptions::new().open("p"));
    send(&fs::copy("a", "b"));
    send(&fs::try_exists("p"));
}
