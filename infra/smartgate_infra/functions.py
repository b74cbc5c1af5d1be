"""The Lambda service, locally: warm worker processes per function, with the function's environment.

Like Lambda, a function runs as many invocations at once as it has warm workers: a pool per function
(:class:`FunctionPool`) starts one worker and adds more while all are busy, up to the function's
``ReservedConcurrentExecutions`` (or ``SMARTGATE_LOCAL_CONCURRENCY``, default 4). Synchronous
invokes (API, streams) return the handler's result or raise InvocationError. Async invokes (IoT
rules, EventBridge, SNS, schedules) are queued per function, delivered concurrently by as many
workers, and retried like Lambda (EventInvokeConfig.MaximumRetryAttempts, default 2); an event that
still fails goes to the function's DeadLetterQueue, so nothing is lost silently.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smartgate_infra.template import Resource, Template

log = logging.getLogger("smartgate.local.functions")


class InvocationError(RuntimeError):
    def __init__(self, function: str, error: dict[str, Any]) -> None:
        super().__init__(f"{function}: {error.get('type')}: {error.get('message')}")
        self.function = function
        self.error = error


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    timeout_s: float
    memory_mb: int
    environment: dict[str, str]
    events: dict[str, dict[str, Any]]
    dead_letter_arn: str | None = None
    max_retries: int = 2
    concurrency: int = 4

    @classmethod
    def from_resource(cls, template: Template, resource: Resource, root: Path) -> FunctionSpec:
        p = resource.properties
        code_uri = p.get("CodeUri")
        if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
            raise ValueError(f"{resource.logical_id}: CodeUri must be a local folder to run locally, got {code_uri!r}")
        env = {k: "" if v is None else str(v) for k, v in p.get("Environment", {}).get("Variables", {}).items()}
        dlq = p.get("DeadLetterQueue", {})
        retries = p.get("EventInvokeConfig", {}).get("MaximumRetryAttempts", 2)
        concurrency = int(p.get("ReservedConcurrentExecutions") or os.environ.get("SMARTGATE_LOCAL_CONCURRENCY", "4"))
        return cls(
            logical_id=resource.logical_id,
            name=resource.physical_name,
            arn=template.arn(resource.logical_id),
            code_dir=(root / code_uri).resolve(),
            handler=str(p["Handler"]),
            timeout_s=float(p.get("Timeout", 3)),
            memory_mb=int(p.get("MemorySize", 128)),
            environment=env,
            events=dict(p.get("Events", {})),
            dead_letter_arn=dlq.get("TargetArn") if dlq.get("Type", "SQS") == "SQS" else None,
            max_retries=int(retries),
            concurrency=max(1, concurrency),
        )


@dataclass
class LocalAws:
    """Where the functions find AWS locally."""

    endpoint_url: str
    iot_data_url: str
    region: str = "us-east-1"
    account_id: str = "123456789012"

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ENDPOINT_URL_IOT_DATA_PLANE": self.iot_data_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "SMARTGATE_ACCOUNT_ID": self.account_id,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
        }


def base_environment() -> dict[str, str]:
    """The parent's environment without AWS settings that could point a function at a real account."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_")) and k not in ("PYTHONSTARTUP",)
    }


class FunctionHost:
    """One warm worker process for one function; restarted after a crash or a timeout."""

    def __init__(self, spec: FunctionSpec, aws: LocalAws, log_dir: Path) -> None:
        self.spec = spec
        self.aws = aws
        self.log_path = log_dir / f"{spec.logical_id}.log"
        self.proc: subprocess.Popen[str] | None = None
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.replies: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def _environment(self) -> dict[str, str]:
        env = base_environment()
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": self.spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{self.spec.name}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.aws.environment())
        env.update(self.spec.environment)
        return env

    def _reader(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                self.replies.put(json.loads(line))
            except json.JSONDecodeError:
                log.warning("unreadable reply from %s: %r", self.spec.logical_id, line[:200])
        self.replies.put(None)  # the worker is gone

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as logfile:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "smartgate_infra.worker", str(self.spec.code_dir), self.spec.handler],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=logfile,
                text=True,
                bufsize=1,
                env=self._environment(),
                cwd=self.spec.code_dir,
            )
        self.replies = queue.Queue()
        threading.Thread(
            target=self._reader, args=(self.proc,), daemon=True, name=f"worker-{self.spec.logical_id}"
        ).start()
        ready = self.replies.get(timeout=60)
        if ready is None:
            raise InvocationError(
                self.spec.logical_id,
                {"type": "Runtime.ExitError", "message": f"worker exited at start; see {self.log_path}"},
            )

    def warm(self) -> None:
        """Start the worker now (once), so that the first event does not pay the cold start."""
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.start()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()

    def invoke(self, event: Any) -> Any:
        """Run the handler on one event (one at a time per worker, as one Lambda execution environment)."""
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self.start()
            assert self.proc is not None and self.proc.stdin is not None
            request_id = next(self.ids)
            deadline = time.time() + self.spec.timeout_s
            self.proc.stdin.write(json.dumps({"id": request_id, "event": event, "deadline_ms": deadline * 1000}) + "\n")
            self.proc.stdin.flush()
            try:
                reply = self.replies.get(timeout=self.spec.timeout_s)
            except queue.Empty:
                self.stop()
                raise InvocationError(
                    self.spec.logical_id,
                    {"type": "Sandbox.Timedout", "message": f"Task timed out after {self.spec.timeout_s:.2f} seconds"},
                ) from None
            if reply is None:
                self.stop()
                raise InvocationError(
                    self.spec.logical_id,
                    {"type": "Runtime.ExitError", "message": f"worker exited; see {self.log_path}"},
                )
            if "error" in reply and reply["error"]:
                raise InvocationError(self.spec.logical_id, reply["error"])
            return reply.get("result")


class _Waiter:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.host: FunctionHost | None = None


class FunctionPool:
    """A function's warm workers: an invocation takes an idle one, or starts one while under the limit;
    beyond it, invocations wait in arrival order and a freed worker goes to the one waiting longest
    (a newcomer never overtakes a waiting request, which would starve some of them)."""

    def __init__(self, spec: FunctionSpec, aws: LocalAws, log_dir: Path, limit: int | None = None) -> None:
        self.spec = spec
        self.aws = aws
        self.log_dir = log_dir
        self.limit = max(1, limit if limit is not None else spec.concurrency)
        self.idle: list[FunctionHost] = []
        self.hosts: list[FunctionHost] = []
        self.waiting: collections.deque[_Waiter] = collections.deque()
        self.lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.spec.logical_id}.log"

    def _take(self) -> FunctionHost:
        with self.lock:
            if self.idle and not self.waiting:
                return self.idle.pop()
            if len(self.hosts) < self.limit:
                host = FunctionHost(self.spec, self.aws, self.log_dir)
                self.hosts.append(host)
                return host
            waiter = _Waiter()
            self.waiting.append(waiter)
        waiter.ready.wait()
        assert waiter.host is not None
        return waiter.host

    def _give_back(self, host: FunctionHost) -> None:
        with self.lock:
            if self.waiting:
                waiter = self.waiting.popleft()
                waiter.host = host
                waiter.ready.set()
            else:
                self.idle.append(host)

    def warm(self) -> None:
        host = self._take()
        try:
            host.warm()
        finally:
            self._give_back(host)

    def invoke(self, event: Any) -> Any:
        host = self._take()
        try:
            return host.invoke(event)
        finally:
            self._give_back(host)

    def stop(self) -> None:
        with self.lock:
            hosts, self.hosts, self.idle = list(self.hosts), [], []
        for host in hosts:
            host.stop()


@dataclass
class AsyncEvent:
    event: Any
    source: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0


class AsyncInvoker:
    """Lambda's async invocation queue for one function: retries, then the dead-letter queue."""

    RETRY_DELAYS = (0.2, 1.0)

    def __init__(
        self, host: FunctionPool | FunctionHost, sqs: Any, dlq_url: str | None, concurrency: int | None = None
    ) -> None:
        self.host = host
        self.sqs = sqs
        self.dlq_url = dlq_url
        self.queue: queue.Queue[AsyncEvent | None] = queue.Queue()
        self.idle = threading.Event()
        self.idle.set()
        self.pending = 0
        self.lock = threading.Lock()
        n = concurrency if concurrency is not None else getattr(host, "limit", 1)
        self.threads = [
            threading.Thread(target=self._run, daemon=True, name=f"async-{host.spec.logical_id}-{i}")
            for i in range(max(1, n))
        ]
        for thread in self.threads:
            thread.start()

    def submit(self, event: Any, source: str) -> str:
        item = AsyncEvent(event, source)
        with self.lock:
            self.pending += 1
            self.idle.clear()
        self.queue.put(item)
        return item.request_id

    def stop(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            try:
                self._deliver(item)
            finally:
                with self.lock:
                    self.pending -= 1
                    if self.pending == 0:
                        self.idle.set()

    def _deliver(self, item: AsyncEvent) -> None:
        spec = self.host.spec
        while True:
            item.attempts += 1
            try:
                self.host.invoke(item.event)
                return
            except InvocationError as err:
                log.warning("async invoke of %s failed (attempt %d): %s", spec.logical_id, item.attempts, err)
                if item.attempts > spec.max_retries:
                    self._dead_letter(item, err)
                    return
                time.sleep(self.RETRY_DELAYS[min(item.attempts - 1, len(self.RETRY_DELAYS) - 1)])

    def _dead_letter(self, item: AsyncEvent, err: InvocationError) -> None:
        if not self.dlq_url:
            log.error(
                "event for %s dropped after %d attempts (no DeadLetterQueue): %s",
                self.host.spec.logical_id,
                item.attempts,
                err,
            )
            return
        self.sqs.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=json.dumps(item.event, default=str),
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": item.request_id},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": str(err)[:1000]},
            },
        )
