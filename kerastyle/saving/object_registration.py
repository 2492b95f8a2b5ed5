"""Names for user code: ``register_keras_serializable`` and ``custom_objects``.

A saved file names its classes and functions; loading looks each name up here (or in the
``custom_objects`` given to ``load_model``), never imports a module or runs code from the file.
Registered names are ``"package>name"`` as in Keras (``"Custom>MyLayer"``).
"""

from __future__ import annotations

import contextlib

_REGISTERED: dict[str, object] = {}
_NAMES: dict[int, str] = {}
_SCOPES: list[dict] = []


def register_keras_serializable(package="Custom", name=None):
    """Decorator: make a class or function loadable by name (``package>name``)."""
    if not isinstance(package, str) or not package or ">" in package:
        raise ValueError(f"register_keras_serializable: argument `package` must be a non-empty string without '>', "
                         f"got {package!r}.")

    def decorate(obj):
        key = f"{package}>{name or obj.__name__}"
        if key in _REGISTERED and _REGISTERED[key] is not obj:
            existing = _REGISTERED[key]
            if getattr(existing, "__qualname__", None) != getattr(obj, "__qualname__", object()) or \
                    getattr(existing, "__module__", None) != getattr(obj, "__module__", object()):
                raise ValueError(f"{key!r} is already registered for {existing!r}; choose another name or package.")
        _REGISTERED[key] = obj
        _NAMES[id(obj)] = key
        return obj

    return decorate


def registered_name(obj) -> str | None:
    """``package>name`` of a registered object; for other objects the name a custom_objects scope gives them."""
    if id(obj) in _NAMES:
        return _NAMES[id(obj)]
    for scope in reversed(_SCOPES):
        for key, value in scope.items():
            if value is obj:
                return key
    return None


def get_registered_object(name, custom_objects=None):
    """The object registered (or passed in ``custom_objects`` / a scope) under ``name``, else None.
    A bare name also matches ``package>name`` registrations."""
    for table in ([custom_objects] if custom_objects else []) + list(reversed(_SCOPES)) + [_REGISTERED]:
        if name in table:
            return table[name]
    short = name.split(">")[-1]
    for table in ([custom_objects] if custom_objects else []) + list(reversed(_SCOPES)):
        if short in table:
            return table[short]
    matches = [v for k, v in _REGISTERED.items() if k.split(">")[-1] == short]
    return matches[0] if len(matches) == 1 else None


@contextlib.contextmanager
def custom_object_scope(custom_objects):
    """``with custom_object_scope({"MyLayer": MyLayer}):`` makes names resolvable while loading."""
    if not isinstance(custom_objects, dict):
        raise TypeError(f"custom_object_scope expects a dict of name -> object, got {type(custom_objects).__name__}.")
    _SCOPES.append(dict(custom_objects))
    try:
        yield
    finally:
        _SCOPES.pop()


CustomObjectScope = custom_object_scope


def get_registered_name(obj) -> str:
    """Keras's ``get_registered_name``: the registered key, else the object's own name."""
    return registered_name(obj) or getattr(obj, "__name__", type(obj).__name__)
