from __future__ import annotations

from agents.analytics.graph import hop_distances, normalize_graph, reverse_graph, widest_paths

GRAPH = {"a": ["b", "c"], "b": ["d"], "c": ["d", "e"], "d": [], "x": ["a"]}


def test_normalize_graph_lists_every_component_sorted_without_self_loops() -> None:
    graph = normalize_graph({"a": ["c", "b", "b", "a"], "z": ["a"]})

    assert graph == {"a": ("b", "c"), "b": (), "c": (), "z": ("a",)}


def test_reverse_graph_maps_callees_to_callers() -> None:
    callers = reverse_graph(GRAPH)

    assert callers["d"] == ("b", "c")
    assert callers["a"] == ("x",)
    assert callers["x"] == ()


def test_hop_distances_follow_calls_only_by_default() -> None:
    distances = hop_distances(GRAPH, "a")

    assert distances == {"a": 0, "b": 1, "c": 1, "d": 2, "e": 2}
    assert "x" not in distances  # x calls a; a does not depend on x


def test_hop_distances_undirected_reach_callers_too() -> None:
    distances = hop_distances(GRAPH, "b", undirected=True)

    assert distances["a"] == 1
    assert distances["x"] == 2
    assert distances["e"] == 3


def test_hop_distances_of_an_unknown_component_is_only_itself() -> None:
    assert hop_distances(GRAPH, "nowhere") == {"nowhere": 0}


def test_widest_paths_prefer_the_path_through_the_most_anomalous_intermediate() -> None:
    capacity = {"b": 0.2, "c": 0.9}

    paths = widest_paths(GRAPH, "a", lambda node: capacity.get(node, 0.0))

    rating, path = paths["d"]
    assert path == ("a", "c", "d")
    assert rating == 0.9
    # Direct dependencies are fully supported whatever their own capacity.
    assert paths["b"] == (1.0, ("a", "b"))


def test_widest_paths_break_ties_by_fewest_hops() -> None:
    graph = {"t": ["m", "r"], "m": ["r"], "r": []}

    paths = widest_paths(graph, "t", lambda node: 1.0)

    assert paths["r"] == (1.0, ("t", "r"))
