//! Runtime: containers, their monitor, namespaces, rootfs, cgroups, security, logs.
