"""One thin publish/subscribe transport for lane components: MQTT5 locally, Greengrass IPC on a device.

The code above this module (the lane simulator, the real lane components) sees only
:class:`Transport`: ``publish(topic, message)``, ``subscribe(topic_filter, callback)``, ``close()``.

- :class:`Mqtt5Transport` is the awscrt MQTT5 client: plain TCP to the local Mosquitto, or mutual
  TLS to AWS IoT Core (:meth:`Mqtt5Transport.mtls`, the same builder call as on a device).
- :class:`GreengrassIpcTransport` goes through the Greengrass nucleus (``PublishToIoTCore`` /
  ``SubscribeToIoTCore``); it needs a running nucleus, so awsiot.greengrasscoreipc is imported lazily.
- :func:`transport_from_env` picks one from the environment.

Callbacks receive ``(topic, payload_bytes)``. The MQTT5 transport runs them on one dispatcher thread of
its own, in arrival order, never on the awscrt event-loop thread: a callback may therefore publish
(and wait for the PUBACK) without dead-locking the client. A callback that raises is logged and the
dispatcher goes on. No business logic lives here.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from pydantic import BaseModel

log = logging.getLogger("smartgate_edge.transport")

MessageCallback = Callable[[str, bytes], None]

DEFAULT_MQTT_HOST = "127.0.0.1"
DEFAULT_MQTT_PORT = 1883
IPC_ENV_VARS = ("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT", "SVCUID")


class TransportError(RuntimeError):
    """The broker / nucleus could not be reached, or refused an operation; the message says which."""


class Transport(Protocol):
    def publish(self, topic: str, message: BaseModel | bytes, qos: int = 1) -> None:
        """Send one message; models go as ``model.model_dump_json()``. QoS 1 waits for the ack."""
        ...

    def subscribe(self, topic: str, callback: MessageCallback) -> None:
        """Deliver messages matching the filter (``+`` and ``#`` allowed) to ``callback(topic, payload)``."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


def kv(event: str, **fields: Any) -> str:
    """``"event key=value key=value"``: the message text of a log line (the fields also go as extras)."""
    return " ".join([event, *(f"{key}={value}" for key, value in fields.items())])


def _log(level: int, event: str, **fields: Any) -> None:
    log.log(level, kv(event, **fields), extra=fields)


def encode(message: BaseModel | bytes) -> bytes:
    """The wire form of a message: a model's JSON (by alias, so ``schema`` is on the wire) or raw bytes."""
    if isinstance(message, BaseModel):
        return message.model_dump_json().encode()
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message)
    raise TypeError(f"cannot publish a {type(message).__name__}; give a pydantic model or bytes")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic-filter matching: ``+`` is one level, a trailing ``#`` is that level and all below.

    As the MQTT spec says, wildcards at the first level do not match topics starting with ``$``.
    """
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    levels = topic.split("/")
    parts = topic_filter.split("/")
    for index, part in enumerate(parts):
        if part == "#":
            return index == len(parts) - 1
        if index >= len(levels):
            return False
        if part != "+" and part != levels[index]:
            return False
    return len(parts) == len(levels)


# --------------------------------------------------------------------------- MQTT5 (awscrt)


@dataclass
class _Subscription:
    topic_filter: str
    subscription_id: int
    callbacks: list[MessageCallback]


_STOP = object()


class Mqtt5Transport:
    """awscrt MQTT5 client behind the :class:`Transport` interface.

    ``Mqtt5Transport(host, port, client_id)`` is plain TCP (the local broker);
    :meth:`mtls` is mutual TLS (AWS IoT Core, or a local broker set up for it). Call :meth:`connect`
    (or use it as a context manager) before publishing.

    Dispatch: when the broker says in its CONNACK that it supports subscription identifiers
    (Mosquitto does), each subscription carries one, and a received copy runs only the callbacks of
    the subscriptions it is tagged with: Mosquitto sends one copy per matching subscription, so
    overlapping filters would otherwise call each callback twice. Without identifiers (AWS IoT Core
    has none) every subscription whose filter matches the topic gets the message; avoid overlapping
    filters there. After a reconnect into a new session the subscriptions are sent again.
    """

    def __init__(self, host: str, port: int, client_id: str, *, ack_timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.client_id = client_id
        self.ack_timeout = ack_timeout
        self._tls_files: tuple[str, str, str | None] | None = None
        self._client: Any = None
        self._lock = threading.Lock()
        self._subscriptions: dict[str, _Subscription] = {}
        self._next_subscription_id = 1
        self._subscription_ids_available = False
        self._connected = threading.Event()
        self._first_attempt_done = threading.Event()
        self._connect_error: BaseException | None = None
        self._stopped = threading.Event()
        self._closed = False
        self._inbox: queue.Queue[Any] = queue.Queue()
        self._dispatcher: threading.Thread | None = None

    @classmethod
    def mtls(
        cls,
        endpoint: str,
        port: int,
        cert_path: str,
        key_path: str,
        ca_path: str | None,
        client_id: str,
        *,
        ack_timeout: float = 10.0,
    ) -> Mqtt5Transport:
        """Mutual TLS with a device certificate, as against AWS IoT Core (``mtls_from_path``)."""
        transport = cls(endpoint, port, client_id, ack_timeout=ack_timeout)
        transport._tls_files = (cert_path, key_path, ca_path)
        return transport

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    def _build_client(self) -> Any:
        from awscrt import mqtt5

        if self._tls_files is not None:
            from awsiot import mqtt5_client_builder

            cert_path, key_path, ca_path = self._tls_files
            # The builder's keyword names differ from ClientOptions' field names, and it silently
            # ignores unknown keywords: these names are checked against awsiot/mqtt5_client_builder.py.
            return mqtt5_client_builder.mtls_from_path(
                cert_filepath=cert_path,
                pri_key_filepath=key_path,
                ca_filepath=ca_path,
                endpoint=self.host,
                port=self.port,
                client_id=self.client_id,
                on_publish_received=self._on_publish,
                on_lifecycle_connection_success=self._on_connection_success,
                on_lifecycle_connection_failure=self._on_connection_failure,
                on_lifecycle_disconnection=self._on_disconnection,
                on_lifecycle_stopped=self._on_stopped,
            )
        return mqtt5.Client(
            mqtt5.ClientOptions(
                host_name=self.host,
                port=self.port,
                connect_options=mqtt5.ConnectPacket(client_id=self.client_id, keep_alive_interval_sec=30),
                # a lane reconnects soon after its uplink returns (the CRT's default backoff grows to 2 min)
                min_reconnect_delay_ms=500,
                max_reconnect_delay_ms=10_000,
                # Without this the CRT appends SDK metrics to the CONNECT username, which only IoT Core wants.
                disable_metrics=True,
                on_publish_callback_fn=self._on_publish,
                on_lifecycle_event_connection_success_fn=self._on_connection_success,
                on_lifecycle_event_connection_failure_fn=self._on_connection_failure,
                on_lifecycle_event_disconnection_fn=self._on_disconnection,
                on_lifecycle_event_stopped_fn=self._on_stopped,
            )
        )

    # ---- lifecycle callbacks (awscrt event-loop thread: never block here)

    def _on_connection_success(self, data: Any) -> None:
        settings = data.negotiated_settings
        rejoined = bool(getattr(settings, "rejoined_session", False))
        # read before any SUBSCRIBE: connect() returns only after this callback ran
        self._subscription_ids_available = bool(settings.subscription_identifiers_available)
        reconnect = self._first_attempt_done.is_set()
        self._connect_error = None
        self._connected.set()
        self._first_attempt_done.set()
        _log(
            logging.INFO,
            "mqtt connected",
            host=self.host,
            port=self.port,
            client_id=self.client_id,
            rejoined_session=rejoined,
        )
        if reconnect and not rejoined:
            with self._lock:
                subscriptions = list(self._subscriptions.values())
            for sub in subscriptions:  # a new session has no subscriptions: send them again
                future = self._client.subscribe(self._subscribe_packet(sub))
                future.add_done_callback(lambda f, s=sub: self._log_resubscribe(s, f))

    def _log_resubscribe(self, sub: _Subscription, future: Future) -> None:
        try:
            self._check_suback(sub.topic_filter, future.result())
            _log(logging.INFO, "mqtt resubscribed", filter=sub.topic_filter)
        except Exception as exc:  # logged; the next reconnect tries again
            _log(logging.ERROR, "mqtt resubscribe failed", filter=sub.topic_filter, error=exc)

    def _on_connection_failure(self, data: Any) -> None:
        reason = data.exception
        connack = getattr(data, "connack_packet", None)
        if connack is not None and connack.reason_code is not None:
            reason = f"{reason} (CONNACK {connack.reason_code.name})"
        if not self._first_attempt_done.is_set():
            self._connect_error = RuntimeError(str(reason))
            self._first_attempt_done.set()
        _log(logging.WARNING, "mqtt connection failed", host=self.host, port=self.port, error=reason)

    def _on_disconnection(self, data: Any) -> None:
        self._connected.clear()
        level = logging.INFO if self._closed else logging.WARNING
        _log(level, "mqtt disconnected", host=self.host, port=self.port, error=data.exception)

    def _on_stopped(self, data: Any) -> None:
        self._connected.clear()
        self._stopped.set()

    def _on_publish(self, data: Any) -> None:
        packet = data.publish_packet
        payload = packet.payload if isinstance(packet.payload, bytes) else str(packet.payload or "").encode()
        self._inbox.put((packet.topic, payload, tuple(packet.subscription_identifiers or ())))

    # ---- dispatch (our own thread)

    def _dispatch_loop(self) -> None:
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            topic, payload, subscription_ids = item
            for callback in self._callbacks_for(topic, subscription_ids):
                try:
                    callback(topic, payload)
                except Exception:  # one bad callback must not stop the lane
                    log.exception(kv("callback failed", topic=topic), extra={"topic": topic})

    def _callbacks_for(self, topic: str, subscription_ids: tuple[int, ...]) -> list[MessageCallback]:
        with self._lock:
            subscriptions = list(self._subscriptions.values())
        if subscription_ids:
            chosen = [s for s in subscriptions if s.subscription_id in subscription_ids]
        else:
            chosen = [s for s in subscriptions if topic_matches(s.topic_filter, topic)]
        if not chosen:
            _log(logging.DEBUG, "mqtt message without subscriber", topic=topic)
        return [callback for sub in chosen for callback in list(sub.callbacks)]

    # ---- public API

    def connect(self, timeout: float = 10.0) -> Self:
        """Start the client and wait for the CONNACK; TransportError if refused, failed or too slow.

        Connecting twice is harmless. Once connected, the client reconnects by itself after a drop.
        """
        if self._closed:
            raise TransportError(f"MQTT transport to {self._where()} is closed")
        if self._client is not None:
            if self._connected.wait(timeout):
                return self
            raise TransportError(f"MQTT broker {self._where()} not connected after {timeout:g}s")
        try:
            self._client = self._build_client()
        except Exception as exc:  # bad certificate paths and the like surface here
            raise TransportError(f"cannot set up MQTT client for {self._where()}: {exc}") from exc
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name=f"mqtt-dispatch-{self.client_id}", daemon=True
        )
        self._dispatcher.start()
        self._client.start()
        if not self._first_attempt_done.wait(timeout):
            self.close()
            hint = (
                (
                    "; with TLS this is what an untrusted server certificate looks like (the CRT's s2n "
                    "reports that failure only after 10-30 s)"
                )
                if self._tls_files
                else ""
            )
            raise TransportError(f"cannot connect to MQTT broker {self._where()}: no CONNACK within {timeout:g}s{hint}")
        if not self._connected.is_set():
            error = self._connect_error
            self.close()
            raise TransportError(f"cannot connect to MQTT broker {self._where()}: {error}")
        return self

    def _require_client(self) -> Any:
        if self._client is None or self._closed:
            raise TransportError(f"MQTT transport to {self._where()} is not connected; call connect() first")
        return self._client

    def publish(self, topic: str, message: BaseModel | bytes, qos: int = 1) -> None:
        from awscrt import mqtt5

        client = self._require_client()
        payload = encode(message)
        packet = mqtt5.PublishPacket(topic=topic, payload=payload, qos=mqtt5.QoS(qos))
        try:
            future = client.publish(packet)  # invalid topics raise here, synchronously
            result = future.result(self.ack_timeout)
        except TimeoutError as exc:
            raise TransportError(f"no PUBACK for {topic} from {self._where()} within {self.ack_timeout:g}s") from exc
        except Exception as exc:
            raise TransportError(f"publish to {topic} on {self._where()} failed: {exc}") from exc
        puback = getattr(result, "puback", None)  # QoS 0: no PUBACK
        code = getattr(puback, "reason_code", None)
        # NO_MATCHING_SUBSCRIBERS (16) is success: the broker took the message, nobody listens yet.
        if code is not None and int(code) >= 0x80:
            name = getattr(code, "name", code)
            raise TransportError(
                f"broker {self._where()} refused publish to {topic}: {name} "
                f"{getattr(puback, 'reason_string', None) or ''}".rstrip()
            )
        _log(logging.DEBUG, "mqtt published", topic=topic, qos=qos, size=len(payload))

    def subscribe(self, topic: str, callback: MessageCallback) -> None:
        client = self._require_client()
        with self._lock:
            existing = self._subscriptions.get(topic)
            if existing is not None:  # same filter again: one more callback, no new SUBSCRIBE
                existing.callbacks.append(callback)
                return
            sub = _Subscription(topic, self._next_subscription_id, [callback])
            self._next_subscription_id += 1
            self._subscriptions[topic] = sub  # before SUBSCRIBE: a retained message may follow the SUBACK
        try:
            try:
                suback = client.subscribe(self._subscribe_packet(sub)).result(self.ack_timeout)
            except TimeoutError as exc:
                raise TransportError(
                    f"no SUBACK for {topic} from {self._where()} within {self.ack_timeout:g}s"
                ) from exc
            except Exception as exc:
                raise TransportError(f"subscribe to {topic} on {self._where()} failed: {exc}") from exc
            self._check_suback(topic, suback)
        except TransportError:
            with self._lock:
                self._subscriptions.pop(topic, None)
            raise
        _log(logging.INFO, "mqtt subscribed", filter=topic, client_id=self.client_id)

    def _subscribe_packet(self, sub: _Subscription) -> Any:
        from awscrt import mqtt5

        return mqtt5.SubscribePacket(
            subscriptions=[mqtt5.Subscription(topic_filter=sub.topic_filter, qos=mqtt5.QoS.AT_LEAST_ONCE)],
            subscription_identifier=sub.subscription_id if self._subscription_ids_available else None,
        )

    def _check_suback(self, topic: str, suback: Any) -> None:
        codes = list(suback.reason_codes or [])
        bad = [code for code in codes if int(code) >= 0x80]
        if not codes or bad:
            names = ", ".join(str(getattr(code, "name", code)) for code in bad) or "no reason code"
            raise TransportError(
                f"broker {self._where()} refused subscription to {topic}: {names} {suback.reason_string or ''}".rstrip()
            )

    def close(self, timeout: float = 5.0) -> None:
        """Disconnect, stop the dispatcher; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._client is not None:
            was_connected = self._connected.is_set()
            self._client.stop()
            # A client still negotiating TLS reports "stopped" only once s2n gives up (10-30 s): do not
            # hold the caller for that; a connected client stops within milliseconds.
            self._stopped.wait(timeout if was_connected else min(timeout, 0.5))
        self._inbox.put(_STOP)
        dispatcher = self._dispatcher
        if dispatcher is not None and dispatcher is not threading.current_thread():
            dispatcher.join(timeout)

    def __enter__(self) -> Self:
        return self.connect()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# --------------------------------------------------------------------------- Greengrass IPC


class GreengrassIpcTransport:
    """PublishToIoTCore / SubscribeToIoTCore through the Greengrass nucleus (GreengrassCoreIPCClientV2).

    The component's recipe must allow each topic in ``accessControl`` (``aws.greengrass.ipc.mqttproxy``).
    The V2 client runs stream callbacks on its own thread pool, so a callback may publish.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        timeout: float = 10.0,
        ipc_socket: str | None = None,
        auth_token: str | None = None,
        local: bool = False,
    ) -> None:
        """``local``: the nucleus's local publish/subscribe between components of the device (PublishToTopic /
        SubscribeToTopic, binary messages) instead of AWS IoT Core; it works with the uplink down."""
        self.timeout = timeout
        self.local = local
        self._inbox: queue.Queue[tuple[Callable[[str, bytes], None], str, bytes] | None] = queue.Queue()
        self._dispatcher: threading.Thread | None = None
        self._dispatch_lock = threading.Lock()
        self._operations: list[Any] = []
        if client is None:
            try:
                from awsiot import greengrasscoreipc
                from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

                ipc = greengrasscoreipc.connect(ipc_socket=ipc_socket, authtoken=auth_token, timeout=timeout)
                client = GreengrassCoreIPCClientV2(client=ipc)
            except Exception as exc:
                raise TransportError(f"cannot connect to the Greengrass nucleus over IPC: {exc}") from exc
        self._client = client

    def _ordered(self, deliver: Callable[[str, bytes], None], name: str, payload: bytes) -> None:
        """Hand a local-bus message to the one dispatcher thread (started on first use), in arrival order."""
        with self._dispatch_lock:
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(target=self._dispatch, name="ipc-local-dispatch", daemon=True)
                self._dispatcher.start()
        self._inbox.put((deliver, name, payload))

    def _dispatch(self) -> None:
        while (item := self._inbox.get()) is not None:
            deliver, name, payload = item
            deliver(name, payload)

    @staticmethod
    def _qos(qos: int) -> str:
        from awsiot.greengrasscoreipc.model import QOS

        return QOS.AT_LEAST_ONCE if qos else QOS.AT_MOST_ONCE

    def publish(self, topic: str, message: BaseModel | bytes, qos: int = 1) -> None:
        payload = encode(message)
        try:
            if self.local:
                from awsiot.greengrasscoreipc.model import BinaryMessage, PublishMessage

                published = self._client.publish_to_topic_async(
                    topic=topic, publish_message=PublishMessage(binary_message=BinaryMessage(message=payload))
                )
            else:
                published = self._client.publish_to_iot_core_async(
                    topic_name=topic, qos=self._qos(qos), payload=payload
                )
            published.result(self.timeout)
        except Exception as exc:
            raise TransportError(f"IPC publish to IoT Core topic {topic} failed: {exc!r}") from exc
        _log(logging.DEBUG, "ipc published", topic=topic, qos=qos, size=len(payload))

    def subscribe(self, topic: str, callback: MessageCallback) -> None:
        def deliver(name: str, payload: bytes) -> None:
            try:
                callback(name, payload)
            except Exception:  # logged; the stream stays open
                log.exception(kv("callback failed", topic=name), extra={"topic": topic})

        def on_event(event: Any) -> None:
            if self.local:  # the V2 client's pool would run these out of order: one dispatcher keeps it
                binary = event.binary_message
                name = (binary.context.topic if binary and binary.context else None) or topic
                self._ordered(deliver, name, bytes(binary.message or b"") if binary else b"")
            else:
                deliver(event.message.topic_name, bytes(event.message.payload or b""))

        def on_error(error: Exception) -> bool:
            _log(logging.ERROR, "ipc subscription error", filter=topic, error=error)
            return False  # keep the stream open

        try:
            if self.local:
                future, operation = self._client.subscribe_to_topic_async(
                    topic=topic, on_stream_event=on_event, on_stream_error=on_error
                )
            else:
                future, operation = self._client.subscribe_to_iot_core_async(
                    topic_name=topic, qos=self._qos(1), on_stream_event=on_event, on_stream_error=on_error
                )
            future.result(self.timeout)
        except Exception as exc:
            raise TransportError(f"IPC subscribe to IoT Core topic {topic} failed: {exc!r}") from exc
        self._operations.append(operation)
        _log(logging.INFO, "ipc subscribed", filter=topic)

    def close(self) -> None:
        for operation in self._operations:
            with contextlib.suppress(Exception):  # closing anyway
                operation.close()
        self._operations.clear()
        self._inbox.put(None)
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# --------------------------------------------------------------------------- choice


def transport_from_env(
    env: Mapping[str, str], client_id: str, *, connect_timeout: float = 10.0, connect: bool = True
) -> Transport:
    """A connected transport (``connect=False``: not yet, for :func:`connect_in_background`): Greengrass IPC
    under a nucleus, otherwise MQTT5.

    - ``AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT`` or ``SVCUID`` set (the nucleus sets both):
      :class:`GreengrassIpcTransport`.
    - otherwise :class:`Mqtt5Transport` to ``SMARTGATE_MQTT_HOST`` (127.0.0.1) : ``SMARTGATE_MQTT_PORT``
      (1883); mutual TLS when ``SMARTGATE_MQTT_CERT`` and ``SMARTGATE_MQTT_KEY`` are set
      (``SMARTGATE_MQTT_CA`` for a private CA; the system trust store otherwise).
    """
    if any(env.get(name) for name in IPC_ENV_VARS):
        return GreengrassIpcTransport(
            timeout=connect_timeout,
            ipc_socket=env.get(IPC_ENV_VARS[0]) or None,
            auth_token=env.get(IPC_ENV_VARS[1]) or None,
        )
    host = env.get("SMARTGATE_MQTT_HOST") or DEFAULT_MQTT_HOST
    raw_port = env.get("SMARTGATE_MQTT_PORT") or str(DEFAULT_MQTT_PORT)
    try:
        port = int(raw_port)
    except ValueError:
        raise TransportError(f"SMARTGATE_MQTT_PORT must be a port number, not {raw_port!r}") from None
    cert, key, ca = (env.get(f"SMARTGATE_MQTT_{name}") or None for name in ("CERT", "KEY", "CA"))
    if bool(cert) != bool(key):
        raise TransportError("set both SMARTGATE_MQTT_CERT and SMARTGATE_MQTT_KEY for mutual TLS, or neither")
    if cert and key:
        transport = Mqtt5Transport.mtls(host, port, cert, key, ca, client_id)
    else:
        transport = Mqtt5Transport(host, port, client_id)
    return transport.connect(connect_timeout) if connect else transport


def subscribe_until_held(
    transport: Transport,
    topic: str,
    callback: MessageCallback,
    stop: threading.Event | None = None,
    *,
    retry_s: float = 1.0,
    retry_max_s: float | None = None,
) -> bool:
    """Subscribe, trying again until it holds (the link dropped between CONNACK and SUBACK, a broker still
    starting): a lane component is never left deaf to what the cloud sends it. The wait doubles up to
    ``retry_max_s`` (default: it stays ``retry_s``). False if ``stop`` was set first."""
    delay = retry_s
    while True:
        try:
            transport.subscribe(topic, callback)
            _log(logging.INFO, "subscribed", topic=topic)
            return True
        except TransportError as exc:
            _log(logging.WARNING, "subscribe failed; trying again", topic=topic, error=exc)
        if stop is not None:
            if stop.wait(delay):
                return False
        else:
            time.sleep(delay)
        delay = min(retry_max_s or retry_s, delay * 2)


def connect_in_background(
    make: Callable[[], Mqtt5Transport],
    on_connected: Callable[[Mqtt5Transport], None],
    stop: threading.Event,
    *,
    timeout: float = 5.0,
    retry_s: float = 0.5,
) -> threading.Thread:
    """Connect a lane's uplink without holding the lane up: a lane starts with its link down and reads,
    queues and decides meanwhile. Tries until it connects (a failed client is not reused), then hands the
    transport to ``on_connected``; the client reconnects by itself after that."""

    def run() -> None:
        while not stop.is_set():
            transport = make()
            try:
                transport.connect(timeout=timeout)
            except TransportError as exc:
                transport.close()
                _log(logging.INFO, "uplink not reachable yet", error=exc)
                stop.wait(retry_s)
                continue
            on_connected(transport)
            return

    thread = threading.Thread(target=run, name="uplink-connect", daemon=True)
    thread.start()
    return thread
