//! Turns the lexer's tokens into a [`Map`] tree: converts scalars, resolves `$variables`
//! and splices in `include`d files, the way nats-server's conf parser does.
//!
//! nats-server keeps a stack of open maps and arrays and, separately, a stack of keys
//! waiting for their values. The two stacks can drift apart (`a { b }` leaves `a` waiting
//! while the empty map is stored under `b`; a number with an unknown suffix such as `1kbb`
//! sets nothing and leaves its key waiting), and configuration files that nats-server
//! accepts depend on that, so this parser keeps the same two stacks rather than a tidier
//! recursive descent.

use std::cell::Cell;
use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lexer::{LexError, Lexer, Token, TokenKind};
use super::{ConfError, Item, Map, Position, Value};

/// Open maps and arrays nested deeper than this are refused; nats-server has no limit, but
/// dropping or cloning a tree that deep would overflow the stack.
pub const NESTING_DEPTH_MAX: usize = 1024;
/// Includes nested deeper than this are refused (nats-server recurses until it crashes).
pub const INCLUDE_DEPTH_MAX: usize = 64;

/// The key nats-server parses an environment variable's value under (`pk=<value>`).
const ENVIRONMENT_KEY: &str = "pk";
/// A bare `$2a$...` is a bcrypt hash, not a variable reference.
const BCRYPT_PREFIX: &str = "2a$";

/// One input being parsed and how nats-server names it.
pub(super) struct Source<'a> {
    /// The text.
    pub text: &'a [u8],
    /// The path nats-server would print for this file ("" for an environment value).
    pub display_path: Vec<u8>,
    /// The file positions point into.
    pub file: Arc<Path>,
}

/// State shared by a parse and the parses it starts for includes and environment values.
pub(super) struct Shared {
    /// Environment variables being expanded right now, to catch `A=$B`, `B=$A`.
    environment_references: HashSet<String>,
    /// Canonical paths of the files being included right now, outermost first.
    include_chain: Vec<PathBuf>,
}

impl Shared {
    pub(super) fn new() -> Self {
        Self {
            environment_references: HashSet::new(),
            include_chain: Vec::new(),
        }
    }

    /// Records the top-level file, so a file that includes itself is caught at once.
    pub(super) fn enter_include(&mut self, canonical_path: PathBuf) {
        self.include_chain.push(canonical_path);
    }
}

enum Frame {
    Map(Map, Position),
    Array(Vec<Item>, Position),
}

struct Parser<'a, 's> {
    lexer: Lexer<'a>,
    source: &'a Source<'a>,
    /// Byte offsets of every `\n` in the text, to turn offsets into lines and columns.
    newlines: Vec<usize>,
    /// The last column computed: (line start, offset, characters from line start).
    column_cache: Cell<(usize, usize, usize)>,
    /// Open maps and arrays; the first is the file's top-level map and is never popped.
    frames: Vec<Frame>,
    /// Keys waiting for their value, innermost last.
    keys: Vec<(String, Position)>,
    shared: &'s mut Shared,
}

/// Parses one source into its top-level map.
pub(super) fn parse_source(source: &Source<'_>, shared: &mut Shared) -> Result<Map, ConfError> {
    let position = Position {
        file: source.file.clone(),
        line: 1,
        column: 1,
    };
    let mut parser = Parser {
        lexer: Lexer::new(source.text),
        source,
        newlines: newline_offsets(source.text),
        column_cache: Cell::new((0, 0, 0)),
        frames: vec![Frame::Map(Map::default(), position)],
        keys: Vec::new(),
        shared,
    };
    parser.run()?;
    match parser.frames.swap_remove(0) {
        Frame::Map(map, _) => Ok(map),
        Frame::Array(..) => unreachable!("the bottom frame is always the top-level map"),
    }
}

/// Characters in UTF-8 text: bytes that do not continue a multi-byte character.
fn count_characters(text: &[u8]) -> usize {
    text.iter().filter(|&&byte| byte & 0xc0 != 0x80).count()
}

fn newline_offsets(text: &[u8]) -> Vec<usize> {
    text.iter()
        .enumerate()
        .filter(|(_, byte)| **byte == b'\n')
        .map(|(offset, _)| offset)
        .collect()
}

impl Parser<'_, '_> {
    fn run(&mut self) -> Result<(), ConfError> {
        let mut previous: Option<Token> = None;
        loop {
            let token = self
                .lexer
                .next_token()
                .map_err(|error| self.lex_error(error))?;
            if token.kind == TokenKind::End {
                return self.check_dangling_key(previous.as_ref(), &token);
            }
            self.handle(&token)?;
            previous = Some(token);
        }
    }

    /// nats-server refuses a file whose last token is a key (`port` alone), except a key
    /// spelled `}`.
    fn check_dangling_key(&self, previous: Option<&Token>, end: &Token) -> Result<(), ConfError> {
        let Some(previous) = previous else {
            return Ok(());
        };
        if previous.kind != TokenKind::Key || previous.text == "}" {
            return Ok(());
        }
        let (line, go_column) = self.go_line_column(end.end);
        let message = format!(
            "config is invalid ({}:{line}:{go_column})",
            String::from_utf8_lossy(&self.source.display_path)
        );
        Err(self.error_at(self.position(end.end), message))
    }

    fn handle(&mut self, token: &Token) -> Result<(), ConfError> {
        let position = self.position(token.start);
        let value = match token.kind {
            TokenKind::Key => {
                self.keys.push((token.text.clone(), position));
                return Ok(());
            }
            TokenKind::MapStart => return self.open(Frame::Map(Map::default(), position)),
            TokenKind::ArrayStart => return self.open(Frame::Array(Vec::new(), position)),
            TokenKind::MapEnd | TokenKind::ArrayEnd => return self.close(token),
            TokenKind::Include => return self.include(token),
            TokenKind::Comment | TokenKind::End => return Ok(()),
            TokenKind::Variable => self.variable(token, &position)?,
            TokenKind::String => Value::String(token.text.clone()),
            TokenKind::Bool => Value::Bool(parse_bool(&token.text)),
            TokenKind::Integer => match self.integer(token, &position)? {
                Some(value) => value,
                // An unknown size suffix sets nothing, as in nats-server.
                None => return Ok(()),
            },
            TokenKind::Float => self.float(token, &position)?,
            TokenKind::DateTime => self.date_time(token, &position)?,
        };
        self.set_value(Item::new(value, position))
    }

    fn open(&mut self, frame: Frame) -> Result<(), ConfError> {
        if self.frames.len() > NESTING_DEPTH_MAX {
            let position = match &frame {
                Frame::Map(_, position) | Frame::Array(_, position) => position.clone(),
            };
            let message = format!("maps and arrays nested deeper than {NESTING_DEPTH_MAX}");
            return Err(self.error_at(position, message));
        }
        self.frames.push(frame);
        Ok(())
    }

    fn close(&mut self, end: &Token) -> Result<(), ConfError> {
        // The lexer only closes what it opened, so the top-level map is never popped.
        debug_assert!(self.frames.len() > 1);
        let mut item = match self.frames.pop() {
            Some(Frame::Map(map, position)) => Item::new(Value::Map(map), position),
            Some(Frame::Array(items, position)) => Item::new(Value::Array(items), position),
            None => unreachable!("frames always hold the top-level map"),
        };
        // nats-server gives a map or array the position of the token that closed it, just
        // past the bracket; under a key that is replaced by the key's, but an element of
        // an array keeps it, and config errors about the element point there.
        if matches!(self.frames.last(), Some(Frame::Array(..))) {
            item.position = self.position(end.start + 1);
        }
        self.set_value(item)
    }

    /// Stores a finished value into the innermost open map (under the innermost waiting
    /// key) or array.
    fn set_value(&mut self, item: Item) -> Result<(), ConfError> {
        match self.frames.last_mut() {
            Some(Frame::Array(items, _)) => {
                items.push(item);
                Ok(())
            }
            Some(Frame::Map(map, _)) => match self.keys.pop() {
                Some((key, key_position)) => {
                    map.insert(key, key_position, item);
                    Ok(())
                }
                None => {
                    let position = item.position.clone();
                    Err(self.error_at(position, "BUG in parser, keys stack empty".to_string()))
                }
            },
            None => unreachable!("frames always hold the top-level map"),
        }
    }

    // ---- scalars -------------------------------------------------------------------------

    /// An integer with an optional size suffix; `None` for a suffix nats-server ignores.
    fn integer(&self, token: &Token, position: &Position) -> Result<Option<Value>, ConfError> {
        let text = &token.text;
        let digits_end = text
            .find(|character: char| !character.is_ascii_digit() && character != '-')
            .unwrap_or(text.len());
        let number: i64 =
            text[..digits_end]
                .parse()
                .map_err(|error: std::num::ParseIntError| {
                    let message = match error.kind() {
                        std::num::IntErrorKind::PosOverflow
                        | std::num::IntErrorKind::NegOverflow => {
                            format!("integer '{text}' is out of the range")
                        }
                        _ => format!("expected integer, but got '{text}'"),
                    };
                    self.error_at(position.clone(), message)
                })?;
        let suffix = text[digits_end..].trim().to_ascii_lowercase();
        Ok(size_multiplier(&suffix)
            .map(|multiplier| Value::Integer(number.wrapping_mul(multiplier))))
    }

    fn float(&self, token: &Token, position: &Position) -> Result<Value, ConfError> {
        let text = &token.text;
        match text.parse::<f64>() {
            Ok(number) if number.is_finite() => Ok(Value::Float(number)),
            Ok(_) => Err(self.error_at(
                position.clone(),
                format!("float '{text}' is out of the range"),
            )),
            Err(_) => Err(self.error_at(
                position.clone(),
                format!("expected float, but got '{text}'"),
            )),
        }
    }

    fn date_time(&self, token: &Token, position: &Position) -> Result<Value, ConfError> {
        if is_valid_zulu_date_time(&token.text) {
            return Ok(Value::DateTime(token.text.clone()));
        }
        let message = format!("expected Zulu formatted DateTime, but got '{}'", token.text);
        Err(self.error_at(position.clone(), message))
    }

    // ---- variables -----------------------------------------------------------------------

    fn variable(&mut self, token: &Token, position: &Position) -> Result<Value, ConfError> {
        let name = &token.text;
        let go_line = self.go_line_column(token.end).0;
        match self.lookup_variable(name, position) {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(self.error_at(
                position.clone(),
                format!("variable reference for '{name}' on line {go_line} can not be found"),
            )),
            Err(mut error) => {
                error.message = format!(
                    "variable reference for '{name}' on line {go_line} could not be parsed: {}",
                    error.message
                );
                Err(error)
            }
        }
    }

    /// Open maps from the innermost outwards (arrays are skipped), then the environment.
    /// A variable defined in a map is marked used, so unknown-key checks can skip it.
    fn lookup_variable(
        &mut self,
        name: &str,
        position: &Position,
    ) -> Result<Option<Value>, ConfError> {
        if name.starts_with(BCRYPT_PREFIX) {
            return Ok(Some(Value::String(format!("${name}"))));
        }
        for frame in self.frames.iter_mut().rev() {
            if let Frame::Map(map, _) = frame {
                if let Some(item) = map.get_mut(name) {
                    item.used_as_variable = true;
                    return Ok(Some(item.value.clone()));
                }
            }
        }
        self.lookup_environment(name, position)
    }

    /// An environment value is parsed as `pk=<value>`, so `1k` is a number and `{a=1}` a
    /// map; it can reference other environment variables but not the file's.
    fn lookup_environment(
        &mut self,
        name: &str,
        position: &Position,
    ) -> Result<Option<Value>, ConfError> {
        if self.shared.environment_references.contains(name) {
            let message = format!("variable reference cycle for '{name}'");
            return Err(self.error_at(position.clone(), message));
        }
        let Some(raw) = environment_value(name) else {
            return Ok(None);
        };
        let mut text = format!("{ENVIRONMENT_KEY}=").into_bytes();
        text.extend_from_slice(&raw);
        let source = Source {
            text: &text,
            display_path: Vec::new(),
            file: self.source.file.clone(),
        };
        self.shared.environment_references.insert(name.to_string());
        let parsed = parse_source(&source, self.shared);
        self.shared.environment_references.remove(name);
        match parsed {
            Ok(mut map) => Ok(map.remove(ENVIRONMENT_KEY).map(|item| {
                let mut value = item.value;
                value.relocate(position);
                value
            })),
            // The text is not in any file: point at the reference instead.
            Err(error) => Err(self.error_at(position.clone(), error.message)),
        }
    }

    // ---- includes ------------------------------------------------------------------------

    /// Parses the named file (relative to this file's directory, even when it starts with
    /// `/`) and stores each of its top-level keys into the innermost open map.
    fn include(&mut self, token: &Token) -> Result<(), ConfError> {
        let position = self.position(token.start);
        let display_path = go_join(&go_dir(&self.source.display_path), token.text.as_bytes());
        let included = self
            .parse_included(&display_path, &position)
            .map_err(|mut error| {
                error.message = format!(
                    "error parsing include file '{}', {}",
                    token.text, error.message
                );
                error
            })?;
        for entry in included.into_entries() {
            self.keys.push((entry.key, entry.key_position));
            self.set_value(entry.item)?;
        }
        Ok(())
    }

    fn parse_included(
        &mut self,
        display_path: &[u8],
        position: &Position,
    ) -> Result<Map, ConfError> {
        let path = PathBuf::from(OsString::from_vec(display_path.to_vec()));
        let text = read_config(&path, display_path).map_err(|error| {
            // Point at the `include` line rather than at a file that is not there.
            self.error_at(position.clone(), error.message)
        })?;
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self.shared.include_chain.contains(&canonical)
            || self.shared.include_chain.len() >= INCLUDE_DEPTH_MAX
        {
            let message = format!(
                "include cycle or includes nested deeper than {INCLUDE_DEPTH_MAX} at '{}'",
                path.display()
            );
            return Err(self.error_at(position.clone(), message));
        }
        let source = Source {
            text: &text,
            display_path: display_path.to_vec(),
            file: Arc::from(path.as_path()),
        };
        self.shared.include_chain.push(canonical);
        let parsed = parse_source(&source, self.shared);
        self.shared.include_chain.pop();
        parsed
    }

    // ---- positions and errors ------------------------------------------------------------

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.source.text.len());
        let line_index = self.newlines.partition_point(|&newline| newline < offset);
        let line_start = match line_index {
            0 => 0,
            index => self.newlines[index - 1] + 1,
        };
        // Tokens arrive in order, so count on from the last position on the same line;
        // recounting from the line start would be quadratic on one-line JSON files.
        let (cached_line_start, cached_offset, cached_characters) = self.column_cache.get();
        let (from, characters_before) =
            if cached_line_start == line_start && cached_offset <= offset {
                (cached_offset, cached_characters)
            } else {
                (line_start, 0)
            };
        let characters = characters_before + count_characters(&self.source.text[from..offset]);
        self.column_cache.set((line_start, offset, characters));
        Position {
            file: self.source.file.clone(),
            line: saturate(line_index + 1),
            column: saturate(characters + 1),
        }
    }

    /// The line and column nats-server prints: its column counts from the last new line
    /// character itself, so it is 0-based on the first line and 1-based after.
    fn go_line_column(&self, offset: usize) -> (usize, usize) {
        let line_index = self.newlines.partition_point(|&newline| newline < offset);
        let column = match line_index {
            0 => offset,
            index => offset - self.newlines[index - 1],
        };
        (line_index + 1, column)
    }

    fn lex_error(&self, error: LexError) -> ConfError {
        let position = self.position(error.character_offset);
        let go_line = self.go_line_column(error.stop_offset).0;
        let message = format!("Parse error on line {go_line}: '{}'", error.message);
        self.error_at(position, message)
    }

    fn error_at(&self, position: Position, message: String) -> ConfError {
        ConfError {
            file: position.file.to_path_buf(),
            line: position.line,
            column: position.column,
            message,
        }
    }
}

fn saturate(number: usize) -> u32 {
    u32::try_from(number).unwrap_or(u32::MAX)
}

fn parse_bool(text: &str) -> bool {
    ["true", "yes", "on"]
        .iter()
        .any(|word| super::lexer::is_word_ignoring_case(text.as_bytes(), word))
}

/// The multiplier for a size suffix, per nats-server: single letters are powers of 1000,
/// `kb`/`ki`/`kib` and friends powers of 1024. Products wrap on overflow as Go's do.
pub(super) fn size_multiplier(suffix: &str) -> Option<i64> {
    let (letter, binary) = match suffix.as_bytes() {
        [] => return Some(1),
        [letter] => (*letter, false),
        [letter, b'b' | b'i'] | [letter, b'i', b'b'] => (*letter, true),
        _ => return None,
    };
    let exponent = match letter {
        b'k' => 1,
        b'm' => 2,
        b'g' => 3,
        b't' => 4,
        b'p' => 5,
        b'e' => 6,
        _ => return None,
    };
    let base: i64 = if binary { 1024 } else { 1000 };
    Some(base.pow(exponent))
}

/// `YYYY-MM-DDTHH:MM:SSZ` with a real calendar date and time, as Go's `time.Parse` checks.
fn is_valid_zulu_date_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 20 {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> u32 { text[range].parse().unwrap_or(u32::MAX) };
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    let (hour, minute, second) = (number(11..13), number(14..16), number(17..19));
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=month_days).contains(&day) && hour < 24 && minute < 60 && second < 60
}

fn environment_value(name: &str) -> Option<Vec<u8>> {
    // `var_os` rejects names the C environment cannot hold (empty, `=` or NUL inside).
    if name.is_empty() || name.contains(['=', '\0']) {
        return None;
    }
    std::env::var_os(name).map(|value| value.as_bytes().to_vec())
}

/// Reads a configuration file; errors read like Go's (`open x.conf: no such file or
/// directory`).
pub(super) fn read_config(path: &Path, display_path: &[u8]) -> Result<Vec<u8>, ConfError> {
    std::fs::read(path).map_err(|error| {
        let verb = if path.is_dir() { "read" } else { "open" };
        ConfError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!(
                "{verb} {}: {}",
                String::from_utf8_lossy(display_path),
                go_io_error_text(&error)
            ),
        }
    })
}

/// Go prints the C library's error text in lower case and without Rust's "(os error N)".
fn go_io_error_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error") {
        Some(end) => &text[..end],
        None => &text,
    };
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_lowercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// Go's `filepath.Dir`: everything before the last `/`, cleaned; "." when there is none.
fn go_dir(path: &[u8]) -> Vec<u8> {
    match path.iter().rposition(|&byte| byte == b'/') {
        Some(slash) => go_clean(&path[..=slash]),
        None => b".".to_vec(),
    }
}

/// Go's `filepath.Join` of two parts: joined with `/` and cleaned, so an absolute second
/// part stays under the first (nats-server's `include /x.conf` is relative too).
fn go_join(directory: &[u8], name: &[u8]) -> Vec<u8> {
    if directory.is_empty() && name.is_empty() {
        return Vec::new();
    }
    if directory.is_empty() {
        return go_clean(name);
    }
    let mut joined = directory.to_vec();
    joined.push(b'/');
    joined.extend_from_slice(name);
    go_clean(&joined)
}

/// Go's `filepath.Clean`: lexical removal of `.`, `..` and repeated slashes.
fn go_clean(path: &[u8]) -> Vec<u8> {
    let rooted = path.first() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&byte| byte == b'/') {
        match part {
            b"" | b"." => {}
            b".." => match parts.last() {
                Some(last) if *last != b".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(part),
            },
            _ => parts.push(part),
        }
    }
    let mut cleaned = Vec::new();
    if rooted {
        cleaned.push(b'/');
    }
    cleaned.extend_from_slice(&parts.join(&b'/'));
    if cleaned.is_empty() {
        cleaned.push(b'.');
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_path_functions_match_go() {
        assert_eq!(go_dir(b"t.conf"), b".");
        assert_eq!(go_dir(b""), b".");
        assert_eq!(go_dir(b"/a/b.conf"), b"/a");
        assert_eq!(go_dir(b"/b.conf"), b"/");
        assert_eq!(go_dir(b"a//b/../c/d.conf"), b"a/c");
        assert_eq!(go_join(b".", b"x.conf"), b"x.conf");
        assert_eq!(go_join(b"/etc/nats", b"/abs.conf"), b"/etc/nats/abs.conf");
        assert_eq!(go_join(b"dir", b"../up.conf"), b"up.conf");
        assert_eq!(go_join(b"..", b"../x"), b"../../x");
        assert_eq!(go_clean(b"/../x"), b"/x");
    }

    #[test]
    fn size_suffixes() {
        assert_eq!(size_multiplier(""), Some(1));
        assert_eq!(size_multiplier("k"), Some(1000));
        assert_eq!(size_multiplier("kb"), Some(1024));
        assert_eq!(size_multiplier("ki"), Some(1024));
        assert_eq!(size_multiplier("kib"), Some(1024));
        assert_eq!(size_multiplier("e"), Some(1_000_000_000_000_000_000));
        assert_eq!(size_multiplier("eib"), Some(1 << 60));
        assert_eq!(size_multiplier("kbb"), None);
        assert_eq!(size_multiplier("kii"), None);
        assert_eq!(size_multiplier("x"), None);
    }

    #[test]
    fn date_time_calendar() {
        assert!(is_valid_zulu_date_time("2020-02-29T23:59:59Z"));
        assert!(is_valid_zulu_date_time("2000-02-29T00:00:00Z"));
        assert!(!is_valid_zulu_date_time("1900-02-29T00:00:00Z"));
        assert!(!is_valid_zulu_date_time("2021-02-29T00:00:00Z"));
        assert!(!is_valid_zulu_date_time("2021-13-01T00:00:00Z"));
        assert!(!is_valid_zulu_date_time("2021-00-01T00:00:00Z"));
        assert!(!is_valid_zulu_date_time("2021-01-01T24:00:00Z"));
        assert!(!is_valid_zulu_date_time("2021-01-01T00:60:00Z"));
        assert!(!is_valid_zulu_date_time("2021-01-01T00:00:60Z"));
    }
}
