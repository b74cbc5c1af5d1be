"""`smartgate publish-web`: the static web apps (``web/<app>/``) into a deployed stack's bucket, behind CloudFront.

It reads the stack's outputs (``ApiUrl``, ``WebBucketName``, ``WebDistributionId``) and its ``Stage``
parameter, uploads every file under ``web/`` (dot-files skipped) with the Content-Type the local stack
serves it with (``web_static.TYPES``) and a Cache-Control, writes each app's ``config.json`` (the
deployed API's URL, in the shape ``web_static.local_config()`` has locally), and asks CloudFront to drop
what it holds (``/*``). ``web/shared/`` (what the apps import as ``../shared/...``) goes up as it is: not an
app, so no config.json. boto3 finds AWS, or the local emulator, as usual (``AWS_ENDPOINT_URL``).

Cache-Control: nothing is fingerprinted (no bundler), so every file that changes under its own name on
a release — pages, ES modules, styles, ``sw.js``, ``config.json``, the manifest, the catalogues — is
``no-cache`` (the browser revalidates with the ETag; the service worker keeps the offline copy). Only
images and fonts get a long max-age. Pages go up last, so a page never names a module not there yet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from smartgate_infra.services import ServiceError
from smartgate_infra.web_static import SHARED, TYPES

NO_CACHE = "no-cache"
LONG_CACHE = "public, max-age=604800"  # a week: icons and fonts, which keep their names
CHANGES_WITH_A_RELEASE = (".html", ".js", ".mjs", ".css", ".webmanifest")


@dataclass(frozen=True)
class StackOutputs:
    """What publishing needs from the deployed stack."""

    api_url: str
    bucket: str
    stage: str = "dev"
    distribution_id: str | None = None
    web_url: str | None = None


@dataclass(frozen=True)
class Upload:
    key: str
    body: bytes = field(repr=False)
    content_type: str
    cache_control: str


@dataclass
class PublishReport:
    uploaded: list[Upload] = field(default_factory=list)
    invalidation_id: str | None = None


def stack_outputs(cloudformation: Any, stack_name: str) -> StackOutputs:
    """The outputs and Stage of a deployed stack; a missing output is named."""
    try:
        [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except (ClientError, BotoCoreError) as err:
        raise ServiceError(f"cannot read stack {stack_name!r}: {err}") from err
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    missing = [name for name in ("ApiUrl", "WebBucketName") if not outputs.get(name)]
    if missing:
        raise ServiceError(
            f"stack {stack_name!r} has no output {' or '.join(missing)}; deploy this template first (make deploy)"
        )
    return StackOutputs(
        api_url=outputs["ApiUrl"],
        bucket=outputs["WebBucketName"],
        stage=parameters.get("Stage") or "dev",
        distribution_id=outputs.get("WebDistributionId"),
        web_url=outputs.get("WebUrl"),
    )


def content_type(key: str) -> str:
    return TYPES.get(Path(key).suffix, "application/octet-stream")


def cache_control(key: str) -> str:
    parts = key.split("/")
    name = parts[-1]
    if (
        name.endswith(CHANGES_WITH_A_RELEASE)
        or name == "config.json"
        or ("i18n" in parts[:-1] and name.endswith(".json"))
    ):
        return NO_CACHE
    return LONG_CACHE


def apps(web_root: Path) -> list[str]:
    """The web apps: folders of web/ with an index.html, web/shared/ never (as the local stack serves them)."""
    return sorted(
        d.name
        for d in web_root.iterdir()
        if not d.name.startswith(".") and d.name != SHARED and (d / "index.html").is_file()
    )


def plan(web_root: Path, outputs: StackOutputs) -> list[Upload]:
    """Every object to put, in upload order (pages last)."""
    names = apps(web_root) if web_root.is_dir() else []
    if not names:
        raise ServiceError(f"no web app under {web_root} (a folder with an index.html)")
    uploads = []
    for path in sorted(web_root.rglob("*")):
        rel = path.relative_to(web_root)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if len(rel.parts) == 2 and rel.parts[0] in names and rel.parts[1] == "config.json":
            continue  # each app's config.json is written below, for this stack
        key = rel.as_posix()
        uploads.append(Upload(key, path.read_bytes(), content_type(key), cache_control(key)))
    config = json.dumps({"api_url": outputs.api_url, "stage": outputs.stage}).encode()
    uploads += [Upload(f"{app}/config.json", config, TYPES[".json"], NO_CACHE) for app in names]
    return sorted(uploads, key=lambda u: (u.key.endswith(".html"), u.key))


def publish(
    session: boto3.session.Session,
    outputs: StackOutputs,
    web_root: Path,
    *,
    invalidate: bool = True,
    say: Callable[..., None] = print,
) -> PublishReport:
    uploads = plan(web_root, outputs)
    s3 = session.client("s3")
    report = PublishReport()
    try:
        for upload in uploads:
            s3.put_object(
                Bucket=outputs.bucket,
                Key=upload.key,
                Body=upload.body,
                ContentType=upload.content_type,
                CacheControl=upload.cache_control,
            )
            report.uploaded.append(upload)
    except (ClientError, BotoCoreError) as err:
        raise ServiceError(
            f"uploading to s3://{outputs.bucket} failed after {len(report.uploaded)} files: {err}"
        ) from err
    unknown = [u.key for u in uploads if u.content_type == "application/octet-stream"]
    say(f"uploaded {len(uploads)} files to s3://{outputs.bucket} (config.json: api_url {outputs.api_url})")
    if unknown:
        say(f"warning: no known Content-Type (add it to web_static.TYPES): {', '.join(unknown)}")
    if invalidate and outputs.distribution_id:
        try:
            answer = session.client("cloudfront").create_invalidation(
                DistributionId=outputs.distribution_id,
                InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time_ns())},
            )
        except (ClientError, BotoCoreError) as err:
            raise ServiceError(f"the files are up, but the CloudFront invalidation failed: {err}") from err
        report.invalidation_id = answer["Invalidation"]["Id"]
        say(f"CloudFront invalidation {report.invalidation_id} of /* on {outputs.distribution_id} (a minute or two)")
    if outputs.web_url:
        say(f"the trader app: {outputs.web_url}")
    return report


def publish_stack(
    stack_name: str,
    web_root: Path,
    *,
    region: str | None = None,
    invalidate: bool = True,
    say: Callable[..., None] = print,
) -> PublishReport:
    """Publish web_root to the stack ``stack_name`` (credentials and endpoint from the environment, as boto3 does)."""
    session = boto3.session.Session(region_name=region or None)
    if not session.region_name:
        raise ServiceError("no AWS region: pass --region or set AWS_DEFAULT_REGION")
    outputs = stack_outputs(session.client("cloudformation"), stack_name)
    return publish(session, outputs, web_root, invalidate=invalidate, say=say)
