//! The engine worker: blocking engine calls on threads, their answers back to the loop
//! as [`Msg`]s. Nothing here waits on the engine in the draw path.

use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;
use wharf_engine::{Caller, Engine};

use super::msg::Msg;

/// Runs blocking engine calls on threads and sends [`Msg`]s back.
#[derive(Clone)]
pub struct Worker {
    pub engine: Arc<dyn Engine>,
    pub caller: Caller,
    pub tx: UnboundedSender<Msg>,
}

impl Worker {
    /// For tests: a worker on the embedded engine over the temporary root `dir`, as
    /// root, and the receiving end of its messages (keep it to keep the channel open).
    #[cfg(test)]
    pub fn on_temp_root(
        dir: &std::path::Path,
    ) -> (Worker, tokio::sync::mpsc::UnboundedReceiver<Msg>) {
        let engine = wharf_engine::LocalEngine::open(dir, wharf_engine::EngineOptions::default())
            .expect("engine on a temp root");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let w = Worker {
            engine: Arc::new(engine),
            caller: Caller::root(),
            tx,
        };
        (w, rx)
    }

    /// Run `f` on a thread; its message goes back to the loop.
    pub fn run(&self, f: impl FnOnce(&dyn Engine, &Caller) -> Msg + Send + 'static) {
        let w = self.clone();
        std::thread::spawn(move || {
            let m = f(w.engine.as_ref(), &w.caller);
            let _ = w.tx.send(m);
        });
    }

    /// Run `f` on a thread that may send many messages (a stream, a log being followed).
    pub fn stream(
        &self,
        f: impl FnOnce(&dyn Engine, &Caller, &UnboundedSender<Msg>) + Send + 'static,
    ) {
        let w = self.clone();
        std::thread::spawn(move || f(w.engine.as_ref(), &w.caller, &w.tx));
    }
}
