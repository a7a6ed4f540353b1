//! Registry browsing and accounts calls of [`RemoteEngine`]: the same methods on the
//! server's socket, judged there by the caller's own identity.

use serde_json::json;

use super::client::RemoteEngine;
use crate::api::{
    AccountsApi, Connections, NamePage, PageRequest, PolicyChange, PolicyView, RegistryBrowseApi,
    RegistryEntry, RemoteManifest, TagDeletion, Usage,
};
use crate::caller::Caller;
use crate::error::Result;

impl RegistryBrowseApi for RemoteEngine {
    fn registry_list(&self, _caller: &Caller) -> Result<Vec<RegistryEntry>> {
        self.call("registry_list", json!([]))
    }
    fn registry_catalog(
        &self,
        _caller: &Caller,
        registry: &str,
        page: &PageRequest,
    ) -> Result<NamePage> {
        self.call("registry_catalog", json!([registry, page]))
    }
    fn registry_tags(
        &self,
        _caller: &Caller,
        repository: &str,
        page: &PageRequest,
    ) -> Result<NamePage> {
        self.call("registry_tags", json!([repository, page]))
    }
    fn registry_manifest(
        &self,
        _caller: &Caller,
        reference: &str,
        platform: Option<&str>,
    ) -> Result<RemoteManifest> {
        self.call("registry_manifest", json!([reference, platform]))
    }
    fn registry_delete(&self, _caller: &Caller, reference: &str) -> Result<TagDeletion> {
        self.call("registry_delete", json!([reference]))
    }
}

impl AccountsApi for RemoteEngine {
    fn policy_read(&self, _caller: &Caller) -> Result<PolicyView> {
        self.call("policy_read", json!([]))
    }
    fn policy_write(
        &self,
        _caller: &Caller,
        text: &str,
        base: Option<&str>,
    ) -> Result<PolicyChange> {
        self.call("policy_write", json!([text, base]))
    }
    fn connections(&self, _caller: &Caller) -> Result<Connections> {
        self.call("connections", json!([]))
    }
    fn account_usage(&self, _caller: &Caller) -> Result<Vec<Usage>> {
        self.call("account_usage", json!([]))
    }
}
