"""LLM client facade over model management."""

from components.llm.client import Completion, LLMClient, ProviderBackend
from components.llm.prompts import Message, PromptTemplate, TemplateError
from components.llm.providers import HttpBackend, Transport
from components.llm.rate_limit import RateLimitedError, TokenBucket
from components.llm.retry import ErrorKind, LLMError, RetryPolicy, classify_error

__all__ = [
    "Completion",
    "ErrorKind",
    "HttpBackend",
    "LLMClient",
    "LLMError",
    "Message",
    "PromptTemplate",
    "ProviderBackend",
    "RateLimitedError",
    "RetryPolicy",
    "TemplateError",
    "TokenBucket",
    "Transport",
    "classify_error",
]
