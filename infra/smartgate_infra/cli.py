"""The `smartgate` command: run the local stack, the demo, the benchmark, and invoke functions."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from smartgate_infra.ports import ports_as_env
from smartgate_infra.services import ServiceError
from smartgate_infra.stack import ROOT, StackState, down, load_template, status, up

DEFAULT_STATE = ROOT / ".smartgate"


def _running(state_dir: Path) -> StackState:
    state = StackState.load(state_dir)
    if state is None or not all(state.running().values()):
        raise ServiceError("the local stack is not running; start it with `smartgate up`")
    return state


def cmd_up(args: argparse.Namespace) -> int:
    up(args.state_dir)
    print("stop it with `smartgate down`")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    down(args.state_dir)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    info = status(args.state_dir)
    print(json.dumps(info, indent=2))
    return 0 if info["running"] else 1


def cmd_env(args: argparse.Namespace) -> int:
    state = _running(args.state_dir)
    region = load_template().region
    print('# the running local stack; in a shell: eval "$(.venv/bin/smartgate env)"')
    print("# (AWS tools in that shell then talk to the local emulator, with its dummy credentials)")
    local_aws = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    for name, value in {**ports_as_env(state.ports), **local_aws}.items():
        print(f"export {name}={shlex.quote(value)}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from smartgate_infra.doctor import main as doctor

    return doctor(["--state-dir", str(args.state_dir)])


def _with_stack(args: argparse.Namespace, work: Callable[[StackState], int]) -> int:
    """Run work on the running local stack, or on one started (and stopped afterwards) for it."""
    existing = StackState.load(args.state_dir)
    started = existing is None or not all(existing.running().values())
    if existing is not None and not started:
        state = existing
        print(f"using the running local stack ({state.endpoint_url})")
    else:
        if existing is not None:
            down(args.state_dir, quiet=True)
        state = up(args.state_dir)
    try:
        return work(state)
    finally:
        if started and not args.keep:
            down(args.state_dir)
        elif started:
            print("the stack keeps running (--keep); stop it with `smartgate down`")


def cmd_demo(args: argparse.Namespace) -> int:
    from smartgate_infra.demo import run_demo

    return _with_stack(args, lambda state: 0 if run_demo(state) else 1)


def _bench(args: argparse.Namespace, run: Callable[[StackState], str], good_end: str, failed: str) -> int:
    """Run a benchmark on the stack; print its last line (read by tools), or ``failed`` if it broke."""
    result: dict[str, str] = {}

    def work(state: StackState) -> int:
        result["line"] = run(state)
        return 0 if result["line"].endswith(good_end) else 1

    code = _with_stack(args, work)
    print(result.get("line", failed))
    return code


def cmd_bench(args: argparse.Namespace) -> int:
    from smartgate_infra.bench import run_bench

    return _bench(
        args,
        lambda state: run_bench(state, args.trucks, say=_progress),
        "errors=0",
        f"trucks={args.trucks} p50_ms=nan p99_ms=nan errors={args.trucks}",
    )


def cmd_bench_alerts(args: argparse.Namespace) -> int:
    from smartgate_infra.bench_alerts import run_bench_alerts

    return _bench(
        args,
        lambda state: run_bench_alerts(state, args.alerts, say=_progress),
        "lost=0",
        f"alerts=0 p50_ms=nan p99_ms=nan lost={args.alerts}",
    )


def cmd_bench_api(args: argparse.Namespace) -> int:
    from smartgate_infra.bench_api import run_bench_api

    result: dict[str, str] = {}

    def work(state: StackState) -> int:
        result["line"], ok = run_bench_api(
            state,
            clients=args.clients,
            companies=args.companies,
            bookings=args.bookings,
            windows=args.windows,
            capacity=args.capacity,
            seed=args.seed,
            say=_progress,
        )
        return 0 if ok else 1

    code = _with_stack(args, work)
    print(result.get("line", "bookings_per_s=nan p99_ms=nan overbooked=-1"))  # read by tools
    return code


def cmd_twin(args: argparse.Namespace) -> int:
    from smartgate_infra.twin.run import run_twin
    from smartgate_infra.twin.scenario import ScenarioError

    report, bar = Path(args.report), sys.stderr.isatty()
    try:
        if not args.full_stack:
            run = run_twin(args.scenario, args.trucks, args.what_if, report, bar=bar)
            print(run.line)  # read by tools
            return 0
        from smartgate_infra.twin.fullstack import run_fullstack
        from smartgate_infra.twin.run import progress_bar

        def work(state: StackState) -> int:
            trucks = args.trucks or 200
            full = run_fullstack(
                state, args.scenario, trucks, args.wall, progress=progress_bar("full stack") if bar else None
            )
            if args.calibrate and full.matched == len(full.crossed) and not full.problems:
                from smartgate_infra.twin.cost import write_measured
                from smartgate_infra.twin.fullstack import measured_steps

                source = f"{trucks} trucks of {args.scenario} through the full stack"
                kept = write_measured(measured_steps(full), source)
                print(f"measured per-step units kept in {kept}: the cost below uses them")
            run = run_twin(args.scenario, trucks, args.what_if, report, bar=bar, fullstack=full)
            print(full.line())
            print(run.line)  # read by tools
            return 0 if full.matched == len(full.crossed) and not full.problems else 1

        return _with_stack(args, work)
    except ScenarioError as err:
        print(f"smartgate twin: {err}", file=sys.stderr)
        return 2


def cmd_partner_check(args: argparse.Namespace) -> int:
    from smartgate_infra.partner_check import run_partner_check

    result: dict[str, str] = {}

    def work(state: StackState) -> int:
        check = run_partner_check(
            state,
            args.trucks,
            refusal_rate=args.refusal_rate,
            delay_s=args.delay,
            seed=args.seed,
            say=_progress,
        )
        result["line"] = check.line()
        return 0 if check.ok else 1

    code = _with_stack(args, work)
    print(result.get("line", "sent=0 received=0 dlq=0 replay_identical=false"))  # read by tools
    return code


def _progress(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def cmd_seed(args: argparse.Namespace) -> int:
    from smartgate_infra.client import StackClient

    for entry in StackClient(_running(args.state_dir)).seed():
        b = entry.booking
        print(
            f"{entry.consignment.consignment_id} {b.booking_id if b else '-'} {entry.consignment.plate_text} "
            f"{entry.consignment.gate_id}"
        )
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from smartgate.domain.audit import verify
    from smartgate_infra.client import StackClient

    client = StackClient(_running(args.state_dir))
    gates = args.gate or client.audit.gates()
    broken = 0
    for gate in gates:
        report = verify(gate, client.audit.entries(gate))
        if report.ok:
            print(f"{gate}: {report.checked} entries, chain intact")
        else:
            broken += 1
            print(f"{gate}: BROKEN at entry {report.broken_at} (after {report.checked - 1} good): {report.problem}")
    if not gates:
        print("no audit entries yet")
    return 1 if broken else 0


def cmd_audit_replay(args: argparse.Namespace) -> int:
    from smartgate.domain.audit import replay
    from smartgate.domain.rules import load_rule_set
    from smartgate_infra.client import StackClient

    client = StackClient(_running(args.state_dir))
    decisions = sorted(
        (e for e in client.audit.for_passage(args.passage_id) if e.kind == "decision"), key=lambda e: e.seq
    )
    if not decisions:
        raise ServiceError(f"no recorded decision for passage {args.passage_id}")
    same = True
    for entry in decisions:
        digest = entry.detail["decision"]["ruleset_digest"]
        text = client.rule_sets.archived(digest)
        result = replay(entry, load_rule_set(text) if text else None)
        same &= result.same
        d = result.original
        print(
            f"decision {d.decision_no} (audit {entry.gate_id}#{entry.seq}, {d.decided_at:%Y-%m-%d %H:%M:%S}Z) under "
            f"{d.ruleset_id} {d.ruleset_version} [{d.ruleset_digest[:12]}]"
        )
        print(f"  recorded: {d.channel.value}: " + "; ".join(r.explanation for r in d.rules_fired))
        if result.problem:
            print(f"  replay:   cannot: {result.problem}")
        else:
            print(f"  replayed: {result.channel}: " + "; ".join(result.explanations))
            print(f"  {'same decision' if result.same else 'DIFFERENT'}")
    return 0 if same else 1


def cmd_rules_check(args: argparse.Namespace) -> int:
    from smartgate.domain.rules import RuleSetError, load_rule_set

    try:
        rule_set = load_rule_set(Path(args.file).read_text(encoding="utf-8"), args.file)
    except (OSError, RuleSetError) as err:
        print(f"refused: {err}", file=sys.stderr)
        return 1
    print(f"{rule_set.id} {rule_set.version}: {len(rule_set.rules)} rules, valid (digest {rule_set.digest[:12]})")
    return 0


def cmd_rules_push(args: argparse.Namespace) -> int:
    from smartgate.domain.rules import RuleSetError, load_rule_set
    from smartgate_infra.client import StackClient

    text = Path(args.file).read_text(encoding="utf-8")
    try:
        rule_set = load_rule_set(text, args.file)
    except RuleSetError as err:
        print(f"refused, nothing changed: {err}", file=sys.stderr)
        return 1
    client = StackClient(_running(args.state_dir))
    client.rule_sets.activate(rule_set.id, text, rule_set.version)
    seconds = client.template.parameters.get("RuleSetCacheSeconds", "60")
    print(f"{rule_set.id} {rule_set.version} is in force within {seconds} s (digest {rule_set.digest[:12]})")
    return 0


def cmd_rules_list(args: argparse.Namespace) -> int:
    from smartgate.domain.rules import RuleSetError, builtin_rule_sets, load_rule_set
    from smartgate_infra.client import StackClient

    for rule_set in builtin_rule_sets().values():
        print(f"checked in  {rule_set.id} {rule_set.version} ({len(rule_set.rules)} rules)")
    for name, text in StackClient(_running(args.state_dir)).rule_sets.active().items():
        try:
            rs = load_rule_set(text, name)
            print(f"deployed    {rs.id} {rs.version} ({len(rs.rules)} rules) - in force")
        except RuleSetError as err:
            print(f"deployed    {name}: REFUSED, not in force: {err}")
    return 0


def cmd_rules_facts(args: argparse.Namespace) -> int:
    from smartgate.domain.facts import FACTS
    from smartgate.domain.rules import OPERATORS

    for name, spec in FACTS.items():
        ops = ", ".join((*OPERATORS[spec.type], "known"))
        print(f"{name:28} {spec.type.value:6} {spec.meaning}  [{ops}]")
    return 0


def cmd_rejected(args: argparse.Namespace) -> int:
    from smartgate_infra.client import StackClient

    messages = StackClient(_running(args.state_dir)).rejected()
    for message in messages:
        print(json.dumps(message, ensure_ascii=False))
    print(f"{len(messages)} rejected message(s)", file=sys.stderr)
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    """What a company was told (the trader outbox), newest first, as the web app's Messages page shows it."""
    from smartgate_infra.client import StackClient

    notes, _ = StackClient(_running(args.state_dir)).trade.notifications(args.company, args.limit, None)
    for note in notes:
        print(f"{note.at:%Y-%m-%d %H:%M:%S}Z  {note.kind:12} {note.booking_id or '-':22} {note.subject}")
    print(f"{len(notes)} notification(s) for {args.company}", file=sys.stderr)
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    """A gate's officer alerts, newest first, with where each was delivered (the local outbox)."""
    from smartgate_infra.client import StackClient

    alerts, _ = StackClient(_running(args.state_dir)).alerts.for_gate(args.gate, args.limit)
    for a in alerts:
        print(
            f"{a.created_at:%Y-%m-%d %H:%M:%S}Z  {a.alert_id}  {a.severity.value:8} {a.kind.value:10} "
            f"{a.status.value:12} level {a.level} -> {a.role.value:12} {a.plate_text or '-':14} {a.passage_id or '-'}"
        )
        for d in a.deliveries:
            print(f"    [{d.level}] {d.locale} to {d.role.value} via {d.topic}: {d.subject}")
    print(f"{len(alerts)} alert(s) at {args.gate}", file=sys.stderr)
    return 0


def cmd_corrections_export(args: argparse.Namespace) -> int:
    from smartgate.adapters.officers import S3Evidence
    from smartgate_infra.corrections import export

    if args.bucket:
        evidence = S3Evidence(args.bucket, args.region or "us-east-1")
    else:
        from smartgate_infra.client import StackClient

        evidence = StackClient(_running(args.state_dir)).evidence
    export(evidence, args.out, args.gate)
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    from smartgate_infra.functions import FunctionHost, FunctionSpec, InvocationError, LocalAws

    template = load_template(state_dir=args.state_dir)
    resource = template.resources.get(args.function)
    if resource is None or resource.type != "AWS::Serverless::Function":
        names = ", ".join(r.logical_id for r in template.of_type("AWS::Serverless::Function"))
        raise ServiceError(f"no function {args.function!r} in template.yaml; functions: {names}")
    try:
        event = json.loads(Path(args.event).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ServiceError(f"cannot read event file {args.event}: {err}") from err
    state = _running(args.state_dir)
    aws = LocalAws(
        state.endpoint_url, f"http://{state.ports.host}:{state.ports.iot_data}", template.region, template.account_id
    )
    host = FunctionHost(FunctionSpec.from_resource(template, resource, ROOT), aws, args.state_dir / "logs")
    try:
        print(json.dumps(host.invoke(event), indent=2, ensure_ascii=False))
        return 0
    except InvocationError as err:
        print(json.dumps(err.error, indent=2), file=sys.stderr)
        return 1
    finally:
        host.stop()
        print(f"function log: {host.log_path}", file=sys.stderr)


def cmd_lane_identity(args: argparse.Namespace) -> int:
    """A lane's thing, certificate and policy (smartgate_infra.lane_identity); prints how the lane connects."""
    from smartgate_infra.lane_identity import (
        AMAZON_ROOT_CA_URL,
        LaneIdentityError,
        deployed_target,
        local_target,
        provision,
        registered_lane,
    )

    try:
        target = (
            deployed_target(args.stack_name, args.region) if args.stack_name else local_target(_running(args.state_dir))
        )
        thing = registered_lane(target.registry, args.gate, args.lane)  # before anything is made or written
        made = provision(target, args.gate, args.lane, args.out or args.state_dir / "lanes" / thing.name)
    except (LaneIdentityError, ValueError) as err:
        raise ServiceError(str(err)) from err
    thing = made.thing
    print(
        f"thing {thing.name} ({'created' if made.created_thing else 'existing'}; gate={thing.gate_id} "
        f"lane={thing.lane_id}) in {target.where}"
    )
    print(f"certificate {made.certificate_id}: active, attached to the thing and to policy {made.policy_name}")
    for old in made.deactivated:
        print(f"rotated: certificate {old} detached from the thing and set INACTIVE")
    if made.local:
        print(
            "local stack: the emulator's certificate is registered only (no local server checks it); the files "
            "are from the local stack's CA, which the broker's TLS listener checks"
        )
    print(f"wrote {made.cert_file}, {made.key_file} (0600)" + (f", {made.ca_file}" if made.ca_file else ""))
    if made.ca_file is None:
        print(f"no CA file: Amazon Root CA 1 is not in this machine's trust store; get it from {AMAZON_ROOT_CA_URL}")
    print("connect the lane with (the client id must be the thing name):")
    env = {
        "SMARTGATE_MQTT_HOST": target.mqtt_host,
        "SMARTGATE_MQTT_PORT": str(target.mqtt_port),
        "SMARTGATE_MQTT_CERT": str(made.cert_file),
        "SMARTGATE_MQTT_KEY": str(made.key_file),
        **({"SMARTGATE_MQTT_CA": str(made.ca_file)} if made.ca_file else {}),
    }
    print("  " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + f" ... --client-id {thing.name}")
    return 0


def cmd_publish_web(args: argparse.Namespace) -> int:
    from smartgate_infra.publish_web import publish_stack

    publish_stack(args.stack_name, args.web_root, region=args.region, invalidate=not args.no_invalidate)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smartgate", description=__doc__)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE,
        help="where the local stack keeps pids, logs and config (default .smartgate/)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "up",
        help="start the local stack (ports: SMARTGATE_AWS_PORT, SMARTGATE_MQTT_PORT, "
        "SMARTGATE_API_PORT, SMARTGATE_IOT_DATA_PORT)",
    ).set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything the local stack started").set_defaults(func=cmd_down)
    sub.add_parser("status", help="is the local stack running, on which ports").set_defaults(func=cmd_status)
    sub.add_parser(
        "env", help='shell exports that point tools and lane components at the running stack (eval "$(smartgate env)")'
    ).set_defaults(func=cmd_env)
    sub.add_parser("doctor", help="is this machine ready for `make demo`? each finding with its fix").set_defaults(
        func=cmd_doctor
    )
    demo = sub.add_parser("demo", help="trucks crossing end to end, with a summary")
    demo.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    demo.set_defaults(func=cmd_demo)
    bench = sub.add_parser("bench", help="N trucks; detection -> barrier command latency")
    bench.add_argument("--trucks", type=int, default=200)
    bench.add_argument("--keep", action="store_true")
    bench.set_defaults(func=cmd_bench)
    bench_alerts = sub.add_parser("bench-alerts", help="RED trucks; detection -> officer alert in the outbox latency")
    bench_alerts.add_argument("--alerts", type=int, default=100, help="RED trucks (alerts), default 100")
    bench_alerts.add_argument("--keep", action="store_true")
    bench_alerts.set_defaults(func=cmd_bench_alerts)
    bench_api = sub.add_parser(
        "bench-api", help="concurrent bookings through the REST API into windows that fill up; never overbooked?"
    )
    bench_api.add_argument("--clients", type=int, default=50, help="concurrent clients (threads), default 50")
    bench_api.add_argument("--companies", type=int, default=50, help="trader companies, default 50")
    bench_api.add_argument("--bookings", type=int, default=1200, help="booking attempts in all, default 1200")
    bench_api.add_argument("--windows", type=int, default=40, help="15-minute windows to fill, default 40")
    bench_api.add_argument("--capacity", type=int, default=10, help="capacity of each window, default 10")
    bench_api.add_argument("--seed", type=int, help="seed of the clients' window choices (default: random)")
    bench_api.add_argument("--keep", action="store_true")
    bench_api.set_defaults(func=cmd_bench_api)
    twin = sub.add_parser("twin", help="the gate-day twin in model mode: waits, throughput, cost; an HTML report")
    twin.add_argument("--scenario", default="kimthanh2", help="kimthanh2 (default), mongcai, or a YAML file")
    twin.add_argument("--trucks", type=int, help="trucks in all (default: the scenario's vehicles a day)")
    twin.add_argument(
        "--what-if",
        action="append",
        default=[],
        metavar="FIELD=VALUE[;…]",
        help="a run beside the base with these scenario fields changed, e.g. directions.VN_TO_CN.lanes=3 (repeatable)",
    )
    twin.add_argument("--report", default=".smartgate/twin/report.html", help="where the HTML report goes")
    twin.add_argument(
        "--full-stack", action="store_true", help="also drive the model's trucks through the local stack (default 200)"
    )
    twin.add_argument("--wall", type=float, default=60.0, help="full stack: seconds to compress the day into (60)")
    twin.add_argument(
        "--calibrate",
        action="store_true",
        help="full stack: keep the counted invocations and log bytes per step in twin/data/measured.yaml (a clean run)",
    )
    twin.add_argument("--keep", action="store_true")
    twin.set_defaults(func=cmd_twin)
    partner_check = sub.add_parser(
        "partner-check", help="a simulated day of exchange with the partner gate (faults, then a replay)"
    )
    partner_check.add_argument("--trucks", type=int, default=10, help="booked trucks, default 10")
    partner_check.add_argument(
        "--refusal-rate", type=float, default=0.25, help="how often the partner refuses a truck, default 0.25"
    )
    partner_check.add_argument("--delay", type=float, default=0.5, help="the partner's answer delay (s), default 0.5")
    partner_check.add_argument("--seed", type=int, default=3, help="seed of the partner's decisions, default 3")
    partner_check.add_argument("--keep", action="store_true")
    partner_check.set_defaults(func=cmd_partner_check)
    sub.add_parser("seed", help="put the seed consignments and bookings into the running stack").set_defaults(
        func=cmd_seed
    )
    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser("verify", help="check every gate's hash chain; report the first broken link")
    verify.add_argument("--gate", action="append", help="only this gate (repeatable)")
    verify.set_defaults(func=cmd_audit_verify)
    replay = audit.add_parser("replay", help="re-run a passage's recorded decisions under their rule set version")
    replay.add_argument("passage_id")
    replay.set_defaults(func=cmd_audit_replay)
    rules = sub.add_parser("rules", help="clearance rule sets").add_subparsers(dest="rules_command", required=True)
    check = rules.add_parser("check", help="validate a rule set file (nothing changes)")
    check.add_argument("file")
    check.set_defaults(func=cmd_rules_check)
    push = rules.add_parser("push", help="validate a rule set file and put it in force (no redeploy)")
    push.add_argument("file")
    push.set_defaults(func=cmd_rules_push)
    rules.add_parser("list", help="the rule sets checked in and deployed").set_defaults(func=cmd_rules_list)
    rules.add_parser("facts", help="the facts rules can read, with their operators").set_defaults(func=cmd_rules_facts)
    sub.add_parser("rejected", help="list rejected lane messages with their reasons").set_defaults(func=cmd_rejected)
    outbox = sub.add_parser("outbox", help="what a trading company was told (its notifications), newest first")
    outbox.add_argument("company", help="company id, e.g. DEMO-3F9A1C (make demo prints one)")
    outbox.add_argument("--limit", type=int, default=50)
    outbox.set_defaults(func=cmd_outbox)
    alerts = sub.add_parser("alerts", help="a gate's officer alerts and their deliveries (the outbox), newest first")
    alerts.add_argument("gate", help="gate id, e.g. kimthanh2")
    alerts.add_argument("--limit", type=int, default=50)
    alerts.set_defaults(func=cmd_alerts)
    corrections = sub.add_parser("corrections", help="plate reads officers corrected").add_subparsers(
        dest="corrections_command", required=True
    )
    export = corrections.add_parser("export", help="write them as a folder make bench-vision DATA= reads")
    export.add_argument("--out", type=Path, required=True, help="the folder to write (images + labels.csv)")
    export.add_argument("--gate", help="only this gate")
    export.add_argument("--bucket", help="a deployed stack's evidence bucket (default: the local stack's)")
    export.add_argument("--region", help="the bucket's region (with --bucket)")
    export.set_defaults(func=cmd_corrections_export)
    invoke = sub.add_parser("invoke", help="invoke one function of template.yaml with an event file")
    invoke.add_argument("function", help="logical id in template.yaml, e.g. IngestDetectionsFunction")
    invoke.add_argument("event", help="event JSON file, e.g. events/iot/plate_read_ok.json")
    invoke.set_defaults(func=cmd_invoke)
    lane_identity = sub.add_parser(
        "lane-identity",
        help="a lane's own IoT thing, X.509 certificate and the stack's lane policy; writes cert.pem, key.pem, ca.pem",
    )
    lane_identity.add_argument("gate", help="gate id, e.g. kimthanh2")
    lane_identity.add_argument("lane", help="lane id at that gate, e.g. in-1")
    lane_identity.add_argument(
        "--out", type=Path, help="folder for the files (default <state-dir>/lanes/<thing name>/)"
    )
    lane_identity.add_argument(
        "--stack-name", help="a deployed stack (AWS credentials from the environment); default: the running local stack"
    )
    lane_identity.add_argument("--region", help="the deployed stack's region (with --stack-name)")
    lane_identity.set_defaults(func=cmd_lane_identity)
    publish_web = sub.add_parser(
        "publish-web", help="upload web/ to a deployed stack's web bucket (Content-Type, Cache-Control, config.json)"
    )
    publish_web.add_argument("--stack-name", required=True, help="the deployed stack, e.g. smartgate-dev")
    publish_web.add_argument("--region", help="its region (default: the AWS environment's)")
    publish_web.add_argument("--web-root", type=Path, default=ROOT / "web", help="default web/")
    publish_web.add_argument("--no-invalidate", action="store_true", help="skip the CloudFront invalidation of /*")
    publish_web.set_defaults(func=cmd_publish_web)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ServiceError as err:
        print(f"smartgate: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
