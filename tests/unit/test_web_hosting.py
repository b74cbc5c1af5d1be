"""Deployed hosting of the web apps (S3 + CloudFront in template.yaml), the API's CORS, and what
`smartgate publish-web` would upload. Pure: the template is read, nothing is deployed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from smartgate.config import settings
from smartgate_infra.cors import ApiCors, ApiGatewaySettings, CorsConfigError
from smartgate_infra.provision import NOT_LOCAL, Provisioner, ProvisionError
from smartgate_infra.publish_web import LONG_CACHE, NO_CACHE, StackOutputs, plan
from smartgate_infra.stack import ROOT, load_template
from smartgate_infra.template import Template
from smartgate_infra.web_static import SHARED, TYPES, serve

TEMPLATE = load_template()
WEB_ORIGIN = "https://unbound-WebDistribution.cloudfront.net"  # the distribution is never created locally


def distribution() -> dict[str, Any]:
    return TEMPLATE.resources["WebDistribution"].properties["DistributionConfig"]  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------ the template


def test_the_web_bucket_is_private_and_only_the_distribution_reads_it() -> None:
    bucket = TEMPLATE.resources["WebBucket"].properties
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    [statement] = TEMPLATE.resources["WebBucketPolicy"].properties["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"
    assert statement["Resource"] == f"{TEMPLATE.arn('WebBucket')}/*"
    source = statement["Condition"]["StringEquals"]["AWS:SourceArn"]
    assert source == f"arn:aws:cloudfront::{TEMPLATE.account_id}:distribution/unbound-WebDistribution"


def test_the_distribution_serves_the_bucket_over_https_through_the_paths_function() -> None:
    config = distribution()
    [origin] = config["Origins"]
    assert origin["DomainName"] == f"{TEMPLATE.resources['WebBucket'].physical_name}.s3.us-east-1.amazonaws.com"
    assert origin["OriginAccessControlId"] == "unbound-WebOriginAccessControl"
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["CachePolicyId"] == "658327ea-f89d-4fab-a63d-7e88639e58f6"  # Managed-CachingOptimized
    [association] = behaviour["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    assert association["FunctionARN"] == TEMPLATE.resolve({"Fn::GetAtt": ["WebPathsFunction", "FunctionARN"]})
    assert TEMPLATE.outputs["WebUrl"] == f"{WEB_ORIGIN}/trader/"
    assert TEMPLATE.outputs["WebBucketName"] == TEMPLATE.resources["WebBucket"].physical_name


def test_the_api_allows_the_web_origin_and_its_answers_say_so() -> None:
    cors = ApiCors.from_value(TEMPLATE.api_global("Cors"))
    assert cors.allow_origin == WEB_ORIGIN
    assert cors.allow_headers == "Authorization,Content-Type,Idempotency-Key"
    assert TEMPLATE.api_auth()["AddDefaultAuthorizerToCorsPreflight"] is False
    assert TEMPLATE.resources["ApiFunction"].properties["Environment"]["Variables"]["WEB_ORIGIN"] == WEB_ORIGIN
    gateway = ApiGatewaySettings.from_template(TEMPLATE)
    assert gateway.headers_for(401) == gateway.headers_for(502) == {"Access-Control-Allow-Origin": WEB_ORIGIN}


# ---------------------------------------------------------------------------- the CloudFront function


def run_paths_function(uri: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the CloudFront function is JavaScript")
    code = TEMPLATE.resources["WebPathsFunction"].properties["FunctionCode"]
    script = code + f"\nconsole.log(JSON.stringify(handler({{request: {{uri: {json.dumps(uri)}, headers: {{}}}}}})));"
    result = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("uri", "served"),
    [("/trader/", "/trader/index.html"), ("/trader/i18n/", "/trader/i18n/index.html"), ("/trader/js/app.js", None)],
)
def test_folder_urls_are_their_index_page(uri: str, served: str | None) -> None:
    assert run_paths_function(uri)["uri"] == (served or uri)


@pytest.mark.parametrize(("uri", "status", "location"), [("/", 302, "/trader/"), ("/trader", 301, "/trader/")])
def test_the_root_and_a_bare_app_name_redirect_to_the_app_folder(uri: str, status: int, location: str) -> None:
    answer = run_paths_function(uri)
    assert answer["statusCode"] == status and answer["headers"]["location"]["value"] == location


# --------------------------------------------------------------------------------- the local stack


def mini(resources: dict[str, Any]) -> Template:
    return Template.from_dict({"Resources": resources})


def provisioner(template: Template) -> Provisioner:
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    return Provisioner(template, session, "http://127.0.0.1:9")  # never called: checking only


def test_cloudfront_is_skipped_locally_with_its_reason_and_other_unknown_types_are_refused() -> None:
    cloudfront = {t for t in NOT_LOCAL if t.startswith("AWS::CloudFront::")}
    assert {r.type for r in TEMPLATE.resources.values() if r.type.startswith("AWS::CloudFront::")} == cloudfront
    assert all("web/<app>/" in NOT_LOCAL[t] for t in cloudfront)
    assert all(reason for reason in NOT_LOCAL.values())  # every type skipped locally says why
    provisioner(mini({"D": {"Type": "AWS::CloudFront::Distribution"}})).check_supported()
    with pytest.raises(ProvisionError, match=r"Vpc \(AWS::EC2::VPC\)"):
        provisioner(mini({"Vpc": {"Type": "AWS::EC2::VPC"}})).check_supported()


def test_preflight_answers_name_the_path_methods_as_sam_does() -> None:
    cors = ApiCors.from_value({"AllowOrigin": "'https://a.example'", "MaxAge": "'600'"})
    headers = cors.preflight_headers(["POST", "GET"])
    assert headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert headers["Access-Control-Allow-Methods"] == "GET,OPTIONS,POST"
    assert headers["Access-Control-Max-Age"] == "600" and "Access-Control-Allow-Headers" not in headers
    assert ApiCors.from_value("'https://b.example'").allow_origin == "https://b.example"


def test_a_cors_value_that_is_not_a_static_literal_is_refused() -> None:
    with pytest.raises(CorsConfigError, match="AllowOrigin"):
        ApiCors.from_value({"AllowOrigin": "https://no-quotes.example"})


# ------------------------------------------------------------------------------------ rest.py header


@pytest.fixture
def rest(monkeypatch: pytest.MonkeyPatch) -> Any:
    """functions/api/chalicelib/rest.py, imported as Lambda would (its folder on the path)."""
    monkeypatch.syspath_prepend(str(ROOT / "functions" / "api"))
    from chalicelib import rest as module

    yield module
    settings.cache_clear()


def test_function_answers_carry_the_web_origin_when_one_is_set(rest: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalice import Response

    monkeypatch.delenv("WEB_ORIGIN", raising=False)
    settings.cache_clear()
    assert "Access-Control-Allow-Origin" not in rest.with_cors(Response(body="{}")).headers
    monkeypatch.setenv("WEB_ORIGIN", "https://d1.cloudfront.net")
    settings.cache_clear()
    headers = rest.with_cors(Response(body="{}", headers={"Retry-After": "1"})).headers
    assert headers["Access-Control-Allow-Origin"] == "https://d1.cloudfront.net"
    assert headers["Access-Control-Expose-Headers"] == "Retry-After"


# ------------------------------------------------------------------------------------ publish-web

OUTPUTS = StackOutputs(api_url="https://abc.execute-api.us-east-1.amazonaws.com/Prod", bucket="b", stage="staging")


def web_tree(root: Path) -> Path:
    files = {
        "trader/index.html": "<!doctype html>",
        "trader/sw.js": "// sw",
        "trader/js/app.js": "export {}",
        "trader/styles.css": "body{}",
        "trader/icon.svg": "<svg/>",
        "trader/manifest.webmanifest": "{}",
        "trader/i18n/vi.json": "{}",
        "trader/config.json": '{"api_url": "", "stage": "local"}',
        "trader/.DS_Store": "x",
        ".eslintrc.json": "{}",
        "trader/.cache/x.js": "x",
        "notes/readme.txt": "not an app, still uploaded",
        "shared/js/dom.js": "export {}",
        "shared/base.css": "body{}",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_publish_plan_types_caches_and_writes_the_stack_config(tmp_path: Path) -> None:
    uploads = {u.key: u for u in plan(web_tree(tmp_path), OUTPUTS)}
    assert sorted(uploads) == sorted(
        [
            "notes/readme.txt",
            "shared/base.css",
            "shared/js/dom.js",
            "trader/config.json",
            "trader/i18n/vi.json",
            "trader/icon.svg",
            "trader/index.html",
            "trader/js/app.js",
            "trader/manifest.webmanifest",
            "trader/styles.css",
            "trader/sw.js",
        ]
    )
    assert json.loads(uploads["trader/config.json"].body) == {"api_url": OUTPUTS.api_url, "stage": "staging"}
    assert uploads["trader/index.html"].content_type == TYPES[".html"]
    assert uploads["trader/js/app.js"].content_type == TYPES[".js"]
    assert uploads["notes/readme.txt"].content_type == "application/octet-stream"
    no_cache = {k for k, u in uploads.items() if u.cache_control == NO_CACHE}
    assert no_cache == set(uploads) - {"trader/icon.svg", "notes/readme.txt"}
    assert uploads["trader/icon.svg"].cache_control == LONG_CACHE
    assert uploads["shared/js/dom.js"].content_type == TYPES[".js"]  # what the apps import as ../shared/...
    assert "shared/config.json" not in uploads  # not an app
    assert list(uploads)[-1] == "trader/index.html"  # pages last


def test_a_shared_folder_with_a_page_is_still_not_an_app(tmp_path: Path) -> None:
    web = web_tree(tmp_path)
    (web / SHARED / "index.html").write_text("<!doctype html>")
    keys = {u.key for u in plan(web, OUTPUTS)}
    assert "trader/config.json" in keys and "shared/config.json" not in keys


# ------------------------------------------------------------------- web/ as the local stack serves it


def test_the_local_stack_serves_the_apps_and_the_shared_files(tmp_path: Path) -> None:
    web = web_tree(tmp_path)
    page = serve(web, "/trader/")
    assert page is not None and page.status == 200 and page.body == b"<!doctype html>"
    module = serve(web, "/shared/js/dom.js")
    assert module is not None and module.status == 200 and module.headers["Content-Type"] == TYPES[".js"]
    assert module.headers["Cache-Control"] == "no-cache" and "Service-Worker-Allowed" not in module.headers
    local = serve(web, "/trader/config.json")
    assert local is not None and json.loads(local.body)["stage"] == "local"


@pytest.mark.parametrize(
    "path",
    ["/shared", "/shared/", "/shared/js/", "/shared/config.json", "/shared/../trader/index.html", "/shared/.hidden"],
)
def test_the_shared_folder_is_files_only_not_an_app(tmp_path: Path, path: str) -> None:
    web = web_tree(tmp_path)
    (web / SHARED / ".hidden").write_text("x")
    answer = serve(web, path)
    assert answer is not None and answer.status == 404  # no page, no config.json, no way out, not the API either


def test_paths_outside_the_web_apps_are_the_apis(tmp_path: Path) -> None:
    web = web_tree(tmp_path)
    assert serve(web, "/bookings") is None and serve(web, "/notes/readme.txt") is None and serve(web, "/") is None


def imported(app: Path) -> set[Path]:
    """Every file the app's page loads, following its links and module imports (relative URLs)."""
    found: set[Path] = set()
    todo = [app / "index.html"]
    pattern = re.compile(r"""(?:\bfrom\s+|\bimport\s*\(?\s*|\b(?:href|src)=)["']([^"':]+)["']""")
    while todo:
        path = todo.pop().resolve()
        if path in found or not path.is_file():
            continue
        found.add(path)
        if path.suffix in (".html", ".js"):
            todo += [
                path.parent / ref
                for ref in pattern.findall(path.read_text(encoding="utf-8"))
                if not ref.startswith("#")
            ]
    return found


def test_the_trader_service_worker_keeps_every_file_the_page_loads() -> None:
    app = ROOT / "web" / "trader"
    worker = (app / "sw.js").read_text(encoding="utf-8")
    files = re.search(r"const FILES = \[(.*?)\];", worker, re.S)
    assert files is not None
    kept = {(app / name).resolve() for name in re.findall(r'"([^"]+)"', files.group(1))}
    loaded = imported(app)
    assert any(SHARED in p.parts for p in loaded), "the trader app imports nothing from web/shared/"
    missing = sorted(str(p.relative_to(ROOT / "web")) for p in loaded - kept)
    assert not missing, f"the page loads these, the service worker does not keep them (offline): {missing}"
    written = {app / "config.json"}  # served for the stack (web_static.local_config, publish-web)
    assert all(p.exists() for p in kept - written), sorted(str(p) for p in kept - written if not p.exists())


def test_the_repository_web_apps_have_known_content_types() -> None:
    if not list((ROOT / "web").glob("*/index.html")):
        pytest.skip("no web app in web/ yet")
    unknown = [u.key for u in plan(ROOT / "web", OUTPUTS) if u.content_type == "application/octet-stream"]
    assert unknown == []
