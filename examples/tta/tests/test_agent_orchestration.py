from __future__ import annotations

import pytest

from components.agent_orchestration.messages import AgentMessage, Priority


def test_reply_goes_to_reply_topic_with_same_priority() -> None:
    request = AgentMessage(
        "narrative.request", "gameplay", {"scene": "harbour"}, Priority.HIGH, "narrative.reply"
    )
    reply = request.reply("narrator", {"text": "Gulls circle overhead."})
    assert reply.topic == "narrative.reply"
    assert reply.sender == "narrator"
    assert reply.priority is Priority.HIGH
    assert reply.sequence > request.sequence


def test_reply_requires_reply_topic() -> None:
    with pytest.raises(ValueError, match="does not expect a reply"):
        AgentMessage("world.tick", "clock").reply("narrator", {})
