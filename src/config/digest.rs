//! The configuration digest nats-server prints after `-t` (`... is valid (sha256:<hex>)`)
//! and reports in `/varz` as `config_digest`.
//!
//! nats-server hashes the parsed file, not its text: SHA-256 over Go's `encoding/json`
//! rendering of the parsed map (keys sorted, HTML characters escaped, a trailing newline).
//! Tools compare digests to tell whether two servers run the same configuration, so
//! ringnats renders the same JSON byte for byte. SHA-256 is written out here (FIPS 180-4)
//! rather than pulled in as a crate for these few dozen lines.

use std::fmt::Write as _;

use super::conf::{Map, Value};

/// The digest of a configuration file as nats-server logs it at start-up and reload
/// (`conf.ParseFileWithChecksDigest`); `None` when the file cannot be read or parsed.
pub fn file_digest(path: &std::path::Path) -> Option<String> {
    super::conf::parse_file(path)
        .ok()
        .map(|map| config_digest(&map))
}

/// `sha256:<64 lowercase hex digits>` for a parsed configuration, as nats-server prints it.
pub fn config_digest(map: &Map) -> String {
    let mut json = String::new();
    write_map(&mut json, map);
    // Go's json.Encoder ends every value with a newline, and nats-server hashes it too.
    json.push('\n');
    let mut text = String::from("sha256:");
    for byte in sha256(json.as_bytes()) {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// Go's `encoding/json` rendering of a map: keys sorted bytewise, no spaces.
pub fn write_map(out: &mut String, map: &Map) {
    let mut entries: Vec<(&str, &Value)> =
        map.iter().map(|(key, item)| (key, &item.value)).collect();
    entries.sort_by(|left, right| left.0.as_bytes().cmp(right.0.as_bytes()));
    out.push('{');
    for (index, (key, value)) in entries.into_iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, value);
    }
    out.push('}');
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Bool(value) => out.push_str(if *value { "true" } else { "false" }),
        Value::Integer(value) => {
            let _ = write!(out, "{value}");
        }
        Value::Float(value) => write_float(out, *value),
        // A conf date is always `YYYY-MM-DDTHH:MM:SSZ`, which is also Go's RFC 3339 output.
        Value::String(text) | Value::DateTime(text) => write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, &item.value);
            }
            out.push(']');
        }
        Value::Map(map) => write_map(out, map),
    }
}

/// Go's float encoding: shortest round-trip digits, plain between 1e-6 and 1e21, else
/// exponent form with a sign and no zero padding (`1e+21`, `1.5e-7`).
fn write_float(out: &mut String, value: f64) {
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-6..1e21).contains(&magnitude) {
        let _ = write!(out, "{value}");
        return;
    }
    let exponent_form = format!("{value:e}");
    match exponent_form.split_once('e') {
        Some((mantissa, exponent)) if !exponent.starts_with('-') => {
            let _ = write!(out, "{mantissa}e+{exponent}");
        }
        _ => out.push_str(&exponent_form),
    }
}

/// Go's JSON string escaping with `SetEscapeHTML(true)`, the encoder default.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' | '\u{0}'..='\u{1f}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(character));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

const ROUND_CONSTANTS: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// SHA-256 of a whole message (FIPS 180-4).
pub fn sha256(message: &[u8]) -> [u8; 32] {
    let mut state: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut padded = message.to_vec();
    padded.push(0x80);
    while padded.len() % 64 != 56 {
        padded.push(0);
    }
    padded.extend_from_slice(&((message.len() as u64) * 8).to_be_bytes());
    for block in padded.chunks_exact(64) {
        compress(&mut state, block);
    }
    let mut digest = [0u8; 32];
    for (chunk, word) in digest.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

fn compress(state: &mut [u32; 8], block: &[u8]) {
    let mut schedule = [0u32; 64];
    for (word, bytes) in schedule.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    for index in 16..64 {
        let before = schedule[index - 15];
        let sigma0 = before.rotate_right(7) ^ before.rotate_right(18) ^ (before >> 3);
        let near = schedule[index - 2];
        let sigma1 = near.rotate_right(17) ^ near.rotate_right(19) ^ (near >> 10);
        schedule[index] = schedule[index - 16]
            .wrapping_add(sigma0)
            .wrapping_add(schedule[index - 7])
            .wrapping_add(sigma1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for (constant, word) in ROUND_CONSTANTS.iter().zip(schedule) {
        let sum1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let choose = (e & f) ^ (!e & g);
        let first = h
            .wrapping_add(sum1)
            .wrapping_add(choose)
            .wrapping_add(*constant)
            .wrapping_add(word);
        let sum0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let majority = (a & b) ^ (a & c) ^ (b & c);
        let second = sum0.wrapping_add(majority);
        (h, g, f, e, d, c, b, a) = (
            g,
            f,
            e,
            d.wrapping_add(first),
            c,
            b,
            a,
            first.wrapping_add(second),
        );
    }
    for (word, add) in state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
        *word = word.wrapping_add(add);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn hex(bytes: [u8; 32]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    #[test]
    fn sha256_matches_the_fips_vectors() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
        ];
        for (message, expected) in cases {
            assert_eq!(hex(sha256(message)), *expected);
        }
        let million = vec![b'a'; 1_000_000];
        assert_eq!(
            hex(sha256(&million)),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    #[test]
    fn json_matches_go_encoding() {
        let text =
            "b = [1, 2.5, true]\na = \"<&> \\\"q\\\" \\t\"\nc { z = 1000.0, y = 0.0000001 }\n\
                    d = 2021-02-28T00:00:00Z\ne = 1000000000000000000000.0";
        let map = super::super::conf::parse_str(text, Path::new("x.conf")).unwrap();
        let mut json = String::new();
        write_map(&mut json, &map);
        assert_eq!(
            json,
            "{\"a\":\"\\u003c\\u0026\\u003e \\\"q\\\" \\t\",\"b\":[1,2.5,true],\
             \"c\":{\"y\":1e-7,\"z\":1000},\"d\":\"2021-02-28T00:00:00Z\",\"e\":1e+21}"
        );
    }

    #[test]
    fn digest_matches_nats_server_for_a_one_key_file() {
        // `nats-server -t -c` on a file holding `port = 4567` (2.15.1).
        let map = super::super::conf::parse_str("port = 4567\n", Path::new("a.conf")).unwrap();
        assert_eq!(
            config_digest(&map),
            "sha256:04790c7665ba519766c9122d2540b23730bf83f693ece549f2c2583010937247"
        );
    }
}
