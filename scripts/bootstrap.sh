#!/usr/bin/env bash
# Sets up .venv/ with the workflow, the loaders and the dev tools (editable install).
# Quick when nothing changed: it reinstalls only when pyproject.toml differs from the last install.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "bootstrap: ttc-ard needs Python 3.11 or newer; '$python' is $("$python" --version 2>&1)." \
        "Install Python 3.11+ or point PYTHON at one, e.g. PYTHON=python3.11 bash scripts/bootstrap.sh" >&2
    exit 1
fi
[[ -x .venv/bin/python ]] || "$python" -m venv .venv

stamp=.venv/.ttc-ard-pyproject.sha256
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
    # This machine's pip configuration names mirror folders that may be absent; pip warns about
    # each of them, which hides the messages that matter.
    if ! .venv/bin/python -m pip install --quiet -e '.[loaders,dev]' 2>&1 |
        { grep -v 'is ignored: it is neither a file nor a directory' >&2 || true; }; then
        echo "bootstrap: pip install failed (see above)" >&2
        exit 1
    fi
    echo "$wanted" >"$stamp"
fi
