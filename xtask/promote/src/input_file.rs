//! Reading the files we take as inputs from outside (xtask.toml, MATURITY.md, READMEs, issue
//! events, the status history, template overrides): only regular files, opened without
//! blocking, and never more than a cap.
//!
//! A plain `open` of a FIFO waits for a writer forever, and a read of `/dev/zero` never ends:
//! either one turns a command into a hang that only SIGKILL stops. So the file is opened with
//! `O_NONBLOCK` (a FIFO then opens at once), its type is checked on the open descriptor (no
//! race with a rename between a check and the open), and anything but a regular file is a
//! usage error naming it. The read stops one byte past the cap, so a file that grew without
//! bound costs at most that much memory.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, Result};

use crate::errors::usage;

/// xtask.toml: a registry of hundreds of components is tens of kilobytes.
pub const CONFIG_MAX: u64 = 4 * 1024 * 1024;
/// A MATURITY.md or a README: years of history rows stay far below this.
pub const DOCUMENT_MAX: u64 = 4 * 1024 * 1024;
/// A GitHub event payload: GitHub caps webhook payloads at 25 MB and delivers none larger.
pub const EVENT_MAX: u64 = 25 * 1000 * 1000;
/// The status history: one line a week for decades is a few megabytes.
pub const HISTORY_MAX: u64 = 64 * 1024 * 1024;

/// What a non-regular file is, for the message that refuses it.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a folder"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The bytes of the regular file at `path`, `None` when it does not exist. `what` names the
/// file in messages ("MATURITY.md of carbon"). A FIFO, device, socket or folder, or a file
/// over `max` bytes, is a usage error (exit 2) that names it; nothing blocks.
pub fn read(path: &Path, what: &str, max: u64) -> Result<Option<Vec<u8>>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file = match file {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("failed to open {what} {}", path.display()));
        }
    };
    let metadata = file
        .metadata()
        .with_context(|| format!("failed to read {what} {}", path.display()))?;
    if !metadata.is_file() {
        return Err(usage(format!(
            "{what} {} is {}, not a regular file: replace it with a regular file",
            path.display(),
            kind_of(metadata.file_type())
        )));
    }
    let mut bytes = Vec::with_capacity(metadata.len().min(max) as usize);
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .with_context(|| format!("failed to read {what} {}", path.display()))?;
    if bytes.len() as u64 > max {
        return Err(usage(format!(
            "{what} {} is larger than {max} bytes, more than any such file should be: check what it holds",
            path.display()
        )));
    }
    Ok(Some(bytes))
}

/// Like `read`, as UTF-8 text; bytes that are not UTF-8 are a usage error naming the line and
/// column of the first one.
pub fn read_text(path: &Path, what: &str, max: u64) -> Result<Option<String>> {
    let Some(bytes) = read(path, what, max)? else {
        return Ok(None);
    };
    String::from_utf8(bytes).map(Some).map_err(|error| {
        let (line, column) = position(error.as_bytes(), error.utf8_error().valid_up_to());
        usage(format!(
            "{}:{line}:{column}: {what} is not UTF-8 text (a byte that is not UTF-8 here): save it as UTF-8",
            path.display()
        ))
    })
}

/// The 1-based line and column (in characters) of byte `offset` of `bytes`, whose bytes before
/// `offset` are valid UTF-8.
pub fn position(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = before
        .get(line_start..)
        .map_or(0, |rest| String::from_utf8_lossy(rest).chars().count())
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::{exit, exit_code_of};

    #[test]
    fn a_regular_file_is_read_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("MATURITY.md");
        assert!(read(&path, "MATURITY.md", 100).unwrap().is_none());
        std::fs::write(&path, "# T\n").unwrap();
        assert_eq!(read(&path, "MATURITY.md", 100).unwrap().unwrap(), b"# T\n");
        assert_eq!(
            read_text(&path, "MATURITY.md", 4).unwrap().unwrap(),
            "# T\n"
        );
    }

    #[test]
    fn a_fifo_a_device_and_a_folder_are_refused_at_once_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("MATURITY.md");
        let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo on a NUL-terminated path we own.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0);
        // Without O_NONBLOCK this open would wait for a writer forever.
        for (path, kind) in [
            (fifo.as_path(), "a FIFO"),
            (Path::new("/dev/zero"), "a character device"),
            (dir.path(), "a folder"),
        ] {
            let error = read(path, "the event file", 1 << 20).unwrap_err();
            assert_eq!(exit_code_of(&error), exit::USAGE);
            let message = error.to_string();
            assert!(message.contains(kind), "{message}");
            assert!(message.contains(&path.display().to_string()), "{message}");
        }
    }

    #[test]
    fn a_file_over_the_cap_is_refused_without_reading_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("event.json");
        std::fs::write(&path, vec![b'{'; 11]).unwrap();
        assert!(read(&path, "the event file", 11).is_ok());
        let error = read(&path, "the event file", 10).unwrap_err();
        assert_eq!(exit_code_of(&error), exit::USAGE);
        assert!(error.to_string().contains("larger than 10 bytes"));
    }

    #[test]
    fn text_that_is_not_utf8_names_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xtask.toml");
        std::fs::write(&path, b"a = 1\nb = \"\xc3\xa9\xff\"\n").unwrap();
        let error = read_text(&path, "xtask.toml", 100).unwrap_err();
        assert_eq!(exit_code_of(&error), exit::USAGE);
        assert!(
            error
                .to_string()
                .contains("xtask.toml:2:7: xtask.toml is not UTF-8"),
            "{error}"
        );
    }
}
