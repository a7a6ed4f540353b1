//! The permission vocabulary: every action the engine checks, as one list.
//!
//! The engine checks [`Action`] values (a typo is a compile error), the policy loader
//! accepts exactly the verbs of this list, and the console hides what a role lacks by the
//! same names: one list, so a permission the engine checks is always one a policy can grant.

use std::fmt;

macro_rules! actions {
    ($( $variant:ident = $kind:literal . $verb:literal, $mutating:literal, $doc:literal; )*) => {
        /// One permission, `kind.verb` (`container.stop`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $( #[doc = $doc] $variant, )*
        }

        impl Action {
            /// Every action, grouped by kind in a stable order.
            pub const ALL: &'static [Action] = &[ $( Action::$variant, )* ];

            /// `kind.verb`, as a policy file and the audit journal write it.
            pub const fn as_str(self) -> &'static str {
                match self { $( Action::$variant => concat!($kind, ".", $verb), )* }
            }

            /// The resource kind (`container`).
            pub const fn kind(self) -> &'static str {
                match self { $( Action::$variant => $kind, )* }
            }

            /// The verb (`stop`).
            pub const fn verb(self) -> &'static str {
                match self { $( Action::$variant => $verb, )* }
            }

            /// Does the action change state? (Allowed mutating calls are audited.)
            pub const fn is_mutating(self) -> bool {
                match self { $( Action::$variant => $mutating, )* }
            }

            /// One line for the help and the README.
            pub const fn describe(self) -> &'static str {
                match self { $( Action::$variant => $doc, )* }
            }
        }
    };
}

actions! {
    ContainerList = "container"."list", false, "list containers";
    ContainerInspect = "container"."inspect", false, "inspect a container";
    ContainerLogs = "container"."logs", false, "read a container's logs";
    ContainerStats = "container"."stats", false, "read a container's resource use";
    ContainerTop = "container"."top", false, "list a container's processes";
    ContainerDiff = "container"."diff", false, "list changes of a container's file system";
    ContainerExport = "container"."export", false, "export a container's file system";
    ContainerCreate = "container"."create", true, "create a container";
    ContainerStart = "container"."start", true, "start a container";
    ContainerStop = "container"."stop", true, "stop a container";
    ContainerRestart = "container"."restart", true, "restart a container";
    ContainerKill = "container"."kill", true, "send a signal to a container";
    ContainerPause = "container"."pause", true, "pause a container";
    ContainerUnpause = "container"."unpause", true, "resume a paused container";
    ContainerExec = "container"."exec", true, "run a process in a container";
    ContainerAttach = "container"."attach", true, "attach to a container's input and output";
    ContainerRemove = "container"."remove", true, "remove a container";
    ContainerRename = "container"."rename", true, "rename a container";
    ContainerUpdate = "container"."update", true, "change a container's limits";
    ContainerPrune = "container"."prune", true, "remove stopped containers";
    ContainerCp = "container"."cp", true, "copy files into or out of a container";
    ContainerCommit = "container"."commit", true, "make an image of a container";
    ContainerWait = "container"."wait", false, "wait for a container to stop";
    ImageList = "image"."list", false, "list images";
    ImageInspect = "image"."inspect", false, "inspect an image";
    ImageHistory = "image"."history", false, "show an image's history";
    ImagePull = "image"."pull", true, "pull an image from a registry";
    ImagePush = "image"."push", true, "push an image to a registry";
    ImageLoad = "image"."load", true, "load images from an archive";
    ImageImport = "image"."import", true, "import a root file system as an image";
    ImageSave = "image"."save", false, "save images to an archive";
    ImageTag = "image"."tag", true, "tag an image";
    ImageRemove = "image"."remove", true, "remove an image";
    ImagePrune = "image"."prune", true, "remove unused images";
    ImageBuild = "image"."build", true, "build an image";
    NetworkList = "network"."list", false, "list networks";
    NetworkInspect = "network"."inspect", false, "inspect a network";
    NetworkCreate = "network"."create", true, "create a network";
    NetworkRemove = "network"."remove", true, "remove a network";
    NetworkConnect = "network"."connect", true, "connect a container to a network";
    NetworkDisconnect = "network"."disconnect", true, "disconnect a container from a network";
    NetworkPrune = "network"."prune", true, "remove unused networks";
    VolumeList = "volume"."list", false, "list volumes";
    VolumeInspect = "volume"."inspect", false, "inspect a volume";
    VolumeCreate = "volume"."create", true, "create a volume";
    VolumeRemove = "volume"."remove", true, "remove a volume";
    VolumePrune = "volume"."prune", true, "remove unused volumes";
    EventsRead = "events"."read", false, "follow the event stream";
    AuditRead = "audit"."read", false, "read the audit journal";
    AuditVerify = "audit"."verify", false, "verify the audit journal";
    AuditTrace = "audit"."trace", false, "follow every user's engine calls live (the API trace)";
    PolicyRead = "policy"."read", false, "read the policy";
    PolicyWrite = "policy"."write", true, "change the policy";
    PolicyPreview = "policy"."preview", true, "act as another user (--as)";
    SystemInfo = "system"."info", false, "read engine and host information";
    SystemDf = "system"."df", false, "read disk usage";
    SystemPrune = "system"."prune", true, "remove everything unused";
}

impl Action {
    /// The resource kinds, in the order of [`Action::ALL`].
    pub fn kinds() -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for a in Action::ALL {
            if !out.contains(&a.kind()) {
                out.push(a.kind());
            }
        }
        out
    }

    /// The verbs of `kind`, in order.
    pub fn verbs_of(kind: &str) -> Vec<&'static str> {
        Action::ALL
            .iter()
            .filter(|a| a.kind() == kind)
            .map(|a| a.verb())
            .collect()
    }

    /// The action named `kind.verb`, if it is one.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Audit-only action names: things that are recorded but are not permissions a role can
/// be granted.
pub mod audit_only {
    /// A connection from a user the policy does not admit (counted per uid, not one
    /// line per connection).
    pub const CONNECT: &str = "engine.connect";
    /// The policy file changed on disk and was put in force (or refused, and the policy
    /// in force stayed).
    pub const POLICY_RELOAD: &str = "policy.reload";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert!(seen.insert(a.as_str()), "{a} twice");
            assert_eq!(Action::parse(a.as_str()), Some(*a));
            assert_eq!(format!("{}.{}", a.kind(), a.verb()), a.as_str());
        }
        assert_eq!(Action::parse("container.archive"), None);
        assert_eq!(Action::ContainerCp.as_str(), "container.cp");
        assert!(Action::kinds().contains(&"policy"));
    }
}
