//! Checks every account's imports against the exports they name, once all accounts are
//! read, as nats-server 2.15.1 does at the end of `parseAccounts` (with `Account`'s
//! `addStreamExport...`, `addStreamImportWithClaim`, `addMappedStreamImportWithClaim`
//! and `AddServiceImport`): the exporting account must exist and must export the subject
//! to the importer, a stream prefix must be literal, a mapped subject must be a valid
//! import transform, and no import may close a cycle.
//!
//! nats-server keeps exports in Go maps and so tries overlapping wildcard exports in a
//! random order; this tries them in file order, one of the orders nats-server may take.
//! Texts are nats-server's; the caller places them at the `accounts` key.

use std::collections::HashSet;

use super::file::go_quote;
use super::permissions::is_valid_config_subject;
use super::subject_transform::{
    is_subset_match, strict_transform, subject_has_wildcard, subject_is_subset_match,
    subjects_collide, transform_tokenize, transform_untokenize,
};
use crate::auth::{AccountConfig, Export, ExportKind, Import};

/// nats-server's `MaxAccountCycleSearchDepth`.
const CYCLE_SEARCH_DEPTH_MAX: usize = 1024;

/// nats-server's `ErrInvalidSubject`.
const INVALID_SUBJECT: &str = "sublist: invalid subject";

/// Who may import an export (nats-server's `exportAuth`).
#[derive(Clone, Debug, Default)]
struct ExportAuth {
    /// Accounts named in `accounts`; empty = anyone, unless `token_position` is set.
    approved: Vec<String>,
    /// `account_token_position`: 1-based token of the import subject that must be the
    /// importer's name; 0 = none.
    token_position: u32,
}

/// An import already added, as the cycle checks see it.
#[derive(Clone, Debug)]
struct Link {
    /// Index of the exporting account.
    exporter: usize,
    /// The subject in the exporter's namespace (service) or as imported (stream).
    from: String,
    /// The subject in the importer's namespace (stream) or in the exporter's (service).
    to: String,
}

/// One account's exports and the imports added so far.
#[derive(Default)]
struct AccountLinks {
    /// Subject -> who may import; `None` is a public stream export.
    streams: Vec<(String, Option<ExportAuth>)>,
    /// Subject -> who may import.
    services: Vec<(String, ExportAuth)>,
    /// Stream imports added so far, in order.
    stream_imports: Vec<Link>,
    /// Service imports added so far, in order.
    service_imports: Vec<Link>,
}

/// Returns nats-server's errors for the accounts' exports and imports, in its order:
/// stream exports, service exports, stream imports, service imports.
pub(super) fn link(accounts: &[AccountConfig]) -> Vec<String> {
    let mut linker = Linker {
        names: accounts
            .iter()
            .map(|account| account.name.as_str())
            .collect(),
        state: accounts.iter().map(|_| AccountLinks::default()).collect(),
        errors: Vec::new(),
    };
    for kind in [ExportKind::Stream, ExportKind::Service] {
        for (owner, account) in accounts.iter().enumerate() {
            for export in account.exports.iter().filter(|export| export.kind == kind) {
                linker.export(owner, export);
            }
        }
    }
    for kind in [ExportKind::Stream, ExportKind::Service] {
        for (importer, account) in accounts.iter().enumerate() {
            for import in account.imports.iter().filter(|import| import.kind == kind) {
                linker.import(importer, import);
            }
        }
    }
    linker.errors
}

/// The accounts being linked and the errors found so far.
struct Linker<'a> {
    /// Account names, by index.
    names: Vec<&'a str>,
    /// Exports and imports added so far, by account index.
    state: Vec<AccountLinks>,
    /// nats-server's texts, in the order it finds them.
    errors: Vec<String>,
}

fn noun(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::Stream => "stream",
        ExportKind::Service => "service",
    }
}

impl Linker<'_> {
    fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|known| *known == name)
    }

    /// One export of account `owner`. Named accounts that do not exist are reported
    /// and left out (when none is left, nats-server's export is public).
    fn export(&mut self, owner: usize, export: &Export) {
        let noun = noun(export.kind);
        let mut approved = Vec::new();
        for name in export.accounts.iter().flatten() {
            match self.index_of(name) {
                Some(_) => approved.push(name.clone()),
                None => self.errors.push(format!(
                    "{} account not defined for {noun} export",
                    go_quote(name)
                )),
            }
        }
        let token_position = export.account_token_position.unwrap_or(0);
        let links = &mut self.state[owner];
        let result = match export.kind {
            ExportKind::Stream => {
                add_stream_export(links, &export.subject, approved, token_position)
            }
            ExportKind::Service => {
                add_service_export(links, &export.subject, approved, token_position)
            }
        };
        if let Err(error) = result {
            self.errors.push(format!(
                "Error adding {noun} export {}: {error}",
                go_quote(&export.subject)
            ));
        }
    }

    /// One import of account `importer`.
    fn import(&mut self, importer: usize, import: &Import) {
        let noun = noun(import.kind);
        let Some(exporter) = self.index_of(&import.account) else {
            self.errors.push(format!(
                "{} account not defined for {noun} import",
                go_quote(&import.account)
            ));
            return;
        };
        let pair = (importer, exporter);
        let result = match import.kind {
            ExportKind::Stream => add_stream_import(
                &mut self.state,
                &self.names,
                pair,
                &import.subject,
                import.prefix.as_deref().unwrap_or_default(),
                import.to.as_deref().unwrap_or_default(),
            ),
            ExportKind::Service => {
                let to = import.to.as_deref().filter(|to| !to.is_empty());
                let to = to.unwrap_or(&import.subject);
                add_service_import(&mut self.state, &self.names, pair, to, &import.subject)
            }
        };
        if let Err(error) = result {
            self.errors.push(format!(
                "Error adding {noun} import {}: {error}",
                go_quote(&import.subject)
            ));
        }
    }
}

/// nats-server's `setExportAuth`: a token position must name a `*` token.
fn set_export_auth(
    auth: &mut ExportAuth,
    subject: &str,
    approved: Vec<String>,
    token_position: u32,
) -> Result<(), String> {
    if token_position > 0 {
        let tokens: Vec<&str> = subject.split('.').collect();
        if tokens.len() < token_position as usize || tokens[token_position as usize - 1] != "*" {
            return Err(INVALID_SUBJECT.into());
        }
    }
    auth.token_position = token_position;
    auth.approved.extend(approved);
    Ok(())
}

/// nats-server's `addStreamExportWithAccountPos`: a public export of a subject already
/// exported keeps the earlier restrictions.
fn add_stream_export(
    links: &mut AccountLinks,
    subject: &str,
    approved: Vec<String>,
    token_position: u32,
) -> Result<(), String> {
    let existing = links.streams.iter().position(|(known, _)| known == subject);
    let mut auth = existing.and_then(|index| links.streams[index].1.clone());
    if !approved.is_empty() || token_position > 0 {
        let auth = auth.get_or_insert_with(ExportAuth::default);
        set_export_auth(auth, subject, approved, token_position)?;
    }
    match existing {
        Some(index) => links.streams[index].1 = auth,
        None => links.streams.push((subject.to_string(), auth)),
    }
    Ok(())
}

/// nats-server's `addServiceExportWithResponseAndAccountPos`.
fn add_service_export(
    links: &mut AccountLinks,
    subject: &str,
    approved: Vec<String>,
    token_position: u32,
) -> Result<(), String> {
    let existing = links
        .services
        .iter()
        .position(|(known, _)| known == subject);
    let mut auth = existing
        .map(|index| links.services[index].1.clone())
        .unwrap_or_default();
    if !approved.is_empty() || token_position > 0 {
        set_export_auth(&mut auth, subject, approved, token_position)?;
    }
    match existing {
        Some(index) => links.services[index].1 = auth,
        None => links.services.push((subject.to_string(), auth)),
    }
    Ok(())
}

/// nats-server's `checkAuth`; `tokens` is `None` for an exact subject match.
fn export_allows(auth: &ExportAuth, importer: &str, tokens: Option<&[&str]>) -> bool {
    if auth.approved.is_empty() && auth.token_position == 0 {
        return true;
    }
    if auth.token_position > 0 {
        let tokens = tokens.unwrap_or_default();
        let position = auth.token_position as usize;
        return position <= tokens.len() && tokens[position - 1] == importer;
    }
    auth.approved.iter().any(|name| name == importer)
}

/// nats-server's `checkStreamImportAuthorized`.
fn stream_import_allowed(exporter: &AccountLinks, importer: &str, subject: &str) -> bool {
    if exporter.streams.is_empty() || !is_valid_config_subject(subject) {
        return false;
    }
    if let Some((_, auth)) = exporter.streams.iter().find(|(known, _)| known == subject) {
        return auth
            .as_ref()
            .is_none_or(|auth| export_allows(auth, importer, None));
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    for (exported, auth) in &exporter.streams {
        if is_subset_match(&tokens, exported) {
            return auth
                .as_ref()
                .is_none_or(|auth| export_allows(auth, importer, Some(&tokens)));
        }
    }
    false
}

/// nats-server's `checkServiceImportAuthorized`.
fn service_import_allowed(exporter: &AccountLinks, importer: &str, subject: &str) -> bool {
    if let Some((_, auth)) = exporter.services.iter().find(|(known, _)| known == subject) {
        return export_allows(auth, importer, None);
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    for (exported, auth) in &exporter.services {
        if is_subset_match(&tokens, exported) {
            return export_allows(auth, importer, Some(&tokens));
        }
    }
    false
}

/// nats-server's `addStreamImportWithClaim` (with a prefix) or
/// `addMappedStreamImportWithClaim` (without).
fn add_stream_import(
    state: &mut [AccountLinks],
    names: &[&str],
    (importer, exporter): (usize, usize),
    from: &str,
    prefix: &str,
    to: &str,
) -> Result<(), String> {
    let to = if prefix.is_empty() {
        to.to_string()
    } else {
        if !stream_import_allowed(&state[exporter], names[importer], from) {
            return Err("stream import not authorized".into());
        }
        if subject_has_wildcard(prefix) {
            return Err("stream import prefix can not contain wildcard tokens".into());
        }
        let separator = if prefix.ends_with('.') { "" } else { "." };
        format!("{prefix}{separator}{from}")
    };
    if !stream_import_allowed(&state[exporter], names[importer], from) {
        return Err("stream import not authorized".into());
    }
    let mut to = if to.is_empty() { from.to_string() } else { to };
    for subject in [to.as_str(), from] {
        let mut visited = HashSet::from([importer]);
        stream_cycle_check(state, exporter, subject, &mut visited)?;
    }
    if subject_has_wildcard(from) && to != from {
        if let Err(error) = strict_transform(from, &transform_tokenize(&to)) {
            return Err(format!(
                "failed to create mapping transform for stream import subject from {} to {}: {error}",
                go_quote(from),
                go_quote(&to)
            ));
        }
        to = transform_untokenize(&to);
    }
    let links = &mut state[importer];
    if links
        .stream_imports
        .iter()
        .any(|link| link.exporter == exporter && link.from == from)
    {
        return Err("stream import already exists".into());
    }
    links.stream_imports.push(Link {
        exporter,
        from: from.to_string(),
        to,
    });
    Ok(())
}

/// nats-server's `checkStreamImportsForCycles`, from `account`.
fn stream_cycle_check(
    state: &[AccountLinks],
    account: usize,
    to: &str,
    visited: &mut HashSet<usize>,
) -> Result<(), String> {
    if visited.len() >= CYCLE_SEARCH_DEPTH_MAX {
        return Err("search cycle depth exhausted".into());
    }
    let links = &state[account];
    if !links
        .streams
        .iter()
        .any(|(exported, _)| subject_is_subset_match(to, exported))
    {
        return Ok(());
    }
    for link in &links.stream_imports {
        if subjects_collide(to, &link.to) {
            if visited.contains(&link.exporter) {
                return Err("import forms a cycle".into());
            }
            visited.insert(account);
            let next = if subject_is_subset_match(&link.to, to) {
                link.to.as_str()
            } else {
                to
            };
            stream_cycle_check(state, link.exporter, next, visited)?;
        }
    }
    Ok(())
}

/// nats-server's `AddServiceImport(exporter, from, to)`: `from` is the importer's
/// subject, `to` the exporter's.
fn add_service_import(
    state: &mut [AccountLinks],
    names: &[&str],
    (importer, exporter): (usize, usize),
    from: &str,
    to: &str,
) -> Result<(), String> {
    if !is_valid_config_subject(from) || !is_valid_config_subject(to) {
        return Err(INVALID_SUBJECT.into());
    }
    if !service_import_allowed(&state[exporter], names[importer], to) {
        return Err("service import not authorized".into());
    }
    let cycle_subject = if subject_has_wildcard(to) {
        transform_untokenize(from)
    } else {
        from.to_string()
    };
    let mut visited = HashSet::from([importer]);
    service_cycle_check(state, exporter, &cycle_subject, &mut visited)?;
    if subject_has_wildcard(to) && to != from {
        let source = transform_untokenize(to);
        if let Err(error) = strict_transform(&source, &transform_tokenize(from)) {
            return Err(format!(
                "failed to create mapping transform for service import subject from {} to {}: {error}",
                go_quote(from),
                go_quote(&source)
            ));
        }
    }
    state[importer].service_imports.push(Link {
        exporter,
        from: from.to_string(),
        to: to.to_string(),
    });
    Ok(())
}

/// nats-server's `checkServiceImportsForCycles`, from `account`.
fn service_cycle_check(
    state: &[AccountLinks],
    account: usize,
    from: &str,
    visited: &mut HashSet<usize>,
) -> Result<(), String> {
    if visited.len() >= CYCLE_SEARCH_DEPTH_MAX {
        return Err("search cycle depth exhausted".into());
    }
    for link in &state[account].service_imports {
        if subjects_collide(from, &link.to) {
            if visited.contains(&link.exporter) {
                return Err("import forms a cycle".into());
            }
            visited.insert(account);
            let next = if subject_is_subset_match(&link.from, from) {
                link.from.as_str()
            } else {
                from
            };
            service_cycle_check(state, link.exporter, next, visited)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Export, Import, ResponseType};

    fn account(name: &str, exports: Vec<Export>, imports: Vec<Import>) -> AccountConfig {
        AccountConfig {
            name: name.into(),
            exports,
            imports,
            ..AccountConfig::default()
        }
    }

    fn export(kind: ExportKind, subject: &str, accounts: Option<&[&str]>) -> Export {
        Export {
            kind,
            subject: subject.into(),
            accounts: accounts.map(|names| names.iter().map(|name| name.to_string()).collect()),
            response_type: ResponseType::Singleton,
            account_token_position: None,
            response_threshold: None,
        }
    }

    fn import(kind: ExportKind, account: &str, subject: &str) -> Import {
        Import {
            kind,
            account: account.into(),
            subject: subject.into(),
            prefix: None,
            to: (kind == ExportKind::Service).then(|| subject.to_string()),
            share: false,
        }
    }

    #[test]
    fn imports_need_a_matching_export_to_them() {
        let accounts = [
            account(
                "A",
                vec![
                    export(ExportKind::Stream, "public.>", None),
                    export(ExportKind::Stream, "private.>", Some(&["B"])),
                    export(ExportKind::Service, "help", None),
                ],
                vec![],
            ),
            account(
                "B",
                vec![],
                vec![
                    import(ExportKind::Stream, "A", "public.x"),
                    import(ExportKind::Stream, "A", "private.y"),
                    import(ExportKind::Service, "A", "help"),
                ],
            ),
            account(
                "C",
                vec![],
                vec![
                    import(ExportKind::Stream, "A", "private.y"),
                    import(ExportKind::Stream, "A", "other"),
                    import(ExportKind::Service, "A", "nope"),
                    import(ExportKind::Service, "Z", "help"),
                ],
            ),
        ];
        assert_eq!(
            link(&accounts),
            vec![
                "Error adding stream import \"private.y\": stream import not authorized",
                "Error adding stream import \"other\": stream import not authorized",
                "Error adding service import \"nope\": service import not authorized",
                "\"Z\" account not defined for service import",
            ]
        );
    }

    #[test]
    fn cycles_are_refused() {
        let accounts = [
            account(
                "A",
                vec![export(ExportKind::Stream, "foo", None)],
                vec![import(ExportKind::Stream, "B", "foo")],
            ),
            account(
                "B",
                vec![export(ExportKind::Stream, "foo", None)],
                vec![import(ExportKind::Stream, "A", "foo")],
            ),
        ];
        assert_eq!(
            link(&accounts),
            vec!["Error adding stream import \"foo\": import forms a cycle"]
        );
    }
}
