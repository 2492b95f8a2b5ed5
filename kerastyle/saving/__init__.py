"""Saving: kerastyle's checked single-file format (``file_format``), object (de)serialization by name
(``serialization``, ``object_registration``) and the save/load functions (``saving_api``)."""

from .file_format import FORMAT, FORMAT_VERSION, SavedFileError
from .keras_format import save_as_keras
from .object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from .saving_api import (
    export_onnx,
    load_model,
    load_weights,
    restore_backup,
    save_model,
    save_weights,
    write_backup,
)
from .serialization import deserialize, deserialize_model, serialize

__all__ = ["FORMAT", "FORMAT_VERSION", "CustomObjectScope", "SavedFileError", "custom_object_scope", "deserialize",
           "deserialize_model", "export_onnx", "get_registered_name", "get_registered_object", "load_model",
           "load_weights", "register_keras_serializable", "restore_backup", "save_as_keras", "save_model",
           "save_weights", "serialize", "write_backup"]
