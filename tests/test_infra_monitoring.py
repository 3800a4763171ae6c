"""Monitoring and cloud infrastructure, checked without Docker or AWS: the Prometheus config and
rules (structurally: promtool is not available), the Grafana dashboard, the compose services,
and the CloudFormation template (cfn-lint, and against the code's own DynamoDB definition)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
DURATION = re.compile(r"^\d+[smhdwy]$")
METRIC = re.compile(r"\bvigia_[a-z_]+\b")


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def prometheus():
    return yaml.safe_load((INFRA / "prometheus/prometheus.yml").read_text())


def rules():
    return [
        rule
        for group in yaml.safe_load((INFRA / "prometheus/rules.yml").read_text())["groups"]
        for rule in group["rules"]
    ]


def dashboard():
    return json.loads((INFRA / "grafana/dashboards/vigia.json").read_text())


def dashboard_exprs():
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


# ---------------------------------------------------------------------------------- compose


def test_compose_runs_prometheus_and_grafana_with_our_files():
    c = compose()
    services = c["services"]
    for name in ("prometheus", "grafana"):
        assert name in services
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    assert "metrics_token" in services["prometheus"]["secrets"]
    assert c["secrets"]["metrics_token"] == {"environment": "METRICS_TOKEN"}
    assert {"prometheus", "grafana"} <= set(c["volumes"])


def test_prometheus_scrapes_the_services_compose_runs_on_their_ports():
    c = compose()
    services = c["services"]
    config = prometheus()
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert len(jobs) == len(config["scrape_configs"])  # unique names
    web = jobs["vigia-web"]
    assert web["metrics_path"] == "/metrics"
    assert web["authorization"]["credentials_file"] == "/run/secrets/metrics_token"  # where compose mounts the secret
    assert [t for sc in web["static_configs"] for t in sc["targets"]] == ["web:8000"]
    assert "8000:8000" in services["web"]["ports"]
    workers = [t for sc in jobs["vigia-workers"]["static_configs"] for t in sc["targets"]]
    assert workers == ["worker-inference:9100", "worker:9100"]
    for target in workers:
        name = target.split(":")[0]
        assert services[name]["environment"]["WORKER_METRICS_PORT"] == "9100"  # from the x-app anchor
    assert "web" in (INFRA / "example.env").read_text().split("ALLOWED_HOSTS=")[1].splitlines()[0].split(",")
    for job in config["scrape_configs"]:
        for sc in job["static_configs"]:
            assert all(re.match(r"^[\w.-]+:\d+$", t) for t in sc["targets"])
    assert DURATION.match(config["global"]["scrape_interval"]) and DURATION.match(
        config["global"]["evaluation_interval"]
    )
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"] if v.startswith("./")}
    assert set(config["rule_files"]) <= mounted


def test_grafana_provisioning_points_at_the_dashboard_and_the_datasource():
    services = compose()["services"]
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"] if v.startswith("./"))
    providers = yaml.safe_load((INFRA / "grafana/provisioning/dashboards/vigia.yml").read_text())["providers"]
    path = providers[0]["options"]["path"]
    assert mounts["./infra/grafana/dashboards"] == path
    datasource = yaml.safe_load((INFRA / "grafana/provisioning/datasources/prometheus.yml").read_text())["datasources"][
        0
    ]
    assert datasource["url"] == "http://prometheus:9090"
    uids = {p["datasource"]["uid"] for p in dashboard()["panels"] if "datasource" in p}
    assert uids == {datasource["uid"]}


def test_the_entrypoint_starts_every_container_with_an_empty_metrics_folder(tmp_path):
    folder = tmp_path / "prom"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"stale")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    proc = subprocess.run(["bash", str(INFRA / "entrypoint.sh"), "nonsense"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert folder.is_dir() and not any(folder.iterdir())


# ------------------------------------------------------------------------ rules, dashboard


def test_every_alert_rule_is_complete():
    names = set()
    for rule in rules():
        assert rule["alert"] not in names
        names.add(rule["alert"])
        assert rule["expr"].strip()
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        assert rule["expr"].count("[") == rule["expr"].count("]"), rule["alert"]
        assert "for" not in rule or DURATION.match(rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("page", "ticket", "info")
        assert rule["annotations"]["summary"]
    # the four the issue asks for
    assert {"VigiaReviewQueueOld", "VigiaClipFailureRate", "VigiaSyncFailures", "VigiaFalseAlertReportSpike"} <= names


def test_the_dashboard_json_is_what_the_builder_writes():
    sys.path.insert(0, str(INFRA / "grafana"))
    try:
        import build_dashboard
    finally:
        sys.path.pop(0)
    assert (INFRA / "grafana/dashboards/vigia.json").read_text() == build_dashboard.render(), (
        "run python infra/grafana/build_dashboard.py"
    )
    panels = dashboard()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24


@pytest.fixture
def every_metric(world, client, django_capture_on_commit_callbacks):
    """A /metrics text in which every family has samples: each hook called once, a sync row, a
    drift row, a task run."""
    from django.utils import timezone

    from labeling.models import SyncState
    from reviewapp.core import metrics
    from reviewapp.monitoring.models import CameraDrift
    from reviewapp.review.models import FalseAlertReport, Review
    from reviewapp.tuning.models import SuppressionRule
    from tests.factories import ClipFactory, ReviewItemFactory

    clip = ClipFactory(
        camera=world.cam_a, started_at=timezone.now(), finished_at=timezone.now(), decode_ms=10, detect_ms=20
    )
    for hook in (metrics.clip_received, metrics.clip_failed, metrics.alert_sent, metrics.false_alert_reported):
        hook(world.cam_a)
    metrics.clip_processed(clip)
    metrics.alert_error(retryable=True)
    metrics.preview_done(outcome="written", seconds=1.5)
    metrics.clip_event("ingested")
    metrics.clip_event_rejected("unknown_camera")
    metrics.decision_recorded(verdict="person", source="vigia")
    metrics.TASKS.labels("t", "success").inc()
    metrics.TASK_SECONDS.labels("t").observe(0.1)
    item = ReviewItemFactory(clip=clip)
    Review.objects.create(item=item, clip=clip, verdict="person", reviewer=world.reviewer)
    FalseAlertReport.objects.create(clip=clip, reported_by=world.customer_a)
    CameraDrift.objects.create(
        camera=world.cam_a,
        checked_at=timezone.now(),
        window_start=timezone.now(),
        baseline_start=timezone.now(),
        flagged=True,
    )
    ClipFactory(camera=world.cam_a, score=0.1, alert=False, suppressed_score=0.9)
    SuppressionRule.objects.create(
        camera=world.cam_a,
        x1=0.1,
        y1=0.1,
        x2=0.3,
        y2=0.4,
        descriptor=b"\0",
        descriptor_version=1,
        iou_min=0.5,
        similarity_min=0.85,
        source_score=0.6,
        hits=1,
    )
    SyncState.objects.create(
        destination="dynamodb",
        object_key=str(clip.id),
        clip=clip,
        version=timezone.now(),
        next_attempt_at=timezone.now(),
    )
    client.force_login(world.operator)
    body = client.get("/metrics").content.decode()
    from tests.reviewapp.test_metrics import parse

    return {name for name, _labels in parse(body)}


def test_every_metric_in_the_rules_and_the_dashboard_is_exported(every_metric):
    named = set()
    for text in [r["expr"] for r in rules()] + dashboard_exprs():
        named |= set(METRIC.findall(text))
    missing = sorted(named - every_metric)
    assert not missing, missing
    # and the dashboard shows every family we export
    families = {re.sub(r"_(bucket|sum|count)$", "", n) for n in every_metric if n.startswith("vigia_")}
    shown = {re.sub(r"_(bucket|sum|count)$", "", n) for n in set(METRIC.findall(" ".join(dashboard_exprs())))}
    assert not sorted(families - shown), sorted(families - shown)


# --------------------------------------------------------------------------- CloudFormation


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !Sub, !GetAtt) as {tag: value}."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _tag)
TEMPLATE = INFRA / "cloudformation/vigia.yaml"


def template():
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)


CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")  # the console script in our virtualenv


def test_the_template_passes_cfn_lint():
    proc = subprocess.run([CFN_LINT, str(TEMPLATE)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cfn_lint_would_catch_a_broken_template(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE.read_text().replace("BillingMode: PAY_PER_REQUEST", "BillingMode: FREE_PLEASE"))
    proc = subprocess.run([CFN_LINT, str(broken)], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "FREE_PLEASE" in proc.stdout


def test_the_dynamodb_table_is_the_one_the_code_defines():
    from labeling.sync.dynamo import table_definition

    table = template()["Resources"]["ClipTable"]["Properties"]
    code = table_definition("x")

    def keyed(items, key):
        return {i[key]: i for i in items}

    assert table["BillingMode"] == code["BillingMode"]
    assert keyed(table["AttributeDefinitions"], "AttributeName") == keyed(code["AttributeDefinitions"], "AttributeName")
    assert table["KeySchema"] == code["KeySchema"]
    assert keyed(table["GlobalSecondaryIndexes"], "IndexName") == keyed(code["GlobalSecondaryIndexes"], "IndexName")


def test_the_buckets_are_private_and_the_clips_age_out():
    resources = template()["Resources"]
    buckets = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::S3::Bucket"}
    assert set(buckets) == {"ClipBucket", "ExportBucket", "TargetBucket"}
    for name, props in buckets.items():
        assert all(props["PublicAccessBlockConfiguration"].values()), name
        assert props["BucketEncryption"], name
        assert any("AbortIncompleteMultipartUpload" in r for r in props["LifecycleConfiguration"]["Rules"]), name
    clip_rules = {r["Id"]: r for r in buckets["ClipBucket"]["LifecycleConfiguration"]["Rules"]}
    age_out = clip_rules["clips-age-out"]
    assert age_out["Prefix"] == "clips/"  # the prefix clip_storage_name writes under
    assert [t["StorageClass"] for t in age_out["Transitions"]] == ["STANDARD_IA", "GLACIER_IR"]
    assert "ExpirationInDays" in age_out


def _statements(role):
    for policy in role["Properties"]["Policies"]:
        yield from policy["PolicyDocument"]["Statement"]


def test_the_roles_are_least_privilege():
    resources = template()["Resources"]
    roles = {k: v for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"}
    assert {"WebRole", "WorkerRole", "ExecutionRole"} <= set(roles)
    for name, role in roles.items():
        assert "ManagedPolicyArns" not in role["Properties"], name
        for st in _statements(role):
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            assert st["Effect"] == "Allow"
            assert not any("*" in a for a in actions), (name, actions)  # no service:* wildcards
            if st["Resource"] == "*":  # only for actions without resource-level permissions
                assert actions == ["ecr:GetAuthorizationToken"] or "Condition" in st, (name, actions)
    web_actions = {
        a
        for st in _statements(roles["WebRole"])
        for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    }
    assert not any(a.startswith(("dynamodb:", "sns:")) for a in web_actions)  # the web app never writes those
    worker_actions = {
        a
        for st in _statements(roles["WorkerRole"])
        for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    }
    assert {
        "sns:Publish",
        "dynamodb:BatchWriteItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "s3:GetObject",
    } <= worker_actions
    assert "dynamodb:CreateTable" not in worker_actions and "s3:DeleteObject" not in worker_actions


def test_the_repository_and_topic_exist():
    resources = template()["Resources"]
    assert resources["DetectorRepository"]["Properties"]["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert resources["AlertTopic"]["Type"] == "AWS::SNS::Topic"


def test_the_clip_bucket_notifies_the_events_queue_which_has_a_dead_letter_queue():
    resources = template()["Resources"]
    (notification,) = resources["ClipBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == {"GetAtt": "ClipEventsQueue.Arn"}
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "clips/"}]
    queue = resources["ClipEventsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"GetAtt": "ClipEventsDeadLetterQueue.Arn"}
    assert queue["ReceiveMessageWaitTimeSeconds"] == 20  # long polls
    (statement,) = resources["ClipEventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert "aws:SourceArn" in statement["Condition"]["ArnEquals"]  # only our bucket may send
    assert resources["ClipBucket"]["DependsOn"] == "ClipEventsQueuePolicy"
    consumer = {
        a
        for st in _statements(resources["EventsRole"])
        for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    }
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage", "s3:GetObject"} <= consumer
    assert not {"s3:PutObject", "s3:DeleteObject"} & consumer  # by reference: the clip is never written
