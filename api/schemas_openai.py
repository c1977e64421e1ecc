"""OpenAI-compatible request and response models (``/v1/chat/completions``, ``/v1/models``).

Requests are strict like every other (``StrictModel``): the fields OpenAI's clients and chat
front ends send are declared, and those that do not apply to a retrieval service (sampling,
penalties) are accepted and ignored; anything else is a 422. Responses carry OpenAI's fields
plus ``citations`` beside ``choices`` (the objects of ``/v1/ask``), ``abstained`` and ``degraded``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.schemas import CitationOut, ConversationId, PositiveInt, StrictModel, TopK

MODEL_ID = "rag-news"

Role = Literal["system", "developer", "user", "assistant"]
Sampling = Annotated[float, Field(ge=0, le=2)]


class TextPart(StrictModel):
    type: Literal["text"]
    text: Annotated[str, Field(max_length=100_000)]


class ChatMessage(StrictModel):
    role: Role
    content: (
        Annotated[str, Field(max_length=100_000)] | Annotated[list[TextPart], Field(max_length=100)]
    )
    name: Annotated[str, Field(max_length=200)] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


class StreamOptions(StrictModel):
    include_usage: bool = False


class ChatCompletionRequest(StrictModel):
    """The last message is the question (it must be the user's); earlier user and assistant
    messages are the conversation it follows (system messages are ignored)."""

    model: Literal["rag-news"] = Field(description="The one model `GET /v1/models` lists.")
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=200)]
    stream: bool = False
    stream_options: StreamOptions | None = None
    # Accepted for compatibility, ignored: answers are the engine's checked text.
    temperature: Sampling | None = None
    top_p: Sampling | None = None
    max_tokens: PositiveInt | None = None
    max_completion_tokens: PositiveInt | None = None
    n: Literal[1] | None = None
    user: Annotated[str, Field(max_length=200)] | None = None
    # Ours: as in /v1/ask.
    top_k: TopK | None = None
    conversation_id: ConversationId | None = Field(
        default=None, description="Ignored: the conversation is the messages sent."
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[Choice]
    citations: list[CitationOut] = Field(
        description="The sources the `[n]` markers of the content name (as in `/v1/ask`)."
    )
    abstained: bool
    degraded: bool


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    """One Server-Sent Event of a streamed answer; the last carries the citations."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str = MODEL_ID
    choices: list[ChunkChoice]
    citations: list[CitationOut] | None = None
    abstained: bool | None = None
    degraded: bool | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None
    code: str


class OpenAIErrorResponse(BaseModel):
    error: OpenAIErrorBody
