"""One Lambda "container": a process that imports one function's handler and runs invocations.

The local runtime starts one worker per function, with that function's environment from
template.yaml, and talks to it over a pipe: one JSON line in (``{"id", "event", "deadline_ms"}``),
one JSON line out (``{"id", "result"}`` or ``{"id", "error": {"type", "message", "trace"}}``).
Everything the handler prints or logs goes to stderr (the function's log file), as in Lambda.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
import uuid
from pathlib import Path
from typing import Any


class LocalLambdaContext:
    """The attributes of the Lambda context object that handlers and powertools use."""

    def __init__(self, function_name: str, memory_mb: int, region: str, account: str, deadline_ms: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def load_handler(code_dir: Path, handler: str) -> Any:
    module_name, _, attr = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {handler!r} is not module.function")
    sys.path.insert(0, str(code_dir))
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def serve(code_dir: Path, handler_name: str) -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the handler's prints and logs go to stderr, never into the reply channel
    sys.stdout = sys.stderr
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", handler_name)
    memory = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
    region = os.environ.get("AWS_REGION", "us-east-1")
    account = os.environ.get("SMARTGATE_ACCOUNT_ID", "123456789012")
    try:
        handler = load_handler(code_dir, handler_name)
        init_error = None
    except Exception as err:  # noqa: BLE001 - reported on every invocation, as Lambda does
        handler, init_error = (
            None,
            {"type": type(err).__name__, "message": f"init failed: {err}", "trace": traceback.format_exc()},
        )
    replies.write(json.dumps({"ready": init_error is None, "error": init_error}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        reply: dict[str, Any] = {"id": request["id"]}
        if init_error is not None:
            reply["error"] = init_error
        else:
            context = LocalLambdaContext(name, memory, region, account, request["deadline_ms"])
            try:
                reply["result"] = handler(request["event"], context)
            except Exception as err:  # noqa: BLE001 - the runtime decides what an error means
                traceback.print_exc()
                reply["error"] = {"type": type(err).__name__, "message": str(err), "trace": traceback.format_exc()}
        try:
            replies.write(json.dumps(reply, default=str) + "\n")
        except (TypeError, ValueError) as err:
            replies.write(
                json.dumps(
                    {
                        "id": request["id"],
                        "error": {
                            "type": "Runtime.MarshalError",
                            "message": f"result is not JSON serialisable: {err}",
                            "trace": "",
                        },
                    }
                )
                + "\n"
            )
        sys.stderr.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("code_dir", type=Path)
    parser.add_argument("handler")
    args = parser.parse_args()
    serve(args.code_dir, args.handler)


if __name__ == "__main__":
    main()
