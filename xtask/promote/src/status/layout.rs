//! A layered drawing of the dependency graph (the Sugiyama scheme): each component in the
//! column of its longest dependency chain, an edge longer than one column routed through a
//! reserved slot in every column it crosses, rows ordered to cross few edges. Geometry only;
//! `svg.rs` draws it.
//!
//! No edge passes behind a box it does not join: between columns there are no boxes, and
//! inside a column an edge runs only along its own slot, which no box shares.

use std::collections::BTreeMap;

/// Sizes of the drawing, in SVG user units.
pub const NODE_W: f64 = 196.0;
pub const NODE_H: f64 = 40.0;
/// The space between two columns, where edges change rows.
const GAP_X: f64 = 64.0;
/// The height of a slot an edge passes a column through.
const SLOT_H: f64 = 12.0;
const GAP_Y: f64 = 12.0;
pub const PAD: f64 = 12.0;

/// A box: its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    pub x: f64,
    pub y: f64,
}

/// One edge, from a dependency to a component that needs it, as the points of a polyline:
/// out of the right side of `from`'s box, into the left side of `to`'s.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub from: usize,
    pub to: usize,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// By node index, as given.
    pub boxes: Vec<Place>,
    pub routes: Vec<Route>,
    pub width: f64,
    pub height: f64,
}

/// An entry of a column: a component's box, or the slot of an edge passing through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Node(usize),
    /// The slot of edge `edge` in this column.
    Slot(usize),
}

/// Lays out `count` nodes with `edges` (dependency, dependent) by index. Edges that would go
/// right to left (a cycle the registry refused, but the input is not trusted) are dropped.
pub fn layout(count: usize, edges: &[(usize, usize)]) -> Layout {
    let column = columns(count, edges);
    let edges: Vec<(usize, usize)> = edges
        .iter()
        .copied()
        .filter(|&(from, to)| from < count && to < count && column[from] < column[to])
        .collect();
    let columns_used = column.iter().max().map_or(1, |m| m + 1);
    let mut order: Vec<Vec<Item>> = vec![Vec::new(); columns_used];
    for (node, &c) in column.iter().enumerate() {
        order[c].push(Item::Node(node));
    }
    for (edge, &(from, to)) in edges.iter().enumerate() {
        for slot_column in order.iter_mut().take(column[to]).skip(column[from] + 1) {
            slot_column.push(Item::Slot(edge));
        }
    }
    reduce_crossings(&mut order, &edges, &column);
    place(&order, &edges, &column)
}

/// The column of each node: the length of its longest chain of dependencies. Bounded rounds,
/// so a cycle cannot loop.
fn columns(count: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut column = vec![0; count];
    for _ in 0..count {
        let mut changed = false;
        for &(from, to) in edges {
            if from < count && to < count && column[to] <= column[from] && column[from] + 1 < count
            {
                column[to] = column[from] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    column
}

/// The items in the column before (`before`) or after an item that it connects to.
fn neighbours(
    item: Item,
    before: bool,
    edges: &[(usize, usize)],
    column: &[usize],
    here: usize,
) -> Vec<Item> {
    match item {
        Item::Node(node) => edges
            .iter()
            .enumerate()
            .filter_map(|(edge, &(from, to))| {
                let (me, other) = if before { (to, from) } else { (from, to) };
                if me != node {
                    return None;
                }
                // The neighbour is the other end if it is adjacent, else this edge's slot.
                let adjacent = column[other].abs_diff(here) == 1;
                Some(if adjacent {
                    Item::Node(other)
                } else {
                    Item::Slot(edge)
                })
            })
            .collect(),
        Item::Slot(edge) => {
            let (from, to) = edges[edge];
            let next = if before { here - 1 } else { here + 1 };
            let end = if before { from } else { to };
            vec![if column[end] == next {
                Item::Node(end)
            } else {
                Item::Slot(edge)
            }]
        }
    }
}

/// Barycentre sweeps, left to right then right to left: each item moves to the mean row of
/// what it connects to in the column just swept. Stable, so ties keep registry order.
fn reduce_crossings(order: &mut [Vec<Item>], edges: &[(usize, usize)], column: &[usize]) {
    for _ in 0..6 {
        for forward in [true, false] {
            let columns: Vec<usize> = if forward {
                (1..order.len()).collect()
            } else {
                (0..order.len().saturating_sub(1)).rev().collect()
            };
            for c in columns {
                let reference = if forward { c - 1 } else { c + 1 };
                let row_of: BTreeMap<ItemKey, usize> = order[reference]
                    .iter()
                    .enumerate()
                    .map(|(row, item)| (key(*item), row))
                    .collect();
                let current = order[c].clone();
                let mut keyed: Vec<(f64, usize, Item)> = current
                    .iter()
                    .enumerate()
                    .map(|(row, item)| {
                        let rows: Vec<usize> = neighbours(*item, forward, edges, column, c)
                            .into_iter()
                            .filter_map(|n| row_of.get(&key(n)).copied())
                            .collect();
                        let centre = if rows.is_empty() {
                            row as f64
                        } else {
                            rows.iter().sum::<usize>() as f64 / rows.len() as f64
                        };
                        (centre, row, *item)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                order[c] = keyed.into_iter().map(|(_, _, item)| item).collect();
            }
        }
    }
}

type ItemKey = (bool, usize);

fn key(item: Item) -> ItemKey {
    match item {
        Item::Node(n) => (true, n),
        Item::Slot(e) => (false, e),
    }
}

fn item_height(item: Item) -> f64 {
    match item {
        Item::Node(_) => NODE_H,
        Item::Slot(_) => SLOT_H,
    }
}

/// Coordinates: columns side by side, each column's items stacked and centred on the
/// tallest column; then each edge's polyline through its slots, with the ends spread over
/// the sides of the boxes so edges into one box stay apart.
fn place(order: &[Vec<Item>], edges: &[(usize, usize)], column: &[usize]) -> Layout {
    let heights: Vec<f64> = order
        .iter()
        .map(|items| {
            items.iter().map(|i| item_height(*i)).sum::<f64>()
                + GAP_Y * items.len().saturating_sub(1) as f64
        })
        .collect();
    let tallest = heights.iter().copied().fold(NODE_H, f64::max);
    let x_of = |c: usize| PAD + c as f64 * (NODE_W + GAP_X);
    let mut boxes = vec![Place { x: 0.0, y: 0.0 }; column.len()];
    let mut slots: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for (c, items) in order.iter().enumerate() {
        let mut y = PAD + (tallest - heights[c]) / 2.0;
        for item in items {
            match *item {
                Item::Node(n) => boxes[n] = Place { x: x_of(c), y },
                Item::Slot(e) => {
                    slots.insert((e, c), y + SLOT_H / 2.0);
                }
            }
            y += item_height(*item) + GAP_Y;
        }
    }
    let routes = edges
        .iter()
        .enumerate()
        .map(|(e, &(from, to))| {
            let mut points = vec![(
                boxes[from].x + NODE_W,
                port(&boxes, edges, from, e, Side::Out),
            )];
            for c in column[from] + 1..column[to] {
                let y = slots[&(e, c)];
                points.push((x_of(c), y));
                points.push((x_of(c) + NODE_W, y));
            }
            points.push((boxes[to].x, port(&boxes, edges, to, e, Side::In)));
            Route { from, to, points }
        })
        .collect();
    Layout {
        boxes,
        routes,
        width: PAD * 2.0 + (order.len() as f64 - 1.0) * (NODE_W + GAP_X) + NODE_W,
        height: PAD * 2.0 + tallest,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    In,
    Out,
}

/// Where edge `edge` meets `node`'s box: the edges on one side share it out evenly, in the
/// order of the row of their other end (so they do not cross at the box).
fn port(boxes: &[Place], edges: &[(usize, usize)], node: usize, edge: usize, side: Side) -> f64 {
    let mut here: Vec<(f64, usize)> = edges
        .iter()
        .enumerate()
        .filter_map(|(e, &(from, to))| match side {
            Side::Out if from == node => Some((boxes[to].y, e)),
            Side::In if to == node => Some((boxes[from].y, e)),
            _ => None,
        })
        .collect();
    here.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let rank = here.iter().position(|(_, e)| *e == edge).unwrap_or(0);
    boxes[node].y + NODE_H * (rank as f64 + 1.0) / (here.len() as f64 + 1.0)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Whether segment `a`-`b` enters the interior of the box at `place` (shrunk by a hair,
    /// so touching a side is not crossing). Liang-Barsky clipping.
    pub fn crosses(a: (f64, f64), b: (f64, f64), place: Place) -> bool {
        let eps = 0.5;
        let (x0, y0, x1, y1) = (
            place.x + eps,
            place.y + eps,
            place.x + NODE_W - eps,
            place.y + NODE_H - eps,
        );
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let mut t0: f64 = 0.0;
        let mut t1: f64 = 1.0;
        for (p, q) in [
            (-dx, a.0 - x0),
            (dx, x1 - a.0),
            (-dy, a.1 - y0),
            (dy, y1 - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return false;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
            }
        }
        t0 < t1
    }

    /// Every segment of every route, checked against every box but its own two ends.
    pub fn edges_behind_boxes(layout: &Layout) -> Vec<String> {
        let mut found = Vec::new();
        for route in &layout.routes {
            for pair in route.points.windows(2) {
                for (n, place) in layout.boxes.iter().enumerate() {
                    if n != route.from && n != route.to && crosses(pair[0], pair[1], *place) {
                        found.push(format!(
                            "edge {} -> {} crosses box {n}",
                            route.from, route.to
                        ));
                    }
                }
            }
        }
        found
    }

    /// A deterministic pseudo-random DAG: each node depends on up to three earlier ones.
    pub fn random_dag(count: usize, seed: u64) -> Vec<(usize, usize)> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as usize
        };
        let mut edges = Vec::new();
        for to in 1..count {
            for _ in 0..next() % 4 {
                let from = next() % to;
                if !edges.contains(&(from, to)) {
                    edges.push((from, to));
                }
            }
        }
        edges
    }

    #[test]
    fn no_edge_passes_behind_a_box_it_does_not_join() {
        for seed in 0..40 {
            let edges = random_dag(30, seed);
            let layout = layout(30, &edges);
            assert_eq!(layout.routes.len(), edges.len());
            assert_eq!(
                edges_behind_boxes(&layout),
                Vec::<String>::new(),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn edges_run_left_to_right_from_the_dependency_to_its_dependent() {
        let layout = layout(4, &[(0, 1), (1, 2), (0, 3), (0, 2)]);
        for route in &layout.routes {
            let xs: Vec<f64> = route.points.iter().map(|p| p.0).collect();
            assert!(xs.windows(2).all(|w| w[0] <= w[1]), "{route:?}");
            assert_eq!(xs[0], layout.boxes[route.from].x + NODE_W);
            assert_eq!(*xs.last().unwrap(), layout.boxes[route.to].x);
        }
        // The long edge 0 -> 2 goes through a slot in column 1, beside node 1's box.
        let long = layout
            .routes
            .iter()
            .find(|r| (r.from, r.to) == (0, 2))
            .unwrap();
        assert_eq!(long.points.len(), 4);
    }

    #[test]
    fn a_box_has_room_for_every_edge_and_a_cycle_does_not_hang() {
        let layout = layout(2, &[(0, 1), (1, 0)]);
        assert_eq!(
            layout.routes.len(),
            1,
            "the edge against the columns is dropped"
        );
        assert!(layout.width > NODE_W && layout.height >= NODE_H);
        assert!(super::layout(0, &[]).boxes.is_empty());
    }
}
