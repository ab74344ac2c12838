//! JSON as Go's `encoding/json` writes and reads it, where nats-server's monitoring
//! clients can tell the difference.
//!
//! Writing: Go escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings (`"foo.\u003e"`).
//! Every JSON reader decodes both spellings alike, but tools that diff two servers' bytes
//! or grep for `\u003e` see the difference, so every monitoring answer goes through
//! [`escape_like_go`].
//!
//! Reading: a `$SYS` request's payload is an options object that nats-server decodes with
//! `json.Unmarshal` into a struct such as `ConnzEventOptions`. [`GoOptions::decode`]
//! follows the same rules (unknown keys ignored, keys matched case-insensitively when no
//! exact match exists, `null` leaves a field alone) and fails with Go's own error text,
//! so a client sees the same `{"error":{"code":400,...}}` from either server. Syntax
//! errors other than a truncated document are worded by serde_json, not Go's scanner.

use std::collections::BTreeMap;

use serde_json::{Number, Value};

/// Rewrites serialized JSON with Go's HTML-safe escapes. The characters replaced never
/// occur outside strings in JSON, so the bytes can be rewritten without parsing.
pub fn escape_like_go(json: Vec<u8>) -> Vec<u8> {
    let needs_escape = json
        .iter()
        .any(|&byte| matches!(byte, b'<' | b'>' | b'&' | 0xE2));
    if !needs_escape {
        return json;
    }
    let mut out = Vec::with_capacity(json.len() + 16);
    let mut index = 0;
    while index < json.len() {
        let byte = json[index];
        match byte {
            b'<' => out.extend_from_slice(br"\u003c"),
            b'>' => out.extend_from_slice(br"\u003e"),
            b'&' => out.extend_from_slice(br"\u0026"),
            // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
            0xE2 if json.get(index + 1) == Some(&0x80)
                && matches!(json.get(index + 2), Some(0xA8 | 0xA9)) =>
            {
                let last = if json[index + 2] == 0xA8 { b'8' } else { b'9' };
                out.extend_from_slice(br"\u202");
                out.push(last);
                index += 2;
            }
            _ => out.push(byte),
        }
        index += 1;
    }
    out
}

/// Serializes `value` compactly, as Go's `json.Marshal` (HTML escapes included).
pub fn to_vec<T: serde::Serialize>(value: &T) -> Vec<u8> {
    escape_like_go(serde_json::to_vec(value).unwrap_or_default())
}

/// Serializes `value` indented by two spaces, as nats-server's `json.MarshalIndent`.
pub fn to_vec_pretty<T: serde::Serialize>(value: &T) -> Vec<u8> {
    escape_like_go(serde_json::to_vec_pretty(value).unwrap_or_default())
}

/// How a field of a Go options struct decodes, and the Go type its errors name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoType {
    /// `bool`.
    Bool,
    /// A string type, named as Go names it (`string`, `server.SortOpt`).
    String(&'static str),
    /// A signed integer type (`int`, `server.ConnState`, `time.Duration`).
    Int(&'static str),
    /// `uint64`.
    Uint64,
    /// `[]string` (and `jwt.TagList`, which Go reports as `[]string` element errors).
    Strings,
}

/// One field of a Go options struct: its JSON key and type.
pub type GoField = (&'static str, GoType);

/// nats-server's `EventFilterOptions`, embedded in every `$SYS` request's options.
pub const FILTER_FIELDS: &[GoField] = &[
    ("server_name", GoType::String("string")),
    ("cluster", GoType::String("string")),
    ("host", GoType::String("string")),
    ("exact_match", GoType::Bool),
    ("tags", GoType::Strings),
    ("domain", GoType::String("string")),
];

/// The options a request carried, decoded like Go's `json.Unmarshal` into a struct.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct GoOptions {
    /// Decoded values by field key; absent keys (and `null`s) are Go's zero values.
    values: BTreeMap<&'static str, Value>,
}

impl GoOptions {
    /// Decodes `payload` into the struct `struct_name` made of `fields`. Empty payloads
    /// are not decoded at all (nats-server checks `len(msg) != 0` first); the error is
    /// Go's message for the first problem found.
    pub fn decode(
        payload: &[u8],
        struct_name: &str,
        fields: &[&[GoField]],
    ) -> Result<Self, String> {
        let mut options = Self::default();
        if payload.is_empty() {
            return Ok(options);
        }
        let document: Value = serde_json::from_slice(payload).map_err(|error| {
            if error.is_eof() {
                "unexpected end of JSON input".to_string()
            } else {
                error.to_string()
            }
        })?;
        let object = match document {
            Value::Null => return Ok(options),
            Value::Object(object) => object,
            other => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go value of type server.{struct_name}",
                    kind(&other)
                ))
            }
        };
        let mut first_error = None;
        for (key, value) in &object {
            let Some((name, go_type)) = find_field(fields, key) else {
                continue;
            };
            match check(struct_name, key, go_type, value) {
                Ok(Some(value)) => {
                    options.values.insert(name, value);
                }
                Ok(None) => {}
                Err(message) => {
                    first_error.get_or_insert(message);
                }
            }
        }
        match first_error {
            Some(message) => Err(message),
            None => Ok(options),
        }
    }

    /// True when no field was set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// A `bool` field; false when absent.
    pub fn bool(&self, name: &str) -> bool {
        self.values
            .get(name)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// A string field; empty when absent.
    pub fn string(&self, name: &str) -> String {
        self.values
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    /// A signed integer field; 0 when absent.
    pub fn int(&self, name: &str) -> i64 {
        self.values.get(name).and_then(Value::as_i64).unwrap_or(0)
    }

    /// A `uint64` field; 0 when absent.
    pub fn uint(&self, name: &str) -> u64 {
        self.values.get(name).and_then(Value::as_u64).unwrap_or(0)
    }

    /// A `[]string` field; empty when absent.
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.values
            .get(name)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .map(|item| item.as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Go matches a key to a field exactly first, then ignoring ASCII case.
fn find_field(fields: &[&[GoField]], key: &str) -> Option<GoField> {
    let all = || fields.iter().flat_map(|group| group.iter().copied());
    all()
        .find(|(name, _)| *name == key)
        .or_else(|| all().find(|(name, _)| name.eq_ignore_ascii_case(key)))
}

/// Go's name for a JSON value's kind in unmarshal errors.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks one value against its field's type: `Ok(None)` for `null` (left unset).
fn check(
    struct_name: &str,
    key: &str,
    go_type: GoType,
    value: &Value,
) -> Result<Option<Value>, String> {
    if value.is_null() {
        return Ok(None);
    }
    let mismatch = |type_name: &str| {
        format!(
            "json: cannot unmarshal {} into Go struct field {struct_name}.{key} of type {type_name}",
            kind(value)
        )
    };
    let bad_number = |number: &Number, type_name: &str| {
        format!(
            "json: cannot unmarshal number {number} into Go struct field {struct_name}.{key} of type {type_name}"
        )
    };
    match (go_type, value) {
        (GoType::Bool, Value::Bool(_)) | (GoType::String(_), Value::String(_)) => {
            Ok(Some(value.clone()))
        }
        (GoType::Int(type_name), Value::Number(number)) => match number.as_i64() {
            Some(_) => Ok(Some(value.clone())),
            None => Err(bad_number(number, type_name)),
        },
        (GoType::Uint64, Value::Number(number)) => match number.as_u64() {
            Some(_) => Ok(Some(value.clone())),
            None => Err(bad_number(number, "uint64")),
        },
        (GoType::Strings, Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                if !(item.is_string() || item.is_null()) {
                    return Err(format!(
                        "json: cannot unmarshal {} into {struct_name}.{key}.{index} of type string",
                        kind(item)
                    ));
                }
            }
            Ok(Some(value.clone()))
        }
        (GoType::Bool, _) => Err(mismatch("bool")),
        (GoType::String(type_name) | GoType::Int(type_name), _) => Err(mismatch(type_name)),
        (GoType::Uint64, _) => Err(mismatch("uint64")),
        (GoType::Strings, _) => Err(mismatch("[]string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONNZ: &[GoField] = &[
        ("sort", GoType::String("server.SortOpt")),
        ("subscriptions", GoType::Bool),
        ("limit", GoType::Int("int")),
        ("cid", GoType::Uint64),
    ];

    fn decode(payload: &str) -> Result<GoOptions, String> {
        GoOptions::decode(
            payload.as_bytes(),
            "ConnzEventOptions",
            &[CONNZ, FILTER_FIELDS],
        )
    }

    #[test]
    fn escapes_html_characters_like_go() {
        let escaped = escape_like_go(br#"{"s":"a.> & <b>","t":"x\u2028"}"#.to_vec());
        assert_eq!(
            String::from_utf8(escaped).unwrap(),
            r#"{"s":"a.\u003e \u0026 \u003cb\u003e","t":"x\u2028"}"#
        );
        let raw = "{\"t\":\"\u{2028}\u{2029}é\"}".as_bytes().to_vec();
        assert_eq!(
            String::from_utf8(escape_like_go(raw)).unwrap(),
            "{\"t\":\"\\u2028\\u2029é\"}"
        );
    }

    #[test]
    fn decodes_fields_and_ignores_unknown_keys() {
        let options = decode(r#"{"Subscriptions":true,"limit":5,"other":[1],"sort":null}"#);
        let options = options.unwrap();
        assert!(options.bool("subscriptions"));
        assert_eq!(options.int("limit"), 5);
        assert_eq!(options.string("sort"), "");
        assert!(decode("").unwrap().is_empty());
        assert!(decode("null").unwrap().is_empty());
    }

    /// Each message was taken from nats-server 2.15.1's answer to the same payload.
    #[test]
    fn errors_are_gos_words() {
        let cases = [
            (
                r#"{"subscriptions":"x"}"#,
                "json: cannot unmarshal string into Go struct field ConnzEventOptions.subscriptions of type bool",
            ),
            (
                r#"{"Subscriptions":"x"}"#,
                "json: cannot unmarshal string into Go struct field ConnzEventOptions.Subscriptions of type bool",
            ),
            (
                r#"{"sort":1}"#,
                "json: cannot unmarshal number into Go struct field ConnzEventOptions.sort of type server.SortOpt",
            ),
            (
                r#"{"limit":1.5}"#,
                "json: cannot unmarshal number 1.5 into Go struct field ConnzEventOptions.limit of type int",
            ),
            (
                r#"{"cid":-1}"#,
                "json: cannot unmarshal number -1 into Go struct field ConnzEventOptions.cid of type uint64",
            ),
            (
                r#"{"tags":[1]}"#,
                "json: cannot unmarshal number into ConnzEventOptions.tags.0 of type string",
            ),
            (
                r#"{"server_name":5}"#,
                "json: cannot unmarshal number into Go struct field ConnzEventOptions.server_name of type string",
            ),
            (
                r#""str""#,
                "json: cannot unmarshal string into Go value of type server.ConnzEventOptions",
            ),
            (r#"{"a":1"#, "unexpected end of JSON input"),
        ];
        for (payload, expected) in cases {
            assert_eq!(decode(payload).unwrap_err(), expected, "{payload}");
        }
    }
}
