//! Configuration snapshots: the one in force is an `Arc` swapped atomically on reload
//! (readers never lock), loaded from a file whose relative names resolve against the
//! file's folder, and reloaded when the file changes.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;

/// The configuration in force: read lock-free, replaced whole.
#[derive(Debug)]
pub struct Current<T> {
    inner: ArcSwap<T>,
}

impl<T> Current<T> {
    /// Starts with `value`.
    pub fn new(value: T) -> Current<T> {
        Current {
            inner: ArcSwap::from_pointee(value),
        }
    }

    /// The value in force (requests keep the snapshot they started with).
    pub fn get(&self) -> Arc<T> {
        self.inner.load_full()
    }

    /// Installs `value` for every request that starts from now on.
    pub fn set(&self, value: T) {
        self.inner.store(Arc::new(value));
    }
}

/// A configuration file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read `{}`: {source}", path.display())]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}

/// Reads a file named by a configuration (or the configuration itself).
pub fn read(path: &Path) -> Result<Vec<u8>, ReadError> {
    std::fs::read(path).map_err(|source| ReadError {
        path: path.to_owned(),
        source,
    })
}

/// Reads a configuration file as text (invalid UTF-8 replaced, so the parser reports it
/// where it is) and the folder its relative file names resolve against.
pub fn read_text(path: &Path) -> Result<(String, &Path), ReadError> {
    let bytes = read(path)?;
    Ok((String::from_utf8_lossy(&bytes).into_owned(), base_dir(path)))
}

/// The folder relative names in the configuration file `path` resolve against.
pub fn base_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Polls `path` (modification time, size and contents) every `interval` and calls
/// `reload` when it changed. A failed reload keeps the previous configuration (a server
/// only swaps in a configuration that loaded) and is logged. Runs until dropped.
pub async fn watch_file<E: Display>(
    path: PathBuf,
    interval: Duration,
    reload: impl Fn(&Path) -> Result<(), E>,
) {
    let fingerprint = |p: &Path| {
        let m = std::fs::metadata(p).ok()?;
        Some((m.modified().ok()?, m.len(), std::fs::read(p).ok()?))
    };
    let mut last = fingerprint(&path);
    loop {
        tokio::time::sleep(interval).await;
        let now = fingerprint(&path);
        if now.is_none() || now == last {
            continue;
        }
        last = now;
        match reload(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "configuration reloaded"),
            Err(e) => tracing::error!(
                path = %path.display(),
                error = %e,
                "configuration not reloaded; keeping the previous one"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn base_dir_of_a_bare_name_is_the_working_directory() {
        assert_eq!(base_dir(Path::new("sts.yaml")), Path::new("."));
        assert_eq!(
            base_dir(Path::new("/etc/irsa/sts.yaml")),
            Path::new("/etc/irsa")
        );
    }

    #[test]
    fn current_swaps_whole_values() {
        let c = Current::new(1);
        let before = c.get();
        c.set(2);
        assert_eq!((*before, *c.get()), (1, 2), "a reader keeps its snapshot");
    }

    #[tokio::test]
    async fn watch_file_reloads_on_change_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "a").unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (c, s) = (calls.clone(), seen.clone());
        let task = tokio::spawn(watch_file(
            path.clone(),
            Duration::from_millis(20),
            move |p: &Path| -> Result<(), String> {
                c.fetch_add(1, Ordering::SeqCst);
                s.lock().unwrap().push(std::fs::read_to_string(p).unwrap());
                Err("rejected".into())
            },
        ));
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 0, "unchanged file reloaded");
        std::fs::write(&path, "bb").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while calls.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
        task.abort();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "each change reloaded once");
        assert_eq!(seen.lock().unwrap().as_slice(), ["bb"]);
    }
}
