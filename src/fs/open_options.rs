//! [`OpenOptions`]: how to open a [`File`](super::File).

use super::{retry_eintr, File};
use crate::executor::syscall::blocking;
use std::io;
use std::path::Path;

/// Options for opening a file (tokio's `tokio::fs::OpenOptions`, over
/// [`std::fs::OpenOptions`]): set the modes, then [`open`](OpenOptions::open) a path.
///
/// ```
/// use gmp::fs::OpenOptions;
/// use futures::AsyncWriteExt;
/// # gmp::block_on(async {
/// let path = std::env::temp_dir().join(format!("gmp-append-doc-{}", std::process::id()));
/// gmp::fs::write(&path, "one ").await?;
/// let mut log = OpenOptions::new().append(true).open(&path).await?;
/// log.write_all(b"two").await?;
/// assert_eq!(gmp::fs::read_to_string(&path).await?, "one two");
/// # gmp::fs::remove_file(&path).await?;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions(std::fs::OpenOptions);

impl OpenOptions {
    /// Every mode off: set at least one of `read`, `write` or `append` before opening.
    pub fn new() -> OpenOptions {
        OpenOptions(std::fs::OpenOptions::new())
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.0.read(read);
        self
    }

    /// Open for writing (at the offset, which starts at 0).
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.0.write(write);
        self
    }

    /// Open for appending: every write goes to the end of the file (implies `write`).
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.0.append(append);
        self
    }

    /// Truncate an existing file to 0 bytes (needs `write`).
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.0.truncate(truncate);
        self
    }

    /// Create the file if it does not exist (needs `write` or `append`).
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.0.create(create);
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists (atomically: `O_EXCL`);
    /// `create` and `truncate` are then ignored.
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.0.create_new(create_new);
        self
    }

    /// The permission bits of a file this call creates (before the umask; default `0o666`).
    #[cfg(unix)]
    pub fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::mode(&mut self.0, mode);
        self
    }

    /// Extra `open(2)` flags (`libc::O_NOFOLLOW`, …), or-ed with those the options imply.
    #[cfg(unix)]
    pub fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut self.0, flags);
        self
    }

    /// Open `path` with these options, in a blocking section (`EINTR` retried).
    ///
    /// Errors are the OS's: `NotFound`, `PermissionDenied`, `AlreadyExists` (`create_new`),
    /// `InvalidInput` (no access mode set), `IsADirectory` (writing to a directory), …
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref();
        blocking(|| retry_eintr(|| self.0.open(path)))
            .await
            .map(File::from_std)
    }
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl From<std::fs::OpenOptions> for OpenOptions {
    fn from(options: std::fs::OpenOptions) -> OpenOptions {
        OpenOptions(options)
    }
}
