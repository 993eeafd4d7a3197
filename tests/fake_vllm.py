"""A stand-in for `vllm serve MODEL --host H --port P ...` in tests (vLLM needs a GPU): GET /health, GET /version
and an OpenAI chat endpoint that answers "<model>: <last message>". `--fail` exits at once, like a bad model path."""

import argparse
import sys

import uvicorn
from fastapi import FastAPI


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("verb", choices=["serve"])
    parser.add_argument("model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fail", action="store_true")
    args, _vllm_flags = parser.parse_known_args()
    if args.fail:
        print(f"cannot load {args.model}", file=sys.stderr)
        sys.exit(1)
    app = FastAPI()

    @app.get("/health")
    def health() -> dict:
        return {}

    @app.get("/version")
    def version() -> dict:
        return {"version": "fake"}

    @app.post("/v1/chat/completions")
    def chat(body: dict) -> dict:
        text = f"{body['model']}: {body['messages'][-1]['content']}"
        return {"choices": [{"message": {"role": "assistant", "content": text}}]}

    uvicorn.run(app, host=args.host, port=args.port, log_level="error")


if __name__ == "__main__":
    main()
