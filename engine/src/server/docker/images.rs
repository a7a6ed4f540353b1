//! Docker API: images.

use serde_json::{json, Value};

use super::{unsupported, Call, Handled};
use crate::api::ImageSummary;
use crate::server::bridge::Responder;

/// `list`.
#[allow(unused_variables)]
pub fn list(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("images list", "not there yet"))
}

/// `create`.
#[allow(unused_variables)]
pub fn create(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("images create", "not there yet"))
}

/// `load`.
#[allow(unused_variables)]
pub fn load(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("images load", "not there yet"))
}

/// `save`.
#[allow(unused_variables)]
pub fn save(c: &mut Call, out: &mut Responder, name: Option<&str>) -> Handled {
    Err(unsupported("images save", "not there yet"))
}

/// `prune`.
#[allow(unused_variables)]
pub fn prune(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("images prune", "not there yet"))
}

/// `search`.
#[allow(unused_variables)]
pub fn search(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("images search", "not there yet"))
}

/// `commit`.
#[allow(unused_variables)]
pub fn commit(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("images commit", "not there yet"))
}

/// `build_prune`.
#[allow(unused_variables)]
pub fn build_prune(c: &mut Call, out: &mut Responder) -> Handled {
    Err(unsupported("images build_prune", "not there yet"))
}

/// `by_name`.
#[allow(unused_variables)]
pub fn by_name(c: &mut Call, out: &mut Responder, m: &http::Method, seg: &[&str]) -> Handled {
    Err(unsupported("images by_name", "not there yet"))
}

/// A reference as Docker clients show it (`busybox:latest`, `localhost:5000/x:1`).
pub fn familiar(r: &str) -> String {
    crate::image::Reference::parse(r)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| r.to_string())
}

/// A row of `GET /images/json`, in Docker's shape.
pub fn summary_json(i: &ImageSummary) -> Value {
    json!({
        "Id": i.id,
        "ParentId": "",
        "RepoTags": i.repo_tags.iter().map(|t| familiar(t)).collect::<Vec<_>>(),
        "RepoDigests": i.repo_digests.iter().map(|t| familiar(t)).collect::<Vec<_>>(),
        "Created": i.created,
        "Size": i.size,
        "SharedSize": -1,
        "VirtualSize": i.size,
        "Labels": {},
        "Containers": i.containers,
    })
}
