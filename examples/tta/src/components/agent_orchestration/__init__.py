"""Multi-agent coordination for TTA.

Sub-modules are imported explicitly (``from components.agent_orchestration.router import
TaskRouter``) so that light-weight users such as the message bus do not pull in the LLM stack.
"""
