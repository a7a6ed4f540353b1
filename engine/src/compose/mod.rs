//! Compose stacks, on the engine API.
//!
//! A compose project is not an engine object: it is the set of containers, networks
//! and volumes that carry the project's labels, written as `docker compose` writes
//! them (`com.docker.compose.project`, `.service`, `.container-number`, `.oneoff`,
//! `.config-hash`, ...). So a stack made by docker-compose through wharf's Docker API
//! socket and one made by `wharf compose` are the same thing to both tools, and every
//! call goes through [`Engine`](crate::api::Engine) with the caller: a project belongs
//! to whoever created its containers, a `user` sees and acts on their own projects
//! only, and the role's constraints are checked for every service before anything is
//! created (a check-only [`ContainerCreate`](crate::api::ContainerCreate) per service).
//! It works the same on the embedded engine and through `--host`.
//!
//! - [`load`]: files, `.env`, interpolation, merging, `extends`, profiles → [`Project`];
//! - [`ops`]: up, down, start/stop/restart/pause/unpause/kill/rm, pull;
//! - [`status`]: projects, services and containers with state, health, ports and drift
//!   (what a stacks pane lists).
//!
//! Container names are `<project>-<service>-<n>` as `docker compose` v2 names them;
//! containers are found by labels only, so docker-compose 1.29's `<project>_<service>_<n>`
//! containers are found (and named in messages) as they are.

pub mod interp;
pub mod load;
pub mod ops;
pub mod spec;
pub mod status;
pub mod yaml;

pub use load::{load, LoadOptions};
pub use ops::{Progress, UpOptions};
pub use spec::{Project, Service};
pub use status::{ContainerState, ProjectSummary, ServiceState};

/// The project a container, network or volume belongs to.
pub const LABEL_PROJECT: &str = "com.docker.compose.project";
/// The service of a container.
pub const LABEL_SERVICE: &str = "com.docker.compose.service";
/// 1, 2, 3 ... among a service's replicas.
pub const LABEL_NUMBER: &str = "com.docker.compose.container-number";
/// `True` for `compose run` containers, `False` otherwise.
pub const LABEL_ONEOFF: &str = "com.docker.compose.oneoff";
/// The hash of the service's configuration the container was made from.
pub const LABEL_HASH: &str = "com.docker.compose.config-hash";
/// The project directory.
pub const LABEL_WORKDIR: &str = "com.docker.compose.project.working_dir";
/// The compose files, comma-separated.
pub const LABEL_FILES: &str = "com.docker.compose.project.config_files";
/// The version of the tool that made the object.
pub const LABEL_VERSION: &str = "com.docker.compose.version";
/// The network's key in the file.
pub const LABEL_NETWORK: &str = "com.docker.compose.network";
/// The volume's key in the file.
pub const LABEL_VOLUME: &str = "com.docker.compose.volume";
/// Services this one depends on (v2), `svc:condition:restart,...`.
pub const LABEL_DEPENDS: &str = "com.docker.compose.depends_on";
/// The image as written in the file.
pub const LABEL_IMAGE: &str = "com.docker.compose.image";

/// The version written in [`LABEL_VERSION`]: the compose generation wharf follows (v2
/// names and labels). docker-compose 1.29 compares it as a version number (below 1.21
/// it looks for legacy names), so it must read as one.
pub const VERSION: &str = "2.0.0";

/// `label=com.docker.compose.project=NAME`, as a list filter.
pub fn project_filter(project: &str) -> (String, String) {
    ("label".into(), format!("{LABEL_PROJECT}={project}"))
}
