//! The development key file.

use std::io::{ErrorKind, Write};
use std::path::Path;

use zeroize::Zeroizing;

use crate::{Keyring, VaultError};

/// Development key file: reads `path` if it exists (the [`Keyring::parse`] spec format), else
/// generates a key and writes it as `ID:BASE64` with mode 0600 (`create_new`, so a concurrent
/// start never overwrites a key another process just wrote: the loser reads the winner's file).
/// Returns the keyring and whether the file was created. Missing parent directories are created.
pub fn load_or_create_key_file(path: &Path) -> Result<(Keyring, bool), VaultError> {
    match read(path)? {
        Some(ring) => Ok((ring, false)),
        None => create(path),
    }
}

/// The keyring in `path`, or `None` when there is no such file.
fn read(path: &Path) -> Result<Option<Keyring>, VaultError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            Keyring::parse(text.trim()).map(Some).map_err(|e| match e {
                VaultError::MalformedKeySpec(why) => {
                    VaultError::MalformedKeySpec(format!("key file {}: {why}", path.display()))
                }
                other => other,
            })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("cannot read", path, &e)),
    }
}

fn create(path: &Path) -> Result<(Keyring, bool), VaultError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create the folder of", path, &e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            // Another process created it between our read and our create: use its key.
            return match read(path)? {
                Some(ring) => Ok((ring, false)),
                None => Err(io(
                    "cannot read",
                    path,
                    &std::io::Error::from(ErrorKind::NotFound),
                )),
            };
        }
        Err(e) => return Err(io("cannot create", path, &e)),
    };
    let (ring, spec) = Keyring::generate();
    let mut line = Zeroizing::new(String::with_capacity(spec.expose().len() + 1));
    line.push_str(spec.expose());
    line.push('\n');
    let written = file
        .write_all(line.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        // Leave no empty or partial key file behind: the next start would refuse it.
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(io("cannot write", path, &e));
    }
    Ok((ring, true))
}

fn io(what: &str, path: &Path, e: &std::io::Error) -> VaultError {
    VaultError::Io(format!("{what} {}: {e}", path.display()))
}
