//! wharf-views: everything that draws. Panes take view-models (plain data, mostly the
//! engine's API types) and draw them into a ratatui frame; they read no files and call
//! no engine.
