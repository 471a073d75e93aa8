//! The scheduler's decision as a pure function: from an app's formation, its
//! current release, its instances and the nodes, which instances to start
//! where and which to stop. No I/O, so every rule is a table-driven test.
//!
//! Rules:
//! - instances of the current release and size are "new", the rest "old";
//!   for an app pinned to a node (it has volumes there), only instances on
//!   that node are new;
//! - missing new instances go to the live node with room that runs the
//!   fewest of this app's instances, then the least loaded, then by name;
//!   a pinned app's go to its node only: when that node is down or full
//!   they stay unplaced rather than start elsewhere without their data;
//! - surplus new instances stop, those not yet running first, then newest;
//! - old instances of a process type stop only once the release is promoted
//!   (every process type healthy, see `promotion`) and its new ones all
//!   run, so a release that never gets healthy leaves the previous one
//!   serving;
//! - process types no longer in the formation (or the release) stop.

use std::collections::BTreeMap;

use paas_types::{ActualState, NodeState, Size};
use uuid::Uuid;

use crate::db::apps::FormationRow;
use crate::db::instances::ScheduledRow;
use crate::db::placement::{NodeCapacityRow, PlacedRow};

/// The release being rolled out.
#[derive(Debug, Clone)]
pub struct Rollout {
    pub release_id: Uuid,
    /// Process types the release's build defines (name -> command).
    pub process_types: BTreeMap<String, String>,
    /// Whether every process type came up healthy (old instances may stop).
    pub promoted: bool,
}

/// A node as placement sees it: capacity, and what it already runs.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRoom {
    pub id: Uuid,
    pub name: String,
    pub state: NodeState,
    pub memory_mb: i32,
    /// Memory of every instance wanted running on the node.
    pub used_mb: i64,
    /// How many of them belong to the app being planned.
    pub app_instances: usize,
}

/// One instance to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub process_type: String,
    pub size: Size,
    pub node_id: Uuid,
}

/// What to change; empty when the app is where it should be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub start: Vec<Start>,
    pub stop: Vec<Uuid>,
    /// Instances no live node had room for, by process type and size.
    pub unplaced: Vec<(String, Size)>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.start.is_empty() && self.stop.is_empty() && self.unplaced.is_empty()
    }
}

/// The nodes' rooms for `app_id`, from their capacity and what is placed.
pub fn rooms(app_id: Uuid, nodes: &[NodeCapacityRow], placed: &[PlacedRow]) -> Vec<NodeRoom> {
    nodes
        .iter()
        .map(|node| {
            let here = placed.iter().filter(|p| p.node_id == node.id);
            NodeRoom {
                id: node.id,
                name: node.name.clone(),
                state: node.state,
                memory_mb: node.memory_mb,
                used_mb: here.clone().map(|p| i64::from(p.size.memory_mb())).sum(),
                app_instances: here.filter(|p| p.app_id == app_id).count(),
            }
        })
        .collect()
}

/// Decides the changes for one app. `instances` are those wanted running,
/// oldest first; `nodes` may be empty when only stops are being weighed
/// (every start then lands in `unplaced`). `pin` is the node holding the
/// app's volumes, if it has any.
pub fn plan(
    formation: &[FormationRow],
    rollout: &Rollout,
    instances: &[ScheduledRow],
    nodes: &[NodeRoom],
    pin: Option<Uuid>,
) -> Plan {
    let mut nodes = nodes.to_vec();
    let mut plan = Plan::default();
    for row in formation {
        let quantity =
            if rollout.process_types.contains_key(&row.process_type) { row.quantity.max(0) as usize } else { 0 };
        let (new, old): (Vec<&ScheduledRow>, Vec<&ScheduledRow>) =
            instances.iter().filter(|i| i.process_type == row.process_type).partition(|i| {
                i.release_id == rollout.release_id && i.size == row.size && pin.is_none_or(|p| i.node_id == Some(p))
            });
        for _ in new.len()..quantity {
            match place(&mut nodes, row.size, pin) {
                Some(node_id) => {
                    plan.start.push(Start { process_type: row.process_type.clone(), size: row.size, node_id })
                }
                None => plan.unplaced.push((row.process_type.clone(), row.size)),
            }
        }
        // Surplus: newest first, but those not running before those running.
        let mut surplus: Vec<&&ScheduledRow> = new.iter().rev().collect();
        surplus.sort_by_key(|i| i.actual_state == ActualState::Running);
        plan.stop.extend(surplus.iter().take(new.len().saturating_sub(quantity)).map(|i| i.id));
        let new_running = new.iter().filter(|i| i.actual_state == ActualState::Running).count();
        if quantity == 0 || (rollout.promoted && new_running >= quantity) {
            plan.stop.extend(old.iter().map(|i| i.id));
        }
    }
    let dropped = instances.iter().filter(|i| !formation.iter().any(|f| f.process_type == i.process_type));
    plan.stop.extend(dropped.map(|i| i.id));
    plan
}

/// Picks the node for one more instance of `size` (on `pin` only, when
/// set) and books its room.
fn place(nodes: &mut [NodeRoom], size: Size, pin: Option<Uuid>) -> Option<Uuid> {
    let need = i64::from(size.memory_mb());
    let node = nodes
        .iter_mut()
        .filter(|n| pin.is_none_or(|p| n.id == p))
        .filter(|n| n.state == NodeState::Up && i64::from(n.memory_mb) - n.used_mb >= need)
        .min_by(|a, b| (a.app_instances, a.used_mb, &a.name).cmp(&(b.app_instances, b.used_mb, &b.name)))?;
    node.used_mb += need;
    node.app_instances += 1;
    Some(node.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: Uuid = Uuid::from_u128(0x100);
    const OLD_RELEASE: Uuid = Uuid::from_u128(0x99);

    fn node(n: u128, memory_mb: i32, used_mb: i64, app_instances: usize, state: NodeState) -> NodeRoom {
        NodeRoom { id: Uuid::from_u128(n), name: format!("node-{n}"), state, memory_mb, used_mb, app_instances }
    }

    fn want(process_type: &str, quantity: i32, size: Size) -> FormationRow {
        FormationRow { process_type: process_type.into(), quantity, size }
    }

    fn instance(n: u128, release_id: Uuid, process_type: &str, state: ActualState, size: Size) -> ScheduledRow {
        ScheduledRow {
            id: Uuid::from_u128(n),
            release_id,
            process_type: process_type.into(),
            actual_state: state,
            size,
            restarts: 0,
            ready_at: None,
            node_id: None,
        }
    }

    fn on(mut instance: ScheduledRow, node: u128) -> ScheduledRow {
        instance.node_id = Some(Uuid::from_u128(node));
        instance
    }

    fn rollout(types: &[&str]) -> Rollout {
        Rollout {
            release_id: RELEASE,
            process_types: types.iter().map(|t| (t.to_string(), format!("run {t}"))).collect(),
            promoted: true,
        }
    }

    fn started_on(plan: &Plan) -> Vec<u128> {
        plan.start.iter().map(|s| s.node_id.as_u128()).collect()
    }

    fn stopped(plan: &Plan) -> Vec<u128> {
        plan.stop.iter().map(|id| id.as_u128()).collect()
    }

    use ActualState::{Running, Starting};
    use NodeState::{Down, Draining, Up};
    use Size::{Large, Small, Standard};

    struct Case {
        name: &'static str,
        formation: Vec<FormationRow>,
        instances: Vec<ScheduledRow>,
        nodes: Vec<NodeRoom>,
        started_on: Vec<u128>,
        stopped: Vec<u128>,
        unplaced: usize,
        /// The node holding the app's volumes.
        pin: Option<Uuid>,
    }

    #[test]
    fn table() {
        let cases = vec![
            Case {
                name: "spreads an app over nodes before doubling up",
                formation: vec![want("web", 3, Standard)],
                instances: vec![],
                nodes: vec![node(1, 4096, 0, 0, Up), node(2, 4096, 0, 0, Up), node(3, 4096, 0, 0, Up)],
                started_on: vec![1, 2, 3],
                stopped: vec![],
                unplaced: 0,
                pin: None,
            },
            Case {
                name: "prefers the node with fewer of this app's instances, then the less loaded",
                formation: vec![want("web", 2, Standard)],
                instances: vec![],
                nodes: vec![node(1, 4096, 0, 2, Up), node(2, 4096, 2048, 0, Up), node(3, 4096, 1024, 0, Up)],
                started_on: vec![3, 2],
                stopped: vec![],
                unplaced: 0,
                pin: None,
            },
            Case {
                name: "respects memory capacity and reports what does not fit",
                formation: vec![want("web", 3, Large)],
                instances: vec![],
                nodes: vec![node(1, 2048, 0, 0, Up), node(2, 1536, 1024, 0, Up)],
                started_on: vec![1, 1],
                stopped: vec![],
                unplaced: 1,
                pin: None,
            },
            Case {
                name: "never places on nodes that are down or draining",
                formation: vec![want("web", 2, Small)],
                instances: vec![],
                nodes: vec![node(1, 4096, 0, 0, Down), node(2, 4096, 0, 0, Draining), node(3, 4096, 0, 0, Up)],
                started_on: vec![3, 3],
                stopped: vec![],
                unplaced: 0,
                pin: None,
            },
            Case {
                name: "no live node at all: everything is unplaced",
                formation: vec![want("web", 2, Standard)],
                instances: vec![],
                nodes: vec![node(1, 4096, 0, 0, Down)],
                started_on: vec![],
                stopped: vec![],
                unplaced: 2,
                pin: None,
            },
            Case {
                name: "scale down stops the newest first",
                formation: vec![want("web", 1, Standard)],
                instances: vec![
                    instance(10, RELEASE, "web", Running, Standard),
                    instance(11, RELEASE, "web", Running, Standard),
                    instance(12, RELEASE, "web", Running, Standard),
                ],
                nodes: vec![node(1, 4096, 1536, 3, Up)],
                started_on: vec![],
                stopped: vec![12, 11],
                unplaced: 0,
                pin: None,
            },
            Case {
                name: "scale down stops instances not yet running before running ones",
                formation: vec![want("web", 1, Standard)],
                instances: vec![
                    instance(10, RELEASE, "web", Starting, Standard),
                    instance(11, RELEASE, "web", Running, Standard),
                ],
                nodes: vec![node(1, 4096, 1024, 2, Up)],
                started_on: vec![],
                stopped: vec![10],
                unplaced: 0,
                pin: None,
            },
            Case {
                name: "a rollout keeps the old release until the new one runs",
                formation: vec![want("web", 1, Standard)],
                instances: vec![
                    instance(10, OLD_RELEASE, "web", Running, Standard),
                    instance(11, RELEASE, "web", Starting, Standard),
                ],
                nodes: vec![node(1, 4096, 1024, 2, Up)],
                started_on: vec![],
                stopped: vec![],
                unplaced: 0,
                pin: None,
            },
            Case {
                name: "once the new release runs, the old one stops",
                formation: vec![want("web", 1, Standard)],
                instances: vec![
                    instance(10, OLD_RELEASE, "web", Running, Standard),
                    instance(11, RELEASE, "web", Running, Standard),
                ],
                nodes: vec![node(1, 4096, 1024, 2, Up)],
                started_on: vec![],
                stopped: vec![10],
                unplaced: 0,
                pin: None,
            },
            Case {
                name: "a size change is a rollout too",
                formation: vec![want("web", 1, Large)],
                instances: vec![instance(10, RELEASE, "web", Running, Standard)],
                nodes: vec![node(1, 4096, 512, 1, Up)],
                started_on: vec![1],
                stopped: vec![],
                unplaced: 0,
                pin: None,
            },
            Case {
                name: "process types gone from the formation or the release stop",
                formation: vec![want("web", 1, Standard), want("clock", 1, Standard)],
                instances: vec![
                    instance(10, RELEASE, "web", Running, Standard),
                    instance(11, RELEASE, "worker", Running, Standard),
                    instance(12, RELEASE, "clock", Running, Standard),
                ],
                nodes: vec![node(1, 4096, 1536, 3, Up)],
                started_on: vec![],
                stopped: vec![12, 11],
                unplaced: 0,
                pin: None,
            },
            Case {
                name: "nothing to do",
                formation: vec![want("web", 2, Standard), want("worker", 0, Standard)],
                instances: vec![
                    instance(10, RELEASE, "web", Running, Standard),
                    instance(11, RELEASE, "web", Running, Standard),
                ],
                nodes: vec![node(1, 4096, 1024, 2, Up)],
                started_on: vec![],
                stopped: vec![],
                unplaced: 0,
                pin: None,
            },
            Case {
                name: "an app with a volume runs only on the volume's node, even when others are emptier",
                formation: vec![want("web", 3, Standard)],
                instances: vec![],
                nodes: vec![node(1, 4096, 0, 0, Up), node(2, 4096, 3072, 0, Up), node(3, 4096, 0, 0, Up)],
                started_on: vec![2, 2],
                stopped: vec![],
                unplaced: 1,
                pin: Some(Uuid::from_u128(2)),
            },
            Case {
                name: "the volume's node is down: nothing starts elsewhere, the app waits for it",
                formation: vec![want("web", 2, Standard)],
                instances: vec![],
                nodes: vec![node(1, 4096, 0, 0, Down), node(2, 4096, 0, 0, Up)],
                started_on: vec![],
                stopped: vec![],
                unplaced: 2,
                pin: Some(Uuid::from_u128(1)),
            },
            Case {
                name: "a new volume moves the app: instances elsewhere are old, replaced on its node first",
                formation: vec![want("web", 2, Standard)],
                instances: vec![
                    on(instance(10, RELEASE, "web", Running, Standard), 1),
                    on(instance(11, RELEASE, "web", Running, Standard), 2),
                ],
                nodes: vec![node(1, 4096, 512, 1, Up), node(2, 4096, 512, 1, Up)],
                started_on: vec![2],
                stopped: vec![],
                unplaced: 0,
                pin: Some(Uuid::from_u128(2)),
            },
            Case {
                name: "once they run on the volume's node, the instances elsewhere stop",
                formation: vec![want("web", 2, Standard)],
                instances: vec![
                    on(instance(10, RELEASE, "web", Running, Standard), 1),
                    on(instance(11, RELEASE, "web", Running, Standard), 2),
                    on(instance(12, RELEASE, "web", Running, Standard), 2),
                ],
                nodes: vec![node(1, 4096, 512, 1, Up), node(2, 4096, 1024, 2, Up)],
                started_on: vec![],
                stopped: vec![10],
                unplaced: 0,
                pin: Some(Uuid::from_u128(2)),
            },
        ];
        for case in cases {
            let plan = plan(&case.formation, &rollout(&["web", "worker"]), &case.instances, &case.nodes, case.pin);
            assert_eq!(started_on(&plan), case.started_on, "{}: starts", case.name);
            assert_eq!(stopped(&plan), case.stopped, "{}: stops", case.name);
            assert_eq!(plan.unplaced.len(), case.unplaced, "{}: unplaced", case.name);
        }
    }

    #[test]
    fn a_pending_release_leaves_the_old_one_serving() {
        let formation = [want("web", 1, Standard)];
        let instances =
            [instance(10, OLD_RELEASE, "web", Running, Standard), instance(11, RELEASE, "web", Running, Standard)];
        let pending = Rollout { promoted: false, ..rollout(&["web"]) };
        assert!(plan(&formation, &pending, &instances, &[], None).is_empty());
        assert_eq!(stopped(&plan(&formation, &rollout(&["web"]), &instances, &[], None)), vec![10]);
    }

    #[test]
    fn nothing_to_do_is_an_empty_plan() {
        let formation = [want("web", 1, Standard)];
        let instances = [instance(10, RELEASE, "web", Running, Standard)];
        assert!(plan(&formation, &rollout(&["web"]), &instances, &[], None).is_empty());
    }

    #[test]
    fn rooms_sum_memory_per_node_and_count_the_apps_own() {
        let app = Uuid::from_u128(7);
        let other = Uuid::from_u128(8);
        let nodes = [
            NodeCapacityRow { id: Uuid::from_u128(1), name: "a".into(), memory_mb: 4096, state: Up },
            NodeCapacityRow { id: Uuid::from_u128(2), name: "b".into(), memory_mb: 2048, state: Down },
        ];
        let placed = [
            PlacedRow { node_id: Uuid::from_u128(1), app_id: app, size: Small },
            PlacedRow { node_id: Uuid::from_u128(1), app_id: other, size: Large },
            PlacedRow { node_id: Uuid::from_u128(2), app_id: app, size: Standard },
        ];
        let rooms = rooms(app, &nodes, &placed);
        assert_eq!((rooms[0].used_mb, rooms[0].app_instances), (256 + 1024, 1));
        assert_eq!((rooms[1].used_mb, rooms[1].app_instances, rooms[1].state), (512, 1, Down));
    }
}
