//! An account's `exports` and `imports` lists, read the way nats-server 2.15.1's
//! `parseAccountExports`, `parseExportStreamOrService`, `parseAccountImports` and
//! `parseImportStreamOrService` read them: each entry is a stream or a service, and the
//! other keys (`accounts`, `response_type`, `prefix`, `to`, ...) apply to whichever of
//! the two was read before or after them, with nats-server's texts when they do not fit.
//! Whether imports match exports is decided later, in [`super::account_links`].

use std::time::Duration;

use super::accounts::{go_quoted_value, non_empty};
use super::auth::{
    not_yet, unknown_field, want_array, want_bool, want_integer, want_string, Panicked,
};
use super::conf::{Item, Map, Position, Value};
use super::file::{go_quote, Loader};
use crate::auth::{Export, ExportKind, Import, ResponseType};

/// nats-server's `parseAccountImports`: a list of import entries; a service may be
/// imported under one local subject once per exporting account.
pub(super) fn parse_imports(
    loader: &mut Loader,
    at: &Position,
    item: &Item,
) -> Option<Vec<Import>> {
    let Value::Array(elements) = &item.value else {
        let text = format!(
            "Imports should be an array, got {}",
            item.value.go_type_name()
        );
        loader.error_at(Some(at), text);
        return None;
    };
    let mut imports: Vec<Import> = Vec::new();
    for element in elements {
        let Ok(Some(import)) = parse_import(loader, element) else {
            continue;
        };
        if import.kind == ExportKind::Service {
            let duplicate = imports.iter().find(|earlier| {
                earlier.kind == ExportKind::Service
                    && earlier.to == import.to
                    && earlier.account == import.account
            });
            if let Some(earlier) = duplicate {
                let text = format!(
                    "Duplicate service import subject {}, previously used in import for \
                     account {}, subject {}",
                    go_quote(import.to.as_deref().unwrap_or_default()),
                    go_quote(&earlier.account),
                    go_quote(&earlier.subject)
                );
                loader.error_at(Some(&element.position), text);
                continue;
            }
        }
        imports.push(import);
    }
    Some(imports)
}

/// The keys of one import as nats-server reads them, in order: `to` and `prefix` apply
/// to the stream or service read before or after them.
#[derive(Default)]
struct ImportEntry {
    /// The `stream` read so far (at most one of `stream` and `service` is set).
    stream: Option<Import>,
    /// The `service` read so far.
    service: Option<Import>,
    /// `prefix`, for a stream read after it; empty when not given.
    prefix: String,
    /// `to`, for a stream or service read after it; empty when not given.
    to: String,
    /// `share`, for a service read after it.
    share: bool,
    /// Where `allow_trace` was, once read.
    trace_position: Option<Position>,
}

/// nats-server's `parseImportStreamOrService`. `Ok(None)`: nothing to import (any
/// error is recorded).
fn parse_import(loader: &mut Loader, element: &Item) -> Result<Option<Import>, Panicked> {
    let Value::Map(map) = &element.value else {
        let text = format!(
            "Import Items should be a map with type entry, got {}",
            element.value.go_type_name()
        );
        loader.error_at(Some(&element.position), text);
        return Ok(None);
    };
    let mut entry = ImportEntry::default();
    for field in map.entries() {
        let (at, value) = (&field.key_position, &field.item);
        match field.key.to_ascii_lowercase().as_str() {
            "stream" => import_stream(loader, at, value, &mut entry),
            "service" => import_service(loader, at, value, &mut entry),
            "prefix" => {
                entry.prefix = want_string(loader, at, value)?.to_string();
                if let Some(stream) = &mut entry.stream {
                    stream.prefix = non_empty(&entry.prefix);
                }
            }
            "to" => {
                entry.to = want_string(loader, at, value)?.to_string();
                if let Some(service) = &mut entry.service {
                    service.to = Some(entry.to.clone());
                }
                if let Some(stream) = &mut entry.stream {
                    stream.to = non_empty(&entry.to);
                    if stream.prefix.is_some() {
                        let text = "Stream import can not have a 'prefix' and a 'to' property";
                        loader.error_at(Some(at), text.into());
                    }
                }
            }
            "share" => {
                entry.share = want_bool(loader, at, value)?;
                if let Some(service) = &mut entry.service {
                    service.share = entry.share;
                }
            }
            "allow_trace" => {
                if entry.service.is_some() {
                    let text = "Detected allow_trace directive on a non-stream".into();
                    loader.error_at(Some(at), text);
                    continue;
                }
                let allow = want_bool(loader, at, value)?;
                entry.trace_position = Some(at.clone());
                if allow {
                    loader.error_at(Some(at), not_yet("message tracing (allow_trace)"));
                }
            }
            _ => unknown_field(loader, &field.key, at, value),
        }
    }
    Ok(entry.stream.or(entry.service))
}

fn import_stream(loader: &mut Loader, at: &Position, value: &Item, entry: &mut ImportEntry) {
    if entry.service.is_some() {
        let text = "Detected stream but already saw a service".into();
        return loader.error_at(Some(at), text);
    }
    let Some((account, subject)) = import_source(loader, at, value, "Stream") else {
        return;
    };
    entry.stream = Some(Import {
        kind: ExportKind::Stream,
        account,
        subject,
        prefix: non_empty(&entry.prefix),
        to: non_empty(&entry.to),
        share: false,
    });
}

fn import_service(loader: &mut Loader, at: &Position, value: &Item, entry: &mut ImportEntry) {
    if entry.stream.is_some() {
        let text = "Detected service but already saw a stream".into();
        return loader.error_at(Some(at), text);
    }
    if let Some(trace_at) = &entry.trace_position {
        let text = "Detected allow_trace directive on a non-stream".into();
        return loader.error_at(Some(trace_at), text);
    }
    let Some((account, subject)) = import_source(loader, at, value, "Service") else {
        return;
    };
    let to = if entry.to.is_empty() {
        subject.clone()
    } else {
        entry.to.clone()
    };
    entry.service = Some(Import {
        kind: ExportKind::Service,
        account,
        subject,
        prefix: None,
        to: Some(to),
        share: entry.share,
    });
}

/// `{account: A, subject: s}` of a stream or service import (`what` is `Stream` or
/// `Service`); `None` after recording why it is unusable.
fn import_source(
    loader: &mut Loader,
    at: &Position,
    value: &Item,
    what: &str,
) -> Option<(String, String)> {
    let Value::Map(map) = &value.value else {
        let text = format!(
            "{what} entry should be an account map, got {}",
            value.value.go_type_name()
        );
        loader.error_at(Some(at), text);
        return None;
    };
    // nats-server's parseAccount returns empty strings after a recovered panic.
    let (account, subject) = import_account(loader, map).unwrap_or_default();
    if account.is_empty() || subject.is_empty() {
        loader.error_at(Some(at), "Expect an account name and a subject".into());
        return None;
    }
    Some((account, subject))
}

/// nats-server's `parseAccount`: exactly `account` and `subject`.
fn import_account(loader: &mut Loader, map: &Map) -> Result<(String, String), Panicked> {
    let (mut account, mut subject) = (String::new(), String::new());
    for field in map.entries() {
        let (at, value) = (&field.key_position, &field.item);
        match field.key.to_ascii_lowercase().as_str() {
            "account" => account = want_string(loader, at, value)?.to_string(),
            "subject" => subject = want_string(loader, at, value)?.to_string(),
            _ => unknown_field(loader, &field.key, at, value),
        }
    }
    Ok((account, subject))
}

// ---- exports ---------------------------------------------------------------------------

/// nats-server's `parseAccountExports`.
pub(super) fn parse_exports(
    loader: &mut Loader,
    at: &Position,
    item: &Item,
) -> Option<Vec<Export>> {
    let Value::Array(elements) = &item.value else {
        let text = format!(
            "Exports should be an array, got {}",
            item.value.go_type_name()
        );
        loader.error_at(Some(at), text);
        return None;
    };
    let exports = elements
        .iter()
        .filter_map(|element| parse_export(loader, element).ok().flatten())
        .collect();
    Some(exports)
}

/// The keys of one export as nats-server reads them.
#[derive(Default)]
struct ExportEntry {
    /// The `stream` read so far (at most one of `stream` and `service` is set).
    stream: Option<Export>,
    /// The `service` read so far.
    service: Option<Export>,
    /// `accounts`, for an export read after it; `None` = public.
    accounts: Option<Vec<String>>,
    /// `response_type`, for a service read after it.
    response_type: Option<ResponseType>,
    /// Where `response_type` was, once read (even if its value was bad).
    response_position: Option<Position>,
    /// `threshold`, for a service read after it.
    threshold: Option<Duration>,
    /// True once a threshold key was read (even if its value was bad).
    threshold_seen: bool,
    /// Where `latency` was, once read.
    latency_position: Option<Position>,
    /// Where `allow_trace` was, once read.
    trace_position: Option<Position>,
    /// `account_token_position`, when positive.
    token_position: Option<u32>,
}

/// nats-server's `parseExportStreamOrService`.
fn parse_export(loader: &mut Loader, element: &Item) -> Result<Option<Export>, Panicked> {
    let Value::Map(map) = &element.value else {
        let text = format!(
            "Export Items should be a map with type entry, got {}",
            element.value.go_type_name()
        );
        loader.error_at(Some(&element.position), text);
        return Ok(None);
    };
    let mut entry = ExportEntry::default();
    for field in map.entries() {
        let (at, value) = (&field.key_position, &field.item);
        match field.key.to_ascii_lowercase().as_str() {
            "stream" => export_stream(loader, at, value, &mut entry),
            "service" => export_service(loader, at, value, &mut entry),
            "response" | "response_type" => export_response_type(loader, at, value, &mut entry),
            "threshold" | "response_threshold" | "response_max_time" | "response_time" => {
                export_threshold(loader, at, value, &mut entry)
            }
            "accounts" => {
                let mut names = Vec::new();
                for name in want_array(loader, at, value)? {
                    names.push(want_string(loader, &name.position, name)?.to_string());
                }
                // An empty list is Go's nil slice: a public export.
                entry.accounts = (!names.is_empty()).then_some(names);
                for export in entry.stream.iter_mut().chain(entry.service.iter_mut()) {
                    export.accounts = entry.accounts.clone();
                }
            }
            "latency" => {
                entry.latency_position = Some(at.clone());
                loader.error_at(Some(at), not_yet("service latency (latency)"));
            }
            "account_token_position" => {
                // Go's uint(int64): negative values wrap to huge positions.
                let position = want_integer(loader, at, value)? as u64;
                let position = u32::try_from(position).unwrap_or(u32::MAX);
                entry.token_position = (position > 0).then_some(position);
            }
            "allow_trace" => {
                let allow = want_bool(loader, at, value)?;
                entry.trace_position = Some(at.clone());
                if entry.stream.is_some() {
                    let text = "Detected allow_trace directive on non-service".into();
                    loader.error_at(Some(at), text);
                } else if allow {
                    loader.error_at(Some(at), not_yet("message tracing (allow_trace)"));
                }
            }
            _ => unknown_field(loader, &field.key, at, value),
        }
    }
    let mut export = entry.stream.or(entry.service);
    if let Some(export) = &mut export {
        export.account_token_position = entry.token_position;
    }
    Ok(export)
}

fn export_stream(loader: &mut Loader, at: &Position, value: &Item, entry: &mut ExportEntry) {
    if entry.service.is_some() {
        let text = format!(
            "Detected stream {} but already saw a service",
            go_quoted_value(&value.value)
        );
        return loader.error_at(Some(at), text);
    }
    let earlier = [
        (&entry.response_position, "response"),
        (&entry.latency_position, "latency"),
        (&entry.trace_position, "allow_trace"),
    ];
    for (position, directive) in earlier {
        if let Some(position) = position {
            let text = format!("Detected {directive} directive on non-service");
            return loader.error_at(Some(position), text);
        }
    }
    let Value::String(subject) = &value.value else {
        let text = format!(
            "Expected stream name to be string, got {}",
            value.value.go_type_name()
        );
        return loader.error_at(Some(at), text);
    };
    entry.stream = Some(Export {
        kind: ExportKind::Stream,
        subject: subject.clone(),
        accounts: entry.accounts.clone(),
        response_type: ResponseType::Singleton,
        account_token_position: None,
        response_threshold: None,
    });
}

fn export_service(loader: &mut Loader, at: &Position, value: &Item, entry: &mut ExportEntry) {
    if entry.stream.is_some() {
        let text = format!(
            "Detected service {} but already saw a stream",
            go_quoted_value(&value.value)
        );
        return loader.error_at(Some(at), text);
    }
    let Value::String(subject) = &value.value else {
        let text = format!(
            "Expected service name to be string, got {}",
            value.value.go_type_name()
        );
        return loader.error_at(Some(at), text);
    };
    entry.service = Some(Export {
        kind: ExportKind::Service,
        subject: subject.clone(),
        accounts: entry.accounts.clone(),
        response_type: entry.response_type.unwrap_or_default(),
        account_token_position: None,
        response_threshold: entry.threshold,
    });
}

fn export_response_type(loader: &mut Loader, at: &Position, value: &Item, entry: &mut ExportEntry) {
    if entry.response_position.is_some() {
        return loader.error_at(Some(at), "Duplicate response type definition".into());
    }
    entry.response_position = Some(at.clone());
    let Value::String(text) = &value.value else {
        let text = format!(
            "Expected response type to be string, got {}",
            value.value.go_type_name()
        );
        return loader.error_at(Some(at), text);
    };
    let response_type = match text.to_lowercase().as_str() {
        "single" | "singleton" => ResponseType::Singleton,
        "stream" => ResponseType::Stream,
        "chunk" | "chunked" => ResponseType::Chunked,
        _ => {
            let text = format!("Unknown response type: {}", go_quote(text));
            return loader.error_at(Some(at), text);
        }
    };
    entry.response_type = Some(response_type);
    if let Some(service) = &mut entry.service {
        service.response_type = response_type;
    }
    if entry.stream.is_some() {
        let text = "Detected response directive on non-service".into();
        loader.error_at(Some(at), text);
    }
}

fn export_threshold(loader: &mut Loader, at: &Position, value: &Item, entry: &mut ExportEntry) {
    if entry.threshold_seen {
        return loader.error_at(Some(at), "Duplicate response threshold detected".into());
    }
    entry.threshold_seen = true;
    let expected = "Expected response threshold to be a parseable time duration, got";
    let Value::String(text) = &value.value else {
        let text = format!("{expected} {}", value.value.go_type_name());
        return loader.error_at(Some(at), text);
    };
    let threshold = match super::keys::signed_duration(text) {
        // Go keeps a negative threshold, which times every response out at once.
        Ok((negative, threshold)) => {
            if negative {
                Duration::ZERO
            } else {
                threshold
            }
        }
        Err(_) => {
            return loader.error_at(Some(at), format!("{expected} {}", go_quote(text)));
        }
    };
    entry.threshold = Some(threshold);
    if let Some(service) = &mut entry.service {
        service.response_threshold = Some(threshold);
    }
    if entry.stream.is_some() {
        let text = "Detected response directive on non-service".into();
        loader.error_at(Some(at), text);
    }
}
