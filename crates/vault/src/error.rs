use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the vault. Messages name the file and line where relevant
/// and never contain key material or plaintext.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "master key ring file {} does not exist; restore it from the backup taken with the database",
        path.display()
    )]
    NotFound { path: PathBuf },

    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(
        "master key ring file {} has permissions {mode:04o}, wider than 0600; \
         run `chmod 600 {}` and try again",
        path.display(),
        path.display()
    )]
    InsecurePermissions { path: PathBuf, mode: u32 },

    #[error("master key ring file {}, line {line}: {reason}", path.display())]
    MalformedFile { path: PathBuf, line: usize, reason: &'static str },

    #[error(
        "master key ring file {}, line {line}: key is {len} bytes long, expected 32",
        path.display()
    )]
    WrongKeyLength { path: PathBuf, line: usize, len: usize },

    #[error(
        "master key ring file {}, line {line}: key id {id} appears more than once",
        path.display()
    )]
    DuplicateKeyId { path: PathBuf, line: usize, id: u32 },

    #[error(
        "master key ring file {} has no `active <key id>` line",
        path.display()
    )]
    MissingActiveLine { path: PathBuf },

    #[error(
        "master key ring file {}: active key {id} is not one of its `key` lines",
        path.display()
    )]
    ActiveKeyMissing { path: PathBuf, id: u32 },

    #[error("key {0} is the active key and cannot be removed; add a new key first")]
    CannotRemoveActiveKey(u32),

    #[error("key {0} is not in the master key ring")]
    UnknownKey(u32),

    #[error("sealed value is malformed: {0}")]
    Malformed(&'static str),

    #[error(
        "sealed value cannot be opened: it was sealed for a different tenant, account or field, \
         or with a different key, or it was altered"
    )]
    WrongKeyOrContext,

    #[error(
        "the master key file does not match this database: key {key_id} cannot open its check \
         value; restore the key ring file that belongs to this database"
    )]
    WrongMasterKey { key_id: u32 },
}
