"""CORS on the local stack's API as API Gateway answers it (template.yaml Globals.Api.Cors), and
`smartgate publish-web` against the emulator's S3, CloudFormation and CloudFront."""

from __future__ import annotations

import http.client
import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from smartgate_infra.cli import main
from smartgate_infra.cors import ApiCors

pytestmark = pytest.mark.integration

PREFLIGHT = {
    "Origin": "https://d111111abcdef8.cloudfront.net",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
}


def request(stack, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:  # type: ignore[no-untyped-def]
    url = urlsplit(stack.api_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        reply = conn.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def web_origin(stack_client) -> str:  # type: ignore[no-untyped-def]
    return ApiCors.from_value(stack_client.template.api_global("Cors")).allow_origin


def test_a_preflight_is_answered_without_a_token_or_the_function(stack, web_origin) -> None:  # type: ignore[no-untyped-def]
    status, headers, body = request(stack, "OPTIONS", "/bookings", PREFLIGHT)  # a route that needs a token
    assert status == 200 and body == b"{}"
    assert headers["Access-Control-Allow-Origin"] == web_origin
    assert headers["Access-Control-Allow-Methods"] == "GET,OPTIONS,POST"
    assert headers["Access-Control-Allow-Headers"] == "Authorization,Content-Type,Idempotency-Key"
    assert headers["Access-Control-Max-Age"] == "600"
    assert "Access-Control-Expose-Headers" not in headers  # what the function would add: it did not answer
    status, headers, _ = request(stack, "OPTIONS", "/bookings/BK-1/cancel")
    assert status == 200 and headers["Access-Control-Allow-Methods"] == "OPTIONS,POST"


def test_other_unknown_methods_stay_405_and_unknown_paths_404(stack) -> None:  # type: ignore[no-untyped-def]
    status, headers, body = request(stack, "PROPFIND", "/bookings")
    assert status == 405 and headers["Allow"] == "GET, OPTIONS, POST"
    status, _, body = request(stack, "OPTIONS", "/nowhere", PREFLIGHT)
    assert status == 404 and "no API route" in json.loads(body)["message"]


def test_answers_carry_the_web_origin_from_the_function_and_from_the_gateway(stack, web_origin) -> None:  # type: ignore[no-untyped-def]
    status, headers, _ = request(stack, "GET", "/health", {"Origin": web_origin})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == web_origin  # WEB_ORIGIN in the function
    assert headers["Access-Control-Expose-Headers"] == "Retry-After"
    status, headers, _ = request(stack, "GET", "/bookings", {"Origin": web_origin})  # no token: the authorizer
    assert status == 401 and headers["Access-Control-Allow-Origin"] == web_origin


# ------------------------------------------------------------------------------------ publish-web


@pytest.fixture
def deployed(stack, stack_client, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A stand-in for the deployed stack in the emulator: its outputs in a CloudFormation stack (the
    emulator cannot deploy the SAM template), the template's web bucket, a CloudFront distribution."""
    for name, value in {
        "AWS_ENDPOINT_URL": stack.endpoint_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": stack_client.template.region,
    }.items():
        monkeypatch.setenv(name, value)
    bucket = stack_client.template.resources["WebBucket"].physical_name
    run = uuid.uuid4().hex[:8]
    distribution = stack_client.client("cloudfront").create_distribution(
        DistributionConfig={
            "CallerReference": f"publish-web-test-{run}",
            "Comment": "stand-in for WebDistribution",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "web",
                        "DomainName": f"{bucket}.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {"TargetOriginId": "web", "ViewerProtocolPolicy": "redirect-to-https"},
        }
    )["Distribution"]
    outputs = {
        "ApiUrl": "https://abc123.execute-api.us-east-1.amazonaws.com/Prod",
        "WebBucketName": bucket,
        "WebDistributionId": distribution["Id"],
        "WebUrl": f"https://{distribution['DomainName']}/trader/",
    }
    stub = {
        "Parameters": {"Stage": {"Type": "String"}},
        "Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
    }
    stack_name = f"smartgate-web-publish-{run}"
    cfn = stack_client.client("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(stub),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": "staging"}],
    )
    yield {"stack_name": stack_name, **outputs}
    cfn.delete_stack(StackName=stack_name)


def test_publish_web_uploads_typed_cached_files_and_this_stacks_config(
    deployed, stack_client, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    web = tmp_path / "web"
    for name, text in {
        "trader/index.html": "<!doctype html><title>t</title>",
        "trader/sw.js": "self.addEventListener('fetch', () => {});",
        "trader/js/app.js": "export const x = 1;",
        "trader/icon.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
        "trader/i18n/vi.json": '{"hello": "xin chào"}',
        "trader/config.json": '{"api_url": "", "stage": "local"}',
        "trader/.secret": "never uploaded",
        "shared/js/dom.js": "export const h = 1;",
    }.items():
        (web / name).parent.mkdir(parents=True, exist_ok=True)
        (web / name).write_text(text, encoding="utf-8")

    assert main(["publish-web", "--stack-name", deployed["stack_name"], "--web-root", str(web)]) == 0

    s3 = stack_client.client("s3")
    bucket = deployed["WebBucketName"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="trader/")["Contents"]}
    assert keys == {
        "trader/index.html",
        "trader/sw.js",
        "trader/js/app.js",
        "trader/icon.svg",
        "trader/i18n/vi.json",
        "trader/config.json",
    }
    expected = {
        "trader/index.html": ("text/html; charset=utf-8", "no-cache"),
        "trader/sw.js": ("text/javascript; charset=utf-8", "no-cache"),
        "trader/js/app.js": ("text/javascript; charset=utf-8", "no-cache"),
        "trader/icon.svg": ("image/svg+xml", "public, max-age=604800"),
        "trader/i18n/vi.json": ("application/json; charset=utf-8", "no-cache"),
        "trader/config.json": ("application/json; charset=utf-8", "no-cache"),
    }
    for key, (content_type, cache_control) in expected.items():
        head = s3.head_object(Bucket=bucket, Key=key)
        assert (head["ContentType"], head["CacheControl"]) == (content_type, cache_control), key
    config = json.loads(s3.get_object(Bucket=bucket, Key="trader/config.json")["Body"].read())
    assert config == {"api_url": deployed["ApiUrl"], "stage": "staging"}  # the shape web_static.local_config() has
    assert s3.get_object(Bucket=bucket, Key="trader/i18n/vi.json")["Body"].read().decode() == '{"hello": "xin chào"}'
    shared = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="shared/")["Contents"]}
    assert shared == {"shared/js/dom.js"}  # what the apps import as ../shared/...; not an app: no config.json
    head = s3.head_object(Bucket=bucket, Key="shared/js/dom.js")
    assert (head["ContentType"], head["CacheControl"]) == ("text/javascript; charset=utf-8", "no-cache")

    invalidations = stack_client.client("cloudfront").list_invalidations(DistributionId=deployed["WebDistributionId"])
    [invalidation] = invalidations["InvalidationList"]["Items"]
    out = capsys.readouterr().out
    assert invalidation["Id"] in out and deployed["WebUrl"] in out


def test_publish_web_names_a_stack_without_the_web_outputs(deployed, stack_client, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["publish-web", "--stack-name", "no-such-stack", "--web-root", str(tmp_path)]) == 2
    assert "no-such-stack" in capsys.readouterr().err
