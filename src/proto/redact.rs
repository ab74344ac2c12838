//! Secrets out of trace lines: the CONNECT JSON a `-V` trace shows has its passwords,
//! tokens, nkeys and signatures replaced by `[REDACTED]`, as nats-server's
//! `removeSecretsFromTrace` does (keys `pass…`/`auth_token…` by prefix, `sig`, `nkey`,
//! `proxy_sig` exactly), so a trace log never leaks credentials.

/// Is `key` (a JSON object key) one whose value is a secret?
fn is_secret_key(key: &[u8]) -> bool {
    key.starts_with(b"pass")
        || key.starts_with(b"auth_token")
        || matches!(key, b"sig" | b"nkey" | b"proxy_sig")
}

/// The CONNECT JSON with every secret string value replaced by `[REDACTED]`; other bytes
/// are kept as sent (order, spacing), so the trace still shows what the client said.
pub fn redact_connect(json: &[u8]) -> String {
    let mut out = Vec::with_capacity(json.len());
    let mut at = 0;
    while at < json.len() {
        if json[at] != b'"' {
            out.push(json[at]);
            at += 1;
            continue;
        }
        let end = string_end(json, at);
        let token = &json[at..end];
        out.extend_from_slice(token);
        at = end;
        // A key is a string followed by `:`; redact the string value after a secret key.
        let mut colon = at;
        while colon < json.len() && json[colon].is_ascii_whitespace() {
            colon += 1;
        }
        if colon >= json.len() || json[colon] != b':' {
            continue;
        }
        let key = &token[1..token.len().saturating_sub(1).max(1)];
        let mut value = colon + 1;
        while value < json.len() && json[value].is_ascii_whitespace() {
            value += 1;
        }
        if is_secret_key(key) && value < json.len() && json[value] == b'"' {
            out.extend_from_slice(&json[at..=value]);
            out.extend_from_slice(b"[REDACTED]\"");
            at = string_end(json, value);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The index just past the JSON string starting at `start` (a `"`), escapes skipped;
/// the end of input for an unterminated string.
fn string_end(json: &[u8], start: usize) -> usize {
    let mut at = start + 1;
    while at < json.len() {
        match json[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    json.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        let json = br#"{"verbose":false,"user":"alice","pass":"s\"ecret","auth_token":"t","nkey":"UAB","sig":"xyz","name":"pass"}"#;
        assert_eq!(
            redact_connect(json),
            r#"{"verbose":false,"user":"alice","pass":"[REDACTED]","auth_token":"[REDACTED]","nkey":"[REDACTED]","sig":"[REDACTED]","name":"pass"}"#
        );
        assert_eq!(
            redact_connect(br#"{ "password" : "x" , "proxy_sig":"y"}"#),
            r#"{ "password" : "[REDACTED]" , "proxy_sig":"[REDACTED]"}"#
        );
        assert_eq!(redact_connect(br#"{"pass":"#), r#"{"pass":"#);
    }
}
