//! Many stats of paths outside the project at once, as `std::fs::metadata` answers them: the
//! warm-run record checks thousands (the interpreter's and the tool venv's files, the paths
//! Python's imports probed), most of them eight to twelve folders deep and many in the same
//! folder. Each folder is opened once and its entries are stat'ed relative to it, so the kernel
//! walks each folder's path once instead of once per entry; that was a fifth of a warm run.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::digest_memo::Stat;

/// What a path is, as far as a record's probes ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Folder,
    File,
    /// A FIFO, a socket, a device: there, and never read.
    Other,
}

/// A path's stat, following symbolic links as `std::fs::metadata` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub stat: Stat,
    pub kind: Kind,
}

/// The stat of each of `paths` (in their order), `None` where it cannot be had (absent, not a
/// folder on the way, no permission), exactly where `std::fs::metadata` fails.
pub fn stat_all(paths: &[&Path]) -> Vec<Option<Found>> {
    // One descriptor per folder, opened when first needed and closed with the map; a folder
    // that cannot be opened (absent, not a folder) makes its entries absent too, as a path
    // walk through it would. Any other failure (out of descriptors) falls back to the path.
    let mut folders: HashMap<&Path, Result<OwnedFd, rustix::io::Errno>> = HashMap::new();
    paths
        .iter()
        .map(|path| {
            let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
                return by_path(path);
            };
            if folder.as_os_str().is_empty() || folders.len() > 256 && !folders.contains_key(folder)
            {
                return by_path(path);
            }
            let opened = folders.entry(folder).or_insert_with(|| {
                rustix::fs::openat(
                    rustix::fs::CWD,
                    folder,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
            });
            match opened {
                Ok(fd) => rustix::fs::statat(&*fd, name, AtFlags::empty())
                    .ok()
                    .map(|raw| found(&raw)),
                Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => None,
                Err(_) => by_path(path),
            }
        })
        .collect()
}

fn by_path(path: &Path) -> Option<Found> {
    let metadata = std::fs::metadata(path).ok()?;
    let kind = if metadata.is_dir() {
        Kind::Folder
    } else if metadata.is_file() {
        Kind::File
    } else {
        Kind::Other
    };
    Some(Found {
        stat: Stat::of(&metadata),
        kind,
    })
}

fn found(raw: &rustix::fs::Stat) -> Found {
    let kind = match FileType::from_raw_mode(raw.st_mode) {
        FileType::Directory => Kind::Folder,
        FileType::RegularFile => Kind::File,
        _ => Kind::Other,
    };
    Found {
        stat: Stat {
            dev: raw.st_dev,
            ino: raw.st_ino,
            size: raw.st_size as u64,
            mtime_ns: i128::from(raw.st_mtime) * 1_000_000_000 + i128::from(raw.st_mtime_nsec),
            ctime_ns: i128::from(raw.st_ctime) * 1_000_000_000 + i128::from(raw.st_ctime_nsec),
        },
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of path a record probes gets the answer `std::fs::metadata` gives.
    #[test]
    fn answers_as_a_path_stat_does() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("folder")).unwrap();
        std::fs::write(root.join("folder/file.py"), "x = 1\n").unwrap();
        std::fs::write(root.join("plain"), "").unwrap();
        std::os::unix::fs::symlink(root.join("folder/file.py"), root.join("link")).unwrap();
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();
        std::os::unix::fs::symlink(root.join("folder"), root.join("folder-link")).unwrap();
        let fifo = root.join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let paths = [
            root.join("folder"),
            root.join("folder/file.py"),
            root.join("folder/absent.py"),
            root.join("plain"),
            root.join("plain/under-a-file"),
            root.join("link"),
            root.join("dangling"),
            root.join("folder-link/file.py"),
            root.join("absent-folder/x.py"),
            fifo,
            root.join("folder/.."),
            std::path::PathBuf::from("/"),
            std::path::PathBuf::from("/etc/hostname"),
        ];
        let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        let ours = stat_all(&refs);
        for (path, found) in paths.iter().zip(&ours) {
            assert_eq!(*found, by_path(path), "{}", path.display());
        }
        let kinds: Vec<Option<Kind>> = ours.iter().map(|f| f.map(|f| f.kind)).collect();
        assert_eq!(
            kinds[..10],
            [
                Some(Kind::Folder),
                Some(Kind::File),
                None,
                Some(Kind::File),
                None,
                Some(Kind::File),
                None,
                Some(Kind::File),
                None,
                Some(Kind::Other),
            ]
        );
    }
}
