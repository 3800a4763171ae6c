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
def every_metric(world, client, django_capture_on_commit_callbacks, settings):
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
    metrics.clips_pruned(clips=2, objects=3, object_errors=1)
    settings.CLIP_RETENTION_DAYS = 90  # its gauge is exported with the retention on
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


# ------------------------------------------------------------------------------- compute


def _services():
    resources = template()["Resources"]
    return resources, {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::ECS::Service"}


def _container(resources, service):
    (container,) = resources[service["TaskDefinition"]["Ref"]]["Properties"]["ContainerDefinitions"]
    return container


def test_every_role_runs_as_an_ecs_service_on_fargate_and_logs_to_cloudwatch():
    resources, services = _services()
    commands = {_container(resources, s)["Command"][0]: s for s in services.values()}
    assert set(commands) == {"web", "worker-inference", "worker", "worker-exports", "clip-events", "beat"}
    entrypoint = (INFRA / "entrypoint.sh").read_text()
    for command, service in commands.items():
        assert f"  {command})" in entrypoint, command  # a role the image knows
        assert service["LaunchType"] == "FARGATE" and service["Cluster"] == {"Ref": "Cluster"}
        assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
        container = _container(resources, service)
        logging = container["LogConfiguration"]
        assert logging["LogDriver"] == "awslogs" and logging["Options"]["awslogs-group"] == {"Ref": "LogGroup"}
        env = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert env["CELERY_BROKER_URL"] == "sqs://"  # every process that queues or takes tasks: one broker
        assert {
            "CELERY_SQS_QUEUE_URL_INFERENCE",
            "CELERY_SQS_QUEUE_URL_DEFAULT",
            "CELERY_SQS_QUEUE_URL_EXPORTS",
        } <= set(env)
        assert {s["Name"] for s in container["Secrets"]} == {"SECRET_KEY", "DATABASE_URL", "METRICS_TOKEN"}
    assert resources["Cluster"]["Properties"]["CapacityProviders"] == ["FARGATE"]
    assert resources["LogGroup"]["Properties"]["LogGroupName"] == {"Sub": "/vigia/${Environment}/app"}


def test_the_task_roles_are_the_templates_least_privilege_roles():
    resources, services = _services()
    roles = {
        _container(resources, s)["Command"][0]: resources[s["TaskDefinition"]["Ref"]]["Properties"]["TaskRoleArn"]
        for s in services.values()
    }
    assert roles == {
        "web": {"GetAtt": "WebRole.Arn"},
        "worker-inference": {"GetAtt": "WorkerRole.Arn"},
        "worker": {"GetAtt": "WorkerRole.Arn"},
        "worker-exports": {"GetAtt": "WorkerRole.Arn"},
        "clip-events": {"GetAtt": "EventsRole.Arn"},
        "beat": {"GetAtt": "BeatRole.Arn"},
    }
    beat = {a for st in _statements(resources["BeatRole"]) for a in st["Action"]}
    assert beat == {"sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"}  # queues tasks, no more
    events_broker = [st for st in _statements(resources["EventsRole"]) if "sqs:SendMessage" in st["Action"]]
    assert {"GetAtt": "InferenceQueue.Arn"} in events_broker[-1]["Resource"]
    assert "sqs:ReceiveMessage" not in str(events_broker[-1])  # it queues clips, it never takes them


def test_beat_is_a_singleton_even_during_a_deployment():
    _, services = _services()
    beat = services["BeatService"]
    assert beat["DesiredCount"] == 1
    assert beat["DeploymentConfiguration"] == {"MaximumPercent": 100, "MinimumHealthyPercent": 0}
    scaled = [
        r["Properties"]["ResourceId"]
        for r in template()["Resources"].values()
        if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    ]
    assert not any("BeatService" in str(r) for r in scaled)


def test_the_web_app_is_behind_the_load_balancer_with_a_health_check():
    resources, services = _services()
    web = services["WebService"]
    (lb,) = web["LoadBalancers"]
    assert lb == {"ContainerName": "web", "ContainerPort": 8000, "TargetGroupArn": {"Ref": "WebTargetGroup"}}
    group = resources["WebTargetGroup"]["Properties"]
    assert group["TargetType"] == "ip" and group["Port"] == 8000
    assert group["HealthCheckPath"] == {"Ref": "HealthCheckPath"} and group["Matcher"] == {"HttpCode": "200"}
    listener = resources["HttpsListener"]["Properties"]
    assert listener["Protocol"] == "HTTPS"
    assert listener["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "WebTargetGroup"}}]
    assert resources["HttpListener"]["Properties"]["DefaultActions"][0]["Type"] == "redirect"
    ingress = resources["TaskSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert ingress == [
        {
            "IpProtocol": "tcp",
            "FromPort": 8000,
            "ToPort": 8000,
            "SourceSecurityGroupId": {"Ref": "LoadBalancerSecurityGroup"},
        }
    ]


def test_the_inference_workers_scale_on_the_queues_backlog_and_age():
    resources = template()["Resources"]
    target = resources["InferenceScalableTarget"]["Properties"]
    assert "DesiredCount" not in resources["InferenceService"]["Properties"]  # an update must not reset the scaling
    assert target["MinCapacity"] == {"Ref": "InferenceMinTasks"}
    assert target["ResourceId"] == {"Sub": "service/${Cluster}/${InferenceService.Name}"}
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    backlog = resources["InferenceBacklogScaling"]["Properties"]
    assert backlog["ScalingTargetId"] == {"Ref": "InferenceScalableTarget"}
    metrics = backlog["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]["Metrics"]
    waiting = next(m for m in metrics if m["Id"] == "waiting")["MetricStat"]["Metric"]
    assert waiting["Namespace"] == "AWS/SQS" and waiting["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert waiting["Dimensions"] == [{"Name": "QueueName", "Value": {"GetAtt": "InferenceQueue.QueueName"}}]
    assert [m["Id"] for m in metrics if m.get("ReturnData")] == ["backlog_per_task"]
    alarm = resources["InferenceAgeAlarm"]["Properties"]
    assert alarm["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert alarm["AlarmActions"] == [{"Ref": "InferenceAgeScaling"}]
    assert resources["InferenceAgeScaling"]["Properties"]["ScalingTargetId"] == {"Ref": "InferenceScalableTarget"}


def test_the_broker_queues_hold_a_message_longer_than_a_task_may_run():
    from django.conf import settings

    resources = template()["Resources"]
    for name in ("InferenceQueue", "DefaultQueue"):
        assert resources[name]["Properties"]["VisibilityTimeout"] >= settings.CELERY_TASK_TIME_LIMIT + 20, name
    assert resources["ExportsQueue"]["Properties"]["VisibilityTimeout"] == 43200  # SQS's longest: hours-long exports


def _settings_with(env: dict) -> subprocess.CompletedProcess:
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.CELERY_BROKER_TRANSPORT_OPTIONS, sort_keys=True))"
    )
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "reviewapp.project.settings", **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)


def test_the_sqs_broker_is_selected_by_its_url_and_the_queue_urls():
    urls = {
        f"CELERY_SQS_QUEUE_URL_{q.upper()}": f"https://sqs.eu-west-1.amazonaws.com/1/vigia-{q}"
        for q in ("inference", "default", "exports")
    }
    proc = _settings_with({"CELERY_BROKER_URL": "sqs://", "AWS_REGION": "eu-west-1", **urls})
    assert proc.returncode == 0, proc.stderr[-2000:]
    options = json.loads(proc.stdout.strip().splitlines()[-1])
    assert options["predefined_queues"]["inference"] == {"url": urls["CELERY_SQS_QUEUE_URL_INFERENCE"]}
    assert set(options["predefined_queues"]) == {"inference", "default", "exports"}
    assert options["region"] == "eu-west-1" and options["visibility_timeout"] >= 380
    missing = _settings_with({"CELERY_BROKER_URL": "sqs://"})  # a queue without its URL fails loudly, at start
    assert missing.returncode != 0 and "CELERY_SQS_QUEUE_URL_INFERENCE" in missing.stderr


def test_on_ecs_the_entrypoint_allows_the_tasks_own_ip_for_the_health_checks(tmp_path):
    import http.server
    import threading

    class Metadata(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"Networks": [{"IPv4Addresses": ["10.0.1.23"]}]}).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Metadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # gunicorn prints what it would serve; `manage.py check --deploy` passes; python is python.
    (bin_dir / "gunicorn").write_text('#!/bin/sh\necho "ALLOWED_HOSTS=$ALLOWED_HOSTS"\n')
    (bin_dir / "python").write_text(
        f'#!/bin/sh\n[ "$1 $2" = "manage.py check" ] && exit 0\nexec {sys.executable} "$@"\n'
    )
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"),
        "ALLOWED_HOSTS": "vigia.example.com",
        "ECS_CONTAINER_METADATA_URI_V4": f"http://127.0.0.1:{server.server_port}/v4/task",
    }
    proc = subprocess.run(["bash", str(INFRA / "entrypoint.sh"), "web"], env=env, capture_output=True, text=True)
    server.shutdown()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ALLOWED_HOSTS=vigia.example.com,10.0.1.23"
    del env["ECS_CONTAINER_METADATA_URI_V4"]  # not on ECS: nothing added
    proc = subprocess.run(["bash", str(INFRA / "entrypoint.sh"), "web"], env=env, capture_output=True, text=True)
    assert proc.stdout.strip() == "ALLOWED_HOSTS=vigia.example.com"


@pytest.mark.django_db
def test_the_load_balancers_health_check_gets_200_from_a_task_with_one_query(
    client, settings, django_assert_num_queries
):
    """As the target group asks: plain HTTP, the task's IP as the host, no X-Forwarded-Proto, with
    the template's web settings (HTTPS on, the health check path exempt from the redirect): the
    health endpoint, one SELECT 1 and no session."""
    resources = template()["Resources"]
    (container,) = resources["WebTaskDefinition"]["Properties"]["ContainerDefinitions"]
    exempt = next(e["Value"] for e in container["Environment"] if e["Name"] == "SECURE_REDIRECT_EXEMPT")
    path = yaml.safe_load(TEMPLATE.read_text().split("  HealthCheckPath:\n")[1].split("  WebTasks:")[0])["Default"]
    settings.SECURE_SSL_REDIRECT, settings.SECURE_REDIRECT_EXEMPT = True, [exempt]
    settings.ALLOWED_HOSTS = ["vigia.example.com", "10.0.1.23"]  # the entrypoint adds the task's IP on ECS
    assert path == "/healthz/" and exempt == "^healthz/$"
    with django_assert_num_queries(1):
        response = client.get(path, HTTP_HOST="10.0.1.23:8000")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    assert client.get("/review/", HTTP_HOST="10.0.1.23:8000").status_code == 301  # everything else: HTTPS
