"""Load the project's SAM ``template.yaml`` and resolve it for the local stack.

Scope: this is *not* a CloudFormation engine. It reads one SAM/CloudFormation template, evaluates the
intrinsic functions the Smart Gate template uses, works out every resource's physical name the way
CloudFormation would, and hands the local runtime (moto + function runner) fully resolved properties.

Supported:
  * YAML short-form tags (``!Ref``, ``!GetAtt``, ``!Sub`` ...) parsed into their long form by
    :class:`CfnYamlLoader` (a ``yaml.SafeLoader`` subclass; the global loader is untouched). YAML
    timestamps are kept as strings, as CloudFormation does.
  * Parameters (defaults, overrides, ``AllowedValues``, ``AllowedPattern``; list types resolve to lists),
    pseudo parameters, Mappings, Conditions (evaluated once), resource/output ``Condition``.
  * ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::If``,
    ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or``, ``Condition``, ``Fn::FindInMap``, ``Fn::Base64``.
    ``AWS::NoValue`` removes the enclosing key / list item. Only the chosen ``Fn::If`` branch is evaluated.
  * ``Globals.Function`` merged into every ``AWS::Serverless::Function`` with SAM's rules: maps merge
    recursively, scalars and intrinsics from the function win, lists are concatenated (globals first).
  * The SAM implicit resources ``<Function>Role`` (when the function declares no ``Role``),
    ``ServerlessRestApi`` and ``ServerlessHttpApi`` (when some function has an Api / HttpApi event).

Not supported (raises :class:`UnsupportedTemplateError` naming the property path): ``Fn::ImportValue``,
``Fn::GetAZs``, ``Fn::Cidr``, any other intrinsic, SSM parameter types without an override, and
``GetAtt`` attributes not listed in ``_KINDS``. ``Transform``, ``Metadata``, ``DependsOn`` and the
other Globals sections are ignored. DynamoDB ``StreamArn`` uses the fixed label
``1970-01-01T00:00:00.000`` (real stream labels are creation timestamps); layer versions are always ``:1``.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["CfnYamlLoader", "Resource", "Template", "UnsupportedTemplateError"]


class UnsupportedTemplateError(ValueError):
    """The template uses something this loader cannot evaluate locally, or is invalid."""


# --------------------------------------------------------------------------------------------- YAML


class CfnYamlLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation short-form tags."""


_SHORT_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "GetAtt",
            "Sub",
            "Join",
            "Select",
            "Split",
            "If",
            "Equals",
            "Not",
            "And",
            "Or",
            "FindInMap",
            "Base64",
            "ImportValue",
            "GetAZs",
            "Cidr",
        )
    },
}


def _tag_constructor(key: str) -> Callable[[yaml.Loader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        if key == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {key: value}

    return construct


for _tag, _key in _SHORT_TAGS.items():
    CfnYamlLoader.add_constructor(f"!{_tag}", _tag_constructor(_key))
CfnYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", CfnYamlLoader.construct_yaml_str)


# ------------------------------------------------------------------------------ per-type knowledge


@dataclass(frozen=True)
class _Kind:
    name_property: str
    ref: str  # format of the Ref value
    attrs: dict[str, str]  # GetAtt attribute -> format
    generate: Callable[[str, str], str] = lambda stack, lid: f"{stack}-{lid}"  # name when none is declared


_P = "arn:{partition}:"
_DDB = {
    "Arn": _P + "dynamodb:{region}:{account}:table/{name}",
    "StreamArn": _P + "dynamodb:{region}:{account}:table/{name}/stream/1970-01-01T00:00:00.000",
}
_SNS_ARN = _P + "sns:{region}:{account}:{name}"
_SQS_URL = "https://sqs.{region}.{suffix}/{account}/{name}"
_LAMBDA = {"Arn": _P + "lambda:{region}:{account}:function:{name}"}
_LAYER = _P + "lambda:{region}:{account}:layer:{name}:1"
_KINDS: dict[str, _Kind] = {
    "AWS::DynamoDB::Table": _Kind("TableName", "{name}", _DDB),
    "AWS::Serverless::SimpleTable": _Kind("TableName", "{name}", _DDB),
    "AWS::S3::Bucket": _Kind(
        "BucketName",
        "{name}",
        {
            "Arn": _P + "s3:::{name}",
            "DomainName": "{name}.s3.{suffix}",
            "RegionalDomainName": "{name}.s3.{region}.{suffix}",
        },
        lambda stack, lid: f"{stack}-{lid}".lower(),
    ),
    "AWS::SNS::Topic": _Kind("TopicName", _SNS_ARN, {"Arn": _SNS_ARN, "TopicArn": _SNS_ARN, "TopicName": "{name}"}),
    "AWS::SQS::Queue": _Kind(
        "QueueName",
        _SQS_URL,
        {"Arn": _P + "sqs:{region}:{account}:{name}", "QueueName": "{name}", "QueueUrl": _SQS_URL},
    ),
    "AWS::Events::EventBus": _Kind(
        "Name", "{name}", {"Arn": _P + "events:{region}:{account}:event-bus/{name}", "Name": "{name}"}
    ),
    "AWS::Events::Rule": _Kind("Name", "{name}", {"Arn": _P + "events:{region}:{account}:rule/{name}"}),
    "AWS::Events::Archive": _Kind("ArchiveName", "{name}", {"Arn": _P + "events:{region}:{account}:archive/{name}"}),
    "AWS::IoT::TopicRule": _Kind(
        "RuleName",
        "{name}",
        {"Arn": _P + "iot:{region}:{account}:rule/{name}"},
        lambda stack, lid: f"{stack}_{lid}".replace("-", "_"),
    ),
    "AWS::Serverless::Function": _Kind("FunctionName", "{name}", _LAMBDA),
    "AWS::Lambda::Function": _Kind("FunctionName", "{name}", _LAMBDA),
    "AWS::Serverless::LayerVersion": _Kind("LayerName", _LAYER, {"Arn": _LAYER}),
    "AWS::Lambda::LayerVersion": _Kind("LayerName", _LAYER, {"Arn": _LAYER}),
    "AWS::Logs::LogGroup": _Kind("LogGroupName", "{name}", {"Arn": _P + "logs:{region}:{account}:log-group:{name}:*"}),
    "AWS::IAM::Role": _Kind("RoleName", "{name}", {"Arn": _P + "iam::{account}:role/{name}"}),
    "AWS::IoT::Policy": _Kind("PolicyName", "{name}", {"Arn": _P + "iot:{region}:{account}:policy/{name}"}),
    # Ref is the ARN; AWS appends a random suffix, the emulator too: functions are given the Name.
    "AWS::SecretsManager::Secret": _Kind(
        "Name", _P + "secretsmanager:{region}:{account}:secret:{name}", {"Id": "{name}"}
    ),
    # Ids the service assigns ({id}): known once the resource exists (Template.load(bindings=...)).
    "AWS::Cognito::UserPool": _Kind(
        "UserPoolName",
        "{id}",
        {
            "Arn": _P + "cognito-idp:{region}:{account}:userpool/{id}",
            "ProviderURL": "cognito-idp.{region}.{suffix}/{id}",
            "ProviderName": "cognito-idp.{region}.{suffix}/{id}",
        },
    ),
    "AWS::Cognito::UserPoolClient": _Kind("ClientName", "{id}", {"ClientId": "{id}"}),
    "AWS::KMS::Key": _Kind("", "{id}", {"Arn": _P + "kms:{region}:{account}:key/{id}", "KeyId": "{id}"}),
    # CloudFront is not emulated locally (provision.NOT_LOCAL): its ids stay unbound, so the web origin
    # a local function or CORS answer names is https://unbound-WebDistribution.cloudfront.net.
    "AWS::CloudFront::Distribution": _Kind(
        "",
        "{id}",
        {"Id": "{id}", "DomainName": "{id}.cloudfront.net"},  # no name property, only an id
    ),
    "AWS::CloudFront::OriginAccessControl": _Kind("", "{id}", {"Id": "{id}"}),
    "AWS::CloudFront::Function": _Kind(
        "Name",
        _P + "cloudfront::{account}:function/{name}",
        {"FunctionARN": _P + "cloudfront::{account}:function/{name}"},
    ),
    "AWS::Cognito::UserPoolGroup": _Kind("GroupName", "{name}", {}),
}
UNBOUND = "unbound-"
"""Prefix of an assigned id that is not known yet (before the resource is created)."""
_IMPLICIT_APIS = {  # SAM implicit API -> (event Type that creates it, local Ref value)
    "ServerlessRestApi": ("Api", "local-api"),
    "ServerlessHttpApi": ("HttpApi", "local-http-api"),
}
_SUPPORTED_FNS = {
    "Ref",
    "Condition",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::Equals",
    "Fn::Not",
    "Fn::And",
    "Fn::Or",
    "Fn::FindInMap",
    "Fn::Base64",
}
_NO_VALUE = object()  # what Ref AWS::NoValue evaluates to before being dropped
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = next(iter(value))
    return key == "Ref" or key.startswith("Fn::") or (key == "Condition" and isinstance(value[key], str))


def _scalar_str(value: Any, path: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise UnsupportedTemplateError(f"{path}: expected a string, got {type(value).__name__} {value!r}")


def _merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals merge: dicts merge recursively, lists concatenate, anything else -> local wins."""
    if (
        isinstance(global_value, dict)
        and isinstance(local_value, dict)
        and not (_is_intrinsic(global_value) or _is_intrinsic(local_value))
    ):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = _merge_globals(merged[key], value) if key in merged else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


# -------------------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    properties: dict[str, Any]
    physical_name: str


@dataclass
class Template:
    """A loaded, fully resolved template. Build it with :meth:`load` (or :meth:`from_dict`)."""

    stack_name: str
    region: str
    account_id: str
    parameters: dict[str, str] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    resources: dict[str, Resource] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    _doc: dict[str, Any] = field(default_factory=dict, repr=False)
    bindings: dict[str, str] = field(default_factory=dict)
    _raw: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)  # active, merged
    _names: dict[str, str] = field(default_factory=dict, init=False, repr=False)  # physical names
    _naming: list[str] = field(default_factory=list, init=False, repr=False)  # names being resolved
    _evaluating: list[str] = field(default_factory=list, init=False, repr=False)  # conditions being evaluated

    # ---------------------------------------------------------------------------------- loading
    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        stack_name: str = "smartgate-local",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        parameter_overrides: dict[str, str] | None = None,
        bindings: dict[str, str] | None = None,
    ) -> Template:
        """``bindings``: logical id -> the id the service assigned (a Cognito user pool's), once known."""
        with open(path, encoding="utf-8") as fh:
            doc = yaml.load(fh, Loader=CfnYamlLoader)  # a SafeLoader subclass
        return cls.from_dict(
            doc,
            stack_name=stack_name,
            region=region,
            account_id=account_id,
            parameter_overrides=parameter_overrides,
            bindings=bindings,
        )

    @classmethod
    def from_dict(
        cls,
        doc: dict[str, Any],
        *,
        stack_name: str = "smartgate-local",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        parameter_overrides: dict[str, str] | None = None,
        bindings: dict[str, str] | None = None,
    ) -> Template:
        if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
            raise UnsupportedTemplateError("template has no Resources mapping")
        tpl = cls(stack_name=stack_name, region=region, account_id=account_id, _doc=doc, bindings=dict(bindings or {}))
        tpl._load_parameters(dict(parameter_overrides or {}))
        for name in doc.get("Conditions") or {}:
            tpl._condition(name, "Conditions")
        globals_fn = (doc.get("Globals") or {}).get("Function") or {}
        for lid, res in doc["Resources"].items():
            if not isinstance(res, dict) or not isinstance(res.get("Type"), str):
                raise UnsupportedTemplateError(f"Resources.{lid}: a resource needs a Type")
            if "Condition" in res and not tpl._condition(res["Condition"], f"Resources.{lid}.Condition"):
                continue
            props = res.get("Properties") or {}
            if res["Type"] == "AWS::Serverless::Function":
                props = _merge_globals(globals_fn, props)
            tpl._raw[lid] = {"Type": res["Type"], "Properties": props}
        for lid in tpl._raw:  # names first: they may only depend on parameters and other names
            tpl._physical_name(lid, f"Resources.{lid}")
        for lid, raw in tpl._raw.items():
            resolved = tpl._eval(raw["Properties"], f"Resources.{lid}.Properties")
            tpl.resources[lid] = Resource(lid, raw["Type"], {} if resolved is _NO_VALUE else resolved, tpl._names[lid])
        for name, out in (doc.get("Outputs") or {}).items():
            if "Condition" in out and not tpl._condition(out["Condition"], f"Outputs.{name}.Condition"):
                continue
            tpl.outputs[name] = tpl._eval(out.get("Value"), f"Outputs.{name}.Value")
        return tpl

    def _load_parameters(self, overrides: dict[str, str]) -> None:
        declared = self._doc.get("Parameters") or {}
        if unknown := sorted(set(overrides) - set(declared)):
            raise UnsupportedTemplateError(f"Parameters: overrides for undeclared parameters {unknown}")
        for name, spec in declared.items():
            path = f"Parameters.{name}"
            if name in overrides:
                value = _scalar_str(overrides[name], path)
            elif "Default" in spec:
                default = spec["Default"]
                is_list = isinstance(default, list)
                value = ",".join(map(str, default)) if is_list else _scalar_str(default, path)
                if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter"):
                    raise UnsupportedTemplateError(f"{path}: SSM parameter types need an override locally")
            else:
                raise UnsupportedTemplateError(f"{path}: parameter {name} has no Default and no override")
            allowed = [_scalar_str(v, path) for v in spec.get("AllowedValues") or []]
            if allowed and value not in allowed:
                raise UnsupportedTemplateError(f"{path}: {value!r} is not one of AllowedValues {allowed}")
            if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
                raise UnsupportedTemplateError(f"{path}: {value!r} does not match AllowedPattern")
            self.parameters[name] = value

    # ----------------------------------------------------------------------------------- public
    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources.values() if r.type == type_]

    def resolve(self, value: Any) -> Any:
        """Evaluate any intrinsic-bearing value against this template (``AWS::NoValue`` -> ``None``)."""
        result = self._eval(value, "<resolve>")
        return None if result is _NO_VALUE else result

    def with_bindings(self, bindings: dict[str, str]) -> Template:
        """The same template resolved again, now that the services' assigned ids are known."""
        return Template.from_dict(
            self._doc,
            stack_name=self.stack_name,
            region=self.region,
            account_id=self.account_id,
            parameter_overrides=dict(self.parameters),
            bindings=bindings,
        )

    def api_auth(self) -> dict[str, Any]:
        """``Globals.Api.Auth`` (the implicit REST API's authorizers), resolved."""
        auth = ((self._doc.get("Globals") or {}).get("Api") or {}).get("Auth") or {}
        resolved = self._eval(auth, "Globals.Api.Auth")
        return {} if resolved is _NO_VALUE else dict(resolved)

    def api_global(self, name: str) -> Any:
        """``Globals.Api.<name>`` (e.g. ``Cors``, ``GatewayResponses``), resolved; None when not set."""
        value = ((self._doc.get("Globals") or {}).get("Api") or {}).get(name)
        resolved = self._eval(value, f"Globals.Api.{name}")
        return None if resolved is _NO_VALUE else resolved

    def arn(self, logical_id: str) -> str:
        return str(self._get_att(logical_id, "Arn", "<arn>"))

    # ------------------------------------------------------------------------------ evaluation
    def _condition(self, name: Any, path: str) -> bool:
        conditions = self._doc.get("Conditions") or {}
        if not isinstance(name, str) or name not in conditions:
            raise UnsupportedTemplateError(f"{path}: unknown condition {name!r}")
        if name not in self.conditions:
            if name in self._evaluating:
                chain = " -> ".join([*self._evaluating, name])
                raise UnsupportedTemplateError(f"{path}: condition reference cycle {chain}")
            self._evaluating.append(name)
            try:
                value = self._eval(conditions[name], f"Conditions.{name}")
            finally:
                self._evaluating.pop()
            if not isinstance(value, bool):
                raise UnsupportedTemplateError(f"Conditions.{name}: does not evaluate to a boolean")
            self.conditions[name] = value
        return self.conditions[name]

    def _eval(self, value: Any, path: str) -> Any:
        if isinstance(value, list):
            items = (self._eval(v, f"{path}[{i}]") for i, v in enumerate(value))
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if not _is_intrinsic(value):
            items = ((k, self._eval(v, f"{path}.{k}")) for k, v in value.items())
            return {k: v for k, v in items if v is not _NO_VALUE}
        fn, arg = next(iter(value.items()))
        if fn not in _SUPPORTED_FNS:
            raise UnsupportedTemplateError(f"{path}: {fn} is not supported locally")
        here = f"{path}.{fn}"
        if fn == "Ref":
            return self._ref(arg, here)
        if fn == "Condition":
            return self._condition(arg, here)
        if fn == "Fn::If":
            cond, when_true, when_false = self._args(arg, 3, here)
            return self._eval(when_true if self._condition(cond, here) else when_false, here)
        args = self._eval(arg, here)
        if fn == "Fn::GetAtt":
            lid, attr = self._args(args, 2, here)
            return self._get_att(lid, attr, here)
        if fn == "Fn::Sub":
            return self._sub(args, here)
        if fn == "Fn::Join":
            sep, items = self._args(args, 2, here)
            return _scalar_str(sep, here).join(_scalar_str(i, here) for i in self._list(items, here))
        if fn == "Fn::Select":
            index, choices = self._args(args, 2, here)
            choices = self._list(choices, here)
            if not str(index).isdigit() or int(index) >= len(choices):
                raise UnsupportedTemplateError(f"{here}: index {index!r} out of range for {choices!r}")
            return choices[int(index)]
        if fn == "Fn::Split":
            sep, text = self._args(args, 2, here)
            return _scalar_str(text, here).split(_scalar_str(sep, here))
        if fn == "Fn::Equals":
            left, right = self._args(args, 2, here)
            return self._comparable(left) == self._comparable(right)
        if fn in ("Fn::Not", "Fn::And", "Fn::Or"):
            flags = self._list(args, here)
            if not all(isinstance(f, bool) for f in flags) or (fn == "Fn::Not" and len(flags) != 1):
                raise UnsupportedTemplateError(f"{here}: expects a list of conditions, got {flags!r}")
            return not flags[0] if fn == "Fn::Not" else (all(flags) if fn == "Fn::And" else any(flags))
        if fn == "Fn::FindInMap":
            return self._find_in_map(args, here)
        return base64.b64encode(_scalar_str(args, here).encode()).decode()  # Fn::Base64

    @staticmethod
    def _args(arg: Any, count: int, path: str) -> list[Any]:
        if not isinstance(arg, list) or len(arg) != count:
            raise UnsupportedTemplateError(f"{path}: expects a list of {count} arguments, got {arg!r}")
        return arg

    @staticmethod
    def _list(value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise UnsupportedTemplateError(f"{path}: expects a list, got {value!r}")
        return value

    @staticmethod
    def _comparable(value: Any) -> Any:
        return value if isinstance(value, list | dict) else _scalar_str(value, "Fn::Equals")

    def _find_in_map(self, args: Any, path: str) -> Any:
        if not isinstance(args, list) or len(args) not in (3, 4):
            raise UnsupportedTemplateError(f"{path}: expects [MapName, TopKey, SecondKey], got {args!r}")
        keys = [_scalar_str(a, path) for a in args[:3]]
        node: Any = self._doc.get("Mappings") or {}
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                if len(args) == 4 and isinstance(args[3], dict) and "DefaultValue" in args[3]:
                    return args[3]["DefaultValue"]
                raise UnsupportedTemplateError(f"{path}: Mappings has no entry {'.'.join(keys)}")
            node = node[key]
        return copy.deepcopy(node)  # callers may mutate what they get

    def _sub(self, args: Any, path: str) -> str:
        text, variables = (args, {}) if isinstance(args, str) else self._args(args, 2, path)
        if not isinstance(text, str) or not isinstance(variables, dict):
            raise UnsupportedTemplateError(f"{path}: expects a string or [string, {{vars}}], got {args!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _scalar_str(variables[name], f"{path}.{name}")
            if "." in name:
                lid, attr = name.split(".", 1)
                return _scalar_str(self._get_att(lid, attr, path), path)
            return _scalar_str(self._ref(name, path), path)

        return _SUB_VAR.sub(replace, text)

    # ------------------------------------------------------------------------ Ref / GetAtt / names
    def _fmt(self, pattern: str, name: str, lid: str = "") -> str:
        return pattern.format(
            partition="aws",
            region=self.region,
            account=self.account_id,
            suffix="amazonaws.com",
            name=name,
            id=self.bindings.get(lid, f"{UNBOUND}{lid}"),
        )

    def _ref(self, name: Any, path: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/"
            f"{self.stack_name}/00000000-0000-0000-0000-000000000000",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            ptype = str((self._doc.get("Parameters") or {})[name].get("Type", "String"))
            is_list = ptype == "CommaDelimitedList" or ptype.startswith("List<")
            return self.parameters[name].split(",") if is_list else self.parameters[name]
        rtype = self._resource_type(name, path)
        if rtype is None:  # SAM implicit resource
            if name in _IMPLICIT_APIS:
                return _IMPLICIT_APIS[name][1]
            return f"{self.stack_name}-{name}"  # the implicit role's name
        kind = _KINDS.get(rtype)
        physical = self._physical_name(name, path)
        return self._fmt(kind.ref, physical, name) if kind else physical

    def _get_att(self, lid: Any, attr: Any, path: str) -> Any:
        if not isinstance(lid, str) or not isinstance(attr, str):
            raise UnsupportedTemplateError(f"{path}: GetAtt needs a logical id and an attribute name")
        rtype = self._resource_type(lid, path)
        if rtype is None and lid not in _IMPLICIT_APIS and attr == "Arn":
            return f"arn:aws:iam::{self.account_id}:role/{self.stack_name}-{lid}"
        kind = _KINDS.get(rtype or "")
        if kind is None or attr not in kind.attrs:
            raise UnsupportedTemplateError(
                f"{path}: GetAtt {lid}.{attr} ({rtype or 'SAM implicit resource'}) is not supported locally"
            )
        return self._fmt(kind.attrs[attr], self._physical_name(lid, path), lid)

    def _resource_type(self, lid: Any, path: str) -> str | None:
        """Type of an active resource; ``None`` for a supported SAM implicit resource; else raise."""
        if isinstance(lid, str) and lid in self._raw:
            return str(self._raw[lid]["Type"])
        declared = self._doc["Resources"]
        if isinstance(lid, str) and lid in declared:
            raise UnsupportedTemplateError(
                f"{path}: refers to {lid}, whose Condition {declared[lid].get('Condition')!r} is false"
            )
        functions = {k: v for k, v in self._raw.items() if v["Type"] == "AWS::Serverless::Function"}
        if (
            isinstance(lid, str)
            and lid.endswith("Role")
            and "Role" not in functions.get(lid[:-4], {}).get("Properties", {"Role": None})
        ):
            return None
        if lid in _IMPLICIT_APIS and any(
            isinstance(event, dict) and event.get("Type") == _IMPLICIT_APIS[lid][0]
            for fn in functions.values()
            for event in (fn["Properties"].get("Events") or {}).values()
        ):
            return None
        raise UnsupportedTemplateError(f"{path}: unknown logical id or parameter {lid!r}")

    def _physical_name(self, lid: str, path: str) -> str:
        if lid in self._names:
            return self._names[lid]
        if lid in self._naming:
            chain = " -> ".join([*self._naming[self._naming.index(lid) :], lid])
            raise UnsupportedTemplateError(f"{path}: physical name reference cycle {chain}")
        raw = self._raw[lid]
        kind = _KINDS.get(raw["Type"])
        props = raw["Properties"] if isinstance(raw["Properties"], dict) else {}
        self._naming.append(lid)
        try:
            declared: Any = _NO_VALUE
            if kind and kind.name_property in props:
                prop_path = f"Resources.{lid}.Properties.{kind.name_property}"
                declared = self._eval(props[kind.name_property], prop_path)
            if declared is not _NO_VALUE:
                name = _scalar_str(declared, prop_path)
            else:
                name = kind.generate(self.stack_name, lid) if kind else f"{self.stack_name}-{lid}"
                fifo = self._eval(props.get("FifoQueue", False), f"Resources.{lid}.Properties.FifoQueue")
                if raw["Type"] == "AWS::SQS::Queue" and str(fifo).lower() == "true":
                    name += ".fifo"
        finally:
            self._naming.pop()
        self._names[lid] = name
        return name
