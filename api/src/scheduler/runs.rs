//! Where a one-off process runs, as a pure function: a live node with room
//! for its size; among those, one that already holds the release's image
//! (it ran or built it, so nothing is rebuilt), then the least loaded, then
//! by name. Any live node can take it: one without the image rebuilds it
//! from the build's stored source.

use paas_types::Size;
use uuid::Uuid;

/// A live node as run placement sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRoom {
    pub id: Uuid,
    pub name: String,
    pub memory_mb: i32,
    /// Memory of everything it is asked to run.
    pub used_mb: i64,
    pub has_image: bool,
}

/// The node to run a process of `size` on, if any has room.
pub fn pick_node(nodes: &[RunRoom], size: Size) -> Option<Uuid> {
    let need = i64::from(size.memory_mb());
    nodes
        .iter()
        .filter(|n| i64::from(n.memory_mb) - n.used_mb >= need)
        .min_by(|a, b| {
            let load = |n: &RunRoom| n.used_mb as f64 / f64::from(n.memory_mb.max(1));
            (!a.has_image).cmp(&!b.has_image).then(load(a).total_cmp(&load(b))).then_with(|| a.name.cmp(&b.name))
        })
        .map(|n| n.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, memory_mb: i32, used_mb: i64, has_image: bool) -> RunRoom {
        RunRoom { id: Uuid::new_v4(), name: name.into(), memory_mb, used_mb, has_image }
    }

    #[test]
    fn a_node_with_the_image_wins_then_the_least_loaded() {
        let (a, b, c) = (node("a", 4096, 512, false), node("b", 4096, 3000, true), node("c", 4096, 0, false));
        assert_eq!(pick_node(&[a.clone(), b.clone(), c.clone()], Size::Standard), Some(b.id), "has the image");
        assert_eq!(pick_node(&[a.clone(), c.clone()], Size::Standard), Some(c.id), "least loaded");
        let full = node("full", 1024, 800, true);
        assert_eq!(pick_node(&[full.clone(), a.clone()], Size::Standard), Some(a.id), "no room on full");
        assert_eq!(pick_node(&[full], Size::Small), None, "256 MiB do not fit in 224");
        assert_eq!(pick_node(&[], Size::Small), None);
    }

    #[test]
    fn ties_go_by_name() {
        let (x, y) = (node("y", 2048, 0, false), node("x", 2048, 0, false));
        assert_eq!(pick_node(&[x.clone(), y.clone()], Size::Large), Some(y.id));
    }
}
