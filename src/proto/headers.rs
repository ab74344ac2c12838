//! NATS header blocks (`NATS/1.0[ <status>[ <text>]]\r\nKey: Value\r\n...\r\n\r\n`), read
//! and edited the way nats-server does it (`getHeader`, `sliceHeader`,
//! `getHeaderKeyIndex`, `setHeader`, `removeHeaderIfPresent` in its `server/client.go`).
//!
//! nats-server does not parse a header block into a map: it searches the bytes for
//! `\r\n<Key>:`, case-sensitively, takes the value after any spaces up to the next
//! `\r\n`, and rewrites the block in place for edits. JetStream's headers
//! (`Nats-Msg-Id`, `Nats-Expected-*`, `Nats-TTL`, `Nats-Rollup`, ...) are read exactly so;
//! matching it byte for byte keeps odd inputs (a key written in another case, a value
//! with trailing spaces, a duplicate key) behaving as they do in nats-server.

/// The first line of every header block (no status).
pub const HEADER_LINE: &[u8] = b"NATS/1.0\r\n";
/// The version prefix of the first line.
pub const VERSION: &[u8] = b"NATS/1.0";
/// Line terminator.
const CRLF: &[u8] = b"\r\n";

/// The value of the first header `key` in `headers`, without the spaces after the
/// colon and up to (not including) the line's `\r\n`; `None` when absent.
pub fn get<'a>(headers: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let index = key_index(headers, key)?;
    let mut start = index + key.len() + 1;
    while headers.get(start) == Some(&b' ') {
        start += 1;
    }
    let end = memchr::memmem::find(&headers[start..], CRLF).map_or(headers.len(), |i| start + i);
    Some(&headers[start..end])
}

/// Where the first `\r\n<key>:` line starts (the index of the key), as nats-server's
/// `getHeaderKeyIndex` finds it.
fn key_index(headers: &[u8], key: &[u8]) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    let mut offset = 0;
    loop {
        let relative = memchr::memmem::find(&headers[offset..], key)?;
        // nats-server gives up when a match sits less than two bytes past where it
        // resumed searching, even if a real `\r\n<key>:` follows; so does this.
        if relative < 2 {
            return None;
        }
        let index = offset + relative;
        let preceded = &headers[index - 2..index] == CRLF;
        let followed = headers.get(index + key.len()) == Some(&b':');
        if preceded && followed {
            return Some(index);
        }
        if index + key.len() >= headers.len() {
            return None;
        }
        offset = index + key.len();
    }
}

/// The status code and text of the first line (`NATS/1.0 503 No Responders`), if any.
pub fn status(headers: &[u8]) -> Option<(&[u8], &[u8])> {
    let line_end = memchr::memmem::find(headers, CRLF)?;
    let line = headers[..line_end].strip_prefix(VERSION)?;
    let line = line.strip_prefix(b" ")?;
    let (code, text) = match memchr::memchr(b' ', line) {
        Some(space) => (&line[..space], &line[space + 1..]),
        None => (line, &line[line.len()..]),
    };
    (!code.is_empty()).then_some((code, text))
}

/// Removes every `key` line, as nats-server's `removeHeaderIfPresent` does in a loop;
/// returns the new block (`None` when nothing but the first line and the blank line
/// would be left: nats-server then sends no headers at all).
pub fn remove(headers: &[u8], key: &[u8]) -> Option<Vec<u8>> {
    let mut out = headers.to_vec();
    while let Some(index) = key_index(&out, key) {
        let line_start = index - 2;
        let line_end = memchr::memmem::find(&out[index..], CRLF).map_or(out.len(), |i| index + i);
        out.drain(line_start..line_end);
    }
    (out.len() > HEADER_LINE.len() + CRLF.len()).then_some(out)
}

/// Appends `key: value` to a block (or starts one), before its final blank line.
pub fn append(headers: Option<&[u8]>, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = match headers {
        Some(block) if block.ends_with(b"\r\n\r\n") => block[..block.len() - 2].to_vec(),
        Some(block) => block.to_vec(),
        None => HEADER_LINE.to_vec(),
    };
    out.extend_from_slice(key);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &[u8] = b"NATS/1.0\r\nNats-Msg-Id:  abc \r\nX: 1\r\nNats-Msg-Id: second\r\n\r\n";

    #[test]
    fn values_are_found_as_nats_server_finds_them() {
        assert_eq!(
            get(BLOCK, b"Nats-Msg-Id"),
            Some(&b"abc "[..]),
            "first, spaces skipped"
        );
        assert_eq!(get(BLOCK, b"X"), Some(&b"1"[..]));
        assert_eq!(get(BLOCK, b"nats-msg-id"), None, "case-sensitive");
        assert_eq!(get(BLOCK, b"Msg-Id"), None, "only at a line start");
        assert_eq!(
            get(b"NATS/1.0\r\nX-Y: 2\r\n\r\n", b"X"),
            None,
            "a colon must follow"
        );
        assert_eq!(get(b"", b"X"), None);
        // nats-server's quirk: a retry that matches right where it resumed stops.
        assert_eq!(get(b"NATS/1.0\r\nXX: 1\r\nX: 2\r\n\r\n", b"X"), None);
    }

    #[test]
    fn status_lines_are_split() {
        assert_eq!(
            status(b"NATS/1.0 503 No Responders\r\n\r\n"),
            Some((&b"503"[..], &b"No Responders"[..]))
        );
        assert_eq!(
            status(b"NATS/1.0 503\r\n\r\n"),
            Some((&b"503"[..], &b""[..]))
        );
        assert_eq!(status(b"NATS/1.0\r\n\r\n"), None);
    }

    #[test]
    fn remove_and_append_edit_the_block() {
        let removed = remove(BLOCK, b"Nats-Msg-Id").unwrap();
        assert_eq!(removed, b"NATS/1.0\r\nX: 1\r\n\r\n");
        assert_eq!(remove(&removed, b"X"), None, "an empty block goes away");
        assert_eq!(
            append(Some(&removed), b"Nats-Stream", b"S"),
            b"NATS/1.0\r\nX: 1\r\nNats-Stream: S\r\n\r\n"
        );
        assert_eq!(append(None, b"A", b"b"), b"NATS/1.0\r\nA: b\r\n\r\n");
    }
}
