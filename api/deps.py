"""Typed dependencies: routes declare what they need, tests swap it via ``dependency_overrides``.

They are ``async`` because they only read app state: FastAPI runs a plain ``def`` dependency
in a worker thread, a thread hop per dependency per request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from api.state import AppState
from rag.chat import ChatEngine
from rag.settings import Settings

if TYPE_CHECKING:
    from index.backend import IndexReader
    from rag.pipeline import Pipeline

__all__ = ["ChatDep", "PipelineDep", "SettingsDep", "StateDep", "StoreDep"]


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.rag
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


async def get_pipeline(state: StateDep) -> Pipeline:
    """The pipeline over the newest index snapshot; 503 while loading or without an index."""
    return state.require_pipeline()


async def get_store(state: StateDep) -> IndexReader:
    return state.require_store()


async def get_chat(state: StateDep) -> ChatEngine:
    state.require_pipeline()
    return state.chat


SettingsDep = Annotated[Settings, Depends(get_settings)]
PipelineDep = Annotated["Pipeline", Depends(get_pipeline)]
StoreDep = Annotated["IndexReader", Depends(get_store)]
ChatDep = Annotated[ChatEngine, Depends(get_chat)]
