"""SDKs generated from an application's own API catalogue (spec/catalogue.md).

``loader`` reads and checks a catalogue, ``model`` is what it yields, ``names`` the naming rules,
``python`` / ``typescript`` / ``asyncapi`` render outputs (one jinja2 template per file), and
``cli`` is ``wsmq codegen CATALOGUE --python DIR --typescript DIR [--check]``.
"""

from __future__ import annotations

from .loader import CatalogueError, load_catalogue
from .model import Catalogue, Operation, Problem

__all__ = ["Catalogue", "CatalogueError", "Operation", "Problem", "load_catalogue"]
