//! Images: references, the content store, layers, load/import/save, registries, the demo image.
pub mod registry;
