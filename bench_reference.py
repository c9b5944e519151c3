"""The benchmark's reference: FastAPI serving fixed bytes from memory, the ceiling to compare with.

bench.py runs it under uvicorn with BENCH_REFERENCE_BODY naming a file: every GET path answers
that file's bytes as JSON.
"""

import os
from pathlib import Path

from fastapi import FastAPI, Response

body = Path(os.environ["BENCH_REFERENCE_BODY"]).read_bytes()
app = FastAPI()


@app.get("/{path:path}")
async def same_bytes(path: str) -> Response:
    """The same answer for every path, straight from memory."""
    return Response(content=body, media_type="application/json")
