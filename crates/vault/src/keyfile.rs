//! Reading and writing the key ring file (format in the crate docs).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::Zeroizing;

use crate::ring::{MasterKey, KEY_LEN};
use crate::{KeyRing, VaultError};

const HEADER: &str = "# patchbay master key ring; keep secret, back it up with the database\n";

impl KeyRing {
    /// Reads a key ring file. Refuses a missing file, permissions wider than `0600`,
    /// and any malformed line.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, VaultError> {
        let path = path.as_ref();
        let mut file = File::open(path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                VaultError::NotFound { path: path.into() }
            } else {
                io_error("open", path, source)
            }
        })?;
        let metadata = file.metadata().map_err(|source| io_error("inspect", path, source))?;
        check_permissions(path, &metadata)?;
        // Sized up front so reading never reallocates and leaves stray copies of key material.
        let capacity = usize::try_from(metadata.len()).unwrap_or(0);
        let mut contents = Zeroizing::new(Vec::with_capacity(capacity));
        file.read_to_end(&mut contents).map_err(|source| io_error("read", path, source))?;
        parse(path, &contents)
    }

    /// Writes the ring atomically: a `0600` temporary file in the same directory,
    /// fsynced, then renamed over `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), VaultError> {
        write_atomically(path.as_ref(), self.render().as_bytes(), Replace::Yes).map(drop)
    }

    /// Loads the ring at `path`, or creates a new one (and its parent directory, mode `0700`)
    /// if there is none. Returns `true` when it created the ring. Never overwrites a file that
    /// appears concurrently: that one is loaded instead.
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<(Self, bool), VaultError> {
        let path = path.as_ref();
        match Self::load(path) {
            Err(VaultError::NotFound { .. }) => {}
            loaded => return loaded.map(|ring| (ring, false)),
        }
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            create_dir(dir).map_err(|source| io_error("create directory", dir, source))?;
        }
        let ring = Self::generate();
        match write_atomically(path, ring.render().as_bytes(), Replace::No)? {
            Written::Yes => Ok((ring, true)),
            Written::AlreadyExists => Ok((Self::load(path)?, false)),
        }
    }

    fn render(&self) -> Zeroizing<String> {
        // Reserved up front so the buffer never reallocates and leaves stray copies of keys.
        // A key line is at most "key 4294967295 " + 44 base64 chars + "\n" = 60 bytes.
        let mut out = Zeroizing::new(String::with_capacity(HEADER.len() + 32 + self.keys.len() * 64));
        out.push_str(HEADER);
        out.push_str(&format!("active {}\n", self.active));
        for (id, key) in &self.keys {
            out.push_str(&format!("key {id} "));
            STANDARD.encode_string(key.bytes(), &mut out);
            out.push('\n');
        }
        out
    }
}

fn parse(path: &Path, contents: &[u8]) -> Result<KeyRing, VaultError> {
    let malformed = |line: usize, reason: &'static str| VaultError::MalformedFile { path: path.into(), line, reason };
    let text = std::str::from_utf8(contents).map_err(|err| {
        let line = 1 + contents[..err.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        malformed(line, "not valid UTF-8 text")
    })?;

    let mut active = None;
    let mut keys = BTreeMap::new();
    for (index, line_text) in text.lines().enumerate() {
        let line = index + 1;
        let line_text = line_text.trim();
        if line_text.is_empty() || line_text.starts_with('#') {
            continue;
        }
        let parse_id = |word: &str| {
            word.parse::<u32>().map_err(|_| malformed(line, "key id is not a number from 0 to 4294967295"))
        };
        let words: Vec<&str> = line_text.split_whitespace().collect();
        match words[..] {
            ["active", id] => {
                if active.is_some() {
                    return Err(malformed(line, "second `active` line"));
                }
                active = Some(parse_id(id)?);
            }
            ["key", id, encoded] => {
                let id = parse_id(id)?;
                if keys.contains_key(&id) {
                    return Err(VaultError::DuplicateKeyId { path: path.into(), line, id });
                }
                let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN + 3));
                STANDARD.decode_vec(encoded, &mut bytes).map_err(|_| malformed(line, "key is not valid base64"))?;
                let key = MasterKey::from_bytes(bytes).map_err(|len| VaultError::WrongKeyLength {
                    path: path.into(),
                    line,
                    len,
                })?;
                keys.insert(id, key);
            }
            ["active", ..] => return Err(malformed(line, "expected `active <key id>`")),
            ["key", ..] => return Err(malformed(line, "expected `key <id> <base64 key>`")),
            _ => return Err(malformed(line, "expected `active <key id>` or `key <id> <base64 key>`")),
        }
    }

    let active = active.ok_or_else(|| VaultError::MissingActiveLine { path: path.into() })?;
    if !keys.contains_key(&active) {
        return Err(VaultError::ActiveKeyMissing { path: path.into(), id: active });
    }
    Ok(KeyRing { keys, active })
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> VaultError {
    VaultError::Io { action, path: path.into(), source }
}

#[cfg(unix)]
fn check_permissions(path: &Path, metadata: &fs::Metadata) -> Result<(), VaultError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o177 != 0 {
        return Err(VaultError::InsecurePermissions { path: path.into(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _metadata: &fs::Metadata) -> Result<(), VaultError> {
    Ok(())
}

fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[derive(Clone, Copy)]
enum Replace {
    Yes,
    No,
}

enum Written {
    Yes,
    AlreadyExists,
}

/// Writes `contents` to a fresh `0600` temporary file next to `path`, fsyncs it, then moves it
/// into place: `rename` when replacing, `hard_link` (which fails if `path` exists) otherwise.
fn write_atomically(path: &Path, contents: &[u8], replace: Replace) -> Result<Written, VaultError> {
    let file_name = path
        .file_name()
        .ok_or_else(|| io_error("write", path, io::Error::new(io::ErrorKind::InvalidInput, "path has no file name")))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp_name = OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{:016x}.tmp", OsRng.next_u64()));
    let temp = dir.join(temp_name);

    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temp).map_err(|source| io_error("create temporary file", &temp, source))?;

    let result = write_and_move(&mut file, &temp, path, contents, replace);
    let renamed = matches!((replace, &result), (Replace::Yes, Ok(Written::Yes)));
    if !renamed {
        // Best effort: the temporary file is either a leftover or a second link to `path`.
        let _ = fs::remove_file(&temp);
    }
    let written = result?;
    sync_dir(dir)?;
    Ok(written)
}

fn write_and_move(
    file: &mut File,
    temp: &Path,
    path: &Path,
    contents: &[u8],
    replace: Replace,
) -> Result<Written, VaultError> {
    file.write_all(contents).and_then(|()| file.sync_all()).map_err(|source| io_error("write", temp, source))?;
    match replace {
        Replace::Yes => {
            fs::rename(temp, path).map(|()| Written::Yes).map_err(|source| io_error("replace", path, source))
        }
        Replace::No => match fs::hard_link(temp, path) {
            Ok(()) => Ok(Written::Yes),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(Written::AlreadyExists),
            Err(source) => Err(io_error("create", path, source)),
        },
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), VaultError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|source| io_error("sync directory", dir, source))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), VaultError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretContext;

    const SENTINEL: &str = "sentinel-Pa55w0rd!";

    fn ctx() -> SecretContext<'static> {
        SecretContext { tenant: "acme", account: "genesys-prod", field: "client_secret" }
    }

    fn key_b64(byte: u8) -> String {
        STANDARD.encode([byte; KEY_LEN])
    }

    /// Writes `contents` as a `0600` file and loads it.
    fn load_text(contents: &str) -> (tempfile::TempDir, Result<KeyRing, VaultError>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        write_atomically(&path, contents.as_bytes(), Replace::Yes).unwrap();
        let result = KeyRing::load(&path);
        (dir, result)
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn saved_ring_loads_with_the_same_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let mut ring = KeyRing::generate();
        let old = ring.seal(&ctx(), SENTINEL);
        ring.add_key();
        let new = ring.seal(&ctx(), SENTINEL);
        ring.save(&path).unwrap();

        let loaded = KeyRing::load(&path).unwrap();
        assert_eq!(loaded.active_key_id(), 2);
        assert_eq!(loaded.key_ids(), [1, 2]);
        assert_eq!(loaded.open(&ctx(), &old).unwrap().expose(), SENTINEL);
        assert_eq!(loaded.open(&ctx(), &new).unwrap().expose(), SENTINEL);
    }

    #[test]
    fn saved_file_uses_the_documented_format() {
        let ring = KeyRing {
            keys: BTreeMap::from([
                (1, MasterKey::from_bytes(Zeroizing::new(vec![1; KEY_LEN])).unwrap()),
                (3, MasterKey::from_bytes(Zeroizing::new(vec![3; KEY_LEN])).unwrap()),
            ]),
            active: 3,
        };
        assert_eq!(*ring.render(), format!("{HEADER}active 3\nkey 1 {}\nkey 3 {}\n", key_b64(1), key_b64(3)));
    }

    #[cfg(unix)]
    #[test]
    fn saved_file_is_readable_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        KeyRing::generate().save(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn save_replaces_a_world_readable_file_with_a_private_one() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        KeyRing::generate().save(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        KeyRing::load(&path).unwrap();
    }

    #[test]
    fn save_leaves_no_temporary_files_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let ring = KeyRing::generate();
        ring.save(&path).unwrap();
        ring.save(&path).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|entry| entry.unwrap().file_name()).collect();
        assert_eq!(names, ["keys"]);
    }

    #[cfg(unix)]
    #[test]
    fn load_refuses_a_group_or_world_readable_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        KeyRing::generate().save(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();

        let err = KeyRing::load(&path).unwrap_err();
        assert!(matches!(err, VaultError::InsecurePermissions { mode: 0o644, .. }));
        let message = err.to_string();
        assert!(message.contains("0644"), "{message}");
        assert!(message.contains(&format!("chmod 600 {}", path.display())), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn load_accepts_only_modes_within_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        KeyRing::generate().save(&path).unwrap();
        for (mode, accepted) in
            [(0o600, true), (0o400, true), (0o640, false), (0o604, false), (0o620, false), (0o700, false)]
        {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(KeyRing::load(&path).is_ok(), accepted, "mode {mode:o}");
        }
    }

    #[test]
    fn missing_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope");
        let err = KeyRing::load(&path).unwrap_err();
        assert!(matches!(err, VaultError::NotFound { .. }));
        assert!(err.to_string().contains(&path.display().to_string()));
    }

    #[test]
    fn load_or_create_creates_once_then_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("nested").join("keys");

        let (created, was_created) = KeyRing::load_or_create(&path).unwrap();
        assert!(was_created);
        let sealed = created.seal(&ctx(), SENTINEL);

        let (loaded, was_created) = KeyRing::load_or_create(&path).unwrap();
        assert!(!was_created);
        assert_eq!(loaded.open(&ctx(), &sealed).unwrap().expose(), SENTINEL);
        #[cfg(unix)]
        {
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("state")), 0o700);
        }
    }

    #[test]
    fn creating_without_replace_keeps_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        let original = KeyRing::generate();
        original.save(&path).unwrap();

        let written = write_atomically(&path, b"other", Replace::No).unwrap();
        assert!(matches!(written, Written::AlreadyExists));
        assert_eq!(*fs::read_to_string(&path).unwrap(), *original.render());
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|entry| entry.unwrap().file_name()).collect();
        assert_eq!(names, ["keys"]);
    }

    #[test]
    fn comments_blank_lines_and_extra_whitespace_are_accepted() {
        let text =
            format!("# comment\n\n   active   2  \r\n\tkey 2 {}\r\n# another\nkey 1  {}\n", key_b64(2), key_b64(1));
        let (_dir, ring) = load_text(&text);
        let ring = ring.unwrap();
        assert_eq!(ring.active_key_id(), 2);
        assert_eq!(ring.key_ids(), [1, 2]);
        assert_eq!(ring.keys[&2].bytes(), [2; KEY_LEN]);
    }

    #[test]
    fn malformed_lines_are_reported_by_number() {
        let key = key_b64(1);
        let cases = [
            (format!("active 1\nkey 1 {key}\nbogus\n"), 3),
            (format!("active 1\nkey 1 {key} extra\n"), 2),
            (format!("# c\nactive one\nkey 1 {key}\n"), 2),
            (format!("active 1\nkey -1 {key}\n"), 2),
            (format!("active 1\nactive 1\nkey 1 {key}\n"), 2),
            (format!("active\nkey 1 {key}\n"), 1),
            ("active 1\n\nkey 1 not*base64\n".to_owned(), 3),
            (format!("active 1\nkey 1\n{key}\n"), 2),
        ];
        for (text, expected) in cases {
            let (_dir, result) = load_text(&text);
            match result {
                Err(err @ VaultError::MalformedFile { line, .. }) => {
                    assert_eq!(line, expected, "{text:?}");
                    assert!(err.to_string().contains(&format!("line {expected}:")));
                    assert!(!err.to_string().contains(&key), "{err}");
                }
                other => panic!("{text:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_utf8_is_reported_on_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        write_atomically(&path, b"active 1\n# \xff\n", Replace::Yes).unwrap();
        assert!(matches!(KeyRing::load(&path), Err(VaultError::MalformedFile { line: 2, .. })));
    }

    #[test]
    fn key_of_the_wrong_length_is_refused() {
        let short = STANDARD.encode([7u8; 16]);
        let (_dir, result) = load_text(&format!("active 1\nkey 1 {short}\n"));
        let err = result.unwrap_err();
        assert!(matches!(err, VaultError::WrongKeyLength { line: 2, len: 16, .. }));
        assert!(!err.to_string().contains(&short));
    }

    #[test]
    fn duplicate_key_id_is_refused() {
        let text = format!("active 1\nkey 1 {}\nkey 1 {}\n", key_b64(1), key_b64(2));
        let (_dir, result) = load_text(&text);
        assert!(matches!(result, Err(VaultError::DuplicateKeyId { line: 3, id: 1, .. })));
    }

    #[test]
    fn active_key_must_be_in_the_file() {
        let (_dir, result) = load_text(&format!("active 2\nkey 1 {}\n", key_b64(1)));
        assert!(matches!(result, Err(VaultError::ActiveKeyMissing { id: 2, .. })));
        let (_dir, result) = load_text(&format!("key 1 {}\n", key_b64(1)));
        assert!(matches!(result, Err(VaultError::MissingActiveLine { .. })));
    }
}
