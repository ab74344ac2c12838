//! Accounts: ids, limits, and the stream and service imports that carry messages from
//! one account to another, as nats-server 2.15.1 sets them up from `accounts {}`.
//!
//! The [`AccountTable`] numbers the accounts once ([`AccountId`]: `$G` is 0, the system
//! account next, then the configured accounts in order) and resolves every import the
//! way nats-server's `parseAccounts` does when it starts: exports first, then all stream
//! imports, then all service imports, each checked as `addStreamImportWithClaim`,
//! `addMappedStreamImportWithClaim` and `AddServiceImport` check it (the exporter is a
//! configured account, the export exists, covers the import subject and lists the
//! importer or is public, no cycle, no duplicate, a valid subject transform). An import
//! nats-server would refuse (and refuse to start over) is left out and reported by
//! [`AccountTable::import_errors`].
//!
//! Stream imports: a message published in the exporter on a subject the import covers
//! is also delivered to the importer's subscribers, renamed by `prefix` or `to`
//! (wildcard tokens mapped by position, `$N` and `{{wildcard(N)}}` included). Delivery
//! is one hop: nats-server implements stream imports with shadow subscriptions in the
//! exporter, so a message that reached an importer this way is not exported again
//! (observed on 2.15.1: A -> B -> C does not reach C), and neither is a message that
//! reached the exporter through a service import (`pmrMsgImportedFromService`).
//!
//! Service imports: a publish in the importer on the local subject (`to`, or the
//! imported subject) is sent to the exporter on the exported subject, with the
//! export's response type. nats-server implements these as internal subscriptions in
//! the importer, so ordinary subscribers there still receive the message, every
//! matching import fires, and an exporter's own service imports chain further (the
//! caller must stop at a repeat, as nats-server's `processServiceImport` does).
//!
//! Architecture Invariant: the table is immutable after [`AccountTable::new`]; shards
//! share it through an `Arc` and look routes up without locks.

use std::collections::HashMap;

use super::pattern::{is_subset_match, is_valid_config_subject, subjects_collide};
use super::transform::{tokenize, untokenize, SubjectTransform};
use super::{
    AccountConfig, AccountLimits, AuthConfig, ExportKind, Import, ResponseType, GLOBAL_ACCOUNT,
    SYSTEM_ACCOUNT,
};
use crate::subject::validate::{subject_has_wildcard, subject_matches, TOKEN_SEPARATOR};

/// nats-server's `MaxAccountCycleSearchDepth`: accounts visited looking for an import
/// cycle before giving up with an error.
pub const IMPORT_CYCLE_SEARCH_DEPTH_MAX: usize = 1024;

/// An account's index in the [`AccountTable`]. `Send + Copy`; meaningful only with the
/// table that issued it (a reload builds a new table and new ids).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub u32);

impl AccountId {
    /// The global account `$G`, where clients land when no account is configured.
    pub const GLOBAL: AccountId = AccountId(0);

    /// The id as a vector index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a service import sends a request: the exporter, the subject there, and how
/// replies flow back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceTarget {
    /// The exporting account.
    pub exporter: AccountId,
    /// The subject in the exporting account.
    pub subject: Vec<u8>,
    /// The export's `response_type`.
    pub response_type: ResponseType,
}

/// An import nats-server would have refused, with nats-server's reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError {
    /// The importing account.
    pub account: String,
    /// The import's index in that account's `imports`.
    pub import: usize,
    /// What nats-server says, e.g. `Error adding stream import "foo": stream import not
    /// authorized`.
    pub reason: String,
}

/// How an import renames a subject.
#[derive(Clone, Debug)]
enum Rename {
    /// Keep the published subject (the import subject has wildcards and `to` equals it).
    Published,
    /// Always this subject (the import subject is literal).
    Fixed(Box<[u8]>),
    /// Map tokens by position.
    Transform(SubjectTransform),
    /// nats-server could not build the reverse transform of a service import and sends
    /// to the untokenized import subject literally.
    FixedPattern(Box<[u8]>),
}

impl Rename {
    /// The renamed subject for `subject`.
    fn apply(&self, subject: &[u8]) -> Vec<u8> {
        match self {
            Rename::Published => subject.to_vec(),
            Rename::Fixed(fixed) | Rename::FixedPattern(fixed) => fixed.to_vec(),
            Rename::Transform(transform) => {
                let mut out = Vec::with_capacity(subject.len() + 16);
                transform.apply(subject, &mut out);
                out
            }
        }
    }
}

/// An accepted stream import, stored with the exporter.
#[derive(Clone, Debug)]
struct StreamRoute {
    /// The importing account.
    importer: AccountId,
    /// The import subject, as published in the exporter (nats-server's `si.from`).
    from: Box<[u8]>,
    /// The subject as the importer sees it (nats-server's `si.to`, untokenized).
    to: Box<[u8]>,
    /// How a published subject becomes the importer's subject.
    rename: Rename,
}

/// An accepted service import, stored with the importer.
#[derive(Clone, Debug)]
struct ServiceRoute {
    /// The exporting account.
    exporter: AccountId,
    /// The local subject the importer publishes on (nats-server's `si.from`).
    from: Box<[u8]>,
    /// The subject in the exporter (nats-server's `si.to`, untokenized).
    to: Box<[u8]>,
    /// How a published subject becomes the exporter's subject.
    rename: Rename,
    /// The export's response type.
    response_type: ResponseType,
}

/// One export rule.
#[derive(Clone, Debug)]
struct ExportRule {
    /// The exported subject.
    subject: Box<[u8]>,
    /// Who may import it; `None` = public.
    approved: Option<Vec<AccountId>>,
    /// `response_type` (services).
    response_type: ResponseType,
}

impl ExportRule {
    fn authorizes(&self, importer: AccountId) -> bool {
        self.approved
            .as_ref()
            .is_none_or(|approved| approved.contains(&importer))
    }
}

/// Everything the table knows about one account.
#[derive(Debug, Default)]
struct Account {
    /// The account's name.
    name: String,
    /// Its limits (unlimited for `$G` and a default `$SYS`).
    limits: AccountLimits,
    /// Stream exports, merged by subject.
    stream_exports: Vec<ExportRule>,
    /// Service exports, merged by subject.
    service_exports: Vec<ExportRule>,
    /// Accepted stream imports *from* this account, in acceptance order.
    stream_routes: Vec<StreamRoute>,
    /// Accepted service imports *of* this account, in acceptance order.
    service_routes: Vec<ServiceRoute>,
}

/// The accounts, by id and name, and their import routes. `Send + Sync`; built once,
/// shared through an `Arc`.
#[derive(Debug)]
pub struct AccountTable {
    /// Indexed by [`AccountId`].
    accounts: Vec<Account>,
    /// Name to id.
    ids: HashMap<String, AccountId>,
    /// The system account, if any.
    system: Option<AccountId>,
    /// Imports left out, with nats-server's reasons.
    import_errors: Vec<ImportError>,
}

impl AccountTable {
    /// Numbers the accounts and resolves exports and imports (see the module docs).
    ///
    /// Ids: 0 is `$G`; then the system account (`system_account` when it names a
    /// configured account, else a configured `$SYS`, else a built-in `$SYS` unless
    /// `no_system_account`); then the configured accounts in order. A repeated name
    /// keeps its first entry; an entry named `$G` configures the global account.
    pub fn new(config: &AuthConfig) -> AccountTable {
        let mut table = AccountTable {
            accounts: Vec::with_capacity(config.accounts.len() + 2),
            ids: HashMap::new(),
            system: None,
            import_errors: Vec::new(),
        };
        table.add(GLOBAL_ACCOUNT);
        let configured = |name: &str| config.accounts.iter().any(|account| account.name == name);
        let system_name = match config.system_account.as_deref() {
            Some(name) if name == GLOBAL_ACCOUNT => Some(GLOBAL_ACCOUNT),
            Some(name) if configured(name) => Some(name),
            _ if configured(SYSTEM_ACCOUNT) => Some(SYSTEM_ACCOUNT),
            _ if !config.no_system_account => Some(SYSTEM_ACCOUNT),
            _ => None,
        };
        if let Some(name) = system_name {
            table.system = Some(table.add(name));
        }
        for account in &config.accounts {
            table.add(&account.name);
        }
        // The first entry of each name configures it.
        let mut configs: Vec<Option<&AccountConfig>> = vec![None; table.accounts.len()];
        for account in &config.accounts {
            let slot = &mut configs[table.ids[&account.name].index()];
            if slot.is_none() {
                *slot = Some(account);
            }
        }
        for (index, account) in configs.iter().enumerate() {
            if let Some(account) = account {
                table.accounts[index].limits = account.limits;
                table.add_exports(AccountId(index as u32), account);
            }
        }
        let importers: Vec<(AccountId, &AccountConfig)> = configs
            .iter()
            .enumerate()
            .filter_map(|(index, account)| Some((AccountId(index as u32), (*account)?)))
            .collect();
        for kind in [ExportKind::Stream, ExportKind::Service] {
            for &(importer, account) in &importers {
                for (position, import) in account.imports.iter().enumerate() {
                    if import.kind != kind {
                        continue;
                    }
                    let result = match kind {
                        ExportKind::Stream => table.add_stream_import(importer, import, &configs),
                        ExportKind::Service => table.add_service_import(importer, import, &configs),
                    };
                    if let Err(reason) = result {
                        table.import_errors.push(ImportError {
                            account: account.name.clone(),
                            import: position,
                            reason,
                        });
                    }
                }
            }
        }
        table
    }

    /// Adds `name` if new; its id either way.
    fn add(&mut self, name: &str) -> AccountId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = AccountId(u32::try_from(self.accounts.len()).expect("accounts fit in u32"));
        self.accounts.push(Account {
            name: name.to_string(),
            ..Account::default()
        });
        self.ids.insert(name.to_string(), id);
        id
    }

    /// Records `account`'s exports, merging repeated subjects as nats-server's export
    /// maps do (a list of accounts adds to the approved set; a public export never
    /// widens a restricted one). Unknown account names approve no one.
    fn add_exports(&mut self, id: AccountId, account: &AccountConfig) {
        for export in &account.exports {
            if !is_valid_config_subject(export.subject.as_bytes()) {
                continue;
            }
            let approved = export
                .accounts
                .as_ref()
                .filter(|names| !names.is_empty())
                .map(|names| {
                    names
                        .iter()
                        .filter_map(|name| self.ids.get(name).copied())
                        .collect()
                });
            let rules = match export.kind {
                ExportKind::Stream => &mut self.accounts[id.index()].stream_exports,
                ExportKind::Service => &mut self.accounts[id.index()].service_exports,
            };
            match rules
                .iter_mut()
                .find(|rule| *rule.subject == *export.subject.as_bytes())
            {
                Some(rule) => {
                    if let Some(approved) = approved {
                        let mut merged: Vec<AccountId> = rule.approved.take().unwrap_or_default();
                        merged.extend(approved);
                        rule.approved = Some(merged);
                    }
                    if export.response_type != ResponseType::Singleton {
                        rule.response_type = export.response_type;
                    }
                }
                None => rules.push(ExportRule {
                    subject: export.subject.as_bytes().into(),
                    approved,
                    response_type: export.response_type,
                }),
            }
        }
    }

    /// nats-server's `checkStreamExportApproved` / `checkServiceExportApproved`: an
    /// export of exactly `subject` decides; otherwise any export covering it that
    /// authorizes the importer does (nats-server takes the first it finds in map order,
    /// which is random; we take any, so the answer does not depend on luck).
    fn export_authorizes(rules: &[ExportRule], importer: AccountId, subject: &[u8]) -> bool {
        if !is_valid_config_subject(subject) {
            return false;
        }
        if let Some(rule) = rules.iter().find(|rule| *rule.subject == *subject) {
            return rule.authorizes(importer);
        }
        rules
            .iter()
            .any(|rule| is_subset_match(subject, &rule.subject) && rule.authorizes(importer))
    }

    /// The exporting account of `import`: only configured accounts can export.
    fn exporter(
        &self,
        import: &Import,
        configs: &[Option<&AccountConfig>],
    ) -> Result<AccountId, String> {
        self.ids
            .get(&import.account)
            .copied()
            .filter(|id| configs.get(id.index()).is_some_and(Option::is_some))
            .ok_or_else(|| {
                let kind = match import.kind {
                    ExportKind::Stream => "stream",
                    ExportKind::Service => "service",
                };
                format!("{:?} account not defined for {kind} import", import.account)
            })
    }

    /// nats-server's `addStreamImportWithClaim` / `addMappedStreamImportWithClaim`.
    fn add_stream_import(
        &mut self,
        importer: AccountId,
        import: &Import,
        configs: &[Option<&AccountConfig>],
    ) -> Result<(), String> {
        let exporter = self.exporter(import, configs)?;
        let from = import.subject.as_bytes();
        let fail =
            |reason: &str| format!("Error adding stream import {:?}: {reason}", import.subject);
        let stream_exports = &self.accounts[exporter.index()].stream_exports;
        if stream_exports.is_empty() || !Self::export_authorizes(stream_exports, importer, from) {
            return Err(fail("stream import not authorized"));
        }
        let to: Vec<u8> = match (import.prefix.as_deref(), import.to.as_deref()) {
            (Some(prefix), _) if !prefix.is_empty() => {
                if subject_has_wildcard(prefix.as_bytes()) {
                    return Err(fail("stream import prefix can not contain wildcard tokens"));
                }
                let mut to = prefix.as_bytes().to_vec();
                if to.last() != Some(&TOKEN_SEPARATOR) {
                    to.push(TOKEN_SEPARATOR);
                }
                to.extend_from_slice(from);
                to
            }
            (_, Some(to)) if !to.is_empty() => to.as_bytes().to_vec(),
            _ => from.to_vec(),
        };
        for subject in [&to[..], from] {
            if self.stream_import_forms_cycle(exporter, importer, subject)? {
                return Err(fail("import forms a cycle"));
            }
        }
        let (rename, to) = if subject_has_wildcard(from) {
            if to == from {
                (Rename::Published, to)
            } else {
                let transform = SubjectTransform::new_strict(from, &tokenize(&to)).map_err(|error| {
                    fail(&format!(
                        "failed to create mapping transform for stream import subject from {:?} to {:?}: {error}",
                        import.subject,
                        String::from_utf8_lossy(&to)
                    ))
                })?;
                (Rename::Transform(transform), untokenize(&to).0)
            }
        } else {
            (Rename::Fixed(to.clone().into()), to)
        };
        let duplicate = self.accounts[exporter.index()]
            .stream_routes
            .iter()
            .any(|route| route.importer == importer && *route.from == *from);
        if duplicate {
            return Err(fail("stream import already exists"));
        }
        self.accounts[exporter.index()]
            .stream_routes
            .push(StreamRoute {
                importer,
                from: from.into(),
                to: to.into(),
                rename,
            });
        Ok(())
    }

    /// nats-server's `streamImportFormsCycle(exporter, subject)` for an import into
    /// `importer`: `Ok(true)` on a cycle, `Err` when the search is too deep.
    fn stream_import_forms_cycle(
        &self,
        exporter: AccountId,
        importer: AccountId,
        subject: &[u8],
    ) -> Result<bool, String> {
        let mut visited = vec![importer];
        self.stream_cycle_search(exporter, subject, &mut visited)
    }

    /// nats-server's `checkStreamImportsForCycles`, on `account`.
    fn stream_cycle_search(
        &self,
        account: AccountId,
        subject: &[u8],
        visited: &mut Vec<AccountId>,
    ) -> Result<bool, String> {
        if visited.len() >= IMPORT_CYCLE_SEARCH_DEPTH_MAX {
            return Err("search cycle depth exhausted".to_string());
        }
        let exports = &self.accounts[account.index()].stream_exports;
        if !exports
            .iter()
            .any(|rule| is_subset_match(subject, &rule.subject))
        {
            return Ok(false);
        }
        // Every account's accepted stream imports, as (exporter, to), for `account`.
        let imports: Vec<(AccountId, &[u8])> = self
            .accounts
            .iter()
            .enumerate()
            .flat_map(|(index, exporter)| {
                exporter
                    .stream_routes
                    .iter()
                    .filter(|route| route.importer == account)
                    .map(move |route| (AccountId(index as u32), &*route.to))
            })
            .collect();
        for (source, to) in imports {
            if subjects_collide(subject, to) {
                if visited.contains(&source) {
                    return Ok(true);
                }
                if !visited.contains(&account) {
                    visited.push(account);
                }
                let next = if is_subset_match(to, subject) {
                    to
                } else {
                    subject
                };
                if self.stream_cycle_search(source, next, visited)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// nats-server's `AddServiceImport(exporter, from = local subject, to = import
    /// subject)`.
    fn add_service_import(
        &mut self,
        importer: AccountId,
        import: &Import,
        configs: &[Option<&AccountConfig>],
    ) -> Result<(), String> {
        let exporter = self.exporter(import, configs)?;
        let to = import.subject.as_bytes();
        let from = import
            .to
            .as_deref()
            .filter(|local| !local.is_empty())
            .unwrap_or(&import.subject)
            .as_bytes();
        let fail =
            |reason: &str| format!("Error adding service import {:?}: {reason}", import.subject);
        if !is_valid_config_subject(from) || !is_valid_config_subject(to) {
            return Err(fail("invalid subject"));
        }
        let service_exports = &self.accounts[exporter.index()].service_exports;
        if service_exports.is_empty() || !Self::export_authorizes(service_exports, importer, to) {
            return Err(fail("service import not authorized"));
        }
        let to_has_wildcard = subject_has_wildcard(to);
        let from_for_cycle = if to_has_wildcard {
            untokenize(from).0
        } else {
            from.to_vec()
        };
        if self.service_import_forms_cycle(exporter, importer, &from_for_cycle)? {
            return Err(fail("import forms a cycle"));
        }
        let response_type = self.service_response_type(exporter, to);
        let duplicate = self.accounts[importer.index()]
            .service_routes
            .iter()
            .any(|route| route.exporter == exporter && *route.from == *from);
        if duplicate {
            return Err(fail(&format!(
                "duplicate service import subject {:?}, previously used in import for account {:?}",
                String::from_utf8_lossy(from),
                import.account
            )));
        }
        let (from, to, rename): (Vec<u8>, Vec<u8>, Rename) = if !to_has_wildcard {
            (from.to_vec(), to.to_vec(), Rename::Fixed(to.into()))
        } else if to == from {
            (from.to_vec(), to.to_vec(), Rename::Published)
        } else {
            let pattern = untokenize(to).0;
            let forward = SubjectTransform::new_strict(&pattern, &tokenize(from)).map_err(|error| {
                fail(&format!(
                    "failed to create mapping transform for service import subject from {:?} to {:?}: {error}",
                    String::from_utf8_lossy(from),
                    import.subject
                ))
            })?;
            let rename = match forward.reverse() {
                Some(reverse) => Rename::Transform(reverse),
                None => Rename::FixedPattern(pattern.clone().into()),
            };
            (untokenize(from).0, pattern, rename)
        };
        self.accounts[importer.index()]
            .service_routes
            .push(ServiceRoute {
                exporter,
                from: from.into(),
                to: to.into(),
                rename,
                response_type,
            });
        Ok(())
    }

    /// The response type of the service export covering `subject` in `exporter`
    /// (nats-server's `getServiceExport`: exact subject first, then a covering one).
    fn service_response_type(&self, exporter: AccountId, subject: &[u8]) -> ResponseType {
        let rules = &self.accounts[exporter.index()].service_exports;
        rules
            .iter()
            .find(|rule| *rule.subject == *subject)
            .or_else(|| {
                rules
                    .iter()
                    .find(|rule| is_subset_match(subject, &rule.subject))
            })
            .map_or(ResponseType::Singleton, |rule| rule.response_type)
    }

    /// nats-server's `serviceImportFormsCycle(exporter, from)` for an import into
    /// `importer`.
    fn service_import_forms_cycle(
        &self,
        exporter: AccountId,
        importer: AccountId,
        from: &[u8],
    ) -> Result<bool, String> {
        let mut visited = vec![importer];
        self.service_cycle_search(exporter, from, &mut visited)
    }

    /// nats-server's `checkServiceImportsForCycles`, on `account`.
    fn service_cycle_search(
        &self,
        account: AccountId,
        from: &[u8],
        visited: &mut Vec<AccountId>,
    ) -> Result<bool, String> {
        if visited.len() >= IMPORT_CYCLE_SEARCH_DEPTH_MAX {
            return Err("search cycle depth exhausted".to_string());
        }
        for route in &self.accounts[account.index()].service_routes {
            if subjects_collide(from, &route.to) {
                if visited.contains(&route.exporter) {
                    return Ok(true);
                }
                if !visited.contains(&account) {
                    visited.push(account);
                }
                let next = if is_subset_match(&route.from, from) {
                    &route.from[..]
                } else {
                    from
                };
                if self.service_cycle_search(route.exporter, next, visited)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Number of accounts (ids are `0..len()`).
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Always false: `$G` always exists.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The id of the account called `name`.
    pub fn id(&self, name: &str) -> Option<AccountId> {
        self.ids.get(name).copied()
    }

    /// The name of account `id`. Panics on an id from another table.
    pub fn name(&self, id: AccountId) -> &str {
        &self.accounts[id.index()].name
    }

    /// The system account, if there is one.
    pub fn system(&self) -> Option<AccountId> {
        self.system
    }

    /// The limits of account `id`.
    pub fn limits(&self, id: AccountId) -> AccountLimits {
        self.accounts[id.index()].limits
    }

    /// Imports left out because nats-server would have refused them.
    pub fn import_errors(&self) -> &[ImportError] {
        &self.import_errors
    }

    /// True when publishes in `exporter` may feed some stream import (cheap check, so
    /// `$G` without imports pays nothing).
    pub fn has_stream_exports_imported(&self, exporter: AccountId) -> bool {
        !self.accounts[exporter.index()].stream_routes.is_empty()
    }

    /// Appends (importer, subject as the importer sees it) for every stream import a
    /// message published on `subject` in `exporter` reaches.
    ///
    /// The import subject is matched against `subject`'s tokens literally (a published
    /// `*` token is only matched by a wildcard), as nats-server's Sublist matches its
    /// shadow subscriptions. Deliver each result to the importer's subscribers only: no
    /// further stream imports, and none at all for a message that reached `exporter`
    /// through a service import (see the module docs).
    pub fn stream_targets(
        &self,
        exporter: AccountId,
        subject: &[u8],
        out: &mut Vec<(AccountId, Vec<u8>)>,
    ) {
        for route in &self.accounts[exporter.index()].stream_routes {
            if subject_matches(&route.from, subject) {
                out.push((route.importer, route.rename.apply(subject)));
            }
        }
    }

    /// True when `importer` has a service import.
    pub fn has_service_imports(&self, importer: AccountId) -> bool {
        !self.accounts[importer.index()].service_routes.is_empty()
    }

    /// A publish in `importer` on `subject` that matches a service import: the first
    /// matching import in configuration order. See [`Self::service_targets`] for all.
    pub fn service_target(&self, importer: AccountId, subject: &[u8]) -> Option<ServiceTarget> {
        self.accounts[importer.index()]
            .service_routes
            .iter()
            .find(|route| subject_matches(&route.from, subject))
            .map(|route| route.target(subject))
    }

    /// Appends every service import a publish in `importer` on `subject` matches, in
    /// configuration order. nats-server fires all of them (each is a subscription), for
    /// instance `foo.*` imported from one account and `foo.bar` from another.
    pub fn service_targets(
        &self,
        importer: AccountId,
        subject: &[u8],
        out: &mut Vec<ServiceTarget>,
    ) {
        out.extend(
            self.accounts[importer.index()]
                .service_routes
                .iter()
                .filter(|route| subject_matches(&route.from, subject))
                .map(|route| route.target(subject)),
        );
    }

    /// The local subjects (patterns) of `importer`'s service imports, in configuration
    /// order: what nats-server subscribes to internally (for interest propagation).
    pub fn service_import_subjects(&self, importer: AccountId) -> impl Iterator<Item = &[u8]> {
        self.accounts[importer.index()]
            .service_routes
            .iter()
            .map(|route| &*route.from)
    }
}

impl ServiceRoute {
    fn target(&self, subject: &[u8]) -> ServiceTarget {
        ServiceTarget {
            exporter: self.exporter,
            subject: self.rename.apply(subject),
            response_type: self.response_type,
        }
    }
}

#[cfg(test)]
mod tests;
