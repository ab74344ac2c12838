//! The NATS configuration file syntax: parses nats-server's conf format into a tree of
//! values that remember where they came from.
//!
//! The format is nats-server's own (`key = value`, `key: value` or `key value`; maps,
//! arrays, `#` and `//` comments, `include`, `$variables`, sizes like `64KiB`, bare words,
//! `( ... )` raw blocks, JSON). It has no written grammar, only nats-server's lexer, and
//! no published crate reproduces it, so [`lexer`] follows that lexer's decisions byte for
//! byte and [`parser`] its scoping of variables and includes. The aim is that this module
//! accepts exactly the files `nats-server -t -c FILE` accepts, with the same values; the
//! differential test `tests/conf_reference.rs` checks that against the real binary.
//!
//! What a key means (which keys exist, which take a duration) is not decided here; that
//! belongs to the layer that turns this tree into a `Config`. Error messages carry
//! nats-server's exact text (`Display`) plus our own 1-based line and column
//! (`{:#}` prints `file:line:column: message`).

mod duration;
mod lexer;
mod parser;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use duration::parse_duration;
pub use parser::{INCLUDE_DEPTH_MAX, NESTING_DEPTH_MAX};

/// Where a value or key starts: the file and a 1-based line and column (in characters).
/// A value that came from an environment variable points at the `$NAME` reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// The file the text came from (an included file for values it defined).
    pub file: Arc<Path>,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A configuration value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `true/false/yes/no/on/off`, any letter case, unquoted.
    Bool(bool),
    /// A number, size suffixes already applied (`1k` = 1000, `1KiB` = 1024).
    Integer(i64),
    /// `digits.digits`.
    Float(f64),
    /// Quoted, bare, block or address text, escapes already decoded.
    String(String),
    /// A calendar-checked `YYYY-MM-DDTHH:MM:SSZ`, as written.
    DateTime(String),
    /// `[ ... ]`.
    Array(Vec<Item>),
    /// `{ ... }`.
    Map(Map),
}

impl Value {
    /// Points this value, and everything inside it, at one position.
    fn relocate(&mut self, position: &Position) {
        match self {
            Self::Array(items) => {
                for item in items {
                    item.position = position.clone();
                    item.value.relocate(position);
                }
            }
            Self::Map(map) => {
                for entry in &mut map.entries {
                    entry.key_position = position.clone();
                    entry.item.position = position.clone();
                    entry.item.value.relocate(position);
                }
            }
            _ => {}
        }
    }

    /// nats-server's Go type name for this value (for messages like "not int64").
    pub fn go_type_name(&self) -> &'static str {
        match self {
            Self::Bool(_) => "bool",
            Self::Integer(_) => "int64",
            Self::Float(_) => "float64",
            Self::String(_) => "string",
            Self::DateTime(_) => "time.Time",
            Self::Array(_) => "[]interface {}",
            Self::Map(_) => "map[string]interface {}",
        }
    }
}

/// Compact, deterministic rendering: `{a: 1, "b c": ["x", true]}`; for tests and logs.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(value) => write!(f, "{value}"),
            Self::Integer(value) => write!(f, "{value}"),
            Self::Float(value) => write!(f, "{value:?}"),
            Self::String(value) => write!(f, "{value:?}"),
            Self::DateTime(value) => write!(f, "@{value}"),
            Self::Array(items) => {
                f.write_str("[")?;
                for (index, item) in items.iter().enumerate() {
                    let separator = if index == 0 { "" } else { ", " };
                    write!(f, "{separator}{}", item.value)?;
                }
                f.write_str("]")
            }
            Self::Map(map) => write!(f, "{map}"),
        }
    }
}

/// A value and where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The value.
    pub value: Value,
    /// Where the value's text starts (for a map or array: its opening bracket, except
    /// inside an array, where it is just past the closing bracket, as nats-server has it).
    pub position: Position,
    /// True once a `$reference` has read this entry. nats-server skips such keys when it
    /// reports unknown fields, so `PORT = 4222; port = $PORT` is valid.
    pub used_as_variable: bool,
}

impl Item {
    fn new(value: Value, position: Position) -> Self {
        Self {
            value,
            position,
            used_as_variable: false,
        }
    }
}

/// One key of a map.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key as written (quotes removed; no escapes are decoded in keys).
    pub key: String,
    /// Where the key starts; nats-server reports field errors here.
    pub key_position: Position,
    /// The value.
    pub item: Item,
}

/// A map in file order. A repeated key replaces the earlier value (as in nats-server) but
/// keeps the earlier key's place in the order.
#[derive(Clone, Debug, Default)]
pub struct Map {
    /// Entries in the order keys first appeared.
    entries: Vec<Entry>,
    /// Key -> index into `entries`; always covers exactly the entries.
    index: HashMap<String, usize>,
}

impl PartialEq for Map {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Map {
    /// The value under `key` (exact, case-sensitive match).
    pub fn get(&self, key: &str) -> Option<&Item> {
        self.index.get(key).map(|&index| &self.entries[index].item)
    }

    /// The whole entry under `key`, with the key's position.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.index.get(key).map(|&index| &self.entries[index])
    }

    /// Keys and values in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Item)> {
        self.entries
            .iter()
            .map(|entry| (entry.key.as_str(), &entry.item))
    }

    /// Entries in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Takes the entries out, in file order.
    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map has no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Item> {
        let index = *self.index.get(key)?;
        Some(&mut self.entries[index].item)
    }

    fn insert(&mut self, key: String, key_position: Position, item: Item) {
        if let Some(&index) = self.index.get(&key) {
            self.entries[index] = Entry {
                key,
                key_position,
                item,
            };
            return;
        }
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push(Entry {
            key,
            key_position,
            item,
        });
    }

    fn remove(&mut self, key: &str) -> Option<Item> {
        let index = self.index.remove(key)?;
        let entry = self.entries.remove(index);
        for later in self.index.values_mut() {
            if *later > index {
                *later -= 1;
            }
        }
        Some(entry.item)
    }
}

impl fmt::Display for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (index, (key, item)) in self.iter().enumerate() {
            let separator = if index == 0 { "" } else { ", " };
            let plain = !key.is_empty()
                && key
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || character == '_');
            if plain {
                write!(f, "{separator}{key}: {}", item.value)?;
            } else {
                write!(f, "{separator}{key:?}: {}", item.value)?;
            }
        }
        f.write_str("}")
    }
}

/// A file that does not parse. `message` is nats-server's text for the same problem;
/// `line`/`column` are 1-based (0 when the file could not be read at all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfError {
    /// The file the problem is in (an included file when the problem is there).
    pub file: PathBuf,
    /// 1-based line; 0 if the file could not be read.
    pub line: u32,
    /// 1-based column in characters; 0 if the file could not be read.
    pub column: u32,
    /// nats-server's message, e.g. `Parse error on line 2: 'Unexpected EOF.'`.
    pub message: String,
}

/// `{}` prints exactly what nats-server prints after `nats-server: `; `{:#}` prefixes our
/// own `file:line:column: `.
impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfError {}

/// Parses a configuration file. Includes are resolved relative to its directory.
pub fn parse_file(path: &Path) -> Result<Map, ConfError> {
    let display_path = path.as_os_str().as_encoded_bytes();
    let text = parser::read_config(path, display_path)?;
    parse_bytes(&text, path)
}

/// Parses configuration text that came from `origin` (used for relative includes, for
/// positions and in messages; it need not exist if the text includes nothing).
pub fn parse_str(text: &str, origin: &Path) -> Result<Map, ConfError> {
    parse_bytes(text.as_bytes(), origin)
}

fn parse_bytes(text: &[u8], origin: &Path) -> Result<Map, ConfError> {
    let source = parser::Source {
        text,
        display_path: origin.as_os_str().as_encoded_bytes().to_vec(),
        file: Arc::from(origin),
    };
    let mut shared = parser::Shared::new();
    if let Ok(canonical) = std::fs::canonicalize(origin) {
        shared.enter_include(canonical);
    }
    parser::parse_source(&source, &mut shared)
}

#[cfg(test)]
mod tests;
