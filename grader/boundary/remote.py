"""The proxies tests hold for objects living in the worker (`student.Autoencoder()`, `model.encode(x)`).

A `RemoteObject` is a handle in one worker generation; attribute access gives a `RemoteMember`,
calling either runs in the worker through its session (`grader.boundary.client.WorkerSession`,
seen here only as the `Caller` it is to a proxy).
"""
from __future__ import annotations

from typing import Protocol

from grader.boundary.inside.protocol import Handle


class Caller(Protocol):
    """What a proxy needs of its session: calls, attribute reads and look-ups in the worker."""
    generation: int

    def call(self, target: RemoteObject, name: str | None, args: tuple, kwargs: dict, label: str): ...

    def getattr(self, target: RemoteObject, name: str, label: str): ...

    def has(self, target: RemoteObject, name: str) -> bool: ...

    def wrap(self, value, label: str): ...


class RemoteObject:
    """An object living in the worker. Attribute access gives a `RemoteMember`; calling runs there."""

    __slots__ = ("_session", "_handle", "_label", "_generation")

    def __init__(self, session: Caller, handle: Handle, label: str):
        self._session, self._handle, self._label = session, handle, label
        self._generation = session.generation if handle.id else 0

    def __getattr__(self, name: str) -> RemoteMember:
        if name.startswith("__"):
            raise AttributeError(name)
        return RemoteMember(self, name)

    def __call__(self, *args, **kwargs):
        label = f"{self._label}(...)"
        return self._session.wrap(self._session.call(self, None, args, kwargs, label), label)

    def fetch(self, name: str):
        """The value of an attribute (plain data is copied; other objects come back as proxies)."""
        label = f"{self._type_label()}.{name}"
        return self._session.wrap(self._session.getattr(self, name, label), label)

    def has(self, name: str) -> bool:
        return self._session.has(self, name)

    @property
    def type_name(self) -> str:
        return self._handle.type_name

    def _type_label(self) -> str:
        return self._label if self._handle.id == 0 else self._handle.type_name

    def __repr__(self) -> str:
        return f"<remote {self._handle.type_name} #{self._handle.id}>"


class RemoteMember:
    """`obj.name` on a remote object: call it, or `fetch()` its value."""

    __slots__ = ("_parent", "_name")

    def __init__(self, parent: RemoteObject, name: str):
        self._parent, self._name = parent, name

    @property
    def _label(self) -> str:
        owner = self._parent._type_label()
        return self._name if self._parent._handle.id == 0 else f"{owner}.{self._name}"

    def __call__(self, *args, **kwargs):
        session = self._parent._session
        label = self._label
        value = session.call(self._parent, self._name, args, kwargs, label)
        return session.wrap(value, f"{label}(...)")

    def fetch(self):
        return self._parent.fetch(self._name)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return RemoteMember(self.fetch(), name)

    def __repr__(self) -> str:
        return f"<remote member {self._label}>"
