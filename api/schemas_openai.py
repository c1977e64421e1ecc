"""OpenAI-compatible request and response models (``/v1/chat/completions``, ``/v1/models``).

Requests are strict like every other (``StrictModel``): the fields OpenAI's clients and chat
front ends send are declared, and those that do not apply to a retrieval service (sampling,
penalties) are accepted and ignored; anything else is a 422. Responses carry OpenAI's fields
plus ``citations`` beside ``choices`` (the objects of ``/v1/ask``), ``abstained`` and ``degraded``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from api.schemas import CitationOut, ConversationId, PositiveInt, Question, StrictModel, TopK

MODEL_ID = "rag-news"

Sampling = Annotated[float, Field(ge=0, le=2)]
LongText = Annotated[str, Field(max_length=100_000)]
Name = Annotated[str, Field(max_length=200)]


class TextPart(StrictModel):
    type: Literal["text"]
    text: LongText


class QuestionPart(StrictModel):
    type: Literal["text"]
    text: Question


class UserMessage(StrictModel):
    """A question: text to see, at most ``RAG_MAX_QUESTION_CHARS`` long (one text part)."""

    role: Literal["user"]
    content: Question | Annotated[list[QuestionPart], Field(min_length=1, max_length=1)]
    name: Name | None = None

    @property
    def text(self) -> str:
        return self.content if isinstance(self.content, str) else self.content[0].text


class OtherMessage(StrictModel):
    """Instructions (ignored) or an earlier answer."""

    role: Literal["system", "developer", "assistant"]
    content: LongText | Annotated[list[TextPart], Field(max_length=100)]
    name: Name | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text for part in self.content)


ChatMessage = Annotated[UserMessage | OtherMessage, Field(discriminator="role")]


def _has_question(messages: list[UserMessage | OtherMessage]) -> list[UserMessage | OtherMessage]:
    if not any(m.role == "user" for m in messages):
        raise ValueError("needs a user message: the last one is the question")
    return messages


Messages = Annotated[
    list[ChatMessage],
    Field(
        min_length=1,
        max_length=200,
        json_schema_extra={
            "contains": {"type": "object", "properties": {"role": {"const": "user"}}}
        },
    ),
    AfterValidator(_has_question),
]


class StreamOptions(StrictModel):
    include_usage: bool = False


class ChatCompletionRequest(StrictModel):
    """The last user message is the question; the user and assistant messages before it are
    the conversation it follows (system messages, and any after the question, are ignored)."""

    model: Literal["rag-news"] = Field(description="The one model `GET /v1/models` lists.")
    messages: Messages
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
