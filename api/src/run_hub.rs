//! The in-process meeting point of `paas run` sessions: the user's and the
//! agent's WebSocket for one run arrive separately (either first) and are
//! handed over together; nodes waiting in their claim long poll are woken
//! when a run is placed on them.
//!
//! Pairing is per API process: both sockets of a session must reach the
//! same replica (one replica, or sticky routing by run id). The wakeups are
//! a shortcut only: a claim also polls the database every second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use uuid::Uuid;

/// Which end of a session a socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    User,
    Agent,
}

/// What [`RunHub::arrive`] did with a socket.
pub enum Arrival<S> {
    /// The other side was waiting: relay between them now.
    Paired { user: S, agent: S },
    /// Parked until the other side comes (or `limit` passes).
    Parked,
}

struct Parked<S> {
    side: Side,
    socket: S,
    generation: u64,
}

/// Parked sockets by run id, and wakeups by node id.
pub struct RunHub<S> {
    parked: Mutex<HashMap<Uuid, Parked<S>>>,
    wakeups: Mutex<HashMap<Uuid, Arc<Notify>>>,
    generation: Mutex<u64>,
}

impl<S> Default for RunHub<S> {
    fn default() -> Self {
        RunHub { parked: Mutex::default(), wakeups: Mutex::default(), generation: Mutex::new(0) }
    }
}

impl<S: Send + 'static> RunHub<S> {
    /// A socket of `side` for `run` arrives: paired with the other side when
    /// that one waits, else parked. A parked socket still alone after
    /// `limit` is handed to `expired` (to tell its peer never came).
    pub fn arrive(
        self: &Arc<Self>,
        run: Uuid,
        side: Side,
        socket: S,
        limit: Duration,
        expired: impl FnOnce(S) + Send + 'static,
    ) -> Arrival<S> {
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        match parked.remove(&run) {
            Some(other) if other.side != side => {
                return match side {
                    Side::User => Arrival::Paired { user: socket, agent: other.socket },
                    Side::Agent => Arrival::Paired { user: other.socket, agent: socket },
                };
            }
            // The same side again (a reconnect) replaces the stale socket.
            _ => {}
        }
        let generation = {
            let mut g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
            *g += 1;
            *g
        };
        parked.insert(run, Parked { side, socket, generation });
        drop(parked);
        let hub = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            let mut parked = hub.parked.lock().unwrap_or_else(|e| e.into_inner());
            if parked.get(&run).is_some_and(|p| p.generation == generation) {
                if let Some(p) = parked.remove(&run) {
                    drop(parked);
                    expired(p.socket);
                }
            }
        });
        Arrival::Parked
    }

    /// The wakeup of a node's claim long poll.
    pub fn wakeup(&self, node: Uuid) -> Arc<Notify> {
        self.wakeups.lock().unwrap_or_else(|e| e.into_inner()).entry(node).or_default().clone()
    }

    /// Wakes the node's claim long poll (a run was placed on it).
    pub fn wake(&self, node: Uuid) {
        self.wakeup(node).notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_second_side_gets_both_sockets_whichever_comes_first() {
        let hub = Arc::new(RunHub::<&'static str>::default());
        let run = Uuid::new_v4();
        assert!(matches!(hub.arrive(run, Side::Agent, "agent", Duration::from_secs(5), drop), Arrival::Parked));
        match hub.arrive(run, Side::User, "user", Duration::from_secs(5), drop) {
            Arrival::Paired { user, agent } => assert_eq!((user, agent), ("user", "agent")),
            Arrival::Parked => panic!("the agent was waiting"),
        }
    }

    #[tokio::test]
    async fn a_lonely_socket_expires() {
        let hub = Arc::new(RunHub::<&'static str>::default());
        let (tx, rx) = tokio::sync::oneshot::channel();
        let run = Uuid::new_v4();
        hub.arrive(run, Side::User, "user", Duration::from_millis(20), move |s| {
            let _ = tx.send(s);
        });
        assert_eq!(tokio::time::timeout(Duration::from_secs(2), rx).await.unwrap().unwrap(), "user");
        assert!(matches!(hub.arrive(run, Side::Agent, "agent", Duration::from_secs(5), drop), Arrival::Parked));
    }
}
