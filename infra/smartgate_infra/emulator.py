"""The AWS emulator of the local stack: moto's server, with DynamoDB transactions made atomic.

moto 5 applies a ``TransactWriteItems`` operation by operation and, when a condition fails, puts back
a deep copy of every table it touched, taken before it started. Under concurrent requests (the local
runtime runs several invocations of a function at once, as Lambda does) that loses what other
requests wrote in between, and it swaps the table's stream shard for a copy, so that a reader of the
stream waits forever — both seen here: a passage decided by another request vanished, and the audit
and the bus stopped. DynamoDB itself checks every condition of a transaction first and writes only
if all hold, atomically; this wrapper does the same, with every DynamoDB write of the emulator under
one lock. It changes nothing else: the conditions, errors and cancellation reasons are moto's own.

Run as ``python -m smartgate_infra.emulator -H 127.0.0.1 -p PORT`` (the arguments of moto_server).
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
import time
from typing import Any

LOCK = threading.RLock()


def _locked(method: Any) -> Any:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return method(*args, **kwargs)

    return wrapper


def install() -> None:
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        with LOCK:
            targets: set[tuple[str, str]] = set()
            plans: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
            errors: list[Any] = []
            for item in transact_items:
                if len(item) > 1:
                    raise TransactWriteSingleOpException
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table = self.get_table(op["TableName"])
                if op_type == "Put":
                    attrs = op["Item"]
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                target = (str(op["TableName"]), str(dict(sorted(key.items()))))
                if target in targets:
                    raise MultipleTransactionsException()
                targets.add(target)
                current = self.get_item(op["TableName"], key)
                condition = op.get("ConditionExpression")
                if condition is not None and not get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                ).expr(current):
                    old = (
                        current.to_json()["Attributes"]
                        if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                        else None
                    )
                    errors.append(("ConditionalCheckFailed", ConditionalCheckFailed().message, old))
                    continue
                errors.append((None, None, None))
                plans.append((op_type, op, key))
            if any(code is not None for code, _, _ in errors):
                raise TransactionCanceledException(errors)
            for op_type, op, key in plans:  # every condition holds: write them all
                names = op.get("ExpressionAttributeNames")
                values = op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(
                        op["TableName"],
                        op["Item"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        op["TableName"], key, expression_attribute_names=names, expression_attribute_values=values
                    )
                elif op_type == "Update":
                    self.update_item(
                        op["TableName"],
                        key,
                        update_expression=op["UpdateExpression"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )

    for name in ("put_item", "update_item", "delete_item", "batch_write_item"):
        setattr(DynamoDBBackend, name, _locked(getattr(DynamoDBBackend, name)))
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def quicken() -> None:
    """Two costs of moto's server that are not emulation: it lists its own package folder (~190 entries)
    for every request to find the service, and writes a log line per request. Under concurrent bookings
    they were about 45 % of its time (profiled). The folder does not change while it runs; errors are
    still logged."""
    import logging

    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


SHORT_RETENTION_S = 900
"""Queues kept at most this long have their expired messages dropped (moto keeps them for ever)."""


def expire_messages(every_s: float = 5.0) -> threading.Thread:
    """SQS deletes a message once it is older than its queue's MessageRetentionPeriod; moto does not, and
    computes a queue's attributes over all its messages on every send. For the queues that keep messages
    briefly (the runtime's tap: a window onto what just happened), a thread drops the expired ones, under
    the queue's own lock (the one its sends append under)."""
    from moto.core.utils import unix_time
    from moto.sqs.models import sqs_backends

    def sweep() -> None:
        while True:
            time.sleep(every_s)
            try:
                for account in list(sqs_backends.values()):
                    for backend in list(account.values()):
                        for queue in list(backend.queues.values()):
                            keep = int(getattr(queue, "message_retention_period", 0) or 0)
                            if not 0 < keep <= SHORT_RETENTION_S:
                                continue
                            now = unix_time()
                            with queue._messages_lock:
                                queue._messages = [
                                    m for m in queue._messages if (m.sent_timestamp or 0) / 1000 + keep > now
                                ]
            except Exception:  # noqa: BLE001 - a sweep that failed is tried again; the server goes on
                logging.getLogger(__name__).exception("expiring SQS messages failed")

    thread = threading.Thread(target=sweep, name="sqs-expiry", daemon=True)
    thread.start()
    return thread


def main(argv: list[str] | None = None) -> None:
    install()
    quicken()
    expire_messages()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
