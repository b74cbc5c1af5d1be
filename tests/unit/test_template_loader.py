"""Unit tests for smartgate_infra.template: pure, small inline templates written to tmp_path."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from smartgate_infra.template import CfnYamlLoader, Template, UnsupportedTemplateError

R, A = "us-east-1", "123456789012"


def load(tmp_path: Path, body: str, **kwargs: Any) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return Template.load(path, **kwargs)


def one(tmp_path: Path, resources: str, **kwargs: Any) -> Template:
    """A template with only a Resources section (indented by 2 in the caller's text)."""
    return load(tmp_path, "Resources:\n" + textwrap.indent(textwrap.dedent(resources), "  "), **kwargs)


def env_of(tpl: Template, lid: str = "Fn") -> dict[str, Any]:
    return tpl.resources[lid].properties["Environment"]["Variables"]


# ---------------------------------------------------------------------------------------- YAML tags


def test_short_form_tags_parse_to_long_form() -> None:
    text = textwrap.dedent("""\
        a: !Ref X
        b: !GetAtt T.Arn
        c: !GetAtt [T, StreamArn]
        d: !Sub "${AWS::Region}"
        e: !Sub ["${x}", {x: 1}]
        f: !Join [",", [a, b]]
        g: !Select [0, !Split [",", "a,b"]]
        h: !If [C, !Equals [a, b], !Not [!Condition D]]
        i: !And [!Or [!Condition C, !Condition D], !Condition C]
        j: !FindInMap [M, K, V]
        k: !Base64 hi
        l: !ImportValue exp
        m: !GetAZs ""
        n: !Cidr [x, 1, 2]
        o: !GetAtt Api.Endpoint.Address
        p: 2024-01-01
    """)
    doc = yaml.load(text, Loader=CfnYamlLoader)
    assert doc["a"] == {"Ref": "X"}
    assert doc["b"] == {"Fn::GetAtt": ["T", "Arn"]}
    assert doc["c"] == {"Fn::GetAtt": ["T", "StreamArn"]}
    assert doc["d"] == {"Fn::Sub": "${AWS::Region}"}
    assert doc["e"] == {"Fn::Sub": ["${x}", {"x": 1}]}
    assert doc["f"] == {"Fn::Join": [",", ["a", "b"]]}
    assert doc["g"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert doc["h"] == {"Fn::If": ["C", {"Fn::Equals": ["a", "b"]}, {"Fn::Not": [{"Condition": "D"}]}]}
    assert doc["i"] == {"Fn::And": [{"Fn::Or": [{"Condition": "C"}, {"Condition": "D"}]}, {"Condition": "C"}]}
    assert doc["j"] == {"Fn::FindInMap": ["M", "K", "V"]}
    assert doc["k"] == {"Fn::Base64": "hi"}
    assert doc["l"] == {"Fn::ImportValue": "exp"}
    assert doc["m"] == {"Fn::GetAZs": ""}
    assert doc["n"] == {"Fn::Cidr": ["x", 1, 2]}
    assert doc["o"] == {"Fn::GetAtt": ["Api", "Endpoint.Address"]}
    assert doc["p"] == "2024-01-01"  # timestamps stay strings


def test_global_safe_loader_is_untouched() -> None:
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.safe_load("a: !Ref X")


# ------------------------------------------------------------------------------ parameters & pseudo

PARAMS = """\
    Parameters:
      Env:
        Type: String
        Default: dev
        AllowedValues: [dev, prod]
      Size:
        Type: Number
        Default: 5
      Subnets:
        Type: CommaDelimitedList
        Default: "a,b"
      Required:
        Type: String
    Resources:
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          Environment:
            Variables:
              ENV: !Ref Env
              SIZE: !Ref Size
              SUBNETS: !Ref Subnets
              REQ: !Ref Required
"""


def test_parameters_defaults_and_overrides(tmp_path: Path) -> None:
    tpl = load(tmp_path, PARAMS, parameter_overrides={"Required": "x", "Env": "prod"})
    assert tpl.parameters == {"Env": "prod", "Size": "5", "Subnets": "a,b", "Required": "x"}
    assert env_of(tpl) == {"ENV": "prod", "SIZE": "5", "SUBNETS": ["a", "b"], "REQ": "x"}


def test_missing_parameter_is_named(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedTemplateError, match=r"Parameters\.Required.*no Default and no override"):
        load(tmp_path, PARAMS)


def test_allowed_values_enforced(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedTemplateError, match=r"Parameters\.Env: 'staging' is not one of"):
        load(tmp_path, PARAMS, parameter_overrides={"Required": "x", "Env": "staging"})


def test_override_of_undeclared_parameter_rejected(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedTemplateError, match="Typo"):
        load(tmp_path, PARAMS, parameter_overrides={"Required": "x", "Typo": "1"})


def test_pseudo_parameters(tmp_path: Path) -> None:
    tpl = one(
        tmp_path,
        """\
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            Environment:
              Variables:
                R: !Ref AWS::Region
                A: !Ref AWS::AccountId
                S: !Ref AWS::StackName
                I: !Ref AWS::StackId
                P: !Ref AWS::Partition
                U: !Ref AWS::URLSuffix
        """,
        stack_name="st",
        region="eu-west-1",
        account_id="111122223333",
    )
    assert env_of(tpl) == {
        "R": "eu-west-1",
        "A": "111122223333",
        "S": "st",
        "I": "arn:aws:cloudformation:eu-west-1:111122223333:stack/st/00000000-0000-0000-0000-000000000000",
        "P": "aws",
        "U": "amazonaws.com",
    }


# ------------------------------------------------------------------------------------- intrinsics


def test_each_intrinsic(tmp_path: Path) -> None:
    tpl = load(
        tmp_path,
        """\
        Mappings:
          Sizes:
            dev: {Memory: 128}
        Conditions:
          IsDev: !Equals [dev, dev]
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Environment:
                Variables:
                  JOIN: !Join ["-", [a, !Ref AWS::Region, 3]]
                  SELECT: !Select [1, [x, y, z]]
                  SPLIT: !Split [",", "a,b,c"]
                  SELSPLIT: !Select ["2", !Split ["/", "p/q/r"]]
                  IF: !If [IsDev, yes-dev, no-dev]
                  MAP: !FindInMap [Sizes, dev, Memory]
                  B64: !Base64 hello
                  SUB: !Sub "${AWS::StackName}-x"
                  SUBVARS: !Sub ["${a}-${b}", {a: !Ref AWS::Region, b: 7}]
                  EQ: !Equals ["1", 1]
                  NOT: !Not [!Equals [a, b]]
                  AND: !And [!Condition IsDev, !Equals [a, b]]
                  OR: !Or [!Condition IsDev, !Equals [a, b]]
        """,
    )
    assert env_of(tpl) == {
        "JOIN": "a-us-east-1-3",
        "SELECT": "y",
        "SPLIT": ["a", "b", "c"],
        "SELSPLIT": "r",
        "IF": "yes-dev",
        "MAP": 128,
        "B64": base64.b64encode(b"hello").decode(),
        "SUB": "smartgate-local-x",
        "SUBVARS": "us-east-1-7",
        "EQ": True,
        "NOT": True,
        "AND": False,
        "OR": True,
    }


def test_resolve_public_helper(tmp_path: Path) -> None:
    tpl = one(
        tmp_path,
        """\
        T:
          Type: AWS::DynamoDB::Table
        """,
    )
    assert tpl.resolve({"Fn::Sub": "${T}:${AWS::Region}"}) == "smartgate-local-T:us-east-1"
    assert tpl.resolve([{"Ref": "AWS::NoValue"}, 1]) == [1]
    assert tpl.resolve({"Ref": "AWS::NoValue"}) is None


def test_sub_with_getatt_and_escape(tmp_path: Path) -> None:
    tpl = one(
        tmp_path,
        """\
        Q:
          Type: AWS::SQS::Queue
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            Environment:
              Variables:
                X: !Sub "${Q.Arn}|${Q}|${!Literal}|${!AWS::Region}"
        """,
    )
    assert env_of(tpl)["X"] == (
        f"arn:aws:sqs:{R}:{A}:smartgate-local-Q|https://sqs.{R}.amazonaws.com/{A}/smartgate-local-Q"
        "|${Literal}|${AWS::Region}"
    )


def test_conditions_drop_resources_and_outputs(tmp_path: Path) -> None:
    body = """\
        Parameters:
          Env: {Type: String, Default: dev}
        Conditions:
          IsProd: !Equals [!Ref Env, prod]
          NotProd: !Not [!Condition IsProd]
        Resources:
          Alarm:
            Type: AWS::SNS::Topic
            Condition: IsProd
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Environment:
                Variables:
                  TOPIC: !If [IsProd, !Ref Alarm, none]
        Outputs:
          AlarmArn:
            Condition: IsProd
            Value: !Ref Alarm
          Mode:
            Value: !If [NotProd, dev-mode, prod-mode]
        """
    dev = load(tmp_path, body)
    assert set(dev.resources) == {"Fn"}
    assert dev.conditions == {"IsProd": False, "NotProd": True}
    assert env_of(dev) == {"TOPIC": "none"}
    assert dev.outputs == {"Mode": "dev-mode"}
    prod = load(tmp_path, body, parameter_overrides={"Env": "prod"})
    assert set(prod.resources) == {"Alarm", "Fn"}
    assert env_of(prod)["TOPIC"] == f"arn:aws:sns:{R}:{A}:smartgate-local-Alarm"
    assert prod.outputs["AlarmArn"] == env_of(prod)["TOPIC"]


def test_ref_to_resource_dropped_by_condition_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedTemplateError, match="refers to Alarm, whose Condition 'Never' is false"):
        load(
            tmp_path,
            """\
            Conditions:
              Never: !Equals [a, b]
            Resources:
              Alarm: {Type: AWS::SNS::Topic, Condition: Never}
              Fn:
                Type: AWS::Serverless::Function
                Properties: {Environment: {Variables: {T: !Ref Alarm}}}
            """,
        )


def test_no_value_removes_keys_and_items(tmp_path: Path) -> None:
    tpl = load(
        tmp_path,
        """\
        Conditions:
          Never: !Equals [a, b]  # (a condition named "No" would be YAML 1.1 boolean False)
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              Layers:
                - arn:one
                - !If [Never, arn:two, !Ref AWS::NoValue]
              Environment:
                Variables:
                  KEEP: "1"
                  DROP: !Ref AWS::NoValue
                  DROP_IF: !If [Never, x, !Ref AWS::NoValue]
        """,
    )
    props = tpl.resources["Fn"].properties
    assert props["Layers"] == ["arn:one"]
    assert env_of(tpl) == {"KEEP": "1"}


# ----------------------------------------------------------------------------------- physical names

ALL_TYPES = """\
    T: {Type: AWS::DynamoDB::Table}
    B: {Type: AWS::S3::Bucket}
    Topic: {Type: AWS::SNS::Topic}
    Q: {Type: AWS::SQS::Queue}
    FifoQ: {Type: AWS::SQS::Queue, Properties: {FifoQueue: true}}
    Bus: {Type: AWS::Events::EventBus}
    Rule: {Type: AWS::Events::Rule}
    IotRule: {Type: AWS::IoT::TopicRule}
    Fn: {Type: AWS::Serverless::Function}
    LFn: {Type: AWS::Lambda::Function}
    Layer: {Type: AWS::Serverless::LayerVersion}
    Logs: {Type: AWS::Logs::LogGroup}
    Simple: {Type: AWS::Serverless::SimpleTable}
    Other: {Type: AWS::EC2::VPC}
"""


def test_generated_physical_names(tmp_path: Path) -> None:
    tpl = one(tmp_path, ALL_TYPES, stack_name="Smart-Gate")
    names = {lid: r.physical_name for lid, r in tpl.resources.items()}
    assert names == {
        "T": "Smart-Gate-T",
        "B": "smart-gate-b",
        "Topic": "Smart-Gate-Topic",
        "Q": "Smart-Gate-Q",
        "FifoQ": "Smart-Gate-FifoQ.fifo",
        "Bus": "Smart-Gate-Bus",
        "Rule": "Smart-Gate-Rule",
        "IotRule": "Smart_Gate_IotRule",
        "Fn": "Smart-Gate-Fn",
        "LFn": "Smart-Gate-LFn",
        "Layer": "Smart-Gate-Layer",
        "Logs": "Smart-Gate-Logs",
        "Simple": "Smart-Gate-Simple",
        "Other": "Smart-Gate-Other",
    }
    assert [r.logical_id for r in tpl.of_type("AWS::SQS::Queue")] == ["Q", "FifoQ"]


def test_declared_physical_names_resolve_lazily(tmp_path: Path) -> None:
    tpl = load(
        tmp_path,
        """\
        Parameters:
          Prefix: {Type: String, Default: sg}
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              FunctionName: !Sub "${Prefix}-${T}-fn"
          T: {Type: AWS::DynamoDB::Table, Properties: {TableName: !Sub "${Prefix}-crossings"}}
          B: {Type: AWS::S3::Bucket, Properties: {BucketName: !Sub "${Prefix}-images"}}
          Topic: {Type: AWS::SNS::Topic, Properties: {TopicName: alerts}}
          Q: {Type: AWS::SQS::Queue, Properties: {QueueName: jobs.fifo, FifoQueue: true}}
          Bus: {Type: AWS::Events::EventBus, Properties: {Name: gate-bus}}
          Rule: {Type: AWS::Events::Rule, Properties: {Name: gate-rule}}
          IotRule: {Type: AWS::IoT::TopicRule, Properties: {RuleName: gate_rule}}
          Layer: {Type: AWS::Serverless::LayerVersion, Properties: {LayerName: core}}
          Logs: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: /sg/logs}}
          Simple: {Type: AWS::Serverless::SimpleTable, Properties: {TableName: simple}}
        """,
    )
    names = {lid: r.physical_name for lid, r in tpl.resources.items()}
    assert names == {
        "Fn": "sg-sg-crossings-fn",
        "T": "sg-crossings",
        "B": "sg-images",
        "Topic": "alerts",
        "Q": "jobs.fifo",
        "Bus": "gate-bus",
        "Rule": "gate-rule",
        "IotRule": "gate_rule",
        "Layer": "core",
        "Logs": "/sg/logs",
        "Simple": "simple",
    }
    assert tpl.resources["Fn"].properties["FunctionName"] == "sg-sg-crossings-fn"


def test_name_property_no_value_falls_back_to_generated(tmp_path: Path) -> None:
    tpl = one(
        tmp_path,
        """\
        T:
          Type: AWS::DynamoDB::Table
          Properties:
            TableName: !Ref AWS::NoValue
        """,
    )
    assert tpl.resources["T"].physical_name == "smartgate-local-T"
    assert "TableName" not in tpl.resources["T"].properties


def test_name_reference_cycle(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedTemplateError, match="cycle A -> B -> A"):
        one(
            tmp_path,
            """\
            A: {Type: AWS::SNS::Topic, Properties: {TopicName: !GetAtt B.QueueName}}
            B: {Type: AWS::SQS::Queue, Properties: {QueueName: !GetAtt A.TopicName}}
            """,
        )


def test_condition_cycle(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedTemplateError, match="condition reference cycle"):
        load(
            tmp_path,
            """\
            Conditions:
              A: !Not [!Condition B]
              B: !Not [!Condition A]
            Resources:
              T: {Type: AWS::SNS::Topic}
            """,
        )


# ------------------------------------------------------------------------------------ Ref / GetAtt


def test_ref_and_getatt_per_type(tmp_path: Path) -> None:
    tpl = one(tmp_path, ALL_TYPES)
    s = "smartgate-local"

    def ref(lid: str) -> Any:
        return tpl.resolve({"Ref": lid})

    def att(lid: str, attr: str) -> Any:
        return tpl.resolve({"Fn::GetAtt": [lid, attr]})

    assert ref("T") == f"{s}-T"
    assert att("T", "Arn") == f"arn:aws:dynamodb:{R}:{A}:table/{s}-T"
    assert att("T", "StreamArn") == f"arn:aws:dynamodb:{R}:{A}:table/{s}-T/stream/1970-01-01T00:00:00.000"
    assert att("Simple", "Arn") == f"arn:aws:dynamodb:{R}:{A}:table/{s}-Simple"
    assert ref("B") == f"{s}-b"
    assert att("B", "Arn") == f"arn:aws:s3:::{s}-b"
    assert att("B", "DomainName") == f"{s}-b.s3.amazonaws.com"
    assert att("B", "RegionalDomainName") == f"{s}-b.s3.{R}.amazonaws.com"
    topic_arn = f"arn:aws:sns:{R}:{A}:{s}-Topic"
    assert ref("Topic") == att("Topic", "TopicArn") == att("Topic", "Arn") == topic_arn
    assert att("Topic", "TopicName") == f"{s}-Topic"
    queue_url = f"https://sqs.{R}.amazonaws.com/{A}/{s}-Q"
    assert ref("Q") == att("Q", "QueueUrl") == queue_url
    assert att("Q", "Arn") == f"arn:aws:sqs:{R}:{A}:{s}-Q"
    assert att("Q", "QueueName") == f"{s}-Q"
    assert att("FifoQ", "Arn") == f"arn:aws:sqs:{R}:{A}:{s}-FifoQ.fifo"
    assert ref("Bus") == att("Bus", "Name") == f"{s}-Bus"
    assert att("Bus", "Arn") == f"arn:aws:events:{R}:{A}:event-bus/{s}-Bus"
    assert ref("Rule") == f"{s}-Rule"
    assert att("Rule", "Arn") == f"arn:aws:events:{R}:{A}:rule/{s}-Rule"
    assert ref("IotRule") == "smartgate_local_IotRule"
    assert att("IotRule", "Arn") == f"arn:aws:iot:{R}:{A}:rule/smartgate_local_IotRule"
    assert ref("Fn") == f"{s}-Fn"
    assert att("Fn", "Arn") == tpl.arn("Fn") == f"arn:aws:lambda:{R}:{A}:function:{s}-Fn"
    assert att("LFn", "Arn") == f"arn:aws:lambda:{R}:{A}:function:{s}-LFn"
    assert ref("Layer") == att("Layer", "Arn") == f"arn:aws:lambda:{R}:{A}:layer:{s}-Layer:1"
    assert ref("Logs") == f"{s}-Logs"
    assert att("Logs", "Arn") == f"arn:aws:logs:{R}:{A}:log-group:{s}-Logs:*"
    assert ref("Other") == f"{s}-Other"
    with pytest.raises(UnsupportedTemplateError, match=r"GetAtt Other\.Arn \(AWS::EC2::VPC\)"):
        att("Other", "Arn")
    with pytest.raises(UnsupportedTemplateError, match=r"GetAtt T\.Nope"):
        att("T", "Nope")


def test_sam_implicit_resources(tmp_path: Path) -> None:
    tpl = one(
        tmp_path,
        """\
        Fn:
          Type: AWS::Serverless::Function
          Properties:
            Events:
              Get: {Type: Api, Properties: {Path: /, Method: get}}
            Environment:
              Variables:
                ROLE: !GetAtt FnRole.Arn
                ROLE_NAME: !Ref FnRole
                API: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod"
        Own:
          Type: AWS::Serverless::Function
          Properties: {Role: arn:aws:iam::123456789012:role/x}
        """,
    )
    assert env_of(tpl) == {
        "ROLE": f"arn:aws:iam::{A}:role/smartgate-local-FnRole",
        "ROLE_NAME": "smartgate-local-FnRole",
        "API": f"https://local-api.execute-api.{R}.amazonaws.com/Prod",
    }
    with pytest.raises(UnsupportedTemplateError, match="OwnRole"):
        tpl.resolve({"Fn::GetAtt": ["OwnRole", "Arn"]})  # declares its own Role: no implicit role
    with pytest.raises(UnsupportedTemplateError, match="ServerlessHttpApi"):
        tpl.resolve({"Ref": "ServerlessHttpApi"})  # no HttpApi event
    with pytest.raises(UnsupportedTemplateError, match=r"GetAtt ServerlessRestApi\.RootResourceId"):
        tpl.resolve({"Fn::GetAtt": ["ServerlessRestApi", "RootResourceId"]})


def test_unknown_ref_names_logical_id_and_path(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedTemplateError) as err:
        one(
            tmp_path,
            """\
            Fn:
              Type: AWS::Serverless::Function
              Properties: {Environment: {Variables: {TABLE: !GetAtt Missing.Arn}}}
            """,
        )
    assert "Resources.Fn.Properties.Environment.Variables.TABLE.Fn::GetAtt" in str(err.value)
    assert "'Missing'" in str(err.value)
    with pytest.raises(UnsupportedTemplateError, match=r"Variables\.X\.Ref: unknown logical id .*'Nope'"):
        one(
            tmp_path,
            """\
            Fn:
              Type: AWS::Serverless::Function
              Properties: {Environment: {Variables: {X: !Ref Nope}}}
            """,
        )


@pytest.mark.parametrize(
    ("expr", "fn"),
    [
        ("!ImportValue shared-vpc", "Fn::ImportValue"),
        ("!Select [0, !GetAZs '']", "Fn::GetAZs"),
        ("!Cidr [x, 2, 8]", "Fn::Cidr"),
        ("{'Fn::Length': [1]}", "Fn::Length"),
    ],
)
def test_unsupported_intrinsics(tmp_path: Path, expr: str, fn: str) -> None:
    with pytest.raises(UnsupportedTemplateError) as err:
        one(
            tmp_path,
            f"""\
            IngestFunction:
              Type: AWS::Serverless::Function
              Properties: {{Environment: {{Variables: {{X: {expr}}}}}}}
            """,
        )
    assert "Resources.IngestFunction.Properties.Environment.Variables.X" in str(err.value)
    assert f"{fn} is not supported locally" in str(err.value)


def test_unchosen_if_branch_is_not_evaluated(tmp_path: Path) -> None:
    tpl = load(
        tmp_path,
        """\
        Conditions:
          Cloud: !Equals [a, b]
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties: {Environment: {Variables: {X: !If [Cloud, !ImportValue vpc, local]}}}
        """,
    )
    assert env_of(tpl) == {"X": "local"}


# ------------------------------------------------------------------------------------------ Globals


def test_globals_function_merge(tmp_path: Path) -> None:
    tpl = load(
        tmp_path,
        """\
        AWSTemplateFormatVersion: 2010-09-09
        Transform: AWS::Serverless-2016-10-31
        Metadata: {Owner: gate}
        Globals:
          Function:
            Runtime: python3.12
            Timeout: 10
            Layers: [!Ref Core]
            Tracing: Active
            Environment:
              Variables:
                TABLE: !Ref T
                LOG_LEVEL: INFO
          Api: {Cors: "'*'"}
          SimpleTable: {SSESpecification: {SSEEnabled: true}}
        Resources:
          T: {Type: AWS::DynamoDB::Table}
          Core: {Type: AWS::Serverless::LayerVersion}
          Extra: {Type: AWS::Serverless::LayerVersion}
          Ingest:
            Type: AWS::Serverless::Function
            Properties:
              Timeout: 30
              Layers: [!Ref Extra]
              Tracing: !Ref AWS::NoValue
              Environment:
                Variables:
                  LOG_LEVEL: DEBUG
                  QUEUE: q
          Plain:
            Type: AWS::Serverless::Function
          Raw:
            Type: AWS::Lambda::Function
            Properties: {Timeout: 3}
        """,
    )
    layer = f"arn:aws:lambda:{R}:{A}:layer:smartgate-local-"
    ingest = tpl.resources["Ingest"].properties
    assert ingest["Runtime"] == "python3.12"
    assert ingest["Timeout"] == 30
    assert ingest["Layers"] == [f"{layer}Core:1", f"{layer}Extra:1"]  # SAM concatenates lists
    assert "Tracing" not in ingest  # intrinsic (even NoValue) replaces the global value
    assert ingest["Environment"]["Variables"] == {"TABLE": "smartgate-local-T", "LOG_LEVEL": "DEBUG", "QUEUE": "q"}
    plain = tpl.resources["Plain"].properties
    assert plain["Timeout"] == 10 and plain["Layers"] == [f"{layer}Core:1"]
    assert tpl.resources["Raw"].properties == {"Timeout": 3}  # Globals only apply to SAM functions


def test_resource_without_type_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedTemplateError, match=r"Resources\.Bad: a resource needs a Type"):
        one(tmp_path, "Bad: {Properties: {}}\n")


def test_the_lambda_layer_holds_no_vision_or_lane_code() -> None:
    """Edge-only code lives in edge_greengrass/smartgate_edge; the layer (layers/core) is what the cloud runs."""
    from smartgate_infra.stack import ROOT

    layer = ROOT / "layers" / "core" / "smartgate"
    offenders = [
        str(path.relative_to(layer))
        for path in layer.rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith(("import ", "from "))
        and any(name in line.split("#")[0] for name in ("cv2", "onnxruntime", "numpy", "smartgate_edge", "awsiot"))
    ]
    assert not offenders, offenders
    assert not (layer / "edge").exists()
