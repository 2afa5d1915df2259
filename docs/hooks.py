"""mkdocs hooks: render the normative texts that live outside `docs/` without copying them.

The spec (`spec/protocol.md` and its schemas and vectors) and the conformance suite's README are
the sources of truth and stay where the code reads them; this hook adds them (and the examples'
READMEs) to the site as generated files under `spec/`, `conformance/` and `examples/`, so their
own relative links (for instance `schema/envelope.schema.json`) resolve and
`mkdocs build --strict` checks them like any page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent

# (source folder in the repository, where it appears in the site, which files)
_MOUNTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("spec", "spec", ("*.md", "schema/*.json", "vectors/*.json")),
    ("conformance", "conformance", ("README.md",)),
    ("examples", "examples", ("README.md", "*/README.md", "*/*.wsmq.yaml")),
)

# Mermaid for the diagrams, served by the site itself: Material loads mermaid from a CDN only
# when no `mermaid` global exists, so with this script (mkdocs.yml extra_javascript) the
# diagrams render offline and the build downloads nothing. It comes from the npm devDependency
# (`make node`); the version is pinned in typescript/package.json.
MERMAID = ROOT / "typescript" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
MERMAID_URI = "assets/javascripts/mermaid.min.js"


def on_files(files: Files, config: Any) -> Files:
    for source, target, patterns in _MOUNTS:
        base = ROOT / source
        for pattern in patterns:
            for path in sorted(base.glob(pattern)):
                uri = f"{target}/{path.relative_to(base).as_posix()}"
                if files.get_file_from_path(uri) is None:
                    files.append(File.generated(config, uri, abs_src_path=str(path)))
    if not MERMAID.is_file():
        raise PluginError(f"{MERMAID} is missing: run `make node` (the docs serve mermaid)")
    files.append(File.generated(config, MERMAID_URI, abs_src_path=str(MERMAID)))
    return files
