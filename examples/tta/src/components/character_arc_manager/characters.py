"""Characters, their traits and relationships, persisted in the graph store."""

from __future__ import annotations

from dataclasses import dataclass, field

from components.neo4j_component import GraphStore

TRAITS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")


@dataclass
class Character:
    name: str
    traits: dict[str, float] = field(default_factory=lambda: dict.fromkeys(TRAITS, 0.5))
    mood: str = "neutral"
    node_id: int | None = None

    def __post_init__(self) -> None:
        unknown = set(self.traits) - set(TRAITS)
        if unknown:
            raise ValueError(f"unknown trait(s): {', '.join(sorted(unknown))}")
        for trait in TRAITS:
            value = self.traits.setdefault(trait, 0.5)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{trait} must be between 0 and 1, got {value}")

    def shift(self, trait: str, delta: float) -> float:
        """Nudge a trait, clamped to [0, 1]. Personalities change slowly: |delta| <= 0.2."""
        if trait not in TRAITS:
            raise KeyError(trait)
        if abs(delta) > 0.2:
            raise ValueError("trait shifts larger than 0.2 per step break consistency")
        self.traits[trait] = round(min(1.0, max(0.0, self.traits[trait] + delta)), 3)
        return self.traits[trait]


class CharacterRoster:
    def __init__(self, store: GraphStore) -> None:
        self._store = store
        self._characters: dict[str, Character] = {}

    def add(self, character: Character) -> Character:
        if character.name in self._characters:
            raise ValueError(f"character {character.name!r} already exists")
        node = self._store.create_node("Character", name=character.name, mood=character.mood)
        character.node_id = node.id
        self._characters[character.name] = character
        self.save(character)
        return character

    def get(self, name: str) -> Character:
        return self._characters[name]

    def names(self) -> list[str]:
        return sorted(self._characters)

    def save(self, character: Character) -> None:
        if character.node_id is None:
            raise ValueError(f"character {character.name!r} has not been added")
        self._store.set_properties(
            character.node_id,
            mood=character.mood,
            **{f"trait_{k}": v for k, v in character.traits.items()},
        )

    def set_trust(self, source: str, target: str, trust: float) -> None:
        if not -1.0 <= trust <= 1.0:
            raise ValueError("trust must be between -1 and 1")
        a, b = self.get(source), self.get(target)
        if a.node_id is None or b.node_id is None:
            raise ValueError("both characters must be added before relating them")
        for rel in self._store.relationships(a.node_id, "TRUSTS"):
            if rel.end == b.node_id:
                self._store.delete_relationship(rel.id)
        self._store.relate(a.node_id, "TRUSTS", b.node_id, trust=trust)

    def trust(self, source: str, target: str) -> float:
        a, b = self.get(source), self.get(target)
        if a.node_id is None:
            return 0.0
        for rel in self._store.relationships(a.node_id, "TRUSTS"):
            if rel.end == b.node_id:
                return float(rel.properties["trust"])
        return 0.0
