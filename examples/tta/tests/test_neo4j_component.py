from __future__ import annotations

import pytest

from components.neo4j_component import (
    GraphError,
    GraphStore,
    NodeNotFoundError,
    QueryError,
    TransactionError,
)


def test_create_and_get_node(graph_store: GraphStore) -> None:
    node = graph_store.create_node("Character", "NPC", name="Mara", trust=3)
    assert graph_store.get_node(node.id) is node
    assert node.has_label("NPC") and not node.has_label("Player")
    assert node.properties == {"name": "Mara", "trust": 3}
    assert graph_store.node_count == 1


def test_node_requires_a_label(graph_store: GraphStore) -> None:
    with pytest.raises(GraphError, match="at least one label"):
        graph_store.create_node(name="nobody")


def test_missing_node_raises_with_id(graph_store: GraphStore) -> None:
    with pytest.raises(NodeNotFoundError) as info:
        graph_store.get_node(42)
    assert info.value.node_id == 42


def test_set_properties_merges(graph_store: GraphStore) -> None:
    node = graph_store.create_node("Location", name="Harbour")
    graph_store.set_properties(node.id, mood="stormy")
    assert graph_store.get_node(node.id).properties == {"name": "Harbour", "mood": "stormy"}


def test_relationships_by_direction_and_type(graph_store: GraphStore) -> None:
    mara = graph_store.create_node("Character", name="Mara")
    jon = graph_store.create_node("Character", name="Jon")
    harbour = graph_store.create_node("Location", name="Harbour")
    graph_store.relate(mara.id, "TRUSTS", jon.id, level=2)
    graph_store.relate(jon.id, "LOCATED_AT", harbour.id)

    assert [r.type for r in graph_store.relationships(jon.id, direction="out")] == ["LOCATED_AT"]
    assert [r.type for r in graph_store.relationships(jon.id, direction="in")] == ["TRUSTS"]
    assert len(graph_store.relationships(jon.id, direction="both")) == 2
    assert graph_store.relationships(jon.id, "TRUSTS", direction="out") == []
    assert [n.properties["name"] for n in graph_store.neighbours(jon.id, direction="both")] == [
        "Mara",
        "Harbour",
    ]


def test_relationship_type_must_be_upper_snake_case(graph_store: GraphStore) -> None:
    a = graph_store.create_node("A")
    b = graph_store.create_node("B")
    with pytest.raises(GraphError, match="UPPER_SNAKE_CASE"):
        graph_store.relate(a.id, "knows", b.id)


def test_delete_node_requires_detach_when_related(graph_store: GraphStore) -> None:
    a = graph_store.create_node("A")
    b = graph_store.create_node("B")
    graph_store.relate(a.id, "KNOWS", b.id)
    with pytest.raises(GraphError, match="still has 1 relationship"):
        graph_store.delete_node(a.id)
    graph_store.delete_node(a.id, detach=True)
    assert graph_store.node_count == 1
    assert graph_store.relationships(b.id, direction="both") == []


def test_find_nodes_and_find_one(graph_store: GraphStore) -> None:
    graph_store.create_node("Character", name="Mara", role="guide")
    graph_store.create_node("Character", name="Jon", role="guide")
    assert len(graph_store.find_nodes("Character", role="guide")) == 2
    found = graph_store.find_one("Character", name="Jon")
    assert found is not None and found.properties["name"] == "Jon"
    assert graph_store.find_one("Character", name="Nobody") is None
    with pytest.raises(QueryError, match="at most one"):
        graph_store.find_one("Character", role="guide")


def test_parameterised_match_query(graph_store: GraphStore) -> None:
    graph_store.create_node("Character", name="Mara", role="guide")
    graph_store.create_node("Character", name="Jon", role="sailor")
    result = graph_store.run(
        "MATCH (c:Character {name: $name, role: $role}) RETURN c", {"name": "Mara", "role": "guide"}
    )
    assert [n.properties["name"] for n in result] == ["Mara"]
    assert len(graph_store.run("MATCH (c:Character) RETURN c")) == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("DELETE (c)", "unsupported query"),
        ("MATCH (c:Character) RETURN d", "RETURN must name"),
        ("MATCH (c:Character {name: 'Mara'}) RETURN c", "must use a \\$parameter"),
        ("MATCH (c:Character {name: $name}) RETURN c", "missing parameter"),
    ],
)
def test_query_errors(graph_store: GraphStore, query: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        graph_store.run(query, {})


def test_transaction_commits(graph_store: GraphStore) -> None:
    with graph_store.transaction() as tx:
        assert tx.in_transaction
        tx.create_node("Event", name="arrival")
    assert not graph_store.in_transaction
    assert graph_store.node_count == 1


def test_transaction_rolls_back_every_change(graph_store: GraphStore) -> None:
    keep = graph_store.create_node("Character", name="Mara")
    other = graph_store.create_node("Character", name="Jon")
    rel = graph_store.relate(keep.id, "TRUSTS", other.id)
    with pytest.raises(RuntimeError, match="boom"), graph_store.transaction():
        graph_store.set_properties(keep.id, name="Changed")
        created = graph_store.create_node("Event")
        graph_store.relate(created.id, "INVOLVES", keep.id)
        graph_store.delete_node(other.id, detach=True)
        raise RuntimeError("boom")
    assert graph_store.get_node(keep.id).properties == {"name": "Mara"}
    assert graph_store.node_count == 2
    assert graph_store.relationships(keep.id) == [rel]
    assert not graph_store.in_transaction


def test_nested_transactions_are_rejected(graph_store: GraphStore) -> None:
    with graph_store.transaction():
        graph_store.create_node("Event", name="outer")
        with pytest.raises(TransactionError, match="nested"), graph_store.transaction():
            pass
    assert graph_store.node_count == 1
