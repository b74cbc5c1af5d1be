"""Adapters built once per process (Lambda container) from the settings, behind lru_cache factories."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from smartgate.adapters.aws import EventBridgePublisher, IotCommandPublisher, SnsNotifier, SqsRejectedSink
from smartgate.adapters.clock import SystemClock
from smartgate.adapters.dynamodb import DynamoBookings, DynamoDetections, DynamoPassages
from smartgate.config import settings
from smartgate.domain.crossing import CrossingDeps


def _ttl() -> timedelta:
    return timedelta(days=settings().personal_data_ttl_days)


@lru_cache(maxsize=1)
def bookings() -> DynamoBookings:
    s = settings()
    return DynamoBookings(s.require("bookings_table"), s.aws_region, _ttl())


@lru_cache(maxsize=1)
def passages() -> DynamoPassages:
    s = settings()
    return DynamoPassages(s.require("passages_table"), s.aws_region, _ttl())


@lru_cache(maxsize=1)
def detections() -> DynamoDetections:
    s = settings()
    return DynamoDetections(s.require("detections_table"), s.aws_region, _ttl())


@lru_cache(maxsize=1)
def crossing_deps() -> CrossingDeps:
    s = settings()
    return CrossingDeps(
        bookings=bookings(),
        passages=passages(),
        detections=detections(),
        commands=IotCommandPublisher(s.aws_region, s.iot_data_endpoint),
        clock=SystemClock(),
        signing_key=s.require("barrier_signing_key").encode(),
        command_ttl=timedelta(seconds=s.command_ttl_seconds),
    )


@lru_cache(maxsize=1)
def rejected_sink() -> SqsRejectedSink:
    s = settings()
    return SqsRejectedSink(s.require("rejected_queue_url"), s.aws_region)


@lru_cache(maxsize=1)
def event_publisher() -> EventBridgePublisher:
    s = settings()
    return EventBridgePublisher(s.require("event_bus_name"), s.aws_region)


@lru_cache(maxsize=1)
def officer_notifier() -> SnsNotifier:
    s = settings()
    return SnsNotifier(s.require("officer_alerts_topic_arn"), s.aws_region)
